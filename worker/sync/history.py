"""What happened to an account's links, and why: every write to Close as a change of its run
(CONTRACT §3 `GET /admin/accounts/{close_user_id}/history`).

On the hot path this costs nothing per write beyond a small object in the run's tally: the
changes are inserted in one batch with the statement that finishes the run, and a run that wrote
nothing inserts none. History is bounded per account (`prune`): the newest KEEP_RUNS runs always,
older runs only while they changed something and are younger than KEEP_CHANGED_DAYS, and never
more than MAX_RUNS; it is pruned by the same transaction that finishes a run (one DELETE), so it
never needs a sweep of its own.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, delete, func, insert, select
from sqlalchemy.orm import Session

from worker import runtime
from worker.storage.models import LinkChange, SyncRun, utcnow
from worker.sync.links import DesiredLink, provider_of
from worker.sync.reconcile import normalize_url

KEEP_RUNS = 50
KEEP_CHANGED_DAYS = 30
MAX_RUNS = 500

# The Close fields a change can name, in the order a reader expects them.
FIELDS = ("name", "url", "description", "duration_in_minutes", "source_type")

CREATED, UPDATED, DELETED = "created", "updated", "deleted"
# Runs recorded before triggers were (migration 0006), or started by hand without one: most
# runs are the periodic resync's.
UNKNOWN_TRIGGER = "schedule"


@dataclass(frozen=True)
class Change:
    provider: str
    source_id: str
    name: str | None
    action: str
    changed: dict[str, list[Any]] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {
            "provider": self.provider,
            "source_id": self.source_id,
            "name": self.name,
            "action": self.action,
            "changed": self.changed,
        }


def _same(field_name: str, old: Any, new: Any) -> bool:
    # The plan's own comparison (worker/sync/reconcile.py `comparable`), field by field, so a
    # change names exactly the fields that made the write happen.
    if field_name == "url":
        return normalize_url(old) == normalize_url(new)
    if field_name == "description":
        return (old or None) == (new or None)
    return old == new


def created(link: DesiredLink) -> Change:
    values = link.payload()
    changed = {f: [None, values.get(f)] for f in FIELDS if values.get(f) is not None}
    return Change(link.provider, link.source_id, link.name, CREATED, changed)


def updated(link: DesiredLink, before: dict[str, Any] | None) -> Change:
    values, before = link.payload(), before or {}
    changed = {
        f: [before.get(f), values.get(f)]
        for f in FIELDS
        if not _same(f, before.get(f), values.get(f))
    }
    return Change(link.provider, link.source_id, link.name, UPDATED, changed)


def deleted(source_id: str, before: dict[str, Any] | None) -> Change:
    before = before or {}
    changed = {f: [before.get(f), None] for f in FIELDS if before.get(f) is not None}
    provider = provider_of(source_id) or "unknown"
    return Change(provider, source_id, before.get("name"), DELETED, changed)


# A rep's mapping of a team link (CONTRACT §6) is Close's own object, not a provider's link: its
# change names the shared link (source_id: its Close id; name: the team link's) and which of the
# rep's links it resolves to, by Close id (the field Close was sent) and by the link's name.
SHARED_LINK = "close"
MAPPING_FIELDS = ("user_scheduling_link_id", "link")


def remapped(
    team_link_name: str | None,
    shared_link_id: str,
    before: tuple[str | None, str | None],
    after: tuple[str | None, str | None],
) -> Change:
    """`before` and `after` are (Close link id, link name); a None id is no mapping."""
    # An unmap is a deletion even when what it removed was never known (a first mapping that
    # failed half-way).
    action = DELETED if after[0] is None else CREATED if before[0] is None else UPDATED
    pairs = zip(MAPPING_FIELDS, before, after, strict=True)
    changed = {f: [old, new] for f, old, new in pairs if old != new}
    return Change(SHARED_LINK, shared_link_id, team_link_name, action, changed)


# --- storing ---------------------------------------------------------------------------------


def store(session: Session, run_id: int, changes: list[Change], at: datetime) -> None:
    """The run's changes in one INSERT (executemany); nothing at all for a run without any."""
    if not changes:
        return
    session.execute(
        insert(LinkChange),
        [
            {
                "run_id": run_id,
                "provider": c.provider,
                "source_id": c.source_id,
                "name": c.name,
                "action": c.action,
                "changed_json": json.dumps(c.changed, default=str),
                "at": at,
            }
            for c in changes
        ],
    )


