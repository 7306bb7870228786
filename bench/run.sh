#!/usr/bin/env bash
# bench/run.sh: authenticated GET throughput and latency through doorman,
# compared in one run with the same upstream reached directly, through nginx
# `proxy_pass`, Caddy `reverse_proxy` and the floor (bench/floor: a bare
# hyper proxy on doorman's own stack, no auth), with a second doorman on the Redis store (whose
# authenticated hot path must not touch Redis), and with nginx asking a third
# doorman through `auth_request` (forward-auth, the shipped
# examples/nginx/app.conf) before it proxies, and the same nginx config asking
# an nginx `return 200` instead (the subrequest's own price: the ceiling); plus
# a login storm (argon2 flood) next to proxied traffic, with nginx beside it as
# the control, and the cost of a stale cookie that doorman re-issues on every
# response (these two on the memory-store doorman only).
# Writes docs/PERFORMANCE.md.
#
# This is a benchmark, not a test: it never fails on slow numbers, only on a
# setup that does not work (then it says what broke).
#
# usage:  bench/run.sh            full run (about 12 minutes on 2 cores)
#         QUICK=1 bench/run.sh    quick run (about 2-3 minutes, noisier)
#
# Settings (environment variables; defaults in brackets, quick mode second):
#   DURATION=10 [10|3]          seconds per wrk run
#   ROUNDS=5 [5|3]              rounds of direct, nginx, nginx+auth_request, caddy,
#                               floor, doorman, doorman-redis (alternated; the two
#                               doormans swap order every round)
#   PACED_ROUNDS=3 [3|1]        the same at a fixed moderate rate (see PACED_DELAY_MS)
#   STORM_ROUNDS=3 [3|2]        rounds of baseline/storm pairs per load shape
#   STALE_ROUNDS=3 [3|0]        rounds of fresh/stale cookie pairs (waits until
#                               the first cookie is a minute old if need be)
#   WARMUP=3 [3|1]              seconds of warm-up per target before round 1
#   THREADS=2 CONNECTIONS=64    wrk -t / -c
#   STORM_CONCURRENCY=50        parallel wrong-password logins in the storm
#   PACED_DELAY_MS=20           think time per connection in the paced runs
#   MAX_OTHER_CPU=10            a run during which other processes (someone
#   RETRIES=1                   compiling) used more than this % of the machine
#   RETRY_WAIT=5                is repeated up to RETRIES times, RETRY_WAIT s later
#   DOORMAN_BIN=path            skip `cargo build --release`, use this binary
#   AUTH_REQUEST=1              0 leaves out the nginx+auth_request target
#   FLOOR=1                     0 leaves out the floor (and its release build)
#   OUT=docs/PERFORMANCE.md     where the report goes
#   KEEP_TMP=1                  keep the temp dir (configs, logs, raw wrk output)
#
# Everything this script starts listens on 127.0.0.1 only and is stopped on
# exit. It never touches the system nginx config, pid file or logs.

set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BENCH="$ROOT/bench"
cd "$ROOT"

# ---------------------------------------------------------------- settings

# The settings given in the environment, for the report's "exact command".
GIVEN=""
for name in QUICK DURATION ROUNDS STORM_ROUNDS STALE_ROUNDS WARMUP THREADS CONNECTIONS \
    STORM_CONCURRENCY PACED_ROUNDS PACED_DELAY_MS MAX_OTHER_CPU RETRIES RETRY_WAIT DOORMAN_BIN \
    AUTH_REQUEST FLOOR; do
    [[ -n "${!name:-}" ]] && GIVEN+="$name=${!name} "
done

QUICK="${QUICK:-0}"
if [[ "$QUICK" == 1 ]]; then
    DURATION="${DURATION:-3}" ROUNDS="${ROUNDS:-3}" STORM_ROUNDS="${STORM_ROUNDS:-2}"
    STALE_ROUNDS="${STALE_ROUNDS:-0}" WARMUP="${WARMUP:-1}" PACED_ROUNDS="${PACED_ROUNDS:-1}"
else
    DURATION="${DURATION:-10}" ROUNDS="${ROUNDS:-5}" STORM_ROUNDS="${STORM_ROUNDS:-3}"
    STALE_ROUNDS="${STALE_ROUNDS:-3}" WARMUP="${WARMUP:-3}" PACED_ROUNDS="${PACED_ROUNDS:-3}"
fi
THREADS="${THREADS:-2}"
CONNECTIONS="${CONNECTIONS:-64}"
STORM_CONCURRENCY="${STORM_CONCURRENCY:-50}"
PACED_DELAY_MS="${PACED_DELAY_MS:-20}"
MAX_OTHER_CPU="${MAX_OTHER_CPU:-10}"
RETRIES="${RETRIES:-1}"
RETRY_WAIT="${RETRY_WAIT:-5}"
OUT="${OUT:-$ROOT/docs/PERFORMANCE.md}"
AUTH_REQUEST="${AUTH_REQUEST:-1}"
FLOOR="${FLOOR:-1}"
KEEP_TMP="${KEEP_TMP:-0}"

# Sign-in details for the generated users file.
BENCH_USER="bench"
BENCH_PASSWORD="bench-password-$RANDOM$RANDOM"
PREFIX="/.doorman"
FILE="/kib.txt" # the 1 KiB static file every target serves

BENCH_NAME=bench
# shellcheck source=bench/lib.sh
source "$BENCH/lib.sh"

for name in DURATION ROUNDS STORM_ROUNDS STALE_ROUNDS WARMUP THREADS CONNECTIONS STORM_CONCURRENCY \
    PACED_ROUNDS PACED_DELAY_MS MAX_OTHER_CPU RETRIES RETRY_WAIT; do
    [[ "${!name}" =~ ^[0-9]+$ ]] || die "$name must be a whole number (seconds/count), got '${!name}'"
