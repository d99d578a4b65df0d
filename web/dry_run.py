"""`flask --app web resync --dry-run`: what a resync would change in Close, account by account,
from the same pure plan a sync applies (worker/sync/preview.py). Nothing is written."""

from __future__ import annotations

import json
from typing import Any

import click

from web.resync_targets import Target
from worker.providers.errors import ProviderError
from worker.sync.account import AccountNotSyncable
from worker.sync.history import CREATED, DELETED, Change
from worker.sync.preview import Preview, preview_full_sync

MARKS = {CREATED: "+ create", DELETED: "- delete"}


def shown(value: Any) -> str:
    return json.dumps(value, default=str)


def change_line(change: Change) -> str:
    mark = MARKS.get(change.action, "~ update")
    line = f"  {mark}  {change.provider}  {shown(change.name)}"
    if change.action == CREATED:
        url = change.changed.get("url", [None, None])[1]
        return f"{line}  {url}" if url else line
    if change.action == DELETED:
        return line
    fields = "; ".join(
        f"{f}: {shown(old)} -> {shown(new)}" for f, (old, new) in change.changed.items()
    )
    return f"{line}  {fields}"


def summary(preview: Preview) -> str:
    counts = {CREATED: 0, "updated": 0, DELETED: 0}
    for change in preview.changes:
        counts[change.action] += 1
    return (
        f"{counts[CREATED]} to create, {counts['updated']} to update, "
        f"{counts[DELETED]} to delete, {preview.unchanged} unchanged"
    )


def print_preview(target: Target, preview: Preview) -> None:
    click.echo(f"{target.label}: {summary(preview)}")
    for change in preview.changes:
        click.echo(change_line(change))
    for provider, why in sorted(preview.failures.items()):
        click.echo(f"  ! {provider} could not be read ({why}): its links stay as they are")
    for warning in preview.warnings:
        click.echo(f"  warning: {warning}")


def dry_run(targets: list[Target]) -> bool:
    """Print each account's preview; False when one could not be previewed at all."""
    complete = True
    for target in targets:
        try:
            preview = preview_full_sync(target.id)
        except AccountNotSyncable as exc:
            click.echo(f"{target.label}: cannot be synced: {exc}")
            complete = False
            continue
        except ProviderError as exc:
            click.echo(f"{target.label}: Close could not be read: {exc}")
            complete = False
            continue
        print_preview(target, preview)
    click.echo("dry run: nothing was written to Close")
    return complete
