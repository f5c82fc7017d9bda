#!/usr/bin/env bash
# Read benchmark (issue 3): GET /companies/{id} and GET /companies?pageSize=100 under wrk
# (2 threads, 32 connections) with 100k companies, on SQLite and PostgreSQL, next to a bare
# axum handler doing the same SQLite point read in the same run; idle and loaded RSS.
#
#   bench/read.sh                       # both engines (PostgreSQL at FINLINK_BENCH_POSTGRES_URL,
#                                       #   default postgres://postgres@127.0.0.1:5432/test)
#   COMPANIES=20000 DURATION=5 bench/read.sh
set -euo pipefail
cd "$(dirname "$0")/.."
COMPANIES=${COMPANIES:-100000}
DURATION=${DURATION:-10}
PG_URL=${FINLINK_BENCH_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/test}
command -v wrk >/dev/null || { echo "installing wrk"; apt-get install -y -qq wrk >/dev/null; }

cargo build --release -q -p finlink -p finlink-bench
BIN=target/release/finlink
BENCH=target/release/finlink-bench
. bench/lib.sh

# load NAME SCRIPT URL : prints "NAME  req/s  p50  p99"
load() {
    local r
    r=$(wrk -t2 -c32 -d"${DURATION}s" --latency -s "bench/$2" "$3")
    local rps p50 p99
    rps=$(echo "$r" | awk '/Requests\/sec/ {print $2}')
    p50=$(echo "$r" | awk '$1=="50%" {print $2}')
    p99=$(echo "$r" | awk '$1=="99%" {print $2}')
    printf '%-44s %10s req/s   p50 %-8s p99 %s\n' "$1" "$rps" "$p50" "$p99"
    echo "$rps" > "$work/last_rps"
}

results=()
for engine in ${ENGINES:-sqlite postgres}; do
    export IDS_FILE="$work/ids.$engine"
    envs=(FINLINK_DATA_DIR="$work/data.$engine" FINLINK_LOG=warn)
    if [ "$engine" = postgres ]; then
        if ! psql "$PG_URL" -qc 'select 1' >/dev/null 2>&1; then echo "(PostgreSQL not reachable at $PG_URL: skipped)"; continue; fi
        schema="finlink_bench_$RANDOM$RANDOM"
        envs+=(FINLINK_DATABASE_URL="$PG_URL" FINLINK_DATABASE_SCHEMA="$schema")
    fi
    echo "== $engine: seeding $COMPANIES companies"
    t0=$(date +%s.%N)
    key=$(env "${envs[@]}" "$BENCH" seed --companies "$COMPANIES" --ids "$IDS_FILE")
    t1=$(date +%s.%N)
    printf 'seeded in %.1f s\n' "$(echo "$t1 - $t0" | bc)"
    # as autovacuum would soon after a bulk load: give the planner statistics
    if [ "$engine" = postgres ]; then psql "$PG_URL" -qc "ANALYZE $schema.companies; ANALYZE $schema.api_keys; ANALYZE $schema.connections" >/dev/null; fi
    export AUTH="Basic $(printf %s "$key" | base64 -w0)"

    start env "${envs[@]}" "$BIN" serve --listen 127.0.0.1:0
    finlink_pid=$pid; finlink_url=$url
    sleep 1
    idle=$(rss_kb "$finlink_pid")
    echo "idle RSS: $((idle / 1024)) MB"
    if [ "$engine" = sqlite ]; then
        start "$BENCH" baseline --db "$work/data.sqlite/finlink.db" --listen 127.0.0.1:0
        base_pid=$pid
        load "baseline: bare axum + SQLite point read" read-companies.lua "$url"
        base_rps=$(cat "$work/last_rps")
        load "baseline: bare axum + SQLite page of 100" list-companies.lua "$url"
        base_list_rps=$(cat "$work/last_rps")
        kill "$base_pid"
    fi
    load "finlink $engine: GET /companies/{id}" read-companies.lua "$finlink_url"
    echo "  ratio to the baseline: $(echo "scale=2; $(cat "$work/last_rps") / $base_rps" | bc)"
    load "finlink $engine: GET /companies?pageSize=100" list-companies.lua "$finlink_url"
    echo "  ratio to the baseline: $(echo "scale=2; $(cat "$work/last_rps") / $base_list_rps" | bc)"
    echo "RSS after load: $(( $(rss_kb "$finlink_pid") / 1024 )) MB"
    kill "$finlink_pid"
    wait "$finlink_pid" 2>/dev/null || true
    if [ "$engine" = postgres ]; then psql "$PG_URL" -qc "DROP SCHEMA $schema CASCADE" >/dev/null 2>&1; fi
done