done
((DURATION >= 1 && ROUNDS >= 1)) || die "DURATION and ROUNDS must be at least 1"
[[ "$AUTH_REQUEST" == [01] && "$FLOOR" == [01] ]] || die "AUTH_REQUEST and FLOOR are 0 or 1"
# doorman re-issues the cookie once it is 60 s old; longer runs would measure that too.
((DURATION < 55)) || say "warning: DURATION >= 55 s: the 'fresh cookie' runs will include cookie re-issues"

# ---------------------------------------------------------------- tools

# nginx and wrk come from apt when missing; curl, python3 and redis-server
# (with redis-cli) likewise.
missing=()
command -v nginx >/dev/null || missing+=(nginx)
command -v wrk >/dev/null || missing+=(wrk)
command -v curl >/dev/null || missing+=(curl)
command -v python3 >/dev/null || missing+=(python3)
command -v redis-server >/dev/null && command -v redis-cli >/dev/null || missing+=(redis-server)
command -v caddy >/dev/null || missing+=(caddy)
if ((${#missing[@]})); then
    say "installing ${missing[*]} with apt-get"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null
    apt-get install -y -qq "${missing[@]}" >/dev/null
fi
NGINX="$(command -v nginx)"
REDIS_SERVER="$(command -v redis-server)"
CADDY="$(command -v caddy)"

# ---------------------------------------------------------------- helpers

# CPU time (clock ticks, user + system) used so far by the given processes.
# /proc/PID/stat: drop "pid (comm) " first, then utime and stime are fields 12, 13.
cpu_ticks() {
    local pid total=0 ticks
    for pid in "$@"; do
        ticks="$(sed 's/^.*) //' "/proc/$pid/stat" 2>/dev/null | awk '{ print $12 + $13 }')" || ticks=0
        total=$((total + ${ticks:-0}))
    done
    echo "$total"
}
CLK_TCK="$(getconf CLK_TCK)"

# CPU time (clock ticks) the whole machine spent busy so far: user, nice,
# system, irq, softirq, steal from the first line of /proc/stat.
machine_ticks() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9 }' /proc/stat; }

# ---------------------------------------------------------------- upstream

UP_PORT="$(free_port)"
UP="$TMP/upstream"
mkdir -p "$UP/tmp" "$UP/www"
head -c 1024 /dev/zero | tr '\0' 'x' >"$UP/www${FILE}"
{
    nginx_head "$UP"
    cat <<EOF
    server {
        listen 127.0.0.1:$UP_PORT;
        root $UP/www;
        location / { }
    }
}
EOF
} >"$UP/nginx.conf"
start_nginx "$UP/nginx.conf" "$UP"
UP_MASTER="${PIDS[-1]}"

# ---------------------------------------------------------------- nginx proxy

NX_PORT="$(free_port)"
NX="$TMP/nginx-proxy"
mkdir -p "$NX/tmp"
nginx_proxy_conf "$NX" "$NX_PORT" "$UP_PORT" >"$NX/nginx.conf"
start_nginx "$NX/nginx.conf" "$NX"
NX_MASTER="${PIDS[-1]}"

# ---------------------------------------------------------------- Caddy proxy

CD_PORT="$(free_port)"
CD="$TMP/caddy"
mkdir -p "$CD"
cat >"$CD/Caddyfile" <<EOF
{
	admin off
	auto_https off
}
http://127.0.0.1:$CD_PORT {
	reverse_proxy 127.0.0.1:$UP_PORT
}
EOF
HOME="$CD" XDG_DATA_HOME="$CD" XDG_CONFIG_HOME="$CD" \
    "$CADDY" run --adapter caddyfile --config "$CD/Caddyfile" >"$CD/caddy.log" 2>&1 &
CD_PID=$!
PIDS+=("$CD_PID")

# ---------------------------------------------------------------- floor

# The bare proxy on doorman's crates: the distance doorman-floor is
# doorman's own work, floor-nginx belongs to the stack.
FL_PID="" FL_PORT=""
if [[ "$FLOOR" == 1 ]]; then
    say "building the floor (bench/floor, cargo build --release)"
    # Its own target directory, wherever CARGO_TARGET_DIR points.
    (cd "$BENCH/floor" && CARGO_TARGET_DIR="$BENCH/floor/target" cargo build --release --quiet) ||
        die "cargo build --release in bench/floor failed"
    FL_PORT="$(free_port)"
    "$BENCH/floor/target/release/doorman-bench-floor" "127.0.0.1:$FL_PORT" "127.0.0.1:$UP_PORT" \
        2>"$TMP/floor.log" &
    FL_PID=$!
    PIDS+=("$FL_PID")
fi

# ---------------------------------------------------------------- doorman

if [[ -n "${DOORMAN_BIN:-}" ]]; then
    DOORMAN="$DOORMAN_BIN"
else
    say "building doorman (cargo build --release)"
    cargo build --release --quiet || die "cargo build --release failed"
    DOORMAN="$ROOT/target/release/doorman"
fi
[[ -x "$DOORMAN" ]] || die "no doorman binary at $DOORMAN"
# Which source the binary was built from, noted now: others may commit
# while the bench runs.
DOORMAN_COMMIT="$(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
DOORMAN_DIRTY="$(git status --porcelain -- src Cargo.toml Cargo.lock templates 2>/dev/null | wc -l)"
[[ -n "${DOORMAN_BIN:-}" ]] && DOORMAN_COMMIT="$DOORMAN_BIN, tree at $DOORMAN_COMMIT"

# The stand-in SMS gateway: doorman's webhook provider posts codes to it.
HOOK_PORT="$(free_port)"
CODE_FILE="$TMP/code"
python3 "$BENCH/hook.py" "$HOOK_PORT" "$CODE_FILE" 2>"$TMP/hook.log" &
PIDS+=($!)

