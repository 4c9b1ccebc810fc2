#!/usr/bin/env bash
# Installs what the tests need beyond the Rust toolchain, idempotently: OpenSSL 3 (the SM2/SM3
# interop peer) and Python's eth-keyfile (web3.py's Web3 Secret Storage implementation, the
# keystore interop peer). Safe to run again; does nothing when everything is present.
set -euo pipefail

need_openssl() {
  ! command -v openssl >/dev/null 2>&1 || ! openssl version | grep -q '^OpenSSL 3\.'
}

if need_openssl; then
  if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq openssl >/dev/null
fi
openssl version

if ! python3 -c 'import eth_keyfile' 2>/dev/null; then
  python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore \
    eth-keyfile==0.10.0
fi
python3 -c 'import eth_keyfile; print("eth-keyfile ready")'

# Node.js with the JS tools the interop tests and benchmarks run against: the IPFS UnixFS
# importer and CAR reader, snarkjs, circom 2 (circom2) and circomlib
# (tools/js/package-lock.json pins them).
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq nodejs npm >/dev/null
fi
js=tools/js
if ! cmp -s "$js/package-lock.json" "$js/node_modules/.metamesh-installed-lock"; then
  npm ci --prefix "$js" --no-audit --no-fund --loglevel=error >/dev/null
  cp "$js/package-lock.json" "$js/node_modules/.metamesh-installed-lock"
fi
echo "node $(node --version), JS IPFS tools ready"

# clang, lld and wasi-libc: C to wasm32-wasi for the compute examples and the executor's tests.
if ! command -v clang >/dev/null 2>&1 || ! command -v wasm-ld >/dev/null 2>&1 \
  || [ ! -f /usr/lib/wasm32-wasi/libc.a ] \
  || ! ls /usr/lib/llvm-*/lib/clang/*/lib/wasi/libclang_rt.builtins-wasm32.a >/dev/null 2>&1; then
  if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq clang lld wasi-libc \
    libclang-rt-14-dev-wasm32 >/dev/null
fi
echo "$(clang --version | head -1), wasm32-wasi ready"

# Slurm (controller, node daemon, clients) and munge: the Slurm executor's tests start a private
# one-node cluster with scripts/slurm-cluster.sh. PySCF: the diborane example's process tasks.
if ! command -v slurmctld >/dev/null 2>&1 || ! command -v slurmd >/dev/null 2>&1 \
  || ! command -v sbatch >/dev/null 2>&1 || ! command -v munged >/dev/null 2>&1; then
  if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq slurmctld slurmd slurm-client \
    munge >/dev/null
fi
echo "$(slurmctld -V), munge ready"
if ! python3 -c 'import pyscf' 2>/dev/null; then
  python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore \
    pyscf==2.14.0
fi
python3 -c 'import pyscf; print("pyscf", pyscf.__version__, "ready")'

# SPARQLWrapper (on rdflib): the standard SPARQL client the knowledge graph's /sparql is
# tested with.
if ! python3 -c 'import SPARQLWrapper, rdflib' 2>/dev/null; then
  python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore \
    SPARQLWrapper==2.0.0 rdflib==7.6.0
fi
python3 -c 'import SPARQLWrapper, rdflib; print("SPARQLWrapper", SPARQLWrapper.__version__, "rdflib", rdflib.__version__, "ready")'

# The OPTIMADE validator (optimade-python-tools): BMCI's /optimade API is checked with it.
if ! command -v optimade-validator >/dev/null 2>&1 \
  || ! python3 -c 'import optimade; assert optimade.__version__ == "1.5.0"' 2>/dev/null; then
  python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore \
    optimade==1.5.0
fi
python3 -c 'import optimade; print("optimade", optimade.__version__, "(optimade-validator) ready")'

# Virtuoso (Debian's virtuoso-opensource): the external SPARQL 1.1 store `node run --kg-store`
# mirrors the knowledge graph into through the Graph Store HTTP Protocol; its test starts a
# private instance on free ports.
if ! command -v virtuoso-t >/dev/null 2>&1 || ! command -v isql-vt >/dev/null 2>&1; then
  if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq virtuoso-opensource >/dev/null
fi
echo "Virtuoso $(virtuoso-t -? 2>&1 | grep -o 'Version [0-9.]*' | head -1) ready"
