"""`GET /status`, the connect page as JSON for its script, and what both show: the run in
progress, exact times, durations, what is not in Close and why, Close's page of a link, and a
Disconnect that asks first."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from tests.conftest import add_account
from tests.web.flows import csrf, sign_in_as
from tests.web.test_connect_page import card, page_of, set_connection
from worker import runtime
from worker.storage.models import Account, Connection, LinkMapping, SyncRun, utcnow


def add_run(account_id: int, *, finished: bool = True, **values) -> None:
    started = values.pop("started_at", utcnow() - timedelta(seconds=30))
    with runtime.session_scope() as session:
        run = SyncRun(
            account_id=account_id,
            started_at=started,
            finished_at=started + timedelta(seconds=2) if finished else None,
            outcome=values.pop("outcome", "ok" if finished else "running"),
            **{k: v for k, v in values.items() if k not in ("warnings", "not_synced")},
        )
        run.warnings = values.get("warnings", [])
        run.not_synced = values.get("not_synced", [])
        session.add(run)


def add_link(account_id: int, provider: str, name: str, **values) -> None:
    with runtime.session_scope() as session:
        session.add(
            LinkMapping(
                account_id=account_id,
                provider=provider,
                source_id=f"{provider}:{name}:user_A",
                name=name,
                url=f"https://{provider}.example/{name}",
                pushed_at=utcnow() - timedelta(seconds=12),
                **values,
            )
        )


def status_of(client, account_id: int) -> dict:
    sign_in_as(client, account_id)
    answer = client.get("/status")
    assert answer.status_code == 200
    assert answer.headers["Cache-Control"] == "no-store"
    return answer.get_json()


def provider(view: dict, name: str) -> dict:
    return next(p for p in view["providers"] if p["provider"] == name)


NOT_SYNCED = [
    {"provider": "calendly", "source_id": "calendly:E1:user_A", "name": "Old Demo",
     "reason": "inactive"},
    {"provider": "calendly", "source_id": "calendly:E2:user_A", "name": "30 Minute Meeting",
     "reason": "close_native"},
    {"provider": "savvycal", "source_id": "savvycal:S1:user_A", "name": "Paused Link",
     "reason": "disabled"},
]  # fmt: skip


def test_status_needs_a_signed_in_browser(client, db):
    answer = client.get("/status")

    assert answer.status_code == 401
    assert answer.get_json()["error"] == "unauthorized"


def test_status_and_page_show_the_same_links_durations_and_not_synced_reasons(client, account):
    add_link(account, "calendly", "Discovery Call", duration_in_minutes=45)
    add_run(account, not_synced=NOT_SYNCED)

    view = status_of(client, account)
    page = page_of(client, account)

    calendly = provider(view, "calendly")
    (link,) = calendly["links"]
    assert (link["name"], link["duration_in_minutes"]) == ("Discovery Call", 45)
    assert [(i["name"], i["reason_text"]) for i in calendly["not_synced"]] == [
        ("Old Demo", "turned off (inactive) in Calendly"),
        ("30 Minute Meeting", "Close already shows it through Close's own Calendly integration"),
    ]
    assert [i["name"] for i in provider(view, "savvycal")["not_synced"]] == ["Paused Link"]
    assert view["history"] == []  # no write to Close yet (tests/web/test_recent_changes.py)
    html = card(page, "calendly")
    assert "45 min" in html
    assert "<strong>Old Demo</strong>: turned off (inactive) in Calendly" in html
    assert "Close&#39;s own Calendly integration" in html  # HTML-escaped
    assert "Paused Link" in card(page, "savvycal") and "Paused Link" not in html


def test_times_are_relative_with_the_exact_time_on_the_element(client, account):
    add_link(account, "calendly", "Discovery Call")

    html = card(page_of(client, account), "calendly")

    match = re.search(r'<time datetime="([^"]+)" title="([^"]+ UTC)">(\d+) s ago</time>', html)
    assert match, html
    assert 12 <= int(match.group(3)) < 60
    assert match.group(2).startswith(match.group(1)[:10] + " " + match.group(1)[11:19])


def test_a_run_in_progress_and_a_queued_trigger_are_shown(client, account):
    add_run(account)
    with runtime.session_scope() as session:
        session.get(Account, account).sync_requested_seq = 1  # "Sync now" pressed, not taken up

    assert status_of(client, account)["sync"]["state"] == "queued"
    assert "Sync queued" in page_of(client, account)

    add_run(account, finished=False, started_at=utcnow())
    view = status_of(client, account)

    assert view["sync"]["state"] == "running"
    assert view["sync"]["last_run"]["outcome"] == "running"
    assert "Syncing now" in page_of(client, account)


def test_the_previous_runs_not_synced_items_stay_while_a_run_is_going(client, account):
    add_run(account, not_synced=NOT_SYNCED, started_at=utcnow() - timedelta(minutes=5))
    add_run(account, finished=False, started_at=utcnow())

    view = status_of(client, account)

    assert len(provider(view, "calendly")["not_synced"]) == 2


def test_a_disconnected_providers_warnings_and_not_synced_items_go_with_it(client, account):
    add_run(
        account,
        not_synced=NOT_SYNCED,
        warnings=["SavvyCal link “Unscoped Link” has no URL (no scope or slug); skipped"],
    )
    set_connection(account, "savvycal", state="disconnected")

    view = status_of(client, account)
    page = page_of(client, account)

    savvycal = provider(view, "savvycal")
    assert (savvycal["warnings"], savvycal["not_synced"]) == ([], [])
    assert view["sync"]["warnings"] == []
    assert "Unscoped Link" not in page and "Paused Link" not in page
    assert "Old Demo" in card(page, "calendly")


def test_the_calendly_account_connected_is_named(client, account):
    set_connection(account, "calendly", external_email="alice@cal.example")

    assert "Connected as <strong>alice@cal.example</strong>" in card(
        page_of(client, account), "calendly"
    )
    assert provider(status_of(client, account), "calendly")["who"] == "alice@cal.example"


def test_a_link_opens_in_close_where_close_has_a_page_for_it(app, client, account):
    add_link(account, "calendly", "Discovery Call", close_link_id="schedlink_1")
    assert provider(status_of(client, account), "calendly")["links"][0]["close_url"] is None

    settings = app.config["SCHEDSYNC"]
    app.config["SCHEDSYNC"] = settings.with_overrides(
        close_link_page_url="https://close.example/app/scheduling_link/{id}/"
    )

    link = provider(status_of(client, account), "calendly")["links"][0]
    assert link["close_url"] == "https://close.example/app/scheduling_link/schedlink_1/"
    html = card(page_of(client, account), "calendly")
    assert '<a href="https://close.example/app/scheduling_link/schedlink_1/">open in Close' in html


def test_disconnect_asks_first_on_a_page_whose_form_posts(client, account):
    add_link(account, "calendly", "Discovery Call")
    add_link(account, "calendly", "Partner Sync")
    sign_in_as(client, account)

    page = client.get("/").get_data(as_text=True)
    assert 'href="/connections/calendly/disconnect"' in page
    confirm = client.get("/connections/calendly/disconnect")

    text = " ".join(confirm.get_data(as_text=True).split())
    assert confirm.status_code == 200
    assert "Your 2 Calendly links will be removed from Close" in text
    assert 'action="/connections/calendly/disconnect"' in text and 'method="post"' in text
    with runtime.session_scope() as session:  # asking changed nothing
        conn = session.scalars(select(Connection).where(Connection.provider == "calendly")).one()
        assert conn.state == "active"


def test_confirming_disconnect_disconnects(client, account, sent):
    sign_in_as(client, account)

    answer = client.post("/connections/calendly/disconnect", data={"csrf_token": csrf(client)})

    assert answer.status_code == 303
    view = status_of(client, account)
    assert provider(view, "calendly")["state"] == "disconnected"


def test_the_confirmation_page_needs_a_signed_in_browser_and_a_known_provider(client, db):
    assert client.get("/connections/calendly/disconnect").status_code == 302
    sign_in_as(client, add_account())
    assert client.get("/connections/close/disconnect").status_code == 404


def test_status_answers_exact_iso_times(client, account):
    started = datetime(2026, 12, 2, 10, 0, 1, 250000, tzinfo=UTC)
    add_run(account, started_at=started)

    run = status_of(client, account)["sync"]["last_run"]

    assert run["started_at"] == "2026-12-02T10:00:01.250Z"
    assert run["finished_at"] == "2026-12-02T10:00:03.250Z"
    assert run["outcome_text"] == "finished"


def test_a_warning_about_an_item_the_not_synced_list_explains_is_not_said_twice(client, account):
    add_run(
        account,
        not_synced=[
            {"provider": "savvycal", "source_id": "savvycal:S9:user_A", "name": "Unscoped Link",
             "reason": "no_scope"},
        ],
        warnings=[
            "SavvyCal link “Unscoped Link” has no URL (no scope or slug); skipped",
            "SavvyCal link S8 (no name) has no name; skipped",
        ],
    )  # fmt: skip

    savvycal = provider(status_of(client, account), "savvycal")

    assert savvycal["warnings"] == ["SavvyCal link S8 (no name) has no name; skipped"]
    assert [i["name"] for i in savvycal["not_synced"]] == ["Unscoped Link"]