# The Redis server the second doorman keeps its state in: no persistence,
# its own directory, loopback only.
REDIS_PORT="$(free_port)"
RD="$TMP/redis"
mkdir -p "$RD"
"$REDIS_SERVER" --bind 127.0.0.1 --port "$REDIS_PORT" --dir "$RD" --save "" --appendonly no \
    --daemonize no --logfile "$RD/redis.log" &
REDIS_PID=$!
PIDS+=("$REDIS_PID")
redis() { redis-cli -h 127.0.0.1 -p "$REDIS_PORT" "$@"; }
# Commands the Redis server has processed so far (this INFO shows up in
# the next reading, not in its own).
redis_commands() {
    redis info stats 2>/dev/null | awk -F: '/^total_commands_processed:/ { n = $2 + 0 } END { print n + 0 }'
}
for _ in $(seq 1 100); do
    [[ "$(redis ping 2>/dev/null)" == PONG ]] && break
    sleep 0.1
done
[[ "$(redis ping 2>/dev/null)" == PONG ]] ||
    { tail -n 20 "$RD/redis.log" >&2 || true; die "redis-server does not answer on port $REDIS_PORT (log above)"; }

HASH="$(printf '%s\n' "$BENCH_PASSWORD" | "$DOORMAN" hash-password --stdin)" ||
    die "doorman hash-password failed"
SESSION_SECRET="$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')"

# doorman_config DIR PORT STORE: writes DIR/doorman.yaml and DIR/users.yaml;
# STORE is the YAML flow mapping for `store:`. Both doormans get the same
# configuration but for the store and the port.
doorman_config() {
    local dir="$1" port="$2" store="$3"
    mkdir -p "$dir"
    cat >"$dir/users.yaml" <<EOF
users:
  $BENCH_USER:
    password: "$HASH"
    display_name: "Bench User"
    email: "bench@example.com"
    groups: ["bench"]
    phone: "+14155550100"
EOF
    # The idle timeout is long so no run hits it; the resend cooldown is short
    # and the send caps high because the bench signs the same user in again
    # before every doorman run. Failed sign-ins never delay or lock: the
    # login storm is meant to cost one argon2 check per attempt, and the
    # bench user must still be able to sign in after it.
    cat >"$dir/doorman.yaml" <<EOF
listen: "127.0.0.1:$port"
upstream: "http://127.0.0.1:$UP_PORT"
auth_prefix: "$PREFIX"
users_file: "users.yaml"
session:
  secret: "$SESSION_SECRET"
  lifetime: "12h"
  idle_timeout: "12h"
codes:
  resend_cooldown: "1s"
channels:
  sms: { provider: webhook }
providers:
  webhook: { url: "http://127.0.0.1:$HOOK_PORT/send" }
limits:
  sends_per_number: { max: 100000, window: "10m" }
  sends_per_account: { max: 100000, window: "24h" }
  failures: { delay: "0s", lock_after: 100000, per_hour: 100000 }
  client_failures: { delay: "0s", lock_after: 100000, per_hour: 100000 }
store: $store
log:
  level: warn
EOF
}

# start_doorman DIR: starts doorman on DIR/doorman.yaml; sets STARTED_PID.
STARTED_PID=""
start_doorman() {
    # RUST_LOG would override log.level; keep logging out of the measurement.
    # Audit events (every sign-in and failed login) go to stdout: to a file.
    env -u RUST_LOG "$DOORMAN" serve --config "$1/doorman.yaml" >"$1/audit.log" 2>"$1/doorman.log" &
    STARTED_PID=$! # env execs doorman: same process
    PIDS+=("$STARTED_PID")
}

DM_PORT="$(free_port)"
DM="$TMP/doorman"
doorman_config "$DM" "$DM_PORT" "{ kind: memory }"
start_doorman "$DM"
DM_PID="$STARTED_PID"

DMR_PORT="$(free_port)"
DMR="$TMP/doorman-redis"
doorman_config "$DMR" "$DMR_PORT" "{ kind: redis, url: \"redis://127.0.0.1:$REDIS_PORT/0\", key_prefix: \"doorman-bench:\" }"
start_doorman "$DMR"
DMR_PID="$STARTED_PID"

# ---------------------------------------------------------------- nginx + auth_request

# Forward-auth as users deploy it: the shipped examples/nginx/app.conf, with
# only its addresses changed and its keep-alive pools sized as the plain
# nginx proxy's. nginx asks a third doorman (`GET $PREFIX/auth`, memory
# store, configured as the first but for `trusted_proxies`, without which
# doorman would not believe nginx's X-Original-URL) before each request,
# then proxies to the upstream itself; doorman never sees the body.
DMA_PID="" NA_PIDS=() NA_PORT="" NZ_PIDS=() NZ_PORT=""
if [[ "$AUTH_REQUEST" == 1 ]]; then
    DMA_PORT="$(free_port)"
    DMA="$TMP/doorman-auth"
    doorman_config "$DMA" "$DMA_PORT" "{ kind: memory }"
    echo 'trusted_proxies: ["127.0.0.1/32"]' >>"$DMA/doorman.yaml"
    start_doorman "$DMA"
    DMA_PID="$STARTED_PID"

    NA_PORT="$(free_port)"
    NA="$TMP/nginx-auth"
    mkdir -p "$NA/tmp"
    example="$ROOT/examples/nginx/app.conf"
    for line in "server 127.0.0.1:3000;" "server 127.0.0.1:8080;" "listen 80;"; do
        [[ "$(grep -cF "$line" "$example")" == 1 ]] || die "$example no longer has exactly one '$line'"
    done
    [[ "$(grep -cF "keepalive 32;" "$example")" == 2 ]] || die "$example no longer has two 'keepalive 32;'"
    {
        nginx_head "$NA"
        sed -e "s|server 127.0.0.1:3000;|server 127.0.0.1:$UP_PORT;|" \
            -e "s|server 127.0.0.1:8080;|server 127.0.0.1:$DMA_PORT;|" \
            -e "s|listen 80;|listen 127.0.0.1:$NA_PORT;|" \
            -e "s|keepalive 32;|keepalive 64; keepalive_requests 1000000;|" "$example"
        echo "}"
    } >"$NA/nginx.conf"
    start_nginx "$NA/nginx.conf" "$NA"
    NA_MASTER="${PIDS[-1]}"

    # The same config asking an auth server that costs next to nothing (the
    # same nginx, `return 200` on a port of its own) instead of doorman:
    # the price of the subrequest itself on this machine, and so the
    # ceiling of any forward-auth server behind this nginx config.
    NZ_PORT="$(free_port)" NZ_AUTH_PORT="$(free_port)"
    NZ="$TMP/nginx-auth-200"
    mkdir -p "$NZ/tmp"
    {
        nginx_head "$NZ"
        sed -e "s|server 127.0.0.1:3000;|server 127.0.0.1:$UP_PORT;|" \
            -e "s|server 127.0.0.1:8080;|server 127.0.0.1:$NZ_AUTH_PORT;|" \
            -e "s|listen 80;|listen 127.0.0.1:$NZ_PORT;|" \
            -e "s|keepalive 32;|keepalive 64; keepalive_requests 1000000;|" "$example"
        echo "    server { listen 127.0.0.1:$NZ_AUTH_PORT; location / { return 200; } }"
        echo "}"
    } >"$NZ/nginx.conf"
    start_nginx "$NZ/nginx.conf" "$NZ"
    NZ_MASTER="${PIDS[-1]}"
