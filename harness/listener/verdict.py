"""``--verdict``: the master or local runner judges the run when Locust quits, exactly as ``harness
run`` does (the same judge, completeness, abort and baseline, the same files under ``--out``), and
Locust exits with the verdict's code: 0 pass, 1 fail, 2 inconclusive or error. Workers never judge.

This is what makes a CI step, a Kubernetes Job's status and locust-k8s-operator's phase equal the
verdict (docs/kubernetes.md). The verdict's one line also goes to a termination message file,
which Kubernetes shows in the pod's status.

Threading: the judging runs in Locust's ``quitting`` event, after the listener's final flush (the
event fires its handlers in reverse order: ``install`` is called before the listener's own
``quitting`` handler is added) and, on a master, after every worker said it quit, which it does
after its own final flush (harness.listener.master_stop). Locust reads
``environment.process_exit_code`` right after that event (locust.main's ``shutdown``).
"""

from __future__ import annotations

import logging
import os
import sys
import time
from pathlib import Path

import gevent

from harness.conclude import add_report, cut, generation_target, print_verdict, verdict_line
from harness.errors import HarnessError
from harness.exitcodes import ExitCode
from harness.listener.options import thresholds_or_exit
from harness.rundata import record_plain_run, store_verdict
from harness.runner_role import Role
from harness.settings import from_environment
from harness.verdict import Thresholds, judge, read_completeness

log = logging.getLogger("harness.listener")

KUBERNETES_TERMINATION_LOG = Path("/dev/termination-log")
# A worker sends its final counts within a flush (1 s) of its stop; a master in web-UI mode may quit
# before that (locust-k8s-operator's --autoquit 0), so it waits for them, this long at most.
FINAL_COUNTS_WAIT_S = 15.0
EARLY_STOP_SLACK_S = 2.0  # Locust's own stop at --run-time comes this close to it, or closer
NOT_JUDGED = "ERROR exit=2: Locust ended before the run was judged (see the master's log)"


def add_arguments(parser) -> None:
    """The verdict's command options, as ``harness run`` and ``harness check`` name them (the
    settings VERDICT and TERMINATION_MESSAGE come from the settings table)."""
    # On the parser itself: Locust understands include_in_web_ui there, not on argument groups.
    parser.add_argument(
        "--out",
        default="",
        include_in_web_ui=False,
        help="folder for verdict.json, junit.xml, summary.md and the report (default OUT_DIR/RUN_ID)",
    )
    parser.add_argument(
        "--baseline",
        default="",
        metavar="RUN_ID|last-pass|last-N-pass",
        include_in_web_ui=False,
        help="also compare with a stored run, the last passing run or the last N passing runs of the "
        "same test env and load (docs/baselines.md)",
    )
    parser.add_argument(
        "--baseline-force",
        action="store_true",
        default=False,
        include_in_web_ui=False,
        help="compare with the baseline even when its load differs",
    )


def termination_path(options) -> Path | None:
    """--termination-message, else Kubernetes' default file when this runs in a pod."""
    chosen = getattr(options, "termination_message", "") or ""
    if chosen:
        return Path(chosen)
    return KUBERNETES_TERMINATION_LOG if KUBERNETES_TERMINATION_LOG.exists() else None


def write_termination(path: Path | None, line: str) -> None:
    if path is None:
        return
    try:
        path.write_text(cut(line) + "\n", encoding="utf-8")
    except OSError as exc:
        log.warning("cannot write the termination message to %s: %s", path, exc)


def chosen_generation_target() -> float | None:
    """GENERATION_TARGET_PER_S when set in the environment (as ``harness check`` takes it), else None."""
    if not os.environ.get("GENERATION_TARGET_PER_S", "").strip():
        return None
    return from_environment("GENERATION_TARGET_PER_S")


