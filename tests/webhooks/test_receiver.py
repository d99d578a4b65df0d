"""POST /webhooks/calendly/{hook_id}: every rejection in the contract's order, a valid delivery,
duplicates, and Redis being unreachable (CONTRACT §3)."""

from __future__ import annotations

import io
import time

import pytest
from sqlalchemy import select

from tests.webhooks.conftest import (
    APP_KEY,
    EVENT_TYPE_UUID,
    SUB_KEY,
    body_of,
    deliver,
    envelope,
    signed_headers,
)
from worker import runtime
from worker.calendly.signatures import sign
from worker.storage.models import Account, Connection, SyncRun, WebhookSubscription

TARGETED = "worker.tasks.reconcile.sync_calendly_event_type"
MIB = 1024 * 1024


def url(hook) -> str:
    return f"/webhooks/calendly/{hook.hook_id}"


def world(fake_redis) -> tuple:
    """Everything a delivery could change: Redis keys, triggers, runs, subscription rows."""
    with runtime.session_scope() as session:
        accounts = session.execute(
            select(Account.id, Account.sync_requested_seq, Account.sync_taken_seq)
        ).all()
        runs = session.scalars(select(SyncRun.id)).all()
        subs = session.execute(select(WebhookSubscription.id, WebhookSubscription.state)).all()
        conns = session.execute(select(Connection.id, Connection.webhook_state)).all()
    # The metrics (a background thread adds every answer's count to Redis) are not state.
    keys = sorted(k for k in fake_redis.keys("*") if not k.startswith(b"metrics:"))
    return keys, accounts, runs, subs, conns


@pytest.fixture
def unchanged(fake_redis, hook):
    """Asserts, after the test, that nothing at all changed."""
    before = world(fake_redis)
    yield
    assert world(fake_redis) == before


def assert_error(response, status: int, code: str) -> None:
    assert response.status_code == status, response.get_data(as_text=True)
    body = response.get_json()
    assert body["error"] == code and body["message"]
    assert SUB_KEY not in response.get_data(as_text=True)


# --- accepted ---------------------------------------------------------------------------------


def test_a_valid_delivery_enqueues_the_reconcile_of_that_one_event_type(
    client, hook, account, queued
):
    response = deliver(client, hook.hook_id, body_of(envelope()))
    assert response.status_code == 200
    assert response.get_json() == {"status": "queued"}
    assert queued() == [(TARGETED, (account, EVENT_TYPE_UUID))]


def test_the_app_level_signing_key_verifies_too(client, hook, account, queued):
    body = body_of(envelope())
    response = deliver(client, hook.hook_id, body, **signed_headers(body, key=APP_KEY))
    assert response.status_code == 200
    assert queued() == [(TARGETED, (account, EVENT_TYPE_UUID))]


def test_without_an_app_level_key_only_the_subscription_key_verifies(
    settings, fake_redis, db, queued
):
    from tests.conftest import add_account
    from tests.webhooks.conftest import add_subscription, calendly_connection_id
    from web import create_app

    app = create_app(
        settings.with_overrides(calendly_webhook_signing_key=""), redis_client=fake_redis
    )
    account_id = add_account()
    sub = add_subscription(calendly_connection_id(account_id))
    body = body_of(envelope())
    with app.test_client() as c:
        assert (
            c.post(url(sub), data=body, headers=signed_headers(body, key=APP_KEY)).status_code
            == 401
        )
        assert c.post(url(sub), data=body, headers=signed_headers(body)).status_code == 200
    assert queued() == [(TARGETED, (account_id, EVENT_TYPE_UUID))]


def test_five_copies_of_one_delivery_enqueue_one_reconcile(client, hook, account, queued):
    body = body_of(envelope())
    answers = [deliver(client, hook.hook_id, body) for _ in range(5)]
    assert [a.status_code for a in answers] == [200] * 5
    assert [a.get_json()["status"] for a in answers] == ["queued"] + ["duplicate"] * 4
    assert queued() == [(TARGETED, (account, EVENT_TYPE_UUID))]


def test_the_duplicate_mark_lives_24_hours(client, hook, fake_redis, queued):
    deliver(client, hook.hook_id, body_of(envelope()))
    (key,) = fake_redis.keys("webhook:calendly:seen:*")
    assert 24 * 3600 - 5 < fake_redis.ttl(key) <= 24 * 3600


