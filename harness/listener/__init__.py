"""Stream every Locust request into InfluxDB. Any locustfile enables it with one import::

    import harness.listener  # noqa: F401

Options (``--influx-url`` …, each with an environment variable) appear in ``locust --help``.
"""

from locust import events

from harness.listener.plugin import InfluxListener, install

install(events)

__all__ = ["InfluxListener"]
