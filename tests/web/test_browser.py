"""The connect page in a real browser (headless Chromium): a rep signs in with Close, connects
SavvyCal and Calendly on the providers' consent pages, sees the links the worker synced, and
disconnects. schedsync runs as gunicorn and a Celery worker; the sandbox plays the providers.

The signed-in page is kept at docs/connect-page.png: run with UPDATE_SCREENSHOTS=1 to refresh it
(otherwise the screenshot goes to the test's tmp dir, so a test run leaves the tree clean)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
import redis
import requests
from playwright.sync_api import Error as PlaywrightError

from tests.conftest import free_port
from tests.processes import ROOT, Stack, wait_for

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.timeout(180)]

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
REDIS_DB = 11  # a database of its own: no other test's broker messages reach this worker
SCREENSHOT = ROOT / "docs" / "connect-page.png"
EMAIL = "alice@example.com"


class Sandbox:
    def __init__(self, base: str):
        self.base = base

    def get(self, path: str, **params: str) -> dict:
        answer = requests.get(f"{self.base}/_sandbox{path}", params=params, timeout=10)
        answer.raise_for_status()
        return answer.json()

    def user(self, provider: str, email: str) -> str:
        key = "uuid" if provider == "calendly" else "id"
        return next(u[key] for u in self.get("/state")[provider]["users"] if u["email"] == email)

    def our_close_links(self, close_user_id: str) -> list[dict]:
        links = self.get("/close/links", user_id=close_user_id)["data"]
        return [link for link in links if link["source"] == "THIRD_PARTY"]


@pytest.fixture
def service(request, tmp_path, redis_server):
    if not Path(CHROMIUM).exists():
        pytest.fail("Chromium is missing: apt-get install -y chromium (`make test` installs it)")
    redis_url = redis_server.url.rsplit("/", 1)[0] + f"/{REDIS_DB}"
    redis.Redis.from_url(redis_url).flushdb()
    stack = Stack(tmp_path / "stack", redis_url)
    stack.tmp.mkdir()
    request.node.stack = stack  # for the failure report (conftest.py)
    try:
        _, sandbox_url = stack.start_sandbox()
        sandbox = Sandbox(sandbox_url)
        web_port = free_port()
        web = f"http://127.0.0.1:{web_port}"
        stack.env_overrides.update({**sandbox.get("/env"), "PUBLIC_URL": web})
        stack.migrate()
        stack.start_web(port=web_port)
        stack.start_worker(concurrency=2)
        yield web, sandbox
    except BaseException:
        print(stack.logs())
        raise
    finally:
        stack.stop_all()


@pytest.fixture
def page(tmp_path):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"),  # a fresh profile for every run
            executable_path=CHROMIUM,
            args=CHROMIUM_ARGS,
            headless=True,
            viewport={"width": 1100, "height": 900},
        )
        context.set_default_timeout(15_000)
        try:
            yield context.pages[0] if context.pages else context.new_page()
        finally:
            context.close()
            shutil.rmtree(tmp_path / "chromium-profile", ignore_errors=True)


def allow_as(page, user_id: str) -> None:
    """On a sandbox consent page: choose the user and allow."""
    page.select_option("#user_id", value=user_id)
    page.get_by_role("button", name="Allow").click()


def card(page, provider: str):
    return page.locator(f"section#{provider}")


def reload_until(page, provider: str, predicate, what: str) -> None:
    def check() -> bool:
        try:
            page.reload()
        except PlaywrightError:
            # The reload raced a navigation of the page's own (the OAuth redirect, or live.js
            # loading the page again when a provider's state changed): look again.
            return False
        return predicate(card(page, provider).inner_text())

    wait_for(check, timeout=40, interval=0.5, what=what)


def test_a_rep_signs_in_connects_sees_links_and_disconnects(service, page, tmp_path, request):
    web, sandbox = service
    close_user = sandbox.user("close", EMAIL)

    page.goto(f"{web}/")
    page.get_by_role("link", name="Sign in with Close").click()
    allow_as(page, close_user)
    assert page.url == f"{web}/"
    assert f"Signed in as {EMAIL}" in page.locator("header").inner_text()

    card(page, "savvycal").get_by_role("link", name="Connect SavvyCal").click()
    allow_as(page, sandbox.user("savvycal", EMAIL))
    assert "SavvyCal connected" in page.get_by_role("status").first.inner_text()

    card(page, "calendly").get_by_role("link", name="Connect Calendly").click()
    allow_as(page, sandbox.user("calendly", EMAIL))
    assert "Calendly connected" in page.get_by_role("status").first.inner_text()

    reload_until(page, "savvycal", lambda text: "Chat with Alice" in text, "SavvyCal links")
    # Links are listed as each is pushed; wait for the whole set the sync must push.
    reload_until(
        page,
        "calendly",
        lambda text: "Discovery Call" in text and "Partner Sync" in text,
        "Calendly links",
    )
    calendly = card(page, "calendly").locator("table.links").inner_text()
    assert "Partner Sync" in calendly  # secret event types are synced too
    assert "Old Demo" not in calendly  # inactive ones are not
    # Close already holds this one from its own Calendly integration: not pushed twice.
    assert "30 Minute Meeting" not in calendly
    assert "synced" in calendly
    # A sync started by the second connect may still be running: its warnings come at its end.
    reload_until(
        page,
        "savvycal",
        lambda text: "Unscoped Link: it has no booking URL" in text,
        "the skipped link, with its reason",
    )
    calendly = card(page, "calendly").inner_text()
    assert "Disconnect Calendly" in calendly
    screenshot = SCREENSHOT if os.environ.get("UPDATE_SCREENSHOTS") else tmp_path / "page.png"
    page.screenshot(path=str(screenshot), full_page=True)

    savvycal_in_close = [
        link for link in sandbox.our_close_links(close_user) if "savvycal" in link["source_id"]
    ]
    assert savvycal_in_close
    card(page, "savvycal").get_by_role("link", name="Disconnect SavvyCal").click()
    page.get_by_role("button", name="Yes, disconnect SavvyCal").click()
    assert "SavvyCal disconnected" in page.get_by_role("status").first.inner_text()
    assert "Connect SavvyCal" in card(page, "savvycal").inner_text()

    reload_until(
        page, "savvycal", lambda text: "Chat with Alice" not in text, "SavvyCal links removed"
    )
    wait_for(
        lambda: (
            not [
                link
                for link in sandbox.our_close_links(close_user)
                if "savvycal" in link["source_id"]
            ]
        ),
        timeout=20,
        what="SavvyCal links gone from Close",
    )
    assert "Discovery Call" in card(page, "calendly").inner_text()
    assert any("calendly" in link["source_id"] for link in sandbox.our_close_links(close_user))

    # The web process's access log names the callback paths but never their `code` or `state`.
    web_log = next(p for p in request.node.stack.procs if p.name == "web").log.read_text()
    assert "GET /oauth/close/callback" in web_log
    assert "code=" not in web_log and "state=" not in web_log
