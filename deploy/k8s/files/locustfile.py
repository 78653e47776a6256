"""The harness's own scenarios, from the image (pip install . in the Dockerfile). Replace this file
with your own locustfile; keep `import harness.listener` in it so every request reaches InfluxDB
and --verdict can judge the run."""

from harness.locustfile import *  # noqa: F403  (the users, the listener and the load models)
