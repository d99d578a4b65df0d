"""Connecting Calendly and SavvyCal, disconnecting them, and "Sync now" (CONTRACT §3).

The routes here call a provider only while the browser waits on it (the code exchange and the
identity look-up, or the personal-token check); everything after that is enqueued.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import redis
from flask import Blueprint, abort, current_app, flash, redirect, request, url_for

from web import flow_failures, oauth_state
from web.pages import connect_page
from web.provider_identity import calendly_identity, savvycal_identity
from web.signin import sign_in_required, signed_in_account_id
from worker.auth.accounts import Connected, mark_disconnected, store_connection
from worker.celery_app import celery_app
from worker.config import Settings
from worker.providers.errors import Forbidden, Unauthorized
from worker.providers.oauth import authorization_url, exchange_code, oauth_provider
from worker.storage.models import PROVIDERS
from worker.sync.triggers import request_full_sync
from worker.tasks.disconnect import disconnect_connection

log = logging.getLogger(__name__)

bp = Blueprint("connections", __name__)
flow_failures.register(bp)

# Enqueued by name: the web process need not import the webhook machinery to ask for it.
ENSURE_SUBSCRIPTION = "worker.tasks.webhooks.ensure_subscription"
OAUTH_PROVIDERS = "any(calendly, savvycal)"
PERSONAL_TOKEN_MAX_LENGTH = 512


def settings() -> Settings:
    return current_app.config["SCHEDSYNC"]


def require_offered(provider: str) -> None:
    if not settings().provider_configured(provider):
        name = flow_failures.display_name(provider)
        abort(404, f"{name} is not offered on this schedsync.")


def current_account_id() -> int:
    account_id = signed_in_account_id()
    if account_id is None:  # only reachable without sign_in_required
        raise oauth_state.BadState("the browser session is not signed in")
    return account_id


def enqueue(send: Callable[[], object], what: str) -> bool:
    """Hand a message to the broker; False (logged) when the broker cannot take it."""
    try:
        send()
    except Exception as exc:
        broker_failure = isinstance(exc, redis.RedisError | OSError) or type(
            exc
        ).__module__.startswith(("kombu", "celery", "redis", "amqp"))
        if not broker_failure:
            raise
        log.warning("could not enqueue %s: %s", what, type(exc).__name__)
        return False
    return True


def after_connect(provider: str, connected: Connected) -> None:
    name = flow_failures.display_name(provider)
    if provider == "calendly":
        connection_id = connected.connection_id
        enqueue(
            lambda: celery_app.send_task(ENSURE_SUBSCRIPTION, args=[connection_id]),
            f"webhook subscription of connection {connection_id}",
        )
    if request_full_sync(connected.account_id):
        flash(f"{name} connected. Your links are syncing now.", "ok")
    else:
        flash(f"{name} connected. The first sync is queued and will start shortly.", "ok")


@bp.get(f"/oauth/<{OAUTH_PROVIDERS}:provider>/start")
@sign_in_required
def start(provider: str):
    require_offered(provider)
    oauth = oauth_provider(settings(), provider)
    state, challenge = oauth_state.begin(provider, pkce=oauth.pkce)
    return redirect(authorization_url(oauth, settings().redirect_uri(provider), state, challenge))


@bp.get(f"/oauth/<{OAUTH_PROVIDERS}:provider>/callback")
def callback(provider: str):
    pending, code = oauth_state.take_callback(provider)
    account_id = current_account_id()
    oauth = oauth_provider(settings(), provider)
    grant = exchange_code(
        oauth, code, settings().redirect_uri(provider), code_verifier=pending.code_verifier
    )
    if provider == "calendly":
        identity = calendly_identity(grant)
    else:
        identity = savvycal_identity(grant.access_token)
    connected = store_connection(
        account_id,
        provider,
        grant=grant,
        external_user_id=identity.user_id,
        external_org_id=identity.organization_id,
        external_email=identity.email,
    )
    after_connect(provider, connected)
    return redirect(url_for("pages.index"))


@bp.post("/connections/savvycal/token")
@sign_in_required
def savvycal_token():
    require_offered("savvycal")
    account_id = current_account_id()
    token = request.form.get("token", "").strip()
    if not token or len(token) > PERSONAL_TOKEN_MAX_LENGTH:
        return connect_page(account_id, token_error="Paste a SavvyCal personal access token."), 400
    try:
        identity = savvycal_identity(token)
    except (Unauthorized, Forbidden):
        message = (
            "SavvyCal did not accept that token. Copy the private key of a personal access "
            "token from SavvyCal's developer settings and try again."
        )
        return connect_page(account_id, token_error=message), 400
    connected = store_connection(
        account_id,
        "savvycal",
        personal_token=token,
        external_user_id=identity.user_id,
        external_email=identity.email,
    )
    after_connect("savvycal", connected)
    return redirect(url_for("pages.index"), 303)


@bp.post("/connections/<provider>/disconnect")
@sign_in_required
def disconnect(provider: str):
    if provider not in PROVIDERS:
        abort(404, "Only Calendly and SavvyCal can be disconnected here.")
    name = flow_failures.display_name(provider)
    marked = mark_disconnected(current_account_id(), provider)
    if marked is None:
        flash(f"{name} was not connected.", "info")
        return redirect(url_for("pages.index"), 303)
    queued = enqueue(
        lambda: disconnect_connection.delay(marked.connection_id, marked.connect_count),
        f"clean-up of connection {marked.connection_id}",
    )
    if queued:
        flash(f"{name} disconnected. Its links are being removed from Close.", "ok")
    else:
        flash(
            f"{name} disconnected; nothing more is synced from it. Removing its links from "
            "Close could not be queued yet: schedsync's queue is unreachable.",
            "warning",
        )
    return redirect(url_for("pages.index"), 303)


@bp.post("/sync")
@sign_in_required
def sync_now():
    if request_full_sync(current_account_id()):
        flash("Sync started.", "ok")
    else:
        flash("Sync queued; it will start shortly.", "info")
    return redirect(url_for("pages.index"), 303)
