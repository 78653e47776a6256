"""Which API group an endpoint belongs to — one place, used by the listener (the ``api`` tag),
the verdict and the reports."""

from __future__ import annotations

# Longest prefix wins; names are Locust request names (paths with ids grouped as [id]).
API_PREFIXES: dict[str, str] = {
    "/health": "auth",
    "/api/v1/auth": "auth",
    "/api/v1/users": "auth",
    "/api/v1/generations": "generation",
    "/api/v1/payments": "payments",
    "/api/v1/subscriptions": "payments",
}

API_GROUPS = ("auth", "generation", "payments")


def api_for(name: str) -> str:
    """The API group of a request name; ``other`` when no prefix matches."""
    best, group = -1, "other"
    for prefix, api in API_PREFIXES.items():
        if name.startswith(prefix) and len(prefix) > best:
            best, group = len(prefix), api
    return group


def endpoint_key(method: str, name: str) -> str:
    """How an endpoint is named in thresholds, verdicts and reports: ``POST /api/v1/payments``."""
    return f"{method} {name}"
