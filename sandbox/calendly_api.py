"""Calendly API v2 (api.calendly.com): users, event types and webhook subscriptions.

From shared/reference/calendly-api.md: no trailing slashes, absolute URIs everywhere, `{resource}`
and `{collection, pagination}` envelopes, `count` up to 100 with opaque `page_token`s, errors as
`{title, message, details?}`, and `X-RateLimit-*` headers on every answer, counted per user.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import wraps
from typing import Any
from urllib.parse import urlencode, urlsplit

from flask import Blueprint, Response, g, jsonify, request

from .context import base_url, current_sandbox
from .oauth import bearer_token, check_access
from .paging import BadCursor, Desc, decode_cursor, keyset_page
from .resources import calendly_user_json, event_type_json
from .store import CalendlyUser, EventType

bp = Blueprint("calendly_api", __name__, url_prefix="/calendly/api")

_AUTH_MESSAGES = {
    "missing": "The access token is missing",
    "invalid": "The access token is invalid",
    "expired": "The access token is expired",
    "revoked": "The access token was revoked",
}
EVENT_TYPE_SORTS = {"name", "position", "created_at", "updated_at"}


class ApiError(Exception):
    def __init__(self, status: int, title: str, message: str, details: list | None = None) -> None:
        super().__init__(message)
        self.status, self.title, self.message, self.details = status, title, message, details


def invalid(parameter: str, message: str) -> ApiError:
    details = [{"parameter": parameter, "message": message}]
    return ApiError(400, "Invalid Argument", "The supplied parameters are invalid.", details)


def not_found() -> ApiError:
    return ApiError(404, "Resource Not Found", "The server could not find the requested resource.")


@bp.errorhandler(ApiError)
def _api_error(exc: ApiError) -> tuple[Response, int]:
    body: dict[str, Any] = {"title": exc.title, "message": exc.message}
    if exc.details:
        body["details"] = exc.details
    return jsonify(body), exc.status


def calendly_api(view: Callable[..., Any]) -> Callable[..., Any]:
    """Bearer auth and the per-user limit (500 requests a minute by default); passes the user."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        sandbox = current_sandbox()
        access, why = check_access(sandbox.store, "calendly", bearer_token())
        if access is None:
            raise ApiError(401, "Unauthenticated", _AUTH_MESSAGES[why])
        user = sandbox.store.calendly_users[access.user_id]
        now = sandbox.store.now()
        decision = sandbox.calendly_limiter.hit(user.uuid, now)
        reset = max(1, math.ceil(decision.reset))
        g.calendly_ratelimit = (decision.limit, decision.remaining, reset)
        if not decision.allowed:
            sandbox.traffic.announce("calendly", "*", user.uuid, now + decision.reset)
            raise ApiError(429, "Too Many Requests", "You have exceeded the rate limit.")
        return view(user, *args, **kwargs)

    return wrapper


@bp.after_request
def _rate_headers(response: Response) -> Response:
    values = g.pop("calendly_ratelimit", None)
    if values:
        limit, remaining, reset = values
        response.headers["X-RateLimit-Limit"] = str(limit)
        response.headers["X-RateLimit-Remaining"] = str(remaining)
        response.headers["X-RateLimit-Reset"] = str(reset)
    return response


def page_count() -> int:
    raw = request.args.get("count", "20")
    if not raw.isdigit() or not 1 <= int(raw) <= 100:
        raise invalid("count", "must be an integer between 1 and 100")
    return int(raw)


def page_cursor() -> tuple[list[Any], str] | None:
    token = request.args.get("page_token")
    if not token:
        return None
    try:
        return decode_cursor(token)
    except BadCursor as exc:
        raise invalid("page_token", "is invalid") from exc


def pagination(count: int, next_token: str | None, prev_token: str | None) -> dict[str, Any]:
    def page_url(token: str | None) -> str | None:
        if token is None:
            return None
        params = [(k, v) for k, v in request.args.items(multi=True) if k != "page_token"]
        return f"{base_url()}{request.path}?{urlencode([*params, ('page_token', token)])}"

    return {
        "count": count,
        "next_page": page_url(next_token),
        "previous_page": page_url(prev_token),
        "next_page_token": next_token,
        "previous_page_token": prev_token,
    }