fi

DIRECT="http://127.0.0.1:$UP_PORT"
NGINX_URL="http://127.0.0.1:$NX_PORT"
CADDY_URL="http://127.0.0.1:$CD_PORT"
FLOOR_URL="http://127.0.0.1:$FL_PORT"
NGINX_AUTH_URL="http://127.0.0.1:$NA_PORT"
NGINX_AUTH_200_URL="http://127.0.0.1:$NZ_PORT"
DOORMAN_URL="http://127.0.0.1:$DM_PORT"
DOORMAN_REDIS_URL="http://127.0.0.1:$DMR_PORT"
wait_http "$DIRECT$FILE" "$UP/error.log"
wait_http "$NGINX_URL$FILE" "$NX/error.log"
wait_http "$CADDY_URL$FILE" "$CD/caddy.log"
[[ "$FLOOR" == 1 ]] && wait_http "$FLOOR_URL$FILE" "$TMP/floor.log"
wait_http "http://127.0.0.1:$HOOK_PORT/" "$TMP/hook.log"
wait_http "$DOORMAN_URL$PREFIX/health" "$DM/doorman.log"
wait_http "$DOORMAN_REDIS_URL$PREFIX/health" "$DMR/doorman.log"
if [[ "$AUTH_REQUEST" == 1 ]]; then
    wait_http "http://127.0.0.1:$DMA_PORT$PREFIX/health" "$DMA/doorman.log"
    wait_http "$NGINX_AUTH_URL$PREFIX/health" "$NA/error.log"
    wait_http "$NGINX_AUTH_200_URL$FILE" "$NZ/error.log"
fi
# The Redis doorman must really be on Redis, and connected.
health="$(curl -sS "$DOORMAN_REDIS_URL$PREFIX/health")"
[[ "$health" == *'"ok"'* ]] || die "doorman-redis health says $health (see $DMR/doorman.log, $RD/redis.log)"

