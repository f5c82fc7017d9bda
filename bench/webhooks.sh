#!/usr/bin/env bash
# Webhook benchmark (issue 7): deliveries per second to a local receiver on loopback while events
# are being made, on SQLite and PostgreSQL, and the latency from the state change (the write's
# commit) to the receiver getting the POST; next to the same receiver driven directly in the same
# run (finlink's webhook sender in-process with N requests in flight: wrk is not installed).
#
#   bench/webhooks.sh                            # 20k events, both engines (PostgreSQL at
#                                                #   FINLINK_BENCH_POSTGRES_URL, default
#                                                #   postgres://postgres@127.0.0.1:5432/test)
#   EVENTS=2000 ENGINES=sqlite bench/webhooks.sh
#   EVENTS=6000 RATE=250 bench/webhooks.sh       # paced: latency at a load finlink keeps up with
#   CONSUMERS=4 bench/webhooks.sh                # every event to 4 consumers (deliveries = 4 x events)
#   BACKLOG=1 bench/webhooks.sh                  # make every event first (no worker running), then
#                                                #   time the workers draining the backlog
set -euo pipefail
cd "$(dirname "$0")/.."
EVENTS=${EVENTS:-20000}
BASELINE_REQUESTS=${BASELINE_REQUESTS:-$EVENTS}
CONCURRENCY=${CONCURRENCY:-64}
BASELINE_CONCURRENCY=${BASELINE_CONCURRENCY:-16,$CONCURRENCY}
IN_FLIGHT=${IN_FLIGHT:-32}
RATE=${RATE:-}            # events/s, paced; unset: as fast as IN_FLIGHT calls go
CONSUMERS=${CONSUMERS:-1}
BACKLOG=${BACKLOG:-}
# workers.poll_ms values to run each engine with: finlink's default (1000), and its minimum (10),
# which shows what the rest of the delivery path does when the workers look for work that often.
POLLS=${POLLS:-1000 10}
RUN_TIMEOUT=${RUN_TIMEOUT:-120}
PG_URL=${FINLINK_BENCH_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/test}

cargo build --release -q -p finlink -p finlink-bench
BIN=target/release/finlink
BENCH=target/release/finlink-bench
# finlink's SQLite file on tmpfs unless told otherwise (BENCH_TMPDIR=/var/tmp measures on disk).
TMPDIR=${BENCH_TMPDIR:-/dev/shm}
[ -d "$TMPDIR" ] && [ -w "$TMPDIR" ] || TMPDIR=/tmp
export TMPDIR
. bench/lib.sh

# kv KEY < line : the value of KEY=VALUE in a line of `finlink-bench` output
kv() { tr ' ' '\n' | sed -n "s/^$1=//p" | head -1; }

echo "data under $work ($(df --output=fstype "$work" | tail -1)); $(nproc) cores; load $(cut -d' ' -f1-3 /proc/loadavg); workers.concurrency $CONCURRENCY; 16 delivery lanes per consumer"

echo "== baseline: the receiver alone, $BASELINE_REQUESTS POSTs at each of $BASELINE_CONCURRENCY in flight"
base_rps=
while read -r l; do
    c=$(echo "$l" | kv concurrency)
    rps=$(echo "$l" | kv rps)
    [ "$c" = "$CONCURRENCY" ] && base_rps=$rps
    printf '%-38s %8s req/s   (%s in flight, finlink'"'"'s webhook sender in-process, loopback HTTP; %s ok; load %s)\n' \
        "baseline: receiver, $c in flight" "$rps" "$c" "$(echo "$l" | kv ok)" "$(echo "$l" | kv load)"
done < <("$BENCH" webhook-baseline --requests "$BASELINE_REQUESTS" --concurrency "$BASELINE_CONCURRENCY")
base_rps=${base_rps:-$rps}

