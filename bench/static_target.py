"""A static HTTP/1.1 target for load-generator benchmarks: every request gets the same tiny 200.

It exists so that a benchmark of the load generator measures the load generator: no routing,
no JSON, no framework — one gevent greenlet per keep-alive connection answering a fixed
response, with TCP_NODELAY (without it, Nagle plus delayed ACK adds ~40 ms per answer on a
keep-alive connection). Only bodiless requests (GET, HEAD) are understood, pipelining included.

    python bench/static_target.py [--host 127.0.0.1] [--port 0]

Prints ``static target listening on http://HOST:PORT`` once it accepts connections.
"""

from __future__ import annotations

import argparse
import sys

from gevent import socket
from gevent.server import StreamServer

RESPONSE = (
    b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\nConnection: keep-alive\r\n\r\nok"
)
END_OF_HEAD = b"\r\n\r\n"


def handle(sock: socket.socket, _address) -> None:
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    pending = b""
    try:
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                return
            pending += chunk
            answered = pending.count(END_OF_HEAD)
            if answered:
                pending = pending[pending.rindex(END_OF_HEAD) + 4 :]
                sock.sendall(RESPONSE * answered)
    except OSError:  # the client went away mid-answer: nothing to clean up but the socket
        return
    finally:
        sock.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    args = parser.parse_args(argv)
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        parser.error(f"--host {args.host!r}: benchmarks stay on loopback")
    server = StreamServer((args.host, args.port), handle, backlog=1024)
    server.start()
    print(f"static target listening on http://{args.host}:{server.server_port}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
