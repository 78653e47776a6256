"""What a worker's Locust fires before ``init``: kept, then handed to the listener.

A worker connects to its master while Locust is still setting it up, and its message loop runs
from then on. A master that is already running (a worker joining a running test, or the last of
``--processes`` children on a busy machine) sends the spawn message at once: the worker fires
``test_start`` and its users send requests before ``init`` — the first moment the listener can
exist. Those events are recorded here from import time and replayed once the listener is there,
so no request goes unstored. Only the moments before ``init`` are kept: the buffer stops then.
"""

from __future__ import annotations

from collections.abc import Callable


class EarlyEvents:
    def __init__(self, events):
        self.events = events
        self.test_started = False
        self.requests: list[dict] = []
        events.test_start.add_listener(self._on_test_start)
        events.request.add_listener(self._on_request)

    def _on_test_start(self, **_kwargs) -> None:
        self.test_started = True

    def _on_request(self, **kwargs) -> None:
        self.requests.append(kwargs)

    def stop(self) -> None:
        self.events.test_start.remove_listener(self._on_test_start)
        self.events.request.remove_listener(self._on_request)

    def hand_over(self, on_test_start: Callable[..., None], on_request: Callable[..., None]) -> None:
        """Stop keeping events and replay them, in order: the test start, then the requests."""
        self.stop()
        if self.test_started:
            on_test_start()
        requests, self.requests = self.requests, []
        for kwargs in requests:
            on_request(**kwargs)
