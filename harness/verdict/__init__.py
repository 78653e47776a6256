"""The verdict of a run, in layers (docs/decisions.md, "Layers"; kept by import-linter):

- ``model``: every type the verdict passes around;
- ``rules``: baselines.yaml parsed and validated (thresholds, the abort rule);
- ``decide``: pure decisions from what was read (evaluate, load, compare, estimate, sketch_stats, abort);
- ``reads``: every InfluxQL query and raw-value read (measure, samples, sketches, baseline, window, abort);
- ``outputs``: verdict.json, junit.xml, summary.md, the abort's text and JSON;
- ``judge``: reads → decide → outputs for one stored run.

Code outside the package imports only from here.
"""

from harness.verdict.decide.abort import decide as decide_abort, evaluate_run, unread_seconds
from harness.verdict.decide.compare import (
    change_text,
    interval_text,
    level_text,
    levels_text,
    regression_limit,
    run_unit_text,
    value_text,
)
from harness.verdict.decide.dispersion import span_start_ns as dispersion_span_start
from harness.verdict.decide.evaluate import completeness_unit, evaluate, generation_target_in_force
from harness.verdict.decide.sequential import looks as abort_looks
from harness.verdict.decide.sketch_stats import SOURCES, SketchScope
from harness.verdict.decide.window import latency_limits
from harness.verdict.judge import judge
from harness.verdict.model import (
    COMPARED,
    AbortOutcome,
    AbortRecord,
    ApiLoad,
    Breach,
    Check,
    Comparison,
    Completeness,
    EndpointStats,
    Latency,
    Measurements,
    Stats,
    Verdict,
    WindowFigures,
    scope_status,
    summary_error_fields,
)
from harness.verdict.outputs import write_outputs
from harness.verdict.outputs.abort import abort_dict, abort_line, event_line as abort_event_line
from harness.verdict.outputs.verdict_json import (
    baseline_dict,
    comparison_dict,
    latency_dict,
    load_dict,
    stats_dict,
    utc_ns_text,
    utc_text,
)
from harness.verdict.reads.abort import read_abort, was_aborted
from harness.verdict.reads.baseline import choose_baseline, load_baseline
from harness.verdict.reads.measure import measure, peak_users, read_completeness, run_bounds
from harness.verdict.reads.seconds import per_second
from harness.verdict.reads.sketches import read_sketches, sketch_bounds
from harness.verdict.reads.window import measure_window
from harness.verdict.rules.thresholds import (
    RETIRED_REGRESSION_KEYS,
    Limits,
    Thresholds,
    load_thresholds,
    parse_thresholds,
    thresholds_as_points,
)

__all__ = [
    "AbortOutcome",
    "AbortRecord",
    "ApiLoad",
    "Breach",
    "COMPARED",
    "Check",
    "Comparison",
    "Completeness",
    "EndpointStats",
    "Latency",
    "Limits",
    "Measurements",
    "RETIRED_REGRESSION_KEYS",
    "SOURCES",
    "SketchScope",
    "Stats",
    "Thresholds",
    "Verdict",
    "WindowFigures",
    "abort_dict",
    "abort_event_line",
    "abort_line",
    "abort_looks",
    "baseline_dict",
    "change_text",
    "choose_baseline",
    "comparison_dict",
    "completeness_unit",
    "decide_abort",
    "dispersion_span_start",
    "evaluate",
    "evaluate_run",
    "generation_target_in_force",
    "interval_text",
    "judge",
    "latency_dict",
    "latency_limits",
    "level_text",
    "levels_text",
    "load_baseline",
    "load_dict",
    "load_thresholds",
    "measure",
    "measure_window",
    "parse_thresholds",
    "peak_users",
    "per_second",
    "read_abort",
    "read_completeness",
    "read_sketches",
    "regression_limit",
    "run_bounds",
    "run_unit_text",
    "scope_status",
    "sketch_bounds",
    "stats_dict",
    "summary_error_fields",
    "thresholds_as_points",
    "unread_seconds",
    "utc_ns_text",
    "utc_text",
    "value_text",
    "was_aborted",
    "write_outputs",
]