# Whose CPU time each target's runs are charged with: nginx masters and
# their workers; doorman is one process (all its threads).
UP_PIDS=("$UP_MASTER")
mapfile -t -O 1 UP_PIDS < <(pgrep -P "$UP_MASTER")
NX_PIDS=("$NX_MASTER")
mapfile -t -O 1 NX_PIDS < <(pgrep -P "$NX_MASTER")
((${#UP_PIDS[@]} > 1 && ${#NX_PIDS[@]} > 1)) || die "cannot find the nginx worker processes"
if [[ "$AUTH_REQUEST" == 1 ]]; then
    NA_PIDS=("$NA_MASTER")
    mapfile -t -O 1 NA_PIDS < <(pgrep -P "$NA_MASTER")
    ((${#NA_PIDS[@]} > 1)) || die "cannot find the nginx+auth_request worker processes"
    NZ_PIDS=("$NZ_MASTER")
    mapfile -t -O 1 NZ_PIDS < <(pgrep -P "$NZ_MASTER")
    ((${#NZ_PIDS[@]} > 1)) || die "cannot find the nginx+auth_request(200) worker processes"
fi

# ---------------------------------------------------------------- sign-in

# POSTs form fields to a doorman page (under base URL $2) with the cookie
# jar; prints the status.
post() {
    local jar="$1" base="$2" page="$3"
    shift 3
    local fields=()
    for field in "$@"; do fields+=(--data-urlencode "$field"); done
    curl -sS -o /dev/null -w '%{http_code}' -b "$jar" -c "$jar" "${fields[@]}" "$base$PREFIX/$page"
}

# signin [URL]: walks the real sign-in (password, SMS code via the webhook,
# code) on the doorman at URL (the memory-store one by default) and sets
# COOKIE to a "doorman_session=..." pair of a fully signed-in session.
# Not run in a subshell, so any `die` in here stops the whole script.
COOKIE=""
signin() {
    local base="${1:-$DOORMAN_URL}" jar csrf status code _
    jar="$(mktemp "$TMP/jar.XXXXXX")"
    csrf="$(curl -sS -b "$jar" -c "$jar" "$base$PREFIX/login" |
        sed -n 's/.*name="csrf" value="\([^"]*\)".*/\1/p' | head -n 1)"
    [[ -n "$csrf" ]] || die "sign-in: no CSRF token on $PREFIX/login"
    status="$(post "$jar" "$base" login "csrf=$csrf" "username=$BENCH_USER" "password=$BENCH_PASSWORD")"
    [[ "$status" == 303 ]] || die "sign-in: POST login answered $status, expected 303"
    # The CSRF token is bound to the session, which the password step replaced.
    csrf="$(curl -sS -b "$jar" -c "$jar" "$base$PREFIX/2fa" |
        sed -n 's/.*name="csrf" value="\([^"]*\)".*/\1/p' | head -n 1)"
    [[ -n "$csrf" ]] || die "sign-in: no CSRF token on $PREFIX/2fa"
    rm -f "$CODE_FILE"
    # The resend cooldown is 1 s; an earlier sign-in may have just sent one.
    for _ in 1 2 3; do
        status="$(post "$jar" "$base" 2fa/send "csrf=$csrf" "channel=sms")"
        [[ "$status" == 429 ]] || break
        sleep 1
    done
    [[ "$status" == 303 ]] || die "sign-in: POST 2fa/send answered $status, expected 303 (see $TMP/hook.log)"
    for _ in $(seq 1 50); do
        [[ -s "$CODE_FILE" ]] && break
        sleep 0.1
    done
    [[ -s "$CODE_FILE" ]] || die "sign-in on $base: the webhook never received a code"
    code="$(cat "$CODE_FILE")"
    status="$(post "$jar" "$base" 2fa/verify "csrf=$csrf" "code=$code")"
    [[ "$status" == 303 ]] || die "sign-in: POST 2fa/verify answered $status, expected 303"
    # Netscape jar: domain flag path secure expiry name value (tab-separated).
    COOKIE="doorman_session=$(awk -F '\t' '$6 == "doorman_session" { value = $7 } END { print value }' "$jar")"
    rm -f "$jar"
    [[ "$COOKIE" != "doorman_session=" ]] || die "sign-in: no doorman_session cookie in the jar"
}

# Checks that URL with COOKIE answers 200 with exactly the upstream's file.
check_target() {
    local name="$1" url="$2" cookie="$3" status
    status="$(curl -sS -o "$TMP/check.body" -w '%{http_code}' -H "Cookie: $cookie" "$url$FILE")" ||
        die "$name: request to $url$FILE failed"
    [[ "$status" == 200 ]] || die "$name: $url$FILE answered $status, expected 200"
    cmp -s "$TMP/check.body" "$UP/www$FILE" ||
        die "$name: $url$FILE did not return the upstream's 1 KiB file"
}

signin
STALE_COOKIE="$COOKIE"
STALE_SINCE="$SECONDS"
signin "$DOORMAN_REDIS_URL"
REDIS_COOKIE="$COOKIE"
# The sign-in on the Redis doorman must have gone through Redis.
[[ "$(redis --scan --pattern 'doorman-bench:*' | wc -l)" -gt 0 ]] ||
    die "doorman-redis signed in without writing any doorman-bench:* key to Redis: is it on the Redis store?"
check_target direct "$DIRECT" "$STALE_COOKIE"
check_target nginx "$NGINX_URL" "$STALE_COOKIE"
check_target caddy "$CADDY_URL" "$STALE_COOKIE"
[[ "$FLOOR" == 1 ]] && check_target floor "$FLOOR_URL" "$STALE_COOKIE"
check_target doorman "$DOORMAN_URL" "$STALE_COOKIE"
check_target doorman-redis "$DOORMAN_REDIS_URL" "$REDIS_COOKIE"
# ...and that both doormans really gate: no cookie, no file.
for url in "$DOORMAN_URL" "$DOORMAN_REDIS_URL"; do
    status="$(curl -sS -o /dev/null -w '%{http_code}' "$url$FILE")"
    [[ "$status" == 401 ]] || die "doorman at $url answered $status without a cookie, expected 401: is it gating?"
done
# nginx+auth_request: signed in through nginx (doorman's pages behind it),
# the file with that session, and without one the redirect to sign in
# that the example turns doorman's 401 into.
AUTH_COOKIE=""
if [[ "$AUTH_REQUEST" == 1 ]]; then
    signin "$NGINX_AUTH_URL"
    AUTH_COOKIE="$COOKIE"
    check_target nginx+auth_request "$NGINX_AUTH_URL" "$AUTH_COOKIE"
    status="$(curl -sS -o /dev/null -w '%{http_code}' "$NGINX_AUTH_URL$FILE")"
    [[ "$status" == 302 ]] ||
        die "nginx+auth_request answered $status without a cookie, expected 302 to the sign-in: is doorman gating it?"
    check_target "nginx+auth_request(200)" "$NGINX_AUTH_200_URL" "$AUTH_COOKIE"
    # (Every bench doorman shares SESSION_SECRET, so the other doormans'
    # cookies are valid here too: no check can tell them apart by cookie.)
fi
say "setup OK: every target returns the 1 KiB file; the doormans (and nginx+auth_request) only with a session"

# ---------------------------------------------------------------- measuring

# section target round rps p50_ms p99_ms non2xx socket_errors other_cpu_pct proxy_us upstream_us
#   redis_commands redis_us
RESULTS="$TMP/results.tsv"
STORMS="$TMP/storms.jsonl"
: >"$RESULTS"
: >"$STORMS"
mkdir -p "$TMP/wrk"
TIMEFORMAT="%3U %3S" # what `time` prints for wrk: user and system CPU seconds

# Paced load: each connection waits PACED_DELAY_MS between requests, so the
# offered rate stays below capacity and latency is not just queueing.
cat >"$TMP/paced.lua" <<EOF
function delay()
    return $PACED_DELAY_MS
end
EOF

# Every process this script started that serves (its CPU is not "other"),
# and the login storm's pid while one runs.
OURS=("${UP_PIDS[@]}" "${NX_PIDS[@]}" "$CD_PID" ${FL_PID:+"$FL_PID"} "$DM_PID" "$DMR_PID" "$REDIS_PID"
    ${NA_PIDS[@]+"${NA_PIDS[@]}"} ${DMA_PID:+"$DMA_PID"} ${NZ_PIDS[@]+"${NZ_PIDS[@]}"})
STORM_PID=""
REPEATED=0 # runs repeated because the machine was busy

# run_wrk SECTION TARGET ROUND URL COOKIE [LUA]: one wrk run, one results row;
# repeated (up to RETRIES times) when other processes were busy meanwhile.
run_wrk() {
    local attempt
    for ((attempt = 0; ; attempt++)); do
        measure "$@"
        ((attempt < RETRIES)) || break
        awk -v other="$OTHER" -v max="$MAX_OTHER_CPU" 'BEGIN { exit !(other > max) }' || break
        say "other processes used ${OTHER}% of the CPU during that run; repeating it in ${RETRY_WAIT}s"
        REPEATED=$((REPEATED + 1))
        sleep "$RETRY_WAIT"
    done
    printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$ROW" >>"$RESULTS"
}

# measure SECTION TARGET ROUND URL COOKIE [LUA]: one wrk run; sets ROW (the
# results fields after the round) and OTHER (other processes' CPU %).
ROW="" OTHER=0
measure() {
    local section="$1" target="$2" round="$3" url="$4" cookie="$5" lua="${6:-}"
    local raw="$TMP/wrk/$section-$target-$round.txt" row proxy=() aside=("$REDIS_PID") proxy0 up0 proxy1 up1
    local all0 all1 ours0 ours1 wall0 wall1 wrk_cpu cmds0 cmds1 rd0 rd1
    local args=(-t"$THREADS" -c"$CONNECTIONS" -d"${DURATION}s" --latency -H "Cookie: $cookie")
    [[ -n "$lua" ]] && args+=(-s "$lua")
    case "$url" in
        "$NGINX_URL") proxy=("${NX_PIDS[@]}") ;;
        "$CADDY_URL") proxy=("$CD_PID") ;;
        "$FLOOR_URL") proxy=("$FL_PID") ;;
        # nginx and the doorman it asks: the cost of the whole front.
        # Set aside: the share of it that is doorman's.
        "$NGINX_AUTH_URL") proxy=("${NA_PIDS[@]}" "$DMA_PID") aside=("$DMA_PID") ;;
        "$NGINX_AUTH_200_URL") proxy=("${NZ_PIDS[@]}") ;;
        "$DOORMAN_URL") proxy=("$DM_PID") ;;
        "$DOORMAN_REDIS_URL") proxy=("$DMR_PID") ;;
    esac
    # Commands Redis processed during the run (read outside the CPU window;
    # each reading is one command itself), and its CPU time (the aside's:
    # Redis's, or for nginx+auth_request its doorman's): the Redis
    # doorman's hot path should cause neither.
    cmds0="$(redis_commands)" || die "redis-server stopped answering (see $RD/redis.log)"
    # CPU accounting around the run: the proxy's, the upstream's, ours in
    # total (both nginx, both doormans, Redis), wrk's (via `time`) and the
    # whole machine's. Whatever is left is someone else's: other engineers
    # compiling, say.
    wall0="$EPOCHREALTIME" all0="$(machine_ticks)"
    ours0="$(cpu_ticks "${OURS[@]}" ${STORM_PID:+"$STORM_PID"})"
    proxy0="$(cpu_ticks "${proxy[@]}")" up0="$(cpu_ticks "${UP_PIDS[@]}")" rd0="$(cpu_ticks "${aside[@]}")"
    { time wrk "${args[@]}" "$url$FILE" >"$raw" 2>&1; } 2>"$raw.time" ||
        { cat "$raw" >&2; die "wrk failed against $url"; }
    proxy1="$(cpu_ticks "${proxy[@]}")" up1="$(cpu_ticks "${UP_PIDS[@]}")" rd1="$(cpu_ticks "${aside[@]}")"
    ours1="$(cpu_ticks "${OURS[@]}" ${STORM_PID:+"$STORM_PID"})"
    wall1="$EPOCHREALTIME" all1="$(machine_ticks)"
    cmds1="$(redis_commands)" || die "redis-server stopped answering (see $RD/redis.log)"
    wrk_cpu="$(cat "$raw.time")" # "user system" in seconds, see TIMEFORMAT
    row="$(awk -v proxy=$((proxy1 - proxy0)) -v up=$((up1 - up0)) -v hz="$CLK_TCK" \
        -v cmds=$((cmds1 - cmds0 - 1)) -v rd=$((rd1 - rd0)) \
        -v all=$((all1 - all0)) -v ours=$((ours1 - ours0)) -v wrk_cpu="$wrk_cpu" \
        -v wall="$wall0 $wall1" -v cores="$(nproc)" "$WRK_MS_AWK"'
        /^ *50% / { p50 = ms($2) }
        /^ *99% / { p99 = ms($2) }
        /^Requests\/sec:/ { rps = $2 }
        / requests in / { n = $1 }
        /Non-2xx or 3xx responses:/ { bad = $NF }
        /Socket errors:/ { gsub(/,/, ""); errs = $4 + $6 + $8 + $10 }
        END {
            # Share of the machine used by processes other than ours and wrk.
            split(wall, w, " "); split(wrk_cpu, c, " ")
            capacity = (w[2] - w[1]) * cores * hz
            other = capacity > 0 ? (all - ours - (c[1] + c[2]) * hz) * 100 / capacity : 0
            if (other < 0) other = 0
            # CPU microseconds per request, for the proxy and for the upstream.
            printf "%.1f\t%.3f\t%.3f\t%d\t%d\t%.0f\t%.1f\t%.1f\t%d\t%.2f", rps, p50, p99, bad, errs, other,
                n ? proxy * 1e6 / hz / n : 0, n ? up * 1e6 / hz / n : 0,
                cmds < 0 ? 0 : cmds, n ? rd * 1e6 / hz / n : 0
        }
    ' "$raw")"
    ROW="$row"
    OTHER="$(cut -f 6 <<<"$row")"
    # shellcheck disable=SC2086 # split the row into its fields on purpose
    set -- $row
    printf 'bench: %-15s %-13s round %-2s %8s req/s  p50 %6s ms  p99 %6s ms  proxy CPU %5s us/req  other CPU %3s%%%s%s\n' \
        "$section" "$target" "$round" "$1" "$2" "$3" "$7" "$6" \
        "$([[ "$url" == "$DOORMAN_REDIS_URL" ]] && echo "  Redis: $9 commands")$([[ "$url" == "$NGINX_AUTH_URL" ]] && echo "  of which doorman ${10} us/req")" \
        "$([[ "$4" != 0 || "$5" != 0 ]] && echo "  ($4 non-2xx, $5 socket errors)")" >&2
}

