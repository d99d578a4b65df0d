"""A webhook's targeted sync of one Calendly event type pushes a link only for an event type the
rep's own `GET /event_types?user=` listing would show, exactly as a full sync (CONTRACT §4): a team
type they no longer host, or a colleague's type, is the same as a deleted one for them."""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlsplit

import pytest
import responses
from sqlalchemy import select

from tests.conftest import CALENDLY_API, add_account
from tests.sync.fakes import OUR_CLIENT, FakeClose
from worker import runtime
from worker.storage.models import LinkMapping, SyncRun
from worker.sync.full import full_sync
from worker.sync.targeted import sync_event_type

USER = "user_A"
REP_URI = f"{CALENDLY_API}/users/U-{USER}"
COLLEAGUE_URI = f"{CALENDLY_API}/users/U-colleague"
TEAM_OWNER = f"{CALENDLY_API}/organizations/O1"


def event_type(uuid: str, *, owner: str, profile_type: str = "User", **fields) -> dict:
    return {
        "uri": f"{CALENDLY_API}/event_types/{uuid}",
        "name": f"Event {uuid}",
        "active": True,
        "scheduling_url": f"https://calendly.com/acme/{uuid.lower()}",
        "duration": 30,
        "kind": "solo" if profile_type == "User" else "group",
        "pooling_type": None if profile_type == "User" else "round_robin",
        "type": "StandardEventType",
        "description_plain": "",
        "deleted_at": None,
        "profile": {"type": profile_type, "name": "x", "owner": owner},
        **fields,
    }


class Calendly:
    """Every event type of the organization readable by uuid; the rep's listing shows only
    `listed` (their personal types and the team types they host)."""

    def __init__(self, rsps: responses.RequestsMock):
        self.types: dict[str, dict] = {}
        self.listed: set[str] = set()
        rsps.add_callback(responses.GET, f"{CALENDLY_API}/event_types", callback=self._list)
        for uuid in ("MINE", "TEAM", "GONE", "THEIRS"):
            rsps.add_callback(
                responses.GET, f"{CALENDLY_API}/event_types/{uuid}", callback=self._one
            )

    def add(self, et: dict, *, listed: bool) -> None:
        uuid = et["uri"].rsplit("/", 1)[-1]
        self.types[uuid] = et
        if listed:
            self.listed.add(uuid)

    def _list(self, request):
        assert parse_qs(urlsplit(request.url).query)["user"] == [REP_URI]
        page = [self.types[u] for u in sorted(self.listed)]
        pagination = {
            "count": len(page),
            "next_page": None,
            "previous_page": None,
            "next_page_token": None,
            "previous_page_token": None,
        }
        return 200, {}, json.dumps({"collection": page, "pagination": pagination})

    def _one(self, request):
        uuid = urlsplit(request.url).path.rsplit("/", 1)[-1]
        return 200, {}, json.dumps({"resource": self.types[uuid]})


@pytest.fixture
def world(db):
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        account = add_account(USER, savvycal=False)
        yield account, FakeClose(rsps), Calendly(rsps), rsps


def calendly_calls(rsps) -> list[str]:
    return [
        urlsplit(c.request.url).path for c in rsps.calls if c.request.url.startswith(CALENDLY_API)
    ]


def pushed(close: FakeClose) -> set[str]:
    return {link["source_id"] for link in close.of(USER) if link["oauth_client_id"] == OUR_CLIENT}


def mappings() -> set[str]:
    with runtime.session_scope() as session:
        return {m.source_id for m in session.query(LinkMapping)}


def test_the_reps_own_personal_type_is_pushed_with_one_calendly_call(world):
    account, close, calendly, rsps = world
    calendly.add(event_type("MINE", owner=REP_URI), listed=True)

    tally = sync_event_type(account, "MINE")

    assert tally.created == 1
    assert pushed(close) == {f"calendly:MINE:{USER}"}
    assert calendly_calls(rsps) == ["/event_types/MINE"]


