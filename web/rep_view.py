"""What a signed-in rep's page shows, as plain data: the connect page renders it and `GET /status`
answers it as JSON, so the page and its live updates never disagree.

Times are ISO 8601 UTC (`web.status.iso`) with `now` beside them, so the page and its script
both say "12 s ago" against the server's clock rather than the browser's.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from web.rep_history import history_json
from web.status import iso, refusal_of, sync_json
from worker.config import Settings
from worker.providers import registry
from worker.storage.models import (
    ACTIVE,
    DISCONNECTED,
    NEEDS_REAUTH,
    Account,
    Connection,
    LinkMapping,
    SyncRun,
    utcnow,
)
from worker.sync.links import reason_text
from worker.sync.runs import FULL, newest_finished_full_run

OUTCOMES = {
    "running": "is still running",
    "ok": "finished",
    "partial": "finished with problems (one provider could not be read)",
    "error": "failed",
}


def web_address(url: str | None) -> str | None:
    """A provider's URL is linked only when it is a web address (no javascript: links)."""
    return url if (url or "").startswith(("https://", "http://")) else None


def close_page(settings: Settings, close_link_id: str | None) -> str | None:
    if not settings.close_link_page_url or not close_link_id:
        return None
    return settings.close_link_page_url.replace("{id}", close_link_id)


def latest_runs(db: Session, account_id: int) -> tuple[SyncRun | None, SyncRun | None]:
    """The newest full run (what the Sync box shows) and the newest finished one (whose
    warnings and not-synced items are shown, so they do not vanish while a run is going)."""
    runs = list(
        db.scalars(
            select(SyncRun)
            .where(SyncRun.account_id == account_id, SyncRun.kind == FULL)
            .order_by(SyncRun.started_at.desc(), SyncRun.id.desc())
            .limit(5)
        )
    )
    newest = runs[0] if runs else None
    finished = next((r for r in runs if r.finished_at is not None), None)
    if finished is None and newest is not None and newest.finished_at is None:
        finished = newest_finished_full_run(db, account_id)
    return newest, finished


def sync_state(account: Account, newest: SyncRun | None) -> str:
    """`running`, `queued` (a trigger is recorded that no run has taken up yet) or `idle`."""
    if newest is not None and newest.outcome == "running":
        return "running"
    if (account.sync_requested_seq or 0) > (account.sync_taken_seq or 0):
        return "queued"
    return "idle"


def link_json(settings: Settings, mapping: LinkMapping) -> dict[str, Any]:
    return {
        "source_id": mapping.source_id,
        "name": mapping.name,
        "url": mapping.url,
        "href": web_address(mapping.url),
        "duration_in_minutes": mapping.duration_in_minutes,
        "close_url": close_page(settings, mapping.close_link_id),
        "pushed_at": iso(mapping.pushed_at),
    }


def provider_json(
    settings: Settings,
    provider: str,
    conn: Connection | None,
    mappings: list[LinkMapping],
    finished: SyncRun | None,
) -> dict[str, Any]:
    spec = registry.spec(provider)
    state = conn.state if conn else "none"
    connected = state in (ACTIVE, NEEDS_REAUTH)
    card: dict[str, Any] = {
        "provider": provider,
        "name": spec.display_name,
        "state": state,
        "connected": connected,
        "who": conn.external_email if conn else None,
        "auth_kind": conn.auth_kind if conn else None,
        "webhook": conn.webhook_state if conn and spec.has_link_webhooks else None,
        # Why Calendly refused the subscription, in words (polling only).
        "webhook_reason": None,
        "cleanup_pending": bool(
            conn and conn.state == DISCONNECTED and conn.cleanup_next_at is not None
        ),
        "links": [link_json(settings, m) for m in mappings if m.provider == provider],
        "warnings": [],
        "not_synced": [],
    }
    refusal = refusal_of(conn) if conn is not None and spec.has_link_webhooks else None
    if refusal is not None:
        card["webhook_reason"] = refusal.words()
    # What the last run said of a provider goes away with it: a disconnected one shows none.
    if connected and finished is not None:
        card["not_synced"] = [
            {
                "name": item.get("name"),
                "reason": item.get("reason"),
                "reason_text": reason_text(item.get("reason", ""), spec.display_name),
            }
            for item in finished.not_synced
            if item.get("provider") == provider
        ]
        # Warnings name their provider first ("SavvyCal link “Unscoped” has no URL; skipped");
        # one about an item the not-synced list already explains is not said twice.
        explained = {f"“{item['name']}”" for item in card["not_synced"] if item["name"]}
        card["warnings"] = [
            w
            for w in finished.warnings
            if w.lower().startswith(provider) and not any(name in w for name in explained)
        ]
    return card


def rep_view(db: Session, account: Account, settings: Settings, now: datetime | None = None):
    """Everything the connect page shows of `account`, as JSON-ready data."""
    mappings = list(
        db.scalars(
            select(LinkMapping)
            .where(LinkMapping.account_id == account.id)
            .order_by(LinkMapping.provider, LinkMapping.name)
        )
    )
    newest, finished = latest_runs(db, account.id)
    providers = [
        provider_json(settings, spec.name, account.connection(spec.name), mappings, finished)
        for spec in registry.SCHEDULING
        if spec.configured(settings)
    ]
    shown = {w for card in providers for w in card["warnings"]}
    scheduling = tuple(registry.scheduling_names())
    other = [
        w
        for w in (finished.warnings if finished else [])
        if w not in shown and not w.lower().startswith(scheduling)
    ]
    last_run = sync_json(newest)
    if last_run is not None:
        last_run["outcome_text"] = OUTCOMES.get(newest.outcome, newest.outcome)
    close = account.connection(registry.CLOSE.name)
    return {
        "now": iso(now or utcnow()),
        "account": {
            "close_user_id": account.close_user_id,
            "email": account.email,
            "close_state": close.state if close else DISCONNECTED,
        },
        "sync": {
            "state": sync_state(account, newest),
            "requested_at": iso(account.sync_requested_at),
            "last_run": last_run,
            "warnings": other,
        },
        "providers": providers,
        # Every write to Close of the rep's links, newest first, in words (web/rep_history.py).
        "history": history_json(db, account.id),
    }
