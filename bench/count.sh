#!/usr/bin/env bash
# bench/count.sh: instructions and heap allocations per authenticated GET,
# counted, not timed, so a change can be judged on a busy machine.
#
# For each target (doorman on the memory store, with a fully signed-in
# session cookie; the floor, bench/floor, the bare hyper proxy; nginx
# `proxy_pass`, the same config as bench/run.sh's, in one process; and
# forward-auth, the same doorman answering nginx-style `GET /.doorman/auth`
# questions about the 1 KiB file, as nginx's `auth_request` asks them) it runs the
# target under valgrind twice with the same warm-up, once serving N requests
# and once 2N (bench/count_client.py sends exactly that many, over
# CONNECTIONS keep-alive connections, every answer checked to be 200), and
# divides the difference by N: start-up, sign-in checks, warm-up and shut-down
# cancel out. `callgrind` gives instructions (Ir), `dhat` heap blocks and bytes.
# Idle housekeeping during the longer run is counted too (small: timers).
#
# usage:  bench/count.sh                 every target, both tools (nginx: callgrind only)
#         N=2000 bench/count.sh          fewer requests (noisier)
# Settings: N=5000 CONNECTIONS=4 WARMUP=200 TARGETS="doorman floor nginx" (a list;
#           forward-auth is counted when named: TARGETS="doorman forward-auth")
#           TOOLS="callgrind dhat" KEEP_TMP=1 (keep configs, logs, valgrind output)
#           DOORMAN_BIN=path FLOOR_BIN=path (use these binaries, build nothing)
#           MEMORY_REQUESTS=20000 (native requests before doorman's RSS is read)
# Prints a Markdown table; the binaries are built with `--profile count`
# (the release profile with symbols kept).

set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BENCH="$ROOT/bench"
N="${N:-5000}"
CONNECTIONS="${CONNECTIONS:-4}"
WARMUP="${WARMUP:-200}"
TARGETS="${TARGETS:-doorman floor nginx}"
TOOLS="${TOOLS:-callgrind dhat}"
KEEP_TMP="${KEEP_TMP:-0}"
PREFIX="/.doorman"
FILE="/kib.txt"

BENCH_NAME=count
# shellcheck source=bench/lib.sh
source "$BENCH/lib.sh"
for tool in valgrind nginx curl python3; do
    command -v "$tool" >/dev/null || die "$tool is needed (apt-get install $tool)"
done

# ---------------------------------------------------------------- builds

if [[ -z "${DOORMAN_BIN:-}" ]]; then
    say "building doorman (--profile count)"
    (cd "$ROOT" && cargo build --profile count --locked --quiet --bin doorman) || die "doorman build failed"
fi
if [[ -z "${FLOOR_BIN:-}" ]]; then
    say "building the floor (--profile count)"
    (cd "$BENCH/floor" && cargo build --profile count --quiet) || die "floor build failed"
fi
DOORMAN="${DOORMAN_BIN:-$ROOT/target/count/doorman}"
FLOOR="${FLOOR_BIN:-$BENCH/floor/target/count/doorman-bench-floor}"

# ---------------------------------------------------------------- upstream

UP_PORT="$(free_port)"
UP="$TMP/upstream"
start_upstream "$UP" "$UP_PORT"

# ---------------------------------------------------------------- doorman config and cookie

DM="$TMP/doorman"
mkdir -p "$DM"
PASSWORD="count-password-$RANDOM$RANDOM"
HASH="$(printf '%s\n' "$PASSWORD" | "$DOORMAN" hash-password --stdin)" || die "hash-password failed"
HOOK_PORT="$(free_port)"
CODE_FILE="$TMP/code"
python3 "$BENCH/hook.py" "$HOOK_PORT" "$CODE_FILE" 2>"$TMP/hook.log" &
PIDS+=($!)
wait_http "http://127.0.0.1:$HOOK_PORT/" "$TMP/hook.log" 120
cat >"$DM/users.yaml" <<EOF
users:
  count:
    password: "$HASH"
    groups: ["bench"]
    phone: "+14155550100"
EOF
# doorman_config PORT: the config every doorman run uses, on PORT.
doorman_config() {
    cat >"$DM/doorman.yaml" <<EOF
listen: "127.0.0.1:$1"
upstream: "http://127.0.0.1:$UP_PORT"
auth_prefix: "$PREFIX"
users_file: "users.yaml"
session: { secret: "$(head -c 32 /dev/zero | tr '\0' 'c')count-secret", lifetime: "12h", idle_timeout: "12h" }
channels: { sms: { provider: webhook } }
providers: { webhook: { url: "http://127.0.0.1:$HOOK_PORT/send" } }
store: { kind: memory }
log: { level: warn }
# A sign-in before each counted doorman sends a code each time (and the
# counted runs start seconds apart).
codes: { resend_cooldown: "1s" }
limits:
  sends_per_number: { max: 100000, window: "10m" }
  sends_per_account: { max: 100000, window: "24h" }
EOF
}

