#!/usr/bin/env bash
# Import benchmark (issue 4): POST /vault/connections/accounting/sandbox/import under wrk
# (2 threads, 32 connections), each request a new consumer (company + connection + sealed
# credentials + audit, in SQLite), next to a bare axum handler inserting the same row into
# SQLite in the same run.
#   bench/import.sh            DURATION=10 by default
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-10}
command -v wrk >/dev/null || { echo "installing wrk"; apt-get install -y -qq wrk >/dev/null; }
cargo build --release -q -p finlink -p finlink-bench
BIN=target/release/finlink
BENCH=target/release/finlink-bench
. bench/lib.sh

load() {
    local r rps p50 p99
    r=$(wrk -t2 -c32 -d"${DURATION}s" --latency -s bench/import.lua "$2")
    rps=$(echo "$r" | awk '/Requests\/sec/ {print $2}')
    p50=$(echo "$r" | awk '$1=="50%" {print $2}')
    p99=$(echo "$r" | awk '$1=="99%" {print $2}')
    errs=$(echo "$r" | awk '/Non-2xx/ {print $NF}')
    printf '%-48s %9s req/s   p50 %-8s p99 %-8s non-2xx %s\n' "$1" "$rps" "$p50" "$p99" "${errs:-0}"
    echo "$rps" > "$work/last_rps"
}

export FINLINK_DATA_DIR="$work/data" FINLINK_LOG=warn
key=$("$BIN" keys create)
export AUTH="Basic $(printf %s "$key" | base64 -w0)"
start "$BENCH" baseline --db "$work/baseline.db" --listen 127.0.0.1:0
load "baseline: bare axum + one SQLite insert" "$url"
base=$(cat "$work/last_rps")
kill "$pid"
start "$BIN" serve --listen 127.0.0.1:0
load "finlink sqlite: import (new consumer each)" "$url"
echo "  ratio to the baseline: $(echo "scale=2; $(cat "$work/last_rps") / $base" | bc)"
echo "rows: $(sqlite3 "$work/data/finlink.db" 'select count(*) from credentials' 2>/dev/null || echo '?') credentials stored"
