"""A stack of real processes around the sandbox; its logs join a failing test's report."""

from __future__ import annotations

import pytest

from tests.processes import Stack


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    stack = getattr(item, "funcargs", {}).get("stack")
    if report.when == "call" and report.failed and isinstance(stack, Stack):
        report.sections.append(("stack logs", stack.logs()))
    return report


@pytest.fixture
def stack(tmp_path, redis_server, real_redis):
    stack = Stack(tmp_path, redis_server.url)
    yield stack
    stack.stop_all()