class FleetVerdict:
    def __init__(self, environment, listener, thresholds: Thresholds, termination: Path | None):
        self.env = environment
        self.listener = listener
        self.thresholds = thresholds
        self.termination = termination
        self.stopping_at: float | None = None

    def on_test_start(self, **_kwargs) -> None:
        self.stopping_at = None

    def on_test_stopping(self, **_kwargs) -> None:
        if self.stopping_at is None:
            self.stopping_at = time.time()

    def ended_early(self) -> str | None:
        """Why the test stopped before its --run-time (a signal, every worker quit), or None."""
        planned = getattr(self.env.parsed_options, "run_time", None)
        if not planned or not self.listener.test_started_ns:
            return None
        ran = (self.stopping_at or time.time()) - self.listener.test_started_ns / 1e9
        if ran >= planned - EARLY_STOP_SLACK_S:
            return None
        return (
            f"the test stopped after {ran:.0f} s of its planned {planned} s (a signal, or every worker quit)"
        )

    def wait_for_final_counts(self) -> None:
        """Until every worker that wrote counts for this run has stored its final ones, except
        those the master knows stopped answering (the verdict names them), or the bound."""
        runner = self.env.runner
        lost = {c.id for c in runner.clients.missing} if self.listener.role is Role.MASTER else set()
        deadline = time.monotonic() + FINAL_COUNTS_WAIT_S
        while True:
            counts = read_completeness(self.listener.client, self.listener.run_id, stored=0)
            pending = set(counts.lost_workers) - lost if counts is not None else set()
            if not pending or time.monotonic() >= deadline:
                return
            gevent.sleep(0.5)

    def on_quitting(self, **_kwargs) -> None:
        try:
            code = self.conclude()
        except HarnessError as exc:
            sys.stderr.write(f"harness: error: {exc}\n")
            write_termination(self.termination, f"ERROR exit=2 run={self.listener.run_id}: {exc}")
            code = ExitCode.ERROR
        except Exception as exc:  # logged: no verdict must never read as a pass or a fail
            log.exception("the verdict could not be reached")
            write_termination(self.termination, f"ERROR exit=2 run={self.listener.run_id}: {exc}")
            code = ExitCode.ERROR
        self.env.process_exit_code = int(code)

    def conclude(self) -> int:
        listener, options = self.listener, self.env.parsed_options
        if not listener.run_id:
            raise HarnessError("--verdict: no test was started, so there is nothing to judge")
        run_id, runs_rp = listener.run_id, listener.runs_rp
        out_dir = Path(options.out) if options.out else from_environment("OUT_DIR") / run_id
        early = self.ended_early()
        self.wait_for_final_counts()
        target = generation_target(self.thresholds, chosen_generation_target())
        # Locust's own count (on a master, the workers' reports summed): the second witness of
        # completeness, as harness run takes it from Locust's statistics file.
        counted = locust_count(self.env)
        verdict, paths = judge(
            listener.client,
            run_id,
            self.thresholds,
            out_dir,
            generation_target=target,
            baseline=options.baseline or None,
            baseline_force=options.baseline_force,
            runs_rp=runs_rp,
            extra_warnings=[early] if early else [],
            counted=counted,
        )
        store_verdict(listener.client, runs_rp, verdict)
        record_plain_run(
            listener.client,
            runs_rp,
            verdict,
            self.thresholds,
            target,
            "started with plain locust --verdict",
            counted,
        )
        add_report(listener.client, verdict, self.thresholds, out_dir, paths, runs_rp)
        print_verdict(verdict, paths)
        code = verdict.exit_code
        line = verdict_line(verdict)
        if early and verdict.abort is None and code == ExitCode.PASS:
            code = ExitCode.ERROR  # a run cut short did not prove what it was asked to (as harness run)
            line = f"ERROR exit=2 (the verdict passed, but {early}): {line}"
            print(f"harness: exit 2: the verdict passed, but {early}")
        write_termination(self.termination, line)
        sys.stdout.flush()
        return code


def locust_count(environment) -> int:
    """Every request Locust counted in this test (its statistics are cleared when a test starts)."""
    return int(environment.stats.total.num_requests)


def install(events, environment, listener) -> FleetVerdict | None:
    """On a master or local runner started with --verdict: load the limits (a bad file is one line
    and exit 2, before a user starts) and judge at quitting. Call it before the listener adds its
    own ``quitting`` handler (see the module's docstring)."""
    options = environment.parsed_options
    if not getattr(options, "verdict", False) or not listener.role.drives_test:
        return None
    thresholds = thresholds_or_exit(options)
    termination = termination_path(options)
    # Replaced by the verdict's line; what stays when Locust ends without judging (it exits 1 on
    # some errors of its own, which must not read as a FAIL).
    write_termination(termination, NOT_JUDGED)
    fleet = FleetVerdict(environment, listener, thresholds, termination)
    events.test_start.add_listener(fleet.on_test_start)
    events.test_stopping.add_listener(fleet.on_test_stopping)
    events.quitting.add_listener(fleet.on_quitting)
    return fleet
