"""The subscription lifecycle against a stateful fake of Calendly's webhook API: created on
connect (row first), 403 → polling only, a disabled or vanished one re-created before the old one
is deleted, never two live ones, and the hourly check (CONTRACT §3, §5)."""

from __future__ import annotations

import pytest
import requests
from sqlalchemy import select

from tests.conftest import CALENDLY_API, add_account
from tests.webhooks.conftest import add_subscription, calendly_connection_id
from worker import runtime
from worker.calendly import subscriptions
from worker.storage.models import Account, Connection, WebhookSubscription
from worker.tasks.webhooks import check_subscriptions, ensure_subscription

HOOKS_URL = "http://localhost:5000/webhooks/calendly/"


def rows(connection_id: int) -> list[WebhookSubscription]:
    with runtime.session_scope() as session:
        subs = session.scalars(
            select(WebhookSubscription)
            .where(WebhookSubscription.connection_id == connection_id)
            .order_by(WebhookSubscription.id)
        ).all()
        session.expunge_all()
        return list(subs)


def webhook_state(connection_id: int) -> str:
    with runtime.session_scope() as session:
        return session.get(Connection, connection_id).webhook_state


def full_sync_requested(account_id: int) -> bool:
    with runtime.session_scope() as session:
        account = session.get(Account, account_id)
        return account.sync_requested_seq > account.sync_taken_seq


@pytest.fixture
def conn_id(account) -> int:
    return calendly_connection_id(account)


def test_connect_creates_a_user_scoped_subscription_for_the_three_event_type_events(
    conn_id, calendly_hooks, enqueued
):
    assert ensure_subscription.run(conn_id) == "created"

    (row,) = rows(conn_id)
    (sub,) = calendly_hooks.subs.values()
    sent = sub["requested"]
    assert sent["url"] == HOOKS_URL + row.hook_id
    assert sent["events"] == ["event_type.created", "event_type.updated", "event_type.deleted"]
    assert sent["scope"] == "user"
    assert sent["user"] == f"{CALENDLY_API}/users/U-user_A"
    assert sent["organization"] == f"{CALENDLY_API}/organizations/O1"
    assert sent["signing_key"] == row.signing_key and len(row.signing_key) >= 32
    assert row.state == "active" and row.calendly_uri == sub["uri"]
    assert webhook_state(conn_id) == "active"
    assert enqueued == []  # a first subscription lost nothing: no full sync


def test_the_row_is_stored_before_calendly_is_asked_so_an_immediate_delivery_verifies(
    conn_id, calendly_hooks
):
    seen_at_create = []

    def during_create(request):
        seen_at_create.extend((r.hook_id, r.state) for r in rows(conn_id))

    calendly_hooks.on_create = during_create
    ensure_subscription.run(conn_id)
    (row,) = rows(conn_id)
    assert seen_at_create == [(row.hook_id, "pending")]


def test_the_signing_key_is_encrypted_at_rest(conn_id, calendly_hooks):
    ensure_subscription.run(conn_id)
    (row,) = rows(conn_id)
    with runtime.engine().connect() as c:
        stored = c.exec_driver_sql("SELECT signing_key FROM webhook_subscriptions").scalar_one()
    assert row.signing_key not in stored


def test_every_subscription_gets_its_own_hook_id_and_key(db, calendly_hooks):
    a = calendly_connection_id(add_account("user_A"))
    b = calendly_connection_id(add_account("user_B"))
    ensure_subscription.run(a)
    ensure_subscription.run(b)
    (ra,), (rb,) = rows(a), rows(b)
    assert ra.hook_id != rb.hook_id and ra.signing_key != rb.signing_key


def test_a_403_marks_the_connection_polling_only_and_leaves_no_row(conn_id, calendly_hooks):
    calendly_hooks.forbid_create = True
    assert ensure_subscription.run(conn_id) == "polling_only"
    assert webhook_state(conn_id) == "polling_only"
    assert rows(conn_id) == []
    assert calendly_hooks.subs == {}


def test_a_polling_only_connection_gets_its_subscription_once_calendly_allows_it(
    conn_id, calendly_hooks
):
    calendly_hooks.forbid_create = True
    ensure_subscription.run(conn_id)
    calendly_hooks.forbid_create = False
    assert ensure_subscription.run(conn_id) == "created"
    assert webhook_state(conn_id) == "active"


