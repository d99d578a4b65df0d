"""Disconnecting a provider (CONTRACT §3): its links leave Close, the Calendly webhook
subscription is deleted at Calendly, the Calendly grant is revoked, and the stored tokens are
erased; the other provider's links and everything not ours in Close stay."""

from __future__ import annotations

import sqlite3

import pytest

from tests.e2e import world
from tests.e2e.browser import Browser
from tests.processes import wait_for

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]


def new_person(service) -> world.Person:
    """A person of their own (a teams-plan Calendly user, so webhooks are allowed), with a
    manual link in Close that must survive."""
    (seeded,) = service.sandbox.send(
        "POST",
        "/seed/scale",
        {"users": 1, "event_types_per_user": 3, "savvycal_links_per_user": 3},
    )["users"]
    person = service.sandbox.person(seeded["email"])
    service.sandbox.send(
        "POST",
        "/close/links",
        {"user_id": person.email, "name": "My own link", "url": "https://example.com/me"},
    )
    return person


def stored_tokens(service, provider: str, external_user_id: str) -> tuple:
    db = sqlite3.connect(f"file:{service.stack.tmp / 'schedsync.db'}?mode=ro", uri=True)
    try:
        return db.execute(
            "SELECT state, access_token, refresh_token FROM connections "
            "WHERE provider = ? AND external_user_id LIKE ?",
            (provider, f"%{external_user_id}"),
        ).fetchone()
    finally:
        db.close()


def grant_tokens(service, provider: str, user_id: str) -> list[dict]:
    oauth = service.sandbox.state()["oauth"]
    return [
        token
        for kind in ("access_tokens", "refresh_tokens")
        for token in oauth[kind]
        if token["provider"] == provider and token["user_id"] == user_id
    ]


def revoke_calls(service) -> int:
    counts = service.sandbox.requests_seen()["counts"].get("calendly", {})
    return counts.get("POST /calendly/auth/oauth/revoke", 0)


def hooks_of(service, person: world.Person) -> list[dict]:
    return [h for h in service.sandbox.hooks() if h["user_uuid"] == person.calendly_uuid]


def test_disconnecting_removes_the_providers_links_its_webhook_and_its_tokens(service):
    person = new_person(service)
    untouched = world.not_ours(service.sandbox, person)
    browser = Browser(service.web)
    browser.sign_in(person.close_user_id)
    browser.connect("calendly", person.calendly_uuid)
    browser.connect_savvycal_token(person.savvycal_personal_token)
    wait_for(lambda: world.in_step(service.sandbox, person), 20, what="the first sync")
    assert len(world.ours_in_close(service.sandbox, person)) == 6
    wait_for(lambda: hooks_of(service, person), 10, what="the webhook subscription at Calendly")

    revokes_before = revoke_calls(service)
    browser.disconnect("calendly")

    account = service.admin.account(person.close_user_id)
    states = {c["provider"]: c["state"] for c in account["connections"]}
    assert states == {"calendly": "disconnected", "savvycal": "active"}  # at once
    wait_for(
        lambda: world.in_step(service.sandbox, person, calendly=False),
        20,
        what="the Calendly links gone from Close, the SavvyCal ones kept",
    )
    assert {sid.split(":")[0] for sid in world.ours_in_close(service.sandbox, person)} == {
        "savvycal"
    }
    wait_for(lambda: not hooks_of(service, person), 10, what="the subscription deleted")
    # The clean-up's last step erases the stored pair, after revoking it at Calendly.
    wait_for(
        lambda: (
            stored_tokens(service, "calendly", person.calendly_uuid) == ("disconnected", None, None)
        ),
        10,
        what="the Calendly tokens erased",
    )
    assert revoke_calls(service) - revokes_before == 2  # the refresh token and the access token
    tokens = grant_tokens(service, "calendly", person.calendly_uuid)
    assert tokens and all(token["revoked"] for token in tokens)

    browser.disconnect("savvycal")

    wait_for(
        lambda: world.ours_in_close(service.sandbox, person) == {},
        20,
        what="the SavvyCal links gone from Close",
    )
    wait_for(
        lambda: (
            stored_tokens(service, "savvycal", person.savvycal_user_id)
            == ("disconnected", None, None)
        ),
        10,
        what="the SavvyCal personal token erased",
    )
    assert world.not_ours(service.sandbox, person) == untouched
    assert [link["name"] for link in untouched] == ["My own link"]