def uuid_of(uri: str) -> str:
    return urlsplit(uri).path.rstrip("/").rsplit("/", 1)[-1]


# Users ---------------------------------------------------------------------------------------


@bp.get("/users/<uuid>")
@calendly_api
def get_user(user: CalendlyUser, uuid: str) -> Any:
    store = current_sandbox().store
    target = user if uuid == "me" else store.calendly_users.get(uuid)
    if target is None or target.organization_uuid != user.organization_uuid:
        raise not_found()
    return jsonify(resource=calendly_user_json(target, base_url()))


# Event types ---------------------------------------------------------------------------------


@bp.get("/event_types")
@calendly_api
def list_event_types(user: CalendlyUser) -> Any:
    store = current_sandbox().store
    user_ref, org_ref = request.args.get("user"), request.args.get("organization")
    if not user_ref and not org_ref:
        raise invalid("user", "Either organization or user are required query params.")
    count, cursor, sort = page_count(), page_cursor(), _sort_spec()
    active = _bool_param("active")
    if org_ref and uuid_of(org_ref) != user.organization_uuid:
        raise ApiError(403, "Permission Denied", "You do not have permission.")
    with store.lock:
        if user_ref:
            host = store.calendly_users.get(uuid_of(user_ref))
            if host is None:
                raise not_found()
            if host.organization_uuid != user.organization_uuid:
                raise ApiError(403, "Permission Denied", "You do not have permission.")
            # Personal types and the team types this user hosts, as Calendly lists them.
            types = [store.event_types[u] for u in store.event_types_by_host.get(host.uuid, [])]
        else:
            org = user.organization_uuid
            types = [e for e in store.event_types.values() if e.organization_uuid == org]
        types = [
            e for e in types if e.deleted_at is None and (active is None or e.active == active)
        ]

        def raw_key(e: EventType) -> list[Any]:
            return [_sort_value(e, name) for name, _ in sort] + [e.uuid]

        def wrap(values: list[Any]) -> tuple[Any, ...]:
            wrapped = [
                Desc(v) if d == "desc" else v for v, (_, d) in zip(values, sort, strict=False)
            ]
            return (*wrapped, values[len(sort)])

        types.sort(key=lambda e: wrap(raw_key(e)))
        try:
            page, next_token, prev_token = keyset_page(types, raw_key, wrap, count, cursor)
        except BadCursor as exc:
            raise invalid("page_token", "is invalid") from exc
        base = base_url()
        collection = [event_type_json(e, base) for e in page]
    return jsonify(collection=collection, pagination=pagination(count, next_token, prev_token))


def _sort_spec() -> list[tuple[str, str]]:
    spec = []
    for part in request.args.get("sort", "name:asc").split(","):
        name, _, direction = part.strip().partition(":")
        direction = direction or "asc"
        if name not in EVENT_TYPE_SORTS or direction not in ("asc", "desc"):
            raise invalid(
                "sort",
                "must be field:asc or field:desc, fields " + ", ".join(sorted(EVENT_TYPE_SORTS)),
            )
        spec.append((name, direction))
    return spec


def _sort_value(event_type: EventType, name: str) -> Any:
    if name == "name":
        return (event_type.name or "").lower()
    return getattr(event_type, name)


def _bool_param(name: str) -> bool | None:
    raw = request.args.get(name)
    if raw is None:
        return None
    if raw not in ("true", "false"):
        raise invalid(name, "must be true or false")
    return raw == "true"


@bp.get("/event_types/<uuid>")
@calendly_api
def get_event_type(user: CalendlyUser, uuid: str) -> Any:
    store = current_sandbox().store
    with store.lock:
        event_type = store.event_types.get(uuid)
        # A deleted one is still returned (with deleted_at): its past bookings refer to it.
        if event_type is None or event_type.organization_uuid != user.organization_uuid:
            raise not_found()
        return jsonify(resource=event_type_json(event_type, base_url()))
