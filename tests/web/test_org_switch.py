"""A rep who signs in under another Close organization (issue 9.13): the account moves to the new
organization, and the old grant is retired on purpose: our links in the old organization are
deleted with it, the rep is unmapped from that organization's team links, and it is revoked.
Never orphaned links and a live, forgotten grant."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from urllib.parse import parse_qs, unquote

import pytest
import responses
from sqlalchemy import select, update

from tests.admin.conftest import ADMIN
from tests.conftest import CLOSE_API, add_account
from tests.web.flows import close_token_answer, sign_in
from worker import runtime
from worker.auth import retired_grants
from worker.storage.models import (
    Account,
    LinkMapping,
    RetiredGrant,
    TeamLink,
    TeamLinkMapping,
    utcnow,
)
from worker.tasks.disconnect import cleanup_sweep
from worker.tasks.grants import clean_up_retired_grant

RETIRE = "worker.tasks.grants.clean_up_retired_grant"
RECONCILE = "worker.tasks.reconcile.reconcile_account"
REVOKE_URL = "https://api.close.test/oauth2/revoke/"
OURS = "oa2client_ours"
OLD_ACCESS, OLD_REFRESH = "close-at-user_NEW", "close-rt-user_NEW"  # add_account's tokens
OLD_SOURCE = "calendly:E1:user_NEW"
INTRO_URL = "https://calendly.com/new/intro"


class TwoOrgClose:
    """Close's link endpoints for two organizations: each token sees only its own one's links."""

    def __init__(self, rsps: responses.RequestsMock):
        self.org_of = {OLD_ACCESS: "orga_OLD", "close-access-NEW": "orga_NEW"}
        self.links: dict[str, list[dict]] = {"orga_OLD": [], "orga_NEW": []}
        self.deletes: list[tuple[str, str]] = []  # (organization, source_id)
        self.unmaps: list[dict] = []
        self.revoked: list[str] = []
        self.fail_listing_with: int | None = None
        self.fail_revoke_with: int | None = None
        base = re.escape(CLOSE_API)
        rsps.add_callback(responses.GET, f"{CLOSE_API}/scheduling_link/", callback=self._list)
        rsps.add_callback(
            responses.DELETE,
            re.compile(base + r"/scheduling_link/integration/(.+)/$"),
            callback=self._delete,
        )
        rsps.add_callback(
            responses.POST,
            f"{CLOSE_API}/shared_scheduling_link_association/unmap/",
            callback=self._unmap,
        )
        rsps.add_callback(responses.POST, REVOKE_URL, callback=self._revoke)

    def _org(self, request) -> str | None:
        return self.org_of.get(request.headers["Authorization"].removeprefix("Bearer "))

    def _list(self, request):
        if self.fail_listing_with:
            return self.fail_listing_with, {}, json.dumps({"error": "nope"})
        org = self._org(request)
        if org is None:
            return 401, {}, json.dumps({"error": "unauthorized"})
        return 200, {}, json.dumps({"data": self.links[org], "has_more": False})

    def _delete(self, request):
        org = self._org(request)
        source_id = unquote(request.url.rstrip("/").rsplit("/", 1)[1])
        before = len(self.links[org])
        self.links[org] = [link for link in self.links[org] if link["source_id"] != source_id]
        self.deletes.append((org, source_id))
        return (200 if len(self.links[org]) < before else 404), {}, "{}"

    def _unmap(self, request):
        unmap = {"org": self._org(request), **json.loads(request.body)}
        again = unmap in self.unmaps
        self.unmaps.append(unmap)
        return (404 if again else 200), {}, "{}"

    def _revoke(self, request):
        if self.fail_revoke_with:
            return self.fail_revoke_with, {}, ""
        self.revoked.append(parse_qs(request.body)["token"][0])
        return 200, {}, ""


@pytest.fixture
def close(mocked):
    return TwoOrgClose(mocked)


@pytest.fixture
def rep_in_old_org(db, close):
    """user_NEW, synced into orga_OLD: one link of ours there (and one that is not ours), mapped
    to one of that organization's team links."""
    account_id = add_account("user_NEW", organization_id="orga_OLD", savvycal=False)
    close.links["orga_OLD"] = [
        {"id": "schlnk_1", "source": "THIRD_PARTY", "source_id": OLD_SOURCE,
         "oauth_client_id": OURS, "user_id": "user_NEW", "type": "USER", "name": "Intro Call",
         "url": INTRO_URL},
        {"id": "schlnk_2", "source": "MANUAL", "source_id": None, "user_id": "user_NEW",
         "type": "USER"},
    ]  # fmt: skip
    with runtime.session_scope() as session:
        session.add(
            LinkMapping(
                account_id=account_id,
                provider="calendly",
                source_id=OLD_SOURCE,
                close_link_id="schlnk_1",
            )
        )
        team_link = TeamLink(
            organization_id="orga_OLD", name="Intro", close_shared_link_id="shsl_1", state="active"
        )
        session.add(team_link)
        session.flush()
        session.add(
            TeamLinkMapping(
                team_link_id=team_link.id,
                account_id=account_id,
                state="mapped",
                provider="calendly",
                source_id=OLD_SOURCE,
                close_link_id="schlnk_1",
            )
        )
    return account_id


