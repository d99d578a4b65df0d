"""What a full sync of an account would change in Close right now, without writing anything:
the same provider reads, Close listing and pure plan (worker/sync/reconcile.py) as
`worker/sync/full.py`, stopped before `apply_plan`. `flask --app web resync --dry-run` prints it.

Reading may refresh an expiring access token (that is how a read works); nothing is written to
Close, no link mapping or sync run is recorded, no team-link mapping is touched.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from worker.sync import history
from worker.sync.account import AccountView, load_account
from worker.sync.full import full_plan
from worker.sync.guard import RunGuard
from worker.sync.reconcile import Plan


@dataclass
class Preview:
    close_user_id: str
    changes: list[history.Change] = field(default_factory=list)
    unchanged: int = 0
    warnings: list[str] = field(default_factory=list)
    failures: dict[str, str] = field(default_factory=dict)  # provider -> why it was not read
    held: list[str] = field(default_factory=list)  # providers whose links are left as they are


def changes_of(the_plan: Plan) -> list[history.Change]:
    """The plan's writes as the history would record them, had they been made."""
    changes = [
        history.created(u.link)
        if u.create
        else history.updated(u.link, the_plan.before.get(u.link.source_id))
        for u in the_plan.upserts
    ]
    changes += [history.deleted(sid, the_plan.before.get(sid)) for sid in the_plan.deletes]
    return changes


def preview_full_sync(account_id: int, guard: RunGuard | None = None) -> Preview:
    """Raises AccountNotSyncable (no active Close grant) and Close's own ProviderError."""
    guard = guard or RunGuard()
    view: AccountView = load_account(account_id)
    reads, the_plan = full_plan(view, guard)
    return Preview(
        close_user_id=view.close_user_id,
        changes=changes_of(the_plan),
        unchanged=the_plan.unchanged,
        warnings=list(reads.warnings),
        failures=dict(reads.failures),
        held=sorted(reads.desired.held_providers),
    )
