"""Fault injection: spec parsing and precedence, and its effect on a real sandbox process."""

from __future__ import annotations

import itertools
import subprocess
import sys
import time

import pytest
import requests

from harness.errors import HarnessError
from harness.sandbox.faults import Fault, FaultTable, parse_spec, parse_specs, resolve, stall_hold_s
from harness.sandbox.process import running_sandbox

_emails = itertools.count()


# --- parsing ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "spec,scope,values",
    [
        ("payments:error_rate=0.3", "payments", {"error_rate": 0.3}),
        ("all:latency_ms=100,jitter_ms=50", "all", {"latency_ms": 100, "jitter_ms": 50}),
        ("auth:error_rate=1", "auth", {"error_rate": 1.0}),
        ("POST /api/v1/payments:error_rate=0", "POST /api/v1/payments", {"error_rate": 0.0}),
        ("GET /api/v1/generations/[id]:latency_ms=200", "GET /api/v1/generations/[id]", {"latency_ms": 200}),
        ("post   /api/v1/payments : latency_ms = 5", "POST /api/v1/payments", {"latency_ms": 5}),
        ("/api/v1/generations/[id]:jitter_ms=10", "/api/v1/generations/[id]", {"jitter_ms": 10}),
        ("generation:error_rate=0.5,error_rate=0.1", "generation", {"error_rate": 0.1}),
    ],
)
def test_parse_spec_accepts(spec, scope, values):
    parsed = parse_spec(spec)
    assert (parsed.scope, parsed.values) == (scope, values)


@pytest.mark.parametrize(
    "spec,named",
    [
        ("payments", "expected SCOPE:KEY=VALUE"),
        ("error_rate=0.3", "expected SCOPE:KEY=VALUE"),
        ("billing:error_rate=0.3", "unknown scope 'billing'"),
        ("GET /api/v1/payments/[id]:error_rate=1", "unknown scope 'GET /api/v1/payments/[id]'"),
        ("/api/v1/payments/[id]:error_rate=1", "unknown scope '/api/v1/payments/[id]'"),
        ("PATCH /api/v1/payments:error_rate=1", "unknown scope 'PATCH /api/v1/payments'"),
        ("payments:rate=0.3", "unknown key 'rate'"),
        ("payments:error_rate=1.5", "error_rate=1.5 is out of range 0..1"),
        ("payments:error_rate=-0.1", "error_rate=-0.1 is out of range 0..1"),
        ("payments:latency_ms=-1", "latency_ms=-1 is out of range"),
        ("payments:latency_ms=1e9", "latency_ms=1e9 is out of range"),
        ("payments:latency_ms=nan", "latency_ms=nan is out of range"),
        ("payments:jitter_ms=abc", "jitter_ms='abc' is not a number"),
        ("payments:error_rate=", "error_rate='' is not a number"),
        ("payments:error_rate=0.1,", "'' is not KEY=VALUE"),
    ],
)
def test_parse_spec_rejects_with_one_line_naming_the_problem(spec, named):
    with pytest.raises(HarnessError) as caught:
        parse_spec(spec)
    message = str(caught.value)
    assert named in message and repr(spec) in message and "\n" not in message


def test_specs_of_one_scope_merge_later_key_wins():
    merged = parse_specs(
        ["payments:error_rate=0.3", "auth:latency_ms=1", "payments:latency_ms=10,error_rate=0.5"]
    )
    assert [str(spec) for spec in merged] == ["payments:error_rate=0.5,latency_ms=10", "auth:latency_ms=1"]


def test_precedence_is_per_key_endpoint_over_route_over_group_over_all():
    specs = [
        "POST /api/v1/payments:error_rate=0",
        "/api/v1/payments:error_rate=0.5,latency_ms=20",
        "payments:error_rate=1,jitter_ms=5",
        "all:latency_ms=50",
    ]
    effective = resolve(parse_specs(specs))
    assert effective["POST /api/v1/payments"] == Fault(error_rate=0, latency_ms=20, jitter_ms=5)
    assert effective["GET /api/v1/payments"] == Fault(error_rate=0.5, latency_ms=20, jitter_ms=5)
    assert effective["GET /api/v1/subscriptions"] == Fault(error_rate=1, latency_ms=50, jitter_ms=5)
    assert effective["GET /health"] == Fault(latency_ms=50)


def test_table_keeps_its_set_when_a_replacement_is_bad():
    table = FaultTable(["auth:error_rate=1"])
    with pytest.raises(HarnessError):
        table.replace(["auth:error_rate=0", "nope:error_rate=1"])
    assert table.specs() == ["auth:error_rate=1"]


