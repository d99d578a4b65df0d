"""`flask --app web resync [--account ID|EMAIL] [--wait] [--dry-run]`: queue full syncs as
POST /admin/resync does, say why an account was left out, follow each to its outcome, or print
what a resync would change without writing anything."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from datetime import datetime

import click
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from web.admin import ResyncRequest, queue_accounts
from web.dry_run import dry_run
from web.resync_targets import NoSuchAccount, Target, choose
from web.status import last_full_sync
from worker import runtime
from worker.storage.models import ACTIVE, Account, SyncRun

POLL_SECONDS = 0.5
COUNTS = ("created", "updated", "deleted", "unchanged", "failed")


@click.command("resync")
@click.option(
    "--account", "who", help="Close user id or e-mail; default: every account that can sync."
)
@click.option("--wait", is_flag=True, help="Wait for the syncs to finish; one line per account.")
@click.option(
    "--dry-run",
    "preview",
    is_flag=True,
    help="Print what a resync would change in Close, and write nothing.",
)
@click.option(
    "--timeout", default=600.0, show_default=True, type=click.FloatRange(min=0), help="Seconds."
)
def resync(who: str | None, wait: bool, preview: bool, timeout: float) -> None:
    """Queue a full sync, as POST /admin/resync does (or preview it with --dry-run)."""
    try:
        targets, left_out = choose(who)
    except NoSuchAccount as exc:
        raise click.ClickException(str(exc)) from None
    verb = "not previewed" if preview else "not queued"
    for target, reason in left_out:
        click.echo(f"{verb}: {target.label}: {reason}", err=True)
    if not targets:
        raise click.ClickException(
            "no account could be "
            + ("previewed" if preview else "queued")
            + (" (see the reasons above)" if left_out else " (there are no accounts)")
        )
    if preview:
        if not dry_run(targets):
            raise click.ClickException("some accounts could not be previewed")
        return
    queued = queue_accounts([(t.id, t.close_user_id) for t in targets])
    click.echo(f"queued {len(queued.accounts)} account(s) at {queued.requested_at.isoformat()}")
    if queued.not_enqueued:
        click.echo(
            f"{len(queued.not_enqueued)} could not be enqueued (broker unreachable); the "
            "resync sweep enqueues them within a minute",
            err=True,
        )
    if wait:
        wait_and_report(queued, {t.id: t for t in targets}, timeout)


def outcome_line(target: Target, run: SyncRun) -> str:
    counts = " ".join(f"{name}={getattr(run, name)}" for name in COUNTS)
    line = f"{target.label}: {run.outcome}  {counts}"
    return f"{line}  error: {run.error}" if run.error else line


def wait_and_report(queued: ResyncRequest, targets: dict[int, Target], timeout: float) -> None:
    account_ids = [account_id for account_id, _ in queued.accounts]
    unsyncable = accounts_without_close_grant(account_ids)
    waiting = [a for a in account_ids if a not in unsyncable]
    with click.progressbar(length=len(waiting), label="syncing", file=sys.stderr) as bar:
        runs, timed_out = wait_for_runs(waiting, queued.requested_at, timeout, bar.update)
    totals = {name: sum(getattr(run, name) for run in runs.values()) for name in COUNTS}
    failed = False
    for account_id in sorted(account_ids, key=lambda a: targets[a].close_user_id):
        target = targets[account_id]
        if account_id in runs:
            click.echo(outcome_line(target, runs[account_id]))
            failed = failed or runs[account_id].outcome == "error"
        elif account_id in unsyncable:
            failed = True
            click.echo(f"{target.label}: not synced: its Close grant is not active")
        else:
            click.echo(f"{target.label}: still running after {timeout:g} s")
    click.echo("total: " + " ".join(f"{name}={value}" for name, value in totals.items()))
    if timed_out:
        pending = ", ".join(sorted(targets[a].close_user_id for a in timed_out))
        raise click.ClickException(f"timed out after {timeout:g} s waiting for: {pending}")
    if failed:
        raise click.ClickException("some syncs did not succeed")


def accounts_without_close_grant(account_ids: list[int]) -> list[int]:
    """The reconcile skips these without recording a run: waiting for them would never end."""
    with runtime.session_scope() as session:
        found = session.scalars(
            select(Account)
            .options(selectinload(Account.connections))
            .where(Account.id.in_(account_ids))
        )
        return [a.id for a in found if a.state != ACTIVE]


def wait_for_runs(
    account_ids: list[int],
    requested_at: datetime,
    timeout: float,
    progress: Callable[[int], object] = lambda _n: None,
) -> tuple[dict[int, SyncRun], list[int]]:
    """Poll until each account's newest full sync started at or after `requested_at` and is no
    longer running. Returns those runs and the accounts still waiting when `timeout` ran out."""
    deadline = time.monotonic() + timeout
    finished: dict[int, SyncRun] = {}
    while True:
        for account_id in account_ids:
            if account_id in finished:
                continue
            run = finished_run(account_id, requested_at)
            if run is not None:
                finished[account_id] = run
                progress(1)
        waiting = [a for a in account_ids if a not in finished]
        if not waiting or time.monotonic() >= deadline:
            return finished, waiting
        time.sleep(min(POLL_SECONDS, max(deadline - time.monotonic(), 0)))


def finished_run(account_id: int, requested_at: datetime) -> SyncRun | None:
    with runtime.session_scope() as session:
        run = last_full_sync(session, account_id)
        if run is None or run.started_at < requested_at or run.outcome == "running":
            return None
        session.expunge(run)
        return run
