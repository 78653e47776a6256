"""The few calls of the target's API that seeding and cleanup make, over one kept-alive
connection. One TargetClient per worker thread: requests.Session is not thread-safe."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter

from seed.errors import SeedError

# Connect fast-fails a dead target; the read allows a slow but alive one.
TIMEOUT = (5.0, 30.0)


class TargetUnreachable(Exception):
    """The target did not answer at all (refused, reset, timed out): stop everything."""


class UnexpectedStatus(Exception):
    """The target answered, but not as the contract says."""

    def __init__(self, method: str, path: str, status: int, body: str, subject: str = ""):
        self.status = status
        about = f" for {subject}" if subject else ""
        snippet = " ".join(body.split())[:120]
        super().__init__(f"target answered HTTP {status} to {method} {path}{about}: {snippet}")


def normalize_host(host: str) -> str:
    """'http://127.0.0.1:8089/' -> 'http://127.0.0.1:8089'; SeedError for anything else."""
    parts = urlsplit(host or "")
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise SeedError(f"--host {host!r} is not a URL like http://127.0.0.1:8089")
    return host.rstrip("/")


def describe_connection_error(exc: Exception) -> str:
    """The short cause ('Connection refused') instead of requests' 300-character repr."""
    if isinstance(exc, requests.Timeout):
        return "timed out"
    found = re.findall(r"\[Errno -?\d+\] ([^'\")\]]+)", str(exc))
    if found:
        return found[-1].strip()
    return type(exc).__name__


class TargetClient:
    def __init__(self, host: str):
        self.host = host
        self.session = requests.Session()
        # Only this thread uses the session, so one pooled connection is enough.
        adapter = HTTPAdapter(pool_connections=1, pool_maxsize=1, max_retries=0)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)

    def close(self) -> None:
        self.session.close()

    def _send(self, method: str, path: str, token: str | None = None, **kwargs) -> requests.Response:
        headers = {"Authorization": f"Bearer {token}"} if token else None
        try:
            return self.session.request(method, self.host + path, headers=headers, timeout=TIMEOUT, **kwargs)
        except (requests.ConnectionError, requests.Timeout) as exc:
            raise TargetUnreachable(f"cannot reach {self.host}: {describe_connection_error(exc)}") from None

    def _json(self, resp: requests.Response, method: str, path: str, subject: str) -> dict:
        try:
            body = resp.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise UnexpectedStatus(method, path, resp.status_code, resp.text, subject)
        return body

    def health(self) -> None:
        resp = self._send("GET", "/health")
        if resp.status_code != 200:
            raise UnexpectedStatus("GET", "/health", resp.status_code, resp.text)

    def _create(self, path: str, body: dict, token: str | None, id_key: str, subject: str) -> str:
        """POST that must answer 201 with the new record's id under ``id_key``."""
        resp = self._send("POST", path, token, json=body)
        if resp.status_code != 201:
            raise UnexpectedStatus("POST", path, resp.status_code, resp.text, subject)
        new_id = self._json(resp, "POST", path, subject).get(id_key)
        if new_id is None:
            raise UnexpectedStatus("POST", path, resp.status_code, resp.text, subject)
        return str(new_id)

    def register(self, email: str, password: str, name: str) -> str:
        """The new user's id."""
        return self._create(
            "/api/v1/auth/register",
            {"email": email, "password": password, "name": name},
            None,
            "user_id",
            email,
        )

    def login(self, email: str, password: str) -> str | None:
        """A bearer token, or None when the target does not know these credentials (401)."""
        path = "/api/v1/auth/login"
        resp = self._send("POST", path, json={"email": email, "password": password})
        if resp.status_code == 401:
            return None
        token = self._json(resp, "POST", path, email).get("access_token")
        if resp.status_code != 200 or not token:
            raise UnexpectedStatus("POST", path, resp.status_code, resp.text, email)
        return str(token)

    def create_subscription(self, token: str, plan: str, subject: str) -> str:
        """The new subscription's id."""
        return self._create("/api/v1/subscriptions", {"plan": plan}, token, "subscription_id", subject)

    def delete(self, token: str, path: str, subject: str) -> bool:
        """True when removed now (204), False when it was already gone (404)."""
        resp = self._send("DELETE", path, token)
        if resp.status_code == 204:
            return True
        if resp.status_code == 404:
            return False
        raise UnexpectedStatus("DELETE", path, resp.status_code, resp.text, subject)
