"""One live Calendly webhook subscription per Calendly connection (CONTRACT §3, §5).

`ensure()` converges a connection to exactly one healthy subscription and is safe to run any
number of times: on connect, from the hourly check, after a crash half-way. Each subscription
has its own random `hook_id` (its URL is `{PUBLIC_URL}/webhooks/calendly/{hook_id}`, so
Calendly's 409 "Hook with this url already exists" never bites) and its own random signing key.

Calendly disables a hook after 24 h of failed deliveries and offers no way to re-enable it
(reference/calendly-api.md §2.5), so a disabled or vanished hook is replaced: the new one is
created and active before the old one is deleted, and a full sync covers the deliveries lost.

Row states: pending (stored before the create call, so an immediate delivery verifies; the call's
outcome is not known yet), active, disabled (as last seen at Calendly), retired (replaced; being
deleted at Calendly). Database sessions are never held across a provider call.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from urllib.parse import urlsplit

from sqlalchemy import delete, select, update

from worker import runtime
from worker.locks import RenewingLock
from worker.providers.calendly.client import CalendlyClient, uuid_of
from worker.providers.clients import calendly_client
from worker.providers.errors import Conflict, Forbidden, NotFound
from worker.storage.models import ACTIVE, Connection, WebhookSubscription, utcnow
from worker.sync import triggers

log = logging.getLogger(__name__)

PENDING, LIVE, DISABLED, RETIRED = "pending", "active", "disabled", "retired"
# Connection.webhook_state values (CONTRACT §3 `webhook`); "none" is the model's default.
WEBHOOK_ACTIVE, WEBHOOK_DISABLED, POLLING_ONLY = "active", "disabled", "polling_only"
LOCK_TTL = 60.0


class Busy(Exception):
    """Another process is looking after this connection's subscription right now."""


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


@dataclass(frozen=True)
class Remote:
    """A row as Calendly sees it: state "active", "disabled" or "gone"."""

    state: str
    uri: str | None = None
    callback_url: str | None = None


def webhook_url(hook_id: str) -> str:
    return f"{runtime.settings().public_url.rstrip('/')}/webhooks/calendly/{hook_id}"


def same_url(a: str | None, b: str) -> bool:
    """Equal up to the case of scheme and host and a trailing slash, so a provider's harmless
    rewrite of the URL never looks like a moved PUBLIC_URL (that would re-create every hour)."""
    if a is None:
        return False

    def norm(url: str) -> tuple[str, str, str, str]:
        parts = urlsplit(url)
        return (parts.scheme.lower(), parts.netloc.lower(), parts.path.rstrip("/"), parts.query)

    return norm(a) == norm(b)


def subscription_lock(connection_id: int) -> RenewingLock:
    return RenewingLock(runtime.redis_client(), f"lock:webhook:{connection_id}", ttl=LOCK_TTL)


# --- storage ----------------------------------------------------------------------------------


def load_connection(connection_id: int) -> CalendlyConnection:
    with runtime.session_scope() as session:
        conn = session.get(Connection, connection_id)
        if conn is None or conn.provider != "calendly" or conn.state != ACTIVE:
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


def set_webhook_state(connection_id: int, state: str) -> None:
    with runtime.session_scope() as session:
        session.execute(
            update(Connection)
            .where(Connection.id == connection_id)
            .values(webhook_state=state)
            .execution_options(synchronize_session=False)
        )


def mark_polling_only(connection_id: int) -> None:
    """Calendly refused a subscription (free plan, missing scope): the periodic resync covers
    this connection, and the hourly check asks again in case the plan or scopes change."""
    set_webhook_state(connection_id, POLLING_ONLY)


def connections_to_check() -> list[int]:
    with runtime.session_scope() as session:
        return list(
            session.scalars(
                select(Connection.id)
                .where(Connection.provider == "calendly", Connection.state == ACTIVE)
                .order_by(Connection.id)
            )
        )


# --- Calendly ---------------------------------------------------------------------------------


