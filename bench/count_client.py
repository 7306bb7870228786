#!/usr/bin/env python3
"""A load generator for bench/count.sh that sends an exact number of
requests, where wrk sends as many as fit in a time: CONNECTIONS keep-alive
connections, each sending its share of TOTAL GETs one after the other, every
response read whole (Content-Length or chunked) and checked to be 200.
Python standard library only; exits 1 on the first wrong answer.

usage: count_client.py HOST:PORT PATH TOTAL CONNECTIONS [COOKIE [HEADER...]]
(each HEADER a whole "Name: value" line, sent after the cookie)
"""

import socket
import sys
import threading


def read_response(sock: socket.socket, buffer: bytearray) -> tuple[int, bytearray]:
    """Reads one response off `sock`; returns its status and what is left over."""
    while b"\r\n\r\n" not in buffer:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("connection closed before a response head")
        buffer += chunk
    head, _, rest = bytes(buffer).partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        headers[name.strip().lower()] = value.strip()
    rest = bytearray(rest)
    if b"content-length" in headers:
        length = int(headers[b"content-length"])
        while len(rest) < length:
            chunk = sock.recv(65536)
            if not chunk:
                raise ConnectionError("connection closed inside a body")
            rest += chunk
        return status, rest[length:]
    if headers.get(b"transfer-encoding", b"").lower() == b"chunked":
        while True:
            while b"\r\n" not in rest:
                rest += sock.recv(65536)
            size_line, _, rest = bytes(rest).partition(b"\r\n")
            size = int(size_line.split(b";")[0], 16)
            rest = bytearray(rest)
            while len(rest) < size + 2:
                rest += sock.recv(65536)
            rest = rest[size + 2 :]
            if size == 0:
                return status, rest
    return status, rest


def main() -> None:
    if len(sys.argv) < 5:
        sys.exit(__doc__)
    target, path = sys.argv[1], sys.argv[2]
    total, connections = int(sys.argv[3]), int(sys.argv[4])
    cookie = sys.argv[5] if len(sys.argv) > 5 else ""
    host, _, port = target.rpartition(":")
    request = f"GET {path} HTTP/1.1\r\nHost: {target}\r\nUser-Agent: count-client\r\nAccept: */*\r\n"
    if cookie:
        request += f"Cookie: {cookie}\r\n"
    for header in sys.argv[6:]:
        request += f"{header}\r\n"
    request = (request + "\r\n").encode()
    shares = [total // connections + (1 if i < total % connections else 0) for i in range(connections)]
    failures = []

    def run(share: int) -> None:
        try:
            with socket.create_connection((host, int(port))) as sock:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                buffer = bytearray()
                for _ in range(share):
                    sock.sendall(request)
                    status, buffer = read_response(sock, buffer)
                    if status != 200:
                        failures.append(f"status {status}")
                        return
        except (OSError, ValueError, IndexError) as err:
            failures.append(str(err))

    threads = [threading.Thread(target=run, args=(share,)) for share in shares]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        sys.exit(f"count_client: {len(failures)} connection(s) failed, first: {failures[0]}")


if __name__ == "__main__":
    main()
