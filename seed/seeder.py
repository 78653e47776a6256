"""Create the generated users and their subscriptions through the target's own API.

Threads, not gevent: `harness seed` runs without Locust's monkey-patching, and a pool of
blocking requests.Sessions is the simplest way to keep a bounded number of connections busy.
(Inside a monkey-patched process the same threads become greenlets and still work.)
"""

from __future__ import annotations

import os
import secrets
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, wait
from datetime import datetime, timezone
from pathlib import Path

from seed.client import TargetClient, TargetUnreachable, UnexpectedStatus, normalize_host
from seed.errors import SeedError
from seed.generator import UserSpec, generate_users
from seed.manifest import Manifest, ManifestWriter, SeededSubscription, SeededUser, load_manifest
from seed.markers import validate_run_id

# Loopback seeding is CPU-bound at any concurrency; against a target 20 ms away 8 connections
# took about 10 s for 1,000 users and 16 about 5.5 s (bench/README.md, "Seeding").
DEFAULT_CONCURRENCY = 16
MAX_CONCURRENCY = 64

# Called with (users created so far, users requested) after each user is registered.
ProgressCallback = Callable[[int, int], None]


def random_seed() -> int:
    return secrets.randbelow(2**31)


class _Stop(Exception):
    """Another worker failed: this one leaves without starting new requests."""


