"""Locust user classes for the three API groups; ``harness/locustfile.py`` collects them."""
