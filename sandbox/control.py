"""The control API under /_sandbox: what tests, benchmarks and the demo use to steer the sandbox.

Everything here answers JSON and is never subject to injected faults or rate limits.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify, request

from .context import Sandbox, base_url, current_sandbox
from .faults import FaultError
from .ids import iso_utc
from .resources import (
    close_link_json,
    event_type_json,
    savvy_booking_url,
    savvy_link_json,
    savvy_me_json,
)
from .seed import seed_scale
from .settings import env_block

bp = Blueprint("control", __name__, url_prefix="/_sandbox")

MAX_SCALE_USERS = 20_000


def body_json() -> dict[str, Any]:
    body = request.get_json(silent=True)
    return body if isinstance(body, dict) else {}


def bad_request(message: str, status: int = 400) -> tuple[Response, int]:
    return jsonify(error=message), status


@bp.get("/env")
def env() -> Any:
    return jsonify(env_block(base_url(), current_sandbox().settings))


@bp.post("/reset")
def reset() -> Any:
    seed = body_json().get("seed", "demo")
    try:
        current_sandbox().reset(seed)
    except ValueError as exc:
        return bad_request(str(exc))
    return jsonify(reset=True, seed=seed)


@bp.post("/seed/scale")
def scale() -> Any:
    body = body_json()
    try:
        users = int(body.get("users", 10))
        per_type = int(body.get("event_types_per_user", 10))
        per_link = int(body.get("savvycal_links_per_user", 10))
    except (TypeError, ValueError):
        return bad_request("users, event_types_per_user and savvycal_links_per_user are integers")
    if not 1 <= users <= MAX_SCALE_USERS or not 0 <= per_type <= 500 or not 0 <= per_link <= 500:
        return bad_request(f"users must be 1..{MAX_SCALE_USERS}; per-user counts 0..500")
    created = seed_scale(current_sandbox().store, users, per_type, per_link)
    return jsonify(users=created), 201


@bp.get("/state")
def state() -> Any:
    return jsonify(state_json(current_sandbox(), base_url()))


def state_json(sandbox: Sandbox, base: str) -> dict[str, Any]:
    """Everything the sandbox holds, secrets included: it is a sandbox."""
    store = sandbox.store
    with store.lock:
        return {
            "close": {
                "organizations": [vars(o) for o in store.close_orgs.values()],
                "users": [vars(u) for u in store.close_users.values()],
                "links": [close_link_json(link, base) for link in store.close_links.values()],
                "shared_links": [vars(s) for s in store.close_shared_links.values()],
                "oauth_client_id": sandbox.settings["CLOSE_OAUTH_CLIENT_OBJECT_ID"],
            },
            "calendly": {
                "organizations": [vars(o) for o in store.calendly_orgs.values()],
                "users": [vars(u) for u in store.calendly_users.values()],
                "event_types": [
                    {**event_type_json(e, base), "hosts": list(e.hosts)}
                    for e in store.event_types.values()
                ],
                "webhook_subscriptions": [vars(s) for s in store.webhook_subscriptions.values()],
            },
            "savvycal": {
                "users": [
                    {**savvy_me_json(u), "personal_token": u.personal_token}
                    for u in store.savvy_users.values()
                ],
                "scopes": [vars(s) for s in store.savvy_scopes.values()],
                "links": [
                    {
                        **savvy_link_json(store, link),
                        "owner_id": link.owner_id,
                        "booking_url": savvy_booking_url(store, link, base),
                    }
                    for link in store.savvy_links.values()
                ],
            },
            "oauth": {
                "codes": [vars(c) for c in store.codes.values()],
                "access_tokens": [vars(t) for t in store.access_tokens.values()],
                "refresh_tokens": [vars(t) for t in store.refresh_tokens.values()],
            },
            "faults": sandbox.faults.snapshot(),
            "ratelimits": ratelimits_json(sandbox),
            "now": iso_utc(store.now()),
        }


@bp.post("/tokens/expire")
def expire_tokens() -> Any:
    """Expire matching access tokens now (refresh tokens are left alone, to exercise refresh)."""
    body = body_json()
    provider, user_ref = body.get("provider"), body.get("user")
    if provider not in (None, "close", "calendly", "savvycal"):
        return bad_request("provider must be close, calendly or savvycal")
    store = current_sandbox().store
    with store.lock:
        now = store.now()
        expired = 0
        for token in store.access_tokens.values():
            if provider and token.provider != provider:
                continue
            if user_ref and not _token_user_matches(token.provider, token.user_id, user_ref):
                continue
            if token.expires_at > now:
                token.expires_at = now - 1
                expired += 1
    return jsonify(expired=expired)


def _token_user_matches(provider: str, user_id: str, ref: str) -> bool:
    store = current_sandbox().store
    if provider == "close":
        user: Any = store.close_user_by_ref(ref)
        return user is not None and user.id == user_id
    if provider == "calendly":
        user = store.calendly_user_by_ref(ref)
        return user is not None and user.uuid == user_id
    user = store.savvy_user_by_ref(ref)
    return user is not None and user.id == user_id


@bp.route("/faults", methods=["GET", "POST", "DELETE"])
def faults() -> Any:
    sandbox = current_sandbox()
    if request.method == "POST":
        try:
            sandbox.faults.configure(body_json())
        except FaultError as exc:
            return bad_request(str(exc))
    elif request.method == "DELETE":
        sandbox.faults.clear(request.args.get("provider"))
    return jsonify(faults=sandbox.faults.snapshot())


def ratelimits_json(sandbox: Sandbox) -> dict[str, Any]:
    return {
        "close": {
            "limit": sandbox.close_limiter.limit,
            "window_seconds": sandbox.close_limiter.window_seconds,
            "per": "organization and endpoint group",
        },
        "calendly": {
            "limit": sandbox.calendly_limiter.limit,
            "window_seconds": sandbox.calendly_limiter.window_seconds,
            "per": "user",
            "tokens_per_minute": sandbox.calendly_token_limiter.limit,
        },
        "savvycal": None,
    }


@bp.route("/ratelimits", methods=["GET", "POST"])
def ratelimits() -> Any:
    sandbox = current_sandbox()
    if request.method == "POST":
        body = body_json()
        provider = body.get("provider")
        if provider == "savvycal":
            return bad_request(
                "SavvyCal documents no rate limits; inject 429s with /_sandbox/faults"
            )
        limiter = {"close": sandbox.close_limiter, "calendly": sandbox.calendly_limiter}.get(
            provider or ""
        )
        if limiter is None:
            return bad_request("provider must be close or calendly")
        try:
            limit = int(body.get("limit", limiter.limit))
            window = float(body.get("window_seconds", limiter.window_seconds))
            tokens = body.get("tokens_per_minute")
            if tokens is not None and provider == "calendly":
                sandbox.calendly_token_limiter.limit = int(tokens)
        except (TypeError, ValueError):
            return bad_request("limit, window_seconds and tokens_per_minute are numbers")
        if limit < 0 or window <= 0:
            return bad_request("limit must be >= 0 and window_seconds > 0")
        limiter.configure(limit, window)
    return jsonify(ratelimits_json(sandbox))


@bp.route("/requests", methods=["GET", "DELETE"])
def requests_seen() -> Any:
    traffic = current_sandbox().traffic
    if request.method == "DELETE":
        traffic.clear()
    return jsonify(traffic.snapshot())


@bp.get("/webhook_deliveries")
def webhook_deliveries() -> Any:
    deliverer = current_sandbox().deliverer
    return jsonify(deliveries=list(deliverer.attempts), pending=deliverer.pending())
