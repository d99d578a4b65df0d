"""Close: OAuth (credentials in the form body) and the scheduling-link API schedsync uses.

Shapes and rules from shared/reference/close-api.md: trailing slashes everywhere, `_skip`/`_limit`
paging with `has_more`, upsert by (OAuth app, `source_id`), 200 on upsert and 204 on delete,
`{"errors", "field-errors"}` on validation, and a `RateLimit` header per organization and endpoint
group (method + path).
"""

from __future__ import annotations

import hmac
import math
from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import Blueprint, Response, g, jsonify, request

from .context import base_url, current_sandbox
from .ids import close_id
from .oauth import (
    ConsentSpec,
    OAuthError,
    bearer_token,
    check_access,
    find_refresh,
    handle_authorize,
    is_form_post,
    issue_tokens,
    redeem_code,
    revoke_token,
)
from .resources import close_link_json, close_me_json
from .store import CloseLink, CloseUser

bp = Blueprint("close", __name__, url_prefix="/close")

MAX_LIMIT = 100
SCOPE = "all.full_access offline_access"
_AUTH_ERRORS = {
    "missing": "Authentication required: send Authorization: Bearer <access token>.",
    "invalid": "The access token is invalid.",
    "expired": "The access token has expired.",
    "revoked": "The access token was revoked.",
}


# OAuth ---------------------------------------------------------------------------------------


@bp.route("/oauth2/authorize/", methods=["GET", "POST"])
def authorize() -> Any:
    sandbox = current_sandbox()
    store = sandbox.store

    def users() -> list[tuple[str, str]]:
        orgs = store.close_orgs
        return [
            (u.id, f"{u.first_name} {u.last_name} <{u.email}> — {orgs[u.organization_id].name}")
            for u in store.close_users.values()
        ]

    spec = ConsentSpec(
        provider="close",
        title="Close",
        client_id=sandbox.settings["CLOSE_CLIENT_ID"],
        code_ttl=sandbox.settings["SANDBOX_CODE_TTL_SECONDS"],
        users=users,
    )
    return handle_authorize(store, spec)


def _check_client() -> str:
    """Close takes client_id and client_secret in the form body only (no HTTP Basic)."""
    settings = current_sandbox().settings
    client_id = request.form.get("client_id", "")
    secret = request.form.get("client_secret", "")
    if client_id != settings["CLOSE_CLIENT_ID"] or not hmac.compare_digest(
        secret.encode(), settings["CLOSE_CLIENT_SECRET"].encode()
    ):
        raise OAuthError(
            401, "invalid_client", "Send client_id and client_secret in the form body."
        )
    return client_id


@bp.errorhandler(OAuthError)
def _oauth_error(exc: OAuthError) -> tuple[Response, int]:
    return jsonify(error=exc.error, error_description=exc.description), exc.status


@bp.post("/oauth2/token/")
def token() -> Any:
    if not is_form_post():
        raise OAuthError(400, "invalid_request", "Use application/x-www-form-urlencoded.")
    sandbox = current_sandbox()
    store = sandbox.store
    client_id = _check_client()
    grant_type = request.form.get("grant_type")
    ttl = sandbox.settings["SANDBOX_CLOSE_TOKEN_TTL_SECONDS"]
    if grant_type == "authorization_code":
        code = redeem_code(
            store, "close", client_id, request.form.get("code"), request.form.get("redirect_uri")
        )
        access, refresh = issue_tokens(store, "close", client_id, code.user_id, ttl)
    elif grant_type == "refresh_token":
        spent = find_refresh(store, "close", client_id, request.form.get("refresh_token"))
        access, refresh = issue_tokens(store, "close", client_id, spent.user_id, ttl, spent)
    else:
        raise OAuthError(400, "unsupported_grant_type", "grant_type is not supported.")
    user = store.close_users[access.user_id]
    return jsonify(
        token_type="Bearer",
        access_token=access.token,
        expires_in=int(ttl),
        refresh_token=refresh.token,
        scope=SCOPE,
        organization_id=user.organization_id,
        user_id=user.id,
    )


@bp.post("/oauth2/revoke/")
def revoke() -> Any:
    if not is_form_post():
        raise OAuthError(400, "invalid_request", "Use application/x-www-form-urlencoded.")
    client_id = _check_client()
    token_value = request.form.get("token")
    if not token_value:
        raise OAuthError(400, "invalid_request", "token is required.")
    revoke_token(current_sandbox().store, "close", client_id, token_value)
    return jsonify({})


# API -----------------------------------------------------------------------------------------


