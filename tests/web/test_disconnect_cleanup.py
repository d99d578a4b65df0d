"""The worker's clean-up after a disconnect (CONTRACT §3), against mocked providers: the Calendly
webhook subscription first, then this provider's links in Close, then the tokens."""

from __future__ import annotations

from urllib.parse import quote

import pytest
from sqlalchemy import select

from tests.conftest import CALENDLY_API, CALENDLY_AUTH, CLOSE_API
from tests.web.flows import form
from worker import runtime
from worker.auth.accounts import mark_disconnected, store_connection
from worker.storage.models import Connection, LinkMapping, WebhookSubscription
from worker.tasks.disconnect import disconnect_connection

LINKS_URL = f"{CLOSE_API}/scheduling_link/"
REVOKE_URL = f"{CALENDLY_AUTH}/oauth/revoke"
WEBHOOK_URL = f"{CALENDLY_API}/webhook_subscriptions/WH1"


def close_link(source_id: str | None, *, source="THIRD_PARTY", user="user_A", client="ours"):
    return {
        "id": f"schlnk_{abs(hash((source_id, user))) % 10**8}",
        "name": "x",
        "url": "https://example.test/x",
        "source": source,
        "source_id": source_id,
        "oauth_client_id": "oa2client_ours" if client == "ours" else client,
        "user_id": user,
        "organization_id": "orga_1",
        "type": "USER",
    }


def delete_url(source_id: str) -> str:
    return f"{CLOSE_API}/scheduling_link/integration/{quote(source_id, safe='')}/"


@pytest.fixture
def calendly_disconnected(account):
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
        for sid in ("calendly:ET1:user_A", "savvycal:L1:user_A"):
            session.add(LinkMapping(account_id=account, provider=sid.split(":")[0], source_id=sid))
    return mark_disconnected(account, "calendly")


def test_calendly_clean_up_deletes_webhook_then_its_links_then_revokes_tokens(
    calendly_disconnected, mocked
):
    mocked.delete(WEBHOOK_URL, status=204)
    mocked.get(
        LINKS_URL,
        json={
            "data": [
                close_link("calendly:ET1:user_A"),
                close_link("calendly:ET2:user_A"),  # ours by client id, not in the mappings
                close_link("savvycal:L1:user_A"),  # another provider: stays
                close_link(None, source="MANUAL", client=None),
                close_link("calendly:ET9:user_B", user="user_B"),  # another user's
                close_link("calendly:ET3:user_A", client="oa2client_someone_else"),
            ],
            "has_more": False,
        },
    )
    mocked.delete(delete_url("calendly:ET1:user_A"), status=204)
    mocked.delete(delete_url("calendly:ET2:user_A"), status=404)  # already gone is fine
    mocked.post(REVOKE_URL, status=200, json={})

    result = disconnect_connection(
        calendly_disconnected.connection_id, calendly_disconnected.connect_count
    )

    assert result == "ok"
    calls = [(c.request.method, c.request.url.split("?")[0]) for c in mocked.calls]
    assert calls == [
        ("DELETE", WEBHOOK_URL),
        ("GET", LINKS_URL),
        ("DELETE", delete_url("calendly:ET1:user_A")),
        ("DELETE", delete_url("calendly:ET2:user_A")),
        ("POST", REVOKE_URL),
        ("POST", REVOKE_URL),
    ]
    assert mocked.calls[0].request.headers["Authorization"] == "Bearer cal-at-user_A"
    assert mocked.calls[2].request.headers["Authorization"] == "Bearer close-at-user_A"
    revoked = [form(c.request) for c in mocked.calls[4:]]
    assert [r["token"] for r in revoked] == ["cal-rt-user_A", "cal-at-user_A"]
    assert all(
        r["client_id"] == "calendly-client-id"
        and r["client_secret"] == "calendly-client-secret-value"
        for r in revoked
    )
    with runtime.session_scope() as session:
        conn = session.get(Connection, calendly_disconnected.connection_id)
        assert (conn.state, conn.access_token, conn.refresh_token) == ("disconnected", None, None)
        assert session.scalars(select(WebhookSubscription)).all() == []
        assert set(session.scalars(select(LinkMapping.source_id))) == {"savvycal:L1:user_A"}


def test_savvycal_clean_up_erases_its_tokens_without_a_revoke_call(account, mocked):
    marked = mark_disconnected(account, "savvycal")
    mocked.get(LINKS_URL, json={"data": [close_link("savvycal:L1:user_A")], "has_more": False})
    mocked.delete(delete_url("savvycal:L1:user_A"), status=204)

    assert disconnect_connection(marked.connection_id, marked.connect_count) == "ok"

    assert [c.request.method for c in mocked.calls] == ["GET", "DELETE"]
    with runtime.session_scope() as session:
        conn = session.get(Connection, marked.connection_id)
        assert (conn.access_token, conn.refresh_token) == (None, None)


def test_a_clean_up_overtaken_by_a_reconnect_touches_nothing(calendly_disconnected, mocked):
    store_connection(calendly_disconnected.account_id, "calendly", personal_token="new-grant")

    result = disconnect_connection(
        calendly_disconnected.connection_id, calendly_disconnected.connect_count
    )

    assert result == "superseded"
    assert len(mocked.calls) == 0
    with runtime.session_scope() as session:
        conn = session.get(Connection, calendly_disconnected.connection_id)
        assert (conn.state, conn.access_token) == ("active", "new-grant")


