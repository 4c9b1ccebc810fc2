#!/usr/bin/env bash
# Installs what the tests need beyond the Rust toolchain, idempotently: OpenSSL 3 (the SM2/SM3
# interop peer). Safe to run again; does nothing when everything is present.
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
