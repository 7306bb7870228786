#!/usr/bin/env bash
# bench/busy_core.sh: what one busy core does to a proxy's paced latency on
# this machine, with no doorman at all. The control for the login storm's
# "< 2× p99" goal: argon2 checks keep a core busy, even at the lowest
# priority Linux has.
#
# Starts an nginx serving a 1 KiB file and an nginx `proxy_pass` in front of
# it (the configs of bench/run.sh), then for each of ROUNDS rounds runs the
# paced wrk load of bench/run.sh (`-t2 -c64`, each connection waiting
# DELAY_MS between requests) against the proxy four times: with nothing
# else running, beside a busy loop under SCHED_IDLE (`chrt -i 0`), beside
# one at nice 19, and beside one under SCHED_BATCH at nice 19. Prints p50
# and p99 of each run and the median p99 ratios.
#
# usage:  bench/busy_core.sh
# Settings: ROUNDS=3 DURATION=10 DELAY_MS=20
# Listens on 127.0.0.1 only; stops what it started on exit.

set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ROUNDS="${ROUNDS:-3}"
DURATION="${DURATION:-10}"
DELAY_MS="${DELAY_MS:-20}"
FILE="/kib.txt"

BENCH_NAME=busy-core
# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"
for tool in nginx wrk curl python3 chrt; do
    command -v "$tool" >/dev/null || die "$tool is needed"
done

UP_PORT="$(free_port)"
start_upstream "$TMP/up" "$UP_PORT"
NX_PORT="$(free_port)"
mkdir -p "$TMP/nx/tmp"
nginx_proxy_conf "$TMP/nx" "$NX_PORT" "$UP_PORT" >"$TMP/nx/nginx.conf"
start_nginx "$TMP/nx/nginx.conf" "$TMP/nx"
URL="http://127.0.0.1:$NX_PORT$FILE"
wait_http "$URL" "$TMP/nx/error.log"
printf 'function delay()\n    return %s\nend\n' "$DELAY_MS" >"$TMP/paced.lua"

# paced LABEL: one wrk run; prints "LABEL p50 p99" (milliseconds).
paced() {
    wrk -t2 -c64 -d"${DURATION}s" --latency -s "$TMP/paced.lua" "$URL" |
        awk -v label="$1" "$WRK_MS_AWK"'
            /^ *50% / { p50 = ms($2) }
            /^ *99% / { p99 = ms($2) }
            END { printf "%s %.3f %.3f\n", label, p50, p99 }'
}

# beside LABEL COMMAND...: a paced run with COMMAND busy on a core.
beside() {
    local label="$1" pid
    shift
    "$@" python3 -c 'while True: pass' &
    pid=$!
    PIDS+=("$pid")
    sleep 0.5
    paced "$label"
    kill "$pid"
    wait "$pid" 2>/dev/null || true
    forget_pid "$pid"
}

: >"$TMP/runs"
for round in $(seq 1 "$ROUNDS"); do
    paced nothing | tee -a "$TMP/runs"
    beside sched-idle chrt -i 0 | tee -a "$TMP/runs"
    beside nice-19 nice -n 19 | tee -a "$TMP/runs"
    beside batch-nice-19 chrt -b 0 nice -n 19 | tee -a "$TMP/runs"
done
python3 - "$TMP/runs" <<'PY'
import statistics, sys
runs = {}
for line in open(sys.argv[1]):
    label, p50, p99 = line.split()
    runs.setdefault(label, []).append(float(p99))
base = statistics.median(runs["nothing"])
for label, p99s in runs.items():
    p99 = statistics.median(p99s)
    print(f"{label:11} median p99 {p99:.2f} ms  ({p99 / base:.2f}x nothing)")
PY
