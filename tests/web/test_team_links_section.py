"""The connect page's team-link section: the team links of the rep's organization, what each
opens for them, and why not when it does not (CONTRACT §6)."""

from __future__ import annotations

import html
import re

from tests.conftest import add_account
from tests.web.flows import sign_in_as
from worker import runtime
from worker.storage.models import LinkMapping, TeamLink, TeamLinkMapping


def add_team_link(name: str, organization_id: str = "orga_1", **fields) -> int:
    with runtime.session_scope() as session:
        row = TeamLink(
            organization_id=organization_id,
            name=name,
            template_tag=name.lower().replace(" ", "_"),
            close_shared_link_id=f"schlnk_{name[:4]}",
            state=fields.pop("state", "active"),
            **fields,
        )
        session.add(row)
        session.flush()
        return row.id


def section(client, account_id: int) -> str:
    sign_in_as(client, account_id)
    page = client.get("/").get_data(as_text=True)
    match = re.search(r'<section class="card team-links".*?</section>', page, re.S)
    if not match:
        return ""
    text = re.sub(r"<[^>]+>", " ", match.group(0))  # the words a reader sees
    return html.unescape(re.sub(r"\s+", " ", text))


def test_each_team_link_says_what_it_opens_for_the_rep_or_why_not(client):
    rep = add_account("user_A")
    mapped = add_team_link("Intro call", calendly_slug="intro-call", savvycal_slug="intro-call")
    add_team_link("Demo", calendly_slug="demo", savvycal_slug="demo")
    add_team_link("Coffee", savvycal_slug="coffee")
    add_team_link("Elsewhere", organization_id="orga_2", calendly_slug="x")
    with runtime.session_scope() as session:
        session.add(
            LinkMapping(
                account_id=rep,
                provider="calendly",
                source_id="calendly:E1:user_A",
                name="Intro with Alice",
                close_link_id="schlnk_1",
            )
        )
        session.add(
            TeamLinkMapping(
                team_link_id=mapped,
                account_id=rep,
                state="mapped",
                provider="calendly",
                source_id="calendly:E1:user_A",
                close_link_id="schlnk_1",
            )
        )
        session.add(TeamLinkMapping(team_link_id=mapped + 1, account_id=rep, state="unmatched"))

    text = section(client, rep)

    assert "Intro call intro_call opens your Calendly link Intro with Alice" in text
    assert (
        "Demo demo not mapped for you: no Calendly event type or SavvyCal link with the slug demo"
        in text
    )
    assert "Coffee coffee being mapped" in text
    assert "Elsewhere" not in text


def test_a_team_link_whose_shared_link_was_deleted_in_close_shows_the_problem(client):
    rep = add_account("user_A")
    add_team_link(
        "Intro call", calendly_slug="intro-call", state="error", error="the shared link was deleted"
    )

    assert "problem: the shared link was deleted" in section(client, rep)


def test_no_team_links_no_section(client):
    rep = add_account("user_A")

    assert section(client, rep) == ""