# A fresh sign-in (COOKIE) before each doorman run keeps the cookie under a
# minute old, so the hot path measured is decrypt + forward, no re-issue.

# run_doormans SECTION ROUND [LUA]: one run on each doorman, each after a
# fresh sign-in on it; which goes first alternates with the round, so
# neither always runs right after nginx.
run_doormans() {
    local section="$1" round="$2" lua="${3:-}" order=(doorman doorman-redis) target
    ((round % 2 == 0)) && order=(doorman-redis doorman)
    for target in "${order[@]}"; do
        if [[ "$target" == doorman ]]; then
            signin "$DOORMAN_URL"
            run_wrk "$section" doorman "$round" "$DOORMAN_URL" "$COOKIE" "$lua"
        else
            signin "$DOORMAN_REDIS_URL"
            run_wrk "$section" doorman-redis "$round" "$DOORMAN_REDIS_URL" "$COOKIE" "$lua"
        fi
    done
}

# run_auth_request SECTION ROUND [LUA]: one nginx+auth_request run after a
# fresh sign-in through it, so its doorman does not re-issue the cookie.
run_auth_request() {
    [[ "$AUTH_REQUEST" == 1 ]] || return 0
    signin "$NGINX_AUTH_URL"
    run_wrk "$1" nginx+auth_request "$2" "$NGINX_AUTH_URL" "$COOKIE" "${3:-}"
    run_wrk "$1" "nginx+auth_request(200)" "$2" "$NGINX_AUTH_200_URL" "$COOKIE" "${3:-}"
}