# The cookie: the real sign-in (password, SMS code, code) on a doorman run
# natively with the same secret and users. The cookie carries the whole
# session; the memory store only holds revocations, so the counted runs
# (new processes) accept it. Each counted doorman gets a cookie signed in
# just before its warm-up: one older than a minute is re-issued on every
# request (the idle window slides), which is not the path being counted
# (bench/run.sh's "Cookie older than a minute" measures that one).
post() {
    local page="$1"
    shift
    local fields=() field
    for field in "$@"; do fields+=(--data-urlencode "$field"); done
    curl -sS -o /dev/null -w '%{http_code}' -b "$TMP/jar" -c "$TMP/jar" "${fields[@]}" "$BASE$PREFIX/$page"
}
# sign_in: sets COOKIE to a new session's, signed in on the native doorman.
sign_in() {
    local csrf status
    rm -f "$TMP/jar"
    : >"$CODE_FILE"
    csrf="$(curl -sS -b "$TMP/jar" -c "$TMP/jar" "$BASE$PREFIX/login" |
        sed -n 's/.*name="csrf" value="\([^"]*\)".*/\1/p' | head -n 1)"
    [[ "$(post login "csrf=$csrf" username=count "password=$PASSWORD")" == 303 ]] || die "sign-in: login refused"
    # The CSRF token is bound to the session, which the password step replaced.
    csrf="$(curl -sS -b "$TMP/jar" -c "$TMP/jar" "$BASE$PREFIX/2fa" |
        sed -n 's/.*name="csrf" value="\([^"]*\)".*/\1/p' | head -n 1)"
    status="$(post 2fa/send "csrf=$csrf" channel=sms)"
    [[ "$status" == 303 ]] || die "sign-in: no code sent (2fa/send answered $status; see $DM/signin.log)"
    for _ in $(seq 1 50); do [[ -s "$CODE_FILE" ]] && break || sleep 0.1; done
    [[ "$(post 2fa/verify "csrf=$csrf" "code=$(cat "$CODE_FILE")")" == 303 ]] || die "sign-in: code refused"
    COOKIE="doorman_session=$(awk -F '\t' '$6 == "doorman_session" { v = $7 } END { print v }' "$TMP/jar")"
    [[ "$COOKIE" != "doorman_session=" ]] || die "sign-in: no session cookie"
}
PORT="$(free_port)"
BASE="http://127.0.0.1:$PORT"
doorman_config "$PORT"
# Its own copy: the counted runs rewrite doorman.yaml.
cp "$DM/doorman.yaml" "$DM/signin.yaml"
env -u RUST_LOG "$DOORMAN" serve --config "$DM/signin.yaml" >"$DM/audit.log" 2>"$DM/signin.log" &
SIGNIN_PID=$!
PIDS+=("$SIGNIN_PID")
wait_http "$BASE$PREFIX/health" "$DM/signin.log" 120
rss() { awk -v key="$2:" '$1 == key { print $2 }' "/proc/$1/status"; }
IDLE_RSS="$(rss "$SIGNIN_PID" VmRSS)"
sign_in
# Memory, natively: idle (above), then after MEMORY_REQUESTS authenticated GETs.
python3 "$BENCH/count_client.py" "127.0.0.1:$PORT" "$FILE" "${MEMORY_REQUESTS:-20000}" "$CONNECTIONS" "$COOKIE" ||
    die "authenticated requests on the native doorman failed"
say "doorman RSS: idle ${IDLE_RSS} KiB; after ${MEMORY_REQUESTS:-20000} requests $(rss "$SIGNIN_PID" VmRSS) KiB (peak $(rss "$SIGNIN_PID" VmHWM) KiB)"
# It stays up to sign in again before each counted doorman (the exit
# trap stops it).

# ---------------------------------------------------------------- counting

