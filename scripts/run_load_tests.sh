#!/usr/bin/env bash
# Run a load test end to end with `harness run` (preflight, seed, Locust, verdict, reports).
# Exit code: 0 pass, 1 fail, 2 error or inconclusive.
set -euo pipefail

usage() {
  cat <<'USAGE'
Usage: scripts/run_load_tests.sh [--local-influxdb] [HARNESS RUN OPTIONS...]

Runs `harness run` with settings from .env.load-testing, the environment and the options given
(flags win). Without TARGET_HOST the built-in sandbox is the target.

  --local-influxdb   start the embedded InfluxDB first (harness influxdb start)
  -h, --help         this help; `harness run --help` lists every run option

Examples:
  scripts/run_load_tests.sh --local-influxdb --users 50 --run-time 2m
  TARGET_HOST=https://staging.example.com TEST_ENV=staging scripts/run_load_tests.sh --seed-users 100
USAGE
}

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
harness="${HARNESS:-$here/.venv/bin/harness}"
[ -x "$harness" ] || harness="$(command -v harness || true)"
if [ -z "$harness" ]; then
  echo "run_load_tests.sh: error: harness is not installed; run 'make setup' first" >&2
  exit 2
fi

args=()
for arg in "$@"; do
  case "$arg" in
    -h|--help) usage; exit 0 ;;
    --local-influxdb) "$harness" influxdb start ;;
    *) args+=("$arg") ;;
  esac
done
exec "$harness" run "${args[@]}"
