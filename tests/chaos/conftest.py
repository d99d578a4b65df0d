"""A stack of real processes around the sandbox; its logs join a failing test's report."""

from __future__ import annotations

import pytest

from tests.conftest import RedisServer
from tests.processes import Stack


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if report.when == "call" and report.failed:
        for value in getattr(item, "funcargs", {}).values():
            if isinstance(value, Stack):
                report.sections.append(("stack logs", value.logs()))
    return report


@pytest.fixture
def stack(tmp_path, redis_server, real_redis):
    stack = Stack(tmp_path, redis_server.url)
    yield stack
    stack.stop_all()


@pytest.fixture
def own_redis(tmp_path):
    """A redis-server of this test's own, to stop and start again on the same port."""
    directory = tmp_path / "redis"
    directory.mkdir()
    server = RedisServer(directory)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def stack_on_own_redis(tmp_path, own_redis):
    stack = Stack(tmp_path, own_redis.url)
    yield stack
    stack.stop_all()
