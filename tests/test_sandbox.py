"""The sandbox API, checked against a real `python -m harness.sandbox` on a free loopback port."""

from __future__ import annotations

import argparse
import itertools
import signal
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from harness.commands import sandbox as sandbox_command
from harness.errors import HarnessError
from harness.sandbox.process import start_subprocess, stop_subprocess
from harness.sandbox.routes import ENDPOINTS, PUBLIC
from harness.sandbox.store import TOKEN_TTL_S, Store

QUEUE_S, PROCESS_S = 0.05, 0.1
_emails = itertools.count()


@pytest.fixture(scope="module")
def url():
    proc, base = start_subprocess(
        extra_args=["--gen-queue-s", QUEUE_S, "--gen-process-s", PROCESS_S, "--seed", 7]
    )
    yield base
    assert stop_subprocess(proc) == 0


@pytest.fixture
def http():
    with requests.Session() as session:
        yield session


def new_user(url: str, http: requests.Session) -> dict:
    """Register and log in a fresh user; returns its ids and ready auth headers."""
    email = f"user{next(_emails)}@example.com"
    reg = http.post(
        f"{url}/api/v1/auth/register", json={"email": email, "password": "secret-pw", "name": "U"}
    )
    assert reg.status_code == 201, reg.text
    login = http.post(f"{url}/api/v1/auth/login", json={"email": email, "password": "secret-pw"})
    assert login.status_code == 200, login.text
    token = login.json()["access_token"]
    return {"email": email, "user_id": reg.json()["user_id"], "headers": {"Authorization": f"Bearer {token}"}}


# --- health, register, login --------------------------------------------------------------
def test_health(url, http):
    response = http.get(f"{url}/health")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json"
    body = response.json()
    assert body["status"] == "ok" and isinstance(body["uptime_s"], float)


def test_register_returns_id_and_email_and_rejects_duplicates(url, http):
    body = {"email": "Dup@Example.com", "password": "long-enough", "name": "Dee"}
    first = http.post(f"{url}/api/v1/auth/register", json=body)
    assert first.status_code == 201
    assert first.json()["email"] == "Dup@Example.com" and isinstance(first.json()["user_id"], str)
    again = http.post(f"{url}/api/v1/auth/register", json={**body, "email": "dup@example.com"})
    assert again.status_code == 409 and "error" in again.json()


@pytest.mark.parametrize(
    "body",
    [
        {"password": "long-enough", "name": "N"},
        {"email": "a@example.com", "name": "N"},
        {"email": "a@example.com", "password": "long-enough"},
        {"email": "not-an-email", "password": "long-enough", "name": "N"},
        {"email": "a@example.com", "password": "short", "name": "N"},
        {"email": 5, "password": "long-enough", "name": "N"},
        ["not", "an", "object"],
    ],
)
def test_register_rejects_invalid_bodies(url, http, body):
    response = http.post(f"{url}/api/v1/auth/register", json=body)
    assert response.status_code == 422 and response.json()["error"]


def test_register_rejects_malformed_json(url, http):
    response = http.post(
        f"{url}/api/v1/auth/register", data=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 422


def test_login_returns_bearer_token(url, http):
    user = new_user(url, http)
    response = http.post(f"{url}/api/v1/auth/login", json={"email": user["email"], "password": "secret-pw"})
    body = response.json()
    assert response.status_code == 200
    assert body["token_type"] == "bearer" and body["expires_in"] == 3600 and body["access_token"]


@pytest.mark.parametrize("known_email", [True, False])
def test_login_rejects_bad_credentials(url, http, known_email):
    user = new_user(url, http)
    email = user["email"] if known_email else "nobody@example.com"
    response = http.post(f"{url}/api/v1/auth/login", json={"email": email, "password": "wrong-password"})
    assert response.status_code == 401 and response.json()["error"]


# --- auth required --------------------------------------------------------------------------
PROTECTED = sorted(set(ENDPOINTS) - PUBLIC)


@pytest.mark.parametrize("endpoint", PROTECTED)
@pytest.mark.parametrize("authorization", [None, "Bearer not-a-token", "Basic dXNlcjpwYXNz", "Bearer"])
def test_protected_endpoints_need_a_valid_bearer_token(url, http, endpoint, authorization):
    method, path = endpoint.split(" ")
    headers = {"Authorization": authorization} if authorization else {}
    response = http.request(method, url + path.replace("[id]", "x"), json={}, headers=headers)
    assert response.status_code == 401
    assert response.json() == {"error": "unauthorized"}


def test_every_public_endpoint_answers_without_a_token(url, http):
    for endpoint in PUBLIC:
        method, path = endpoint.split(" ")
        assert http.request(method, url + path, json={}).status_code in (200, 422)


# --- generations ----------------------------------------------------------------------------
def test_generation_moves_queued_processing_completed(url, http):
    user = new_user(url, http)
    body = {"prompt": "a red fox", "model": "m1"}
    created = http.post(f"{url}/api/v1/generations", json=body, headers=user["headers"])
    assert created.status_code == 202
    assert created.json()["status"] == "queued"
    task_url = f"{url}/api/v1/generations/{created.json()['task_id']}"
    seen = []
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        body = http.get(task_url, headers=user["headers"]).json()
        if not seen or seen[-1] != body["status"]:
            seen.append(body["status"])
        if body["status"] in ("completed", "failed"):
            break
        time.sleep(0.01)
    assert seen == ["queued", "processing", "completed"]
    assert body["prompt"] == "a red fox" and body["model"] == "m1" and body["created_at"].endswith("Z")
    assert body["result"]["text"]


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"prompt": ""},
        {"prompt": "  "},
        {"prompt": 3},
        {"prompt": "p", "model": 1},
        {"prompt": "p", "params": []},
    ],
)
def test_generation_rejects_invalid_bodies(url, http, body):
    user = new_user(url, http)
    assert http.post(f"{url}/api/v1/generations", json=body, headers=user["headers"]).status_code == 422


