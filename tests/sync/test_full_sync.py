"""A full sync against stateful provider fakes: what lands in Close, what is recorded."""

import json

import pytest
import responses
from sqlalchemy import select

from tests.conftest import add_account
from tests.sync.fakes import OUR_CLIENT, FakeCalendly, FakeClose, FakeSavvyCal
from worker import runtime
from worker.providers.errors import RateLimited
from worker.storage.models import Account, LinkMapping, SyncRun
from worker.sync.full import full_sync

USER = "user_A"


@pytest.fixture
def world(db):
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        yield FakeClose(rsps), FakeCalendly(rsps), FakeSavvyCal(rsps), rsps


def last_run(account_id):
    with runtime.session_scope() as session:
        run = session.scalars(
            select(SyncRun).where(SyncRun.account_id == account_id).order_by(SyncRun.id.desc())
        ).first()
        session.expunge(run)
        return run


def requests_made(rsps, method=None):
    return [c.request for c in rsps.calls if method is None or c.request.method == method]


def test_first_sync_pushes_every_link_and_records_ok(world, account):
    close, calendly, savvycal, rsps = world
    calendly.add("E1", name="Intro", duration=15)
    savvycal.add("S1", name="Chat")
    full_sync(account)
    assert sorted(link["name"] for link in close.of(USER)) == ["Chat", "Intro"]
    run = last_run(account)
    assert (run.outcome, run.created, run.updated, run.deleted, run.unchanged, run.failed) == (
        "ok",
        2,
        0,
        0,
        0,
        0,
    )
    with runtime.session_scope() as session:
        assert len(session.scalars(select(LinkMapping)).all()) == 2


def test_noop_sync_makes_zero_writes_to_close(world, account):
    close, calendly, savvycal, rsps = world
    calendly.add("E1")
    savvycal.add("S1")
    full_sync(account)
    rsps.calls.reset()
    close.writes.clear()
    full_sync(account)
    assert close.writes == []
    assert {r.method for r in requests_made(rsps)} == {"GET"}
    assert last_run(account).unchanged == 2


def test_one_renamed_event_type_makes_exactly_one_write(world, account):
    close, calendly, savvycal, _ = world
    for i in range(5):
        calendly.add(f"E{i}")
    full_sync(account)
    close.writes.clear()
    calendly.event_types["E3"]["name"] = "Renamed"
    full_sync(account)
    assert close.writes == [("upsert", f"calendly:E3:{USER}")]


def test_deactivated_event_type_is_deleted_from_close(world, account):
    close, calendly, _, _ = world
    calendly.add("E1")
    full_sync(account)
    calendly.event_types["E1"]["active"] = False
    full_sync(account)
    assert close.of(USER) == []
    assert last_run(account).deleted == 1


def test_hand_edit_in_close_is_repaired_by_the_next_full_sync(world, account):
    close, calendly, _, _ = world
    calendly.add("E1", name="Intro")
    full_sync(account)
    close.of(USER)[0]["name"] = "typo by hand"
    full_sync(account)
    assert close.of(USER)[0]["name"] == "Intro"


def test_native_calendly_link_in_close_is_not_duplicated(world, account):
    close, calendly, _, _ = world
    calendly.add("E1", scheduling_url="https://calendly.com/acme/e1")
    close.add(
        source="CALENDLY",
        user_id=USER,
        url="https://calendly.com/acme/e1",
        name="x",
        source_id="native",
        oauth_client_id=None,
    )
    full_sync(account)
    assert close.writes == []


def test_the_run_records_what_is_not_in_close_and_why(world, account):
    close, calendly, savvycal, _ = world
    calendly.add("E1", name="Mirrored", scheduling_url="https://calendly.com/acme/e1")
    calendly.add("E2", name="Old", active=False)
    calendly.add("E3", name="Synced")
    savvycal.add("S1", name="Paused", state="disabled")
    close.add(
        source="CALENDLY",
        user_id=USER,
        url="https://calendly.com/acme/e1",
        name="x",
        source_id="native",
        oauth_client_id=None,
    )
    full_sync(account)
    reasons = {(item["name"], item["reason"]) for item in last_run(account).not_synced}
    assert reasons == {("Mirrored", "close_native"), ("Old", "inactive"), ("Paused", "disabled")}


def test_a_provider_that_could_not_be_read_keeps_its_not_synced_items(world, account):
    close, calendly, savvycal, rsps = world
    savvycal.add("S1", name="Paused", state="disabled")
    full_sync(account)
    savvycal.status = 503
    full_sync(account)
    run = last_run(account)
    assert run.outcome != "ok"
    assert [item["name"] for item in run.not_synced] == ["Paused"]


