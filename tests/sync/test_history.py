"""Every write to Close is one change of one run, with what asked for the run (CONTRACT §3
`GET /admin/accounts/{close_user_id}/history`), and the history stays bounded."""

from __future__ import annotations

from datetime import timedelta

import pytest
import responses
from sqlalchemy import func, select

from tests.admin.conftest import ADMIN, add_run
from tests.conftest import add_account
from tests.sync.fakes import FakeCalendly, FakeClose, FakeSavvyCal
from tests.sync.test_migrations import postgres_engine  # noqa: F401 (a fixture)
from worker import runtime
from worker.storage.models import Account, LinkChange, SyncRun, utcnow
from worker.sync import history, triggers
from worker.sync.apply import Tally
from worker.sync.full import full_sync
from worker.sync.runs import finish_run, start_run
from worker.sync.targeted import sync_event_type
from worker.tasks.reconcile import reconcile_account, resync_sweep

USER = "user_A"


@pytest.fixture
def world(db):
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        yield FakeClose(rsps), FakeCalendly(rsps), FakeSavvyCal(rsps)


def history_of(client, user=USER):
    response = client.get(f"/admin/accounts/{user}/history", headers=ADMIN)
    assert response.status_code == 200, response.get_json()
    return response.get_json()["runs"]


def change_rows() -> int:
    with runtime.session_scope() as session:
        return session.scalar(select(func.count()).select_from(LinkChange))


def test_a_rename_by_webhook_is_one_change_with_old_and_new_name(world, client, account):
    close, calendly, _ = world
    calendly.add("E1", name="Discovery Call", duration=30)
    full_sync(account, trigger=triggers.CONNECT)
    calendly.event_types["E1"]["name"] = "Discovery Call (new)"

    sync_event_type(account, "E1")

    runs = history_of(client)
    assert [(r["kind"], r["trigger"], r["outcome"]) for r in runs] == [
        ("event_type", "webhook", "ok"),
        ("full", "connect", "ok"),
    ]
    source_id = f"calendly:E1:{USER}"
    assert runs[0]["changes"] == [
        {
            "provider": "calendly",
            "source_id": source_id,
            "name": "Discovery Call (new)",
            "action": "updated",
            "changed": {"name": ["Discovery Call", "Discovery Call (new)"]},
        }
    ]
    created = runs[1]["changes"]
    assert [(c["action"], c["name"]) for c in created] == [("created", "Discovery Call")]
    assert created[0]["changed"]["name"] == [None, "Discovery Call"]
    assert created[0]["changed"]["duration_in_minutes"] == [None, 30]
    assert set(runs[0]) == {
        "kind", "trigger", "started_at", "finished_at", "outcome", "changes", "error", "warnings",
    }  # fmt: skip
    assert runs[0]["started_at"].endswith("Z") and runs[0]["finished_at"] >= runs[0]["started_at"]
    assert runs[0]["error"] is None and runs[0]["warnings"] == []


def test_a_deletion_names_the_link_and_what_it_held(world, client, account):
    close, calendly, _ = world
    calendly.add("E1", name="Intro")
    full_sync(account)
    del calendly.event_types["E1"]

    full_sync(account)

    change = history_of(client)[0]["changes"][0]
    assert (change["action"], change["name"]) == ("deleted", "Intro")
    assert change["changed"]["name"] == ["Intro", None]


def test_a_run_that_changed_nothing_has_no_changes_and_stores_none(world, client, account):
    _, calendly, savvycal = world
    calendly.add("E1")
    savvycal.add("S1")
    full_sync(account)
    stored = change_rows()

    full_sync(account)
    sync_event_type(account, "E1")

    runs = history_of(client)
    assert [r["changes"] for r in runs[:2]] == [[], []]
    assert change_rows() == stored == 2


def test_the_trigger_that_asked_for_a_full_sync_is_the_runs_trigger(world, client, enqueued):
    account = add_account(USER)
    triggers.request_full_sync(account, trigger=triggers.SYNC_NOW)
    reconcile_account(account)
    with runtime.session_scope() as session:
        found = session.get(Account, account)
        found.sync_failures, found.next_full_sync_at = 1, utcnow() - timedelta(seconds=1)
    resync_sweep()  # due again after a failed run: a retry
    reconcile_account(account)

    assert [r["trigger"] for r in history_of(client)] == ["retry", "sync_now"]


