"""The verdict: thresholds from baselines.yaml, a pure evaluator, and the files it writes.

The query layer that fills ``Measurements`` from InfluxDB lives beside this package; nothing
here does I/O except ``load_thresholds`` (reads the file) and ``write_outputs``.
"""

from harness.verdict.evaluate import evaluate
from harness.verdict.model import (
    Check,
    Completeness,
    EndpointStats,
    Measurements,
    Stats,
    Verdict,
)
from harness.verdict.outputs import write_outputs
from harness.verdict.thresholds import (
    Limits,
    Thresholds,
    load_thresholds,
    parse_thresholds,
    thresholds_as_points,
)

__all__ = [
    "Check",
    "Completeness",
    "EndpointStats",
    "Limits",
    "Measurements",
    "Stats",
    "Thresholds",
    "Verdict",
    "evaluate",
    "load_thresholds",
    "parse_thresholds",
    "thresholds_as_points",
    "write_outputs",
]
