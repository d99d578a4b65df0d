"""Signing a rep in with Close (CONTRACT §3), and out again.

The Close grant is the account: its user id and organization id come from the token answer, the
email from /me/. Signing out only ends the browser session; syncing goes on with the stored grant.

Signing in under another Close organization than before moves the account there: the rep chose
that organization on Close's consent page. The old grant is not forgotten: it is retired in the
same transaction and its clean-up enqueued (our links in the old organization deleted, the grant
revoked: worker/auth/retired_grants.py).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import Blueprint, abort, current_app, flash, redirect, request, session, url_for
from sqlalchemy import select

from web import flow_failures, oauth_state
from worker import runtime
from worker.auth import retired_grants
from worker.auth.accounts import store_close_account
from worker.config import Settings
from worker.providers import registry
from worker.providers.oauth import authorization_url, exchange_code
from worker.storage.models import ACTIVE, Connection
from worker.sync.triggers import CONNECT, request_full_sync

bp = Blueprint("signin", __name__)
flow_failures.register(bp)
# The OAuth libraries print token requests at DEBUG: stop those records wherever logs go.

ACCOUNT_KEY = "account_id"


def settings() -> Settings:
    return current_app.config["SCHEDSYNC"]


def signed_in_account_id() -> int | None:
    account_id = session.get(ACCOUNT_KEY)
    return account_id if isinstance(account_id, int) else None


def sign_in_required(view: Callable[..., Any]) -> Callable[..., Any]:
    """Send a browser that is not signed in to the connect page (303 after a POST)."""

    @wraps(view)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        if signed_in_account_id() is None:
            return redirect(url_for("pages.index"), 303 if request.method == "POST" else 302)
        return view(*args, **kwargs)

    return guarded


def has_active_provider(account_id: int) -> bool:
    with runtime.session_scope() as db:
        return (
            db.scalars(
                select(Connection.id).where(
                    Connection.account_id == account_id,
                    Connection.provider.in_(registry.scheduling_names()),
                    Connection.state == ACTIVE,
                )
            ).first()
            is not None
        )


@bp.get("/oauth/close/start")
def close_start():
    if not settings().provider_configured("close"):
        abort(404, "Signing in with Close is not set up on this schedsync (CLOSE_CLIENT_ID).")
    state, _ = oauth_state.begin("close")
    provider = registry.oauth_provider(settings(), registry.CLOSE.name)
    return redirect(authorization_url(provider, settings().redirect_uri("close"), state))


@bp.get("/oauth/close/callback")
def close_callback():
    _, code = oauth_state.take_callback("close")
    provider = registry.oauth_provider(settings(), registry.CLOSE.name)
    grant = exchange_code(provider, code, settings().redirect_uri("close"))
    identity = registry.CLOSE.identity(grant.access_token, grant.extra)
    connected = store_close_account(
        close_user_id=identity.user_id,
        organization_id=identity.organization_id,
        email=identity.email,
        grant=grant,
    )
    if connected.retired_grant_id is not None:
        # Recorded in the sign-in's transaction: if the broker cannot take it now, the clean-up
        # sweep sends it.
        retired_grants.enqueue(connected.retired_grant_id)
    # A fresh session on sign-in: nothing from before it (a fixated cookie) carries over.
    session.clear()
    session[ACCOUNT_KEY] = connected.account_id
    if has_active_provider(connected.account_id):
        # A rep signing in again after Close access was lost, or under another organization:
        # catch up at once.
        request_full_sync(connected.account_id, trigger=CONNECT)
    flash(f"Signed in with Close as {identity.email or identity.user_id}.", "ok")
    if connected.left_organization_id is not None:
        flash(
            f"You signed in under another Close organization ({identity.organization_id}). "
            "Your links now sync there; schedsync is removing them from the organization you "
            f"used before ({connected.left_organization_id}) and revoking its access there.",
            "ok",
        )
    oauth_state.mark_complete("close")
    return redirect(url_for("pages.index"))


@bp.post("/signout")
def signout():
    session.clear()
    flash("Signed out. Your links keep syncing.", "ok")
    return redirect(url_for("pages.index"), 303)
