#!/usr/bin/env bash
# Refresh benchmark (issue 6): refreshes per second against the built-in sandbox on loopback with
# 100k connections due at once, on SQLite and PostgreSQL, with RSS sampled through the storm; next
# to the sandbox token endpoint alone hammered in the same run. Then the scheduler's cost to find
# due work (claim_jobs finding nothing) with 10k and with 1M jobs queued that are not yet due.
#
#   bench/refresh.sh                             # both engines (PostgreSQL at FINLINK_BENCH_POSTGRES_URL,
#                                                #   default postgres://postgres@127.0.0.1:5432/test)
#   CONNECTIONS=5000 SCHED_MAX=100000 ENGINES=sqlite bench/refresh.sh
set -euo pipefail
cd "$(dirname "$0")/.."
CONNECTIONS=${CONNECTIONS:-100000}
BASELINE_REQUESTS=${BASELINE_REQUESTS:-$CONNECTIONS}
CONCURRENCY=${CONCURRENCY:-64}
SCHED_SIZES=${SCHED_SIZES:-10000,${SCHED_MAX:-1000000}}
SCHED_CALLS=${SCHED_CALLS:-2000}
STORM_TIMEOUT=${STORM_TIMEOUT:-1800}
PG_URL=${FINLINK_BENCH_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/test}

cargo build --release -q -p finlink -p finlink-bench
BIN=target/release/finlink
BENCH=target/release/finlink-bench
# Data (finlink's SQLite file and the sandbox's) on tmpfs unless told otherwise: the sandbox
# commits every token it issues with synchronous=FULL, and on a slow disk that fsync, not
# finlink, would be what is measured. BENCH_TMPDIR=/var/tmp measures on disk.
TMPDIR=${BENCH_TMPDIR:-/dev/shm}
[ -d "$TMPDIR" ] && [ -w "$TMPDIR" ] || TMPDIR=/tmp
export TMPDIR
. bench/lib.sh

# kv KEY < line : the value of KEY=VALUE in a line of `finlink-bench` output
kv() { tr ' ' '\n' | sed -n "s/^$1=//p" | head -1; }
short() { awk -v n="$1" 'BEGIN { if (n >= 1000000) printf "%gM", n / 1000000; else if (n >= 1000) printf "%gk", n / 1000; else print n }'; }

echo "data under $work ($(df --output=fstype "$work" | tail -1)); $(nproc) cores; workers.concurrency $CONCURRENCY"

echo "== baseline: minting $BASELINE_REQUESTS sandbox grants"
base=$(FINLINK_DATA_DIR="$work/baseline" "$BENCH" token-baseline --requests "$BASELINE_REQUESTS" --concurrency "$CONCURRENCY")
base_rps=$(echo "$base" | kv rps)
printf '%-34s %8s req/s   (%s fresh refresh tokens, %s in flight, finlink'"'"'s OAuth client in-process, loopback HTTP; %s ok)\n' \
    "baseline: sandbox token endpoint" "$base_rps" "$BASELINE_REQUESTS" "$CONCURRENCY" "$(echo "$base" | kv ok)"