def retired_rows() -> list[RetiredGrant]:
    with runtime.session_scope() as session:
        rows = list(session.scalars(select(RetiredGrant)))
        session.expunge_all()
        return rows


def test_signing_in_under_another_organization_retires_the_old_grant_and_says_so(
    client, mocked, sent, rep_in_old_org
):
    response = sign_in(client, mocked)  # Close answers orga_NEW for user_NEW

    assert response.status_code == 302
    (retired,) = retired_rows()
    assert (retired.organization_id, retired.access_token, retired.refresh_token) == (
        "orga_OLD",
        OLD_ACCESS,
        OLD_REFRESH,
    )
    assert json.loads(retired.source_ids_json) == [OLD_SOURCE]
    assert json.loads(retired.shared_link_ids_json) == ["shsl_1"]
    assert (RETIRE, (retired.id,)) in sent
    assert (RECONCILE, (rep_in_old_org,)) in sent  # the new organization gets the links now
    with runtime.session_scope() as session:
        account = session.get(Account, rep_in_old_org)
        assert account.organization_id == "orga_NEW"
        assert account.connection("close").access_token == "close-access-NEW"
        # What the mappings knew is of the old organization: the new one starts from none.
        assert session.scalars(select(LinkMapping)).all() == []
        assert session.scalars(select(TeamLinkMapping)).all() == []
    page = " ".join(client.get("/").get_data(as_text=True).split())
    assert "You signed in under another Close organization (orga_NEW)" in page
    assert "(orga_OLD) and revoking its access there" in page


def test_signing_in_again_under_the_same_organization_retires_nothing(
    client, mocked, sent, db, close
):
    add_account("user_NEW", organization_id="orga_NEW")

    sign_in(client, mocked)

    assert retired_rows() == []
    assert not [name for name, _ in sent if name == RETIRE]


def test_the_clean_up_deletes_our_links_there_unmaps_the_rep_and_revokes_the_old_grant(
    client, mocked, sent, close, rep_in_old_org
):
    sign_in(client, mocked)
    (retired,) = retired_rows()
    sent.clear()

    assert clean_up_retired_grant(retired.id) == "done"

    assert close.deletes == [("orga_OLD", OLD_SOURCE)]  # ours only, with the old grant
    assert [link["id"] for link in close.links["orga_OLD"]] == ["schlnk_2"]  # MANUAL stays
    assert close.unmaps == [
        {"org": "orga_OLD", "organization_id": "orga_OLD", "shared_scheduling_link_id": "shsl_1",
         "user_id": "user_NEW"}
    ]  # fmt: skip
    assert close.revoked == [OLD_REFRESH, OLD_ACCESS]
    assert retired_rows() == []
    assert (RECONCILE, (rep_in_old_org,)) in sent
    assert clean_up_retired_grant(retired.id) == "done_already"


