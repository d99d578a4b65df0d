"""A webhook about an event type that is no longer the rep's (a team type they were removed from
as host: a colleague's now) never pushes a link that the next full sync deletes: the targeted task
is the full sync's equal (CONTRACT §4, last paragraph). Real processes against the sandbox, whose
Calendly lists a team type for each host and notifies the hosts before and after a change."""

from __future__ import annotations

import pytest

from tests.e2e import world
from tests.e2e.browser import Browser
from tests.processes import wait_for

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]


def two_colleagues(service) -> tuple[world.Person, world.Person]:
    """Two people of one new organization (a teams plan, so webhooks are allowed)."""
    seeded = service.sandbox.send(
        "POST",
        "/seed/scale",
        {"users": 2, "event_types_per_user": 2, "savvycal_links_per_user": 0},
    )["users"]
    return tuple(service.sandbox.person(s["email"]) for s in seeded)  # type: ignore[return-value]


def hooks_of(service, person: world.Person) -> list[dict]:
    return [h for h in service.sandbox.hooks() if h["user_uuid"] == person.calendly_uuid]


def test_a_webhook_for_a_team_type_the_rep_no_longer_hosts_removes_their_link_for_good(service):
    rep, colleague = two_colleagues(service)
    browser = Browser(service.web)
    browser.sign_in(rep.close_user_id)
    browser.connect("calendly", rep.calendly_uuid)
    wait_for(lambda: hooks_of(service, rep), 20, what="the rep's webhook subscription")
    wait_for(lambda: world.in_step(service.sandbox, rep, savvycal=False), 20, what="the first sync")

    created = service.sandbox.send(
        "POST",
        "/calendly/event_types",
        {
            "users": [rep.email, colleague.email],
            "name": "Team Demo",
            "pooling_type": "round_robin",
        },
    )
    uuid = created["uuid"]
    source_id = f"calendly:{uuid}:{rep.close_user_id}"
    wait_for(
        lambda: source_id in world.ours_in_close(service.sandbox, rep),
        20,
        what="the team type the rep hosts pushed by its webhook",
    )

    # The rep stops hosting it: Calendly tells the old hosts too, so the rep's hook gets an
    # event_type.updated about a type that is now only the colleague's.
    service.sandbox.send("PATCH", f"/calendly/event_types/{uuid}", {"users": [colleague.email]})
    wait_for(
        lambda: source_id not in world.ours_in_close(service.sandbox, rep),
        20,
        what="the rep's link for the team type they no longer host deleted by the webhook",
    )
    assert world.in_step(service.sandbox, rep, savvycal=False)

    # A full sync agrees, so nothing flips back and forth.
    asked = service.admin.resync(rep.close_user_id)
    account = service.admin.wait_resynced(rep.close_user_id, asked["requested_at"])
    last = account["last_sync"]
    assert (last["outcome"], last["created"], last["deleted"]) == ("ok", 0, 0)
    assert world.in_step(service.sandbox, rep, savvycal=False)
