"""Sync runs as recorded: started, finished with their counts, outcome and warnings, and when the
account's next full sync is due (CONTRACT §3 `last_sync`)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta
from typing import Any

from sqlalchemy import select

from worker import runtime
from worker.storage.models import Account, SyncRun, utcnow
from worker.sync.apply import Tally

FIRST_RETRY_SECONDS = 60


def start_run(account_id: int) -> int:
    with runtime.session_scope() as session:
        run = SyncRun(account_id=account_id, started_at=utcnow(), outcome="running")
        session.add(run)
        session.flush()
        return run.id


def finish_run(
    run_id: int,
    outcome: str,
    tally: Tally,
    warnings: list[str],
    error: str | None,
    *,
    not_synced: list[dict[str, Any]] | None = None,
    held: Iterable[str] = (),
) -> None:
    """`not_synced`: what the providers list that is not in Close, and why; a provider in
    `held` (not read this time) keeps what the previous run said of it."""
    settings = runtime.settings()
    with runtime.session_scope() as session:
        run = session.get(SyncRun, run_id)
        account = session.get(Account, run.account_id)
        items = list(not_synced or [])
        held = set(held)
        if held:
            items += [i for i in previous_not_synced(session, run) if i.get("provider") in held]
        run.not_synced = items
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


def previous_not_synced(session: Any, run: SyncRun) -> list[dict[str, Any]]:
    previous = session.scalars(
        select(SyncRun)
        .where(
            SyncRun.account_id == run.account_id,
            SyncRun.id != run.id,
            SyncRun.finished_at.is_not(None),
        )
        .order_by(SyncRun.started_at.desc(), SyncRun.id.desc())
        .limit(1)
    ).first()
    return previous.not_synced if previous is not None else []


def note_not_synced(account_id: int, source_id: str, items: list[dict[str, Any]]) -> None:
    """A targeted sync's word on one item: the newest finished full run's not-synced list (what
    the rep's page shows) is brought up to date for it, so a webhook that deactivates an event
    type explains its link's absence at once rather than after the next full sync. The caller
    holds the account's lock, so no full run finishes meanwhile."""
    with runtime.session_scope() as session:
        run = session.scalars(
            select(SyncRun)
            .where(SyncRun.account_id == account_id, SyncRun.finished_at.is_not(None))
            .order_by(SyncRun.started_at.desc(), SyncRun.id.desc())
            .limit(1)
        ).first()
        if run is None:
            return
        current = run.not_synced
        updated = [i for i in current if i.get("source_id") != source_id] + items
        if updated != current:
            run.not_synced = updated