def test_the_same_bytes_to_two_hooks_are_two_deliveries(client, hook, account, queued):
    """Two reps behind one Calendly user get the same payload on their own hooks: the second
    account's update must not be dropped as a duplicate of the first."""
    from tests.conftest import add_account
    from tests.webhooks.conftest import add_subscription, calendly_connection_id

    other_account = add_account("user_B")
    other = add_subscription(calendly_connection_id(other_account))
    body = body_of(envelope())
    first = deliver(client, hook.hook_id, body)
    second = deliver(client, other.hook_id, body)
    assert [first.get_json()["status"], second.get_json()["status"]] == ["queued", "queued"]
    assert deliver(client, other.hook_id, body).get_json()["status"] == "duplicate"
    assert queued() == [
        (TARGETED, (account, EVENT_TYPE_UUID)),
        (TARGETED, (other_account, EVENT_TYPE_UUID)),
    ]


def test_a_different_body_for_the_same_event_type_is_a_new_delivery(client, hook, queued):
    deliver(client, hook.hook_id, body_of(envelope()))
    deliver(client, hook.hook_id, body_of(envelope(created_at="2026-11-22T10:00:01Z")))
    assert len(queued()) == 2


@pytest.mark.parametrize(
    "payload",
    [
        {"uri": f"https://api.calendly.com/event_types/{EVENT_TYPE_UUID}"},
        {"event_type": f"https://api.calendly.com/event_types/{EVENT_TYPE_UUID}"},
        {"event_type": {"uri": f"https://api.calendly.com/event_types/{EVENT_TYPE_UUID}/"}},
    ],
    ids=["payload.uri", "payload.event_type", "payload.event_type.uri"],
)
def test_the_event_type_is_found_wherever_the_payload_keeps_its_uri(
    client, hook, account, queued, payload
):
    assert deliver(client, hook.hook_id, body_of(envelope(payload=payload))).status_code == 200
    assert queued() == [(TARGETED, (account, EVENT_TYPE_UUID))]


@pytest.mark.parametrize("event", ["event_type.created", "event_type.deleted"])
def test_created_and_deleted_event_types_are_reconciled_the_same_way(
    client, hook, account, queued, event
):
    assert deliver(client, hook.hook_id, body_of(envelope(event))).status_code == 200
    assert queued() == [(TARGETED, (account, EVENT_TYPE_UUID))]


@pytest.mark.parametrize(
    "payload",
    [
        {"name": "no uri at all"},
        {"uri": "https://api.calendly.com/event_types/../../users/me"},
        {"uri": "https://api.calendly.com/event_types/a%2Fb"},
        {"event_type": {"uri": 42}},
    ],
)
def test_an_event_type_event_without_a_usable_uri_asks_for_a_full_sync(
    client, hook, account, queued, payload
):
    response = deliver(client, hook.hook_id, body_of(envelope(payload=payload)))
    assert response.status_code == 200
    assert queued() == [("worker.tasks.reconcile.reconcile_account", (account,))]
    with runtime.session_scope() as session:
        acc = session.get(Account, account)
        assert acc.sync_requested_seq > acc.sync_taken_seq  # recorded before it was queued


def test_an_event_the_service_did_not_subscribe_to_is_answered_200_and_ignored(
    client, hook, queued, unchanged
):
    response = deliver(client, hook.hook_id, body_of(envelope("invitee.created")))
    assert response.status_code == 200
    assert response.get_json()["status"] == "ignored"
    assert queued() == []


def test_a_delivery_for_a_connection_that_is_not_active_is_answered_200_and_ignored(
    settings, fake_redis, db, queued
):
    from tests.conftest import add_account
    from tests.webhooks.conftest import add_subscription, calendly_connection_id
    from web import create_app

    account_id = add_account()
    conn_id = calendly_connection_id(account_id)
    sub = add_subscription(conn_id)
    with runtime.session_scope() as session:
        session.get(Connection, conn_id).state = "disconnected"
    app = create_app(settings, redis_client=fake_redis)
    response = deliver(app.test_client(), sub.hook_id, body_of(envelope()))
    assert response.status_code == 200
    assert response.get_json()["status"] == "ignored"
    assert queued() == []


def test_a_delivery_to_a_subscription_still_being_created_verifies(client, account, queued):
    from tests.webhooks.conftest import add_subscription, calendly_connection_id

    sub = add_subscription(calendly_connection_id(account), state="pending")
    assert deliver(client, sub.hook_id, body_of(envelope())).status_code == 200
    assert queued() == [(TARGETED, (account, EVENT_TYPE_UUID))]


