"""Fixtures for token refresh: connections with a chosen expiry, and the token endpoints."""

from __future__ import annotations

from datetime import timedelta

import pytest
import responses as responses_lib
from sqlalchemy import select, update

from tests.conftest import CALENDLY_AUTH
from worker import runtime
from worker.storage import migrate
from worker.storage.models import Connection, utcnow

CALENDLY_TOKEN = f"{CALENDLY_AUTH}/oauth/token"
CALENDLY_INTROSPECT = f"{CALENDLY_AUTH}/oauth/introspect"
CLOSE_TOKEN = "https://api.close.test/oauth2/token/"
SAVVYCAL_TOKEN = "https://savvycal.test/oauth/token"


@pytest.fixture
def mocked():
    with responses_lib.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        yield rsps


@pytest.fixture
def db_on_real_redis(settings, redis_server, real_redis):
    """A migrated SQLite file and the runtime on the private real redis-server, as a worker
    process has them."""
    real_settings = settings.with_overrides(redis_url=redis_server.url)
    runtime.configure(real_settings)
    migrate.upgrade(runtime.engine())
    yield real_settings
    runtime.engine().dispose()


def connection_id(account_id: int, provider: str) -> int:
    with runtime.session_scope() as session:
        return session.scalars(
            select(Connection.id).where(
                Connection.account_id == account_id, Connection.provider == provider
            )
        ).one()


def expire_in(conn_id: int, seconds: float) -> None:
    with runtime.session_scope() as session:
        session.execute(
            update(Connection)
            .where(Connection.id == conn_id)
            .values(token_expires_at=utcnow() + timedelta(seconds=seconds))
        )


def stored(conn_id: int) -> Connection:
    with runtime.session_scope() as session:
        conn = session.get(Connection, conn_id)
        session.expunge(conn)
        return conn