def test_a_healthy_subscription_is_kept_and_nothing_is_created(conn_id, calendly_hooks, enqueued):
    ensure_subscription.run(conn_id)
    calendly_hooks.calls.clear()
    (before,) = rows(conn_id)

    assert ensure_subscription.run(conn_id) == "active"
    (after,) = rows(conn_id)
    assert after.hook_id == before.hook_id and after.checked_at is not None
    assert [c[0] for c in calendly_hooks.calls] == ["get"]
    assert enqueued == []


def test_a_disabled_subscription_is_re_created_new_before_old_and_exactly_one_lives_after(
    account, conn_id, calendly_hooks, enqueued
):
    ensure_subscription.run(conn_id)
    (old_row,) = rows(conn_id)
    (old,) = calendly_hooks.subs.values()
    old["state"] = "disabled"  # 24 h of failed deliveries
    old_uuid = old["uri"].rsplit("/", 1)[-1]
    calendly_hooks.calls.clear()

    assert ensure_subscription.run(conn_id) == "recreated"

    kinds = [c[0] for c in calendly_hooks.calls]
    assert kinds.index("create") < kinds.index("delete")
    assert ("delete", old_uuid) in calendly_hooks.calls
    assert len(calendly_hooks.live()) == 1 and len(calendly_hooks.subs) == 1
    (new_row,) = rows(conn_id)
    assert new_row.id != old_row.id and new_row.hook_id != old_row.hook_id
    assert new_row.state == "active"
    assert calendly_hooks.live()[0]["callback_url"] == HOOKS_URL + new_row.hook_id
    assert webhook_state(conn_id) == "active"
    # Deliveries were lost while it was failing: a full sync is asked for.
    assert full_sync_requested(account)
    assert ("worker.tasks.reconcile.reconcile_account", (account,)) in enqueued


def test_a_subscription_that_disappeared_at_calendly_is_re_created(
    account, conn_id, calendly_hooks, enqueued
):
    ensure_subscription.run(conn_id)
    calendly_hooks.subs.clear()
    assert ensure_subscription.run(conn_id) == "recreated"
    assert len(calendly_hooks.live()) == 1
    assert len(rows(conn_id)) == 1
    assert full_sync_requested(account)


def test_if_the_re_creation_fails_the_old_one_stays_and_the_state_says_disabled(
    conn_id, calendly_hooks, enqueued, monkeypatch
):
    from worker.providers.errors import Unavailable

    ensure_subscription.run(conn_id)
    (old,) = calendly_hooks.subs.values()
    old["state"] = "disabled"

    def calendly_down(request):
        raise requests.ConnectionError("connection reset by peer")

    calendly_hooks.on_create = calendly_down
    with pytest.raises(Unavailable):
        subscriptions.ensure(conn_id)
    assert webhook_state(conn_id) == "disabled"
    assert old["uri"].rsplit("/", 1)[-1] in calendly_hooks.subs  # not deleted before a new one


def test_a_create_whose_answer_was_lost_is_adopted_not_duplicated(conn_id, calendly_hooks):
    # A crash after Calendly created it but before its URI was stored: a pending row remains.
    row = add_subscription(conn_id, state="pending", key="k" * 32)
    remote = calendly_hooks.add(HOOKS_URL + row.hook_id)
    assert ensure_subscription.run(conn_id) == "active"
    (after,) = rows(conn_id)
    assert after.id == row.id and after.calendly_uri == remote["uri"] and after.state == "active"
    assert "create" not in [c[0] for c in calendly_hooks.calls]


def test_a_pending_row_that_never_reached_calendly_is_replaced(conn_id, calendly_hooks):
    stale = add_subscription(conn_id, state="pending")
    assert ensure_subscription.run(conn_id) == "created"
    (row,) = rows(conn_id)
    assert row.id != stale.id and row.state == "active"
    assert len(calendly_hooks.live()) == 1


def test_two_live_subscriptions_are_reduced_to_the_newest(conn_id, calendly_hooks, enqueued):
    first = add_subscription(conn_id)
    second = add_subscription(conn_id)
    for row in (first, second):
        remote = calendly_hooks.add(HOOKS_URL + row.hook_id)
        with runtime.session_scope() as session:
            session.get(WebhookSubscription, row.id).calendly_uri = remote["uri"]
    assert ensure_subscription.run(conn_id) == "active"
    assert [r.id for r in rows(conn_id)] == [second.id]
    assert [s["callback_url"] for s in calendly_hooks.live()] == [HOOKS_URL + second.hook_id]


