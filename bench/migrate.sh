#!/usr/bin/env bash
# Bulk migration benchmark (issue 9): `finlink migrate import` of ROWS generated connections
# (OAuth tokens + tenant id, each with its own new company) on SQLite and PostgreSQL, with its rows
# per second and peak RSS (at a quarter of the rows and at all of them: memory must stay flat),
# next to a baseline of the same rows inserted in the same run without validation or encryption
# (SQLite: batched inserts of the parsed rows through Python's sqlite3 module, 5,000 per
# transaction; PostgreSQL: psql \copy of the same rows as CSV).
#   bench/migrate.sh                          ROWS=1000000, both engines
#   ROWS=100000 ENGINES=sqlite bench/migrate.sh
#   FINLINK_BENCH_POSTGRES_URL=postgres://... bench/migrate.sh
set -euo pipefail
cd "$(dirname "$0")/.."
ROWS=${ROWS:-1000000}
ENGINES=${ENGINES:-"sqlite postgres"}
PG=${FINLINK_BENCH_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/test}
BATCH=${BATCH:-5000}
cargo build --release -q -p finlink
BIN=${CARGO_TARGET_DIR:-target}/release/finlink
. bench/lib.sh
export FINLINK_LOG=error PGOPTIONS="--client-min-messages=warning"

gen() { # gen N FILE.jsonl FILE.csv
    python3 - "$1" "$2" "$3" <<'EOF'
import json, sys, secrets, datetime
n, jl, cs = int(sys.argv[1]), sys.argv[2], sys.argv[3]
exp = (datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(minutes=30)).strftime("%Y-%m-%dT%H:%M:%SZ")
with open(jl, "w") as j, open(cs, "w") as c:
    c.write("companyRef,companyName,integration,accessToken,refreshToken,tenantId,expiresAt\n")
    for i in range(n):
        at, rt = "at_" + secrets.token_urlsafe(32), "rt_" + secrets.token_urlsafe(32)
        row = {"companyRef": f"crm-{i}", "companyName": f"Company {i}", "integration": "sandbox",
               "accessToken": at, "refreshToken": rt, "tenantId": f"tenant-{i}", "expiresAt": exp}
        j.write(json.dumps(row) + "\n")
        c.write(f"crm-{i},Company {i},sandbox,{at},{rt},tenant-{i},{exp}\n")
EOF
}

# timed LABEL CMD...: runs CMD under /usr/bin/time -v; sets $secs and $rss_mb.
timed() {
    local label=$1; shift
    /usr/bin/time -v "$@" >"$work/out" 2>"$work/time" || { cat "$work/out" "$work/time" >&2; exit 1; }
    secs=$(awk -F': ' '/Elapsed \(wall clock\)/ {n=split($2,a,":"); s=0; for(i=1;i<=n;i++) s=s*60+a[i]; print s}' "$work/time")
    rss_mb=$(awk -F': ' '/Maximum resident set size/ {printf "%.0f", $2/1024}' "$work/time")
}

report() { # report LABEL ROWS
    printf '%-58s %9d rows  %7.1f s  %9.0f rows/s  peak RSS %4s MB\n' "$1" "$2" "$secs" "$(echo "$2 / $secs" | bc -l)" "$rss_mb"
}

cat >"$work/sqlite_baseline.py" <<'EOF'
import json, sqlite3, sys
src, db, batch = sys.argv[1], sys.argv[2], int(sys.argv[3])
con = sqlite3.connect(db)
con.execute("PRAGMA journal_mode=WAL"); con.execute("PRAGMA synchronous=NORMAL")
con.execute("CREATE TABLE rows (company_ref TEXT PRIMARY KEY, company_name TEXT, integration TEXT, access_token TEXT, refresh_token TEXT, tenant_id TEXT, expires_at TEXT)")
buf = []
def flush():
    with con:
        con.executemany("INSERT INTO rows VALUES (?,?,?,?,?,?,?)", buf)
    buf.clear()
with open(src) as f:
    for line in f:
        r = json.loads(line)
        buf.append((r["companyRef"], r["companyName"], r["integration"], r["accessToken"], r["refreshToken"], r["tenantId"], r["expiresAt"]))
        if len(buf) >= batch: flush()
if buf: flush()
EOF

quarter=$((ROWS / 4))
echo "generating $ROWS rows (and $quarter)"
gen "$ROWS" "$work/rows.jsonl" "$work/rows.csv"
gen "$quarter" "$work/quarter.jsonl" "$work/quarter.csv"
echo "input: $(du -h "$work/rows.jsonl" | cut -f1) JSON Lines, $(du -h "$work/rows.csv" | cut -f1) CSV"

for engine in $ENGINES; do
    for size in quarter rows; do
        n=$ROWS; [ "$size" = quarter ] && n=$quarter
        for fmt in jsonl csv; do
            [ "$size" = quarter ] && [ "$fmt" = csv ] && continue
            if [ "$engine" = sqlite ]; then
                unset FINLINK_DATABASE_URL FINLINK_DATABASE_SCHEMA FINLINK_MASTER_KEYS
                export FINLINK_DATA_DIR="$work/sqlite-$size-$fmt"
            else
                schema="bench_migrate_$$_${size}_$fmt"
                psql -q "$PG" -c "DROP SCHEMA IF EXISTS $schema CASCADE; CREATE SCHEMA $schema" >/dev/null
                export FINLINK_DATABASE_URL="$PG" FINLINK_DATABASE_SCHEMA="$schema" FINLINK_DATA_DIR="$work/pg-$size-$fmt"
                FINLINK_MASTER_KEYS=$("$BIN" encryption new-key); export FINLINK_MASTER_KEYS
            fi
            "$BIN" clients create --name Bench >/dev/null 2>&1
            timed import "$BIN" migrate import "$work/$size.$fmt" --canary 0 --progress none --batch-size "$BATCH"
            report "finlink $engine: migrate import ($fmt)" "$n"
            tail -1 "$work/out" | sed 's/^/    /'
            if [ "$engine" = postgres ]; then
                psql -q "$PG" -c "DROP SCHEMA IF EXISTS $schema CASCADE" >/dev/null
            fi
        done
    done
    if [ "$engine" = sqlite ]; then
        timed baseline python3 "$work/sqlite_baseline.py" "$work/rows.jsonl" "$work/baseline.db" "$BATCH"
        report "baseline sqlite: batched inserts, no validation/encryption" "$ROWS"
    else
        schema="bench_migrate_base_$$"
        psql -q "$PG" -c "DROP SCHEMA IF EXISTS $schema CASCADE; CREATE SCHEMA $schema; CREATE TABLE $schema.rows (company_ref TEXT PRIMARY KEY, company_name TEXT, integration TEXT, access_token TEXT, refresh_token TEXT, tenant_id TEXT, expires_at TEXT)" >/dev/null
        timed baseline psql -q "$PG" -c "\\copy $schema.rows FROM '$work/rows.csv' WITH (FORMAT csv, HEADER true)"
        report "baseline postgres: COPY, no validation/encryption" "$ROWS"
        psql -q "$PG" -c "DROP SCHEMA IF EXISTS $schema CASCADE" >/dev/null
    fi
done
