"""Team links end to end below the task layer: created with a permitted user, each rep mapped
with their own grant after a sync, kept as they are when a listing fails, never re-created."""

from __future__ import annotations

import pytest
import responses
from sqlalchemy import select

from tests.conftest import add_account
from tests.sync.fake_shared_links import FakeSharedLinks
from tests.sync.fakes import FakeCalendly, FakeClose, FakeSavvyCal
from worker import runtime
from worker.storage.models import DISCONNECTED, Connection, TeamLink, TeamLinkMapping
from worker.sync import rep_mappings
from worker.sync.full import full_sync
from worker.sync.team_link_grants import NoPermittedUser
from worker.sync.team_link_lifecycle import (
    NewTeamLink,
    TeamLinkExists,
    create_team_link,
    delete_team_link,
)

INTRO = NewTeamLink("orga_1", "Intro call", calendly_slug="intro-call", savvycal_slug="intro-call")


@pytest.fixture
def world(db, enqueued):
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        close = FakeClose(rsps)
        shared = FakeSharedLinks(rsps, close, admins={"user_admin"})
        yield close, FakeCalendly(rsps), FakeSavvyCal(rsps), shared


def mapping(account_id: int) -> TeamLinkMapping | None:
    with runtime.session_scope() as session:
        row = session.scalars(
            select(TeamLinkMapping).where(TeamLinkMapping.account_id == account_id)
        ).first()
        if row is not None:
            session.expunge(row)
        return row


def team_link_state(team_link_id: int) -> str | None:
    with runtime.session_scope() as session:
        row = session.get(TeamLink, team_link_id)
        return None if row is None else row.state


def close_link_of(close: FakeClose, user: str, name: str) -> str:
    return next(link["id"] for link in close.of(user) if link["name"] == name)


def test_creation_skips_users_close_refuses_and_uses_one_it_allows(world):
    _, _, _, shared = world
    add_account("user_rep")
    admin = add_account("user_admin")

    team_link_id = create_team_link(INTRO)

    assert shared.calls == [("create", "user_rep"), ("create", "user_admin")]
    with runtime.session_scope() as session:
        row = session.get(TeamLink, team_link_id)
        assert (row.state, row.template_tag, row.created_by_account_id) == (
            "active",
            "intro_call",
            admin,
        )
        assert row.close_shared_link_id in shared.shared


def test_creation_with_nobody_permitted_creates_nothing(world):
    _, _, _, shared = world
    add_account("user_rep")

    with pytest.raises(NoPermittedUser):
        create_team_link(INTRO)

    assert shared.shared == {}
    with runtime.session_scope() as session:
        assert session.scalars(select(TeamLink)).all() == []


def test_a_second_team_link_of_the_same_name_is_refused_before_close_is_asked(world):
    _, _, _, shared = world
    add_account("user_admin")
    create_team_link(INTRO)

    with pytest.raises(TeamLinkExists):
        create_team_link(INTRO)
    assert len(shared.shared) == 1


def test_a_sync_maps_the_rep_with_their_own_grant_and_a_second_sync_sends_nothing(world, enqueued):
    close, calendly, _, shared = world
    add_account("user_admin", calendly=False, savvycal=False)
    rep = add_account("user_A")
    create_team_link(INTRO)
    calendly.add("E1", name="Intro", slug="intro-call")

    full_sync(rep)
    assert ("worker.tasks.team_links.map_rep_links", (rep, [], None)) in enqueued
    assert rep_mappings.map_rep(rep) == 1

    assert shared.mapped("user_A") == close_link_of(close, "user_A", "Intro")
    assert shared.calls[-1] == ("map", "user_A")
    assert mapping(rep).state == "mapped"
    calls = len(shared.calls)
    full_sync(rep)
    assert rep_mappings.map_rep(rep) == 0
    assert len(shared.calls) == calls


def test_a_deactivated_event_type_falls_back_to_savvycal_then_unmaps(world):
    close, calendly, savvycal, shared = world
    add_account("user_admin", calendly=False, savvycal=False)
    rep = add_account("user_A")
    create_team_link(INTRO)
    calendly.add("E1", name="Intro", slug="intro-call")
    savvycal.add("S1", name="Chat", slug="intro-call")
    full_sync(rep)
    rep_mappings.map_rep(rep)
    assert shared.mapped("user_A") == close_link_of(close, "user_A", "Intro")

    calendly.event_types["E1"]["active"] = False
    full_sync(rep)
    rep_mappings.map_rep(rep)
    assert shared.mapped("user_A") == close_link_of(close, "user_A", "Chat")

    savvycal.links["S1"]["slug"] = "renamed"
    full_sync(rep)
    rep_mappings.map_rep(rep)
    assert shared.mapped("user_A") is None
    assert mapping(rep).state == "unmatched"


