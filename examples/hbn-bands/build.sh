#!/usr/bin/env bash
# Builds the kernels to WASI command modules (clang's wasm32-wasi target and wasi-libc, from
# Debian's clang, lld and wasi-libc packages: scripts/install-deps.sh installs them).
# Usage: examples/hbn-bands/build.sh [OUT_DIR]   (default: the kernels folder)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="${1:-$here/kernels}"
mkdir -p "$out"
for k in prepare bands gap; do
    clang --target=wasm32-wasi --sysroot=/usr -O2 -Wall -Werror -Wl,--strip-all \
        -o "$out/$k.wasm" "$here/kernels/$k.c" -lm
done
echo "built $(ls "$out"/*.wasm | wc -l) kernels in $out"
