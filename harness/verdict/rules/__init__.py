"""Baselines.yaml read and validated: the thresholds and the abort rule."""
