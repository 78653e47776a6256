# Two entry points that work on a fresh Debian machine:
#   make load-test   a real load test end to end (built-in sandbox, local InfluxDB)
#   make test        the test suite (real InfluxDB, real Locust, headless Chromium)
# Extra arguments for harness run: make load-test ARGS="--users 50 --run-time 2m"

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
ARGS ?=

.PHONY: setup system-packages load-test test bench clean

$(BIN)/harness: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[test]"
	touch $@

# Debian's influxdb (1.x) is the local InfluxDB; chromium renders the HTML report in tests.
system-packages:
	@if ! command -v influxd >/dev/null 2>&1 || ! command -v chromium >/dev/null 2>&1; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq influxdb chromium >/dev/null; \
	fi

setup: system-packages $(BIN)/harness

load-test: setup
	$(BIN)/harness influxdb start
	$(BIN)/harness run $(ARGS)

# The suite in parallel (pytest-xdist): most of its time is real Locust runs waiting on the clock, so
# it gains from more workers than cores. Each worker starts its own influxd on a free port and data
# directory; --dist loadfile keeps a module (and its module-scoped runs) on one worker, and the
# modules with the most real runs go first (tests/conftest.py). TEST_WORKERS=0 runs it serially.
TEST_WORKERS ?= 3

test: setup
	$(BIN)/pytest -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder

bench: setup
	$(BIN)/python bench/run_all.py

clean:
	-$(BIN)/harness influxdb stop
	rm -rf $(VENV) .state load_test_reports
