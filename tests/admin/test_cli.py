"""`flask --app web resync | accounts`: what the operator types and what comes back."""

from __future__ import annotations

from datetime import timedelta

import pytest
import responses

from tests.admin.conftest import add_run
from tests.conftest import add_account
from tests.sync.fakes import FakeCalendly, FakeClose, FakeSavvyCal
from worker import runtime
from worker.storage.models import Account, utcnow

RECONCILE = "worker.tasks.reconcile.reconcile_account"


@pytest.fixture
def eager_runner(settings, fake_redis, db):
    """A CLI whose queued tasks run at once, in this process, against provider fakes."""
    from web import create_app

    app = create_app(settings.with_overrides(celery_always_eager=True), redis_client=fake_redis)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        yield app.test_cli_runner(), FakeClose(rsps), FakeCalendly(rsps), FakeSavvyCal(rsps)
    from worker.celery_app import apply_settings, celery_app

    apply_settings(celery_app, settings)


def test_resync_queues_every_account_with_an_active_connection(runner, world, enqueued):
    result = runner.invoke(args=["resync"])

    assert result.exit_code == 0, result.output
    assert "\nqueued 2 account(s) at " in result.output
    assert sorted(enqueued) == sorted(
        [(RECONCILE, (world["user_A"],)), (RECONCILE, (world["user_D"],))]
    )


def test_resync_of_one_account_queues_only_it(runner, world, enqueued):
    # Both providers broken, but Close takes its writes: a named account is queued (as the API).
    result = runner.invoke(args=["resync", "--account", "user_C"])

    assert result.exit_code == 0, result.output
    assert enqueued == [(RECONCILE, (world["user_C"],))]


def test_resync_of_an_unknown_account_fails_and_queues_nothing(runner, world, enqueued):
    result = runner.invoke(args=["resync", "--account", "user_nobody"])

    assert result.exit_code == 1
    assert "no account has the Close user id or e-mail 'user_nobody'" in result.output
    assert enqueued == []


def test_resync_wait_sums_up_the_runs_it_waited_for(eager_runner, db):
    runner, close, calendly, savvycal = eager_runner
    add_account("user_A")
    add_account("user_B", savvycal=False)
    calendly.add("E1", name="Intro")
    calendly.add("E2", name="Demo")
    savvycal.add("link_1")
    add_run(1, utcnow() - timedelta(minutes=5), outcome="error")  # older: not counted

    result = runner.invoke(args=["resync", "--wait", "--timeout", "30"])

    assert result.exit_code == 0, result.output
    # Calendly's fake lists both event types for each user; SavvyCal only user_A has.
    assert "created=5 updated=0 deleted=0 unchanged=0 failed=0" in result.output
    assert len(close.links) == 5

    again = runner.invoke(args=["resync", "--wait", "--timeout", "30"])
    assert again.exit_code == 0, again.output
    assert "created=0 updated=0 deleted=0 unchanged=5 failed=0" in again.output


def test_resync_wait_polls_until_a_worker_finishes_the_run(runner, account, enqueued, monkeypatch):
    from web import resync_cli

    naps = []

    def worker_finishes_during_the_nap(seconds):
        naps.append(seconds)
        if len(naps) == 2:
            add_run(account, utcnow(), outcome="partial", created=2, failed=1, error="x: 500")

    monkeypatch.setattr(resync_cli.time, "sleep", worker_finishes_during_the_nap)
    add_run(account, utcnow() - timedelta(seconds=1), outcome="ok")  # before the request

    result = runner.invoke(args=["resync", "--wait", "--timeout", "30"])

    assert len(naps) == 2
    assert result.exit_code == 0, result.output
    assert "created=2 updated=0 deleted=0 unchanged=0 failed=1" in result.output
    assert (
        "user_A (user_A@example.com): partial  created=2 updated=0 deleted=0 unchanged=0 "
        "failed=1  error: x: 500"
    ) in result.output.splitlines()


def test_resync_wait_does_not_count_a_run_still_going(runner, account, enqueued, monkeypatch):
    from web import resync_cli

    monkeypatch.setattr(resync_cli, "POLL_SECONDS", 0.01)
    add_run(account, utcnow() + timedelta(seconds=1), outcome="running", finished_at=None)

    result = runner.invoke(args=["resync", "--wait", "--timeout", "0.2"])

    assert result.exit_code == 1
    assert "timed out after 0.2 s waiting for: user_A" in result.output


def test_resync_wait_fails_when_a_sync_ends_in_error(runner, account, enqueued, monkeypatch):
    from web import resync_cli

    monkeypatch.setattr(
        resync_cli.time,
        "sleep",
        lambda _s: add_run(account, utcnow(), outcome="error", error="close: unavailable"),
    )

    result = runner.invoke(args=["resync", "--wait"])

    assert result.exit_code == 1
    assert "user_A (user_A@example.com): error  " in result.output
    assert "error: close: unavailable" in result.output
    assert "some syncs did not succeed" in result.output


def test_resync_wait_does_not_wait_for_an_account_whose_close_grant_is_gone(
    runner, world, enqueued
):
    result = runner.invoke(args=["resync", "--account", "user_B", "--wait", "--timeout", "30"])

    assert result.exit_code == 1
    assert (
        "not queued: user_B (user_B@example.com): its Close grant needs re-authorization"
        in result.output
    )
    assert "timed out" not in result.output
    assert enqueued == []


def test_accounts_prints_one_row_per_account_with_provider_states_and_last_sync(runner, world, db):
    started = utcnow().replace(microsecond=0)
    add_run(world["user_A"], started, outcome="partial")
    with runtime.session_scope() as session:
        session.get(Account, world["user_A"]).connections[0].webhook_state = "polling_only"

    result = runner.invoke(args=["accounts"])

    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].split() == [
        "close", "user", "id", "email", "state", "calendly", "savvycal", "last", "sync", "at",
    ]  # fmt: skip
    rows = {line.split()[0]: line.split() for line in lines[1:]}
    assert set(rows) == set(world)
    stamp = started.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    assert rows["user_A"] == [
        "user_A", "user_A@example.com", "active", "active", "(webhook", "polling_only)",
        "active", "partial", stamp,
    ]  # fmt: skip
    assert rows["user_B"][2] == "needs_reauth"
    assert rows["user_C"][3:] == ["disconnected", "(webhook", "none)", "needs_reauth", "never", "-"]
    assert rows["user_D"][3:] == ["-", "active", "never", "-"]
    assert rows["user_E"][3:] == ["-", "-", "never", "-"]


def test_accounts_says_so_when_there_are_none(runner, db):
    result = runner.invoke(args=["accounts"])
    assert result.exit_code == 0
    assert result.output.splitlines()[-1] == "(no accounts)"