# --- the CLI --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "spec",
    [
        "billing:error_rate=1",
        "payments:error_rate=2",
        "payments:speed=1",
        "payments:latency_ms=x",
        "payments",
    ],
)
def test_bad_fault_spec_exits_2_with_one_line(spec):
    result = subprocess.run(
        [sys.executable, "-m", "harness.sandbox", "--port", "0", "--fault", spec],
        capture_output=True,
        text=True,
        timeout=15,
    )
    assert result.returncode == 2 and result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"harness: error: bad fault spec {spec!r}")


# --- effect on a running sandbox -------------------------------------------------------------
def _user_headers(url: str, http: requests.Session) -> dict[str, str]:
    email = f"f{next(_emails)}@example.com"
    assert http.post(
        f"{url}/api/v1/auth/register", json={"email": email, "password": "pw-long-1", "name": "F"}
    ).ok
    token = http.post(f"{url}/api/v1/auth/login", json={"email": email, "password": "pw-long-1"}).json()[
        "access_token"
    ]
    return {"Authorization": f"Bearer {token}"}


PAYMENT = {"amount": 5, "currency": "USD", "method": "card"}


def test_error_rate_one_fails_its_scope_only_and_has_no_side_effects():
    with running_sandbox(faults=["payments:error_rate=1"]) as url, requests.Session() as http:
        headers = _user_headers(url, http)
        failed = [
            http.post(f"{url}/api/v1/payments", json=PAYMENT, headers=headers),
            http.get(f"{url}/api/v1/payments", headers=headers),
            http.post(f"{url}/api/v1/subscriptions", json={"plan": "pro"}, headers=headers),
            http.get(f"{url}/api/v1/subscriptions", headers=headers),
            http.delete(f"{url}/api/v1/subscriptions/sub_x", headers=headers),
        ] + [http.post(f"{url}/api/v1/payments", json=PAYMENT, headers=headers) for _ in range(20)]
        assert {r.status_code for r in failed} <= {500, 503}
        assert all(r.json()["error"] == "injected fault" for r in failed)

        others = [
            http.get(f"{url}/health"),
            http.post(f"{url}/api/v1/generations", json={"prompt": "p"}, headers=headers),
            http.get(f"{url}/api/v1/generations", headers=headers),
        ]
        assert [r.status_code for r in others] == [200, 202, 200]

        assert http.put(f"{url}/_sandbox/faults", json={"faults": []}).status_code == 200
        assert http.get(f"{url}/api/v1/payments", headers=headers).json()["total"] == 0
        assert http.get(f"{url}/api/v1/subscriptions", headers=headers).json()["items"] == []


def test_error_rate_fraction_stays_in_a_sane_band():
    with running_sandbox(faults=["auth:error_rate=0.3"]) as url, requests.Session() as http:
        codes = [http.get(f"{url}/health", timeout=5).status_code for _ in range(300)]
    failures = sum(code in (500, 503) for code in codes)
    assert set(codes) <= {200, 500, 503}
    # Binomial(300, 0.3): mean 90, sd 7.9; 60..120 is about ±3.8 sd.
    assert 60 <= failures <= 120, failures


@pytest.mark.slow  # wall-clock timings of a real server
def test_latency_is_added_to_its_scope_only():
    with running_sandbox(faults=["GET /health:latency_ms=200"]) as url, requests.Session() as http:
        http.post(f"{url}/api/v1/auth/login", json={"email": "warm@example.com", "password": "x"})

        def timed(method: str, path: str, **kwargs) -> float:
            started = time.perf_counter()
            http.request(method, url + path, timeout=5, **kwargs)
            return (time.perf_counter() - started) * 1000

        slow = [timed("GET", "/health") for _ in range(3)]
        fast = [
            timed("POST", "/api/v1/auth/login", json={"email": "a@example.com", "password": "x"})
            for _ in range(3)
        ]
    assert min(slow) >= 200, slow
    assert max(fast) < 150, fast


@pytest.mark.slow  # wall-clock timings of a real server
def test_jitter_adds_up_to_its_bound():
    with (
        running_sandbox(faults=["auth:latency_ms=50,jitter_ms=100"], extra_args=["--seed", "3"]) as url,
        requests.Session() as http,
    ):
        delays = []
        for _ in range(8):
            started = time.perf_counter()
            http.get(f"{url}/health", timeout=5)
            delays.append((time.perf_counter() - started) * 1000)
    assert min(delays) >= 50 and max(delays) < 150 + 100, delays
    assert max(delays) - min(delays) > 5, delays  # jitter really varies


