"""Calibration scenarios for ``bench/bench_calibration.py``: one module per decision, each exposing
``rows(quick: bool, seed: int) -> list[Row]`` (``table.Row``). Each module drives the project's own
decision functions (no InfluxDB, no Locust) over null scenarios (every limit holds, nothing changed:
its rate is a false-positive rate) and effect scenarios (its rate is the power)."""

# The decisions in the order the table prints them; a module missing from this list is not run.
MODULES = ("abort", "regression", "load_band", "changepoints")
