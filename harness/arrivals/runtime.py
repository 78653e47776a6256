"""The arrival model inside Locust: options, the exact split across workers, and this process's
pool and schedulers. One ``ArrivalRuntime`` per Locust process, attached to the environment
(``attach``; the listener and the pool users find it with ``arrivals_of``).

Who does what:
- the master (or local runner) reads the plan when a test starts, picks the pool user class,
  and once the pool is spawned decides the epoch and the first split (every worker with pool
  users, in a fixed order) and sends both with a custom message before the first arrival is
  due; it watches the workers and sends a new split, a moment ahead, when one joins or leaves;
- a worker (or the local runner) keeps the pool every pool user takes from, and on that
  message starts (or re-splits) one scheduler per API for its exact share.

A local runner plays both parts; its ``send_message`` calls the handler directly.
"""

from __future__ import annotations

import argparse
import logging
import time

import gevent

from harness.arrivals.engine import ArrivalEngine
from harness.arrivals.plan import ARRIVAL_KINDS, DEFAULT_MAX_LATENESS_S, LoadPlan, plan_from_texts
from harness.arrivals.pool import ArrivalPool
from harness.arrivals.schedule import Split
from harness.runner_role import Role, role_of

log = logging.getLogger("harness.arrivals")

MESSAGE = "harness_arrivals"
# A worker says hello when its message handler is in place: one that joined a running test may
# have missed the split sent before it was (its messages can arrive before Locust's init).
HELLO = "harness_arrivals_hello"
LOCAL_WORKER = "local"
# The first arrival is due this long after the pool is spawned, and a new split takes effect
# this long after the master noticed the change: time for the message to reach every worker
# (milliseconds on one machine or a LAN) before any of them must act on it.
EPOCH_MARGIN_S = 0.25
RESPLIT_MARGIN_S = 0.25
WATCH_INTERVAL_S = 0.25


class _RatesAction(argparse.Action):
    """``--rate`` is repeatable and also takes comma lists; the values join into one string,
    so the option stays a plain text field in the web UI and in the master's spawn message."""

    def __call__(self, parser, namespace, values, option_string=None):
        current = getattr(namespace, self.dest, None)
        joined = f"{current},{values}" if current and current != self.default else values
        setattr(namespace, self.dest, joined)


def add_arguments(parser) -> None:
    """The arrival model's Locust options (shown in the web UI; each with its environment variable)."""
    parser.add_argument(
        "--rate",
        action=_RatesAction,
        env_var="RATES",
        default="",
        metavar="API=PER_S",
        help="arrival rate of an API's iterations, e.g. generation=10 (repeatable or "
        "comma-separated); any rate switches to the arrival model [env RATES]",
    )
    parser.add_argument(
        "--arrivals",
        env_var="ARRIVALS",
        default="constant",
        choices=list(ARRIVAL_KINDS),
        help="spacing of arrivals: constant or poisson [env ARRIVALS]",
    )
    parser.add_argument(
        "--rate-profile",
        env_var="RATE_PROFILE",
        default="",
        metavar="FILE",
        help="YAML/JSON list of stages {duration, rates}; linear ramps [env RATE_PROFILE]",
    )
    parser.add_argument(
        "--max-lateness",
        env_var="MAX_LATENESS",
        type=float,
        default=DEFAULT_MAX_LATENESS_S,
        metavar="SECONDS",
        help="an arrival that waited longer for a free pool user is dropped [env MAX_LATENESS]",
    )


def plan_from_options(options) -> LoadPlan:
    """The plan from Locust's parsed options; a bad value raises HarnessError (one line)."""
    return plan_from_texts(
        getattr(options, "rate", "") or "",
        getattr(options, "arrivals", "") or "constant",
        getattr(options, "rate_profile", "") or "",
        float(getattr(options, "max_lateness", DEFAULT_MAX_LATENESS_S) or DEFAULT_MAX_LATENESS_S),
        rates_where="--rate",
    )


