"""The sandbox's in-memory state: users, bearer tokens, generation tasks, payments, subscriptions.

Every method runs to completion without yielding to another greenlet (no I/O, no sleep): that is
what keeps the state consistent under the gevent server. The methods that change state or read
several entries also hold one lock, so that a threaded server would keep it consistent too; a
single lookup (``user_for_token``, ``get_task``, ``task_view``) takes none, one dict read being
atomic. Nothing here knows about HTTP: the app maps the exceptions below to status codes.
"""

from __future__ import annotations

import hashlib
import random
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

TOKEN_TTL_S = 3600


class Conflict(Exception):
    """The thing exists already (duplicate email)."""


class NotFound(Exception):
    """Unknown, or owned by someone else where the API must not reveal which."""


class Forbidden(Exception):
    """Exists, but belongs to another user."""


class UnknownUser(Exception):
    """The caller's account vanished after its token was checked (deleted by a parallel request)."""


@dataclass(frozen=True)
class Timings:
    """How a generation task moves through its states, in seconds since creation."""

    queue_s: float = 0.2
    process_s: float = 0.5
    fail_rate: float = 0.0


@dataclass
class User:
    user_id: str
    email: str
    name: str
    salt: bytes
    password_hash: bytes


@dataclass
class Task:
    task_id: str
    prompt: str
    model: str
    params: dict[str, Any]
    created_at: str
    started: float  # monotonic seconds, the origin of the lazily computed status
    fails: bool  # drawn at creation, so a task never flips between failed and completed


@dataclass
class _Account:
    """Everything one user owns, so deleting the user is one pop and a token sweep."""

    user: User
    tokens: set[str] = field(default_factory=set)
    tasks: dict[str, Task] = field(default_factory=dict)
    payments: list[dict[str, Any]] = field(default_factory=list)
    subscriptions: dict[str, dict[str, Any]] = field(default_factory=dict)


def _hash_password(salt: bytes, password: str) -> bytes:
    # One salted SHA-256, not a slow KDF: these are throwaway test accounts, and a deliberately
    # slow hash would make login the sandbox's bottleneck under load.
    return hashlib.sha256(salt + password.encode()).digest()


def _iso(wall_s: float) -> str:
    stamp = datetime.fromtimestamp(wall_s, timezone.utc).isoformat(timespec="milliseconds")
    return stamp.replace("+00:00", "Z")


def _new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(8)}"


def _page(items: list[Any], page: int, per_page: int) -> list[Any]:
    start = (page - 1) * per_page
    return items[start : start + per_page]


