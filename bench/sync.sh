#!/usr/bin/env bash
# Full-pull benchmark (issue 8): finlink's sync engine pulls RECORDS invoices and RECORDS bank
# transactions of one sandbox company and stores them (records/s, peak RSS), on SQLite and
# PostgreSQL, next to the sandbox serving the same pages alone in the same run.
#
#   bench/sync.sh                       # 100k each, both engines (PostgreSQL at
#                                       #   FINLINK_BENCH_POSTGRES_URL, default postgres://postgres@127.0.0.1:5432/test)
#   RECORDS=20000 ENGINES=sqlite bench/sync.sh
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q -p finlink
venv=.venv-conformance
want=$(sha256sum conformance/requirements.txt | cut -d' ' -f1)
if [ ! -x "$venv/bin/python" ] || [ "$(cat "$venv/.requirements.sha256" 2>/dev/null)" != "$want" ]; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check -r conformance/requirements.txt
    echo "$want" > "$venv/.requirements.sha256"
fi
# finlink's SQLite file on tmpfs unless told otherwise (BENCH_TMPDIR=/var/tmp measures on disk).
TMPDIR=${BENCH_TMPDIR:-/dev/shm}
[ -d "$TMPDIR" ] && [ -w "$TMPDIR" ] || TMPDIR=/tmp
export TMPDIR
export FINLINK_BIN="$PWD/target/release/finlink"
export FINLINK_TEST_POSTGRES_URL=${FINLINK_BENCH_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/test}
psql "$FINLINK_TEST_POSTGRES_URL" -qc 'select 1' >/dev/null 2>&1 || unset FINLINK_TEST_POSTGRES_URL
echo "$(nproc) cores; data under $TMPDIR"
"$venv/bin/python" bench/sync_bench.py