def _nth_newest(name: str, offset: str):
    """The id of an account's (offset+1)-th newest run, as a scalar subquery: NULL when it has
    fewer runs, and `id < NULL` is never true."""
    runs = SyncRun.__table__.alias(name)
    return (
        select(runs.c.id)
        .where(runs.c.account_id == bindparam("account_id"))
        .order_by(runs.c.id.desc())
        .offset(bindparam(offset))
        .limit(1)
        .scalar_subquery()
    )


def _prune_statement():
    # Built once: constructing it per run (ORM aliases) cost more than executing it.
    runs = SyncRun.__table__
    wrote_nothing = (runs.c.created + runs.c.updated + runs.c.deleted) == 0
    beyond_cap = runs.c.id < func.coalesce(_nth_newest("cap", "cap_offset"), 0)
    return delete(runs).where(
        runs.c.account_id == bindparam("account_id"),
        runs.c.id < _nth_newest("kept", "keep_offset"),
        wrote_nothing | (runs.c.started_at < bindparam("cutoff")) | beyond_cap,
    )


_PRUNE = _prune_statement()


def prune(session: Session, account_id: int, now: datetime | None = None) -> None:
    """Keep the account's history bounded, in one DELETE (an index range on the account's runs;
    nothing matches while it has fewer than KEEP_RUNS). Changes go with their run (ON DELETE
    CASCADE)."""
    session.execute(
        _PRUNE,
        {
            "account_id": account_id,
            "keep_offset": KEEP_RUNS - 1,
            "cap_offset": MAX_RUNS - 1,
            "cutoff": (now or utcnow()) - timedelta(days=KEEP_CHANGED_DAYS),
        },
    )


# --- reading ---------------------------------------------------------------------------------


def recent_runs(account_id: int, limit: int = KEEP_RUNS) -> list[dict[str, Any]]:
    """The account's runs, newest first, each with its changes: plain data (times are aware
    datetimes) in the shape of CONTRACT §3 `run`, for the admin route and the connect page."""
    with runtime.session_scope() as session:
        runs = list(
            session.scalars(
                select(SyncRun)
                .where(SyncRun.account_id == account_id)
                .order_by(SyncRun.started_at.desc(), SyncRun.id.desc())
                .limit(limit)
            )
        )
        by_run: dict[int, list[dict[str, Any]]] = {run.id: [] for run in runs}
        if runs:
            rows = session.scalars(
                select(LinkChange)
                .where(LinkChange.run_id.in_(list(by_run)))
                .order_by(LinkChange.id)
            )
            for row in rows:
                by_run[row.run_id].append(
                    {
                        "provider": row.provider,
                        "source_id": row.source_id,
                        "name": row.name,
                        "action": row.action,
                        "changed": row.changed,
                        "at": row.at,
                    }
                )
        return [
            {
                "kind": run.kind,
                "trigger": run.trigger or UNKNOWN_TRIGGER,
                "started_at": run.started_at,
                "finished_at": run.finished_at,
                "outcome": run.outcome,
                "changes": by_run[run.id],
                "error": run.error,
                "warnings": run.warnings,
            }
            for run in runs
        ]


def recent_changes(
    account_id: int, limit: int = 20, session: Session | None = None
) -> list[dict[str, Any]]:
    """The account's newest changes, newest first, each with what made it: link name, provider,
    action, changed fields old/new, and its run's kind, trigger, start and finish. For "Discovery
    Call renamed from … to … 2 min ago, by a Calendly webhook". In `session` when given (the
    connect page reads it with the rest of its view), else in a session of its own."""
    if session is None:
        with runtime.session_scope() as own:
            return recent_changes(account_id, limit, own)
    rows = session.execute(
        select(LinkChange, SyncRun.kind, SyncRun.trigger, SyncRun.started_at, SyncRun.finished_at)
        .join(SyncRun, SyncRun.id == LinkChange.run_id)
        .where(SyncRun.account_id == account_id)
        .order_by(LinkChange.at.desc(), LinkChange.id.desc())
        .limit(limit)
    )
    return [
        {
            "provider": change.provider,
            "source_id": change.source_id,
            "name": change.name,
            "action": change.action,
            "changed": change.changed,
            "at": change.at,
            "run_kind": kind,
            "trigger": trigger or UNKNOWN_TRIGGER,
            "run_started_at": started_at,
            "run_finished_at": finished_at,
        }
        for change, kind, trigger, started_at, finished_at in rows
    ]