# count TOOL TARGET REQUESTS: runs TARGET under valgrind TOOL, sends WARMUP
# then REQUESTS requests, stops it; prints the tool's total (Ir, or
# "blocks bytes" for dhat).
count() {
    local tool="$1" target="$2" requests="$3" port out pid cookie="" ready path="$FILE" asked=()
    port="$(free_port)"
    out="$TMP/$tool-$target-$requests.out"
    local vg=(valgrind --tool="$tool" -q)
    case "$tool" in
    callgrind) vg+=(--callgrind-out-file="$out") ;;
    dhat) vg+=(--dhat-out-file="$out") ;;
    esac
    case "$target" in
    doorman | forward-auth)
        doorman_config "$port"
        # As bench/run.sh's forward-auth doorman: nginx is a trusted proxy,
        # so the question's X-Original-* headers are believed.
        [[ "$target" == forward-auth ]] && echo 'trusted_proxies: ["127.0.0.1/32"]' >>"$DM/doorman.yaml"
        env -u RUST_LOG "${vg[@]}" "$DOORMAN" serve --config "$DM/doorman.yaml" \
            >"$TMP/$tool-$target-$requests.audit" 2>"$TMP/$tool-$target-$requests.log" &
        cookie="$COOKIE"
        ready="$PREFIX/health"
        if [[ "$target" == forward-auth ]]; then
            # The two headers examples/nginx/app.conf sets on the question.
            path="$PREFIX/auth"
            asked=("X-Original-URL: http://127.0.0.1:$port$FILE" "X-Original-Method: GET")
        fi
        ;;
    floor)
        "${vg[@]}" "$FLOOR" "127.0.0.1:$port" "127.0.0.1:$UP_PORT" 2>"$TMP/$tool-$target-$requests.log" &
        ready="$FILE"
        ;;
    nginx)
        # One process doing all of the work (no master), so valgrind counts it.
        local dir="$TMP/nginx-$requests"
        mkdir -p "$dir/tmp"
        nginx_proxy_conf "$dir" "$port" "$UP_PORT" 1 >"$dir/nginx.conf"
        "${vg[@]}" "$(command -v nginx)" -g "master_process off;" -c "$dir/nginx.conf" -p "$dir" \
            -e "$dir/error.log" 2>"$TMP/$tool-$target-$requests.log" &
        ready="$FILE"
        ;;
    esac
    pid=$!
    PIDS+=("$pid")
    wait_http "http://127.0.0.1:$port$ready" "$TMP/$tool-$target-$requests.log" 120
    if [[ -n "$cookie" ]]; then
        # Under a minute old for the whole run: not re-issued.
        sign_in
        cookie="$COOKIE"
    fi
    python3 "$BENCH/count_client.py" "127.0.0.1:$port" "$path" "$WARMUP" "$CONNECTIONS" "$cookie" "${asked[@]}" ||
        die "$target: warm-up failed"
    python3 "$BENCH/count_client.py" "127.0.0.1:$port" "$path" "$requests" "$CONNECTIONS" "$cookie" "${asked[@]}" ||
        die "$target: counted run failed"
    kill -TERM "$pid"
    # The floor has no graceful shutdown; valgrind still writes its totals.
    wait "$pid" || true
    forget_pid "$pid"
    [[ -s "$out" ]] || die "$tool wrote nothing for $target (see $TMP/$tool-$target-$requests.log)"
    case "$tool" in
    callgrind) awk '/^(summary|totals):/ { print $2; exit }' "$out" ;;
    dhat) python3 -c 'import json, sys
d = json.load(open(sys.argv[1]))
print(sum(p["tbk"] for p in d["pps"]), sum(p["tb"] for p in d["pps"]))' "$out" ;;
    esac
}

echo "| target | instructions/request | allocations/request | bytes allocated/request |"
echo "|---|---:|---:|---:|"
for target in $TARGETS; do
    ir="–" blocks="–" bytes="–"
    for tool in $TOOLS; do
        # nginx allocates from its own pools: dhat would not count its work.
        [[ "$target" == nginx && "$tool" == dhat ]] && continue
        say "$target under $tool: $N and $((2 * N)) requests"
        one="$(count "$tool" "$target" "$N")"
        two="$(count "$tool" "$target" $((2 * N)))"
        case "$tool" in
        callgrind) ir="$(python3 -c "print(f'{($two - $one) / $N:,.0f}')")" ;;
        dhat)
            read -r b1 k1 <<<"$one"
            read -r b2 k2 <<<"$two"
            blocks="$(python3 -c "print(f'{($b2 - $b1) / $N:.2f}')")"
            bytes="$(python3 -c "print(f'{($k2 - $k1) / $N:,.0f}')")"
            ;;
        esac
        say "$target $tool: $one (N) / $two (2N)"
    done
    echo "| $target | $ir | $blocks | $bytes |"
done
say "N=$N CONNECTIONS=$CONNECTIONS WARMUP=$WARMUP, load average $(cut -d' ' -f1-3 /proc/loadavg)"
