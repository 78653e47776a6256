"""Checks on request bodies and query strings; each failure is an Invalid naming the bad field."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
CURRENCY = re.compile(r"^[A-Z]{3}$")
PAYMENT_METHODS = ("card", "paypal", "bank_transfer")
PLANS = ("free", "basic", "pro", "enterprise")
MIN_PASSWORD = 8
MAX_PROMPT = 10_000
MAX_PER_PAGE = 100
DEFAULT_MODEL = "sandbox-small"


class Invalid(Exception):
    """A request the API answers with 422; the message is the response's "error"."""


def json_object(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise Invalid("request body must be a JSON object")
    return body


def _string(body: Mapping[str, Any], key: str) -> str:
    value = body.get(key)
    if value is None:
        raise Invalid(f"{key} is required")
    if not isinstance(value, str) or not value.strip():
        raise Invalid(f"{key} must be a non-empty string")
    return value


def register_fields(body: Any) -> tuple[str, str, str]:
    body = json_object(body)
    email, password, name = _string(body, "email"), _string(body, "password"), _string(body, "name")
    if len(email) > 254 or not EMAIL.match(email):
        raise Invalid(f"email {email!r} is not a valid address")
    if len(password) < MIN_PASSWORD:
        raise Invalid(f"password must be at least {MIN_PASSWORD} characters")
    return email, password, name


def login_fields(body: Any) -> tuple[str, str]:
    body = json_object(body)
    return _string(body, "email"), _string(body, "password")


def generation_fields(body: Any) -> tuple[str, str, dict[str, Any]]:
    body = json_object(body)
    prompt = _string(body, "prompt")
    if len(prompt) > MAX_PROMPT:
        raise Invalid(f"prompt must be at most {MAX_PROMPT} characters")
    model = _string(body, "model") if "model" in body else DEFAULT_MODEL
    params = body.get("params", {})
    if not isinstance(params, dict):
        raise Invalid("params must be a JSON object")
    return prompt, model, params


def payment_fields(body: Any) -> tuple[float, str, str]:
    body = json_object(body)
    amount = body.get("amount")
    # bool is an int in Python, but `true` is not an amount.
    if isinstance(amount, bool) or not isinstance(amount, (int, float)):
        raise Invalid("amount must be a number")
    if not math.isfinite(amount) or amount <= 0:
        raise Invalid(f"amount must be greater than 0, got {amount}")
    currency = body.get("currency")
    if not isinstance(currency, str) or not CURRENCY.match(currency):
        raise Invalid(f"currency must be 3 uppercase letters such as 'USD', got {currency!r}")
    method = body.get("method")
    if method not in PAYMENT_METHODS:
        raise Invalid(f"method must be one of {', '.join(PAYMENT_METHODS)}, got {method!r}")
    return amount, currency, method


def subscription_plan(body: Any) -> str:
    plan = json_object(body).get("plan")
    if plan not in PLANS:
        raise Invalid(f"plan must be one of {', '.join(PLANS)}, got {plan!r}")
    return plan


def _positive_int(args: Mapping[str, str], key: str, default: int) -> int:
    text = args.get(key)
    if text is None:
        return default
    if not (text.isascii() and text.isdigit()) or int(text) < 1:
        raise Invalid(f"{key} must be a positive integer, got {text!r}")
    return int(text)


def paging(args: Mapping[str, str]) -> tuple[int, int]:
    page = _positive_int(args, "page", 1)
    per_page = _positive_int(args, "per_page", 20)
    if per_page > MAX_PER_PAGE:
        raise Invalid(f"per_page must be at most {MAX_PER_PAGE}, got {per_page}")
    return page, per_page
