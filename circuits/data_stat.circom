pragma circom 2.0.0;

include "circomlib/circuits/poseidon.circom";
include "circomlib/circuits/comparators.circom";
include "circomlib/circuits/bitify.circom";

// Data integrity: "I know 16 values v (each below 2^64) and a salt whose commitment
// Poseidon(Poseidon(v[0..16]), salt) is `commitment`, whose sum is `sum` and of which
// `count` exceed `threshold`." The data owner registers the commitment with the dataset
// and publishes sum and count with a proof; v and the salt stay private.
// Public signals, in snarkjs order: commitment, sum, count (outputs), then threshold.
template DataStat(N) {
    signal input values[N];
    signal input salt;
    signal input threshold;
    signal output commitment;
    signal output sum;
    signal output count;

    component inner = Poseidon(N);
    component outer = Poseidon(2);
    component range[N];
    component above[N];
    component thresholdRange = Num2Bits(64);
    thresholdRange.in <== threshold;

    signal partialSum[N + 1];
    signal partialCount[N + 1];
    partialSum[0] <== 0;
    partialCount[0] <== 0;
    for (var i = 0; i < N; i++) {
        range[i] = Num2Bits(64);
        range[i].in <== values[i];
        inner.inputs[i] <== values[i];
        above[i] = LessThan(65);
        above[i].in[0] <== threshold;
        above[i].in[1] <== values[i];
        partialSum[i + 1] <== partialSum[i] + values[i];
        partialCount[i + 1] <== partialCount[i] + above[i].out;
    }
    outer.inputs[0] <== inner.out;
    outer.inputs[1] <== salt;
    commitment <== outer.out;
    sum <== partialSum[N];
    count <== partialCount[N];
}

component main {public [threshold]} = DataStat(16);
