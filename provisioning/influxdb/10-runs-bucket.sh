#!/bin/bash
# Runs once, when the influxdb container sets up a new instance (/docker-entrypoint-initdb.d).
# Long-lived run data (run, events, threshold, run_summary) goes to retention policy "runs" of
# database loadtest. From InfluxDB 2.5 on, a bucket named "<db>/<rp>" is mapped to that database and
# retention policy without an explicit DBRP mapping, so the bucket "loadtest/runs" is all it takes.
set -euo pipefail

influx bucket create \
  --org "${DOCKER_INFLUXDB_INIT_ORG}" \
  --name "${DOCKER_INFLUXDB_INIT_BUCKET}/runs" \
  --retention 0 \
  --description "load-test run data (run, events, threshold, run_summary), kept forever"
