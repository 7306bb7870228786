#!/usr/bin/env python3
"""A stand-in SMS gateway for bench/run.sh: doorman's `webhook` provider
POSTs each one-time code here as JSON; we write the code to a file so the
benchmark can finish the sign-in. Python standard library only.

usage: hook.py PORT CODE_FILE
"""

import json
import os
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def main() -> None:
    port, code_file = int(sys.argv[1]), sys.argv[2]

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
            length = int(self.headers.get("Content-Length") or 0)
            try:
                code = str(json.loads(self.rfile.read(length))["code"])
            except (ValueError, KeyError, TypeError):
                self.send_response(400)
                self.end_headers()
                return
            # Write then rename, so a reader never sees half a code.
            tmp = code_file + ".tmp"
            with open(tmp, "w", encoding="ascii") as out:
                out.write(code + "\n")
            os.replace(tmp, code_file)
            body = b"{}"
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args) -> None:  # keep the bench output quiet
            pass

    ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()


if __name__ == "__main__":
    main()