def test_a_team_type_the_rep_hosts_is_pushed(world):
    account, close, calendly, rsps = world
    calendly.add(event_type("TEAM", owner=TEAM_OWNER, profile_type="Team"), listed=True)

    sync_event_type(account, "TEAM")

    assert pushed(close) == {f"calendly:TEAM:{USER}"}
    assert calendly_calls(rsps) == ["/event_types/TEAM", "/event_types"]


def test_a_team_type_the_rep_no_longer_hosts_is_not_pushed_and_its_link_is_deleted(world):
    account, close, calendly, rsps = world
    calendly.add(event_type("GONE", owner=TEAM_OWNER, profile_type="Team"), listed=True)
    sync_event_type(account, "GONE")
    assert pushed(close) == {f"calendly:GONE:{USER}"}

    calendly.listed.discard("GONE")  # the rep was removed from its hosts; it still exists
    tally = sync_event_type(account, "GONE")

    assert tally.deleted == 1
    assert pushed(close) == set()
    assert mappings() == set()
    assert close.writes[-1] == ("delete", f"calendly:GONE:{USER}")


def test_a_colleagues_personal_type_is_not_pushed(world):
    account, close, calendly, rsps = world
    calendly.add(event_type("MINE", owner=REP_URI), listed=True)
    calendly.add(event_type("THEIRS", owner=COLLEAGUE_URI), listed=False)

    tally = sync_event_type(account, "THEIRS")

    assert (tally.created, tally.deleted) == (0, 0)
    assert close.writes == []
    assert calendly_calls(rsps) == ["/event_types/THEIRS", "/event_types"]


def test_an_event_type_without_a_profile_is_looked_for_in_the_listing(world):
    account, close, calendly, rsps = world
    calendly.add(event_type("MINE", owner=REP_URI, profile=None), listed=True)
    calendly.add(event_type("THEIRS", owner=COLLEAGUE_URI, profile=None), listed=False)

    sync_event_type(account, "MINE")
    sync_event_type(account, "THEIRS")

    assert pushed(close) == {f"calendly:MINE:{USER}"}


def test_targeted_and_full_sync_agree_so_nothing_flips(world):
    account, close, calendly, rsps = world
    calendly.add(event_type("MINE", owner=REP_URI), listed=True)
    calendly.add(event_type("TEAM", owner=TEAM_OWNER, profile_type="Team"), listed=False)
    calendly.add(event_type("THEIRS", owner=COLLEAGUE_URI), listed=False)
    full_sync(account)
    after_full = pushed(close)

    for uuid in ("MINE", "TEAM", "THEIRS"):
        sync_event_type(account, uuid)
        assert pushed(close) == after_full
    full_sync(account)

    assert pushed(close) == after_full == {f"calendly:MINE:{USER}"}
    assert [w for w in close.writes if w[0] == "delete"] == []


def last_finished_not_synced(account_id: int) -> list[tuple[str, str]]:
    with runtime.session_scope() as session:
        run = session.scalars(
            select(SyncRun)
            .where(SyncRun.account_id == account_id, SyncRun.kind == "full")
            .order_by(SyncRun.id.desc())
        ).first()
        return [(i["name"], i["reason"]) for i in run.not_synced]


def test_a_webhook_about_a_deactivated_event_type_explains_why_it_left_close(world):
    account, close, calendly, _ = world
    calendly.add(event_type("MINE", owner=REP_URI, name="Discovery"), listed=True)
    full_sync(account)
    assert last_finished_not_synced(account) == []

    calendly.types["MINE"]["active"] = False
    sync_event_type(account, "MINE")

    assert pushed(close) == set()
    assert last_finished_not_synced(account) == [("Discovery", "inactive")]

    calendly.types["MINE"]["active"] = True
    sync_event_type(account, "MINE")

    assert pushed(close) == {f"calendly:MINE:{USER}"}
    assert last_finished_not_synced(account) == []
