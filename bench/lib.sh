# Shared by the bench scripts (sourced): a work directory cleaned up on exit, and
# `start CMD...`, which runs a server that prints "... listening on http://ADDR" and sets $url and $pid.
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT

start() {
    local out="$work/out.$RANDOM"
    "$@" >"$out" 2>"$out.err" &
    pid=$!
    pids+=("$pid")
    for _ in $(seq 1 200); do
        url=$(grep -o 'http://[0-9.:]*' "$out" 2>/dev/null | head -1 || true)
        [ -n "$url" ] && return 0
        sleep 0.05
    done
    echo "server did not start: $(cat "$out.err")" >&2
    exit 1
}
rss_kb() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }
