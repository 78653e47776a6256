"""The sandbox target: an in-memory reference API (auth, generation, payments) with fault injection.

Modules: ``routes`` (the endpoint table), ``store`` (state), ``validate`` (request checks),
``faults`` (fault specs), ``app`` (Flask routes), ``server`` (gevent WSGI server),
``process`` (start and stop it as a child process), ``cli`` (its options, for ``harness sandbox``
and ``python -m harness.sandbox``). Importing this package is cheap: Flask and
gevent load only when a server is built.
"""

from harness.sandbox.process import start_subprocess, stop_subprocess

__all__ = ["start_subprocess", "stop_subprocess"]
