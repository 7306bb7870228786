#!/usr/bin/env python3
"""Login storm for bench/run.sh: CONCURRENCY threads POST {prefix}/login
with a wrong password back to back, for at most DURATION seconds or until
SIGTERM. Every attempt costs doorman one argon2id verification (a wrong
password runs the same hash as a right one). Prints a JSON summary on
stdout when it stops. Stdlib only.

usage: storm.py BASE_URL PREFIX USER PASSWORD CONCURRENCY DURATION
"""

import http.client
import json
import re
import signal
import sys
import threading
import time
import urllib.parse

CSRF_FIELD = re.compile(r'name="csrf" value="([^"]+)"')


def main() -> None:
    base, prefix, user, password = sys.argv[1:5]
    concurrency, duration = int(sys.argv[5]), float(sys.argv[6])
    url = urllib.parse.urlsplit(base)
    host, port = url.hostname, url.port or 80

    def connect() -> http.client.HTTPConnection:
        return http.client.HTTPConnection(host, port, timeout=60)

    # One CSRF nonce (cookie) and its token serve every attempt: tokens are
    # stateless HMACs of the nonce, so reusing them is what a browser does too.
    conn = connect()
    conn.request("GET", prefix + "/login", headers={"Accept": "text/html"})
    page = conn.getresponse()
    html = page.read().decode("utf-8", "replace")
    cookies = [c.split(";", 1)[0] for c in page.msg.get_all("Set-Cookie") or []]
    match = CSRF_FIELD.search(html)
    if page.status != 200 or not match or not cookies:
        sys.exit(f"storm: cannot get a CSRF token from {prefix}/login (status {page.status})")
    conn.close()
    cookie_header = "; ".join(cookies)
    form = urllib.parse.urlencode({"csrf": match.group(1), "username": user, "password": password})
    headers = {"Content-Type": "application/x-www-form-urlencoded", "Cookie": cookie_header}

    lock = threading.Lock()
    statuses: dict[str, int] = {}
    latencies: list[float] = []
    deadline = time.monotonic() + duration
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())

    def worker() -> None:
        conn = connect()
        while not stop.is_set() and time.monotonic() < deadline:
            started = time.monotonic()
            try:
                conn.request("POST", prefix + "/login", body=form, headers=headers)
                response = conn.getresponse()
                response.read()
                key = str(response.status)
            except (OSError, http.client.HTTPException) as err:
                key = type(err).__name__
                conn.close()
                conn = connect()
            elapsed = time.monotonic() - started
            with lock:
                statuses[key] = statuses.get(key, 0) + 1
                latencies.append(elapsed)
        conn.close()

    started = time.monotonic()
    wall_at_stop: list[float] = []
    threads = [threading.Thread(target=worker, daemon=True) for _ in range(concurrency)]
    for thread in threads:
        thread.start()
    # Joined with a timeout so the SIGTERM handler gets to run meanwhile.
    while any(thread.is_alive() for thread in threads):
        for thread in threads:
            thread.join(0.1)
        if stop.is_set() and not wall_at_stop:
            wall_at_stop.append(time.monotonic() - started)
    # Attempts still queued for a password check when told to stop finish
    # afterwards; rates are per second of storm, up to the stop.
    wall = wall_at_stop[0] if wall_at_stop else time.monotonic() - started

    latencies.sort()

    def pct(p: float) -> float:
        if not latencies:
            return 0.0
        return latencies[min(len(latencies) - 1, int(p / 100 * len(latencies)))] * 1000

    print(json.dumps({
        "attempts": len(latencies),
        "seconds": round(wall, 2),
        "per_second": round(len(latencies) / wall, 1) if wall else 0,
        "statuses": statuses,
        "p50_ms": round(pct(50), 1),
        "p99_ms": round(pct(99), 1),
    }))


if __name__ == "__main__":
    main()