started_at="$SECONDS"
say "warm-up: ${WARMUP}s per target"
if ((WARMUP > 0)); then
    warm=("$DIRECT" "$NGINX_URL" "$CADDY_URL" "$DOORMAN_URL" "$DOORMAN_REDIS_URL")
    [[ "$FLOOR" == 1 ]] && warm+=("$FLOOR_URL")
    [[ "$AUTH_REQUEST" == 1 ]] && warm+=("$NGINX_AUTH_URL" "$NGINX_AUTH_200_URL")
    for url in "${warm[@]}"; do
        cookie="$STALE_COOKIE"
        [[ "$url" == "$DOORMAN_REDIS_URL" ]] && cookie="$REDIS_COOKIE"
        [[ "$url" == "$NGINX_AUTH_URL" ]] && cookie="$AUTH_COOKIE"
        wrk -t"$THREADS" -c"$CONNECTIONS" -d"${WARMUP}s" -H "Cookie: $cookie" "$url$FILE" >/dev/null 2>&1 ||
            die "wrk warm-up against $url failed"
    done
fi

# 1. Throughput and latency, targets alternated within each round.
for round in $(seq 1 "$ROUNDS"); do
    run_wrk main direct "$round" "$DIRECT" "$STALE_COOKIE"
    run_wrk main nginx "$round" "$NGINX_URL" "$STALE_COOKIE"
    run_auth_request main "$round"
    run_wrk main caddy "$round" "$CADDY_URL" "$STALE_COOKIE"
    [[ "$FLOOR" == 1 ]] && run_wrk main floor "$round" "$FLOOR_URL" "$STALE_COOKIE"
    run_doormans main "$round"
done

# 1b. Latency at a fixed, moderate rate: closed-loop wrk at full speed
#     measures mostly queueing and scheduling; paced, the proxies' own
#     latency shows.
for round in $(seq 1 "$PACED_ROUNDS"); do
    run_wrk paced direct "$round" "$DIRECT" "$STALE_COOKIE" "$TMP/paced.lua"
    run_wrk paced nginx "$round" "$NGINX_URL" "$STALE_COOKIE" "$TMP/paced.lua"
    run_auth_request paced "$round" "$TMP/paced.lua"
    [[ "$FLOOR" == 1 ]] && run_wrk paced floor "$round" "$FLOOR_URL" "$STALE_COOKIE" "$TMP/paced.lua"
    run_doormans paced "$round" "$TMP/paced.lua"
done

