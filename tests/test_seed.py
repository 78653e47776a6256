"""Seeding and cleanup: generated data, the manifest, the feeder, and the CLI against a real
sandbox on 127.0.0.1 (each seeding here is bounded to at most 200 users)."""

from __future__ import annotations

import json
import socket
import threading
from collections import Counter

import pytest
import requests

from harness import cli
from seed import (
    CredentialFeeder,
    DataSeeder,
    Manifest,
    SeededSubscription,
    SeededUser,
    cleanup,
    feeder_from_env,
    generate_users,
    load_credentials,
    load_manifest,
)
from seed.errors import SeedError
from seed.generator import PLANS
from seed.manifest import ManifestWriter, render, write_atomically
from seed.markers import is_marked_email, validate_run_id

LOGIN = "/api/v1/auth/login"


def run_cli(argv: list[str], capsys) -> tuple[int, str, str]:
    code = cli.main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def can_log_in(url: str, email: str, password: str) -> bool:
    resp = requests.post(url + LOGIN, json={"email": email, "password": password}, timeout=10)
    assert resp.status_code in (200, 401), resp.text
    return resp.status_code == 200


def make_manifest(run_id: str = "r1", users: int = 2) -> Manifest:
    manifest = Manifest(run_id, "http://127.0.0.1:1", 7, "2025-01-01T00:00:00+00:00")
    for spec in generate_users(run_id, users, 7):
        user = SeededUser(spec.email, spec.password, f"u{spec.n}", spec.name)
        user.subscriptions.append(SeededSubscription(f"s{spec.n}", spec.plans[0]))
        manifest.users.append(user)
    return manifest


# --- generated data -------------------------------------------------------------------------


def test_same_seed_and_run_id_give_the_same_records():
    assert generate_users("run-a", 30, seed=42) == generate_users("run-a", 30, seed=42)


def test_other_seed_or_run_id_give_other_records():
    base = generate_users("run-a", 30, seed=42)
    passwords = {u.password for u in base}
    assert passwords.isdisjoint(u.password for u in generate_users("run-a", 30, seed=43))
    assert passwords.isdisjoint(u.password for u in generate_users("run-b", 30, seed=42))


def test_fewer_users_are_a_prefix_of_more_users():
    assert generate_users("r", 5, seed=1) == generate_users("r", 50, seed=1)[:5]


def test_every_record_carries_the_run_marker_and_valid_fields():
    users = generate_users("run_7", 200, seed=3)
    assert len({u.email for u in users}) == 200
    for u in users:
        assert u.email == f"lt-run_7-{u.n}@loadtest.invalid"
        assert is_marked_email("run_7", u.email)
        assert u.name.startswith("[lt-run_7] ") and len(u.name) > len("[lt-run_7] ")
        assert len(u.password) >= 8
        assert 1 <= len(u.plans) <= 3 and set(u.plans) <= set(PLANS)
    # A realistic mix, not one plan for everybody.
    assert len(Counter(p for u in users for p in u.plans)) == len(PLANS)
    assert any(len(u.plans) > 1 for u in users)


def test_marker_check_rejects_foreign_addresses():
    assert not is_marked_email("r1", "alice@example.com")
    assert not is_marked_email("r1", "lt-r2-1@loadtest.invalid")
    assert not is_marked_email("r1", "lt-r1-1@loadtest.invalid.example.com")


@pytest.mark.parametrize("bad", ["", "-x", "a b", "a@b", "a:b", "x" * 49, "a..b", "a."])
def test_unusable_run_ids_are_refused(bad):
    with pytest.raises(SeedError, match="run id"):
        validate_run_id(bad)


def test_harness_run_ids_are_usable_markers():
    from harness.runid import new_run_id

    for run_id in (new_run_id(), "release-1.2_b", "x" * 48):
        assert validate_run_id(run_id) == run_id
        assert is_marked_email(run_id, generate_users(run_id, 1, seed=0)[0].email)


# --- manifest -------------------------------------------------------------------------------


