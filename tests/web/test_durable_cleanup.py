"""A disconnect's clean-up is recorded before it is enqueued and retried by the sweep until it is
done (CONTRACT §5 "Durable clean-up"): a broker outage at the click, a dead Close grant, ten
failures in a row, and Disconnect pressed again. No broker: sends are recorded (the Redis marker
that says "a message is waiting" lives in fakeredis)."""

from __future__ import annotations

from datetime import timedelta

import pytest
import redis
import responses
from celery.app.task import Task
from sqlalchemy import select, update

from tests.conftest import CALENDLY_API, CALENDLY_AUTH, CLOSE_API, add_account
from tests.sync.fakes import FakeClose
from tests.web.flows import csrf, form, sign_in_as
from tests.web.test_disconnect_cleanup import close_link, delete_url
from worker import runtime
from worker.auth import cleanups
from worker.auth.accounts import mark_disconnected, store_close_account, store_connection
from worker.providers.oauth import TokenGrant
from worker.storage.models import Connection, LinkMapping, WebhookSubscription, utcnow
from worker.sync.full import full_sync
from worker.tasks.disconnect import cleanup_sweep, disconnect_connection

DISCONNECT = "worker.tasks.disconnect.disconnect_connection"
LINKS_URL = f"{CLOSE_API}/scheduling_link/"
REVOKE_URL = f"{CALENDLY_AUTH}/oauth/revoke"
WEBHOOK_URL = f"{CALENDLY_API}/webhook_subscriptions/WH1"
SOURCE_ID = "calendly:ET1:user_A"


class Broker:
    """Task sends recorded as (name, args) while `up`; refused like a dead Redis while not."""

    def __init__(self) -> None:
        self.up = True
        self.sent: list[tuple[str, tuple]] = []


@pytest.fixture
def broker(monkeypatch):
    from worker.celery_app import celery_app

    fake = Broker()

    def apply_async(self, args=None, kwargs=None, **options):
        if not fake.up:
            raise redis.ConnectionError("connection refused")
        fake.sent.append((self.name, tuple(args or ())))

    monkeypatch.setattr(Task, "apply_async", apply_async)
    monkeypatch.setattr(celery_app, "send_task", lambda *a, **k: pytest.fail("sent by name"))
    return fake


@pytest.fixture
def mocked():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        yield rsps


def calendly_row() -> Connection:
    with runtime.session_scope() as session:
        conn = session.scalars(select(Connection).where(Connection.provider == "calendly")).one()
        session.expunge(conn)
        return conn


def with_subscription_and_link(account_id: int) -> None:
    with runtime.session_scope() as session:
        conn = session.scalars(select(Connection).where(Connection.provider == "calendly")).one()
        session.add(
            WebhookSubscription(
                connection_id=conn.id,
                hook_id="hook-1",
                calendly_uri=WEBHOOK_URL,
                signing_key="subscription-signing-key",
                state="active",
            )
        )
        session.add(LinkMapping(account_id=account_id, provider="calendly", source_id=SOURCE_ID))


def time_passes_until_due(connection_id: int) -> None:
    with runtime.session_scope() as session:
        session.execute(
            update(Connection)
            .where(Connection.id == connection_id)
            .values(cleanup_next_at=utcnow() - timedelta(seconds=1))
        )


def close_is_down(mocked) -> None:
    mocked.upsert(responses.DELETE, WEBHOOK_URL, status=404)
    mocked.upsert(responses.GET, LINKS_URL, status=503)


def everything_answers(mocked) -> None:
    mocked.upsert(responses.DELETE, WEBHOOK_URL, status=204)
    mocked.upsert(
        responses.GET, LINKS_URL, json={"data": [close_link(SOURCE_ID)], "has_more": False}
    )
    mocked.add(responses.DELETE, delete_url(SOURCE_ID), status=204)
    mocked.add(responses.POST, REVOKE_URL, status=200, json={})


def assert_done(connection_id: int) -> None:
    with runtime.session_scope() as session:
        conn = session.get(Connection, connection_id)
        assert (conn.state, conn.access_token, conn.refresh_token) == ("disconnected", None, None)
        assert (conn.cleanup_next_at, conn.cleanup_attempts) == (None, 0)
        assert session.scalars(select(WebhookSubscription)).all() == []


