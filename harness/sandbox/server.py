"""The gevent WSGI server that runs the sandbox app: bind, announce the URL, serve until a signal."""

from __future__ import annotations

import signal
import socket
import sys
from typing import Any, TextIO

import gevent
import gevent.event
from gevent.pywsgi import WSGIServer

from harness.errors import HarnessError

READY_PREFIX = "sandbox listening on "
STOP_GRACE_S = 1.0


class NoDelayWSGIServer(WSGIServer):
    """pywsgi with TCP_NODELAY on every accepted connection.

    pywsgi sends a response's headers and body in two writes. With Nagle on, the second
    write waits for the client's ACK of the first, which a keep-alive client delays by up
    to 40 ms: every request would take ~40 ms however fast the app is.
    """

    def handle(self, sock: socket.socket, address: Any) -> None:
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:  # not a TCP socket (e.g. a Unix socket): nothing to tune
            pass
        super().handle(sock, address)


def url_for(host: str, port: int) -> str:
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}"


def build_server(host: str, port: int, app: Any, access_log: bool = False) -> NoDelayWSGIServer:
    return NoDelayWSGIServer(
        (host, port),
        app,
        # One access-log line per request costs more than the app itself at thousands of rps.
        log="default" if access_log else None,
        # Given, so pywsgi does not resolve the bind address (getfqdn) before the first request.
        environ={"SERVER_NAME": host},
    )


def serve(host: str, port: int, app: Any, access_log: bool = False, out: TextIO | None = None) -> int:
    """Bind, print the one ready line, serve until SIGINT or SIGTERM; returns the exit code (0)."""
    server = build_server(host, port, app, access_log)
    stopped = gevent.event.Event()
    # Installed before the ready line, so a parent that signals as soon as it reads the line
    # still gets a clean exit rather than the default (killed by SIGTERM, traceback on SIGINT).
    handlers = [gevent.signal_handler(sig, stopped.set) for sig in (signal.SIGINT, signal.SIGTERM)]
    try:
        try:
            server.start()
        except OSError as exc:  # port in use, no permission, host that does not resolve
            # gevent appends the address to strerror; args keep the plain text (gaierror's too,
            # whose negative errno os.strerror does not know).
            reason = exc.args[1] if len(exc.args) == 2 and isinstance(exc.args[1], str) else str(exc)
            raise HarnessError(f"sandbox cannot listen on {host}:{port}: {reason}") from None
        # The parent process reads this one line to learn the URL (port 0 picks a free port).
        assert server.server_port is not None  # bound by start()
        print(f"{READY_PREFIX}{url_for(host, server.server_port)}", file=out or sys.stdout, flush=True)
        stopped.wait()
    finally:
        for handler in handlers:
            handler.cancel()
        server.stop(timeout=STOP_GRACE_S)
    return 0
