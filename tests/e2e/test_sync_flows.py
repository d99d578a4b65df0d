"""A rep (the sandbox's Alice) signs in with Close and connects Calendly (OAuth with PKCE) and
SavvyCal (OAuth); then changes in either provider reach Close, through a signed webhook or an
operator's resync, also after every access token expired. All real processes (CONTRACT §3–§5)."""

from __future__ import annotations

import time
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.e2e import world
from tests.e2e.browser import Browser
from tests.processes import wait_for

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]

ALICE = "alice@example.com"
TOKEN_PATHS = {
    "close": "POST /close/oauth2/token/",
    "calendly": "POST /calendly/auth/oauth/token",
    "savvycal": "POST /savvycal/oauth/token",
}
WEBHOOK_LATENCY_LIMIT = 5.0


class Rep:
    def __init__(self, browser: Browser, person: world.Person, untouched: list[dict]):
        self.browser = browser
        self.person = person
        self.untouched = untouched  # Close links that are not ours, before connecting


@pytest.fixture(scope="module")
def alice(service) -> Rep:
    person = service.sandbox.person(ALICE)
    untouched = world.not_ours(service.sandbox, person)
    browser = Browser(service.web)
    browser.sign_in(person.close_user_id)
    browser.connect("calendly", person.calendly_uuid)
    browser.connect("savvycal", person.savvycal_user_id)
    return Rep(browser, person, untouched)


def in_step(service, rep: Rep) -> bool:
    return world.in_step(service.sandbox, rep.person)


def wait_in_step(service, rep: Rep, timeout: float = 20) -> None:
    wait_for(lambda: in_step(service, rep), timeout, 0.1, what="Close to hold the desired links")


def synced_event_type(service, rep: Rep, name: str) -> tuple[str, str]:
    """(uuid, source_id) of one of the rep's event types that is in Close as ours."""
    event_type = next(e for e in service.sandbox.event_types(rep.person) if e["name"] == name)
    uuid = world.uuid_of(event_type["uri"])
    source_id = f"calendly:{uuid}:{rep.person.close_user_id}"
    assert source_id in world.ours_in_close(service.sandbox, rep.person)
    return uuid, source_id


def link_named(service, rep: Rep, source_id: str, name: str) -> bool:
    link = world.ours_in_close(service.sandbox, rep.person).get(source_id)
    return link is not None and link["name"] == name


def webhook_of(service, rep: Rep) -> str:
    account = service.admin.account(rep.person.close_user_id)
    return next(c["webhook"] for c in account["connections"] if c["provider"] == "calendly")


def resync_and_wait(service, rep: Rep) -> dict:
    asked = service.admin.resync(rep.person.close_user_id)
    assert asked["queued"] == 1
    assert asked["accounts"] == [rep.person.close_user_id]
    return service.admin.wait_resynced(rep.person.close_user_id, asked["requested_at"])


def test_connecting_both_providers_puts_exactly_the_desired_links_in_close(service, alice):
    calendly_start = alice.browser.authorize_urls["calendly"]
    query = parse_qs(urlsplit(calendly_start).query)
    assert query["code_challenge_method"] == ["S256"] and query["code_challenge"][0]

    wait_in_step(service, alice)
    ours = world.ours_in_close(service.sandbox, alice.person)
    wanted = world.desired(service.sandbox, alice.person)
    assert ours == wanted  # field for field
    assert {sid.split(":")[0] for sid in ours} == {"calendly", "savvycal"}

    # Close's own Calendly link of "30 Minute Meeting" is the only one of that event type.
    meeting = next(
        e for e in service.sandbox.event_types(alice.person) if e["name"] == "30 Minute Meeting"
    )
    native = [link for link in alice.untouched if link["source"] == "CALENDLY"]
    assert [world.normalize_url(link["url"]) for link in native] == [
        world.normalize_url(meeting["scheduling_url"])
    ]
    assert not any(link["url"] == meeting["scheduling_url"] for link in ours.values())
    assert f"calendly:{world.uuid_of(meeting['uri'])}:{alice.person.close_user_id}" not in ours

    # Manual, Close-native and other apps' links are exactly as they were.
    assert world.not_ours(service.sandbox, alice.person) == alice.untouched

    account = service.admin.wait_idle(alice.person.close_user_id)
    assert account["last_sync"]["outcome"] == "ok", account["last_sync"]
    wait_for(
        lambda: webhook_of(service, alice) == "active", 10, what="the Calendly webhook subscription"
    )
    hooks = [h for h in service.sandbox.hooks() if h["user_uuid"] == alice.person.calendly_uuid]
    assert [h["state"] for h in hooks] == ["active"]
    assert hooks[0]["callback_url"].startswith(f"{service.web}/webhooks/calendly/")


