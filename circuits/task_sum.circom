pragma circom 2.0.0;

include "circomlib/circuits/poseidon.circom";

// A zk-verified task's circuit: "the 8 values I summed, committed to with a salt as
// `commitment` = Poseidon(Poseidon(values), salt), sum to `sum`" — for one task of one job,
// on one provider's result. The chain fills in the eight bindings (jobHi … provider: the job
// id, task index, inputs and outputs digests in 128-bit halves, and the provider's address)
// and accepts the result only with a proof for them; the claims (commitment, sum) are what
// the result shows to the world. The values and the salt stay with the provider.
// Public signals, in snarkjs order: commitment, sum (outputs), then the bindings.
template TaskSum(N) {
    signal input jobHi;
    signal input jobLo;
    signal input task;
    signal input inputsHi;
    signal input inputsLo;
    signal input outputsHi;
    signal input outputsLo;
    signal input provider;
    signal input values[N];
    signal input salt;
    signal output commitment;
    signal output sum;

    component inner = Poseidon(N);
    component outer = Poseidon(2);
    signal partial[N + 1];
    partial[0] <== 0;
    for (var i = 0; i < N; i++) {
        inner.inputs[i] <== values[i];
        partial[i + 1] <== partial[i] + values[i];
    }
    outer.inputs[0] <== inner.out;
    outer.inputs[1] <== salt;
    commitment <== outer.out;
    sum <== partial[N];

    // The bindings take part in no computation; a constraint on each keeps them bound to the
    // proof whatever the setup (snarkjs's setup binds every public input too).
    signal bound[8];
    bound[0] <== jobHi * jobHi;
    bound[1] <== jobLo * jobLo;
    bound[2] <== task * task;
    bound[3] <== inputsHi * inputsHi;
    bound[4] <== inputsLo * inputsLo;
    bound[5] <== outputsHi * outputsHi;
    bound[6] <== outputsLo * outputsLo;
    bound[7] <== provider * provider;
}

component main {public [jobHi, jobLo, task, inputsHi, inputsLo, outputsHi, outputsLo, provider]} = TaskSum(8);