def test_generation_of_another_user_is_not_found(url, http):
    owner, other = new_user(url, http), new_user(url, http)
    task_id = http.post(f"{url}/api/v1/generations", json={"prompt": "p"}, headers=owner["headers"]).json()[
        "task_id"
    ]
    assert http.get(f"{url}/api/v1/generations/{task_id}", headers=other["headers"]).status_code == 404
    assert http.get(f"{url}/api/v1/generations/task_unknown", headers=owner["headers"]).status_code == 404


def test_generation_list_pages_the_callers_tasks(url, http):
    user, other = new_user(url, http), new_user(url, http)
    ids = [
        http.post(f"{url}/api/v1/generations", json={"prompt": f"p{i}"}, headers=user["headers"]).json()[
            "task_id"
        ]
        for i in range(25)
    ]
    http.post(f"{url}/api/v1/generations", json={"prompt": "not yours"}, headers=other["headers"])

    def page(query: str) -> dict:
        response = http.get(f"{url}/api/v1/generations?{query}", headers=user["headers"])
        assert response.status_code == 200
        return response.json()

    default = page("")
    assert (default["page"], default["per_page"], default["total"], len(default["items"])) == (1, 20, 25, 20)
    pages = [page(f"page={n}&per_page=10") for n in (1, 2, 3, 4)]
    assert [len(p["items"]) for p in pages] == [10, 10, 5, 0]
    assert [item["task_id"] for p in pages for item in p["items"]] == ids
    assert page("per_page=100")["total"] == 25


@pytest.mark.parametrize("query", ["page=0", "page=-1", "page=abc", "per_page=0", "per_page=101", "page=1.5"])
def test_list_rejects_bad_page_values(url, http, query):
    user = new_user(url, http)
    for route in ("generations", "payments"):
        response = http.get(f"{url}/api/v1/{route}?{query}", headers=user["headers"])
        assert response.status_code == 422 and response.json()["error"]


def test_failed_generations_with_fail_rate_one():
    proc, base = start_subprocess(
        extra_args=["--gen-queue-s", "0", "--gen-process-s", "0", "--gen-fail-rate", "1"]
    )
    try:
        with requests.Session() as http:
            user = new_user(base, http)
            task = http.post(
                f"{base}/api/v1/generations", json={"prompt": "p"}, headers=user["headers"]
            ).json()
            body = http.get(f"{base}/api/v1/generations/{task['task_id']}", headers=user["headers"]).json()
            assert body["status"] == "failed" and "result" not in body
    finally:
        stop_subprocess(proc)


# --- payments and subscriptions ------------------------------------------------------------
def test_payment_created_and_listed(url, http):
    user, other = new_user(url, http), new_user(url, http)
    payment = {"amount": 12.5, "currency": "EUR", "method": "paypal"}
    created = http.post(f"{url}/api/v1/payments", json=payment, headers=user["headers"])
    assert created.status_code == 201
    body = created.json()
    assert body["status"] == "succeeded" and body["payment_id"] and body["created_at"]
    assert {k: body[k] for k in payment} == payment
    listed = http.get(f"{url}/api/v1/payments?page=1&per_page=5", headers=user["headers"]).json()
    assert listed["total"] == 1 and listed["items"][0]["payment_id"] == body["payment_id"]
    assert http.get(f"{url}/api/v1/payments", headers=other["headers"]).json()["total"] == 0


