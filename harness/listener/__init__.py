"""Stream every Locust request into InfluxDB. Any locustfile enables it with one import::

    import harness.listener  # noqa: F401

Options (``--influx-url`` …, each with an environment variable) are listed in docs/guide.md:
Locust's own ``--help`` does not load the locustfile, so it does not show them.
"""

from locust import events

from harness.listener.influx_listener import InfluxListener
from harness.listener.plugin import install

install(events)

__all__ = ["InfluxListener"]
