"""The demo survives a restart (issue 11, point 6): `make run` starts the sandbox with a state file,
so when everything is restarted (to set ADMIN_TOKEN, say) the demo account's Close and Calendly
grants are still valid and the next sync succeeds, instead of turning `needs_reauth` with
"close GET /scheduling_link/ answered 401"."""

from __future__ import annotations

import pytest
import redis
import requests

from dev.launcher import sandbox_command
from tests.conftest import free_port
from tests.e2e.browser import Browser
from tests.processes import Stack, wait_for, wait_http

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]

REDIS_DB = 12  # a database of its own: no other test's broker messages reach this worker
EMAIL = "alice@example.com"


def start_sandbox(stack: Stack, port: int, state_file, name: str):
    """The sandbox exactly as `make run` starts it (dev/launcher.py), on a port of the test's."""
    proc = stack.spawn(name, *sandbox_command(port, state_file))
    base = f"http://127.0.0.1:{port}"
    wait_http(f"{base}/_sandbox/env", proc)
    return proc, base


def user_id(base: str, provider: str, email: str) -> str:
    state = requests.get(f"{base}/_sandbox/state", timeout=10).json()
    key = "uuid" if provider == "calendly" else "id"
    return next(u[key] for u in state[provider]["users"] if u["email"] == email)


def status(browser: Browser) -> dict:
    answer = browser.http.get(f"{browser.web}/status", timeout=15)
    answer.raise_for_status()
    return answer.json()


def finished_after(browser: Browser, started_after: str | None):
    run = status(browser)["sync"]["last_run"]
    if run is None or run["outcome"] == "running":
        return None
    if started_after is not None and run["started_at"] <= started_after:
        return None
    return run


def test_after_a_restart_the_demo_account_still_syncs(tmp_path, redis_server):
    redis_url = redis_server.url.rsplit("/", 1)[0] + f"/{REDIS_DB}"
    redis.Redis.from_url(redis_url).flushdb()
    stack = Stack(tmp_path / "stack", redis_url)
    stack.tmp.mkdir()
    state_file = tmp_path / "sandbox-state.json"
    port = free_port()
    try:
        sandbox, base = start_sandbox(stack, port, state_file, "sandbox")
        env = requests.get(f"{base}/_sandbox/env", timeout=10).json()
        web_port = free_port()
        web = f"http://127.0.0.1:{web_port}"
        stack.env_overrides.update({**env, "PUBLIC_URL": web})
        stack.migrate()
        stack.start_web(port=web_port)
        stack.start_worker(concurrency=2)
        browser = Browser(web)
        browser.sign_in(user_id(base, "close", EMAIL))
        browser.connect("calendly", user_id(base, "calendly", EMAIL))
        first = wait_for(
            lambda: finished_after(browser, None), timeout=60, interval=0.5, what="first sync"
        )
        assert first["outcome"] == "ok" and first["created"] > 0

        sandbox.stop()
        start_sandbox(stack, port, state_file, "sandbox-again")
        assert browser.post_form("/sync").status_code == 303

        again = wait_for(
            lambda: finished_after(browser, first["started_at"]),
            timeout=60,
            interval=0.5,
            what="the sync after the restart",
        )
        assert (again["outcome"], again["error"]) == ("ok", None)
        assert again["created"] == 0 and again["deleted"] == 0  # the same world as before
        view = status(browser)
        assert view["account"]["close_state"] == "active"
        assert {p["provider"]: p["state"] for p in view["providers"]}["calendly"] == "active"
    except BaseException:
        print(stack.logs())
        raise
    finally:
        stack.stop_all()
