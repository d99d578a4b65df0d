"""The live connect page in a real browser (headless Chromium) against gunicorn, a Celery worker
and the sandbox: after connecting, the run and its result appear with no reload; a rename in
Calendly arrives by webhook and appears with no reload; what is not in Close is listed with its
reason; the recent changes say what was written to Close and why, the webhook's too, with no
reload; Disconnect asks first; a reloaded callback says the connect is done.

Screenshots of the page after connect, after the webhook change and of its recent changes are
kept in docs/: run with
UPDATE_SCREENSHOTS=1 to refresh them (otherwise they go to the test's tmp dir)."""

from __future__ import annotations

import os

import pytest
import requests

from tests.processes import ROOT, wait_for
from tests.web.test_browser import EMAIL, allow_as, card, page, service  # noqa: F401 (fixtures)

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.timeout(240)]

AFTER_CONNECT = ROOT / "docs" / "live-page-after-connect.png"
AFTER_WEBHOOK = ROOT / "docs" / "live-page-after-webhook.png"
HISTORY = ROOT / "docs" / "live-page-history.png"
WAIT = 60  # seconds: a loaded machine runs several test suites at once


def screenshot_path(final, tmp_path):
    return final if os.environ.get("UPDATE_SCREENSHOTS") else tmp_path / final.name


def same_document(tab) -> bool:
    """True while the page is the one marked by `mark_document`: no reload happened since."""
    return tab.evaluate("window.__schedsyncMarked === true")


def mark_document(tab) -> None:
    tab.evaluate("window.__schedsyncMarked = true")


def wait_for_text(tab, selector: str, predicate, what: str) -> str:
    """Wait, without reloading, until the element's text satisfies `predicate`."""
    return wait_for(
        lambda: (
            predicate(tab.locator(selector).inner_text()) and tab.locator(selector).inner_text()
        ),
        timeout=WAIT,
        interval=0.5,
        what=what,
    )


def rename_event_type(sandbox, name: str, new_name: str) -> None:
    user = sandbox.user("calendly", EMAIL)
    types = sandbox.get("/calendly/event_types", user=user)["event_types"]
    uuid = next(t["uri"].rsplit("/", 1)[-1] for t in types if t["name"] == name)
    answer = requests.patch(
        f"{sandbox.base}/_sandbox/calendly/event_types/{uuid}", json={"name": new_name}, timeout=10
    )
    answer.raise_for_status()