# --- rejected, in the contract's order --------------------------------------------------------


def test_a_body_over_1_mib_is_413_before_anything_else(client, queued, unchanged):
    body = b"{" + b" " * MIB + b"}"
    # Unknown hook, wrong type, no signature: the size is still what is answered.
    response = client.post(
        "/webhooks/calendly/nope", data=body, headers={"Content-Type": "text/plain"}
    )
    assert_error(response, 413, "payload_too_large")
    assert queued() == []


def test_a_body_of_exactly_1_mib_is_not_too_large(client, hook, account, queued):
    data = envelope()
    data["padding"] = ""
    filler = MIB - len(body_of(data))
    data["padding"] = " " * filler
    body = body_of(data)
    assert len(body) == MIB
    assert deliver(client, hook.hook_id, body).status_code == 200


def test_a_chunked_body_is_cut_off_at_1_mib_while_reading(client, hook, queued, unchanged):
    body = body_of(envelope(padding="x" * (2 * MIB)))
    response = client.post(
        url(hook),
        input_stream=io.BytesIO(body),
        headers={**signed_headers(body), "Transfer-Encoding": "chunked"},
        environ_base={"wsgi.input_terminated": True},
    )
    assert_error(response, 413, "payload_too_large")


@pytest.mark.parametrize("content_type", [None, "text/plain", "application/x-www-form-urlencoded"])
def test_a_body_that_is_not_a_json_content_type_is_415(
    client, hook, queued, unchanged, content_type
):
    body = body_of(envelope())
    headers = signed_headers(body)
    del headers["Content-Type"]
    if content_type:
        headers["Content-Type"] = content_type
    response = client.post(url(hook), data=body, headers=headers)
    assert_error(response, 415, "unsupported_media_type")


def test_a_json_content_type_with_a_charset_is_accepted(client, hook, queued):
    body = body_of(envelope())
    headers = {**signed_headers(body), "Content-Type": "application/json; charset=utf-8"}
    assert client.post(url(hook), data=body, headers=headers).status_code == 200


@pytest.mark.parametrize("hook_id", ["unknown-hook", "x" * 65, "a.b", "%2e%2e"])
def test_an_unknown_hook_is_410_even_with_a_good_signature(client, queued, unchanged, hook_id):
    # 410, not 404: Calendly deletes a subscription whose deliveries are answered 410.
    response = deliver(client, hook_id, body_of(envelope()))
    assert_error(response, 410, "unknown_hook")


def bad_signature_headers(body: bytes) -> dict[str, dict[str, str]]:
    # 190 s, not 181: the request is answered a moment later, on a busy machine maybe a second
    # later (the exact 180/181 s boundary is in test_signatures.py with a fixed clock).
    now = int(time.time())
    good = sign(SUB_KEY, now, body)
    return {
        "missing": {},
        "empty": {"Calendly-Webhook-Signature": ""},
        "malformed": {"Calendly-Webhook-Signature": "garbage"},
        "no v1": {"Calendly-Webhook-Signature": f"t={now}"},
        "no t": {"Calendly-Webhook-Signature": good.split(",", 1)[1]},
        "wrong key": {"Calendly-Webhook-Signature": sign("not-our-key", now, body)},
        "other body": {"Calendly-Webhook-Signature": sign(SUB_KEY, now, body + b" ")},
        "190 s old": {"Calendly-Webhook-Signature": sign(SUB_KEY, now - 190, body)},
        "190 s ahead": {"Calendly-Webhook-Signature": sign(SUB_KEY, now + 190, body)},
        "v1 tampered": {
            "Calendly-Webhook-Signature": good[:-1] + ("0" if good[-1] != "0" else "1")
        },
    }


@pytest.mark.parametrize("case", list(bad_signature_headers(b"")))
def test_a_bad_signature_is_401(client, hook, queued, unchanged, case):
    body = body_of(envelope())
    headers = {"Content-Type": "application/json", **bad_signature_headers(body)[case]}
    response = client.post(url(hook), data=body, headers=headers)
    assert_error(response, 401, "bad_signature")


@pytest.mark.parametrize("body", [b"not json", b"[1,2,3]", b'"text"', b"", b'{"a":'])
def test_a_signed_body_that_is_not_a_json_object_is_400(client, hook, queued, unchanged, body):
    assert_error(deliver(client, hook.hook_id, body), 400, "malformed_json")