key=$("$BIN" encryption new-key)
for engine in ${ENGINES:-sqlite postgres}; do
  for poll in $POLLS; do
    envs=(FINLINK_LOG=warn FINLINK_WORKERS__CONCURRENCY="$CONCURRENCY" FINLINK_WORKERS__POLL_MS="$poll"
          FINLINK_DATA_DIR="$work/data.$engine.$poll" FINLINK_MASTER_KEYS="$key")
    schema=
    if [ "$engine" = postgres ]; then
        if ! psql "$PG_URL" -qc 'select 1' >/dev/null 2>&1; then echo "(PostgreSQL not reachable at $PG_URL: skipped)"; continue 2; fi
        schema="finlink_bench_$RANDOM$RANDOM"
        envs+=(FINLINK_DATABASE_URL="$PG_URL" FINLINK_DATABASE_SCHEMA="$schema")
    fi
    drop() { [ -z "$schema" ] || psql "$PG_URL" -qc "DROP SCHEMA $schema CASCADE" >/dev/null 2>&1 || true; }

    pace=("as fast as $IN_FLIGHT create_company calls in flight go") rate_arg=()
    if [ -n "$RATE" ]; then pace=("paced at $RATE/s, at most $IN_FLIGHT create_company calls in flight"); rate_arg=(--rate "$RATE"); fi
    mode=() what="while they are made"
    if [ -n "$BACKLOG" ]; then mode=(--backlog); what="made first with no worker running, then drained (the rate counts from the workers' start)"; fi
    echo "== $engine, workers.poll_ms $poll: $EVENTS company.created events (${pace[0]}) to $CONSUMERS consumer(s) on the receiver, $what"
    err="$work/run.$engine.$poll.err"
    if ! run=$(env "${envs[@]}" "$BENCH" webhook-run --events "$EVENTS" --in-flight "$IN_FLIGHT" "${rate_arg[@]}" --timeout-secs "$RUN_TIMEOUT" --consumers "$CONSUMERS" "${mode[@]}" 2>"$err"); then
        echo "run failed:"; tail -20 "$err"; drop; exit 1
    fi
    drop
    rate=$(echo "$run" | kv rate)
    ge=
    if [ "$(echo "$run" | kv timed_out)" = 1 ]; then
        echo "  gave up after $RUN_TIMEOUT s (RUN_TIMEOUT) with $(echo "$run" | kv delivered) of $EVENTS delivered: the rate is up to then, the latencies are lower bounds"
        ge='>='
    fi
    printf '%-38s %8s deliveries/s   (%s in %s s from %s to the last delivery; ratio to the receiver alone at %s in flight %s)\n' \
        "finlink $engine, poll $poll ms: deliveries" "$rate" "$(echo "$run" | kv delivered)" "$(echo "$run" | kv secs)" "$([ -n "$BACKLOG" ] && echo "the workers' start" || echo "the first event")" "$CONCURRENCY" \
        "$(echo "scale=3; $rate / $base_rps" | bc)"
    printf '  events made in %s s (%s events/s); %s delivered meanwhile (%s/s), the rest in %s s after' \
        "$(echo "$run" | kv make_secs)" "$(echo "$run" | kv events_per_sec)" "$(echo "$run" | kv delivered_while_making)" \
        "$(echo "$run" | kv rate_while_making)" "$(echo "$run" | kv drain_secs)"
    if [ "$(echo "$(echo "$run" | kv drain_secs) >= 1" | bc)" = 1 ]; then printf ' (%s/s)' "$(echo "$run" | kv drain_rate)"; fi
    echo
    printf '  commit -> receipt: p50 %s ms, p90 %s ms, p99 %s ms, max %s ms' \
        "$ge$(echo "$run" | kv p50_ms)" "$ge$(echo "$run" | kv p90_ms)" "$ge$(echo "$run" | kv p99_ms)" "$ge$(echo "$run" | kv max_ms)"
    [ -n "$ge" ] || printf '   (generatedDate -> receipt: p50 %s ms, p99 %s ms, max %s ms)' \
        "$(echo "$run" | kv gen_p50_ms)" "$(echo "$run" | kv gen_p99_ms)" "$(echo "$run" | kv gen_max_ms)"
    echo
    printf '  %s delivery rows, %s duplicate POSTs, %s unsigned, %s delivered before create_company returned; load %s -> %s; jobs %s\n' \
        "$(echo "$run" | kv delivery_rows)" "$(echo "$run" | kv duplicates)" "$(echo "$run" | kv unsigned)" \
        "$(echo "$run" | kv early)" "$(echo "$run" | kv load_start)" "$(echo "$run" | kv load_end)" \
        "$(echo "$run" | sed -n 's/.*jobs=//p')"
    warns=$(grep -ciE 'warn|error' "$err" || true)
    if [ "$warns" -gt 0 ]; then echo "  $warns warning/error log lines, first ones:"; grep -iE 'warn|error' "$err" | head -3 | cut -c1-300 | sed 's/^/    /'; fi
  done
done
