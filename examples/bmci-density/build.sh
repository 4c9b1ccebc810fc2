#!/usr/bin/env bash
# Builds the density algorithm to a WASI command module (clang's wasm32-wasi target and
# wasi-libc, from Debian's clang, lld and wasi-libc: scripts/install-deps.sh installs them).
# Usage: examples/bmci-density/build.sh [OUT_DIR]   (default: this folder)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="${1:-$here}"
mkdir -p "$out"
clang --target=wasm32-wasi --sysroot=/usr -O2 -Wall -Werror -Wl,--strip-all \
    -o "$out/density.wasm" "$here/density.c" -lm
echo "built $out/density.wasm"