def test_a_subscription_left_retired_by_a_crash_is_deleted_at_calendly(conn_id, calendly_hooks):
    ensure_subscription.run(conn_id)
    retired = add_subscription(conn_id, state="retired")
    remote = calendly_hooks.add(HOOKS_URL + retired.hook_id)
    with runtime.session_scope() as session:
        session.get(WebhookSubscription, retired.id).calendly_uri = remote["uri"]
    assert ensure_subscription.run(conn_id) == "active"
    assert len(rows(conn_id)) == 1 and len(calendly_hooks.subs) == 1
    assert retired.id not in [r.id for r in rows(conn_id)]


def test_a_subscription_pointing_at_an_old_public_url_is_replaced(
    settings, conn_id, calendly_hooks, enqueued, fake_redis
):
    runtime.configure(
        settings.with_overrides(public_url="https://old.example"), redis_client=fake_redis
    )
    ensure_subscription.run(conn_id)
    runtime.configure(settings, redis_client=fake_redis)
    assert ensure_subscription.run(conn_id) == "recreated"
    (live,) = calendly_hooks.live()
    assert live["callback_url"].startswith(HOOKS_URL)


def test_a_callback_url_calendly_spells_differently_is_not_taken_for_a_move(
    conn_id, calendly_hooks, enqueued
):
    ensure_subscription.run(conn_id)
    (sub,) = calendly_hooks.subs.values()
    sub["callback_url"] = sub["callback_url"].replace("http://localhost", "HTTP://LOCALHOST") + "/"
    calendly_hooks.calls.clear()
    assert ensure_subscription.run(conn_id) == "active"
    assert [c[0] for c in calendly_hooks.calls] == ["get"]


def test_a_disconnect_during_the_create_call_leaves_nothing_at_calendly(conn_id, calendly_hooks):
    def disconnect_meanwhile(request):
        with runtime.session_scope() as session:
            session.query(WebhookSubscription).delete()

    calendly_hooks.on_create = disconnect_meanwhile
    assert subscriptions.ensure(conn_id) == "vanished"
    assert calendly_hooks.subs == {}


def test_a_connection_that_is_not_active_calendly_gets_no_subscription(
    account, conn_id, calendly_hooks
):
    with runtime.session_scope() as session:
        session.get(Connection, conn_id).state = "needs_reauth"
        savvycal = session.query(Connection).filter_by(account_id=account, provider="savvycal")
        savvycal_id = savvycal.one().id
    assert ensure_subscription.run(conn_id) == "not_subscribable"
    assert ensure_subscription.run(savvycal_id) == "not_subscribable"
    assert calendly_hooks.calls == []


def test_while_another_process_looks_after_it_the_task_retries_shortly(conn_id, calendly_hooks):
    from celery.exceptions import Retry

    lock = subscriptions.subscription_lock(conn_id)
    assert lock.acquire()
    try:
        with pytest.raises(Retry):
            ensure_subscription.apply(args=(conn_id,), throw=True)
    finally:
        lock.release()
    assert calendly_hooks.calls == []


def test_the_hourly_check_looks_after_every_active_calendly_connection(db, enqueued):
    a = calendly_connection_id(add_account("user_A"))
    b = calendly_connection_id(add_account("user_B"))
    gone = calendly_connection_id(add_account("user_C"))
    with runtime.session_scope() as session:
        session.get(Connection, gone).state = "disconnected"
    add_account("user_D", calendly=False)

    assert check_subscriptions.run() == 2
    assert enqueued == [
        ("worker.tasks.webhooks.ensure_subscription", (a,)),
        ("worker.tasks.webhooks.ensure_subscription", (b,)),
    ]


def test_disconnect_deletes_every_subscription_row_and_its_calendly_hook(
    account, conn_id, calendly_hooks
):
    from worker.auth.accounts import mark_disconnected
    from worker.storage.models import DISCONNECTED

    ensure_subscription.run(conn_id)
    add_subscription(conn_id, state="pending")  # one whose create never got an answer
    assert mark_disconnected(account, "calendly") is not None
    with runtime.session_scope() as session:
        conn = session.get(Connection, conn_id)
        assert conn.state == DISCONNECTED
        session.expunge(conn)
    subscriptions.delete_all(conn.id, conn.external_user_id, conn.external_org_id)
    assert rows(conn_id) == []
    assert calendly_hooks.subs == {}
