pragma circom 2.0.0;

// A small circuit for the interoperability tests: knowledge of a and b with
// a * b = c and (a + b)^2 + k = d for a public k. Public signals, in snarkjs
// order: outputs c, d, then the input k.
template Multiplier() {
    signal input a;
    signal input b;
    signal input k;
    signal output c;
    signal output d;
    signal s;
    c <== a * b;
    s <== (a + b) * (a + b);
    d <== s + k;
}

component main {public [k]} = Multiplier();
