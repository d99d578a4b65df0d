"""`flask --app web resync`: why an account was not queued, `--account` by e-mail, one line per
account with `--wait`, and `--dry-run`, which prints the plan and writes nothing anywhere."""

from __future__ import annotations

import pytest
import responses
from sqlalchemy import func, select

from tests.admin.conftest import set_state
from tests.admin.test_cli import RECONCILE, eager_runner  # noqa: F401 (a fixture)
from tests.conftest import add_account
from tests.sync.fakes import FakeCalendly, FakeClose, FakeSavvyCal
from worker import runtime
from worker.storage.models import LinkChange, LinkMapping, SyncRun
from worker.sync.full import full_sync


def test_resync_with_only_a_needs_reauth_account_exits_non_zero_with_the_reason(
    runner, db, enqueued
):
    account = add_account("user_A")
    set_state(account, "close", "needs_reauth")

    result = runner.invoke(args=["resync"])

    assert result.exit_code == 1
    assert (
        "not queued: user_A (user_A@example.com): its Close grant needs re-authorization "
        "(the rep must sign in with Close again)"
    ) in result.output
    assert "no account could be queued" in result.output
    assert enqueued == []


def test_resync_says_why_each_account_left_out_was_not_queued(runner, world, enqueued):
    result = runner.invoke(args=["resync"])

    assert result.exit_code == 0, result.output
    reasons = {
        line.split(": ", 2)[1].split()[0]: line.split(": ", 2)[2]
        for line in result.output.splitlines()
        if line.startswith("not queued: ")
    }
    assert set(reasons) == {"user_B", "user_C", "user_E"}
    assert reasons["user_B"].startswith("its Close grant needs re-authorization")
    assert reasons["user_C"] == (
        "no active provider connection (calendly disconnected, savvycal needs_reauth; "
        "the rep must reconnect)"
    )
    assert reasons["user_E"] == "nothing connected (no Calendly or SavvyCal connection)"


def test_resync_with_no_accounts_at_all_exits_non_zero(runner, db, enqueued):
    result = runner.invoke(args=["resync"])
    assert result.exit_code == 1
    assert "no account could be queued (there are no accounts)" in result.output


@pytest.mark.parametrize("typed", ["user_D@example.com", "USER_D@Example.com"])
def test_resync_takes_an_account_by_its_email(runner, world, enqueued, typed):
    result = runner.invoke(args=["resync", "--account", typed])

    assert result.exit_code == 0, result.output
    assert enqueued == [(RECONCILE, (world["user_D"],))]


def test_resync_wait_prints_one_line_per_account_with_its_outcome(eager_runner, db):  # noqa: F811
    runner, close, calendly, savvycal = eager_runner
    add_account("user_A")
    add_account("user_B", savvycal=False)
    calendly.add("E1", name="Intro")
    savvycal.add("link_1")

    result = runner.invoke(args=["resync", "--wait", "--timeout", "30"])

    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert (
        "user_A (user_A@example.com): ok  created=2 updated=0 deleted=0 unchanged=0 failed=0"
        in lines
    )
    assert (
        "user_B (user_B@example.com): ok  created=1 updated=0 deleted=0 unchanged=0 failed=0"
        in lines
    )
    assert "total: created=3 updated=0 deleted=0 unchanged=0 failed=0" in lines


@pytest.fixture
def synced(db):
    """user_A synced once (Intro, Demo, Chat in Close); then Intro renamed, Demo deleted and
    Pricing added in Calendly."""
    account = add_account("user_A")
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        close, calendly, savvycal = FakeClose(rsps), FakeCalendly(rsps), FakeSavvyCal(rsps)
        calendly.add("E1", name="Intro")
        calendly.add("E2", name="Demo")
        savvycal.add("S1", name="Chat")
        full_sync(account)
        calendly.event_types["E1"]["name"] = "Intro (new)"
        del calendly.event_types["E2"]
        calendly.add("E3", name="Pricing")
        yield account, close, rsps


def stored_counts() -> tuple[int, int, int]:
    with runtime.session_scope() as session:
        return tuple(
            session.scalar(select(func.count()).select_from(model))
            for model in (SyncRun, LinkMapping, LinkChange)
        )


def test_dry_run_prints_the_plan_and_writes_nothing(runner, synced, enqueued):
    account, close, rsps = synced
    before_calls, before_links, before_rows = len(rsps.calls), dict(close.links), stored_counts()

    result = runner.invoke(args=["resync", "--dry-run", "--account", "user_A@example.com"])

    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == (
        "user_A (user_A@example.com): 1 to create, 1 to update, 1 to delete, 1 unchanged"
    )
    assert '  + create  calendly  "Pricing"  https://calendly.com/acme/e3' in lines
    assert '  ~ update  calendly  "Intro (new)"  name: "Intro" -> "Intro (new)"' in lines
    assert '  - delete  calendly  "Demo"' in lines
    assert lines[-1] == "dry run: nothing was written to Close"
    sent = [c.request.method for c in rsps.calls[before_calls:]]
    assert sent and set(sent) == {"GET"}  # read the providers and Close; wrote nothing
    assert close.links == before_links
    assert stored_counts() == before_rows  # no run, no mapping, no history
    assert enqueued == []


def test_dry_run_says_which_provider_could_not_be_read(runner, synced, enqueued):
    account, close, rsps = synced
    rsps.replace(responses.GET, "https://api.savvycal.test/v1/links", status=503)

    result = runner.invoke(args=["resync", "--dry-run"])

    assert result.exit_code == 0, result.output
    assert "  ! savvycal could not be read (" in result.output
    assert "its links stay as they are" in result.output
    assert "  - delete  savvycal" not in result.output
