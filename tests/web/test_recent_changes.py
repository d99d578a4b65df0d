"""The rep's "Recent changes": every write to Close of their links in words, newest first, with
when and why, the same on the page and in `GET /status`."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from tests.web.flows import sign_in_as
from tests.web.test_connect_page import page_of
from web.rep_history import change_text, history_json
from worker import runtime
from worker.storage.models import LinkChange, SyncRun, utcnow


def add_run_with(account_id: int, kind: str, trigger: str | None, changes, seconds_ago=60):
    at = utcnow() - timedelta(seconds=seconds_ago)
    with runtime.session_scope() as session:
        run = SyncRun(
            account_id=account_id,
            kind=kind,
            trigger=trigger,
            started_at=at,
            finished_at=at + timedelta(seconds=1),
            outcome="ok",
        )
        session.add(run)
        session.flush()
        for provider, name, action, changed in changes:
            session.add(
                LinkChange(
                    run_id=run.id,
                    provider=provider,
                    source_id=f"{provider}:{name}:user_A",
                    name=name,
                    action=action,
                    changed_json=json.dumps(changed),
                    at=at,
                )
            )


def change(provider="calendly", named="Discovery Call", action="updated", **changed):
    return {"provider": provider, "name": named, "action": action, "changed": changed}


@pytest.mark.parametrize(
    ("the_change", "words"),
    [
        (change(action="created"), "Calendly link “Discovery Call” added to Close"),
        (change("savvycal", "Chat", "deleted"), "SavvyCal link “Chat” removed from Close"),
        (
            change(**{"name": ["Intro Call", "Discovery Call"]}),
            "Calendly link renamed from “Intro Call” to “Discovery Call”",
        ),
        (
            change(duration_in_minutes=[30, 45]),
            "Calendly link “Discovery Call”: duration changed from 30 min to 45 min",
        ),
        (
            change(**{"name": ["A", "B"], "duration_in_minutes": [None, 15]}),
            "Calendly link renamed from “A” to “B”, duration changed from none to 15 min",
        ),
        (
            change(url=["https://x.example/a", "https://x.example/b"], description=["a", "b"]),
            "Calendly link “Discovery Call”: booking URL changed to https://x.example/b, "
            "description changed",
        ),
        (
            change(source_type=["Calendly · Solo", "Calendly · Group"]),
            "Calendly link “Discovery Call”: type changed from “Calendly · Solo” to "
            "“Calendly · Group”",
        ),
        (change(), "Calendly link “Discovery Call” written to Close again"),
    ],
)
def test_each_change_is_said_in_words(the_change, words):
    assert change_text(the_change) == words


def test_newest_first_with_what_made_each_change(account):
    add_run_with(account, "full", "connect", [("calendly", "Discovery Call", "created", {})], 300)
    add_run_with(
        account,
        "event_type",
        "webhook",
        [("calendly", "Discovery Call", "updated", {"name": ["Discovery Call", "Discovery"]})],
        120,
    )
    add_run_with(account, "full", "sync_now", [("savvycal", "Chat", "deleted", {})], 60)
    add_run_with(account, "disconnect", "disconnect", [("calendly", "Discovery", "deleted", {})], 5)
    add_run_with(account, "full", None, [], 1)  # a run that wrote nothing shows nothing

    with runtime.session_scope() as session:
        shown = history_json(session, account)

    assert [(c["text"], c["by"]) for c in shown] == [
        ("Calendly link “Discovery” removed from Close", "because Calendly was disconnected"),
        ("SavvyCal link “Chat” removed from Close", "after Sync now was pressed"),
        (
            "Calendly link renamed from “Discovery Call” to “Discovery”",
            "by a Calendly webhook",
        ),
        ("Calendly link “Discovery Call” added to Close", "by the first sync after connecting"),
    ]
    assert all(c["at"].endswith("Z") for c in shown)


def test_only_the_newest_twenty_are_shown(account):
    for n in range(25):
        add_run_with(
            account, "full", "schedule", [("calendly", f"Link {n}", "created", {})], 100 - n
        )

    with runtime.session_scope() as session:
        shown = history_json(session, account)

    assert len(shown) == 20
    assert shown[0]["text"] == "Calendly link “Link 24” added to Close"
    assert shown[0]["by"] == "by the periodic sync"


def test_the_page_and_status_show_the_same_changes(client, account):
    add_run_with(
        account,
        "event_type",
        "webhook",
        [("calendly", "Discovery <b>", "updated", {"name": ["Intro", "Discovery <b>"]})],
        120,
    )

    sign_in_as(client, account)
    view = client.get("/status").get_json()
    html = page_of(client, account)

    (shown,) = view["history"]
    assert shown["text"] == "Calendly link renamed from “Intro” to “Discovery <b>”"
    assert "Calendly link renamed from “Intro” to “Discovery &lt;b&gt;”," in html  # escaped
    assert "2 min ago" in html and '<span class="by">by a Calendly webhook</span>' in html


def test_a_page_with_no_changes_says_so(client, account):
    assert "schedsync has not changed any of your links in Close yet" in page_of(client, account)


@pytest.mark.parametrize(
    ("kind", "trigger", "the_change", "words", "by"),
    [
        (
            "team_link",
            "schedule",
            change("close", "Intro call", "created", link=[None, "Discovery Call"]),
            "Team link “Intro call” now opens your “Discovery Call”",
            "by the periodic sync",
        ),
        (
            "team_link",
            "webhook",
            change("close", "Intro call", "updated", link=["Discovery Call", "Intro"]),
            "Team link “Intro call” now opens your “Intro” instead of “Discovery Call”",
            "by a Calendly webhook",
        ),
        (
            "team_link",
            "admin",
            change("close", "Intro call", "deleted", link=["Intro", None]),
            "Team link “Intro call” no longer opens your “Intro”",
            "by an operator's change to the team links",
        ),
        (
            "team_link",
            "disconnect",
            change("close", "Intro call", "deleted"),
            "Team link “Intro call” no longer opens your link",
            "because a scheduling provider was disconnected",
        ),
        (
            "org_switch",
            "connect",
            change("calendly", "Demo", "deleted"),
            "Calendly link “Demo” removed from your previous Close organization",
            "because you signed in with Close under another organization",
        ),
        (
            "org_switch",
            "connect",
            change("close", "Intro call", "deleted"),
            "Team link “Intro call” of your previous Close organization no longer opens your link",
            "because you signed in with Close under another organization",
        ),
    ],
)
def test_team_link_and_organization_switch_changes_are_said_in_words(
    account, kind, trigger, the_change, words, by
):
    add_run_with(
        account,
        kind,
        trigger,
        [(the_change["provider"], the_change["name"], the_change["action"], the_change["changed"])],
    )

    with runtime.session_scope() as session:
        (shown,) = history_json(session, account)

    assert (shown["text"], shown["by"]) == (words, by)