def test_a_calendly_rename_reaches_close_through_the_webhook_within_seconds(service, alice):
    wait_in_step(service, alice)
    before = service.admin.wait_idle(alice.person.close_user_id)["last_sync"]
    uuid, source_id = synced_event_type(service, alice, "Discovery Call")
    new_name = f"Discovery Call {time.monotonic_ns()}"

    started = time.monotonic()
    service.sandbox.send("PATCH", f"/calendly/event_types/{uuid}", {"name": new_name})
    wait_for(
        lambda: link_named(service, alice, source_id, new_name),
        10,
        0.02,
        what="the renamed link in Close",
    )
    latency = time.monotonic() - started
    print(f"Calendly rename → Close: {latency:.3f} s")
    assert latency < WEBHOOK_LATENCY_LIMIT

    # It came by the webhook: signed and accepted, and no full sync ran meanwhile.
    deliveries = service.sandbox.get("/webhook_deliveries")["deliveries"]
    renamed = [
        d for d in deliveries if d["event"] == "event_type.updated" and uuid in d["event_type"]
    ]
    assert renamed and all(d["status"] == 200 for d in renamed), renamed
    assert renamed[-1]["signature"].startswith("t=")
    assert service.admin.account(alice.person.close_user_id)["last_sync"] == before
    assert in_step(service, alice)


def test_a_savvycal_change_reaches_close_with_an_admin_resync(service, alice):
    wait_in_step(service, alice)
    links = service.sandbox.savvycal_links(alice.person)
    chat = next(link for link in links if link["name"].startswith("Chat with Alice"))
    service.sandbox.send(
        "PATCH", f"/savvycal/links/{chat['id']}", {"name": "Chat (renamed)", "default_duration": 45}
    )
    added = service.sandbox.send(
        "POST",
        "/savvycal/links",
        {"user": ALICE, "name": "Walk and talk", "durations": [20, 40], "default_duration": 20},
    )
    assert not in_step(service, alice)  # SavvyCal has no webhooks: Close waits for a sync

    account = resync_and_wait(service, alice)

    assert account["last_sync"]["outcome"] == "ok", account["last_sync"]
    assert account["last_sync"]["created"] == 1 and account["last_sync"]["updated"] == 1
    assert in_step(service, alice)  # finished means Close already follows
    ours = world.ours_in_close(service.sandbox, alice.person)
    sid = f"savvycal:{chat['id']}:{alice.person.close_user_id}"
    assert ours[sid]["name"] == "Chat (renamed)" and ours[sid]["duration_in_minutes"] == 45
    assert f"savvycal:{added['id']}:{alice.person.close_user_id}" in ours


def token_calls(service) -> dict[str, int]:
    counts = service.sandbox.requests_seen()["counts"]
    return {p: counts.get(p, {}).get(path, 0) for p, path in TOKEN_PATHS.items()}


def test_every_token_expiring_mid_run_is_refreshed_and_nothing_is_lost(service, alice):
    wait_in_step(service, alice)
    service.sandbox.send("DELETE", "/requests")
    _, source_id = synced_event_type(service, alice, "Partner Sync")
    uuid = source_id.split(":")[1]

    for round_ in (1, 2):
        # Every access token the sandbox issued stops working now; refresh tokens still do.
        assert service.sandbox.send("POST", "/tokens/expire")["expired"] >= 3
        name = f"Partner Sync round {round_}"
        service.sandbox.send("PATCH", f"/calendly/event_types/{uuid}", {"name": name})
        wait_for(
            lambda name=name: link_named(service, alice, source_id, name),
            15,
            what=f"round {round_}: the rename in Close after the tokens expired",
        )
        service.sandbox.send(
            "POST",
            "/savvycal/links",
            {"user": ALICE, "name": f"Round {round_} link", "durations": [30]},
        )
        account = resync_and_wait(service, alice)
        assert account["last_sync"]["outcome"] == "ok", account["last_sync"]
        assert in_step(service, alice)

    account = service.admin.account(alice.person.close_user_id)
    assert account["state"] == "active"
    assert {c["provider"]: c["state"] for c in account["connections"]} == {
        "calendly": "active",
        "savvycal": "active",
    }
    # Each provider's refresh token was spent once per expiry (twice in all), never reused.
    calls = token_calls(service)
    assert calls == {"close": 2, "calendly": 2, "savvycal": 2}, calls
    statuses = service.sandbox.requests_seen()["statuses"]
    assert all("400" not in by_status for by_status in statuses.values()), statuses
    assert world.not_ours(service.sandbox, alice.person) == alice.untouched
