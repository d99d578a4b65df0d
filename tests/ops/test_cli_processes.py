"""`flask --app web resync --wait` as an operator runs it: its own process, a real Celery worker
doing the syncs, the sandbox standing in for Close and SavvyCal."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import redis
import requests

from tests.conftest import TEST_KEY
from tests.processes import BIN, Stack
from worker import runtime
from worker.auth.accounts import store_close_account, store_connection
from worker.config import Settings
from worker.providers.oauth import TokenGrant

pytestmark = pytest.mark.slow

REDIS_DB = 5
REDIRECT = "http://localhost:5000/oauth/close/callback"


def close_grant(sandbox: str, env: dict[str, str], email: str) -> dict:
    """Alice approves our Close app in the sandbox; the token answer."""
    http = requests.Session()
    state = http.get(f"{sandbox}/_sandbox/state", timeout=10).json()
    user = next(u for u in state["close"]["users"] if u["email"] == email)
    creds = {"client_id": env["CLOSE_CLIENT_ID"], "client_secret": env["CLOSE_CLIENT_SECRET"]}
    approved = http.post(
        f"{sandbox}/close/oauth2/authorize/",
        data={
            "client_id": creds["client_id"],
            "response_type": "code",
            "redirect_uri": REDIRECT,
            "scope": "all.full_access offline_access",
            "state": "s",
            "user_id": user["id"],
            "decision": "allow",
        },
        allow_redirects=False,
        timeout=10,
    )
    assert approved.status_code == 302, approved.text
    code = parse_qs(urlsplit(approved.headers["Location"]).query)["code"][0]
    answer = http.post(
        f"{sandbox}/close/oauth2/token/",
        data={**creds, "grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT},
        timeout=10,
    )
    assert answer.status_code == 200, answer.text
    return answer.json()


def connect_alice(db_path: Path, sandbox: str, env: dict[str, str]) -> str:
    """Store Alice's account as the sign-in and the personal-token form would."""
    runtime.configure(
        Settings(database_url=f"sqlite:///{db_path}", encryption_keys=(TEST_KEY,), env="test")
    )
    token = close_grant(sandbox, env, "alice@example.com")
    state = requests.get(f"{sandbox}/_sandbox/state", timeout=10).json()
    savvy = next(u for u in state["savvycal"]["users"] if u["email"] == "alice@example.com")
    connected = store_close_account(
        close_user_id=token["user_id"],
        organization_id=token["organization_id"],
        email="alice@example.com",
        grant=TokenGrant(token["access_token"], token["refresh_token"], None, {}),
    )
    store_connection(
        connected.account_id,
        "savvycal",
        personal_token=savvy["personal_token"],
        external_user_id=savvy["id"],
    )
    runtime.engine().dispose()
    return token["user_id"]


@pytest.fixture
def stack(tmp_path, redis_server):
    redis_url = redis_server.url.rsplit("/", 1)[0] + f"/{REDIS_DB}"
    redis.Redis.from_url(redis_url).flushdb()
    stack = Stack(tmp_path, redis_url)
    try:
        yield stack
    except BaseException:
        print(stack.logs())
        raise
    finally:
        stack.stop_all()


def test_resync_wait_follows_a_real_worker_and_sums_up_its_run(stack, tmp_path):
    _, sandbox = stack.start_sandbox()
    env = requests.get(f"{sandbox}/_sandbox/env", timeout=10).json()
    stack.env_overrides.update(env)
    stack.migrate()
    alice = connect_alice(tmp_path / "schedsync.db", sandbox, env)
    stack.start_worker()
    flask = str(BIN / "flask")

    first = stack.run(flask, "--app", "web", "resync", "--wait", "--timeout", "60", timeout=90)

    # Alice's active SavvyCal links: "Chat with Alice" and "Acme Sales Demo"; her unscoped link
    # has no booking URL and is skipped with a warning.
    assert "queued 1 account(s)" in first.stdout
    assert "created=2 updated=0 deleted=0 unchanged=0 failed=0" in first.stdout, stack.logs()
    in_close = requests.get(
        f"{sandbox}/_sandbox/close/links", params={"user_id": alice}, timeout=10
    ).json()["data"]
    ours = {
        link["name"] for link in in_close if (link.get("source_id") or "").startswith("savvycal:")
    }
    assert ours == {"Acme Sales Demo", "Chat with Alice"}

    again = stack.run(
        flask, "--app", "web", "resync", "--account", alice, "--wait", "--timeout", "60"
    )
    assert "created=0 updated=0 deleted=0 unchanged=2 failed=0" in again.stdout
    assert f"{alice} (alice@example.com): ok  created=0" in again.stdout  # one line per account

    # Nothing to change now: the dry run says so, from its own process, and writes nothing.
    preview = stack.run(
        flask, "--app", "web", "resync", "--dry-run", "--account", "alice@example.com"
    )
    assert f"{alice} (alice@example.com): 0 to create, 0 to update, 0 to delete, 2 unchanged" in (
        preview.stdout
    ), preview.stdout + preview.stderr
    assert "dry run: nothing was written to Close" in preview.stdout

    table = stack.run(flask, "--app", "web", "accounts").stdout.splitlines()
    row = next(line.split() for line in table if line.startswith(alice))
    assert row[1:4] == ["alice@example.com", "active", "-"]
    assert row[4:6] == ["active", "ok"]