def test_endpoint_scope_overrides_group():
    faults = [
        "payments:error_rate=1",
        "POST /api/v1/payments:error_rate=0",
        "GET /api/v1/generations/[id]:error_rate=1",
    ]
    with running_sandbox(faults=faults) as url, requests.Session() as http:
        headers = _user_headers(url, http)
        assert http.post(f"{url}/api/v1/payments", json=PAYMENT, headers=headers).status_code == 201
        assert http.get(f"{url}/api/v1/payments", headers=headers).status_code in (500, 503)
        task = http.post(f"{url}/api/v1/generations", json={"prompt": "p"}, headers=headers).json()
        assert http.get(f"{url}/api/v1/generations/{task['task_id']}", headers=headers).status_code in (
            500,
            503,
        )
        assert http.get(f"{url}/api/v1/generations", headers=headers).status_code == 200


def test_admin_endpoint_reads_and_replaces_faults_mid_run():
    with running_sandbox(faults=["all:error_rate=1"]) as url, requests.Session() as http:
        current = http.get(f"{url}/_sandbox/faults").json()
        assert current["faults"] == ["all:error_rate=1"]
        assert current["effective"]["GET /health"]["error_rate"] == 1
        assert http.get(f"{url}/health").status_code in (500, 503)

        replaced = http.put(
            f"{url}/_sandbox/faults", json={"faults": ["payments:error_rate=0.3,latency_ms=10"]}
        )
        assert replaced.status_code == 200
        assert replaced.json()["faults"] == ["payments:error_rate=0.3,latency_ms=10"]
        assert "GET /health" not in replaced.json()["effective"]
        assert http.get(f"{url}/health").status_code == 200

        for bad in (
            {"faults": ["nope:error_rate=1"]},
            {"faults": "auth:error_rate=1"},
            {"faults": [3]},
            ["x"],
        ):
            response = http.put(f"{url}/_sandbox/faults", json=bad)
            assert response.status_code == 422 and response.json()["error"]
        assert http.get(f"{url}/_sandbox/faults").json()["faults"] == [
            "payments:error_rate=0.3,latency_ms=10"
        ]


# --- stall ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "since_first_s, hold_s",
    [(0.0, 0.0), (9.99, 0.0), (10.0, 3.0), (11.5, 1.5), (12.999, 0.001), (13.0, 0.0), (20.0, 0.0)],
)
def test_stall_holds_requests_arriving_inside_it_until_its_end(since_first_s, hold_s):
    fault = resolve(parse_specs(["all:stall_at_s=10,stall_s=3"]))["POST /api/v1/payments"]
    assert stall_hold_s(fault, since_first_s) == pytest.approx(hold_s)
    assert stall_hold_s(Fault(), since_first_s) == 0


def test_stall_keys_are_checked_like_the_others():
    assert parse_spec("payments:stall_at_s=15,stall_s=3").values == {"stall_at_s": 15, "stall_s": 3}
    with pytest.raises(HarnessError, match="stall_s=-1 is out of range 0..3600"):
        parse_spec("all:stall_at_s=15,stall_s=-1")


@pytest.mark.slow  # wall-clock timings of a real server
def test_a_real_sandbox_stalls_its_scope_counted_from_its_first_request():
    with (
        running_sandbox(faults=["POST /api/v1/auth/login:stall_at_s=1,stall_s=1.5"]) as url,
        requests.Session() as http,
    ):
        login = {"email": "nobody@example.com", "password": "x"}
        http.get(f"{url}/health", timeout=5)  # the first request: the stall is 1 s after it
        first = http.get(f"{url}/_sandbox/faults").json()["first_request_at"]
        before = time.time()
        http.post(f"{url}/api/v1/auth/login", json=login, timeout=5)
        assert time.time() - before < 0.5  # before the stall: answered at once
        time.sleep(max(0.0, first + 1.2 - time.time()))
        sent = time.time()
        http.get(f"{url}/health", timeout=5)
        assert time.time() - sent < 0.5  # inside the stall, but out of its scope
        http.post(f"{url}/api/v1/auth/login", json=login, timeout=5)
        answered = time.time()
        assert answered >= first + 2.5 > sent  # held until the stall's end, not one moment less
        after = time.time()
        http.post(f"{url}/api/v1/auth/login", json=login, timeout=5)
        assert time.time() - after < 0.5  # after the stall: answered at once again