def test_the_pushed_duration_is_remembered(world, account):
    close, calendly, _, _ = world
    calendly.add("E1", duration=45)
    full_sync(account)
    with runtime.session_scope() as session:
        assert session.scalars(select(LinkMapping.duration_in_minutes)).all() == [45]


def test_a_failing_provider_leaves_its_links_and_the_other_providers_sync_goes_on(world, account):
    close, calendly, savvycal, _ = world
    calendly.add("E1")
    savvycal.add("S1")
    full_sync(account)
    savvycal.status = 503
    calendly.add("E2")
    full_sync(account)
    names = sorted(link["source_id"] for link in close.of(USER))
    assert names == [f"calendly:E1:{USER}", f"calendly:E2:{USER}", f"savvycal:S1:{USER}"]
    run = last_run(account)
    assert run.outcome == "partial"
    assert "savvycal" in run.error


@pytest.mark.parametrize(
    "body",
    [
        "not json at all",
        json.dumps([1, 2]),
        json.dumps(
            {
                "collection": [{"uri": "x", "name": "no active field"}],
                "pagination": {"next_page_token": None},
            }
        ),
        json.dumps(
            {
                "collection": [{"uri": "x", "active": True, "duration": "thirty"}],
                "pagination": {"next_page_token": None},
            }
        ),
        json.dumps({"collection": []}),
    ],
)
def test_bad_provider_data_is_a_recorded_error_and_never_a_deletion(world, account, body):
    close, calendly, _, _ = world
    calendly.add("E1")
    full_sync(account)
    calendly.raw_body = body
    full_sync(account)
    assert [link["source_id"] for link in close.of(USER)] == [f"calendly:E1:{USER}"]
    run = last_run(account)
    assert run.outcome in ("partial", "error")
    assert "calendly" in run.error


def test_close_unreadable_ends_the_sync_as_error_with_nothing_written(world, account):
    close, calendly, _, rsps = world
    calendly.add("E1")
    rsps.replace(responses.GET, "https://api.close.test/api/v1/scheduling_link/", body="<html>")
    full_sync(account)
    assert close.writes == []
    assert last_run(account).outcome == "error"


def test_close_rejecting_one_upsert_counts_it_failed_and_goes_on(world, account):
    close, calendly, _, _ = world
    calendly.add("E1")
    calendly.add("E2")
    close.fail_next = [400]
    full_sync(account)
    run = last_run(account)
    assert (run.outcome, run.created, run.failed) == ("partial", 1, 1)


def test_close_429_records_the_run_and_raises_with_closes_reset(world, account):
    close, calendly, _, rsps = world
    calendly.add("E1")
    rsps.replace(
        responses.POST,
        "https://api.close.test/api/v1/scheduling_link/integration/",
        status=429,
        headers={"RateLimit": "limit=10, remaining=0, reset=7.5", "Retry-After": "8"},
    )
    with pytest.raises(RateLimited) as info:
        full_sync(account)
    assert info.value.retry_after == 7.5
    assert last_run(account).outcome == "error"


def test_the_oauth_client_id_close_returns_is_remembered(world, db):
    account_id = add_account(our_client_id=None)
    close, calendly, _, _ = world
    calendly.add("E1")
    full_sync(account_id)
    with runtime.session_scope() as session:
        assert session.get(Account, account_id).close_oauth_client_id == OUR_CLIENT


def test_two_close_users_hosting_one_round_robin_each_get_their_own_link(world, db):
    a, b = add_account("user_A"), add_account("user_B")
    close, calendly, _, _ = world
    calendly.add("RR", pooling_type="round_robin", kind="group")
    full_sync(a)
    full_sync(b)
    assert [link["source_id"] for link in close.of("user_A")] == ["calendly:RR:user_A"]
    assert [link["source_id"] for link in close.of("user_B")] == ["calendly:RR:user_B"]
    assert close.of("user_A")[0]["source_type"] == "Calendly · Round Robin"


def test_failed_sync_is_retried_after_60_s_doubling_up_to_the_interval(world, account):
    _, calendly, savvycal, _ = world
    calendly.status = 500
    savvycal.status = 500
    delays = []
    for _ in range(6):
        full_sync(account)
        with runtime.session_scope() as session:
            acc = session.get(Account, account)
            run = last_run(account)
            delays.append((acc.next_full_sync_at - run.started_at).total_seconds())
    assert delays == [60, 120, 240, 480, 900, 900]
