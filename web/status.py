"""An account as the admin API and the connect page show it (CONTRACT §3 `account`)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from worker.calendly.refusals import Refusal
from worker.calendly.rows import POLLING_ONLY
from worker.providers import registry
from worker.storage.models import Account, Connection, LinkMapping, SyncRun


def iso(value: datetime | None) -> str | None:
    """ISO 8601 UTC with milliseconds, always the same width: two of these compare correctly as
    strings, and `last_sync.started_at >= requested_at` is exact within a second too."""
    if value is None:
        return None
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def last_full_sync(session: Session, account_id: int) -> SyncRun | None:
    return session.scalars(
        select(SyncRun)
        .where(SyncRun.account_id == account_id, SyncRun.kind == "full")
        .order_by(SyncRun.started_at.desc(), SyncRun.id.desc())
        .limit(1)
    ).first()


def sync_json(run: SyncRun | None) -> dict[str, Any] | None:
    if run is None:
        return None
    return {
        "started_at": iso(run.started_at),
        "finished_at": iso(run.finished_at),
        "outcome": run.outcome,
        "created": run.created,
        "updated": run.updated,
        "deleted": run.deleted,
        "unchanged": run.unchanged,
        "failed": run.failed,
        "error": run.error,
        "warnings": run.warnings,
    }


def refusal_of(conn: Connection) -> Refusal | None:
    """Why Calendly refused this connection's subscription, while it is polling only."""
    if conn.webhook_state != POLLING_ONLY:
        return None
    # A connection marked before reasons were stored: Calendly said nothing we kept.
    return Refusal.from_stored(conn.webhook_reason) or Refusal("unknown")


def connection_json(c: Connection) -> dict[str, Any]:
    has_webhooks = registry.spec(c.provider).has_link_webhooks
    refusal = refusal_of(c) if has_webhooks else None
    return {
        "provider": c.provider,
        "state": c.state,
        "token_expires_at": iso(c.token_expires_at),
        "webhook": c.webhook_state if has_webhooks else "none",
        # Not in the contract's shape, added beside it: null unless `webhook` is polling_only.
        "webhook_reason": refusal.as_json() if refusal else None,
    }


def account_json(session: Session, account: Account) -> dict[str, Any]:
    return {
        "close_user_id": account.close_user_id,
        "email": account.email,
        "organization_id": account.organization_id,
        "state": account.state,
        "connections": [
            connection_json(c) for c in account.connections if registry.is_scheduling(c.provider)
        ],
        "last_sync": sync_json(last_full_sync(session, account.id)),
    }


def links_json(session: Session, account_id: int) -> list[dict[str, Any]]:
    mappings = session.scalars(
        select(LinkMapping)
        .where(LinkMapping.account_id == account_id)
        .order_by(LinkMapping.provider, LinkMapping.name)
    )
    return [
        {
            "provider": m.provider,
            "source_id": m.source_id,
            "name": m.name,
            "url": m.url,
            "close_link_id": m.close_link_id,
            "pushed_at": iso(m.pushed_at),
        }
        for m in mappings
    ]
