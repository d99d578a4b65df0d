"""Operator commands beside `db upgrade`: resync, accounts, rotate-keys."""

from __future__ import annotations

from flask import Flask


def register(app: Flask) -> None:
    """Add the operator commands to `app.cli`."""
