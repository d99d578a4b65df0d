"""Connecting Calendly and SavvyCal, disconnecting them, and "Sync now" (CONTRACT §3).

The routes here call a provider only while the browser waits on it (the code exchange and the
identity look-up, or the personal-token check); everything after that is enqueued.
"""

from __future__ import annotations

import logging

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from sqlalchemy import func, select

from web import flow_failures, oauth_state
from web.pages import connect_page
from web.signin import sign_in_required, signed_in_account_id
from worker import queue, runtime
from worker.auth import cleanups
from worker.auth.accounts import Connected, mark_disconnected, store_connection
from worker.config import Settings
from worker.providers import registry
from worker.providers.errors import Forbidden, Unauthorized
from worker.providers.oauth import authorization_url, exchange_code
from worker.providers.savvycal import NAME as SAVVYCAL
from worker.storage.models import LinkMapping
from worker.sync.triggers import CONNECT, SYNC_NOW, request_full_sync

log = logging.getLogger(__name__)

bp = Blueprint("connections", __name__)
flow_failures.register(bp)

OAUTH_PROVIDERS = f"any({', '.join(registry.scheduling_names())})"
PERSONAL_TOKEN_MAX_LENGTH = 512


def settings() -> Settings:
    return current_app.config["SCHEDSYNC"]


def require_offered(provider: str) -> None:
    if not settings().provider_configured(provider):
        name = registry.display_name(provider)
        abort(404, f"{name} is not offered on this schedsync.")


def current_account_id() -> int:
    account_id = signed_in_account_id()
    if account_id is None:  # only reachable without sign_in_required
        raise oauth_state.BadState("the browser session is not signed in")
    return account_id


def after_connect(provider: str, connected: Connected) -> None:
    spec = registry.spec(provider)
    if spec.has_link_webhooks:
        queue.try_send(queue.ENSURE_SUBSCRIPTION, connected.connection_id)
    if request_full_sync(connected.account_id, trigger=CONNECT):
        flash(f"{spec.display_name} connected. Your links are syncing now.", "ok")
    else:
        flash(
            f"{spec.display_name} connected. The first sync is queued and will start shortly.",
            "ok",
        )


@bp.get(f"/oauth/<{OAUTH_PROVIDERS}:provider>/start")
@sign_in_required
def start(provider: str):
    require_offered(provider)
    oauth = registry.oauth_provider(settings(), provider)
    state, challenge = oauth_state.begin(provider, pkce=oauth.pkce)
    return redirect(authorization_url(oauth, settings().redirect_uri(provider), state, challenge))


@bp.get(f"/oauth/<{OAUTH_PROVIDERS}:provider>/callback")
def callback(provider: str):
    pending, code = oauth_state.take_callback(provider)
    account_id = current_account_id()
    oauth = registry.oauth_provider(settings(), provider)
    grant = exchange_code(
        oauth, code, settings().redirect_uri(provider), code_verifier=pending.code_verifier
    )
    identity = registry.spec(provider).identity(grant.access_token, grant.extra)
    connected = store_connection(
        account_id,
        provider,
        grant=grant,
        external_user_id=identity.user_id,
        external_org_id=identity.organization_id,
        external_email=identity.email,
    )
    after_connect(provider, connected)
    oauth_state.mark_complete(provider)
    return redirect(url_for("pages.index"))


@bp.post("/connections/savvycal/token")
@sign_in_required
def savvycal_token():
    require_offered(SAVVYCAL)
    account_id = current_account_id()
    token = request.form.get("token", "").strip()
    if not token or len(token) > PERSONAL_TOKEN_MAX_LENGTH:
        return connect_page(account_id, token_error="Paste a SavvyCal personal access token."), 400
    try:
        identity = registry.spec(SAVVYCAL).identity(token, {})
    except (Unauthorized, Forbidden):
        message = (
            "SavvyCal did not accept that token. Copy the private key of a personal access "
            "token from SavvyCal's developer settings and try again."
        )
        return connect_page(account_id, token_error=message), 400
    connected = store_connection(
        account_id,
        SAVVYCAL,
        personal_token=token,
        external_user_id=identity.user_id,
        external_email=identity.email,
    )
    after_connect(SAVVYCAL, connected)
    return redirect(url_for("pages.index"), 303)


@bp.get("/connections/<provider>/disconnect")
def confirm_disconnect(provider: str):
    """Disconnect asks first: a plain page whose form POSTs, so it works without scripts."""
    if not registry.is_scheduling(provider):
        abort(404, "Only Calendly and SavvyCal can be disconnected here.")
    if signed_in_account_id() is None:
        return redirect(url_for("pages.index"))
    with runtime.session_scope() as db:
        links = db.scalar(
            select(func.count(LinkMapping.id)).where(
                LinkMapping.account_id == current_account_id(), LinkMapping.provider == provider
            )
        )
    return render_template(
        "confirm_disconnect.html",
        provider=provider,
        name=registry.display_name(provider),
        links=links or 0,
    )


@bp.post("/connections/<provider>/disconnect")
@sign_in_required
def disconnect(provider: str):
    if not registry.is_scheduling(provider):
        abort(404, "Only Calendly and SavvyCal can be disconnected here.")
    name = registry.display_name(provider)
    marked = mark_disconnected(current_account_id(), provider)  # records the clean-up too
    if marked is None:
        return disconnect_again(provider, name)
    pending = cleanups.PendingCleanup(marked.connection_id, marked.connect_count)
    if cleanups.enqueue(pending) is not cleanups.Queued.BROKER_DOWN:
        flash(f"{name} disconnected. Its links are being removed from Close.", "ok")
    else:
        flash(
            f"{name} disconnected; nothing more is synced from it. Removing its links from "
            "Close could not be queued yet: schedsync's queue is unreachable. It is retried "
            "automatically.",
            "warning",
        )
    return redirect(url_for("pages.index"), 303)


def disconnect_again(provider: str, name: str):
    """Disconnect pressed on a disconnected provider: a clean-up that has not finished is
    retried now (CONTRACT §5 "Durable clean-up")."""
    pending = cleanups.retry_now(current_account_id(), provider)
    if pending is None:
        flash(f"{name} was not connected.", "info")
    elif cleanups.enqueue(pending) is not cleanups.Queued.BROKER_DOWN:
        flash(
            f"{name} was already disconnected, but removing its links from Close and revoking "
            "its access had not finished. Retrying it now.",
            "ok",
        )
    else:
        flash(
            f"{name} was already disconnected, but its clean-up has not finished and could not "
            "be queued yet: schedsync's queue is unreachable. It is retried automatically.",
            "warning",
        )
    return redirect(url_for("pages.index"), 303)


@bp.post("/sync")
@sign_in_required
def sync_now():
    if request_full_sync(current_account_id(), trigger=SYNC_NOW):
        flash("Sync started.", "ok")
    else:
        flash("Sync queued; it will start shortly.", "info")
    return redirect(url_for("pages.index"), 303)
