"""Keep a worker's event loop responsive when a spawn message arrives.

For every option in the master's spawn message, Locust's worker asks
``argument_parser.default_args_dict()`` whether it is one of Locust's own, and that function
builds and runs a whole argument parser each time: about a hundred parsers per message, which
blocked each worker's event loop for 0.2–1.1 s here (measured with gevent's monitor thread) at
every spawn message — on every rebalance when a worker joins or leaves, and on every user-count
change in the web UI. Every timer of the process waits that long: arrivals, think times, the
timing of requests in flight. Locust's defaults never change within a process, so the answer is
computed once.
"""

from __future__ import annotations

import functools


def install() -> None:
    from locust import argument_parser

    original = argument_parser.default_args_dict
    if getattr(original, "harness_cached", False):
        return
    cached = functools.lru_cache(maxsize=1)(original)

    def default_args_dict() -> dict:
        return dict(cached())  # a copy, so no caller can change the cached answer

    default_args_dict.harness_cached = True  # type: ignore[attr-defined]  # a marker on the function
    argument_parser.default_args_dict = default_args_dict
