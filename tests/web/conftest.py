"""Fixtures for the browser routes: tasks sent by name recorded too, a signed-in browser, and the
provider answers the OAuth flows need, mocked with `responses`."""

from __future__ import annotations

import pytest
import responses as responses_lib


@pytest.fixture
def sent(enqueued, monkeypatch):
    """Every task enqueued, whether through a task object or by name: (name, args)."""
    from worker.celery_app import celery_app

    def fake_send_task(name, args=None, kwargs=None, **options):
        enqueued.append((name, tuple(args or ()) + tuple((kwargs or {}).values())))

    monkeypatch.setattr(celery_app, "send_task", fake_send_task)
    return enqueued


@pytest.fixture
def mocked():
    """`responses` that fails the test on any request nobody mocked."""
    with responses_lib.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        yield rsps


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """A failing browser test shows the tail of every process's log beside its traceback."""
    outcome = yield
    report = outcome.get_result()
    stack = getattr(item, "stack", None)
    if report.failed and stack is not None:
        report.sections.append(("process logs", stack.logs()))
