"""Each team-link mapping schedsync sends to Close on a rep's behalf is a change of a `team_link`
run in that rep's history (CONTRACT §3, §6), with what asked for it; a mapping Close already has
sends nothing and records nothing."""

from __future__ import annotations

import pytest
import responses
from sqlalchemy import select

from tests.admin.conftest import ADMIN
from tests.conftest import add_account
from tests.sync.fake_shared_links import FakeSharedLinks
from tests.sync.fakes import FakeCalendly, FakeClose, FakeSavvyCal
from worker import runtime
from worker.storage.models import DISCONNECTED, Connection, TeamLink
from worker.sync import rep_mappings, team_link_hooks, triggers
from worker.sync.full import full_sync
from worker.sync.team_link_lifecycle import NewTeamLink, create_team_link, delete_team_link
from worker.tasks.team_links import map_team_link_reps

INTRO = NewTeamLink("orga_1", "Intro call", calendly_slug="intro-call", savvycal_slug="intro-call")
MAP_REP = "worker.tasks.team_links.map_rep_links"


@pytest.fixture
def world(db, enqueued):
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        close = FakeClose(rsps)
        shared = FakeSharedLinks(rsps, close, admins={"user_admin"})
        yield close, FakeCalendly(rsps), FakeSavvyCal(rsps), shared


def history_of(client, user: str) -> list[dict]:
    response = client.get(f"/admin/accounts/{user}/history", headers=ADMIN)
    assert response.status_code == 200, response.get_json()
    return response.get_json()["runs"]


def team_link_runs(client, user: str) -> list[dict]:
    return [run for run in history_of(client, user) if run["kind"] == "team_link"]


def close_link_of(close: FakeClose, user: str, name: str) -> str:
    return next(link["id"] for link in close.of(user) if link["name"] == name)


def shared_link_id(team_link_id: int) -> str:
    with runtime.session_scope() as session:
        return session.get(TeamLink, team_link_id).close_shared_link_id


def map_as_enqueued(enqueued, account_id: int) -> None:
    """Run the mapping task the sync enqueued, with the arguments it was given."""
    (args,) = [args for name, args in enqueued if name == MAP_REP and args[0] == account_id]
    enqueued.clear()
    rep_mappings.map_rep(*args)


def test_a_reps_mapping_remapping_and_unmapping_are_changes_of_team_link_runs(
    world, client, enqueued
):
    close, calendly, savvycal, _ = world
    add_account("user_admin", calendly=False, savvycal=False)
    rep = add_account("user_A")
    shared_id = shared_link_id(create_team_link(INTRO))
    calendly.add("E1", name="Intro", slug="intro-call")
    savvycal.add("S1", name="Chat", slug="intro-call")
    full_sync(rep, trigger=triggers.SCHEDULE)
    map_as_enqueued(enqueued, rep)
    intro, chat = close_link_of(close, "user_A", "Intro"), close_link_of(close, "user_A", "Chat")

    (run,) = team_link_runs(client, "user_A")
    assert (run["trigger"], run["outcome"], run["error"]) == ("schedule", "ok", None)
    assert run["changes"] == [
        {
            "provider": "close",
            "source_id": shared_id,
            "name": "Intro call",
            "action": "created",
            "changed": {"user_scheduling_link_id": [None, intro], "link": [None, "Intro"]},
        }
    ]

    calendly.event_types["E1"]["active"] = False  # falls back to the SavvyCal link
    full_sync(rep, trigger=triggers.SYNC_NOW)
    map_as_enqueued(enqueued, rep)
    savvycal.links["S1"]["slug"] = "renamed"  # no match left
    full_sync(rep, trigger=triggers.SCHEDULE)
    map_as_enqueued(enqueued, rep)

    newest, remapped, _ = team_link_runs(client, "user_A")
    assert (remapped["trigger"], remapped["changes"][0]["action"]) == ("sync_now", "updated")
    assert remapped["changes"][0]["changed"] == {
        "user_scheduling_link_id": [intro, chat],
        "link": ["Intro", "Chat"],
    }
    assert (newest["trigger"], newest["changes"][0]["action"]) == ("schedule", "deleted")
    assert newest["changes"][0]["changed"]["user_scheduling_link_id"] == [chat, None]


def test_a_mapping_close_already_has_records_no_run(world, client, enqueued):
    _, calendly, _, shared = world
    add_account("user_admin", calendly=False, savvycal=False)
    rep = add_account("user_A")
    create_team_link(INTRO)
    calendly.add("E1", name="Intro", slug="intro-call")
    full_sync(rep)
    map_as_enqueued(enqueued, rep)
    calls = len(shared.calls)

    full_sync(rep)
    map_as_enqueued(enqueued, rep)

    assert len(shared.calls) == calls
    assert len(team_link_runs(client, "user_A")) == 1


def test_deleting_a_team_link_records_each_reps_unmap_as_the_operators(world, client, enqueued):
    _, calendly, _, _ = world
    add_account("user_admin", calendly=False, savvycal=False)
    reps = {"user_A": add_account("user_A"), "user_B": add_account("user_B")}
    team_link_id = create_team_link(INTRO)
    shared_id = shared_link_id(team_link_id)
    for n, rep in enumerate(reps.values()):
        calendly.add(f"E{n}", name=f"Intro {n}", slug="intro-call")
        full_sync(rep)
        map_as_enqueued(enqueued, rep)
        calendly.event_types.clear()

    delete_team_link(team_link_id)

    for n, user in enumerate(reps):
        newest = team_link_runs(client, user)[0]
        assert (newest["trigger"], newest["outcome"]) == ("admin", "ok")
        (change,) = newest["changes"]
        assert (change["source_id"], change["name"], change["action"]) == (
            shared_id,
            "Intro call",
            "deleted",
        )
        assert change["changed"]["link"] == [f"Intro {n}", None]
    # The shared link's own creation and deletion are no rep's: none of user_admin's history.
    assert history_of(client, "user_admin") == []


def test_a_new_team_links_mappings_are_the_operators(world, enqueued):
    add_account("user_admin", calendly=False, savvycal=False)
    rep = add_account("user_A")
    team_link_id = create_team_link(INTRO)

    map_team_link_reps(team_link_id)

    assert (MAP_REP, (rep, [], "admin")) in enqueued


def test_a_rep_unmapped_by_a_disconnect_names_the_disconnect(world, client, enqueued):
    _, calendly, _, _ = world
    add_account("user_admin", calendly=False, savvycal=False)
    rep = add_account("user_A")
    create_team_link(INTRO)
    calendly.add("E1", name="Intro", slug="intro-call")
    full_sync(rep)
    map_as_enqueued(enqueued, rep)

    with runtime.session_scope() as session:
        conn = session.scalars(
            select(Connection).where(
                Connection.account_id == rep, Connection.provider == "calendly"
            )
        ).one()
        conn.state = DISCONNECTED
    team_link_hooks.after_disconnect(rep)
    map_as_enqueued(enqueued, rep)

    newest = team_link_runs(client, "user_A")[0]
    assert (newest["kind"], newest["trigger"]) == ("team_link", "disconnect")
    assert newest["changes"][0]["action"] == "deleted"
