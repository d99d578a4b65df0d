"""One account's reconcile: read the providers and Close, plan, write the difference, record it.

Database sessions are kept short and never held across a provider call, so SQLite's single
writer is never blocked behind the network.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, select

from worker import logs, runtime
from worker.auth.tokens import NeedsReauth
from worker.providers.clients import calendly_client, close_client, savvycal_client
from worker.providers.errors import NotFound, ProviderError, RateLimited
from worker.storage.models import (
    ACTIVE,
    NEEDS_REAUTH,
    PROVIDERS,
    Account,
    LinkMapping,
    SyncRun,
    utcnow,
)
from worker.sync import team_link_hooks
from worker.sync.links import (
    DesiredLink,
    Selection,
    add_calendly,
    calendly_selection,
    savvycal_selection,
)
from worker.sync.links import source_id as make_source_id
from worker.sync.reconcile import Desired, Plan, plan, plan_one

log = logging.getLogger(__name__)

FIRST_RETRY_SECONDS = 60


class AccountNotSyncable(Exception):
    """No active Close grant: nothing can be written for this account."""


@dataclass(frozen=True)
class AccountView:
    id: int
    close_user_id: str
    organization_id: str | None
    our_client_id: str | None
    close_connection_id: int
    connections: dict[str, tuple[int, str, str | None]]  # provider -> (id, state, external user)


@dataclass
class Tally:
    created: int = 0
    updated: int = 0
    deleted: int = 0
    unchanged: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)


def load_account(account_id: int) -> AccountView:
    with runtime.session_scope() as session:
        account = session.get(Account, account_id)
        if account is None:
            raise AccountNotSyncable(f"account {account_id} does not exist")
        close = account.connection("close")
        if close is None or close.state != ACTIVE:
            raise AccountNotSyncable(f"account {account.close_user_id} has no active Close grant")
        return AccountView(
            id=account.id,
            close_user_id=account.close_user_id,
            organization_id=account.organization_id,
            our_client_id=account.close_oauth_client_id,
            close_connection_id=close.id,
            connections={
                c.provider: (c.id, c.state, c.external_user_id)
                for c in account.connections
                if c.provider in PROVIDERS
            },
        )


def known_source_ids(account_id: int) -> set[str]:
    with runtime.session_scope() as session:
        rows = session.scalars(
            select(LinkMapping.source_id).where(LinkMapping.account_id == account_id)
        )
        return set(rows)


def fetch_selection(view: AccountView, provider: str) -> Selection:
    conn_id, _, external_user = view.connections[provider]
    if provider == "calendly":
        client = calendly_client(conn_id, external_user)
        return calendly_selection(client.event_types(external_user or ""), view.close_user_id)
    client = savvycal_client(conn_id, external_user)
    booking = runtime.settings().savvycal_booking_url
    return savvycal_selection(client.links(), view.close_user_id, booking)


def desired_links(view: AccountView, warnings: list[str], failures: dict[str, str]) -> Desired:
    """Everything the providers ask of Close; a provider that cannot be read is held."""
    desired = Desired()
    for provider in PROVIDERS:
        conn = view.connections.get(provider)
        if conn is None or conn[1] not in (ACTIVE, NEEDS_REAUTH):
            continue  # never connected, or disconnected: nothing of it is wanted in Close
        if conn[1] == NEEDS_REAUTH:
            desired.held_providers.add(provider)
            warnings.append(
                f"{provider} needs reconnecting; its links in Close are kept as they are"
            )
            continue
        try:
            selection = fetch_selection(view, provider)
        except RateLimited:
            raise
        except (ProviderError, NeedsReauth) as exc:
            desired.held_providers.add(provider)
            failures[provider] = str(exc)
            log.warning(
                "%s could not be read; its links are kept: %s",
                provider,
                exc,
                extra={"provider": provider},
            )
            continue
        desired.links.update(selection.links)
        desired.skipped |= selection.skipped
        warnings.extend(selection.warnings)
    return desired


def payload_hash(link: DesiredLink) -> str:
    return hashlib.sha256(json.dumps(link.payload(), sort_keys=True).encode()).hexdigest()


def apply_plan(view: AccountView, the_plan: Plan, tally: Tally) -> None:
    client = close_client(view.close_connection_id, view.organization_id)
    for upsert in the_plan.upserts:
        try:
            answer = client.upsert_link(upsert.link.payload())
        except (RateLimited, NeedsReauth):
            raise
        except ProviderError as exc:
            tally.failed += 1
            tally.errors.append(f"{upsert.link.source_id}: {exc}")
            continue
        record_push(view, upsert.link, answer)
        if upsert.create:
            tally.created += 1
        else:
            tally.updated += 1
    for source_id in the_plan.deletes:
        try:
            client.delete_link(source_id)
        except (RateLimited, NeedsReauth):
            raise
        except ProviderError as exc:
            tally.failed += 1
            tally.errors.append(f"{source_id}: {exc}")
            continue
        forget_push(view, source_id)
        tally.deleted += 1
    tally.unchanged += the_plan.unchanged


def record_push(view: AccountView, link: DesiredLink, answer: dict[str, Any]) -> None:
    with runtime.session_scope() as session:
        client_id = answer.get("oauth_client_id")
        if client_id and client_id != view.our_client_id:
            account = session.get(Account, view.id)
            if account is not None:
                account.close_oauth_client_id = client_id
        mapping = session.scalars(
            select(LinkMapping).where(LinkMapping.source_id == link.source_id)
        ).first() or LinkMapping(
            account_id=view.id, provider=link.provider, source_id=link.source_id
        )
        mapping.name = link.name
        mapping.url = link.url
        mapping.close_link_id = answer.get("id")
        mapping.pushed_hash = payload_hash(link)
        mapping.pushed_at = utcnow()
        session.add(mapping)


def forget_push(view: AccountView, source_id: str) -> None:
    with runtime.session_scope() as session:
        session.execute(
            delete(LinkMapping).where(
                LinkMapping.account_id == view.id, LinkMapping.source_id == source_id
            )
        )


def start_run(account_id: int) -> int:
    with runtime.session_scope() as session:
        run = SyncRun(account_id=account_id, started_at=utcnow(), outcome="running")
        session.add(run)
        session.flush()
        return run.id


def finish_run(
    run_id: int, outcome: str, tally: Tally, warnings: list[str], error: str | None
) -> None:
    settings = runtime.settings()
    with runtime.session_scope() as session:
        run = session.get(SyncRun, run_id)
        account = session.get(Account, run.account_id)
        run.finished_at = utcnow()
        run.outcome = outcome
        run.created, run.updated, run.deleted = tally.created, tally.updated, tally.deleted
        run.unchanged, run.failed = tally.unchanged, tally.failed
        run.error = error
        run.warnings = warnings
        if outcome == "ok":
            account.sync_failures = 0
            wait = settings.resync_interval_seconds
        else:
            # 60 s, doubling up to the resync interval (CONTRACT §3 last_sync).
            account.sync_failures = (account.sync_failures or 0) + 1
            wait = min(
                FIRST_RETRY_SECONDS * 2 ** (account.sync_failures - 1),
                settings.resync_interval_seconds,
            )
        account.next_full_sync_at = run.started_at + timedelta(seconds=wait)


def full_sync(account_id: int) -> int:
    """Reconcile every link of the account; returns the SyncRun id. Raises RateLimited (after
    recording the run) when the task should be retried after the provider's reset."""
    view = load_account(account_id)
    logs.bind(account=view.close_user_id)
    run_id = start_run(account_id)
    tally, warnings, failures = Tally(), [], {}
    try:
        desired = desired_links(view, warnings, failures)
        close_links = close_client(
            view.close_connection_id, view.organization_id
        ).scheduling_links()
        the_plan = plan(
            desired,
            close_links,
            close_user_id=view.close_user_id,
            our_client_id=view.our_client_id,
            known_source_ids=known_source_ids(account_id),
        )
        apply_plan(view, the_plan, tally)
        team_link_hooks.after_full_sync(account_id, desired)  # CONTRACT §6; never raises
    except RateLimited as exc:
        finish_run(run_id, "error", tally, warnings, f"rate limited by {exc.provider}; retrying")
        raise
    except (ProviderError, NeedsReauth) as exc:
        finish_run(run_id, "error", tally, warnings, f"close: {exc}")
        return run_id
    except Exception as exc:
        # Unexpected: record it so an operator sees it, then let the task layer log the trace.
        finish_run(run_id, "error", tally, warnings, f"internal error: {type(exc).__name__}")
        raise
    active = [p for p, c in view.connections.items() if c[1] == ACTIVE]
    error_parts = [f"{p}: {msg}" for p, msg in failures.items()] + tally.errors[:5]
    if failures and len(failures) >= len(active):
        outcome = "error"
    elif failures or tally.failed:
        outcome = "partial"
    else:
        outcome = "ok"
    finish_run(run_id, outcome, tally, warnings, "; ".join(error_parts) or None)
    log.info(
        "full sync of %s: %s (created=%d updated=%d deleted=%d unchanged=%d failed=%d)",
        view.close_user_id,
        outcome,
        tally.created,
        tally.updated,
        tally.deleted,
        tally.unchanged,
        tally.failed,
        extra={"outcome": outcome},
    )
    return run_id


def sync_event_type(account_id: int, event_type_uuid: str) -> Tally:
    """Apply one Calendly event type to Close with exactly the full sync's rules."""
    view = load_account(account_id)
    logs.bind(account=view.close_user_id, provider="calendly")
    conn = view.connections.get("calendly")
    if conn is None or conn[1] != ACTIVE:
        return Tally()
    selection = Selection()
    try:
        event_type = calendly_client(conn[0], conn[2]).event_type(event_type_uuid)
    except NotFound:
        event_type = None  # deleted: whatever we pushed for it goes
    sid = make_source_id("calendly", event_type_uuid, view.close_user_id)
    if event_type is not None:
        add_calendly(selection, event_type, view.close_user_id)
    close_links = close_client(view.close_connection_id, view.organization_id).scheduling_links()
    the_plan = plan_one(
        sid,
        selection.links.get(sid),
        close_links,
        close_user_id=view.close_user_id,
        our_client_id=view.our_client_id,
        known_source_ids=known_source_ids(account_id),
        skipped=sid in selection.skipped,
    )
    tally = Tally()
    apply_plan(view, the_plan, tally)
    team_link_hooks.after_event_type_sync(account_id, selection.links.get(sid), the_plan)  # §6
    return tally
