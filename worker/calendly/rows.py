"""The stored side of Calendly webhook subscriptions: one row per subscription, and the
connection's `webhook_state` (CONTRACT §3 `webhook`). Sessions are short; no provider calls."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from sqlalchemy import delete, select, update

from worker import runtime
from worker.providers.calendly import NAME as CALENDLY
from worker.storage.models import ACTIVE, Connection, WebhookSubscription

PENDING, LIVE, DISABLED, RETIRED = "pending", "active", "disabled", "retired"
# Connection.webhook_state values (CONTRACT §3 `webhook`); "none" is the model's default.
WEBHOOK_ACTIVE, WEBHOOK_DISABLED, POLLING_ONLY = "active", "disabled", "polling_only"


class NotSubscribable(Exception):
    """The connection cannot hold a subscription: not Calendly, not active, no organization."""


@dataclass(frozen=True)
class CalendlyConnection:
    id: int
    account_id: int
    user_uri: str
    organization_uri: str


@dataclass(frozen=True)
class Row:
    id: int
    hook_id: str
    calendly_uri: str | None
    state: str
    signing_key: str


def load_connection(connection_id: int) -> CalendlyConnection:
    with runtime.session_scope() as session:
        conn = session.get(Connection, connection_id)
        if conn is None or conn.provider != CALENDLY or conn.state != ACTIVE:
            raise NotSubscribable(f"connection {connection_id} is not an active Calendly one")
        if not conn.external_user_id or not conn.external_org_id:
            raise NotSubscribable(f"connection {connection_id} lacks its Calendly user or org")
        return CalendlyConnection(
            conn.id, conn.account_id, conn.external_user_id, conn.external_org_id
        )


def load_rows(connection_id: int) -> list[Row]:
    with runtime.session_scope() as session:
        subs = session.scalars(
            select(WebhookSubscription)
            .where(WebhookSubscription.connection_id == connection_id)
            .order_by(WebhookSubscription.id.desc())
        )
        return [Row(s.id, s.hook_id, s.calendly_uri, s.state, s.signing_key) for s in subs]


def add_pending_row(connection_id: int) -> Row:
    with runtime.session_scope() as session:
        sub = WebhookSubscription(
            connection_id=connection_id,
            hook_id=secrets.token_urlsafe(24),
            signing_key=secrets.token_urlsafe(32),
            state=PENDING,
        )
        session.add(sub)
        session.flush()
        return Row(sub.id, sub.hook_id, None, PENDING, sub.signing_key)


def set_row(row_id: int, **values: object) -> bool:
    """Update a row; False when it is gone (a disconnect's clean-up dropped it meanwhile)."""
    with runtime.session_scope() as session:
        result = session.execute(
            update(WebhookSubscription)
            .where(WebhookSubscription.id == row_id)
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        return result.rowcount > 0


def drop_row(row_id: int) -> None:
    with runtime.session_scope() as session:
        session.execute(delete(WebhookSubscription).where(WebhookSubscription.id == row_id))


def set_webhook_state(connection_id: int, state: str, reason: str | None = None) -> None:
    """`reason` says why a subscription was refused (polling_only); any other state clears it."""
    with runtime.session_scope() as session:
        session.execute(
            update(Connection)
            .where(Connection.id == connection_id)
            .values(webhook_state=state, webhook_reason=reason)
            .execution_options(synchronize_session=False)
        )


def mark_polling_only(connection_id: int, reason: str) -> None:
    """Calendly refused a subscription (missing scope, plan, permission): the periodic resync
    covers this connection, and the hourly check asks again in case the scopes or plan change.
    `reason` is a stored `refusals.Refusal`."""
    set_webhook_state(connection_id, POLLING_ONLY, reason)


def connections_to_check() -> list[int]:
    with runtime.session_scope() as session:
        return list(
            session.scalars(
                select(Connection.id)
                .where(Connection.provider == CALENDLY, Connection.state == ACTIVE)
                .order_by(Connection.id)
            )
        )
