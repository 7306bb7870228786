#!/usr/bin/env bash
# bench/sessions.sh: doorman's memory with many live sessions, measured.
#
# Starts `doorman serve` (release build, memory store, default limits, 2
# worker threads on 2 cores) in front of an nginx serving a 1 KiB file, with
# a users file of USERS users. Reads VmRSS/VmHWM from /proc/PID/status:
#   1. idle (after start-up and one health check);
#   2. after SESSIONS distinct, fully signed-in session cookies were each
#      used once for an authenticated GET (every answer must be 200);
#   3. after every cookie was used a second time ("reuse").
# A made-up cookie must get 401, so the 200s are doorman's judgement.
#
# The cookies come from bench/mint_sessions.rs (`cargo run --example
# mint-sessions`), which builds doorman's own App from the same config
# file and session secret and seals each session exactly as the sign-in
# does (`App::start_session` at level two, `SessionCodec::set_cookie`);
# signing 100 000 people in through the password page would cost 100 000
# argon2 checks. The client is bench/sessions_client.py.
#
# usage:  bench/sessions.sh
# Settings: SESSIONS=100000 USERS=1000 CONNECTIONS=8
#           DOORMAN_BIN=path MINT_BIN=path (use these, build nothing)
#           KEEP_TMP=1 (keep configs, logs and the cookies file)
# Prints a Markdown table on stdout. Listens on 127.0.0.1 only; stops
# everything it started on exit.

set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BENCH="$ROOT/bench"
SESSIONS="${SESSIONS:-100000}"
USERS="${USERS:-1000}"
CONNECTIONS="${CONNECTIONS:-8}"
KEEP_TMP="${KEEP_TMP:-0}"
PREFIX="/.doorman"
FILE="/kib.txt"

BENCH_NAME=sessions
# shellcheck source=bench/lib.sh
source "$BENCH/lib.sh"
for name in SESSIONS USERS CONNECTIONS; do
    [[ "${!name}" =~ ^[1-9][0-9]*$ ]] || die "$name must be a positive whole number, got '${!name}'"
done
for tool in nginx curl python3; do
    command -v "$tool" >/dev/null || die "$tool is needed (apt-get install $tool)"
done

# rss PID KEY: the KiB value of KEY (VmRSS, VmHWM) in /proc/PID/status.
rss() { awk -v key="$2:" '$1 == key { print $2 }' "/proc/$1/status"; }
mib() { awk -v kib="$1" 'BEGIN { printf "%.1f", kib / 1024 }'; }

# ---------------------------------------------------------------- builds

if [[ -z "${DOORMAN_BIN:-}" || -z "${MINT_BIN:-}" ]]; then
    say "building doorman and mint-sessions (cargo build --release)"
    (cd "$ROOT" && cargo build --release --quiet --bin doorman --example mint-sessions) ||
        die "cargo build --release failed"
fi
DOORMAN="${DOORMAN_BIN:-${CARGO_TARGET_DIR:-$ROOT/target}/release/doorman}"
MINT="${MINT_BIN:-${CARGO_TARGET_DIR:-$ROOT/target}/release/examples/mint-sessions}"
[[ -x "$DOORMAN" && -x "$MINT" ]] || die "no binaries at $DOORMAN and $MINT"

# ---------------------------------------------------------------- upstream

UP_PORT="$(free_port)"
UP="$TMP/upstream"
start_upstream "$UP" "$UP_PORT"

# ---------------------------------------------------------------- doorman

DM="$TMP/doorman"
mkdir -p "$DM"
HASH="$(printf 'sessions-bench-password\n' | "$DOORMAN" hash-password --stdin)" || die "hash-password failed"
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$DM/session_secret"
{
    echo "users:"
    for i in $(seq 1 "$USERS"); do
        printf '  user%05d:\n    password: "%s"\n    email: "user%05d@example.com"\n    groups: ["bench"]\n    phone: "+1415555%04d"\n' \
            "$i" "$HASH" "$i" "$((i % 10000))"
    done
} >"$DM/users.yaml"
DM_PORT="$(free_port)"
cat >"$DM/doorman.yaml" <<EOF
listen: "127.0.0.1:$DM_PORT"
upstream: "http://127.0.0.1:$UP_PORT"
auth_prefix: "$PREFIX"
users_file: "users.yaml"
session:
  secret_file: "session_secret"
  lifetime: "12h"
  idle_timeout: "12h"
