"""Events a worker fires before Locust's init reach the listener once it exists, in order."""

from __future__ import annotations

import importlib.util
from types import SimpleNamespace

from tests.helpers import ROOT

# Loaded by path: importing the harness.listener package would import Locust, which must
# monkey-patch the standard library before anything else loads ssl.
_spec = importlib.util.spec_from_file_location("listener_early", ROOT / "harness" / "listener" / "early.py")
assert _spec is not None and _spec.loader is not None
_early = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_early)
EarlyEvents = _early.EarlyEvents


class Hook:
    def __init__(self):
        self.handlers = []

    def add_listener(self, handler):
        self.handlers.append(handler)

    def remove_listener(self, handler):
        self.handlers.remove(handler)

    def fire(self, **kwargs):
        for handler in list(self.handlers):
            handler(**kwargs)


def test_a_test_started_before_init_and_its_requests_are_replayed_then_no_longer_kept():
    events = SimpleNamespace(test_start=Hook(), request=Hook())
    early = EarlyEvents(events)
    events.test_start.fire(environment=None)
    events.request.fire(name="/a", response_time=1.0)
    events.request.fire(name="/b", response_time=2.0)
    seen = []
    events.test_start.add_listener(lambda **kw: seen.append("start"))  # the listener, registered at init
    events.request.add_listener(lambda **kw: seen.append(kw["name"]))
    early.hand_over(lambda: seen.append("start"), lambda **kw: seen.append(kw["name"]))
    assert seen == ["start", "/a", "/b"]
    events.request.fire(name="/c", response_time=3.0)
    assert seen == ["start", "/a", "/b", "/c"] and early.requests == []  # counted once, nothing kept


def test_nothing_before_init_replays_nothing():
    events = SimpleNamespace(test_start=Hook(), request=Hook())
    early = EarlyEvents(events)
    seen = []
    early.hand_over(lambda: seen.append("start"), lambda **kw: seen.append(kw))
    assert seen == [] and events.request.handlers == [] and events.test_start.handlers == []