def test_manifest_round_trips_through_its_file(tmp_path):
    manifest = make_manifest(users=3)
    path = tmp_path / "m.json"
    write_atomically(path, render(manifest))
    assert load_manifest(path) == manifest
    data = json.loads(path.read_text())
    assert set(data) >= {"run_id", "host", "seed", "created_at", "users"}
    assert set(data["users"][0]) == {"email", "password", "user_id", "name", "subscriptions"}
    assert set(data["users"][0]["subscriptions"][0]) == {"subscription_id", "plan"}


def test_writer_keeps_the_file_a_few_records_behind_and_leaves_no_temp_files(tmp_path):
    path = tmp_path / "m.json"
    writer = ManifestWriter(path, Manifest("r1", "http://h", 1, "t"), flush_every=5)
    for spec in generate_users("r1", 12, 1):
        writer.add_user(spec.n, SeededUser(spec.email, spec.password, str(spec.n), spec.name))
    assert len(load_manifest(path).users) == 10  # flushed at 5 and 10
    writer.flush(complete=True)
    final = load_manifest(path)
    assert len(final.users) == 12 and final.complete
    assert [p.name for p in tmp_path.iterdir()] == ["m.json"]


@pytest.mark.parametrize(
    "content, message",
    [
        (None, "does not exist"),
        ("{not json", "not valid JSON"),
        ('{"run_id": "r1"}', "not a seed manifest"),
    ],
)
def test_unreadable_manifests_are_one_line_errors(tmp_path, content, message):
    path = tmp_path / "m.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(SeedError, match=message) as caught:
        load_manifest(path)
    assert "\n" not in str(caught.value)


def test_a_manifest_listing_unmarked_users_is_refused(tmp_path):
    manifest = make_manifest()
    manifest.users[0].email = "real.customer@example.com"
    path = tmp_path / "m.json"
    write_atomically(path, render(manifest))
    with pytest.raises(SeedError, match="real.customer@example.com.*lacks the load-test marker"):
        cleanup(None, path)


# --- feeder ---------------------------------------------------------------------------------


def test_feeder_cycles_through_the_manifest_users(tmp_path):
    path = tmp_path / "m.json"
    write_atomically(path, render(make_manifest(users=3)))
    creds = load_credentials(path)
    assert creds == [(u.email, u.password) for u in make_manifest(users=3).users]
    feeder = CredentialFeeder(creds)
    assert [feeder.next() for _ in range(7)] == creds + creds + creds[:1]


