#!/usr/bin/env bash
# Vault benchmark: seal and open 1,000,000 secrets of 200 bytes with 32 bytes of associated data,
# single thread, as ops/s next to a bare XChaCha20-Poly1305 loop (fixed key, random nonce per seal)
# measured in the same run.
#
#   bench/vault.sh
#   VAULT_BENCH_N=200000 bench/vault.sh
set -euo pipefail
cd "$(dirname "$0")/.."
cargo bench -q -p finlink-vault --bench seal
