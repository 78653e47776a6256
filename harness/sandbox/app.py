"""The sandbox's Flask app: the JSON routes, the auth and fault gate, and JSON errors.

Every route is registered under its scenario name ("GET /api/v1/generations/[id]") as the
Flask endpoint, so the per-request gate finds its group, fault and publicness with one
dict lookup each.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable
from typing import Any

import gevent
from flask import Flask, Response, g, request
from werkzeug.exceptions import HTTPException, MethodNotAllowed

from harness.errors import HarnessError
from harness.sandbox import validate
from harness.sandbox.faults import FaultTable, draw_delay_s, draw_error_status, stall_hold_s
from harness.sandbox.routes import ENDPOINTS, PUBLIC, split_endpoint
from harness.sandbox.store import Conflict, Forbidden, NotFound, Store, UnknownUser

MAX_BODY_BYTES = 1 << 20


def reply(body: Any, status: int = 200) -> Response:
    return Response(json.dumps(body, separators=(",", ":")), status=status, mimetype="application/json")


def no_content() -> Response:
    return Response(status=204)


def _body() -> Any:
    # force: a client that forgets the JSON content type still gets its fields read;
    # silent: malformed JSON becomes None, which the validators answer with 422.
    return request.get_json(force=True, silent=True)


def _bearer_user(store: Store) -> str | None:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        return None
    return store.user_for_token(token.strip())


def create_app(
    store: Store,
    faults: FaultTable,
    rng: random.Random,
    sleep: Callable[[float], Any] = gevent.sleep,
) -> Flask:
    app = Flask("harness.sandbox")
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY_BYTES
    started = time.monotonic()
    first_request_at: list[float] = []  # wall-clock time of the first API request: stalls count from it

    def route(endpoint: str) -> Callable[[Callable[..., Response]], Callable[..., Response]]:
        method, rule = split_endpoint(endpoint)

        def register(view: Callable[..., Response]) -> Callable[..., Response]:
            app.add_url_rule(
                rule, endpoint=endpoint, view_func=view, methods=[method], provide_automatic_options=False
            )
            return view

        return register

    @app.before_request
    def gate() -> Response | None:
        endpoint = request.endpoint
        if endpoint not in ENDPOINTS:  # unrouted (404/405) or /_sandbox admin
            return None
        arrived = time.time()
        if not first_request_at:
            first_request_at.append(arrived)
        fault = faults.for_endpoint(endpoint)
        if fault is not None:
            hold_s = stall_hold_s(fault, arrived - first_request_at[0])
            if hold_s:
                # Until the stall's end on the wall clock, which the load generator's timestamps
                # share: a timer that fires a little early must not answer inside the stall.
                until = arrived + hold_s
                while (left := until - time.time()) > 0:
                    sleep(left)
            delay_s = draw_delay_s(fault, rng)
            if delay_s:
                sleep(delay_s)
            status = draw_error_status(fault, rng)
            if status is not None:  # answered before the view runs: no side effects
                return reply({"error": "injected fault", "endpoint": endpoint}, status)
        if endpoint not in PUBLIC:
            user_id = _bearer_user(store)
            if user_id is None:
                return reply({"error": "unauthorized"}, 401)
            g.user_id = user_id
        return None

    # --- auth group --------------------------------------------------------------------
    @route("GET /health")
    def health() -> Response:
        return reply({"status": "ok", "uptime_s": round(time.monotonic() - started, 3)})

    @route("POST /api/v1/auth/register")
    def register() -> Response:
        email, password, name = validate.register_fields(_body())
        user = store.register(email, password, name)
        return reply({"user_id": user.user_id, "email": user.email}, 201)

    @route("POST /api/v1/auth/login")
    def login() -> Response:
        email, password = validate.login_fields(_body())
        token = store.login(email, password)
        if token is None:
            return reply({"error": "invalid email or password"}, 401)
        return reply({"access_token": token, "token_type": "bearer", "expires_in": 3600})

    @route("DELETE /api/v1/users/[id]")
    def delete_user(item_id: str) -> Response:
        store.delete_user(g.user_id, item_id)
        return no_content()

    # --- generation group ----------------------------------------------------------------
    @route("POST /api/v1/generations")
    def create_generation() -> Response:
        prompt, model, params = validate.generation_fields(_body())
        task = store.create_task(g.user_id, prompt, model, params)
        return reply({"task_id": task.task_id, "status": "queued"}, 202)

    @route("GET /api/v1/generations")
    def list_generations() -> Response:
        page, per_page = validate.paging(request.args)
        tasks, total = store.list_tasks(g.user_id, page, per_page)
        items = [store.task_view(task) for task in tasks]
        return reply({"items": items, "page": page, "per_page": per_page, "total": total})

    @route("GET /api/v1/generations/[id]")
    def get_generation(item_id: str) -> Response:
        return reply(store.task_view(store.get_task(g.user_id, item_id)))

    # --- payments group ------------------------------------------------------------------
    @route("POST /api/v1/payments")
    def create_payment() -> Response:
        amount, currency, method = validate.payment_fields(_body())
        return reply(store.create_payment(g.user_id, amount, currency, method), 201)

    @route("GET /api/v1/payments")
    def list_payments() -> Response:
        page, per_page = validate.paging(request.args)
        items, total = store.list_payments(g.user_id, page, per_page)
        return reply({"items": items, "page": page, "per_page": per_page, "total": total})

    @route("POST /api/v1/subscriptions")
    def create_subscription() -> Response:
        plan = validate.subscription_plan(_body())
        return reply(store.create_subscription(g.user_id, plan), 201)

    @route("GET /api/v1/subscriptions")
    def list_subscriptions() -> Response:
        return reply({"items": store.list_subscriptions(g.user_id)})

    @route("DELETE /api/v1/subscriptions/[id]")
    def delete_subscription(item_id: str) -> Response:
        store.delete_subscription(g.user_id, item_id)
        return no_content()

    # --- admin: local use only, no auth -------------------------------------------------
    def faults_view() -> Response:
        return reply(
            {
                "faults": faults.specs(),
                "effective": faults.effective(),
                "first_request_at": first_request_at[0] if first_request_at else None,
            }
        )

    app.add_url_rule("/_sandbox/faults", "admin_get_faults", faults_view, methods=["GET"])

    @app.put("/_sandbox/faults", endpoint="admin_put_faults")
    def put_faults() -> Response:
        body = _body()
        specs = body.get("faults") if isinstance(body, dict) else None
        if not isinstance(specs, list):
            return reply({"error": 'body must be {"faults": ["SCOPE:KEY=VALUE", ...]}'}, 422)
        try:
            faults.replace(specs)
        except HarnessError as exc:
            return reply({"error": str(exc)}, 422)
        return faults_view()

    @app.get("/_sandbox/stats", endpoint="admin_stats")
    def stats() -> Response:
        return reply({"uptime_s": round(time.monotonic() - started, 3), **store.counts()})

    # --- errors as JSON ------------------------------------------------------------------
    error_statuses = {validate.Invalid: 422, Conflict: 409, NotFound: 404, Forbidden: 403}
    for error_type, status in error_statuses.items():
        app.register_error_handler(error_type, lambda exc, status=status: reply({"error": str(exc)}, status))
    # The caller's account was deleted by a parallel request after its token was checked.
    app.register_error_handler(UnknownUser, lambda exc: reply({"error": "unauthorized"}, 401))

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Response:
        response = reply({"error": (exc.name or "error").lower()}, exc.code or 500)
        if isinstance(exc, MethodNotAllowed) and exc.valid_methods:
            response.headers["Allow"] = ", ".join(exc.valid_methods)
        return response

    return app