@pytest.mark.parametrize(
    "change",
    [
        {"amount": 0},
        {"amount": -1},
        {"amount": "10"},
        {"amount": True},
        {"amount": None},
        {"currency": "usd"},
        {"currency": "US"},
        {"currency": "USDD"},
        {"method": "cash"},
        {"method": None},
    ],
)
def test_payment_rejects_invalid_bodies(url, http, change):
    user = new_user(url, http)
    body = {"amount": 10, "currency": "USD", "method": "card", **change}
    assert http.post(f"{url}/api/v1/payments", json=body, headers=user["headers"]).status_code == 422


def test_subscription_lifecycle(url, http):
    user, other = new_user(url, http), new_user(url, http)
    subs_url = f"{url}/api/v1/subscriptions"
    created = [http.post(subs_url, json={"plan": plan}, headers=user["headers"]) for plan in ("free", "pro")]
    assert [r.status_code for r in created] == [201, 201]
    sub = created[0].json()
    assert sub["plan"] == "free" and sub["status"] == "active" and sub["user_id"] == user["user_id"]
    listed = http.get(subs_url, headers=user["headers"]).json()["items"]
    assert [s["plan"] for s in listed] == ["free", "pro"]
    sub_url = f"{url}/api/v1/subscriptions/{sub['subscription_id']}"
    assert http.delete(sub_url, headers=other["headers"]).status_code == 404
    deleted = http.delete(sub_url, headers=user["headers"])
    assert deleted.status_code == 204 and deleted.content == b""
    assert http.delete(sub_url, headers=user["headers"]).status_code == 404
    assert [s["plan"] for s in http.get(subs_url, headers=user["headers"]).json()["items"]] == ["pro"]


@pytest.mark.parametrize("plan", ["gold", "", None, 1])
def test_subscription_rejects_unknown_plans(url, http, plan):
    user = new_user(url, http)
    assert (
        http.post(f"{url}/api/v1/subscriptions", json={"plan": plan}, headers=user["headers"]).status_code
        == 422
    )


# --- deleting a user ------------------------------------------------------------------------
def test_delete_user_cascades(url, http):
    user, other = new_user(url, http), new_user(url, http)
    headers = user["headers"]
    http.post(f"{url}/api/v1/generations", json={"prompt": "p"}, headers=headers)
    http.post(
        f"{url}/api/v1/payments", json={"amount": 1, "currency": "USD", "method": "card"}, headers=headers
    )
    http.post(f"{url}/api/v1/subscriptions", json={"plan": "basic"}, headers=headers)
    before = http.get(f"{url}/_sandbox/stats").json()

    user_url = f"{url}/api/v1/users/{user['user_id']}"
    assert http.delete(user_url, headers=other["headers"]).status_code == 403
    assert http.delete(f"{url}/api/v1/users/usr_unknown", headers=headers).status_code == 404
    assert http.delete(user_url, headers=headers).status_code == 204

    after = http.get(f"{url}/_sandbox/stats").json()
    assert {k: before[k] - after[k] for k in ("users", "tasks", "payments", "subscriptions")} == {
        "users": 1,
        "tasks": 1,
        "payments": 1,
        "subscriptions": 1,
    }
    assert after["tokens"] == before["tokens"] - 1
    assert http.get(f"{url}/api/v1/subscriptions", headers=headers).status_code == 401
    login = http.post(f"{url}/api/v1/auth/login", json={"email": user["email"], "password": "secret-pw"})
    assert login.status_code == 401
    body = {"email": user["email"], "password": "secret-pw", "name": "U"}
    again = http.post(f"{url}/api/v1/auth/register", json=body)
    assert again.status_code == 201


def test_concurrent_requests_keep_state_consistent(url):
    body = {"email": "race@example.com", "password": "secret-pw", "name": "R"}

    def register(_: int) -> int:
        return requests.post(f"{url}/api/v1/auth/register", json=body, timeout=10).status_code

    with ThreadPoolExecutor(max_workers=16) as pool:
        codes = sorted(pool.map(register, range(32)))
    assert codes == [201] + [409] * 31

    with requests.Session() as http:
        user = new_user(url, http)

    def create_task(i: int) -> int:
        body = {"prompt": f"p{i}"}
        return requests.post(
            f"{url}/api/v1/generations", json=body, headers=user["headers"], timeout=10
        ).status_code

    with ThreadPoolExecutor(max_workers=16) as pool:
        assert set(pool.map(create_task, range(40))) == {202}
    listed = requests.get(
        f"{url}/api/v1/generations?per_page=100", headers=user["headers"], timeout=10
    ).json()
    assert listed["total"] == 40 and len({item["task_id"] for item in listed["items"]}) == 40


