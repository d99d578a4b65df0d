"""Operator commands beside `db upgrade`: resync (web/resync_cli.py), accounts, rotate-keys."""

from __future__ import annotations

import click
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from web import resync_cli
from web.status import account_json
from worker import runtime
from worker.auth.rotation import rotate_secrets
from worker.providers import registry
from worker.storage.models import Account


def register(app: Flask) -> None:
    """Add the operator commands to `app.cli`."""
    app.cli.add_command(resync_cli.resync)
    app.cli.add_command(accounts)
    app.cli.add_command(rotate_keys)


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
