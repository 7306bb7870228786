#!/usr/bin/env bash
# bench/worker_split.sh: how evenly doorman's worker threads share the work.
#
# Starts `doorman serve` (DOORMAN_BIN, `limits.worker_threads: 2`, memory
# store) in front of an nginx serving a 1 KiB file, mints one signed-in
# session cookie (bench/mint_sessions.rs, MINT_BIN, same config and secret),
# checks it gets a 200, then for each of RUNS runs of
# `wrk -t1 -c$CONNECTIONS -d${DURATION}s` with that cookie reads every
# `doorman-worker-*` thread's CPU time (utime + stime from
# /proc/PID/task/TID/stat) before and after, and prints each worker's share.
# With one shared listening socket the kernel wakes whichever worker it
# likes; with one SO_REUSEPORT socket per worker it hashes each connection
# to one of them.
#
# usage:  DOORMAN_BIN=target/release/doorman bench/worker_split.sh
# Settings: RUNS=3 DURATION=5 CONNECTIONS=32 WORKERS=2
#           MINT_BIN=path (default: target/release/examples/mint-sessions)
# Listens on 127.0.0.1 only; stops what it started on exit.

set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
RUNS="${RUNS:-3}"
DURATION="${DURATION:-5}"
CONNECTIONS="${CONNECTIONS:-32}"
WORKERS="${WORKERS:-2}"
TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
DOORMAN="${DOORMAN_BIN:-$TARGET_DIR/release/doorman}"
MINT="${MINT_BIN:-$TARGET_DIR/release/examples/mint-sessions}"
FILE="/kib.txt"

BENCH_NAME=split
# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"
[[ -x "$DOORMAN" && -x "$MINT" ]] ||
    die "no binaries at $DOORMAN and $MINT (cargo build --release --bin doorman --example mint-sessions)"
for tool in nginx wrk curl python3; do
    command -v "$tool" >/dev/null || die "$tool is needed"
done

UP_PORT="$(free_port)"
start_upstream "$TMP/up" "$UP_PORT"

DM_PORT="$(free_port)"
HASH="$(printf 'split-bench-password\n' | "$DOORMAN" hash-password --stdin)"
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$TMP/session_secret"
printf 'users:\n  bench:\n    password: "%s"\n    phone: "+14155550100"\n' "$HASH" >"$TMP/users.yaml"
cat >"$TMP/doorman.yaml" <<EOF
listen: "127.0.0.1:$DM_PORT"
upstream: "http://127.0.0.1:$UP_PORT"
users_file: "users.yaml"
session: { secret_file: "session_secret", idle_timeout: "12h" }
channels: { sms: { provider: log } }
providers: { log: {} }
store: { kind: memory }
limits: { worker_threads: $WORKERS }
log: { level: warn }
EOF
env -u RUST_LOG "$DOORMAN" serve --config "$TMP/doorman.yaml" >/dev/null 2>"$TMP/doorman.log" &
DM_PID=$!
PIDS+=("$DM_PID")
wait_http "http://127.0.0.1:$DM_PORT/.doorman/health" "$TMP/doorman.log"
COOKIE="doorman_session=$("$MINT" "$TMP/doorman.yaml" 1)"
status="$(curl -sS -o /dev/null -w '%{http_code}' -H "Cookie: $COOKIE" "http://127.0.0.1:$DM_PORT$FILE")"
[[ "$status" == 200 ]] || die "the minted session got $status, expected 200"

# Each worker thread's "tid ticks" (utime + stime), in thread-id order.
worker_ticks() {
    local task
    for task in /proc/"$DM_PID"/task/*; do
        [[ "$(cat "$task/comm")" == doorman-worker* ]] || continue
        echo "${task##*/} $(sed 's/^.*) //' "$task/stat" | awk '{ print $12 + $13 }')"
    done | sort
}

echo "doorman: $DOORMAN ($WORKERS workers); wrk -t1 -c$CONNECTIONS -d${DURATION}s, authenticated GET of 1 KiB"
for run in $(seq 1 "$RUNS"); do
    before="$(worker_ticks)"
    wrk -t1 -c"$CONNECTIONS" -d"${DURATION}s" -H "Cookie: $COOKIE" "http://127.0.0.1:$DM_PORT$FILE" >"$TMP/wrk.txt"
    after="$(worker_ticks)"
    rps="$(awk '/^Requests\/sec:/ { print $2 }' "$TMP/wrk.txt")"
    join <(echo "$before") <(echo "$after") | awk -v run="$run" -v rps="$rps" '
        { used[NR] = $3 - $2; total += $3 - $2 }
        END {
            line = sprintf("run %d: %s req/s; worker CPU share", run, rps)
            for (i = 1; i <= NR; i++) line = line sprintf(" %.0f%%", total ? used[i] * 100 / total : 0)
            print line sprintf(" (%d ticks in all)", total)
        }'
done