def test_the_page_follows_the_sync_and_a_webhook_change_without_a_reload(
    service,  # noqa: F811
    page,  # noqa: F811
    tmp_path,
):
    web, sandbox = service
    callbacks: list[str] = []
    page.on(
        "request",
        lambda request: (
            callbacks.append(request.url) if "/oauth/calendly/callback" in request.url else None
        ),
    )

    page.goto(f"{web}/")
    page.get_by_role("link", name="Sign in with Close").click()
    allow_as(page, sandbox.user("close", EMAIL))
    token = next(
        u["personal_token"]
        for u in sandbox.get("/state")["savvycal"]["users"]
        if u["email"] == EMAIL
    )
    page.fill("#savvycal-token", token)
    page.get_by_role("button", name="Use this token").click()
    assert "SavvyCal connected" in page.get_by_role("status").first.inner_text()

    card(page, "calendly").get_by_role("link", name="Connect Calendly").click()
    allow_as(page, sandbox.user("calendly", EMAIL))
    assert "Calendly connected" in page.get_by_role("status").first.inner_text()
    mark_document(page)

    # The run and its result, and every link it pushed, appear with no reload.
    calendly = wait_for_text(
        page,
        "section#calendly",
        lambda text: "Discovery Call" in text and "Partner Sync" in text and "Old Demo" in text,
        "the first sync's Calendly links and what is not synced",
    )
    wait_for_text(
        page,
        "section#sync",
        lambda text: "Last sync started" in text and "finished" in text and "Syncing" not in text,
        "the sync's result",
    )
    calendly = page.locator("section#calendly").inner_text()
    assert "30 min" in calendly  # the duration column
    assert "Old Demo: turned off (inactive) in Calendly" in calendly
    assert "Meeting with Dana: a one-off (ad-hoc) meeting, not a scheduling link" in calendly
    assert (
        "30 Minute Meeting: Close already shows it through Close's own Calendly integration"
        in calendly
    )
    assert "Connected as alice@example.com" in calendly
    changes = wait_for_text(
        page,
        "section#history",
        lambda text: "Calendly link “Discovery Call” added to Close" in text,
        "the first sync's writes in the recent changes",
    )
    assert "by the first sync after connecting" in changes
    savvycal = wait_for_text(
        page,
        "section#savvycal",
        lambda text: "Chat with Alice" in text and "Paused Link" in text,
        "SavvyCal links and what is not synced",
    )
    assert "Paused Link: disabled in SavvyCal" in savvycal
    assert "Unscoped Link: it has no booking URL" in savvycal
    synced = page.locator("section#calendly time").first
    assert synced.inner_text().endswith(" ago")
    assert synced.get_attribute("title").endswith(" UTC")  # the exact time, on hover
    assert page.locator("section#calendly a", has_text="open in Close").count() >= 2
    wait_for_text(
        page,
        "section#calendly .webhook-region",
        lambda text: "live, through a Calendly webhook" in text,
        "the webhook subscription",
    )
    page.screenshot(path=str(screenshot_path(AFTER_CONNECT, tmp_path)), full_page=True)
    assert same_document(page)

    # A rename in Calendly: the sandbox sends the signed webhook; the page shows it, no reload.
    rename_event_type(sandbox, "Discovery Call", "Discovery Call (renamed)")
    wait_for_text(
        page,
        "section#calendly",
        lambda text: "Discovery Call (renamed)" in text,
        "the renamed event type on the page",
    )
    changes = wait_for_text(
        page,
        "section#history",
        lambda text: "renamed from “Discovery Call” to “Discovery Call (renamed)”" in text,
        "the webhook's rename in the recent changes",
    )
    newest = page.locator("section#history li").first
    assert newest.inner_text().startswith(
        "Calendly link renamed from “Discovery Call” to “Discovery Call (renamed)”"
    )
    assert newest.inner_text().endswith("by a Calendly webhook.")
    assert newest.locator("time").inner_text().endswith(" ago")
    assert newest.locator("time").get_attribute("title").endswith(" UTC")
    page.screenshot(path=str(screenshot_path(AFTER_WEBHOOK, tmp_path)), full_page=True)
    page.locator("section#history").screenshot(path=str(screenshot_path(HISTORY, tmp_path)))
    assert same_document(page)

    # "Sync now": the new run's result replaces the old one on the page it lands on, no reload.
    before = page.locator("section#sync .last-sync time").first.get_attribute("datetime")
    page.get_by_role("button", name="Sync now").click()
    assert "Sync started" in page.get_by_role("status").first.inner_text()
    mark_document(page)

    def new_result() -> bool:
        box = page.locator("section#sync")
        started = box.locator(".last-sync time").first.get_attribute("datetime")
        return started > before and "Syncing now" not in box.inner_text()

    wait_for(new_result, timeout=WAIT, interval=0.5, what="the result of Sync now")
    assert "0 created, 0 updated, 0 deleted" in page.locator("section#sync").inner_text()
    assert same_document(page)

    # The finished callback, loaded again, says so plainly.
    assert callbacks, "the Calendly callback was never loaded"
    page.goto(callbacks[-1])
    body = page.locator("main").inner_text()
    assert "Calendly is connected" in body and "expired" not in body

    # Disconnect asks first; Cancel changes nothing; confirming disconnects.
    page.goto(f"{web}/")
    card(page, "calendly").get_by_role("link", name="Disconnect Calendly").click()
    assert "Disconnect Calendly?" in page.locator("main").inner_text()
    page.get_by_role("link", name="Cancel").click()
    assert "Connected as alice@example.com" in card(page, "calendly").inner_text()
    card(page, "calendly").get_by_role("link", name="Disconnect Calendly").click()
    page.get_by_role("button", name="Yes, disconnect Calendly").click()
    assert "Calendly disconnected" in page.get_by_role("status").first.inner_text()
    after = card(page, "calendly").inner_text()
    assert "Old Demo" not in after  # what the last run said of it went with it
    wait_for_text(
        page,
        "section#history",
        lambda text: "removed from Close" in text and "because Calendly was disconnected" in text,
        "the disconnect's deletions in the recent changes",
    )
    assert "Paused Link" in card(page, "savvycal").inner_text()


def test_the_page_works_without_javascript(service, tmp_path):  # noqa: F811
    """Same page, no script: signed in over plain HTTP, the links are there on load."""
    from tests.e2e.browser import Browser

    web, sandbox = service
    browser = Browser(web)
    browser.sign_in(sandbox.user("close", EMAIL))
    browser.connect("calendly", sandbox.user("calendly", EMAIL))

    wait_for(
        lambda: "Partner Sync" in browser.page() and "turned off (inactive)" in browser.page(),
        timeout=WAIT,
        interval=0.5,
        what="the synced links on a plain page load",
    )
    confirm = browser.http.get(f"{web}/connections/calendly/disconnect", timeout=10)
    assert 'action="/connections/calendly/disconnect"' in confirm.text
    browser.disconnect("calendly")
    assert "Calendly disconnected" in browser.page()
