"""The connect page (GET /): sign in with Close; then, per offered provider, its state, its links
and what the last sync said about them; "Sync now"; sign out. Server-rendered, no scripts."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from flask import Blueprint, current_app, render_template, session
from sqlalchemy import select

from web.signin import signed_in_account_id
from web.status import last_full_sync, refusal_of, sync_json
from worker import runtime
from worker.providers import registry
from worker.storage.models import (
    ACTIVE,
    DISCONNECTED,
    NEEDS_REAUTH,
    Account,
    Connection,
    LinkMapping,
)

bp = Blueprint("pages", __name__)

OUTCOMES = {
    "running": "running",
    "ok": "finished",
    "partial": "finished with problems (one provider could not be read)",
    "error": "failed",
}


@dataclass
class ProviderCard:
    provider: str
    name: str
    state: str  # "none" when never connected
    auth_kind: str | None = None
    who: str | None = None
    webhook_state: str | None = None
    # Why Calendly refused the subscription, in words (polling_only only).
    webhook_reason: str | None = None
    links: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    # Disconnected, but its clean-up has not finished: Disconnect is offered again to retry it.
    cleanup_pending: bool = False

    @property
    def connected(self) -> bool:
        return self.state in (ACTIVE, NEEDS_REAUTH)


def human_time(value: datetime | None) -> str | None:
    return None if value is None else value.strftime("%Y-%m-%d %H:%M UTC")


def card_for(provider: str, conn: Connection | None, mappings: list[LinkMapping]) -> ProviderCard:
    spec = registry.spec(provider)
    card = ProviderCard(provider, spec.display_name, conn.state if conn else "none")
    if conn is not None:
        card.auth_kind = conn.auth_kind
        card.who = conn.external_email
        card.webhook_state = conn.webhook_state if spec.has_link_webhooks else None
        refusal = refusal_of(conn) if spec.has_link_webhooks else None
        card.webhook_reason = refusal.words() if refusal else None
        card.cleanup_pending = conn.state == DISCONNECTED and conn.cleanup_next_at is not None
    card.links = [
        {
            "name": m.name,
            "url": m.url,
            # A provider's URL is linked only when it is a web address (no javascript: links).
            "href": m.url if (m.url or "").startswith(("https://", "http://")) else None,
            "pushed_at": human_time(m.pushed_at),
        }
        for m in mappings
        if m.provider == provider
    ]
    return card


def signin_page() -> str:
    settings = current_app.config["SCHEDSYNC"]
    return render_template("signin.html", close_offered=settings.provider_configured("close"))


def connect_page(account_id: int, *, token_error: str | None = None) -> str:
    """The signed-in page; `token_error` is shown beside the SavvyCal personal-token form."""
    settings = current_app.config["SCHEDSYNC"]
    with runtime.session_scope() as db:
        account = db.get(Account, account_id)
        if account is None:
            return signin_page()
        mappings = list(
            db.scalars(
                select(LinkMapping)
                .where(LinkMapping.account_id == account_id)
                .order_by(LinkMapping.provider, LinkMapping.name)
            )
        )
        run = last_full_sync(db, account_id)
        last_sync = sync_json(run)
        sync_times = {
            "started_at": human_time(run.started_at) if run else None,
            "finished_at": human_time(run.finished_at) if run else None,
        }
        close = account.connection("close")
        cards = [
            card_for(spec.name, account.connection(spec.name), mappings)
            for spec in registry.SCHEDULING
            if spec.configured(settings)
        ]
        email, close_user_id = account.email, account.close_user_id
    warnings = list(last_sync["warnings"]) if last_sync else []
    for card in cards:
        # Warnings name their provider first ("Calendly event type … has no URL; skipped").
        card.warnings = [w for w in warnings if w.lower().startswith(card.provider)]
        warnings = [w for w in warnings if w not in card.warnings]
    return render_template(
        "connect.html",
        email=email,
        close_user_id=close_user_id,
        close_state=close.state if close else DISCONNECTED,
        cards=cards,
        last_sync=last_sync,
        last_sync_times=sync_times,
        outcome_text=OUTCOMES.get(last_sync["outcome"], "") if last_sync else "",
        other_warnings=warnings,
        token_error=token_error,
    )


def account_exists(account_id: int) -> bool:
    with runtime.session_scope() as db:
        return db.scalars(select(Account.id).where(Account.id == account_id)).first() is not None


@bp.get("/")
def index():
    account_id = signed_in_account_id()
    if account_id is not None and not account_exists(account_id):
        session.clear()  # the account was removed since this browser signed in
        account_id = None
    if account_id is None:
        return signin_page()
    return connect_page(account_id)
