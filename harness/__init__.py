"""Load-testing harness: Locust scenarios, an InfluxDB listener, a verdict from raw data."""

__version__ = "0.1.0"