def test_a_broker_outage_at_the_click_is_enqueued_by_the_sweep_and_completes(
    client, account, broker, mocked
):
    with_subscription_and_link(account)
    sign_in_as(client, account)
    broker.up = False

    client.post("/connections/calendly/disconnect", data={"csrf_token": csrf(client)})

    assert "could not be queued yet" in client.get("/").get_data(as_text=True)
    row = calendly_row()
    assert row.state == "disconnected" and row.refresh_token == "cal-rt-user_A"
    assert row.cleanup_next_at is not None  # recorded before the send was tried
    assert cleanup_sweep() == 0  # still down: nothing sent, nothing lost
    assert broker.sent == []

    broker.up = True
    assert cleanup_sweep() == 1
    assert cleanup_sweep() == 0  # its message is waiting: never a second one
    assert broker.sent == [(DISCONNECT, (row.id, row.connect_count))]

    everything_answers(mocked)
    assert disconnect_connection(row.id, row.connect_count) == "ok"

    assert_done(row.id)
    assert [c.request.url for c in mocked.calls if c.request.method == "POST"] == [REVOKE_URL] * 2
    assert cleanup_sweep() == 0
    assert len(broker.sent) == 1


def test_a_needs_reauth_close_grant_does_not_stop_the_unsubscribe_or_the_revoke(
    db, broker, mocked, caplog
):
    account = add_account(savvycal=False)
    with_subscription_and_link(account)
    with runtime.session_scope() as session:
        session.execute(
            update(Connection).where(Connection.provider == "close").values(state="needs_reauth")
        )
    marked = mark_disconnected(account, "calendly")
    mocked.add(responses.DELETE, WEBHOOK_URL, status=204)
    mocked.add(responses.POST, REVOKE_URL, status=200, json={})

    assert disconnect_connection(marked.connection_id, marked.connect_count) == "ok"

    calls = [(c.request.method, c.request.url) for c in mocked.calls]
    assert calls == [("DELETE", WEBHOOK_URL), ("POST", REVOKE_URL), ("POST", REVOKE_URL)]
    assert [form(c.request)["token"] for c in mocked.calls[1:]] == [
        "cal-rt-user_A",
        "cal-at-user_A",
    ]
    assert_done(marked.connection_id)
    assert "links stay in Close until the account's next full sync" in caplog.text

    # The rep signs in with Close again: the next full sync removes the links left behind.
    mocked.reset()
    close = FakeClose(mocked)
    close.add(
        source="THIRD_PARTY",
        source_id=SOURCE_ID,
        oauth_client_id="oa2client_ours",
        user_id="user_A",
        name="x",
        url="https://example.test/x",
    )
    store_close_account(
        close_user_id="user_A",
        organization_id="orga_1",
        email="user_A@example.com",
        grant=TokenGrant("close-at-user_A", "close-rt-new", utcnow() + timedelta(hours=1), {}),
    )
    full_sync(account)

    assert close.writes == [("delete", SOURCE_ID)]
    assert close.of("user_A") == []
    with runtime.session_scope() as session:
        assert session.scalars(select(LinkMapping)).all() == []


def test_ten_failures_then_success_through_the_sweep_with_a_capped_backoff(account, broker, mocked):
    with_subscription_and_link(account)
    marked = mark_disconnected(account, "calendly")
    close_is_down(mocked)
    delays = []

    for failure in range(1, 11):
        assert cleanup_sweep() == 1
        assert cleanup_sweep() == 0  # one message at a time
        result = disconnect_connection(marked.connection_id, marked.connect_count)
        assert result == "retry_scheduled"
        row = calendly_row()
        assert row.cleanup_attempts == failure
        assert row.refresh_token == "cal-rt-user_A"  # kept for the revoke
        delays.append(round((row.cleanup_next_at - utcnow()).total_seconds() / 60))
        assert cleanup_sweep() == 0  # not due yet
        time_passes_until_due(marked.connection_id)

    assert delays == [1, 2, 4, 8, 16, 32, 60, 60, 60, 60]  # minutes, capped at an hour
    everything_answers(mocked)
    assert cleanup_sweep() == 1
    assert disconnect_connection(marked.connection_id, marked.connect_count) == "ok"

    assert_done(marked.connection_id)
    assert cleanup_sweep() == 0
    assert len(broker.sent) == 11
    assert {name for name, _ in broker.sent} == {DISCONNECT}


