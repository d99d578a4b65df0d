"""LOG_FORMAT=json: one JSON object per line, each task's lines carrying its account, provider,
task id and outcome, and no secret in any of them."""

from __future__ import annotations

import io
import json
import logging

import pytest
import responses

from tests.sync.fakes import FakeCalendly, FakeClose, FakeSavvyCal
from worker.logs import configure_logging
from worker.sync import triggers
from worker.tasks.reconcile import reconcile_account


@pytest.fixture
def log_lines(settings):
    """Configure logging as a process with LOG_FORMAT=json does; read back the parsed lines."""
    stream = io.StringIO()
    configure_logging(settings.with_overrides(log_format="json"), stream=stream)

    def lines() -> list[dict]:
        raw = stream.getvalue().splitlines()
        return [json.loads(line) for line in raw]  # every line is one JSON object

    yield lines
    root = logging.getLogger()
    for handler in [h for h in root.handlers if getattr(h, "_schedsync", False)]:
        root.removeHandler(handler)


@pytest.fixture
def world(db):
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        yield FakeClose(rsps), FakeCalendly(rsps), FakeSavvyCal(rsps)


def test_a_reconcile_tasks_lines_carry_account_task_id_and_outcome(world, account, log_lines):
    close, calendly, savvycal = world
    calendly.add("E1", name="Intro")
    triggers.record([account])

    task_id = reconcile_account.apply(args=(account,)).id

    lines = log_lines()
    ours = [line for line in lines if line.get("task_id") == task_id]
    summary = next(line for line in ours if line["message"].startswith("full sync of user_A"))
    assert summary["account"] == "user_A"
    assert summary["outcome"] == "ok"
    assert summary["level"] == "info"
    assert summary["logger"] == "worker.sync.full"
    task_line = next(line for line in ours if line["message"].startswith("reconcile of account"))
    assert task_line["account"] == "user_A"
    assert task_line["outcome"] == "ran"
    # Celery's own line about the task carries the fields too.
    celery_line = next(line for line in ours if "succeeded" in line["message"])
    assert celery_line["account"] == "user_A"
    assert celery_line["outcome"] == "ran"


def test_a_provider_that_cannot_be_read_is_logged_with_its_provider(world, account, log_lines):
    close, calendly, savvycal = world
    savvycal.status = 503
    triggers.record([account])

    task_id = reconcile_account.apply(args=(account,)).id

    failure = next(
        line
        for line in log_lines()
        if line.get("task_id") == task_id and line["message"].startswith("savvycal could not")
    )
    assert failure["provider"] == "savvycal"
    assert failure["account"] == "user_A"
    assert failure["level"] == "warning"


def test_task_fields_do_not_leak_into_lines_after_the_task(world, account, log_lines):
    triggers.record([account])
    reconcile_account.apply(args=(account,))

    logging.getLogger("schedsync.test").info("after the task")

    last = log_lines()[-1]
    assert last["message"] == "after the task"
    assert not {"account", "provider", "task_id", "outcome"} & set(last)


def test_the_scrubber_removes_tokens_from_messages_and_errors(log_lines):
    log = logging.getLogger("schedsync.test")
    log.warning("calling with Authorization: Bearer abc.DEF-123_secret")
    log.info("token answer refresh_token=xyz789&expires_in=7200")
    log.info('{"access_token": "at-quoted", "refresh_token":"rt-quoted"}')
    try:
        raise RuntimeError("refused: client_secret=shhh code=the-code")
    except RuntimeError:
        log.exception("exchange failed for %s", "Bearer from-args")

    lines = log_lines()
    text = json.dumps(lines)
    for secret in ("abc.DEF-123_secret", "xyz789", "at-quoted", "rt-quoted", "shhh", "the-code"):
        assert secret not in text
    assert "from-args" not in text
    assert lines[0]["message"] == "calling with Authorization: Bearer [redacted]"
    assert lines[1]["message"] == "token answer refresh_token=[redacted]&expires_in=7200"
    assert "RuntimeError" in lines[3]["error"]


def test_explicit_fields_are_json_fields(log_lines):
    logging.getLogger("schedsync.test").info(
        "done", extra={"account": "user_A", "provider": "calendly", "outcome": "ok"}
    )
    line = log_lines()[-1]
    assert {k: line[k] for k in ("account", "provider", "outcome")} == {
        "account": "user_A",
        "provider": "calendly",
        "outcome": "ok",
    }
    assert set(line) == {"time", "level", "logger", "message", "account", "provider", "outcome"}


def test_text_format_shows_the_fields_at_the_end_of_the_line(settings, world, account):
    stream = io.StringIO()
    configure_logging(settings, stream=stream)
    try:
        calendly = world[1]
        calendly.add("E1")
        triggers.record([account])
        task_id = reconcile_account.apply(args=(account,)).id
    finally:
        root = logging.getLogger()
        for handler in [h for h in root.handlers if getattr(h, "_schedsync", False)]:
            root.removeHandler(handler)
    summary = next(line for line in stream.getvalue().splitlines() if "full sync of" in line)
    assert summary.endswith(f"[account=user_A task_id={task_id} outcome=ok]")
