"""Operator commands beside `db upgrade`: resync, accounts, rotate-keys."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime

import click
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from web.admin import ResyncRequest, UnknownAccount, queue_resync
from web.status import account_json, last_full_sync
from worker import runtime
from worker.auth.rotation import rotate_secrets
from worker.providers import registry
from worker.storage.models import ACTIVE, Account, SyncRun

POLL_SECONDS = 0.5
COUNTS = ("created", "updated", "deleted", "unchanged", "failed")


def register(app: Flask) -> None:
    """Add the operator commands to `app.cli`."""
    app.cli.add_command(resync)
    app.cli.add_command(accounts)
    app.cli.add_command(rotate_keys)


# --- resync -----------------------------------------------------------------------------------


@click.command("resync")
@click.option("--account", "close_user_id", help="Close user id; default: every active account.")
@click.option("--wait", is_flag=True, help="Wait for the syncs to finish and sum them up.")
@click.option(
    "--timeout", default=600.0, show_default=True, type=click.FloatRange(min=0), help="Seconds."
)
def resync(close_user_id: str | None, wait: bool, timeout: float) -> None:
    """Queue a full sync, as POST /admin/resync does."""
    try:
        queued = queue_resync(close_user_id)
    except UnknownAccount:
        raise click.ClickException(f"no account has the Close user id {close_user_id!r}") from None
    click.echo(f"queued {len(queued.accounts)} account(s) at {queued.requested_at.isoformat()}")
    if queued.not_enqueued:
        click.echo(
            f"{len(queued.not_enqueued)} could not be enqueued (broker unreachable); the "
            "resync sweep enqueues them within a minute",
            err=True,
        )
    if wait and queued.accounts:
        wait_and_summarize(queued, timeout)


def wait_and_summarize(queued: ResyncRequest, timeout: float) -> None:
    account_ids = [account_id for account_id, _ in queued.accounts]
    unsyncable = accounts_without_close_grant(account_ids)
    waiting = [a for a in account_ids if a not in unsyncable]
    with click.progressbar(length=len(waiting), label="syncing") as bar:
        runs, timed_out = wait_for_runs(waiting, queued.requested_at, timeout, bar.update)
    names = dict(queued.accounts)
    totals = {name: sum(getattr(run, name) for run in runs.values()) for name in COUNTS}
    click.echo(" ".join(f"{name}={value}" for name, value in totals.items()))
    failed = False
    for account_id, run in sorted(runs.items(), key=lambda item: names[item[0]]):
        if run.outcome != "ok":
            failed = failed or run.outcome == "error"
            click.echo(f"{names[account_id]}: {run.outcome}: {run.error or ''}".rstrip(": "))
    for account_id in unsyncable:
        failed = True
        click.echo(f"{names[account_id]}: not synced: its Close grant is not active")
    if timed_out:
        pending = ", ".join(sorted(names[a] for a in timed_out))
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


# --- accounts ---------------------------------------------------------------------------------


@click.command("accounts")
def accounts() -> None:
    """List the accounts: Close user, email, state, each provider's state, the last sync."""
    with runtime.session_scope() as session:
        rows = [
            account_json(session, account)
            for account in session.scalars(
                select(Account)
                .options(selectinload(Account.connections))
                .order_by(Account.close_user_id)
            )
        ]
    header = ["close user id", "email", "state", *registry.scheduling_names(), "last sync", "at"]
    table = [header] + [account_row(a) for a in rows]
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    for row in table:
        click.echo(
            "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        )
    if not rows:
        click.echo("(no accounts)")


def account_row(account: dict) -> list[str]:
    by_provider = {c["provider"]: c for c in account["connections"]}
    providers = []
    for spec in registry.SCHEDULING:
        conn = by_provider.get(spec.name)
        if conn is None:
            providers.append("-")
        elif spec.has_link_webhooks:
            providers.append(f"{conn['state']} (webhook {conn['webhook']})")
        else:
            providers.append(conn["state"])
    last = account["last_sync"] or {}
    return [
        account["close_user_id"],
        account["email"] or "-",
        account["state"],
        *providers,
        last.get("outcome") or "never",
        last.get("started_at") or "-",
    ]


# --- rotate-keys ------------------------------------------------------------------------------


@click.command("rotate-keys")
@click.option("--batch-size", default=500, show_default=True, type=click.IntRange(min=1))
def rotate_keys(batch_size: int) -> None:
    """Re-encrypt every stored secret under the first key of ENCRYPTION_KEYS."""
    keys = runtime.settings().encryption_keys
    report = rotate_secrets(runtime.engine(), keys, batch_size=batch_size)
    for name, count in report.columns.items():
        click.echo(
            f"{name}: {count.rotated} re-encrypted, {count.current} already current, "
            f"{count.unreadable} unreadable, {count.changed_meanwhile} changed meanwhile"
        )
    if report.unreadable:
        raise click.ClickException(
            f"{report.unreadable} secret(s) could not be opened with any key of ENCRYPTION_KEYS; "
            "they were left as they are (add the key they were written with, then run again)"
        )
    click.echo(f"done: {report.rotated} secret(s) now under the first key")
