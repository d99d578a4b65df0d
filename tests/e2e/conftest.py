"""One running service for the end-to-end tests: a private redis-server, the sandbox standing in
for Close, Calendly and SavvyCal, gunicorn, a Celery worker and beat, each a real process. The
tests drive it the way a rep and an operator would, over HTTP only."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
import redis

from tests.conftest import free_port
from tests.e2e.operator import Admin
from tests.e2e.world import Sandbox
from tests.processes import Stack

ADMIN_TOKEN = "stack-admin-token"  # what Stack puts in ADMIN_TOKEN
# A Redis database of its own, so leftovers of other tests' brokers never reach this worker.
REDIS_DB = 7
# Beat's sweeps every 2 s instead of 60 s: recorded triggers and refreshes are picked up quickly.
SWEEP_SECONDS = "2"

_running: dict[str, Stack] = {}


@dataclass(frozen=True)
class Service:
    stack: Stack
    sandbox: Sandbox
    web: str
    admin: Admin


@pytest.fixture(scope="package")
def service(tmp_path_factory, redis_server):
    redis_url = redis_server.url.rsplit("/", 1)[0] + f"/{REDIS_DB}"
    redis.Redis.from_url(redis_url).flushdb()
    stack = Stack(tmp_path_factory.mktemp("e2e"), redis_url)
    _running["stack"] = stack
    try:
        _, sandbox_url = stack.start_sandbox()
        sandbox = Sandbox(sandbox_url)
        web_port = free_port()
        web = f"http://127.0.0.1:{web_port}"
        stack.env_overrides.update(
            {
                **sandbox.env(),
                "PUBLIC_URL": web,
                "SCHEDSYNC_SWEEP_SECONDS": SWEEP_SECONDS,
                "HTTP_RETRY_BACKOFF_SECONDS": "0.1",
            }
        )
        stack.migrate()
        stack.start_web(port=web_port)
        stack.start_worker(concurrency=2)
        stack.start_beat()
        yield Service(stack, sandbox, web, Admin(web, ADMIN_TOKEN))
    except BaseException:
        print(stack.logs())
        raise
    finally:
        _running.pop("stack", None)
        stack.stop_all()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """A failing end-to-end test shows the tail of every process's log beside its traceback."""
    outcome = yield
    report = outcome.get_result()
    stack = _running.get("stack")
    if report.failed and stack is not None:
        report.sections.append(("stack logs", stack.logs()))