class Store:
    def __init__(
        self,
        timings: Timings = Timings(),
        rng: random.Random | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.timings = timings
        self._rng = rng or random.Random()
        self._clock = clock
        self._wall = wall
        self._lock = threading.Lock()
        self._accounts: dict[str, _Account] = {}
        self._user_by_email: dict[str, str] = {}  # lower-cased email -> user_id
        self._tokens: dict[str, tuple[str, float]] = {}  # token -> (user_id, expires_at)
        # Tokens in issue order, so expired ones are dropped from the front and memory stays
        # bounded by one TTL's worth of logins however long a load test runs.
        self._expiry: deque[tuple[float, str]] = deque()

    # --- users and tokens -------------------------------------------------------------
    def register(self, email: str, password: str, name: str) -> User:
        with self._lock:
            key = email.lower()
            if key in self._user_by_email:
                raise Conflict(f"email {email!r} is already registered")
            salt = secrets.token_bytes(8)
            user = User(_new_id("usr"), email, name, salt, _hash_password(salt, password))
            self._accounts[user.user_id] = _Account(user)
            self._user_by_email[key] = user.user_id
            return user

    def login(self, email: str, password: str) -> str | None:
        """A new bearer token, or None for an unknown email or wrong password."""
        with self._lock:
            user_id = self._user_by_email.get(email.lower())
            account = self._accounts.get(user_id) if user_id else None
            if account is None:
                return None
            user = account.user
            if not secrets.compare_digest(_hash_password(user.salt, password), user.password_hash):
                return None
            now = self._clock()
            self._drop_expired(now)
            token = secrets.token_urlsafe(32)
            self._tokens[token] = (user.user_id, now + TOKEN_TTL_S)
            self._expiry.append((now + TOKEN_TTL_S, token))
            account.tokens.add(token)
            return token

    def user_for_token(self, token: str) -> str | None:
        entry = self._tokens.get(token)
        if entry is None or entry[1] <= self._clock():
            return None
        return entry[0]

    def delete_user(self, caller_id: str, user_id: str) -> None:
        with self._lock:
            account = self._accounts.get(user_id)
            if account is None:
                raise NotFound(f"user {user_id!r} not found")
            if user_id != caller_id:
                raise Forbidden("you may delete only your own user")
            del self._accounts[user_id]
            del self._user_by_email[account.user.email.lower()]
            for token in account.tokens:
                self._tokens.pop(token, None)

    def _account(self, user_id: str) -> _Account:
        account = self._accounts.get(user_id)
        if account is None:
            raise UnknownUser(user_id)
        return account

    def _drop_expired(self, now: float) -> None:
        while self._expiry and self._expiry[0][0] <= now:
            _, token = self._expiry.popleft()
            entry = self._tokens.pop(token, None)
            if entry is not None and entry[0] in self._accounts:
                self._accounts[entry[0]].tokens.discard(token)

    # --- generation tasks ---------------------------------------------------------------
    def create_task(self, user_id: str, prompt: str, model: str, params: dict[str, Any]) -> Task:
        with self._lock:
            task = Task(
                task_id=_new_id("task"),
                prompt=prompt,
                model=model,
                params=params,
                created_at=_iso(self._wall()),
                started=self._clock(),
                fails=self._rng.random() < self.timings.fail_rate,
            )
            self._account(user_id).tasks[task.task_id] = task
            return task

    def task_view(self, task: Task) -> dict[str, Any]:
        """The task as the API shows it, its status computed from the time since creation."""
        elapsed = self._clock() - task.started
        view: dict[str, Any] = {
            "task_id": task.task_id,
            "status": "queued",
            "prompt": task.prompt,
            "model": task.model,
            "params": task.params,
            "created_at": task.created_at,
        }
        if elapsed >= self.timings.queue_s + self.timings.process_s:
            if task.fails:
                view["status"] = "failed"
                view["error"] = "generation failed (simulated by --gen-fail-rate)"
            else:
                view["status"] = "completed"
                view["result"] = {
                    "text": f"[{task.model}] {task.prompt[:200]}",
                    "tokens": len(task.prompt.split()),
                }
        elif elapsed >= self.timings.queue_s:
            view["status"] = "processing"
        return view

    def get_task(self, user_id: str, task_id: str) -> Task:
        task = self._account(user_id).tasks.get(task_id)
        if task is None:
            raise NotFound(f"task {task_id!r} not found")
        return task

    def list_tasks(self, user_id: str, page: int, per_page: int) -> tuple[list[Task], int]:
        with self._lock:
            tasks = list(self._account(user_id).tasks.values())
        return _page(tasks, page, per_page), len(tasks)

    # --- payments and subscriptions -------------------------------------------------------
    def create_payment(self, user_id: str, amount: float, currency: str, method: str) -> dict[str, Any]:
        payment = {
            "payment_id": _new_id("pay"),
            "status": "succeeded",
            "amount": amount,
            "currency": currency,
            "method": method,
            "created_at": _iso(self._wall()),
        }
        with self._lock:
            self._account(user_id).payments.append(payment)
        return payment

    def list_payments(self, user_id: str, page: int, per_page: int) -> tuple[list[dict[str, Any]], int]:
        with self._lock:
            payments = self._account(user_id).payments
            return _page(payments, page, per_page), len(payments)

    def create_subscription(self, user_id: str, plan: str) -> dict[str, Any]:
        subscription = {
            "subscription_id": _new_id("sub"),
            "plan": plan,
            "status": "active",
            "user_id": user_id,
            "created_at": _iso(self._wall()),
        }
        with self._lock:
            self._account(user_id).subscriptions[subscription["subscription_id"]] = subscription
        return subscription

    def list_subscriptions(self, user_id: str) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._account(user_id).subscriptions.values())

    def delete_subscription(self, user_id: str, subscription_id: str) -> None:
        with self._lock:
            if self._account(user_id).subscriptions.pop(subscription_id, None) is None:
                raise NotFound(f"subscription {subscription_id!r} not found")

    # --- counts (for the admin view) ------------------------------------------------------
    def counts(self) -> dict[str, int]:
        with self._lock:
            accounts = list(self._accounts.values())
            return {
                "users": len(accounts),
                "tokens": len(self._tokens),
                "tasks": sum(len(a.tasks) for a in accounts),
                "payments": sum(len(a.payments) for a in accounts),
                "subscriptions": sum(len(a.subscriptions) for a in accounts),
            }