class DataSeeder:
    """Seeds `users` users for one run and keeps `manifest_path` listing what exists."""

    def __init__(
        self,
        host: str,
        run_id: str,
        *,
        users: int,
        manifest_path: str | os.PathLike,
        seed: int | None = None,
        concurrency: int = DEFAULT_CONCURRENCY,
        on_progress: ProgressCallback | None = None,
    ):
        self.host = normalize_host(host)
        self.run_id = validate_run_id(run_id)
        if not isinstance(users, int) or users < 1:
            raise SeedError(f"number of users must be a whole number >= 1, got {users!r}")
        if not isinstance(concurrency, int) or not 1 <= concurrency <= MAX_CONCURRENCY:
            raise SeedError(f"concurrency must be 1-{MAX_CONCURRENCY}, got {concurrency!r}")
        self.users = users
        self.seed = random_seed() if seed is None else int(seed)
        self.concurrency = concurrency
        self.manifest_path = Path(manifest_path)
        self.on_progress = on_progress
        self._stop = threading.Event()
        self._errors: list[Exception] = []
        self._local = threading.local()
        self._clients: list[TargetClient] = []
        self._clients_lock = threading.Lock()
        self._created = 0

    def run(self) -> Manifest:
        """Create everything; on the first failure stop, leave the manifest of what exists on
        disk and raise SeedError saying how to clean it up."""
        self._check_manifest_path()
        specs = generate_users(self.run_id, self.users, self.seed)
        preflight = TargetClient(self.host)
        try:
            preflight.health()
        except (TargetUnreachable, UnexpectedStatus) as exc:
            raise SeedError(f"target not ready, nothing seeded: {exc}") from None
        finally:
            preflight.close()

        created_at = datetime.now(timezone.utc).isoformat(timespec="seconds")
        manifest = Manifest(self.run_id, self.host, self.seed, created_at)
        writer = ManifestWriter(self.manifest_path, manifest)
        self._flush(writer, complete=False)  # the file exists before the first user does
        try:
            self._run_workers(specs, writer)
        finally:
            for client in self._clients:
                client.close()
            self._flush(writer, complete=not self._errors and not self._stop.is_set())
        return manifest

    def _flush(self, writer: ManifestWriter, complete: bool) -> None:
        try:
            writer.flush(complete=complete)
        except OSError as exc:
            raise SeedError(f"cannot write manifest {self.manifest_path}: {exc.strerror}") from None

    def _check_manifest_path(self) -> None:
        if not self.manifest_path.parent.is_dir():
            raise SeedError(f"manifest directory {self.manifest_path.parent} does not exist")
        if self.manifest_path.exists():
            # Overwriting a manifest that lists users would orphan them: nothing else
            # records their passwords, so they could never be cleaned up.
            try:
                listed = len(load_manifest(self.manifest_path).users)
            except SeedError:
                listed = -1
            if listed != 0:
                raise SeedError(
                    f"manifest {self.manifest_path} already exists; run harness cleanup with it "
                    "and delete it, or choose another --manifest path"
                )

    def _run_workers(self, specs: list[UserSpec], writer: ManifestWriter) -> None:
        pool = ThreadPoolExecutor(max_workers=self.concurrency, thread_name_prefix="seed")
        try:
            futures = [pool.submit(self._seed_one, spec, writer) for spec in specs]
            wait(futures)
        except BaseException:
            # Ctrl-C: let in-flight users finish recording, start no new ones.
            self._stop.set()
            raise
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
        if self._errors:
            raise self._failure(writer)

    def _failure(self, writer: ManifestWriter) -> SeedError:
        first = self._errors[0]
        listed = len(writer.manifest.users)
        return SeedError(
            f"seeding stopped after {listed} of {self.users} users: {first}; "
            f"{self.manifest_path} lists what was created, remove it with "
            f"`harness cleanup --host {self.host} --manifest {self.manifest_path}`"
        )

    def _client(self) -> TargetClient:
        client = getattr(self._local, "client", None)
        if client is None:
            client = self._local.client = TargetClient(self.host)
            with self._clients_lock:
                self._clients.append(client)
        return client

    def _seed_one(self, spec: UserSpec, writer: ManifestWriter) -> None:
        try:
            self._check_stop()
            self._create(spec, writer)
        except _Stop:
            pass
        except (TargetUnreachable, UnexpectedStatus) as exc:
            self._fail(exc)
        except Exception as exc:  # noqa: BLE001 - a bug or a surprise: still stop cleanly, keep the manifest
            self._fail(RuntimeError(f"{type(exc).__name__}: {exc}"))

    def _create(self, spec: UserSpec, writer: ManifestWriter) -> None:
        client = self._client()
        try:
            user_id = client.register(spec.email, spec.password, spec.name)
        except UnexpectedStatus as exc:
            if exc.status == 409:
                raise UnexpectedStatus(
                    "POST",
                    "/api/v1/auth/register",
                    409,
                    f"already registered: run id {self.run_id!r} was seeded before; "
                    "clean that run up or choose another --run-id",
                    spec.email,
                ) from None
            raise
        writer.add_user(spec.n, SeededUser(spec.email, spec.password, user_id, spec.name))
        self._progress()
        self._check_stop()
        token = client.login(spec.email, spec.password)
        if token is None:
            raise UnexpectedStatus("POST", "/api/v1/auth/login", 401, "just registered", spec.email)
        for plan in spec.plans:
            self._check_stop()
            sub_id = client.create_subscription(token, plan, spec.email)
            writer.add_subscription(spec.email, SeededSubscription(sub_id, plan))

    def _progress(self) -> None:
        if self.on_progress is None:
            return
        with self._clients_lock:
            self._created += 1
            created = self._created
        self.on_progress(created, self.users)

    def _check_stop(self) -> None:
        if self._stop.is_set():
            raise _Stop()

    def _fail(self, exc: Exception) -> None:
        with self._clients_lock:
            self._errors.append(exc)
        self._stop.set()


def seed_users(
    host: str,
    run_id: str,
    users: int,
    manifest_path: str | os.PathLike,
    seed: int | None = None,
    concurrency: int = DEFAULT_CONCURRENCY,
    on_progress: ProgressCallback | None = None,
) -> Manifest:
    """The API `harness run` calls before a test: seed and return the manifest (also on disk)."""
    seeder = DataSeeder(
        host,
        run_id,
        users=users,
        manifest_path=manifest_path,
        seed=seed,
        concurrency=concurrency,
        on_progress=on_progress,
    )
    return seeder.run()