class ArrivalRuntime:
    def __init__(self, environment, plan: LoadPlan):
        self.env = environment
        self.plan = plan
        self.role = role_of(environment.runner)
        self.pool = ArrivalPool(plan.max_lateness_s)
        self.engine: ArrivalEngine | None = None
        self.epoch: float | None = None  # master/local: when this test's arrivals began
        self.splits: list[Split] = []
        self._watcher: gevent.Greenlet | None = None

    # -- master / local ---------------------------------------------------------------------
    def on_test_start(self, plan: LoadPlan) -> None:
        self.plan = plan
        self.epoch = None
        self.splits = []
        self.pool.reset(plan.max_lateness_s)

    def on_spawning_complete(self) -> None:
        """The pool is there: decide the epoch and the first split, before the first arrival."""
        if self.role is Role.WORKER or self.plan.load_model != "arrival" or self.epoch is not None:
            return
        workers = self._active_workers()
        self.epoch = time.time() + EPOCH_MARGIN_S
        self.splits = [Split(0.0, tuple(workers))]
        log.info(
            "arrivals start in %.2f s: %s, split over %d worker(s)",
            EPOCH_MARGIN_S,
            self.plan.describe(),
            len(workers),
        )
        self._broadcast()
        if self.role is Role.MASTER:
            self._watcher = gevent.spawn(self._watch_workers)

    def _active_workers(self) -> list[str]:
        runner = self.env.runner
        if self.role is Role.LOCAL:
            return [LOCAL_WORKER]
        clients = runner.clients
        # Only workers that hold pool users get a share (a worker still spawning joins the next
        # split); sorted, so the order does not depend on who connected first.
        return sorted(
            c.id
            for c in clients.ready + clients.spawning + clients.running
            if sum((c.user_classes_count or {}).values()) > 0
        )

    def _message(self) -> dict:
        return {
            "plan": self.plan.to_fields(),
            "epoch": self.epoch,
            "splits": [s.to_wire() for s in self.splits],
        }

    def _broadcast(self) -> None:
        self.env.runner.send_message(MESSAGE, self._message())

    def on_hello(self, environment=None, msg=None, **_kwargs) -> None:
        """Master: a worker's handler is ready; send it the current split if arrivals run."""
        if self.epoch is not None and self._watcher is not None:
            self.env.runner.send_message(MESSAGE, self._message(), client_id=msg.node_id)

    def _watch_workers(self) -> None:
        while True:
            gevent.sleep(WATCH_INTERVAL_S)
            workers = tuple(self._active_workers())
            if workers and workers != self.splits[-1].workers:
                assert self.epoch is not None  # the watcher starts once the epoch is decided
                at_s = time.time() + RESPLIT_MARGIN_S - self.epoch
                self.splits.append(Split(at_s, workers))
                log.info("arrivals re-split at %.2f s over %d worker(s)", at_s, len(workers))
                self._broadcast()

    # -- worker / local ---------------------------------------------------------------------
    def worker_id(self) -> str:
        return LOCAL_WORKER if self.role is Role.LOCAL else self.env.runner.client_id

    def on_message(self, environment=None, msg=None, **_kwargs) -> None:
        data = msg.data
        splits = [Split.from_wire(item) for item in data["splits"]]
        if self.engine is not None and self.engine.epoch == data["epoch"]:
            self.engine.resplit(splits)
            return
        if self.engine is not None:
            self.engine.stop()
        plan = LoadPlan.from_fields(data["plan"])
        if self.role is Role.WORKER:
            self.plan = plan
            self.pool.reset(plan.max_lateness_s)
        self.engine = ArrivalEngine(plan, self.worker_id(), self.pool, data["epoch"], splits)
        self.engine.start()

    def on_any_test_start(self, **_kwargs) -> None:
        """Every role, every new test: nothing left of the previous test's arrivals."""
        self.engine = None
        self.pool.reset(self.plan.max_lateness_s)

    def on_test_stopping(self, **_kwargs) -> None:
        if self._watcher is not None:
            self._watcher.kill(block=False)
            self._watcher = None
        if self.engine is not None:
            self.engine.stop()  # kept until the next test: the listener's last sample reads it
        self.pool.close()

    # -- what the listener reads every interval -------------------------------------------
    def sample(self) -> list[dict]:
        """Each API's counts since the last sample, with this worker's share now (the fields of
        the ``arrivals`` points); empty when this test has no arrivals in this process."""
        engine = self.engine
        if engine is None:
            return []
        shares = engine.shares()
        counts = self.pool.take_interval(list(shares))
        return [
            {
                "api": api,
                "target_per_s": float(shares[api]),
                "scheduled": c.scheduled,
                "started": c.started,
                "late": c.late,
                "dropped": c.dropped,
                "max_lag_ms": float(c.max_lag_ms),
            }
            for api, c in counts.items()
        ]


# The environment carries the process's runtime for the listener and the pool users; Locust's
# Environment has no slot for it, so this attribute is the contract, named in one place.
_ATTRIBUTE = "harness_arrivals"


def attach(environment, runtime: ArrivalRuntime) -> None:
    setattr(environment, _ATTRIBUTE, runtime)


def arrivals_of(environment) -> ArrivalRuntime | None:
    """The process's ArrivalRuntime, or None when the locustfile installed none (plain locustfiles
    with the listener) or has not yet (a spawn message that came before init)."""
    return getattr(environment, _ATTRIBUTE, None)