# --- routing errors ---------------------------------------------------------------------
def test_unknown_route_is_json_404(url, http):
    response = http.get(f"{url}/api/v1/nothing-here")
    assert response.status_code == 404 and response.json() == {"error": "not found"}


def test_wrong_method_is_json_405_with_allow(url, http):
    response = http.put(f"{url}/api/v1/payments")
    assert response.status_code == 405 and response.json() == {"error": "method not allowed"}
    assert {"GET", "POST"} <= set(response.headers["Allow"].replace(" ", "").split(","))


def test_oversized_body_is_json_413(url, http):
    response = http.post(f"{url}/api/v1/auth/register", data=b"x" * (1024 * 1024 + 1))
    assert response.status_code == 413 and response.json()["error"]


def test_tokens_expire_after_an_hour_and_are_dropped():
    now = [1000.0]
    store = Store(clock=lambda: now[0])
    user = store.register("t@example.com", "secret-pw", "T")
    token = store.login("t@example.com", "secret-pw")
    now[0] += TOKEN_TTL_S - 1
    assert store.user_for_token(token) == user.user_id
    now[0] += 1
    assert store.user_for_token(token) is None
    store.login("t@example.com", "secret-pw")  # a later login sweeps the expired one
    assert store.counts()["tokens"] == 1


# --- the server process -------------------------------------------------------------------
def test_start_subprocess_reports_a_loopback_url_on_a_free_port(url):
    host, port = url.removeprefix("http://").rsplit(":", 1)
    assert host == "127.0.0.1" and int(port) > 0


@pytest.mark.slow  # a wall-clock timing
def test_keep_alive_requests_are_not_delayed_by_nagle(url, http):
    http.get(f"{url}/health")  # open the connection first
    took_ms = []
    for _ in range(50):
        started = time.perf_counter()
        assert http.get(f"{url}/health").status_code == 200
        took_ms.append((time.perf_counter() - started) * 1000)
    # Without TCP_NODELAY every answer waits ~40 ms for a delayed ACK; the median ignores the few
    # requests a loaded machine holds up.
    median_ms = sorted(took_ms)[len(took_ms) // 2]
    assert median_ms < 15, f"median {median_ms:.1f} ms per keep-alive request"


def _sandbox_cli(*args: str, timeout: float = 15) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "harness.sandbox", *args], capture_output=True, text=True, timeout=timeout
    )


def test_port_in_use_is_one_line_exit_2():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = _sandbox_cli("--port", str(port))
        assert result.returncode == 2
        assert result.stdout == ""
        expected = f"harness: error: sandbox cannot listen on 127.0.0.1:{port}: Address already in use"
        assert result.stderr.splitlines() == [expected]
        with pytest.raises(
            HarnessError, match="exited with code 2 before listening: .*Address already in use"
        ):
            start_subprocess(port=port)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_stops_cleanly_with_exit_0(sig):
    proc = subprocess.Popen(
        [sys.executable, "-m", "harness.sandbox", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = proc.stdout.readline()
        assert line.startswith("sandbox listening on http://127.0.0.1:")
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=10)
    finally:
        proc.kill()
    assert proc.returncode == 0
    assert out == "" and "Traceback" not in err


def test_command_registers_as_harness_sandbox():
    parser = argparse.ArgumentParser()
    sandbox_command.register(parser.add_subparsers())
    args = parser.parse_args(
        ["sandbox", "--port", "0", "--fault", "auth:latency_ms=5", "--fault", "all:error_rate=0"]
    )
    assert args.func is sandbox_command.run
    assert (args.host, args.port, args.fault) == ("127.0.0.1", 0, ["auth:latency_ms=5", "all:error_rate=0"])
    assert (args.gen_queue_s, args.gen_process_s, args.gen_fail_rate, args.access_log) == (
        0.2,
        0.5,
        0.0,
        False,
    )


@pytest.mark.parametrize(
    "args,message",
    [
        (["--gen-fail-rate", "1.5"], "--gen-fail-rate 1.5 is out of range 0..1"),
        (["--gen-queue-s", "-1"], "--gen-queue-s -1.0 is out of range 0..3600"),
        (["--port", "70000"], "--port 70000 is out of range 0..65535"),
    ],
)
def test_bad_numbers_are_one_line_exit_2(args, message):
    result = _sandbox_cli(*args)
    assert result.returncode == 2
    assert result.stderr.splitlines() == [f"harness: error: {message}"]