channels:
  sms: { provider: log }
providers:
  log: {}
store: { kind: memory }
log:
  level: warn
EOF
env -u RUST_LOG "$DOORMAN" serve --config "$DM/doorman.yaml" >"$DM/audit.log" 2>"$DM/doorman.log" &
DM_PID=$!
PIDS+=("$DM_PID")
wait_http "http://127.0.0.1:$DM_PORT$PREFIX/health" "$DM/doorman.log"
sleep 1
IDLE_RSS="$(rss "$DM_PID" VmRSS)" IDLE_HWM="$(rss "$DM_PID" VmHWM)"
say "idle: VmRSS $(mib "$IDLE_RSS") MiB, VmHWM $(mib "$IDLE_HWM") MiB ($USERS users)"

# A made-up cookie is refused: the 200s below are doorman's decision.
status="$(curl -sS -o /dev/null -w '%{http_code}' -H "Cookie: doorman_session=bogus$RANDOM" "http://127.0.0.1:$DM_PORT$FILE")"
[[ "$status" == 401 ]] || die "a made-up cookie got $status, expected 401: is doorman gating?"

say "minting $SESSIONS session cookies for $USERS users"
"$MINT" "$DM/doorman.yaml" "$SESSIONS" >"$TMP/cookies" 2>"$TMP/mint.log" ||
    { cat "$TMP/mint.log" >&2; die "mint-sessions failed"; }
[[ "$(sort -u "$TMP/cookies" | wc -l)" == "$SESSIONS" ]] || die "the minted cookies are not $SESSIONS distinct ones"

use_all() {
    local started="$SECONDS" answers
    answers="$(python3 "$BENCH/sessions_client.py" "127.0.0.1:$DM_PORT" "$FILE" "$TMP/cookies" "$CONNECTIONS")" ||
        die "not every session was accepted: $answers"
    say "$1: answers $answers in $((SECONDS - started)) s"
    ANSWERS="$answers"
}
ANSWERS=""
use_all "first use"
FIRST_ANSWERS="$ANSWERS"
FIRST_RSS="$(rss "$DM_PID" VmRSS)" FIRST_HWM="$(rss "$DM_PID" VmHWM)"
say "after $SESSIONS sessions: VmRSS $(mib "$FIRST_RSS") MiB, VmHWM $(mib "$FIRST_HWM") MiB"
use_all "reuse"
REUSE_ANSWERS="$ANSWERS"
REUSE_RSS="$(rss "$DM_PID" VmRSS)" REUSE_HWM="$(rss "$DM_PID" VmHWM)"
say "after reuse: VmRSS $(mib "$REUSE_RSS") MiB, VmHWM $(mib "$REUSE_HWM") MiB"

cat <<EOF
Measured $(date -u '+%Y-%m-%d %H:%M UTC') with \`SESSIONS=$SESSIONS USERS=$USERS CONNECTIONS=$CONNECTIONS bench/sessions.sh\` ($(nproc) cores, $(uname -sr), doorman $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)).

| moment | VmRSS MiB | VmHWM MiB | answers |
|---|---:|---:|---|
| idle ($USERS users, after one health check) | $(mib "$IDLE_RSS") | $(mib "$IDLE_HWM") | – |
| after $SESSIONS distinct sessions, each used once | $(mib "$FIRST_RSS") | $(mib "$FIRST_HWM") | \`$FIRST_ANSWERS\` |
| after each was used again | $(mib "$REUSE_RSS") | $(mib "$REUSE_HWM") | \`$REUSE_ANSWERS\` |
EOF
