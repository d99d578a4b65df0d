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
from dataclasses import dataclass
from urllib.parse import urlsplit

from worker import runtime
from worker.auth.connected import calendly_client
from worker.auth.errors import NeedsReauth
from worker.calendly.rows import (
    DISABLED,
    LIVE,
    RETIRED,
    WEBHOOK_ACTIVE,
    WEBHOOK_DISABLED,
    CalendlyConnection,
    Row,
    add_pending_row,
    drop_row,
    load_connection,
    load_rows,
    set_row,
    set_webhook_state,
)
from worker.locks import RenewingLock
from worker.providers.calendly.client import CalendlyClient, uuid_of
from worker.providers.errors import Conflict, Forbidden, NotFound, Unauthorized
from worker.storage.models import utcnow
from worker.sync import triggers

log = logging.getLogger(__name__)

LOCK_TTL = 60.0


class Busy(Exception):
    """Another process is looking after this connection's subscription right now: look again
    after `retry_after` seconds."""

    retry_after = 15.0


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


def find_by_url(subscriptions: list[dict], hook_id: str) -> dict | None:
    """The subscription (of a user's listing) whose callback is this hook's URL: how a create
    call whose answer was lost is found again."""
    wanted = webhook_url(hook_id)
    return next((s for s in subscriptions if same_url(s["callback_url"], wanted)), None)


def subscription_lock(connection_id: int) -> RenewingLock:
    return RenewingLock(runtime.redis_client(), f"lock:webhook:{connection_id}", ttl=LOCK_TTL)


# --- Calendly ---------------------------------------------------------------------------------


def remote_view(
    client: CalendlyClient, conn: CalendlyConnection, rows: list[Row]
) -> dict[int, Remote]:
    """Row id -> Remote. A row without a Calendly URI (its create call's outcome was lost) is
    looked for by its callback URL in the user's subscription list."""
    seen: dict[int, Remote] = {}
    listing: list[dict] | None = None
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
                listing = client.webhooks(organization=conn.organization_uri, user=conn.user_uri)
            sub = find_by_url(listing, row.hook_id)
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
        listing = client.webhooks(organization=conn.organization_uri, user=conn.user_uri)
        sub = find_by_url(listing, row.hook_id)
        if sub is None:
            raise
        return row, sub["uri"]


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
        # Deliveries may have been missed while it was stopped: the hourly check catches up.
        triggers.request_full_sync(conn.account_id, trigger=triggers.SCHEDULE)
        return "recreated"
    return "created"


def _with_uri(row: Row, seen: Remote) -> Row:
    if row.calendly_uri or not seen.uri:
        return row
    return Row(row.id, row.hook_id, seen.uri, row.state, row.signing_key)


def delete_all(connection_id: int, user_uri: str | None, organization_uri: str | None) -> None:
    """A disconnect's first step: every subscription of the connection deleted at Calendly.

    Under the subscription lock: a subscription being created right now (the connect's
    ensure_subscription task, or the hourly check) finishes first and is then deleted here.
    """
    lock = subscription_lock(connection_id)
    if not lock.acquire(blocking=True, timeout=LOCK_TTL):
        raise Busy(f"subscription of connection {connection_id} is busy")
    try:
        rows = load_rows(connection_id)
        if not rows:
            return
        client = calendly_client(connection_id, user_uri)
        try:
            for row in rows:
                uri = row.calendly_uri
                if uri is None and user_uri and organization_uri:
                    # A pending row's create call may have gone through with its answer lost.
                    listing = client.webhooks(organization=organization_uri, user=user_uri)
                    sub = find_by_url(listing, row.hook_id)
                    uri = sub["uri"] if sub else None
                if uri:
                    client.delete_webhook(uuid_of(uri))  # False (404) = already gone
                drop_row(row.id)
        except (NeedsReauth, Unauthorized):
            # The grant died before its clean-up: nothing can delete the subscription at
            # Calendly now. Once its row is gone our receiver answers its deliveries 404,
            # and Calendly disables a subscription whose deliveries keep failing.
            log.info("webhook of connection %s left to Calendly: grant is gone", connection_id)
            for row in rows:
                drop_row(row.id)
    finally:
        lock.release()
