"""Run the sandbox as a child process: start it, learn its URL from its ready line, stop it.

Used by ``harness run`` and the tests. Only the standard library, so importing it does not
load Flask or gevent into the caller (a Locust process patches gevent on its own terms).
"""

from __future__ import annotations

import contextlib
import os
import re
import select
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator
from typing import IO

from harness.errors import HarnessError

START_TIMEOUT_S = 15.0
STOP_TIMEOUT_S = 5.0
READY_LINE = re.compile(rb"^sandbox listening on (http://\S+)\s*$")


class SandboxProcess(subprocess.Popen):
    """A Popen whose stderr goes to an anonymous temporary file.

    A file never fills up the way a pipe does, so a chatty child (``--access-log``) cannot
    block, and no reader thread is needed (a thread would misbehave if the caller later
    monkey-patches with gevent, as Locust does). A failed start reads the child's own error
    line back from it.
    """

    def __init__(self, args: list[str]) -> None:
        self.stderr_file: IO[bytes] = tempfile.TemporaryFile()  # noqa: SIM115 - lives as long as the process
        super().__init__(args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=self.stderr_file)

    def stderr_tail(self, max_bytes: int = 65536) -> list[str]:
        """The child's last stderr lines (from at most its last 64 KiB)."""
        if self.stderr_file.closed:
            return []
        size = self.stderr_file.seek(0, os.SEEK_END)
        self.stderr_file.seek(max(0, size - max_bytes))
        return self.stderr_file.read().decode(errors="replace").splitlines()


def _command(host: str, port: int, faults: Iterable[str], extra_args: Iterable[str]) -> list[str]:
    command = [sys.executable, "-m", "harness.sandbox", "--host", host, "--port", str(port)]
    for spec in faults:
        command += ["--fault", spec]
    return command + [str(arg) for arg in extra_args]


def _read_ready_line(proc: SandboxProcess, timeout_s: float) -> str | None:
    """The URL from the child's first stdout line, or None if it exited or stayed silent."""
    assert proc.stdout is not None
    fd = proc.stdout.fileno()
    deadline = time.monotonic() + timeout_s
    buffer = b""
    while b"\n" not in buffer:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return None
        readable, _, _ = select.select([fd], [], [], remaining)
        if not readable:
            return None
        chunk = os.read(fd, 4096)
        if not chunk:  # EOF: the child exited
            return None
        buffer += chunk
    match = READY_LINE.match(buffer.split(b"\n", 1)[0])
    return match.group(1).decode() if match else None


def _last_error(proc: SandboxProcess) -> str:
    lines = [line for line in proc.stderr_tail() if line.strip()]
    return lines[-1].strip() if lines else "no error output"


def start_subprocess(
    host: str = "127.0.0.1",
    port: int = 0,
    faults: Iterable[str] = (),
    extra_args: Iterable[str] = (),
    timeout_s: float = START_TIMEOUT_S,
) -> tuple[subprocess.Popen, str]:
    """Launch ``python -m harness.sandbox`` and wait (bounded) until it is listening.

    Returns the process and its base URL. Raises HarnessError with the child's own error
    line if it exits first, or after ``timeout_s`` if it never reports.
    """
    proc = SandboxProcess(_command(host, port, faults, extra_args))
    url = _read_ready_line(proc, timeout_s)
    if url is not None:
        return proc, url
    try:
        # stdout closes a moment before the child is reaped; a silent child gets no grace.
        code = proc.wait(0.5 if proc.poll() is None else 0)
    except subprocess.TimeoutExpired:
        stop_subprocess(proc)
        raise HarnessError(f"sandbox did not report its address within {timeout_s:g} s") from None
    reason = _last_error(proc)
    stop_subprocess(proc)
    raise HarnessError(f"sandbox exited with code {code} before listening: {reason}")


def stop_subprocess(proc: subprocess.Popen, timeout_s: float = STOP_TIMEOUT_S) -> int:
    """SIGTERM, wait (bounded), SIGKILL if need be; returns the exit code."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout_s)
    streams = [proc.stdout, proc.stderr]
    if isinstance(proc, SandboxProcess):
        streams.append(proc.stderr_file)
    for stream in streams:
        if stream is not None:
            with contextlib.suppress(OSError):
                stream.close()
    return proc.returncode


@contextlib.contextmanager
def running_sandbox(
    host: str = "127.0.0.1", port: int = 0, faults: Iterable[str] = (), extra_args: Iterable[str] = ()
) -> Iterator[str]:
    """``with running_sandbox(...) as url:`` — started on entry, stopped on exit."""
    proc, url = start_subprocess(host, port, faults, extra_args)
    try:
        yield url
    finally:
        stop_subprocess(proc)
