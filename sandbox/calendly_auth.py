"""Calendly OAuth (auth.calendly.com): PKCE S256, HTTP Basic client auth, 8 tokens/user/minute.

shared/reference/calendly-api.md §1: web clients pass client_id:client_secret as HTTP Basic on
/oauth/token; refresh tokens are single-use; revoke and introspect take the credentials in the
form body. Errors are `{"error", "error_description"}`.
"""

from __future__ import annotations

import hmac
import math
from typing import Any

from flask import Blueprint, Response, jsonify, request

from .context import base_url, current_sandbox
from .oauth import (
    ConsentSpec,
    OAuthError,
    find_refresh,
    handle_authorize,
    is_form_post,
    issue_tokens,
    redeem_code,
    revoke_token,
)
from .resources import calendly_org_uri, calendly_user_uri

bp = Blueprint("calendly_auth", __name__, url_prefix="/calendly/auth")

SCOPE = "users:read event_types:read webhooks:read webhooks:write"


class TokenRateLimited(Exception):
    def __init__(self, reset: float) -> None:
        super().__init__("too many tokens")
        self.reset = reset


@bp.errorhandler(OAuthError)
def _oauth_error(exc: OAuthError) -> tuple[Response, int]:
    return jsonify(error=exc.error, error_description=exc.description), exc.status


@bp.errorhandler(TokenRateLimited)
def _token_limited(exc: TokenRateLimited) -> Response:
    limit = current_sandbox().calendly_token_limiter.limit
    response = jsonify(
        error="too_many_requests",
        error_description=f"Only {limit} OAuth tokens per user can be requested within 1 minute.",
    )
    response.status_code = 429
    response.headers["X-RateLimit-Limit"] = str(limit)
    response.headers["X-RateLimit-Remaining"] = "0"
    response.headers["X-RateLimit-Reset"] = str(max(1, math.ceil(exc.reset)))
    response.headers["Retry-After"] = str(max(1, math.ceil(exc.reset)))
    return response


@bp.route("/oauth/authorize", methods=["GET", "POST"])
def authorize() -> Any:
    sandbox = current_sandbox()
    store = sandbox.store

    def users() -> list[tuple[str, str]]:
        return [
            (u.uuid, f"{u.name} <{u.email}> — {u.plan} plan") for u in store.calendly_users.values()
        ]

    spec = ConsentSpec(
        provider="calendly",
        title="Calendly",
        client_id=sandbox.settings["CALENDLY_CLIENT_ID"],
        code_ttl=sandbox.settings["SANDBOX_CODE_TTL_SECONDS"],
        users=users,
        require_pkce=True,
    )
    return handle_authorize(store, spec)


def _basic_client() -> str:
    settings = current_sandbox().settings
    auth = request.authorization
    if auth is None or auth.type != "basic":
        raise OAuthError(
            401, "invalid_client", "Client authentication failed: use HTTP Basic client_id:secret."
        )
    _compare_client(auth.username or "", auth.password or "", settings)
    return auth.username or ""


def _body_client() -> str:
    settings = current_sandbox().settings
    client_id = request.form.get("client_id", "")
    _compare_client(client_id, request.form.get("client_secret", ""), settings)
    return client_id


def _compare_client(client_id: str, secret: str, settings: dict[str, Any]) -> None:
    if client_id != settings["CALENDLY_CLIENT_ID"] or not hmac.compare_digest(
        secret.encode(), settings["CALENDLY_CLIENT_SECRET"].encode()
    ):
        raise OAuthError(401, "invalid_client", "Client authentication failed.")


def _count_token(user_uuid: str) -> None:
    sandbox = current_sandbox()
    decision = sandbox.calendly_token_limiter.hit(user_uuid, sandbox.store.now())
    if not decision.allowed:
        raise TokenRateLimited(decision.reset)


@bp.post("/oauth/token")
def token() -> Any:
    if not is_form_post():
        raise OAuthError(400, "invalid_request", "Use application/x-www-form-urlencoded.")
    sandbox = current_sandbox()
    store = sandbox.store
    client_id = _basic_client()
    form = request.form
    ttl = sandbox.settings["SANDBOX_CALENDLY_TOKEN_TTL_SECONDS"]
    grant_type = form.get("grant_type")
    if grant_type == "authorization_code":
        for name in ("code", "redirect_uri", "code_verifier"):
            if not form.get(name):
                raise OAuthError(400, "invalid_request", f"{name} is required.")
        pending = store.codes.get(form["code"])
        if pending is not None and not pending.used:
            _count_token(pending.user_id)  # before the code is spent, so a 429 can be retried
        code = redeem_code(
            store, "calendly", client_id, form["code"], form["redirect_uri"], form["code_verifier"]
        )
        access, refresh = issue_tokens(store, "calendly", client_id, code.user_id, ttl)
    elif grant_type == "refresh_token":
        spent = find_refresh(store, "calendly", client_id, form.get("refresh_token"))
        _count_token(spent.user_id)
        access, refresh = issue_tokens(store, "calendly", client_id, spent.user_id, ttl, spent)
    else:
        raise OAuthError(400, "unsupported_grant_type", "grant_type is not supported.")
    user = store.calendly_users[access.user_id]
    base = base_url()
    return jsonify(
        token_type="Bearer",
        access_token=access.token,
        refresh_token=refresh.token,
        scope=SCOPE,
        created_at=int(access.issued_at),
        expires_in=int(ttl),
        owner=calendly_user_uri(base, user.uuid),
        organization=calendly_org_uri(base, user.organization_uuid),
    )


@bp.post("/oauth/revoke")
def revoke() -> Any:
    if not is_form_post():
        raise OAuthError(400, "invalid_request", "Use application/x-www-form-urlencoded.")
    client_id = _body_client()
    if not request.form.get("token"):
        raise OAuthError(400, "invalid_request", "token is required.")
    revoke_token(current_sandbox().store, "calendly", client_id, request.form["token"])
    return jsonify({})


@bp.post("/oauth/introspect")
def introspect() -> Any:
    if not is_form_post():
        raise OAuthError(400, "invalid_request", "Use application/x-www-form-urlencoded.")
    client_id = _body_client()
    token_value = request.form.get("token", "")
    store = current_sandbox().store
    base = base_url()
    with store.lock:
        now = store.now()
        access = store.access_tokens.get(token_value)
        refresh = store.refresh_tokens.get(token_value)
        record: Any = access or refresh
        if record is None or record.provider != "calendly" or record.client_id != client_id:
            return jsonify(active=False)
        if access is not None:
            active = not access.revoked and now < access.expires_at
        else:
            active = not (refresh.used or refresh.revoked)
        if not active:
            return jsonify(active=False)
        user = store.calendly_users[record.user_id]
        answer = {
            "active": True,
            "scope": SCOPE,
            "client_id": client_id,
            "token_type": "access_token" if access is not None else "refresh_token",
            "iat": int(record.issued_at),
            "owner": calendly_user_uri(base, user.uuid),
            "organization": calendly_org_uri(base, user.organization_uuid),
        }
        if access is not None:
            answer["exp"] = int(access.expires_at)
        return jsonify(answer)
