"""Seeded credentials for Locust users: each simulated user logs in as the next seeded one.

The locustfile reads the manifest named by SEED_MANIFEST once per process and calls
``feeder.next()`` in on_start.
"""

from __future__ import annotations

import itertools
import os

from seed.errors import SeedError
from seed.manifest import load_manifest

ENV_VAR = "SEED_MANIFEST"

Credentials = tuple[str, str]


def load_credentials(manifest_path: str | os.PathLike) -> list[Credentials]:
    """(email, password) of every user the manifest lists, in manifest order."""
    credentials = load_manifest(manifest_path).credentials()
    if not credentials:
        raise SeedError(f"manifest {manifest_path} lists no users: seed some first")
    return credentials


class CredentialFeeder:
    """Round-robin over a fixed list, safe to share between threads and greenlets.

    next() takes no lock: itertools.count's __next__ is a single C call, atomic under the
    GIL, and never yields to another greenlet, so every caller gets its own position.
    """

    def __init__(self, credentials: list[Credentials]):
        if not credentials:
            raise SeedError("no credentials to feed: the manifest lists no users")
        self._credentials = list(credentials)
        self._counter = itertools.count()

    def next(self) -> Credentials:
        return self._credentials[next(self._counter) % len(self._credentials)]

    __next__ = next

    def __iter__(self) -> CredentialFeeder:
        return self

    def __len__(self) -> int:
        return len(self._credentials)

    @classmethod
    def from_manifest(cls, manifest_path: str | os.PathLike) -> CredentialFeeder:
        return cls(load_credentials(manifest_path))


def feeder_from_env(environ: dict[str, str] | None = None) -> CredentialFeeder | None:
    """A feeder over $SEED_MANIFEST, or None when it is unset (scenarios then register their
    own users)."""
    path = (os.environ if environ is None else environ).get(ENV_VAR, "").strip()
    return CredentialFeeder.from_manifest(path) if path else None
