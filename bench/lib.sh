# bench/lib.sh: what the bench scripts share. Sourced (not run) after
# setting BENCH_NAME, the word each message starts with. Gives die and say,
# a temp dir TMP with the pid list PIDS that `cleanup` stops on exit
# (newest first; TMP removed unless KEEP_TMP=1), free_port, wait_http,
# nginx_head (the top of every nginx config), start_nginx, WRK_MS_AWK (wrk's
# latencies in ms) and start_upstream, the nginx
# serving the 1 KiB file $FILE that every target proxies to.

die() {
    echo "$BENCH_NAME: $*" >&2
    exit 1
}
say() { echo "$BENCH_NAME: $*" >&2; }

TMP="$(mktemp -d "${TMPDIR:-/tmp}/doorman-$BENCH_NAME.XXXXXX")"
PIDS=()

cleanup() {
    local i pid waited
    # Stop everything we started, newest first, by pid only.
    for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do
        pid="${PIDS[i]}"
        kill -TERM "$pid" 2>/dev/null || continue
        for waited in 1 2 3 4 5 6 7 8 9 10; do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.2
            [[ "$waited" == 10 ]] && kill -KILL "$pid" 2>/dev/null
        done
        wait "$pid" 2>/dev/null || true
    done
    if [[ "${KEEP_TMP:-0}" == 1 ]]; then
        say "kept $TMP"
    else
        rm -rf "$TMP"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Drops a pid we have already waited for, so cleanup never signals a reused one.
forget_pid() {
    local kept=() pid
    for pid in "${PIDS[@]}"; do
        [[ "$pid" == "$1" ]] || kept+=("$pid")
    done
    PIDS=("${kept[@]}")
}

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# wait_http URL LOG [SECONDS]: waits until URL answers at all (any HTTP
# status), for up to SECONDS (10), or dies showing the end of LOG.
wait_http() {
    local url="$1" log="$2" tries=$((${3:-10} * 10)) _
    for _ in $(seq 1 "$tries"); do
        curl -s -o /dev/null --max-time 1 "$url" && return 0
        sleep 0.1
    done
    tail -n 20 "$log" >&2 || true
    die "nothing answers at $url (log above: $log)"
}

# nginx_head DIR [WORKERS]: the top of an nginx config whose files all
# live under DIR, up to the open `http {` block (WORKERS: `auto` unless
# given). Workers run as root when we are root: the temp dir is 0700, the
# default `nobody` could not read the file.
nginx_head() {
    local dir="$1" workers="${2:-auto}"
    [[ "$EUID" == 0 ]] && echo "user root;"
    cat <<EOF
worker_processes $workers;
daemon off;
pid $dir/nginx.pid;
error_log $dir/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    default_type text/plain;
    client_body_temp_path $dir/tmp/body;
    proxy_temp_path $dir/tmp/proxy;
    fastcgi_temp_path $dir/tmp/fastcgi;
    uwsgi_temp_path $dir/tmp/uwsgi;
    scgi_temp_path $dir/tmp/scgi;
    # nginx closes a keep-alive connection after 1000 requests by default;
    # hyper does not. Lift the limit so no target pays for reconnects.
    keepalive_requests 1000000;
EOF
}

# nginx_proxy_conf DIR PORT UP_PORT [WORKERS]: the nginx `proxy_pass` every
# bench compares with, on 127.0.0.1:PORT to the upstream on UP_PORT, with
# kept-alive upstream connections.
nginx_proxy_conf() {
    local dir="$1" port="$2" upstream="$3" workers="${4:-auto}"
    nginx_head "$dir" "$workers"
    cat <<EOF
    upstream app {
        server 127.0.0.1:$upstream;
        keepalive 64;
        keepalive_requests 1000000;
    }
    server {
        listen 127.0.0.1:$port;
        location / {
            proxy_pass http://app;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }
    }
}
EOF
}

# start_nginx CONF DIR: checks the nginx config CONF (its files under DIR),
# dies showing why if nginx rejects it, then starts nginx on it in the
# background, in PIDS. NGINX: the nginx binary (default: the one on PATH).
start_nginx() {
    local conf="$1" dir="$2"
    "${NGINX:-nginx}" -t -q -c "$conf" -p "$dir" -e "$dir/error.log" 2>"$dir/check.log" ||
        { cat "$dir/check.log" >&2; die "nginx rejects $conf"; }
    "${NGINX:-nginx}" -c "$conf" -p "$dir" -e "$dir/error.log" 2>"$dir/stderr.log" &
    PIDS+=($!)
}

# WRK_MS_AWK: an awk function, ms(v), that reads one of wrk's latencies
# (850.00us, 1.20ms, 2.00s, 1.00m) as milliseconds; put it before the awk
# program that reads wrk's --latency output.
WRK_MS_AWK='
    function ms(v) {
        if (v ~ /us$/) { sub(/us$/, "", v); return v / 1000 }
        if (v ~ /ms$/) { sub(/ms$/, "", v); return v + 0 }
        if (v ~ /m$/)  { sub(/m$/, "", v);  return v * 60000 }
        if (v ~ /s$/)  { sub(/s$/, "", v);  return v * 1000 }
        return v + 0
    }'

# start_upstream DIR PORT: one nginx worker serving the 1 KiB file $FILE
# from DIR on 127.0.0.1:PORT, started, in PIDS, and answering.
start_upstream() {
    local dir="$1" port="$2"
    mkdir -p "$dir/tmp" "$dir/www"
    head -c 1024 /dev/zero | tr '\0' 'x' >"$dir/www$FILE"
    {
        nginx_head "$dir" 1
        echo "    server { listen 127.0.0.1:$port; root $dir/www; location / { } }"
        echo "}"
    } >"$dir/nginx.conf"
    start_nginx "$dir/nginx.conf" "$dir"
    wait_http "http://127.0.0.1:$port$FILE" "$dir/error.log"
}
