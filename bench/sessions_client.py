#!/usr/bin/env python3
"""bench/sessions.sh's client: one GET of PATH per session cookie in
COOKIES (one value a line), over CONNECTIONS keep-alive connections, each
connection sending its share of the cookies one after the other. Every
response is read whole; prints the count of each status as JSON
({"200": 100000}) and exits 1 unless every answer was EXPECT (200).
Python standard library only (the response reader is count_client.py's).

usage: sessions_client.py HOST:PORT PATH COOKIES CONNECTIONS [COOKIE_NAME] [EXPECT]
"""

import json
import socket
import sys
import threading
from collections import Counter

from count_client import read_response


def main() -> None:
    if len(sys.argv) < 5:
        sys.exit(__doc__)
    target, path, cookies_file = sys.argv[1], sys.argv[2], sys.argv[3]
    connections = int(sys.argv[4])
    name = sys.argv[5] if len(sys.argv) > 5 else "doorman_session"
    expect = int(sys.argv[6]) if len(sys.argv) > 6 else 200
    host, _, port = target.rpartition(":")
    with open(cookies_file, encoding="ascii") as file:
        cookies = [line.strip() for line in file if line.strip()]
    head = f"GET {path} HTTP/1.1\r\nHost: {target}\r\nUser-Agent: sessions-client\r\nAccept: */*\r\n"
    statuses = Counter()
    failures = []
    lock = threading.Lock()

    def run(share: list[str]) -> None:
        seen = Counter()
        try:
            with socket.create_connection((host, int(port))) as sock:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                buffer = bytearray()
                for cookie in share:
                    sock.sendall(f"{head}Cookie: {name}={cookie}\r\n\r\n".encode())
                    status, buffer = read_response(sock, buffer)
                    seen[status] += 1
        except (OSError, ValueError, IndexError) as err:
            failures.append(str(err))
        with lock:
            statuses.update(seen)

    shares = [cookies[i::connections] for i in range(connections)]
    threads = [threading.Thread(target=run, args=(share,)) for share in shares]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    print(json.dumps({str(status): count for status, count in sorted(statuses.items())}))
    if failures:
        sys.exit(f"sessions_client: {len(failures)} connection(s) failed, first: {failures[0]}")
    if statuses[expect] != len(cookies):
        sys.exit(f"sessions_client: {statuses[expect]} of {len(cookies)} answers were {expect}")


if __name__ == "__main__":
    main()
