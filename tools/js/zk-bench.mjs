// snarkjs 0.7.6 in-process timings for `metamesh bench zk`: groth16.verify and groth16.prove
// of one committed circuit, repeated, after one warm-up each. Prints one JSON line.
//   node tools/js/zk-bench.mjs DIR VERIFIES PROVES
import { readFileSync } from "node:fs";
import { join } from "node:path";
import * as snarkjs from "snarkjs";

const [dir, verifies, proves] = [process.argv[2], Number(process.argv[3]), Number(process.argv[4])];
const json = (f) => JSON.parse(readFileSync(join(dir, f), "utf8"));
const vk = json("verification_key.json");
const proof = json("proof.json");
const pub = json("public.json");
const zkey = new Uint8Array(readFileSync(join(dir, "circuit.zkey")));
const wtns = new Uint8Array(readFileSync(join(dir, "witness.wtns")));
const silent = { debug() {}, info() {}, warn() {}, error() {} };

if (!(await snarkjs.groth16.verify(vk, pub, proof, silent))) throw new Error("warm-up verify failed");
let t = process.hrtime.bigint();
for (let i = 0; i < verifies; i++) {
  if (!(await snarkjs.groth16.verify(vk, pub, proof, silent))) throw new Error("verify failed");
}
const verifyMs = Number(process.hrtime.bigint() - t) / 1e6 / verifies;

await snarkjs.groth16.prove(zkey, wtns, silent);
t = process.hrtime.bigint();
for (let i = 0; i < proves; i++) await snarkjs.groth16.prove(zkey, wtns, silent);
const proveMs = Number(process.hrtime.bigint() - t) / 1e6 / proves;

console.log(JSON.stringify({ verifyMs, proveMs }));
process.exit(0);