def test_disconnect_pressed_again_retries_a_pending_clean_up_now(client, account, broker, mocked):
    with_subscription_and_link(account)
    sign_in_as(client, account)
    token = csrf(client)
    client.post("/connections/calendly/disconnect", data={"csrf_token": token})
    row = calendly_row()
    close_is_down(mocked)
    assert disconnect_connection(row.id, row.connect_count) == "retry_scheduled"
    assert calendly_row().cleanup_next_at > utcnow()

    client.post("/connections/calendly/disconnect", data={"csrf_token": token})

    page = client.get("/").get_data(as_text=True)
    assert "had not finished. Retrying it now." in page
    assert broker.sent == [(DISCONNECT, (row.id, row.connect_count))] * 2
    again = calendly_row()
    assert again.cleanup_next_at <= utcnow() and again.cleanup_attempts == 0

    everything_answers(mocked)
    assert disconnect_connection(row.id, row.connect_count) == "ok"
    client.post("/connections/calendly/disconnect", data={"csrf_token": token})
    assert "Calendly was not connected." in client.get("/").get_data(as_text=True)
    assert len(broker.sent) == 2


def test_disconnect_pressed_again_with_the_broker_down_says_it_is_retried_automatically(
    client, account, broker
):
    sign_in_as(client, account)
    token = csrf(client)
    broker.up = False
    client.post("/connections/calendly/disconnect", data={"csrf_token": token})
    client.get("/")

    client.post("/connections/calendly/disconnect", data={"csrf_token": token})

    page = client.get("/").get_data(as_text=True)
    assert "its clean-up has not finished and could not be queued yet" in page
    assert calendly_row().cleanup_next_at is not None


def test_a_reconnect_ends_the_pending_clean_up_and_its_message_touches_nothing(
    account, broker, mocked
):
    marked = mark_disconnected(account, "calendly")
    assert cleanup_sweep() == 1
    store_connection(account, "calendly", personal_token="new-grant")

    assert calendly_row().cleanup_next_at is None
    assert cleanup_sweep() == 0
    assert disconnect_connection(marked.connection_id, marked.connect_count) == "superseded"

    assert len(mocked.calls) == 0
    row = calendly_row()
    assert (row.state, row.access_token, row.cleanup_next_at) == ("active", "new-grant", None)
    assert len(broker.sent) == 1


def test_the_broker_losing_its_messages_loses_the_markers_too_so_the_sweep_sends_again(
    account, broker, fake_redis
):
    marked = mark_disconnected(account, "calendly")
    assert cleanup_sweep() == 1
    fake_redis.flushall()  # a Redis restart without persistence: message and marker gone

    assert cleanup_sweep() == 1
    assert broker.sent == [(DISCONNECT, (marked.connection_id, marked.connect_count))] * 2


def test_the_retry_delay_doubles_from_a_minute_to_an_hour_and_honours_retry_after():
    assert [cleanups.retry_delay(n) for n in (1, 2, 3, 7, 50)] == [60, 120, 240, 3600, 3600]
    assert cleanups.retry_delay(1, retry_after=300) == 300


def test_the_page_offers_disconnect_again_while_a_clean_up_is_pending(
    client, account, broker, mocked
):
    sign_in_as(client, account)
    client.post("/connections/calendly/disconnect", data={"csrf_token": csrf(client)})
    row = calendly_row()
    close_is_down(mocked)
    disconnect_connection(row.id, row.connect_count)

    page = client.get("/").get_data(as_text=True)
    assert "has not finished yet; it is retried automatically" in page
    assert 'href="/connections/calendly/disconnect"' in page

    everything_answers(mocked)
    disconnect_connection(row.id, row.connect_count)
    page = client.get("/").get_data(as_text=True)
    assert "has not finished yet" not in page
    assert 'href="/connections/calendly/disconnect"' not in page
    assert 'href="/connections/savvycal/disconnect"' in page  # still connected