def test_last_sync_is_the_newest_full_run_not_a_webhooks(world, client, account):
    _, calendly, _ = world
    calendly.add("E1")
    full_sync(account)
    sync_event_type(account, "E1")

    last = client.get(f"/admin/accounts/{USER}", headers=ADMIN).get_json()["last_sync"]
    newest_full = history_of(client)[1]
    assert last["started_at"] == newest_full["started_at"]


def test_history_keeps_the_last_50_runs_and_older_changed_runs_for_30_days(db):
    account = add_account(USER)
    now = utcnow()
    old_changed = add_run(account, now - timedelta(days=40), created=1)
    recent_changed = add_run(account, now - timedelta(days=2), updated=1)
    with runtime.session_scope() as session:
        for run_id in (old_changed, recent_changed):
            history.store(
                session,
                run_id,
                [history.Change("calendly", f"calendly:E{run_id}:{USER}", "x", "created")],
                now,
            )
    for n in range(history.KEEP_RUNS + 10):  # no-op runs, newer than both
        add_run(account, now - timedelta(hours=1) + timedelta(seconds=n))

    finish_run(start_run(account, triggers.SCHEDULE), "ok", Tally(), [], None)

    with runtime.session_scope() as session:
        kept = set(session.scalars(select(SyncRun.id).where(SyncRun.account_id == account)))
        changes = set(session.scalars(select(LinkChange.run_id)))
    assert len(kept) == history.KEEP_RUNS + 1  # the newest 50 and the changed one of 2 days ago
    assert recent_changed in kept and old_changed not in kept
    assert changes == {recent_changed}  # the pruned run's changes went with it


def test_history_never_holds_more_than_max_runs(db, monkeypatch):
    monkeypatch.setattr(history, "KEEP_RUNS", 3)
    monkeypatch.setattr(history, "MAX_RUNS", 5)
    account = add_account(USER)
    other = add_account("user_B")
    for n in range(8):
        add_run(account, utcnow() - timedelta(minutes=10 - n), created=1)  # all changed, recent
    add_run(other, utcnow())

    finish_run(start_run(account), "ok", Tally(), [], None)

    with runtime.session_scope() as session:
        assert session.scalar(select(func.count()).where(SyncRun.account_id == account)) == 5
        assert session.scalar(select(func.count()).where(SyncRun.account_id == other)) == 1


def test_recent_changes_are_plain_data_for_the_connect_page(world, account):
    _, calendly, _ = world
    calendly.add("E1", name="Intro")
    full_sync(account, trigger=triggers.CONNECT)
    calendly.event_types["E1"]["duration"] = 45
    sync_event_type(account, "E1")

    changes = history.recent_changes(account)

    assert [(c["name"], c["action"], c["run_kind"], c["trigger"]) for c in changes] == [
        ("Intro", "updated", "event_type", "webhook"),
        ("Intro", "created", "full", "connect"),
    ]
    assert changes[0]["changed"] == {"duration_in_minutes": [30, 45]}
    assert changes[0]["at"].tzinfo is not None and changes[0]["run_finished_at"] is not None


def test_history_of_an_unknown_account_is_404_and_needs_the_admin_token(client, db):
    assert client.get("/admin/accounts/user_nobody/history", headers=ADMIN).status_code == 404
    response = client.get("/admin/accounts/user_nobody/history")
    assert (response.status_code, response.get_json()["error"]) == (401, "unauthorized")


def test_a_disconnects_deletions_are_a_disconnect_run_and_a_retry_adds_none(world, client, account):
    from worker.auth.accounts import mark_disconnected
    from worker.auth.disconnect import delete_links
    from worker.storage.models import Connection

    _, calendly, savvycal = world
    calendly.add("E1", name="Intro")
    savvycal.add("S1", name="Chat")
    full_sync(account)
    mark_disconnected(account, "calendly")

    def calendly_connection():
        with runtime.session_scope() as session:
            conn = session.scalars(
                select(Connection).where(
                    Connection.account_id == account, Connection.provider == "calendly"
                )
            ).one()
            session.expunge(conn)
            return conn

    delete_links(calendly_connection())
    delete_links(calendly_connection())  # a retried clean-up: nothing left, nothing recorded

    runs = history_of(client)
    assert [(r["kind"], r["trigger"]) for r in runs] == [
        ("disconnect", "disconnect"),
        ("full", "schedule"),
    ]
    assert [(c["action"], c["name"], c["provider"]) for c in runs[0]["changes"]] == [
        ("deleted", "Intro", "calendly")
    ]