def test_the_signature_is_checked_before_the_json(client, hook, queued, unchanged):
    response = client.post(
        url(hook), data=b"not json", headers={"Content-Type": "application/json"}
    )
    assert_error(response, 401, "bad_signature")


def test_the_hook_is_checked_before_the_signature(client, queued, unchanged):
    response = client.post(
        "/webhooks/calendly/unknown", data=b"{}", headers={"Content-Type": "application/json"}
    )
    assert_error(response, 410, "unknown_hook")


def test_the_content_type_is_checked_before_the_hook(client, queued, unchanged):
    response = client.post("/webhooks/calendly/unknown", data=b"{}")
    assert_error(response, 415, "unsupported_media_type")


def test_only_post_is_answered(client, hook):
    response = client.get(url(hook))
    assert response.status_code == 405
    assert response.get_json()["error"] == "method_not_allowed"


# --- Redis unreachable ------------------------------------------------------------------------


def test_while_redis_is_unreachable_the_receiver_answers_503_never_200(
    client, hook, fake_redis_server, queued
):
    fake_redis_server.connected = False
    for _ in range(3):
        response = deliver(client, hook.hook_id, body_of(envelope()))
        assert_error(response, 503, "unavailable")
    fake_redis_server.connected = True
    assert queued() == []


def test_when_redis_comes_back_calendlys_retry_is_taken(
    client, hook, account, fake_redis_server, queued
):
    body = body_of(envelope())
    fake_redis_server.connected = False
    assert deliver(client, hook.hook_id, body).status_code == 503
    fake_redis_server.connected = True
    assert deliver(client, hook.hook_id, body).get_json() == {"status": "queued"}
    assert queued() == [(TARGETED, (account, EVENT_TYPE_UUID))]


def test_when_the_enqueue_fails_the_answer_is_503_and_the_retry_is_not_swallowed(
    client, hook, account, fake_redis, queued
):
    fake_redis.set("celery", "not a list")  # the broker refuses the LPUSH (WRONGTYPE)
    body = body_of(envelope())
    assert_error(deliver(client, hook.hook_id, body), 503, "unavailable")
    assert fake_redis.keys("webhook:calendly:seen:*") == []

    fake_redis.delete("celery")
    assert deliver(client, hook.hook_id, body).get_json() == {"status": "queued"}
    assert queued() == [(TARGETED, (account, EVENT_TYPE_UUID))]


def test_a_database_outage_while_looking_up_the_hook_is_503(client, hook, monkeypatch, queued):
    from sqlalchemy.exc import OperationalError as DatabaseError

    import web.webhooks

    def locked(hook_id):
        raise DatabaseError("SELECT", {}, Exception("database is locked"))

    monkeypatch.setattr(web.webhooks, "load_hook", locked)
    assert_error(deliver(client, hook.hook_id, body_of(envelope())), 503, "unavailable")
    assert queued() == []


def test_a_database_that_cannot_be_reached_is_503_not_410(
    settings, fake_redis, db, tmp_path, queued
):
    """Only a database that answered "no such hook" makes a 410 (which deletes the
    subscription at Calendly); a database that is not there is a 503, and Calendly retries."""
    from web import create_app

    missing = tmp_path / "no-such-dir" / "db.sqlite"
    app = create_app(
        settings.with_overrides(database_url=f"sqlite:///{missing}"), redis_client=fake_redis
    )
    with app.test_client() as c:
        assert_error(deliver(c, "hook-of-nobody", body_of(envelope())), 503, "unavailable")
    assert queued() == []


# --- cost per delivery ------------------------------------------------------------------------


def test_deliveries_to_one_hook_read_the_database_once_and_call_no_provider(
    client, hook, account, queued
):
    import responses
    from sqlalchemy import event

    statements = []

    def count(*args):
        statements.append(args[2])

    engine = runtime.engine()
    event.listen(engine, "before_cursor_execute", count)
    try:
        with responses.RequestsMock() as provider_calls:  # any HTTP call would fail the request
            for i in range(5):
                body = body_of(envelope(created_at=f"2026-11-22T10:00:0{i}Z"))
                assert deliver(client, hook.hook_id, body).status_code == 200
            assert len(provider_calls.calls) == 0
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert len(statements) == 1 and "webhook_subscriptions" in statements[0]
    assert len(queued()) == 5