def close_api(view: Callable[..., Any]) -> Callable[..., Any]:
    """Bearer auth, then the per-(organization, endpoint group) rate limit; passes the user."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        sandbox = current_sandbox()
        access, why = check_access(sandbox.store, "close", bearer_token())
        if access is None:
            return jsonify(error=_AUTH_ERRORS[why]), 401
        user = sandbox.store.close_users[access.user_id]
        now = sandbox.store.now()
        decision = sandbox.close_limiter.hit((user.organization_id, g.endpoint_group), now)
        g.close_ratelimit = (
            f"limit={decision.limit}, remaining={decision.remaining}, reset={decision.reset:.3f}"
        )
        if not decision.allowed:
            sandbox.traffic.announce("close", g.endpoint_group, user.id, now + decision.reset)
            # Close can answer 429 from its ingress with no JSON body; clients read the headers.
            response = Response(b"", status=429)
            response.headers["Retry-After"] = str(max(1, math.ceil(decision.reset)))
            return response
        return view(user, *args, **kwargs)

    return wrapper


@bp.after_request
def _rate_headers(response: Response) -> Response:
    header = g.pop("close_ratelimit", None)
    if header:
        response.headers["RateLimit"] = header
    return response


@bp.get("/api/v1/me/")
@close_api
def me(user: CloseUser) -> Any:
    return jsonify(close_me_json(current_sandbox().store, user))


@bp.get("/api/v1/scheduling_link/")
@close_api
def list_links(user: CloseUser) -> Any:
    try:
        skip = int(request.args.get("_skip", 0))
        limit = int(request.args.get("_limit", MAX_LIMIT))
    except ValueError:
        return jsonify(error="_skip and _limit must be integers."), 400
    if skip < 0 or limit < 1:
        return jsonify(error="_skip must be >= 0 and _limit >= 1."), 400
    if limit > MAX_LIMIT:
        return jsonify(error=f"The maximum _limit for this endpoint is {MAX_LIMIT}."), 400
    store = current_sandbox().store
    base = base_url()
    with store.lock:
        links = list(store.close_links_by_user.get(user.id, {}).values())
        page = [close_link_json(link, base) for link in links[skip : skip + limit]]
    return jsonify(data=page, has_more=skip + limit < len(links))


@bp.get("/api/v1/scheduling_link/<link_id>/")
@close_api
def get_link(user: CloseUser, link_id: str) -> Any:
    store = current_sandbox().store
    with store.lock:
        link = store.close_links.get(link_id)
        if link is None or link.organization_id != user.organization_id:
            return jsonify(error="Object does not exist."), 404
        return jsonify(close_link_json(link, base_url()))


@bp.post("/api/v1/scheduling_link/integration/")
@close_api
def upsert_integration_link(user: CloseUser) -> Any:
    if not request.is_json:
        return jsonify(error="Unsupported Media Type: send application/json."), 415
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        return jsonify({"errors": ["Request body must be a JSON object."], "field-errors": {}}), 400
    field_errors = _integration_field_errors(body)
    if field_errors:
        return jsonify({"errors": [], "field-errors": field_errors}), 400
    sandbox = current_sandbox()
    store = sandbox.store
    client_object_id = sandbox.settings["CLOSE_OAUTH_CLIENT_OBJECT_ID"]
    fields = {k: body[k] for k in _OPTIONAL_FIELDS if k in body}
    fields.update(name=body["name"], url=_normalize_url(body["url"]))
    with store.lock:
        link_id = store.close_integration_index.get((client_object_id, body["source_id"]))
        link = store.close_links.get(link_id) if link_id else None
        if link is None:
            link = store.add_close_link(
                CloseLink(
                    id=close_id(store.rng, "schlnk"),
                    user_id=user.id,
                    organization_id=user.organization_id,
                    name=fields["name"],
                    url=fields["url"],
                    source="THIRD_PARTY",
                    source_id=body["source_id"],
                    oauth_client_id=client_object_id,
                )
            )
        elif link.user_id != user.id:
            # source_id is unique across the whole OAuth app: another user's upsert takes it over.
            store.move_close_link(link, user)
        # Close's PUTs behave as PATCHes: a field left out keeps its value.
        for name, value in fields.items():
            setattr(link, name, value)
        return jsonify(close_link_json(link, base_url()))


_OPTIONAL_FIELDS = ("description", "duration_in_minutes", "source_type")


def _integration_field_errors(body: dict[str, Any]) -> dict[str, str]:
    errors = {}
    for name in ("source_id", "name", "url"):
        if not isinstance(body.get(name), str) or not body[name].strip():
            errors[name] = "This field is required."
    for name in ("description", "source_type"):
        if body.get(name) is not None and not isinstance(body[name], str):
            errors[name] = "Not a valid string."
    duration = body.get("duration_in_minutes")
    if duration is not None and (not isinstance(duration, int) or isinstance(duration, bool)):
        errors["duration_in_minutes"] = "Enter a whole number."
    return errors


def _normalize_url(url: str) -> str:
    """Close stores "example.com/x" as "https://example.com/x" (its own create example)."""
    url = url.strip()
    return url if "://" in url else f"https://{url}"


@bp.delete("/api/v1/scheduling_link/integration/<path:source_id>/")
@close_api
def delete_integration_link(user: CloseUser, source_id: str) -> Any:
    sandbox = current_sandbox()
    store = sandbox.store
    key = (sandbox.settings["CLOSE_OAUTH_CLIENT_OBJECT_ID"], source_id)
    with store.lock:
        link_id = store.close_integration_index.get(key)
        if link_id is None:
            return jsonify(error="Object does not exist."), 404
        store.remove_close_link(link_id)
    return Response(status=204)