def test_a_close_outage_keeps_the_tokens_for_the_retry(calendly_disconnected, mocked):
    mocked.delete(WEBHOOK_URL, status=404)  # already gone at Calendly
    mocked.get(LINKS_URL, status=503)

    result = disconnect_connection(
        calendly_disconnected.connection_id, calendly_disconnected.connect_count
    )

    assert result == "retry_scheduled"  # recorded for the sweep (tests/web/test_durable_cleanup.py)

    assert not [c for c in mocked.calls if c.request.url == REVOKE_URL]
    with runtime.session_scope() as session:
        conn = session.get(Connection, calendly_disconnected.connection_id)
        assert (conn.access_token, conn.refresh_token) == ("cal-at-user_A", "cal-rt-user_A")


def test_a_dead_calendly_grant_does_not_stop_the_clean_up(calendly_disconnected, mocked):
    from tests.tokens.conftest import expire_in

    expire_in(calendly_disconnected.connection_id, -30)
    mocked.post(f"{CALENDLY_AUTH}/oauth/token", status=400, json={"error": "invalid_grant"})
    mocked.get(LINKS_URL, json={"data": [close_link("calendly:ET1:user_A")], "has_more": False})
    mocked.delete(delete_url("calendly:ET1:user_A"), status=204)
    mocked.post(REVOKE_URL, status=400, json={"error": "invalid_request"})

    result = disconnect_connection(
        calendly_disconnected.connection_id, calendly_disconnected.connect_count
    )

    assert result == "ok"
    methods = [(c.request.method, c.request.url.split("?")[0]) for c in mocked.calls]
    assert methods[:3] == [
        ("POST", f"{CALENDLY_AUTH}/oauth/token"),
        ("GET", LINKS_URL),
        ("DELETE", delete_url("calendly:ET1:user_A")),
    ]
    with runtime.session_scope() as session:
        conn = session.get(Connection, calendly_disconnected.connection_id)
        assert (conn.state, conn.access_token, conn.refresh_token) == ("disconnected", None, None)
        assert session.scalars(select(WebhookSubscription)).all() == []


def test_a_subscription_whose_create_answer_was_lost_is_found_by_its_url_and_deleted(
    calendly_disconnected, mocked
):
    with runtime.session_scope() as session:
        session.query(WebhookSubscription).update({"calendly_uri": None, "state": "pending"})
    listing = f"{CALENDLY_API}/webhook_subscriptions"
    mocked.get(
        listing,
        json={
            "collection": [
                {
                    "uri": WEBHOOK_URL,
                    "callback_url": "http://localhost:5000/webhooks/calendly/hook-1",
                    "state": "active",
                    "events": [],
                }
            ],
            "pagination": {"next_page_token": None},
        },
    )
    mocked.delete(WEBHOOK_URL, status=204)
    mocked.get(LINKS_URL, json={"data": [], "has_more": False})
    mocked.delete(delete_url("calendly:ET1:user_A"), status=404)
    mocked.post(REVOKE_URL, status=200, json={})

    disconnect_connection(calendly_disconnected.connection_id, calendly_disconnected.connect_count)

    assert [c.request.method for c in mocked.calls][:2] == ["GET", "DELETE"]
    assert mocked.calls[1].request.url == WEBHOOK_URL
    with runtime.session_scope() as session:
        assert session.scalars(select(WebhookSubscription)).all() == []


def test_clean_up_waits_for_a_subscription_being_created(calendly_disconnected, mocked):
    from worker.calendly import subscriptions

    held = subscriptions.subscription_lock(calendly_disconnected.connection_id)
    assert held.acquire()
    try:
        subscriptions.LOCK_TTL, saved = 0.2, subscriptions.LOCK_TTL
        with pytest.raises(subscriptions.Busy):
            from worker.auth.disconnect import clean_up

            clean_up(calendly_disconnected.connection_id, calendly_disconnected.connect_count)
    finally:
        subscriptions.LOCK_TTL = saved
        held.release()
    assert len(mocked.calls) == 0


def test_clean_up_waits_for_a_running_sync_of_the_account(
    calendly_disconnected, mocked, monkeypatch
):
    # A sync that read the connection as active holds the account's lock: deleting the links
    # now would let it push them again, so the clean-up waits, then is retried (issue 9.8).
    from worker.auth.disconnect import clean_up
    from worker.sync import triggers

    mocked.delete(WEBHOOK_URL, status=404)
    monkeypatch.setattr(triggers, "SYNC_LOCK_TTL", 0.3)
    running = triggers.sync_lock(calendly_disconnected.account_id)
    assert running.acquire()
    try:
        with pytest.raises(triggers.SyncBusy):
            clean_up(calendly_disconnected.connection_id, calendly_disconnected.connect_count)
    finally:
        running.release()
    assert not [c for c in mocked.calls if c.request.url.startswith(LINKS_URL)]
    assert not [c for c in mocked.calls if c.request.url == REVOKE_URL]