def test_feeder_shared_by_threads_hands_out_each_user_equally():
    creds = [(f"u{i}", "pw") for i in range(10)]
    feeder = CredentialFeeder(creds)
    got: list[tuple[str, str]] = []
    lock = threading.Lock()

    def take() -> None:
        mine = [next(feeder) for _ in range(1000)]
        with lock:
            got.extend(mine)

    threads = [threading.Thread(target=take) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert Counter(email for email, _ in got) == {f"u{i}": 800 for i in range(10)}


def test_feeder_from_env(tmp_path):
    assert feeder_from_env({}) is None
    path = tmp_path / "m.json"
    write_atomically(path, render(make_manifest(users=2)))
    feeder = feeder_from_env({"SEED_MANIFEST": str(path)})
    assert feeder is not None and len(feeder) == 2
    write_atomically(path, render(make_manifest(users=0)))
    with pytest.raises(SeedError, match="lists no users"):
        feeder_from_env({"SEED_MANIFEST": str(path)})


# --- CLI input errors (no server) -----------------------------------------------------------


@pytest.mark.parametrize(
    "argv, message",
    [
        (["seed", "--host", "http://127.0.0.1:1", "--users", "abc", "--manifest", "m.json"], "--users"),
        (["seed", "--host", "http://127.0.0.1:1", "--users", "0", "--manifest", "m.json"], "--users"),
        (["seed", "--host", "127.0.0.1:8089", "--users", "5", "--manifest", "m.json"], "--host"),
        (["seed", "--host", "http://h", "--users", "5", "--manifest", "m.json", "--seed", "x"], "--seed"),
        (["seed", "--host", "http://h", "--users", "5", "--manifest", "m.json", "--run-id", "a b"], "run id"),
        (["cleanup", "--manifest", "does-not-exist.json"], "does not exist"),
    ],
)
def test_bad_cli_input_is_one_line_exit_2(argv, message, capsys, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    code, _, err = run_cli(argv, capsys)
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("harness: error:") and message in err
    assert not (tmp_path / "m.json").exists()


def test_seed_against_an_unreachable_host_is_one_line_exit_2(capsys, tmp_path):
    host = f"http://127.0.0.1:{free_port()}"
    argv = ["seed", "--host", host, "--users", "5", "--manifest", str(tmp_path / "m.json")]
    code, _, err = run_cli(argv, capsys)
    assert code == 2
    assert err.count("\n") == 1 and "cannot reach" in err and "nothing seeded" in err


# --- against the sandbox ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def sandbox():
    from harness.sandbox.process import start_subprocess, stop_subprocess

    proc, url = start_subprocess(port=0)
    try:
        yield url
    finally:
        stop_subprocess(proc)


def test_seed_then_cleanup_then_cleanup_again(sandbox, capsys, tmp_path):
    path = tmp_path / "m.json"
    argv = [
        "seed",
        "--host",
        sandbox,
        "--users",
        "40",
        "--manifest",
        str(path),
        "--seed",
        "7",
        "--run-id",
        "cli-1",
    ]
    code, out, err = run_cli(argv, capsys)
    assert (code, err) == (0, "")
    manifest = load_manifest(path)
    subs = manifest.subscription_count
    assert manifest.complete and len(manifest.users) == 40 and subs >= 40
    assert f"seeded 40 users, {subs} subscriptions" in out
    # The manifest is what the seed promised: the generated records, in order.
    expected = generate_users("cli-1", 40, seed=7)
    assert [(u.email, u.password, u.name) for u in manifest.users] == [
        (s.email, s.password, s.name) for s in expected
    ]
    assert [[s.plan for s in u.subscriptions] for u in manifest.users] == [list(s.plans) for s in expected]
    assert all(can_log_in(sandbox, e, p) for e, p in load_credentials(path))

    # The target holds the subscriptions the manifest lists.
    first = manifest.users[0]
    token = requests.post(
        sandbox + LOGIN, json={"email": first.email, "password": first.password}, timeout=10
    ).json()["access_token"]
    listed = requests.get(
        sandbox + "/api/v1/subscriptions", timeout=10, headers={"Authorization": f"Bearer {token}"}
    ).json()
    text = json.dumps(listed)
    assert all(s.subscription_id in text for s in first.subscriptions)

    code, out, err = run_cli(["cleanup", "--host", sandbox, "--manifest", str(path)], capsys)
    assert (code, err) == (0, "")
    assert out.strip() == f"removed 40 users, {subs} subscriptions; 0 already gone"
    assert not any(can_log_in(sandbox, e, p) for e, p in load_credentials(path))

    code, out, err = run_cli(["cleanup", "--manifest", str(path)], capsys)
    assert (code, err) == (0, "")
    assert out.strip() == (
        f"removed 0 users, 0 subscriptions; {40 + subs} already gone (40 users, {subs} subscriptions)"
    )


def test_registration_failing_half_way_leaves_a_manifest_of_exactly_what_exists(sandbox, tmp_path):
    path = tmp_path / "m.json"
    faults = sandbox + "/_sandbox/faults"

    def break_registration(created: int, requested: int) -> None:
        if created == 10:
            body = {"faults": ["POST /api/v1/auth/register:error_rate=1"]}
            requests.put(faults, json=body, timeout=10).raise_for_status()

    seeder = DataSeeder(
        sandbox, "half", users=200, seed=5, concurrency=4, manifest_path=path, on_progress=break_registration
    )
    try:
        with pytest.raises(SeedError) as caught:
            seeder.run()
    finally:
        requests.put(faults, json={"faults": []}, timeout=10).raise_for_status()
    message = str(caught.value)
    assert "\n" not in message
    assert "seeding stopped after" in message and "POST /api/v1/auth/register" in message
    assert "harness cleanup" in message and str(path) in message

    manifest = load_manifest(path)
    listed = {u.email for u in manifest.users}
    assert not manifest.complete and 10 <= len(listed) < 200
    # Exactly the users that exist on the target, no more and no fewer.
    for spec in generate_users("half", 200, seed=5):
        assert can_log_in(sandbox, spec.email, spec.password) == (spec.email in listed), spec.email

    report = cleanup(sandbox, path)
    assert report.all_gone and report.users_removed == len(listed)
    assert not any(can_log_in(sandbox, e, p) for e, p in manifest.credentials())


def test_seeding_refuses_to_overwrite_a_manifest_or_reuse_a_run_id(sandbox, tmp_path):
    first = tmp_path / "first.json"
    DataSeeder(sandbox, "dup", users=3, seed=1, manifest_path=first).run()
    before = first.read_text()
    with pytest.raises(SeedError, match="already exists"):
        DataSeeder(sandbox, "other", users=3, seed=1, manifest_path=first).run()
    assert first.read_text() == before

    second = tmp_path / "second.json"
    with pytest.raises(SeedError, match="already registered.*another --run-id"):
        DataSeeder(sandbox, "dup", users=3, seed=1, manifest_path=second, concurrency=1).run()
    assert load_manifest(second).users == []
    assert cleanup(sandbox, first).users_removed == 3


def test_target_going_down_mid_seed_keeps_the_partial_manifest(tmp_path, capsys):
    from harness.sandbox.process import start_subprocess, stop_subprocess

    proc, url = start_subprocess(port=0)
    path = tmp_path / "m.json"

    def kill_target(created: int, requested: int) -> None:
        if created == 10:
            stop_subprocess(proc)

    seeder = DataSeeder(
        url, "down", users=200, seed=2, concurrency=2, manifest_path=path, on_progress=kill_target
    )
    try:
        with pytest.raises(SeedError, match="cannot reach") as caught:
            seeder.run()
    finally:
        stop_subprocess(proc)
    assert "\n" not in str(caught.value)
    manifest = load_manifest(path)
    assert not manifest.complete and 10 <= len(manifest.users) < 200

    # Cleanup against the dead target: one line, exit 2, the manifest unchanged.
    before = path.read_text()
    code, out, err = run_cli(["cleanup", "--manifest", str(path)], capsys)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and "cannot reach" in err and "run it again" in err
    assert path.read_text() == before


def test_cleanup_that_the_target_refuses_fails_and_a_rerun_finishes(sandbox, tmp_path, capsys):
    path = tmp_path / "m.json"
    manifest = DataSeeder(sandbox, "refused", users=5, seed=4, manifest_path=path).run()
    subs = manifest.subscription_count
    faults = sandbox + "/_sandbox/faults"
    requests.put(
        faults, json={"faults": ["DELETE /api/v1/subscriptions/[id]:error_rate=1"]}, timeout=10
    ).raise_for_status()
    try:
        code, out, err = run_cli(["cleanup", "--manifest", str(path)], capsys)
    finally:
        requests.put(faults, json={"faults": []}, timeout=10).raise_for_status()
    assert code == 2
    assert out.strip() == "removed 0 users, 0 subscriptions; 0 already gone; 5 users could not be removed"
    assert err.count("\n") == 1 and "5 users may still be on the target" in err and "again" in err
    assert all(can_log_in(sandbox, e, p) for e, p in manifest.credentials())

    code, out, _ = run_cli(["cleanup", "--manifest", str(path)], capsys)
    assert code == 0 and out.strip() == f"removed 5 users, {subs} subscriptions; 0 already gone"
