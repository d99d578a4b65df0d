"""Fixtures for the operator's tools: the admin header, an app with the admin API off, and a
world of accounts in every state."""

from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy import select

from tests.conftest import add_account
from worker import runtime
from worker.storage.models import Connection, LinkMapping, SyncRun

ADMIN = {"Authorization": "Bearer test-admin-token"}


@pytest.fixture
def admin_off_client(settings, fake_redis, db):
    from web import create_app

    app = create_app(settings.with_overrides(admin_token=""), redis_client=fake_redis)
    app.config.update(TESTING=True)
    return app.test_client()


def set_state(account_id: int, provider: str, state: str) -> None:
    with runtime.session_scope() as session:
        conn = session.scalars(
            select(Connection).where(
                Connection.account_id == account_id, Connection.provider == provider
            )
        ).one()
        conn.state = state


def add_run(account_id: int, started_at: datetime, **fields) -> int:
    values = {"outcome": "ok", "finished_at": started_at} | fields
    with runtime.session_scope() as session:
        run = SyncRun(account_id=account_id, started_at=started_at, **values)
        session.add(run)
        session.flush()
        return run.id


def add_mapping(account_id: int, provider: str, external_id: str, close_user: str, **fields):
    with runtime.session_scope() as session:
        session.add(
            LinkMapping(
                account_id=account_id,
                provider=provider,
                source_id=f"{provider}:{external_id}:{close_user}",
                **fields,
            )
        )


@pytest.fixture
def world(db):
    """Accounts in every state; only user_A and user_D are resynced by `{}`."""
    ids = {
        "user_A": add_account("user_A"),
        "user_B": add_account("user_B"),  # Close grant needs reauth
        "user_C": add_account("user_C"),  # both providers gone or broken
        "user_D": add_account("user_D", calendly=False),  # SavvyCal only
        "user_E": add_account("user_E", calendly=False, savvycal=False),  # nothing connected
    }
    set_state(ids["user_B"], "close", "needs_reauth")
    set_state(ids["user_C"], "calendly", "disconnected")
    set_state(ids["user_C"], "savvycal", "needs_reauth")
    return ids
