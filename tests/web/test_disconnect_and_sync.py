"""Disconnect and "Sync now" from the connect page: the web request marks and enqueues, the worker
does the rest (CONTRACT §3)."""

from __future__ import annotations

import pytest
import redis
from sqlalchemy import select

from tests.web.flows import csrf, sign_in_as
from worker import runtime
from worker.storage.models import Account, Connection


def connection(provider: str) -> Connection:
    with runtime.session_scope() as session:
        return session.scalars(select(Connection).where(Connection.provider == provider)).one()


@pytest.mark.parametrize("provider", ["calendly", "savvycal"])
def test_disconnect_marks_the_connection_and_enqueues_its_clean_up(client, account, sent, provider):
    sign_in_as(client, account)
    before = connection(provider)

    response = client.post(f"/connections/{provider}/disconnect", data={"csrf_token": csrf(client)})

    assert response.status_code == 303
    assert response.headers["Location"] == "/"
    after = connection(provider)
    assert after.state == "disconnected"
    assert after.access_token == before.access_token  # the clean-up still needs it to revoke
    assert sent == [
        ("worker.tasks.disconnect.disconnect_connection", (before.id, before.connect_count))
    ]
    page = client.get("/").get_data(as_text=True)
    assert "disconnected. Its links are being removed from Close." in page
    assert connection("close").state == "active"


def test_disconnecting_twice_enqueues_one_clean_up(client, account, sent):
    sign_in_as(client, account)
    token = csrf(client)

    client.post("/connections/calendly/disconnect", data={"csrf_token": token})
    client.post("/connections/calendly/disconnect", data={"csrf_token": token})

    assert len(sent) == 1


def test_close_cannot_be_disconnected_from_the_page(client, account, sent):
    sign_in_as(client, account)

    response = client.post("/connections/close/disconnect", data={"csrf_token": csrf(client)})

    assert response.status_code == 404
    assert connection("close").state == "active"
    assert sent == []


def test_disconnect_without_csrf_changes_nothing(client, account, sent):
    sign_in_as(client, account)
    csrf(client)

    assert client.post("/connections/calendly/disconnect").status_code == 400
    assert connection("calendly").state == "active"
    assert sent == []


def test_disconnect_when_the_queue_is_down_says_so(client, account, monkeypatch):
    from worker.tasks.disconnect import disconnect_connection

    def broker_down(*args, **kwargs):
        raise redis.ConnectionError("connection refused")

    monkeypatch.setattr(disconnect_connection, "delay", broker_down)
    sign_in_as(client, account)

    client.post("/connections/calendly/disconnect", data={"csrf_token": csrf(client)})

    assert connection("calendly").state == "disconnected"
    assert "could not be queued yet" in client.get("/").get_data(as_text=True)


def test_sync_now_records_a_trigger_and_enqueues_a_reconcile(client, account, sent):
    sign_in_as(client, account)

    response = client.post("/sync", data={"csrf_token": csrf(client)})

    assert response.status_code == 303
    assert sent == [("worker.tasks.reconcile.reconcile_account", (account,))]
    with runtime.session_scope() as session:
        acc = session.get(Account, account)
        assert acc.sync_requested_seq > acc.sync_taken_seq
    assert "Sync started." in client.get("/").get_data(as_text=True)


def test_sync_now_with_the_queue_down_says_it_will_start_shortly(client, account, monkeypatch):
    from worker.tasks.reconcile import reconcile_account

    def broker_down(*args, **kwargs):
        raise redis.ConnectionError("connection refused")

    monkeypatch.setattr(reconcile_account, "apply_async", broker_down)
    sign_in_as(client, account)

    client.post("/sync", data={"csrf_token": csrf(client)})

    assert "Sync queued; it will start shortly." in client.get("/").get_data(as_text=True)
    with runtime.session_scope() as session:
        acc = session.get(Account, account)
        assert acc.sync_requested_seq > acc.sync_taken_seq  # the sweep will pick it up


def test_sync_now_needs_a_signed_in_browser(client, db, sent):
    with client.session_transaction() as session:
        session["csrf_token"] = "t"

    response = client.post("/sync", data={"csrf_token": "t"})

    assert response.status_code == 303
    assert sent == []