def test_a_disconnects_deletions_are_in_the_history_as_close_answers_them(
    world, account, monkeypatch
):
    """So a worker that dies half-way through the clean-up loses none of the writes it made."""
    from worker.auth.accounts import mark_disconnected
    from worker.auth.disconnect import delete_links
    from worker.providers.close.client import CloseClient
    from worker.storage.models import Connection

    _, calendly, _ = world
    calendly.add("E1", name="Intro")
    calendly.add("E2", name="Demo")
    full_sync(account)
    mark_disconnected(account, "calendly")
    stored_before_each_delete = []
    delete_link = CloseClient.delete_link

    def watched(client, source_id):
        stored_before_each_delete.append(change_rows())
        return delete_link(client, source_id)

    monkeypatch.setattr(CloseClient, "delete_link", watched)
    with runtime.session_scope() as session:
        conn = session.scalars(
            select(Connection).where(
                Connection.account_id == account, Connection.provider == "calendly"
            )
        ).one()
        session.expunge(conn)

    delete_links(conn)

    assert stored_before_each_delete == [2, 3]  # the two creations, then the first deletion
    assert change_rows() == 4


def test_pruning_works_on_postgresql_too(postgres_engine, settings, fake_redis, monkeypatch):  # noqa: F811
    """The one-DELETE prune (scalar subqueries with OFFSET, ON DELETE CASCADE) on PostgreSQL."""
    from worker.storage import migrate

    url = postgres_engine.url.render_as_string(hide_password=False)
    runtime.configure(settings.with_overrides(database_url=url), redis_client=fake_redis)
    migrate.upgrade(runtime.engine())
    monkeypatch.setattr(history, "KEEP_RUNS", 3)
    try:
        account = add_account(USER)
        old_changed = add_run(account, utcnow() - timedelta(days=40), created=1)
        with runtime.session_scope() as session:
            change = history.Change("calendly", f"calendly:E1:{USER}", "x", "created")
            history.store(session, old_changed, [change], utcnow())
        for n in range(5):
            add_run(account, utcnow() - timedelta(minutes=10 - n))

        finish_run(start_run(account), "ok", Tally(), [], None)

        with runtime.session_scope() as session:
            assert session.scalar(select(func.count()).where(SyncRun.account_id == account)) == 3
            assert session.scalar(select(func.count()).select_from(LinkChange)) == 0
    finally:
        runtime.engine().dispose()


def test_admin_and_a_webhook_that_found_a_sync_running_name_their_runs(
    db_real_redis, settings, real_redis, enqueued
):
    from web import create_app
    from worker.tasks.reconcile import sync_calendly_event_type

    app = create_app(settings, redis_client=real_redis)
    account = add_account(USER, calendly=False, savvycal=False)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        FakeClose(rsps)
        answer = app.test_client().post("/admin/resync", json={"account": USER}, headers=ADMIN)
        assert answer.status_code == 202
        reconcile_account(account)
        lock = triggers.sync_lock(account)
        assert lock.acquire()  # a full sync is running
        try:
            assert sync_calendly_event_type(account, "E1") == "coalesced"
        finally:
            lock.release()
        reconcile_account(account)

        runs = history_of(app.test_client())
    assert [(r["kind"], r["trigger"]) for r in runs] == [("full", "webhook"), ("full", "admin")]


def test_a_webhook_task_retried_by_its_policy_is_a_retry_run(db_real_redis, settings, real_redis):
    from web import create_app
    from worker.tasks.reconcile import sync_calendly_event_type

    app = create_app(settings, redis_client=real_redis)
    account = add_account(USER, savvycal=False)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        _, calendly = FakeClose(rsps), FakeCalendly(rsps)
        calendly.add("E1", name="Intro")
        sync_calendly_event_type.apply(args=(account, "E1"))
        calendly.event_types["E1"]["name"] = "Intro (new)"
        sync_calendly_event_type.apply(args=(account, "E1"), retries=1)

        runs = history_of(app.test_client())
    assert [(r["trigger"], [c["action"] for c in r["changes"]]) for r in runs] == [
        ("retry", ["updated"]),
        ("webhook", ["created"]),
    ]