def test_a_failed_clean_up_stays_recorded_and_the_sweep_sends_it_again_once(
    client, mocked, sent, close, rep_in_old_org
):
    sign_in(client, mocked)
    (retired,) = retired_rows()
    close.fail_listing_with = 503

    assert clean_up_retired_grant(retired.id) == "retry_scheduled"

    (still,) = retired_rows()
    assert still.next_attempt_at > utcnow() and close.revoked == []
    with runtime.session_scope() as session:
        session.execute(
            update(RetiredGrant).values(next_attempt_at=utcnow() - timedelta(seconds=1))
        )
    sent.clear()
    cleanup_sweep()
    cleanup_sweep()  # its message still waits: not sent twice
    assert [args for name, args in sent if name == RETIRE] == [(retired.id,)]

    close.fail_listing_with = None
    assert clean_up_retired_grant(retired.id) == "done"
    assert close.revoked == [OLD_REFRESH, OLD_ACCESS] and retired_rows() == []


def test_an_old_grant_close_refuses_already_is_dropped_with_nothing_to_revoke(
    client, mocked, sent, close, rep_in_old_org
):
    sign_in(client, mocked)
    (retired,) = retired_rows()
    close.org_of.pop(OLD_ACCESS)  # the rep revoked it in Close meanwhile
    mocked.replace(
        responses.POST, "https://api.close.test/oauth2/token/", status=400,
        json={"error": "invalid_grant"},
    )  # fmt: skip

    assert retired_grants.clean_up(retired.id) == "grant_dead"

    assert retired_rows() == [] and close.revoked == []


def test_back_in_an_organization_left_before_its_old_grant_is_only_revoked(
    client, mocked, sent, close, rep_in_old_org
):
    sign_in(client, mocked)  # to orga_NEW: the orga_OLD grant is retired
    (left_old,) = retired_rows()
    close.org_of["close-access-BACK"] = "orga_OLD"
    sign_in(
        client,
        mocked,
        token_answer=close_token_answer(
            organization_id="orga_OLD",
            access_token="close-access-BACK",
            refresh_token="close-refresh-BACK",
        ),
    )
    rows = {row.organization_id: row for row in retired_rows()}
    assert set(rows) == {"orga_OLD", "orga_NEW"}
    assert (rows["orga_OLD"].delete_links, rows["orga_NEW"].delete_links) == (False, True)

    assert clean_up_retired_grant(left_old.id) == "done"

    assert close.deletes == []  # the account is pushing its links there again
    assert [link["id"] for link in close.links["orga_OLD"]] == ["schlnk_1", "schlnk_2"]
    assert close.revoked == [OLD_REFRESH, OLD_ACCESS]


def org_switch_runs(client) -> list[dict]:
    response = client.get("/admin/accounts/user_NEW/history", headers=ADMIN)
    assert response.status_code == 200, response.get_json()
    return [run for run in response.get_json()["runs"] if run["kind"] == "org_switch"]


def test_each_unmap_and_deletion_in_the_old_organization_is_a_change_in_the_history(
    client, mocked, sent, close, rep_in_old_org
):
    sign_in(client, mocked)
    (retired,) = retired_rows()

    clean_up_retired_grant(retired.id)

    (run,) = org_switch_runs(client)
    assert (run["trigger"], run["outcome"], run["error"]) == ("connect", "ok", None)
    assert run["changes"] == [
        {"provider": "close", "source_id": "shsl_1", "name": "Intro", "action": "deleted",
         "changed": {}},
        {"provider": "calendly", "source_id": OLD_SOURCE, "name": "Intro Call",
         "action": "deleted",
         "changed": {"name": ["Intro Call", None], "url": [INTRO_URL, None]}},
    ]  # fmt: skip


def test_a_clean_up_stopped_after_its_deletions_keeps_them_and_its_retry_adds_none(
    client, mocked, sent, close, rep_in_old_org
):
    sign_in(client, mocked)
    (retired,) = retired_rows()
    close.fail_revoke_with = 503

    assert clean_up_retired_grant(retired.id) == "retry_scheduled"
    (stopped,) = org_switch_runs(client)
    assert stopped["outcome"] == "error" and stopped["error"].startswith("the clean-up stopped")
    assert [c["source_id"] for c in stopped["changes"]] == ["shsl_1", OLD_SOURCE]

    close.fail_revoke_with = None
    assert clean_up_retired_grant(retired.id) == "done"
    assert close.deletes == [("orga_OLD", OLD_SOURCE)] * 2  # the second answered 404
    assert len(close.unmaps) == 2  # the second answered 404 too
    assert org_switch_runs(client) == [stopped]
