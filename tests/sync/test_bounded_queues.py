"""Bounded queues (CONTRACT §5): however long no worker takes reconciles, the broker holds about
one message per account; token refreshes have a queue of their own; no countdown is longer than
the broker's visibility timeout; and a trigger that arrives while any task holds the account's
lock runs when it ends (issue 9.3, 9.9). A real redis-server is the broker."""

from __future__ import annotations

import base64
import json
from datetime import datetime, timedelta
from types import SimpleNamespace

import pytest
from sqlalchemy import update

from tests.conftest import add_account, make_settings
from worker import queue, runtime
from worker.celery_app import MAX_COUNTDOWN, TOKENS_QUEUE, apply_settings, celery_app
from worker.storage import migrate
from worker.storage.models import Account, Connection, utcnow
from worker.sync import triggers
from worker.tasks import reconcile
from worker.tasks.refresh import refresh_sweep


@pytest.fixture
def broker(tmp_path, redis_server, real_redis):
    """The runtime and Celery on a private redis-server, with no worker consuming it."""
    settings = make_settings(tmp_path, redis_url=redis_server.url)
    runtime.configure(settings, redis_client=real_redis)
    apply_settings(celery_app, settings)
    migrate.upgrade(runtime.engine())
    yield real_redis
    apply_settings(celery_app, make_settings(tmp_path))
    runtime.engine().dispose()


def messages(client, queue_name: str = "celery") -> list[dict]:
    return [json.loads(m) for m in client.lrange(queue_name, 0, -1)]


def age_every_trigger(seconds: float) -> None:
    with runtime.session_scope() as session:
        session.execute(
            update(Account).values(sync_requested_at=utcnow() - timedelta(seconds=seconds))
        )


def test_sweeps_with_no_worker_keep_one_message_per_account(broker):
    accounts = [add_account(f"user_{n}") for n in range(50)]
    for _ in range(10):
        reconcile.resync_sweep()
        age_every_trigger(120)  # a minute and more passes between sweeps; nobody consumed

    queued = messages(broker)
    assert len(queued) <= 2 * len(accounts)
    per_account: dict[int, int] = {}
    for message in queued:
        assert message["headers"]["task"] == queue.RECONCILE_ACCOUNT
        args = json.loads(base64.b64decode(message["body"]))[0]
        per_account[args[0]] = per_account.get(args[0], 0) + 1
    assert set(per_account) == set(accounts)
    assert max(per_account.values()) == 1


def test_a_message_a_worker_took_and_lost_is_enqueued_again_by_the_sweep(broker):
    account = add_account()
    triggers.request_full_sync(account)
    broker.delete("celery")  # a worker received it ...
    reconcile._taken_from_the_broker(
        request=SimpleNamespace(name=queue.RECONCILE_ACCOUNT, args=[account])
    )
    age_every_trigger(120)  # ... and died with it: no run took the trigger up

    assert reconcile.resync_sweep() == 1
    assert len(messages(broker)) == 1


def test_token_refreshes_have_their_own_queue(broker):
    account = add_account()
    with runtime.session_scope() as session:
        session.execute(
            update(Connection)
            .where(Connection.account_id == account)
            .values(token_expires_at=utcnow() + timedelta(seconds=30))
        )
    for n in range(5):
        triggers.request_full_sync(add_account(f"busy_{n}"))  # a backlog of resyncs

    assert refresh_sweep() == 3  # Close, Calendly and SavvyCal grants of the account
    refreshes = messages(broker, TOKENS_QUEUE)
    assert [m["headers"]["task"] for m in refreshes] == [queue.REFRESH_TOKEN] * 3
    assert all(m["headers"]["task"] == queue.RECONCILE_ACCOUNT for m in messages(broker))


def test_no_countdown_is_longer_than_the_visibility_timeout(broker):
    account = add_account()
    before = utcnow()
    triggers.request_full_sync(account, countdown=24 * 3600)  # a day's rate limit

    (message,) = messages(broker)
    eta = datetime.fromisoformat(message["headers"]["eta"])
    assert eta - before <= timedelta(seconds=MAX_COUNTDOWN + 5)
    assert triggers.pending(account)  # the trigger stands until a run takes it up


def test_sync_now_during_a_webhook_task_runs_when_the_task_ends(db, enqueued, monkeypatch):
    account = add_account()

    def webhook_change(account_id, uuid, guard, trigger):
        # "Sync now" is pressed meanwhile: its message finds the lock taken.
        assert triggers.request_full_sync(account_id)
        assert reconcile.reconcile_account(account_id) == "busy"

    monkeypatch.setattr(reconcile, "sync_event_type", webhook_change)
    assert reconcile.sync_calendly_event_type(account, "ETYPE") == "ok"

    assert enqueued.count((queue.RECONCILE_ACCOUNT, (account,))) == 2  # the click, then the run
