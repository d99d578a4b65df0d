"""`flask --app web ...` commands: the release step and the operator's tools."""

from __future__ import annotations

import click
from flask import Flask
from flask.cli import AppGroup

from worker import runtime
from worker.storage import migrate

db_cli = AppGroup("db", help="Database schema.")


@db_cli.command("upgrade")
def db_upgrade() -> None:
    """Apply the Alembic migrations (idempotent)."""
    migrate.upgrade(runtime.engine())
    click.echo("database is at the newest schema")


def register_cli(app: Flask) -> None:
    app.cli.add_command(db_cli)
    from web import admin_cli, team_links_cli

    admin_cli.register(app)
    app.cli.add_command(team_links_cli.team_links)
