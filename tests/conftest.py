"""Shared fixtures: settings pointing at fake provider hosts, a migrated SQLite database per test,
fakeredis for logic tests, a private real redis-server for tests about locks and processes, and a
record of what was enqueued (no broker in unit tests)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from datetime import timedelta
from pathlib import Path

import fakeredis
import pytest
from cryptography.fernet import Fernet

from worker import runtime
from worker.config import Settings
from worker.storage import migrate
from worker.storage.models import utcnow

CLOSE_API = "https://api.close.test/api/v1"
CALENDLY_API = "https://api.calendly.test"
CALENDLY_AUTH = "https://auth.calendly.test"
SAVVYCAL_API = "https://api.savvycal.test/v1"
SAVVYCAL_AUTH = "https://savvycal.test/oauth"
TEST_KEY = Fernet.generate_key().decode()


def make_settings(tmp_path: Path, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "env": "test",
        "public_url": "http://localhost:5000",
        "database_url": f"sqlite:///{tmp_path / 'test.db'}",
        "redis_url": "redis://127.0.0.1:1/0",
        "pending_tokens_dir": str(tmp_path / "pending_tokens"),
        "secret_key": "test-secret-key",
        "encryption_keys": (TEST_KEY,),
        "admin_token": "test-admin-token",
        "close_client_id": "close-client-id",
        "close_client_secret": "close-client-secret-value",
        "close_api_url": CLOSE_API,
        "close_authorize_url": "https://app.close.test/oauth2/authorize/",
        "close_token_url": "https://api.close.test/oauth2/token/",
        "close_revoke_url": "https://api.close.test/oauth2/revoke/",
        "calendly_client_id": "calendly-client-id",
        "calendly_client_secret": "calendly-client-secret-value",
        "calendly_webhook_signing_key": "calendly-app-signing-key",
        "calendly_api_url": CALENDLY_API,
        "calendly_auth_url": CALENDLY_AUTH,
        "savvycal_client_id": "savvycal-client-id",
        "savvycal_client_secret": "savvycal-client-secret-value",
        "savvycal_api_url": SAVVYCAL_API,
        "savvycal_auth_url": SAVVYCAL_AUTH,
        "savvycal_booking_url": "https://savvycal.test",
        "http_timeout_seconds": 5.0,
        "http_retry_backoff_seconds": 0.0,
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


@pytest.fixture
def fake_redis_server():
    """Set `.connected = False` on it to simulate Redis being down."""
    return fakeredis.FakeServer()


@pytest.fixture
def fake_redis(fake_redis_server):
    return fakeredis.FakeRedis(server=fake_redis_server)


@pytest.fixture
def settings(tmp_path):
    return make_settings(tmp_path)


@pytest.fixture
def db(settings, fake_redis):
    """A migrated database and runtime configured for this test."""
    os.environ.setdefault("OAUTHLIB_INSECURE_TRANSPORT", "1")
    runtime.configure(settings, redis_client=fake_redis)
    migrate.upgrade(runtime.engine())
    yield runtime
    runtime.engine().dispose()


@pytest.fixture
def app(settings, fake_redis, db):
    from web import create_app

    flask_app = create_app(settings, redis_client=fake_redis)
    flask_app.config.update(TESTING=True)
    return flask_app


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def enqueued(monkeypatch):
    """Record every task sent instead of talking to a broker: a list of (task name, args)."""
    from celery.app.task import Task

    sent: list[tuple[str, tuple]] = []

    def fake_apply_async(self, args=None, kwargs=None, **options):
        sent.append((self.name, tuple(args or ()) + tuple((kwargs or {}).values())))

    monkeypatch.setattr(Task, "apply_async", fake_apply_async)
    return sent


# --- accounts ------------------------------------------------------------------------------


def add_account(
    close_user_id: str = "user_A",
    *,
    organization_id: str = "orga_1",
    calendly: bool = True,
    savvycal: bool = True,
    our_client_id: str | None = "oa2client_ours",
) -> int:
    """An account with active Close, Calendly and SavvyCal connections and fresh tokens."""
    from worker.storage.models import Account, Connection

    expires = utcnow() + timedelta(hours=1)
    with runtime.session_scope() as session:
        account = Account(
            close_user_id=close_user_id,
            organization_id=organization_id,
            email=f"{close_user_id}@example.com",
            close_oauth_client_id=our_client_id,
        )
        account.connections.append(
            Connection(
                provider="close",
                external_user_id=close_user_id,
                access_token=f"close-at-{close_user_id}",
                refresh_token=f"close-rt-{close_user_id}",
                token_expires_at=expires,
            )
        )
        if calendly:
            account.connections.append(
                Connection(
                    provider="calendly",
                    external_user_id=f"{CALENDLY_API}/users/U-{close_user_id}",
                    external_org_id=f"{CALENDLY_API}/organizations/O1",
                    access_token=f"cal-at-{close_user_id}",
                    refresh_token=f"cal-rt-{close_user_id}",
                    token_expires_at=expires,
                )
            )
        if savvycal:
            account.connections.append(
                Connection(
                    provider="savvycal",
                    external_user_id=f"user_sc_{close_user_id}",
                    access_token=f"sc-at-{close_user_id}",
                    refresh_token=f"sc-rt-{close_user_id}",
                    token_expires_at=expires,
                )
            )
        session.add(account)
        session.flush()
        return account.id


@pytest.fixture
def account(db):
    return add_account()


# --- a private redis-server -----------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def redis_server_binary() -> str:
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.fail(
            "redis-server is not installed: `make test` installs it (apt-get install "
            "redis-server) when run as root"
        )
    return binary


class RedisServer:
    def __init__(self, tmp: Path):
        self.port = free_port()
        self.dir = tmp
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [
                redis_server_binary(),
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.dir),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        import redis

        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                redis.Redis(port=self.port, socket_connect_timeout=0.2).ping()
                return
            except redis.RedisError:
                time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory):
    """A real redis-server of our own on a free port, for the whole session."""
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def real_redis(redis_server):
    import redis

    client = redis.Redis.from_url(redis_server.url)
    client.flushdb()
    yield client
    client.close()
