"""Writing a plan to Close with the account's own grant, and remembering what was pushed.

A write that Close refuses is counted and the rest go on; a rate limit or a dead grant stops
the whole plan (the caller decides what that means).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import delete, select

from worker import metrics, runtime
from worker.auth.connected import close_client
from worker.auth.errors import NeedsReauth
from worker.providers.errors import ProviderError, RateLimited
from worker.storage.models import Account, LinkMapping, utcnow
from worker.sync import history
from worker.sync.account import AccountView
from worker.sync.guard import DeadlineExceeded, RunGuard
from worker.sync.links import DesiredLink, provider_of
from worker.sync.reconcile import Plan

# What ends the whole plan rather than one write.
STOPPING = (RateLimited, NeedsReauth, DeadlineExceeded)
WRITES = "schedsync_link_writes_total"


@dataclass
class Tally:
    created: int = 0
    updated: int = 0
    deleted: int = 0
    unchanged: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)
    # Every write Close accepted, as the history records it (worker/sync/history.py).
    changes: list[history.Change] = field(default_factory=list)


def apply_plan(view: AccountView, the_plan: Plan, tally: Tally, guard: RunGuard) -> None:
    """Counts into `tally` as it goes, so a plan stopped half-way still reports what it did.
    Before each write the run's lock is confirmed: a run that lost it writes nothing more."""
    client = close_client(view.close_connection_id, view.organization_id, guard, view.close_token)
    for upsert in the_plan.upserts:
        guard.confirm_lock()
        try:
            answer = client.upsert_link(upsert.link.payload())
        except STOPPING:
            raise
        except ProviderError as exc:
            tally.failed += 1
            tally.errors.append(f"{upsert.link.source_id}: {exc}")
            metrics.count(WRITES, provider=upsert.link.provider, action="failed")
            continue
        record_push(view, upsert.link, answer)
        if upsert.create:
            tally.created += 1
            tally.changes.append(history.created(upsert.link))
        else:
            tally.updated += 1
            before = the_plan.before.get(upsert.link.source_id)
            tally.changes.append(history.updated(upsert.link, before))
        metrics.count(WRITES, provider=upsert.link.provider, action=tally.changes[-1].action)
    for source_id in the_plan.deletes:
        guard.confirm_lock()
        try:
            client.delete_link(source_id)
        except STOPPING:
            raise
        except ProviderError as exc:
            tally.failed += 1
            tally.errors.append(f"{source_id}: {exc}")
            metrics.count(WRITES, provider=provider_of(source_id) or "unknown", action="failed")
            continue
        forget_push(view, source_id)
        tally.deleted += 1
        tally.changes.append(history.deleted(source_id, the_plan.before.get(source_id)))
        metrics.count(WRITES, provider=tally.changes[-1].provider, action="deleted")
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
        mapping.duration_in_minutes = link.duration_in_minutes
        mapping.close_link_id = answer.get("id")
        mapping.pushed_at = utcnow()
        session.add(mapping)


def forget_push(view: AccountView, source_id: str) -> None:
    with runtime.session_scope() as session:
        session.execute(
            delete(LinkMapping).where(
                LinkMapping.account_id == view.id, LinkMapping.source_id == source_id
            )
        )
