"""The team-link section of the connect page in a real browser (headless Chromium), on the
sandbox's demo organization as the README walks through it: dana (the Close admin) signs in once,
carol connects Calendly, alice SavvyCal, bob nothing; the operator creates a team link; each rep's
page says what it opens for them, or why it opens nothing."""

from __future__ import annotations

import pytest
import requests
from playwright.sync_api import Error as PlaywrightError

from tests.processes import wait_for
from tests.web.test_browser import allow_as, page, service  # noqa: F401  (fixtures)

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.timeout(180)]

ADMIN = {"Authorization": "Bearer stack-admin-token"}  # what tests/processes.py's Stack sets


def sign_in(tab, web: str, sandbox, email: str) -> None:
    tab.goto(f"{web}/")
    tab.get_by_role("link", name="Sign in with Close").click()
    allow_as(tab, sandbox.user("close", email))
    assert f"Signed in as {email}" in tab.locator("header").inner_text()


def sign_out(tab) -> None:
    tab.get_by_role("button", name="Sign out").click()


def connect(tab, sandbox, provider: str, email: str, link: str) -> None:
    tab.locator(f"section#{provider}").get_by_role(
        "link", name=f"Connect {provider.title().replace('cal', 'Cal')}"
    ).click()
    allow_as(tab, sandbox.user(provider, email))

    def synced() -> bool:
        try:
            tab.reload()
        except PlaywrightError:
            return False  # the reload raced the OAuth redirect's own navigation: look again
        return link in tab.locator(f"section#{provider}").inner_text()

    wait_for(synced, timeout=40, interval=0.5, what=f"{link} synced")


def team_links_text(tab) -> str:
    tab.reload()
    section = tab.locator("section#team-links")
    return section.inner_text() if section.count() else ""


def test_each_rep_sees_what_the_team_link_opens_for_them(service, page, tmp_path):  # noqa: F811
    web, sandbox = service
    organization_id = next(
        u["organization_id"]
        for u in sandbox.get("/state")["close"]["users"]
        if u["email"] == "alice@example.com"
    )
    sign_in(page, web, sandbox, "dana@example.com")
    sign_out(page)
    sign_in(page, web, sandbox, "bob@example.com")
    sign_out(page)
    sign_in(page, web, sandbox, "carol@example.com")
    connect(page, sandbox, "calendly", "carol@example.com", "Intro Call")
    sign_out(page)
    sign_in(page, web, sandbox, "alice@example.com")
    connect(page, sandbox, "savvycal", "alice@example.com", "Chat with Alice")
    assert team_links_text(page) == ""  # no team link yet, no section

    created = requests.post(
        f"{web}/admin/team_links",
        json={
            "organization_id": organization_id,
            "name": "Intro call",
            "calendly_slug": "intro-call",
            "savvycal_slug": "chat",
        },
        headers=ADMIN,
        timeout=15,
    )
    assert created.status_code == 201, created.text

    wait_for(
        lambda: "opens your SavvyCal link Chat with Alice" in team_links_text(page),
        timeout=30,
        interval=0.5,
        what="alice's team link mapped to her SavvyCal link",
    )
    assert "intro_call" in team_links_text(page)
    page.screenshot(path=str(tmp_path / "team-links.png"), full_page=True)
    sign_out(page)

    sign_in(page, web, sandbox, "carol@example.com")
    wait_for(
        lambda: "opens your Calendly link Intro Call" in team_links_text(page),
        timeout=30,
        interval=0.5,
        what="carol's team link mapped to her Calendly event type",
    )
    sign_out(page)
    sign_in(page, web, sandbox, "bob@example.com")
    wait_for(
        lambda: (
            "not mapped for you: no Calendly event type with the slug intro-call or SavvyCal "
            "link with the slug chat" in team_links_text(page)
        ),
        timeout=30,
        interval=0.5,
        what="bob told why the team link opens nothing for him",
    )

    shared = sandbox.get("/state")["close"]["shared_links"]
    assert [s["template_tag"] for s in shared] == ["intro_call"]
    assert set(shared[0]["mappings"]) == {
        sandbox.user("close", "alice@example.com"),
        sandbox.user("close", "carol@example.com"),
    }
