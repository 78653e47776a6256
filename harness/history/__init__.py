"""Run history: where per-run values change level (changepoints, pure) and reading and storing them (runs)."""
