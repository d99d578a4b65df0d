"""What the connect page shows (CONTRACT §3 `GET /`): per provider its state and actions, its links
and their sync state, the last sync and its warnings, and a CSRF field in every form."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from sqlalchemy import select

from tests.conftest import add_account
from tests.web.flows import sign_in_as
from worker import runtime
from worker.storage.models import Connection, LinkMapping, SyncRun


def set_connection(account_id: int, provider: str, **values) -> None:
    with runtime.session_scope() as session:
        conn = session.scalars(
            select(Connection).where(
                Connection.account_id == account_id, Connection.provider == provider
            )
        ).one()
        for name, value in values.items():
            setattr(conn, name, value)


def add_link(account_id: int, provider: str, name: str, url: str, pushed: bool = True) -> None:
    with runtime.session_scope() as session:
        session.add(
            LinkMapping(
                account_id=account_id,
                provider=provider,
                source_id=f"{provider}:{name}:user_A",
                name=name,
                url=url,
                pushed_at=datetime(2026, 11, 22, 9, 30, tzinfo=UTC) if pushed else None,
            )
        )


def card(page: str, provider: str) -> str:
    match = re.search(rf'<section class="card provider" id="{provider}".*?</section>', page, re.S)
    assert match, f"no {provider} card"
    return match.group(0)


def page_of(client, account_id: int) -> str:
    sign_in_as(client, account_id)
    response = client.get("/")
    assert response.status_code == 200
    return " ".join(response.get_data(as_text=True).split())  # as a reader sees the text


def test_a_browser_that_is_not_signed_in_is_offered_close_sign_in(client, db):
    page = client.get("/").get_data(as_text=True)

    assert 'href="/oauth/close/start"' in page
    assert "Sign in with Close" in page
    assert "Sync now" not in page


def test_active_connections_offer_disconnect_and_list_their_links(client, account):
    add_link(account, "calendly", "Intro call", "https://calendly.com/rep/intro")
    add_link(account, "savvycal", "Demo", "https://savvycal.com/rep/demo", pushed=False)

    page = page_of(client, account)

    calendly = card(page, "calendly")
    assert "Connected" in calendly
    assert "Disconnect Calendly" in calendly
    assert "Connect Calendly" not in calendly
    assert "Intro call" in calendly
    assert '<a href="https://calendly.com/rep/intro">' in calendly
    # An old time is shown as its date; the exact time is on the element.
    assert (
        'synced <time datetime="2026-11-22T09:30:00.000Z" title="2026-11-22 09:30:00 UTC">'
        "2026-11-22 09:30 UTC</time>"
    ) in calendly
    savvycal = card(page, "savvycal")
    assert "Demo" in savvycal and "not pushed yet" in savvycal
    assert "Intro call" not in savvycal


def test_a_needs_reauth_connection_shows_reconnect_and_keeps_its_links(client, account):
    set_connection(account, "calendly", state="needs_reauth", state_reason="invalid_grant")
    add_link(account, "calendly", "Intro call", "https://calendly.com/rep/intro")

    calendly = card(page_of(client, account), "calendly")

    assert 'data-state="needs_reauth"' in calendly
    assert "Reconnect Calendly" in calendly
    assert 'href="/oauth/calendly/start"' in calendly
    assert "kept until you reconnect" in calendly
    assert "Disconnect Calendly" in calendly


def test_a_lost_close_grant_asks_to_sign_in_with_close_again(client, account):
    set_connection(account, "close", state="needs_reauth")

    page = page_of(client, account)

    assert "Reconnect Close" in page
    assert "Sign in with Close again" in page


def test_never_connected_and_disconnected_providers_offer_connect(client, db):
    account_id = add_account(savvycal=False)
    set_connection(account_id, "calendly", state="disconnected")

    page = page_of(client, account_id)

    assert "Connect Calendly" in card(page, "calendly")
    assert "Disconnect Calendly" not in card(page, "calendly")
    savvycal = card(page, "savvycal")
    assert "Not connected." in savvycal
    assert "Connect SavvyCal" in savvycal
    assert 'name="token"' in savvycal


def test_calendly_polling_only_is_shown(client, account):
    set_connection(account, "calendly", webhook_state="polling_only")

    assert "polling only" in card(page_of(client, account), "calendly")


def test_the_last_sync_its_outcome_and_its_warnings_are_shown(client, account):
    with runtime.session_scope() as session:
        run = SyncRun(
            account_id=account,
            started_at=datetime(2026, 11, 22, 10, 0, tzinfo=UTC),
            finished_at=datetime(2026, 11, 22, 10, 1, tzinfo=UTC),
            outcome="partial",
            created=2,
            updated=1,
            unchanged=5,
            error="savvycal: savvycal GET /links answered 503",
        )
        run.warnings = [
            "Calendly event type ET1 has no URL; skipped",
            "SavvyCal link link_1 has no URL (no scope or slug); skipped",
        ]
        session.add(run)

    page = page_of(client, account)

    assert "Last sync started" in page and "2026-11-22 10:00 UTC" in page
    assert "finished with problems" in page
    assert "2 created, 1 updated, 0 deleted, 5 unchanged" in page
    assert "savvycal GET /links answered 503" in page
    assert "Calendly event type ET1 has no URL; skipped" in card(page, "calendly")
    assert "SavvyCal link link_1 has no URL" in card(page, "savvycal")
    assert "SavvyCal link link_1" not in card(page, "calendly")


def test_a_link_url_that_is_not_a_web_address_is_not_made_a_link(client, account):
    add_link(account, "calendly", "Odd", "javascript:alert(1)")

    calendly = card(page_of(client, account), "calendly")

    assert 'href="javascript' not in calendly
    assert "javascript:alert(1)" in calendly


def test_every_form_on_the_page_carries_the_csrf_field(client, account):
    page = page_of(client, account)

    forms = re.findall(r"<form[^>]*method=\"post\".*?</form>", page, re.S)
    assert len(forms) >= 3  # sign out, sync now, the personal-token form
    confirm = client.get("/connections/calendly/disconnect").get_data(as_text=True)
    forms += re.findall(r"<form[^>]*method=\"post\".*?</form>", confirm, re.S)
    assert len(forms) >= 4  # and Disconnect, on its confirmation page
    for form in forms:
        assert 'name="csrf_token"' in form


def test_a_session_of_an_account_that_no_longer_exists_is_signed_out(client, db):
    sign_in_as(client, 12345)

    page = client.get("/").get_data(as_text=True)

    assert "Sign in with Close" in page
