"""The operator's JSON API (CONTRACT §3): resync accounts, list them, show one with its links.

Every route takes `Authorization: Bearer $ADMIN_TOKEN`. With no ADMIN_TOKEN configured the API is
switched off (503 `admin_disabled`) rather than open.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask import Blueprint, current_app, jsonify, request
from sqlalchemy import exists, select
from sqlalchemy.orm import Session, selectinload

from web.errors import json_error
from web.request_body import loads_json
from web.status import account_json, iso, links_json
from worker import runtime
from worker.providers import registry
from worker.storage.models import ACTIVE, Account, Connection, utcnow
from worker.sync import triggers

bp = Blueprint("admin", __name__, url_prefix="/admin")

RESYNC_KEYS = {"account"}


class UnknownAccount(LookupError):
    """No account has that Close user id."""


@dataclass(frozen=True)
class ResyncRequest:
    """What was queued: the accounts (id, close user id) and the moment before their triggers
    were recorded, so a run with `started_at >= requested_at` took them up."""

    requested_at: datetime
    accounts: list[tuple[int, str]]
    not_enqueued: list[str]

    def as_json(self) -> dict[str, Any]:
        return {
            "queued": len(self.accounts),
            "accounts": [close_user_id for _, close_user_id in self.accounts],
            # Same precision as `last_sync.started_at`, so the two compare as strings too.
            "requested_at": iso(self.requested_at),
        }


def syncable_accounts(session: Session) -> list[tuple[int, str]]:
    """Accounts with an active Close grant and at least one active provider connection."""
    close = Connection.__table__.alias("close_grant")
    provider = Connection.__table__.alias("provider_grant")
    rows = session.execute(
        select(Account.id, Account.close_user_id)
        .where(
            exists().where(
                close.c.account_id == Account.id,
                close.c.provider == "close",
                close.c.state == ACTIVE,
            ),
            exists().where(
                provider.c.account_id == Account.id,
                provider.c.provider.in_(registry.scheduling_names()),
                provider.c.state == ACTIVE,
            ),
        )
        .order_by(Account.close_user_id)
    )
    return [(row.id, row.close_user_id) for row in rows]


def queue_resync(close_user_id: str | None = None) -> ResyncRequest:
    """Record and enqueue a full sync of one account, or of every syncable account.

    A resync already running for an account is not doubled: the run sees the recorded trigger and
    runs once more when it ends (worker/sync/triggers.py)."""
    with runtime.session_scope() as session:
        if close_user_id is None:
            accounts = syncable_accounts(session)
        else:
            account_id = session.scalar(
                select(Account.id).where(Account.close_user_id == close_user_id)
            )
            if account_id is None:
                raise UnknownAccount(close_user_id)
            accounts = [(account_id, close_user_id)]
    return queue_accounts(accounts)


def queue_accounts(accounts: list[tuple[int, str]]) -> ResyncRequest:
    """Record and enqueue a full sync of each (account id, close user id), as an admin's."""
    requested_at = utcnow()
    left = set(
        triggers.request_full_syncs(
            [account_id for account_id, _ in accounts], trigger=triggers.ADMIN
        )
    )
    not_enqueued = [user for account_id, user in accounts if account_id in left]
    return ResyncRequest(requested_at, accounts, not_enqueued)


@bp.before_request
def require_admin_token():
    expected = current_app.config["SCHEDSYNC"].admin_token
    if not expected:
        return json_error(
            503, "admin_disabled", "The admin API is switched off: ADMIN_TOKEN is not set."
        )
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    # Bytes: compare_digest refuses non-ASCII str, and a header may carry anything.
    if scheme.lower() != "bearer" or not hmac.compare_digest(
        given.strip().encode("utf-8", "replace"), expected.encode("utf-8")
    ):
        return json_error(401, "unauthorized", "A valid admin bearer token is required.")
    return None


@bp.post("/resync")
def resync():
    try:
        body = loads_json(request.get_data(cache=False) or b"null")
    except (ValueError, RecursionError):  # RecursionError: absurdly deep nesting
        body = None
    if not isinstance(body, dict):
        return json_error(
            400,
            "bad_request",
            'The body must be a JSON object: {} for every account, {"account": "<close user id>"} '
            "for one.",
        )
    unknown = sorted(set(body) - RESYNC_KEYS)
    if unknown:
        return json_error(400, "bad_request", f"Unknown field(s): {', '.join(unknown)}.")
    close_user_id = body.get("account")
    if "account" in body and (not isinstance(close_user_id, str) or not close_user_id):
        return json_error(400, "bad_request", '"account" must be a Close user id (a string).')
    try:
        queued = queue_resync(close_user_id)
    except UnknownAccount:
        return json_error(404, "not_found", "No account has that Close user id.")
    if queued.not_enqueued:
        current_app.logger.warning(
            "resync of %d account(s) recorded but not enqueued (broker unreachable); the resync "
            "sweep enqueues them within a minute",
            len(queued.not_enqueued),
        )
    return jsonify(queued.as_json()), 202


@bp.get("/accounts")
def accounts():
    with runtime.session_scope() as session:
        rows = session.scalars(
            select(Account)
            .options(selectinload(Account.connections))
            .order_by(Account.close_user_id)
        )
        return jsonify(accounts=[account_json(session, account) for account in rows])


@bp.get("/accounts/<close_user_id>")
def account(close_user_id: str):
    with runtime.session_scope() as session:
        found = session.scalars(
            select(Account)
            .options(selectinload(Account.connections))
            .where(Account.close_user_id == close_user_id)
        ).first()
        if found is None:
            return json_error(404, "not_found", "No account has that Close user id.")
        return jsonify({**account_json(session, found), "links": links_json(session, found.id)})
