"""The sandbox's endpoints, named as the Locust scenarios name them, and their API groups.

One table serves three readers: the Flask app registers exactly these routes, fault scopes
are checked against them, and the auth check knows which ones are public.
"""

from __future__ import annotations

# "METHOD /route" with "[id]" for a path parameter -> API group (the `api` tag of a request).
ENDPOINTS: dict[str, str] = {
    "GET /health": "auth",
    "POST /api/v1/auth/register": "auth",
    "POST /api/v1/auth/login": "auth",
    "DELETE /api/v1/users/[id]": "auth",
    "POST /api/v1/generations": "generation",
    "GET /api/v1/generations": "generation",
    "GET /api/v1/generations/[id]": "generation",
    "POST /api/v1/payments": "payments",
    "GET /api/v1/payments": "payments",
    "POST /api/v1/subscriptions": "payments",
    "GET /api/v1/subscriptions": "payments",
    "DELETE /api/v1/subscriptions/[id]": "payments",
}

# The routes alone, as Locust names requests ("/api/v1/generations/[id]"), method apart.
ROUTES: frozenset[str] = frozenset(endpoint.split(" ", 1)[1] for endpoint in ENDPOINTS)

GROUPS: tuple[str, ...] = ("auth", "generation", "payments")

# Reachable without a bearer token.
PUBLIC: frozenset[str] = frozenset({"GET /health", "POST /api/v1/auth/register", "POST /api/v1/auth/login"})

# The one path parameter name every "[id]" becomes in a Flask rule.
PATH_PARAM = "item_id"


def split_endpoint(endpoint: str) -> tuple[str, str]:
    """'GET /api/v1/generations/[id]' -> ('GET', '/api/v1/generations/<item_id>')."""
    method, template = endpoint.split(" ", 1)
    return method, template.replace("[id]", f"<{PATH_PARAM}>")


def normalize_endpoint(text: str) -> str:
    """Accept any spacing and method case, so 'post  /api/v1/payments' names an endpoint too."""
    parts = text.split()
    if len(parts) != 2:
        return text.strip()
    return f"{parts[0].upper()} {parts[1]}"
