"""Calendly webhook subscriptions: create (201, 403 on the free plan, 409 on a taken URL), list,
get and delete. Deliveries to them are in `webhooks.py`.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from flask import Response, jsonify, request

from .calendly_api import (
    ApiError,
    bp,
    calendly_api,
    invalid,
    not_found,
    page_count,
    page_cursor,
    pagination,
    uuid_of,
)
from .context import base_url, current_sandbox
from .ids import calendly_uuid
from .paging import BadCursor, Desc, keyset_page
from .resources import subscription_json
from .store import CalendlyUser, WebhookSubscription

EVENTS = {
    "invitee.created",
    "invitee.canceled",
    "invitee_no_show.created",
    "invitee_no_show.deleted",
    "event_type.created",
    "event_type.updated",
    "event_type.deleted",
    "routing_form_submission.created",
}


@bp.post("/webhook_subscriptions")
@calendly_api
def create_subscription(user: CalendlyUser) -> Any:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise ApiError(400, "Invalid Argument", "The request body must be a JSON object.")
    url, events, scope = body.get("url"), body.get("events"), body.get("scope")
    if not isinstance(url, str) or urlsplit(url).scheme not in ("http", "https"):
        raise invalid("url", "must be a valid http(s) URL")
    if not isinstance(events, list) or not events or not set(events) <= EVENTS:
        raise invalid("events", "must be a non-empty list of: " + ", ".join(sorted(EVENTS)))
    if not isinstance(body.get("organization"), str):
        raise invalid("organization", "is required")
    if scope not in ("organization", "user"):
        raise invalid("scope", "must be organization or user (group is not simulated)")
    if scope == "user" and not isinstance(body.get("user"), str):
        raise invalid("user", "is required when scope is user")
    signing_key = body.get("signing_key")
    if signing_key is not None and not isinstance(signing_key, str):
        raise invalid("signing_key", "must be a string")
    if uuid_of(body["organization"]) != user.organization_uuid:
        raise ApiError(403, "Permission Denied", "You do not have permission to access this.")
    if scope == "user" and uuid_of(body["user"]) != user.uuid:
        raise ApiError(403, "Permission Denied", "You can only subscribe to your own events.")
    if user.plan == "free":
        raise ApiError(403, "Permission Denied", "Please upgrade your Calendly account to Standard")
    store = current_sandbox().store
    with store.lock:
        if any(s.callback_url == url for s in store.webhook_subscriptions.values()):
            raise ApiError(409, "Already Exists", "Hook with this url already exists")
        now = store.now()
        sub = WebhookSubscription(
            uuid=calendly_uuid(store.rng),
            callback_url=url,
            events=list(dict.fromkeys(events)),
            scope=scope,
            organization_uuid=user.organization_uuid,
            user_uuid=user.uuid if scope == "user" else None,
            creator_uuid=user.uuid,
            signing_key=signing_key,
            created_at=now,
            updated_at=now,
        )
        store.webhook_subscriptions[sub.uuid] = sub
        return jsonify(resource=subscription_json(sub, base_url())), 201


@bp.get("/webhook_subscriptions")
@calendly_api
def list_subscriptions(user: CalendlyUser) -> Any:
    org_ref, scope, user_ref = (request.args.get(k) for k in ("organization", "scope", "user"))
    if not org_ref:
        raise invalid("organization", "is required")
    if scope not in ("organization", "user", "group"):
        raise invalid("scope", "is required: organization, user or group")
    if scope == "user" and not user_ref:
        raise invalid("user", "is required when scope is user")
    if uuid_of(org_ref) != user.organization_uuid:
        raise ApiError(403, "Permission Denied", "You do not have permission to access this.")
    count, cursor = page_count(), page_cursor()
    descending = request.args.get("sort", "created_at:asc") == "created_at:desc"
    store = current_sandbox().store
    with store.lock:
        subs = [
            s
            for s in store.webhook_subscriptions.values()
            if s.organization_uuid == user.organization_uuid
            and s.scope == scope
            and (scope != "user" or s.user_uuid == uuid_of(user_ref or ""))
        ]

        def raw_key(s: WebhookSubscription) -> list[Any]:
            return [s.created_at, s.uuid]

        def wrap(values: list[Any]) -> tuple[Any, ...]:
            return (Desc(values[0]), Desc(values[1])) if descending else tuple(values)

        subs.sort(key=lambda s: wrap(raw_key(s)))
        try:
            page, next_token, prev_token = keyset_page(subs, raw_key, wrap, count, cursor)
        except BadCursor as exc:
            raise invalid("page_token", "is invalid") from exc
        base = base_url()
        collection = [subscription_json(s, base) for s in page]
    return jsonify(collection=collection, pagination=pagination(count, next_token, prev_token))


def _own_subscription(user: CalendlyUser, uuid: str) -> WebhookSubscription:
    sub = current_sandbox().store.webhook_subscriptions.get(uuid)
    if sub is None or sub.organization_uuid != user.organization_uuid:
        raise not_found()
    return sub


@bp.get("/webhook_subscriptions/<uuid>")
@calendly_api
def get_subscription(user: CalendlyUser, uuid: str) -> Any:
    with current_sandbox().store.lock:
        return jsonify(resource=subscription_json(_own_subscription(user, uuid), base_url()))


@bp.delete("/webhook_subscriptions/<uuid>")
@calendly_api
def delete_subscription(user: CalendlyUser, uuid: str) -> Any:
    store = current_sandbox().store
    with store.lock:
        _own_subscription(user, uuid)
        del store.webhook_subscriptions[uuid]
    return Response(status=204)
