#!/usr/bin/env bash
# Sign/verify benchmarks of both suites beside their references, run back to back on this
# machine: criterion (ours and the bare RustCrypto calls), then `openssl speed sm2` and
# `openssl speed ecdsap256` for a peer tool's rate. Figures go to docs/BENCHMARKS.md by hand.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo bench -p metamesh-crypto --bench signatures -- --warm-up-time 1 --measurement-time 3 2>&1 \
  | grep -E '^[a-z0-9/ _-]+$|time:' | sed 's/^/  /'
echo
echo "openssl $(openssl version)"
openssl speed -seconds 3 sm2 2>/dev/null | tail -n 3
openssl speed -seconds 3 ecdsap256 2>/dev/null | tail -n 2
