"""Sync runs as recorded: started, finished with their counts, outcome, warnings and changes, and
when the account's next full sync is due (CONTRACT §3 `last_sync` and history)."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import SQLAlchemyError

from worker import metrics, runtime
from worker.storage.models import Account, SyncRun, utcnow
from worker.sync import history
from worker.sync.apply import Tally

log = logging.getLogger(__name__)

FIRST_RETRY_SECONDS = 60
# full: a full reconcile; event_type: a Calendly webhook's one-link run; disconnect: the links a
# disconnect's clean-up removed from Close (worker/auth/disconnect.py); team_link: a rep's
# team-link mappings sent to Close (worker/sync/rep_mappings.py); org_switch: what the clean-up of
# a Close grant retired by a sign-in under another organization removed there
# (worker/auth/retired_grants.py).
FULL, EVENT_TYPE, DISCONNECT = "full", "event_type", "disconnect"
TEAM_LINK, ORG_SWITCH = "team_link", "org_switch"
_COUNTED = {history.CREATED: "created", history.UPDATED: "updated", history.DELETED: "deleted"}


def start_run(account_id: int, trigger: str | None = None) -> int:
    with runtime.session_scope() as session:
        run = SyncRun(
            account_id=account_id,
            kind=FULL,
            trigger=trigger,
            started_at=utcnow(),
            outcome="running",
        )
        session.add(run)
        session.flush()
        return run.id


def _fill(run: SyncRun, outcome: str, tally: Tally, warnings: list[str], error: str | None):
    run.finished_at = utcnow()
    run.outcome = outcome
    run.created, run.updated, run.deleted = tally.created, tally.updated, tally.deleted
    run.unchanged, run.failed = tally.unchanged, tally.failed
    run.error = error
    run.warnings = warnings


def _count(run: SyncRun) -> None:
    metrics.count("schedsync_sync_runs_total", kind=run.kind, outcome=run.outcome)
    seconds = (run.finished_at - run.started_at).total_seconds()
    metrics.observe("schedsync_sync_duration_seconds", max(seconds, 0.0), kind=run.kind)


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
        _fill(run, outcome, tally, warnings, error)
        history.store(session, run.id, tally.changes, run.finished_at)
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
        history.prune(session, run.account_id)
    _count(run)


def record_finished_run(
    account_id: int,
    started_at: datetime,
    outcome: str,
    tally: Tally,
    *,
    kind: str,
    trigger: str,
    error: str | None = None,
) -> int:
    """A run that is not a full sync (a webhook's one link, a disconnect's deletions), recorded
    once it has ended: one transaction for the run, its changes and the pruning. It leaves
    `last_sync` and the full-sync schedule alone."""
    with runtime.session_scope() as session:
        run = SyncRun(account_id=account_id, kind=kind, trigger=trigger, started_at=started_at)
        _fill(run, outcome, tally, [], error)
        session.add(run)
        session.flush()
        history.store(session, run.id, tally.changes, run.finished_at)
        history.prune(session, account_id)
    _count(run)
    return run.id


class OpenRun:
    """A run whose changes are stored one at a time, each in the transaction of the state it goes
    with, so a worker that dies half-way loses none of the writes Close carried out (the run then
    stays `running`). The run's row is made with its first change: a run that wrote nothing
    leaves none. For runs that are not full syncs; `last_sync` and the schedule are left alone.
    """

    def __init__(self, account_id: int, *, kind: str, trigger: str | None):
        self.account_id, self.kind, self.trigger = account_id, kind, trigger
        self.started_at = utcnow()
        self.run_id: int | None = None

    def add(self, session: Any, change: history.Change) -> None:
        column = _COUNTED[change.action]
        found = 0
        if self.run_id is not None:
            found = session.execute(
                update(SyncRun)
                .where(SyncRun.id == self.run_id)
                .values({column: getattr(SyncRun, column) + 1})
                .execution_options(synchronize_session=False)
            ).rowcount
        if not found:
            # The first change, or the transaction that made the row was rolled back.
            run = SyncRun(
                account_id=self.account_id,
                kind=self.kind,
                trigger=self.trigger,
                started_at=self.started_at,
                outcome="running",
                **{column: 1},
            )
            session.add(run)
            session.flush()
            self.run_id = run.id
        history.store(session, self.run_id, [change], utcnow())

    def finish(self, outcome: str, error: str | None = None) -> None:
        """Never raises: the changes are stored already, and the caller's own outcome (often
        an exception being raised) is what matters."""
        if self.run_id is None:
            return
        try:
            with runtime.session_scope() as session:
                run = session.get(SyncRun, self.run_id)
                if run is None:
                    return
                run.finished_at, run.outcome, run.error = utcnow(), outcome, error
                history.prune(session, self.account_id)
        except SQLAlchemyError:
            log.warning("%s run %s not finished", self.kind, self.run_id, exc_info=True)
            return
        _count(run)


def previous_not_synced(session: Any, run: SyncRun) -> list[dict[str, Any]]:
    previous = session.scalars(
        select(SyncRun)
        .where(
            SyncRun.account_id == run.account_id,
            SyncRun.kind == FULL,
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
        run = newest_finished_full_run(session, account_id)
        if run is None:
            return
        current = run.not_synced
        updated = [i for i in current if i.get("source_id") != source_id] + items
        if updated != current:
            run.not_synced = updated


def newest_finished_full_run(session: Any, account_id: int) -> SyncRun | None:
    """The run whose totals, warnings and not-synced items the rep's page shows."""
    return session.scalars(
        select(SyncRun)
        .where(
            SyncRun.account_id == account_id,
            SyncRun.kind == FULL,
            SyncRun.finished_at.is_not(None),
        )
        .order_by(SyncRun.started_at.desc(), SyncRun.id.desc())
        .limit(1)
    ).first()
