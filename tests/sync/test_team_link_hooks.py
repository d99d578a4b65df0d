"""The sync's hand-over to team links: slugs remembered, the rep's mapping task enqueued only
when the organization has team links and something could have changed, and never a failed sync
because of it."""

from __future__ import annotations

import pytest
import responses
from sqlalchemy import select

from tests.sync.fakes import FakeCalendly, FakeClose, FakeSavvyCal
from worker import runtime
from worker.storage.models import LinkMapping, SyncRun, TeamLink
from worker.sync import team_link_hooks
from worker.sync.full import full_sync
from worker.sync.targeted import sync_event_type

MAP_REP = "worker.tasks.team_links.map_rep_links"


@pytest.fixture
def world(db, enqueued):
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        yield FakeClose(rsps), FakeCalendly(rsps), FakeSavvyCal(rsps)


def add_team_link(organization_id: str = "orga_1") -> None:
    with runtime.session_scope() as session:
        session.add(
            TeamLink(
                organization_id=organization_id,
                name="Intro call",
                calendly_slug="intro-call",
                close_shared_link_id="schlnk_shared",
                state="active",
            )
        )


def slugs(account_id: int) -> dict[str, str | None]:
    with runtime.session_scope() as session:
        rows = session.scalars(select(LinkMapping).where(LinkMapping.account_id == account_id))
        return {row.source_id: row.slug for row in rows}


def mapping_tasks(enqueued) -> list[tuple]:
    return [args for name, args in enqueued if name == MAP_REP]


def test_a_full_sync_remembers_each_links_slug(world, account):
    _, calendly, savvycal = world
    calendly.add("E1", slug="intro-call")
    savvycal.add("S1", slug="chat")

    full_sync(account)

    assert slugs(account) == {
        "calendly:E1:user_A": "intro-call",
        "savvycal:S1:user_A": "chat",
    }


def test_without_team_links_a_sync_enqueues_nothing_more(world, account, enqueued):
    world[1].add("E1", slug="intro-call")

    full_sync(account)

    assert mapping_tasks(enqueued) == []


def test_with_a_team_link_of_another_organization_nothing_is_enqueued(world, account, enqueued):
    add_team_link("orga_other")
    world[1].add("E1", slug="intro-call")

    full_sync(account)

    assert mapping_tasks(enqueued) == []


def test_a_targeted_task_that_wrote_a_link_enqueues_the_mapping_with_its_new_slug(
    world, account, enqueued
):
    _, calendly, _ = world
    add_team_link()
    calendly.add("E1", slug="intro-call")
    full_sync(account)
    enqueued.clear()

    calendly.event_types["E1"].update(slug="intro", scheduling_url="https://calendly.com/a/intro")
    sync_event_type(account, "E1")

    assert mapping_tasks(enqueued) == [(account, [], "webhook")]  # the history names the webhook
    assert slugs(account)["calendly:E1:user_A"] == "intro"


def test_a_targeted_task_that_wrote_nothing_enqueues_nothing(world, account, enqueued):
    _, calendly, _ = world
    add_team_link()
    calendly.add("E1", slug="intro-call")
    full_sync(account)
    enqueued.clear()

    sync_event_type(account, "E1")

    assert mapping_tasks(enqueued) == []


def test_a_broken_hand_over_never_fails_the_sync(world, account, monkeypatch):
    add_team_link()
    world[1].add("E1", slug="intro-call")

    def broken(*args, **kwargs):
        raise ConnectionError("broker down")

    monkeypatch.setattr(team_link_hooks, "enqueue_rep", broken)
    full_sync(account)

    with runtime.session_scope() as session:
        assert session.scalars(select(SyncRun.outcome)).all() == ["ok"]
