"""The manifest: the list of every record a seeding created, which is all cleanup deletes.

It is rewritten while records are created (temp file + os.replace, so a reader never sees
half a file), so a seeding stopped half-way leaves a manifest of what exists.
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path

from seed.errors import SeedError
from seed.markers import is_marked_email

# Rewrites are whole-file; every 10 changes bounds both the cost (0.13 s in all for 1,000 users)
# and what a hard kill (SIGKILL, power loss) can leave unlisted.
FLUSH_EVERY = 10


@dataclass
class SeededSubscription:
    subscription_id: str
    plan: str


@dataclass
class SeededUser:
    email: str
    password: str
    user_id: str
    name: str
    subscriptions: list[SeededSubscription] = field(default_factory=list)


@dataclass
class Manifest:
    run_id: str
    host: str
    seed: int
    created_at: str  # ISO 8601, UTC
    users: list[SeededUser] = field(default_factory=list)
    complete: bool = False  # True once every requested user and subscription exists

    @property
    def subscription_count(self) -> int:
        return sum(len(u.subscriptions) for u in self.users)

    def credentials(self) -> list[tuple[str, str]]:
        return [(u.email, u.password) for u in self.users]


def user_line(user: SeededUser) -> str:
    return "  " + json.dumps(
        {
            "email": user.email,
            "password": user.password,
            "user_id": user.user_id,
            "name": user.name,
            "subscriptions": [
                {"subscription_id": s.subscription_id, "plan": s.plan} for s in user.subscriptions
            ],
        }
    )


def render(manifest: Manifest, lines: list[str] | None = None) -> str:
    """JSON with one user per line: readable, diffable, and encoded by json's fast C path
    (indent= would switch to the pure-Python encoder, 10x slower on every rewrite).
    lines, when given, are the users already rendered by user_line, in manifest order."""
    header = {
        "run_id": manifest.run_id,
        "host": manifest.host,
        "seed": manifest.seed,
        "created_at": manifest.created_at,
        "complete": manifest.complete,
    }
    if lines is None:
        lines = [user_line(u) for u in manifest.users]
    body = "[\n" + ",\n".join(lines) + "\n]" if lines else "[]"
    return json.dumps(header)[:-1] + f', "users": {body}}}\n'


def write_atomically(path: Path, text: str) -> None:
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent or ".", prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def load_manifest(path: str | os.PathLike) -> Manifest:
    """Read and check a manifest; every problem is a one-line SeedError naming the file."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SeedError(f"manifest {path} does not exist") from None
    except OSError as exc:
        raise SeedError(f"cannot read manifest {path}: {exc.strerror}") from None
    except ValueError as exc:
        raise SeedError(f"manifest {path} is not valid JSON: {exc}") from None
    try:
        manifest = Manifest(
            run_id=str(data["run_id"]),
            host=str(data["host"]),
            seed=int(data["seed"]),
            created_at=str(data["created_at"]),
            complete=bool(data.get("complete", False)),
            users=[
                SeededUser(
                    email=str(u["email"]),
                    password=str(u["password"]),
                    user_id=str(u["user_id"]),
                    name=str(u.get("name", "")),
                    subscriptions=[
                        SeededSubscription(str(s["subscription_id"]), str(s["plan"]))
                        for s in u.get("subscriptions", [])
                    ],
                )
                for u in data["users"]
            ],
        )
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise SeedError(f"manifest {path} is not a seed manifest (bad or missing {exc})") from None
    for user in manifest.users:
        # The guard that makes cleanup unable to touch data it did not create, even when
        # pointed at a hand-edited or foreign file.
        if not is_marked_email(manifest.run_id, user.email):
            raise SeedError(
                f"manifest {path} lists {user.email!r}, which lacks the load-test marker of "
                f"run {manifest.run_id!r}; refusing to use it"
            )
    return manifest


class ManifestWriter:
    """Records created users and subscriptions from many worker threads and keeps the file
    on disk at most FLUSH_EVERY changes behind."""

    def __init__(self, path: str | os.PathLike, manifest: Manifest, flush_every: int = FLUSH_EVERY):
        self.path = Path(path)
        self.manifest = manifest
        self._flush_every = flush_every
        self._pending = 0
        self._lock = threading.Lock()
        self._by_email: dict[str, SeededUser] = {}
        self._order: dict[str, int] = {}
        # Each user's JSON line, re-encoded only when that user changes: re-encoding every
        # user on every rewrite made the writes cost as much as the seeding itself.
        self._lines: dict[str, str] = {}

    def add_user(self, n: int, user: SeededUser) -> None:
        with self._lock:
            self._by_email[user.email] = user
            self._order[user.email] = n
            self._lines[user.email] = user_line(user)
            self.manifest.users.append(user)
            self._changed()

    def add_subscription(self, email: str, subscription: SeededSubscription) -> None:
        with self._lock:
            user = self._by_email[email]
            user.subscriptions.append(subscription)
            self._lines[email] = user_line(user)
            self._changed()

    def flush(self, complete: bool | None = None) -> None:
        with self._lock:
            if complete is not None:
                self.manifest.complete = complete
            self._write()

    def _changed(self) -> None:
        self._pending += 1
        if self._pending >= self._flush_every:
            self._write()

    def _write(self) -> None:
        # Workers finish out of order; listing users by their number keeps the file stable
        # for a given seed.
        self.manifest.users.sort(key=lambda u: self._order.get(u.email, 0))
        lines = [self._lines[u.email] for u in self.manifest.users]
        write_atomically(self.path, render(self.manifest, lines))
        self._pending = 0
