"""Delete exactly what a manifest lists, through the target's API, as each seeded user.

Idempotent by design: a user whose login is refused (401) or a record that answers 404 is
already gone, which is the state cleanup wants, so a second run reports everything gone and
succeeds. The manifest itself is left untouched: it is the record of what to check.
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass, field

from seed.client import TargetClient, TargetUnreachable, UnexpectedStatus, normalize_host
from seed.errors import SeedError
from seed.manifest import SeededUser, load_manifest
from seed.seeder import DEFAULT_CONCURRENCY, MAX_CONCURRENCY


@dataclass
class CleanupReport:
    users_removed: int = 0
    subscriptions_removed: int = 0
    users_already_gone: int = 0
    subscriptions_already_gone: int = 0
    failures: list[str] = field(default_factory=list)  # one line per record left in place

    @property
    def all_gone(self) -> bool:
        return not self.failures

    @property
    def already_gone(self) -> int:
        return self.users_already_gone + self.subscriptions_already_gone

    def summary(self) -> str:
        gone = f"{self.already_gone} already gone"
        if self.already_gone:
            gone += f" ({self.users_already_gone} users, {self.subscriptions_already_gone} subscriptions)"
        text = f"removed {self.users_removed} users, {self.subscriptions_removed} subscriptions; {gone}"
        if self.failures:
            text += f"; {len(self.failures)} users could not be removed"
        return text


class _Cleaner:
    def __init__(self, host: str, concurrency: int):
        self.host = host
        self.concurrency = concurrency
        self.report = CleanupReport()
        self._lock = threading.Lock()
        self._local = threading.local()
        self._clients: list[TargetClient] = []
        self._unreachable: TargetUnreachable | None = None
        self._stop = threading.Event()

    def run(self, users: list[SeededUser]) -> CleanupReport:
        pool = ThreadPoolExecutor(max_workers=self.concurrency, thread_name_prefix="cleanup")
        try:
            wait([pool.submit(self._remove_user, user) for user in users])
        except BaseException:
            # Ctrl-C: finish the users in flight, start no new ones.
            self._stop.set()
            raise
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
            for client in self._clients:
                client.close()
        if self._unreachable is not None:
            raise self._unreachable
        return self.report

    def _client(self) -> TargetClient:
        client = getattr(self._local, "client", None)
        if client is None:
            client = self._local.client = TargetClient(self.host)
            with self._lock:
                self._clients.append(client)
        return client

    def _count(self, **increments: int) -> None:
        with self._lock:
            for name, amount in increments.items():
                setattr(self.report, name, getattr(self.report, name) + amount)

    def _remove_user(self, user: SeededUser) -> None:
        if self._stop.is_set():
            return
        try:
            self._remove(user)
        except TargetUnreachable as exc:
            with self._lock:
                self._unreachable = self._unreachable or exc
            self._stop.set()
        except UnexpectedStatus as exc:
            with self._lock:
                self.report.failures.append(str(exc))
        except Exception as exc:  # noqa: BLE001 - keep going: one odd record must not strand the others
            with self._lock:
                self.report.failures.append(f"{user.email}: {type(exc).__name__}: {exc}")

    def _remove(self, user: SeededUser) -> None:
        client = self._client()
        token = client.login(user.email, user.password)
        if token is None:
            # Deleting a user cascades to its subscriptions, so both are gone.
            self._count(users_already_gone=1, subscriptions_already_gone=len(user.subscriptions))
            return
        for sub in user.subscriptions:
            path = f"/api/v1/subscriptions/{sub.subscription_id}"
            if client.delete(token, path, user.email):
                self._count(subscriptions_removed=1)
            else:
                self._count(subscriptions_already_gone=1)
        if client.delete(token, f"/api/v1/users/{user.user_id}", user.email):
            self._count(users_removed=1)
        else:
            self._count(users_already_gone=1)


def cleanup(
    host: str | None,
    manifest_path: str | os.PathLike,
    concurrency: int = DEFAULT_CONCURRENCY,
) -> CleanupReport:
    """Remove every user and subscription the manifest lists from host (default: the host
    the manifest was seeded on). Raises SeedError when the target cannot be reached; a
    record the target refuses to delete is listed in report.failures instead."""
    manifest = load_manifest(manifest_path)
    target = normalize_host(host or manifest.host)
    if not 1 <= concurrency <= MAX_CONCURRENCY:
        raise SeedError(f"concurrency must be 1-{MAX_CONCURRENCY}, got {concurrency!r}")
    cleaner = _Cleaner(target, concurrency)
    try:
        return cleaner.run(manifest.users)
    except TargetUnreachable as exc:
        done = cleaner.report
        raise SeedError(
            f"{exc}; cleanup stopped ({done.users_removed} users removed so far), "
            f"run it again when the target is back; {manifest_path} is unchanged"
        ) from None