def remote_view(
    client: CalendlyClient, conn: CalendlyConnection, rows: list[Row]
) -> dict[int, Remote]:
    """Row id -> Remote. A row without a Calendly URI (its create call's outcome was lost) is
    looked for by its callback URL in the user's subscription list."""
    seen: dict[int, Remote] = {}
    listing: dict[str, dict] | None = None
    for row in rows:
        if row.state == RETIRED:
            seen[row.id] = Remote(RETIRED, row.calendly_uri)  # being deleted whatever its state
            continue
        if row.calendly_uri:
            try:
                sub = client.webhook(uuid_of(row.calendly_uri))
            except NotFound:
                seen[row.id] = Remote("gone")
                continue
        else:
            if listing is None:
                listing = {
                    s["callback_url"]: s
                    for s in client.webhooks(organization=conn.organization_uri, user=conn.user_uri)
                }
            wanted = webhook_url(row.hook_id)
            sub = next((s for url, s in listing.items() if same_url(url, wanted)), None)
            if sub is None:
                seen[row.id] = Remote("gone")
                continue
        seen[row.id] = Remote(sub["state"], sub["uri"], sub["callback_url"])
    return seen


def create(client: CalendlyClient, conn: CalendlyConnection) -> tuple[Row, str]:
    """A new subscription, stored before Calendly is asked; (row, Calendly URI)."""
    row = add_pending_row(conn.id)
    url = webhook_url(row.hook_id)
    try:
        resource = client.create_webhook(
            url=url,
            organization=conn.organization_uri,
            user=conn.user_uri,
            signing_key=row.signing_key,
        )
        return row, resource["uri"]
    except Forbidden:
        drop_row(row.id)  # certainly not created: nothing to look for later
        raise
    except Conflict:
        # Only if an earlier attempt of this very call got through: adopt that one.
        for sub in client.webhooks(organization=conn.organization_uri, user=conn.user_uri):
            if same_url(sub["callback_url"], url):
                return row, sub["uri"]
        raise


def retire(client: CalendlyClient, rows: list[Row]) -> None:
    """Delete replaced subscriptions at Calendly (404 = already gone), then their rows."""
    for row in rows:
        set_row(row.id, state=RETIRED)
        if row.calendly_uri:
            client.delete_webhook(uuid_of(row.calendly_uri))
        drop_row(row.id)


# --- the lifecycle ----------------------------------------------------------------------------


def ensure(connection_id: int) -> str:
    """Converge the connection to one healthy subscription. Returns "active" (it had one),
    "created", "recreated" (a disabled or vanished one was replaced; a full sync is requested)
    or "vanished" (the connection was disconnected meanwhile). Raises NotSubscribable, Busy, and
    the client's typed errors (Forbidden: Calendly refuses subscriptions for this user)."""
    lock = subscription_lock(connection_id)
    if not lock.acquire():
        raise Busy(f"subscription of connection {connection_id} is being looked after")
    try:
        return _ensure(load_connection(connection_id))
    finally:
        lock.release()


def _ensure(conn: CalendlyConnection) -> str:
    rows = load_rows(conn.id)
    client = calendly_client(conn.id, conn.user_uri)
    remote = remote_view(client, conn, rows)
    now = utcnow()
    for row in rows:
        seen = remote[row.id]
        if seen.state in (LIVE, DISABLED) and row.state != RETIRED:
            set_row(row.id, state=seen.state, calendly_uri=seen.uri, checked_at=now)
    healthy = [
        row
        for row in rows  # newest first
        if row.state != RETIRED
        and remote[row.id].state == LIVE
        and same_url(remote[row.id].callback_url, webhook_url(row.hook_id))  # PUBLIC_URL moved?
    ]
    if healthy:
        keep = healthy[0]
        set_webhook_state(conn.id, WEBHOOK_ACTIVE)
        retire(client, [_with_uri(r, remote[r.id]) for r in rows if r.id != keep.id])
        return "active"

    # Deliveries were lost if a subscription we had confirmed stopped working.
    lost = any(r.state != RETIRED and (r.calendly_uri or remote[r.id].uri) for r in rows)
    if lost:
        set_webhook_state(conn.id, WEBHOOK_DISABLED)
        log.warning("webhook subscription of connection %s stopped; re-creating it", conn.id)
    row, uri = create(client, conn)
    if not set_row(row.id, state=LIVE, calendly_uri=uri, checked_at=utcnow()):
        # Disconnected while Calendly created it: the clean-up missed this one.
        client.delete_webhook(uuid_of(uri))
        return "vanished"
    set_webhook_state(conn.id, WEBHOOK_ACTIVE)
    retire(client, [_with_uri(r, remote[r.id]) for r in rows])
    if lost:
        triggers.request_full_sync(conn.account_id)
        return "recreated"
    return "created"


def _with_uri(row: Row, seen: Remote) -> Row:
    if row.calendly_uri or not seen.uri:
        return row
    return Row(row.id, row.hook_id, seen.uri, row.state, row.signing_key)
