"""SavvyCal: OAuth (credentials in the form body, no scopes, no PKCE), personal access tokens,
`GET /v1/me` and `GET /v1/links` with cursor paging.

From shared/reference/savvycal-api.md: `{"entries", "metadata": {before, after, limit}}` with
opaque cursors and `after: null` on the last page; 401 is a text/plain "Unauthenticated";
validation errors are 422 `{"errors": {field: [...]}}`. No rate-limit headers are documented, so
none are sent; 429s only come from injected faults.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import Blueprint, Response, jsonify, request

from .context import current_sandbox
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
)
from .paging import BadCursor, decode_cursor, keyset_page
from .resources import savvy_link_json, savvy_me_json
from .store import SavvyLink, SavvyUser

oauth_bp = Blueprint("savvycal_oauth", __name__, url_prefix="/savvycal/oauth")
api_bp = Blueprint("savvycal_api", __name__, url_prefix="/savvycal/api/v1")


@oauth_bp.errorhandler(OAuthError)
def _oauth_error(exc: OAuthError) -> tuple[Response, int]:
    return jsonify(error=exc.error, error_description=exc.description), exc.status


@oauth_bp.route("/authorize", methods=["GET", "POST"])
def authorize() -> Any:
    sandbox = current_sandbox()
    store = sandbox.store

    def users() -> list[tuple[str, str]]:
        return [
            (u.id, f"{u.display_name} <{u.email}> — {u.plan} plan")
            for u in store.savvy_users.values()
        ]

    spec = ConsentSpec(
        provider="savvycal",
        title="SavvyCal",
        client_id=sandbox.settings["SAVVYCAL_CLIENT_ID"],
        code_ttl=sandbox.settings["SANDBOX_CODE_TTL_SECONDS"],
        users=users,
    )
    return handle_authorize(store, spec)


@oauth_bp.post("/token")
def token() -> Any:
    if not is_form_post():
        raise OAuthError(400, "invalid_request", "Use application/x-www-form-urlencoded.")
    sandbox = current_sandbox()
    store, settings = sandbox.store, sandbox.settings
    form = request.form
    client_id = form.get("client_id", "")
    if client_id != settings["SAVVYCAL_CLIENT_ID"] or not hmac.compare_digest(
        form.get("client_secret", "").encode(), settings["SAVVYCAL_CLIENT_SECRET"].encode()
    ):
        raise OAuthError(
            401, "invalid_client", "Send client_id and client_secret in the form body."
        )
    ttl = settings["SANDBOX_SAVVYCAL_TOKEN_TTL_SECONDS"]
    grant_type = form.get("grant_type")
    if grant_type == "authorization_code":
        code = redeem_code(store, "savvycal", client_id, form.get("code"), form.get("redirect_uri"))
        access, refresh = issue_tokens(store, "savvycal", client_id, code.user_id, ttl)
    elif grant_type == "refresh_token":
        spent = find_refresh(store, "savvycal", client_id, form.get("refresh_token"))
        access, refresh = issue_tokens(store, "savvycal", client_id, spent.user_id, ttl, spent)
    else:
        raise OAuthError(400, "unsupported_grant_type", "grant_type is not supported.")
    return jsonify(
        access_token=access.token,
        refresh_token=refresh.token,
        expires_in=int(ttl),
        token_type="bearer",
    )


def savvycal_api(view: Callable[..., Any]) -> Callable[..., Any]:
    """An OAuth access token or a personal access token (`pt_secret_…`, never expires)."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        store = current_sandbox().store
        token_value = bearer_token()
        user_id = store.savvy_pats.get(token_value or "")
        if user_id is None:
            access, _ = check_access(store, "savvycal", token_value)
            user_id = access.user_id if access else None
        if user_id is None:
            return Response("Unauthenticated", status=401, mimetype="text/plain")
        return view(store.savvy_users[user_id], *args, **kwargs)

    return wrapper


def _unprocessable(field: str, message: str) -> tuple[Response, int]:
    return jsonify(errors={field: [message]}), 422


@api_bp.get("/me")
@savvycal_api
def me(user: SavvyUser) -> Any:
    return jsonify(savvy_me_json(user))


@api_bp.get("/links")
@savvycal_api
def list_links(user: SavvyUser) -> Any:
    raw_limit = request.args.get("limit", "20")
    if not raw_limit.isdigit() or not 1 <= int(raw_limit) <= 100:
        return _unprocessable("limit", "must be between 1 and 100")
    limit = int(raw_limit)
    after, before = request.args.get("after"), request.args.get("before")
    cursor = None
    try:
        if after:
            cursor = (decode_cursor(after)[0], "next")
        elif before:
            cursor = (decode_cursor(before)[0], "prev")
    except BadCursor:
        return _unprocessable("after" if after else "before", "is not a valid cursor")
    store = current_sandbox().store
    with store.lock:
        links = store.savvy_links_visible_to(user)

        def raw_key(link: SavvyLink) -> list[Any]:
            return [link.seq]

        try:
            page, next_token, prev_token = keyset_page(links, raw_key, tuple, limit, cursor)
        except BadCursor:
            return _unprocessable("after", "is not a valid cursor")
        entries = [savvy_link_json(store, link) for link in page]
    return jsonify(
        entries=entries, metadata={"before": prev_token, "after": next_token, "limit": limit}
    )


@api_bp.get("/links/<link_id>")
@savvycal_api
def get_link(user: SavvyUser, link_id: str) -> Any:
    store = current_sandbox().store
    with store.lock:
        link = store.savvy_links.get(link_id)
        if link is None or link not in store.savvy_links_visible_to(user):
            return jsonify(errors=[{"message": "Not found"}]), 404
        return jsonify(savvy_link_json(store, link))