def test_a_failed_calendly_listing_leaves_the_mapping_as_it_is(world, enqueued):
    close, calendly, savvycal, shared = world
    add_account("user_admin", calendly=False, savvycal=False)
    rep = add_account("user_A")
    create_team_link(INTRO)
    calendly.add("E1", name="Intro", slug="intro-call")
    savvycal.add("S1", name="Chat", slug="intro-call")
    full_sync(rep)
    rep_mappings.map_rep(rep)
    before = shared.mapped("user_A")
    enqueued.clear()

    calendly.status = 500
    full_sync(rep)
    (held,) = [args[1] for name, args in enqueued if name.endswith("map_rep_links")]
    assert held == ["calendly"]
    assert rep_mappings.map_rep(rep, held) == 0
    assert shared.mapped("user_A") == before


def test_a_disconnected_provider_is_no_target(world):
    close, calendly, savvycal, shared = world
    add_account("user_admin", calendly=False, savvycal=False)
    rep = add_account("user_A")
    create_team_link(INTRO)
    calendly.add("E1", name="Intro", slug="intro-call")
    savvycal.add("S1", name="Chat", slug="intro-call")
    full_sync(rep)
    rep_mappings.map_rep(rep)

    with runtime.session_scope() as session:
        conn = session.scalars(
            select(Connection).where(
                Connection.account_id == rep, Connection.provider == "calendly"
            )
        ).one()
        conn.state = DISCONNECTED
    rep_mappings.map_rep(rep)

    assert shared.mapped("user_A") == close_link_of(close, "user_A", "Chat")


def test_a_rep_whose_close_grant_is_gone_is_unmapped_by_a_permitted_user(world):
    _, calendly, _, shared = world
    add_account("user_admin", calendly=False, savvycal=False)
    rep = add_account("user_A")
    create_team_link(INTRO)
    calendly.add("E1", name="Intro", slug="intro-call")
    full_sync(rep)
    rep_mappings.map_rep(rep)

    with runtime.session_scope() as session:
        conn = session.scalars(
            select(Connection).where(Connection.account_id == rep, Connection.provider == "close")
        ).one()
        conn.state = "needs_reauth"
    rep_mappings.map_rep(rep)

    assert shared.mapped("user_A") is None
    assert shared.calls[-1] == ("unmap", "user_admin")


def test_a_shared_link_deleted_by_hand_is_reported_and_not_recreated(world):
    _, calendly, _, shared = world
    add_account("user_admin", calendly=False, savvycal=False)
    rep = add_account("user_A")
    team_link_id = create_team_link(INTRO)
    shared.shared.clear()  # deleted in Close by hand
    calendly.add("E1", name="Intro", slug="intro-call")
    full_sync(rep)

    rep_mappings.map_rep(rep)

    assert team_link_state(team_link_id) == "error"
    assert [what for what, _ in shared.calls].count("create") == 1
    assert rep_mappings.map_rep(rep) == 0  # an errored team link is left alone


def test_deleting_unmaps_every_rep_then_deletes_the_shared_link(world):
    _, calendly, _, shared = world
    add_account("user_admin", calendly=False, savvycal=False)
    reps = [add_account("user_A"), add_account("user_B")]
    team_link_id = create_team_link(INTRO)
    for n, rep in enumerate(reps):
        calendly.add(f"E{n}", name=f"Intro {n}", slug="intro-call")
        full_sync(rep)
        rep_mappings.map_rep(rep)
        calendly.event_types.clear()
    assert shared.mapped("user_A") and shared.mapped("user_B")

    assert delete_team_link(team_link_id) is True

    assert shared.shared == {} and shared.mappings == {}
    assert [c for c in shared.calls if c[0] in ("unmap", "delete")] == [
        ("unmap", "user_A"),
        ("unmap", "user_B"),
        ("delete", "user_admin"),
    ]
    assert team_link_state(team_link_id) is None
    assert delete_team_link(team_link_id) is False