for engine in ${ENGINES:-sqlite postgres}; do
    envs=(FINLINK_LOG=warn FINLINK_WORKERS__CONCURRENCY="$CONCURRENCY")
    sched_envs=(FINLINK_LOG=warn FINLINK_DATA_DIR="$work/sched.$engine")
    if [ "$engine" = postgres ]; then
        if ! psql "$PG_URL" -qc 'select 1' >/dev/null 2>&1; then echo "(PostgreSQL not reachable at $PG_URL: skipped)"; continue; fi
        schema="finlink_bench_$RANDOM$RANDOM"
        key=$("$BIN" encryption new-key)
        envs+=(FINLINK_DATABASE_URL="$PG_URL" FINLINK_DATABASE_SCHEMA="$schema" FINLINK_MASTER_KEYS="$key")
        sched_envs+=(FINLINK_DATABASE_URL="$PG_URL" FINLINK_DATABASE_SCHEMA="${schema}_sched" FINLINK_MASTER_KEYS="$key")
    fi
    envs+=(FINLINK_DATA_DIR="$work/data.$engine")

    echo "== $engine: seeding $CONNECTIONS connections with expired tokens"
    seed=$(env "${envs[@]}" "$BENCH" refresh-seed --connections "$CONNECTIONS")
    printf 'seeded in %s s (%s connections/s)\n' "$(echo "$seed" | kv secs)" "$(echo "$seed" | kv per_sec)"
    if [ "$engine" = postgres ]; then psql "$PG_URL" -qc "ANALYZE $schema.jobs; ANALYZE $schema.connections; ANALYZE $schema.credentials" >/dev/null; fi

    echo "== $engine: refresh storm"
    if ! storm=$(env "${envs[@]}" "$BENCH" refresh-storm --expect "$CONNECTIONS" --timeout-secs "$STORM_TIMEOUT" 2>"$work/storm.err"); then
        echo "storm failed:"; tail -20 "$work/storm.err"; exit 1
    fi
    rate=$(echo "$storm" | kv rate)
    printf '%-34s %8s refreshes/s   (%s in %s s; ratio to the baseline %s)\n' \
        "finlink $engine: refresh storm" "$rate" "$CONNECTIONS" "$(echo "$storm" | kv secs)" \
        "$(echo "scale=2; $rate / $base_rps" | bc)"
    printf '  RSS MB: idle %s; at 10%% / 50%% / 90%% / 100%% of the token requests %s / %s / %s / %s; peak sampled %s; after the final job count %s (VmHWM %s)\n' \
        "$(echo "$storm" | kv rss_idle_mb)" "$(echo "$storm" | kv rss_10_mb)" "$(echo "$storm" | kv rss_50_mb)" \
        "$(echo "$storm" | kv rss_90_mb)" "$(echo "$storm" | kv rss_100_mb)" "$(echo "$storm" | kv rss_peak_sampled_mb)" \
        "$(echo "$storm" | kv rss_end_mb)" "$(echo "$storm" | kv vmhwm_mb)"
    printf '  sandbox: %s refresh requests, %s grants revoked; jobs %s\n' \
        "$(echo "$storm" | kv refresh_requests)" "$(echo "$storm" | kv grants_revoked)" "$(echo "$storm" | sed -n 's/.*jobs=//p')"
    warns=$(grep -ciE 'warn|error' "$work/storm.err" || true)
    if [ "$warns" -gt 0 ]; then echo "  $warns warning/error log lines, first ones:"; grep -iE 'warn|error' "$work/storm.err" | head -3 | cut -c1-300 | sed 's/^/    /'; fi

    echo "== $engine: scheduler (claim_jobs finding nothing due, limit $CONCURRENCY, $SCHED_CALLS calls each)"
    sched=$(env "${sched_envs[@]}" "$BENCH" sched --sizes "$SCHED_SIZES" --calls "$SCHED_CALLS" --limit "$CONCURRENCY")
    line="scheduler $engine: claim"
    sep=" with"
    while read -r l; do
        line+="$sep $(short "$(echo "$l" | kv size)") not due p50 $(echo "$l" | kv p50_us) us p99 $(echo "$l" | kv p99_us) us"
        sep="; with"
        echo "  $(short "$(echo "$l" | kv size)"): inserted in $(echo "$l" | kv fill_secs) s, mean $(echo "$l" | kv mean_us) us, max $(echo "$l" | kv max_us) us"
    done <<<"$sched"
    echo "$line"

    if [ "$engine" = postgres ]; then psql "$PG_URL" -qc "DROP SCHEMA $schema CASCADE; DROP SCHEMA ${schema}_sched CASCADE" >/dev/null 2>&1 || true; fi
done