# 2. Login storm: the same wrk run on doorman with and without
#    STORM_CONCURRENCY wrong-password logins hammering argon2 alongside,
#    once at full load (closed loop) and once paced below capacity. The
#    control: the same wrk run on nginx `proxy_pass`, which serves none of
#    the logins, without and with the storm on doorman: what the storm costs
#    every process on the machine, not doorman's request path alone.
for round in $(seq 1 "$STORM_ROUNDS"); do
    for shape in saturated paced; do
        lua=""
        [[ "$shape" == paced ]] && lua="$TMP/paced.lua"
        signin
        run_wrk "storm-$shape" baseline "$round" "$DOORMAN_URL" "$COOKIE" "$lua"
        run_wrk "storm-$shape" nginx-baseline "$round" "$NGINX_URL" "$COOKIE" "$lua"
        signin
        # The storm starts a second early and runs until both wrk runs are
        # done (with any repeats); its time limit is only a backstop.
        python3 "$BENCH/storm.py" "$DOORMAN_URL" "$PREFIX" "$BENCH_USER" "wrong-$BENCH_PASSWORD" \
            "$STORM_CONCURRENCY" "$((2 * (DURATION + RETRY_WAIT + 5) * (RETRIES + 1)))" \
            >"$TMP/storm.json" 2>"$TMP/storm.log" &
        STORM_PID=$!
        PIDS+=("$STORM_PID")
        sleep 1
        run_wrk "storm-$shape" storm "$round" "$DOORMAN_URL" "$COOKIE" "$lua"
        run_wrk "storm-$shape" nginx-storm "$round" "$NGINX_URL" "$COOKIE" "$lua"
        kill -TERM "$STORM_PID"
        wait "$STORM_PID" || { cat "$TMP/storm.log" >&2; die "the login storm failed"; }
        forget_pid "$STORM_PID"
        STORM_PID=""
        printf '{"section": "storm-%s", "round": %s, "stats": %s}\n' "$shape" "$round" "$(cat "$TMP/storm.json")" >>"$STORMS"
        say "storm-$shape round $round logins: $(cat "$TMP/storm.json")"
    done
done

# 3. A cookie older than a minute makes doorman re-issue it (encrypt and
#    Set-Cookie) on every response to a client that does not store it.
if ((STALE_ROUNDS > 0)); then
    wait_for=$((62 - (SECONDS - STALE_SINCE)))
    if ((wait_for > 0)); then
        say "waiting ${wait_for}s for the first cookie to pass one minute"
        sleep "$wait_for"
    fi
    curl -sS -o /dev/null -D "$TMP/stale.headers" -H "Cookie: $STALE_COOKIE" "$DOORMAN_URL$FILE"
    grep -qi '^set-cookie: doorman_session=' "$TMP/stale.headers" ||
        say "warning: a cookie over a minute old was not re-issued; the 'stale' rows measure nothing extra"
    for round in $(seq 1 "$STALE_ROUNDS"); do
        signin
        run_wrk cookie fresh "$round" "$DOORMAN_URL" "$COOKIE"
        run_wrk cookie stale "$round" "$DOORMAN_URL" "$STALE_COOKIE"
    done
fi
elapsed=$((SECONDS - started_at))

# ---------------------------------------------------------------- report

# The exact command, with the settings that were passed in the environment.
command_line="${GIVEN}bench/run.sh"

{
    printf 'date\t%s\n' "$(date -u '+%Y-%m-%d %H:%M UTC')"
    printf 'command\t%s\n' "$command_line"
    printf 'nproc\t%s\n' "$(nproc)"
    printf 'cpu\t%s\n' "$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)"
    printf 'kernel\t%s\n' "$(uname -sr)"
    printf 'memory\t%s\n' "$(awk '/^MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)"
    printf 'nginx\t%s\n' "$("$NGINX" -v 2>&1 | sed 's/^nginx version: //')"
    printf 'redis\t%s\n' "$("$REDIS_SERVER" --version | awk '{ print $1, $2, $3 }')"
    printf 'caddy\t%s\n' "$("$CADDY" version | awk '{ print $1 }')"
    printf 'wrk\t%s\n' "$( (wrk -v 2>&1 || true) | head -n 1 | awk '{ print $1, $2 }')"
    printf 'python\t%s\n' "$(python3 --version 2>&1)"
    printf 'rustc\t%s\n' "$(rustc --version 2>/dev/null || echo unknown)"
    printf 'doorman\t%s%s\n' "$DOORMAN_COMMIT" \
        "$([[ "$DOORMAN_DIRTY" != 0 ]] && echo " + $DOORMAN_DIRTY uncommitted file(s) in src/, templates/ or Cargo.*")"
    printf 'duration\t%s\n' "$DURATION"
    printf 'rounds\t%s\n' "$ROUNDS"
    printf 'paced_rounds\t%s\n' "$PACED_ROUNDS"
    printf 'storm_rounds\t%s\n' "$STORM_ROUNDS"
    printf 'stale_rounds\t%s\n' "$STALE_ROUNDS"
    printf 'threads\t%s\n' "$THREADS"
    printf 'connections\t%s\n' "$CONNECTIONS"
    printf 'storm_concurrency\t%s\n' "$STORM_CONCURRENCY"
    printf 'paced_delay_ms\t%s\n' "$PACED_DELAY_MS"
    printf 'password_checks\t%s\n' "$(($(nproc) / 2 > 1 ? $(nproc) / 2 : 1))"
    printf 'elapsed\t%s\n' "$elapsed"
    printf 'repeated\t%s\n' "$REPEATED"
    printf 'max_other_cpu\t%s\n' "$MAX_OTHER_CPU"
    printf 'retries\t%s\n' "$RETRIES"
    printf 'loadavg\t%s\n' "$(cut -d ' ' -f 1-3 /proc/loadavg)"
    printf 'auth_request\t%s\n' "$AUTH_REQUEST"
} >"$TMP/meta.tsv"

mkdir -p "$(dirname "$OUT")"
python3 "$BENCH/report.py" "$TMP/meta.tsv" "$RESULTS" "$STORMS" >"$TMP/report.md" ||
    die "could not write the report"
# The counted section (bench/count.sh: instructions and allocations per
# request, between the two markers) is kept from the previous report.
if [[ -f "$OUT" ]] && grep -q '^<!-- counts -->$' "$OUT"; then
    { echo; sed -n '/^<!-- counts -->$/,/^<!-- \/counts -->$/p' "$OUT"; } >>"$TMP/report.md"
fi
mv "$TMP/report.md" "$OUT"
say "wrote $OUT (measuring took ${elapsed}s)"
