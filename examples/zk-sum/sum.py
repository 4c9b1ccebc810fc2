"""A zk-verified task's program: sums eight readings, publishing only the sum.

Reads /in/data.json ({"values": [8 integers], "salt": integer}), writes /out/result.json (the
sum and the count, published) and /out/zk-input.json (the readings and the salt: the circuit's
private inputs, which the provider's agent keeps to itself and proves over with
circuits/task_sum.circom). The proof's claims are the readings' Poseidon commitment and sum.
"""

import json
import os

src = os.environ.get("METAMESH_IN", "/in")
out = os.environ.get("METAMESH_OUT", "/out")
with open(os.path.join(src, "data.json")) as f:
    data = json.load(f)
values = [int(v) for v in data["values"]]
if len(values) != 8 or any(v < 0 for v in values):
    raise SystemExit("data.json: eight non-negative integer values")
with open(os.path.join(out, "result.json"), "w") as f:
    json.dump({"sum": sum(values), "count": len(values)}, f, sort_keys=True)
with open(os.path.join(out, "zk-input.json"), "w") as f:
    json.dump({"values": [str(v) for v in values], "salt": str(int(data["salt"]))}, f)
print("summed", len(values), "values")
