"""Many accounts' syncs at once in one process, as the threads pool runs them, against a provider
stand-in 50 ms away: every account gets exactly its own links, every call carries its own
account's token, and every log line names the account of the task that wrote it."""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import select

from bench.seeding import seed_accounts
from bench.standin import close_user, serve
from tests.conftest import make_settings
from worker import logs, runtime
from worker.storage import migrate
from worker.storage.models import LinkMapping
from worker.sync import triggers
from worker.tasks.reconcile import reconcile_account

ACCOUNTS = 40
THREADS = 16
EVENT_TYPES = LINKS = 5


class Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.addFilter(logs.TaskContextFilter())
        self.lines: list[tuple[str | None, str | None, str]] = []

    def emit(self, record: logging.LogRecord) -> None:
        entry = (getattr(record, "task_id", None), getattr(record, "account", None))
        self.lines.append((*entry, record.getMessage()))


@pytest.fixture
def world(tmp_path, real_redis):
    server, world = serve(ACCOUNTS, EVENT_TYPES, LINKS)
    settings = make_settings(
        tmp_path,
        close_api_url=f"{world.base}/close",
        calendly_api_url=f"{world.base}/calendly",
        savvycal_api_url=f"{world.base}/savvycal",
        worker_concurrency=THREADS,
    )
    runtime.configure(settings, redis_client=real_redis)
    migrate.upgrade(runtime.engine())
    yield world
    runtime.engine().dispose()
    server.shutdown()


def run_all(account_ids: list[int]) -> list[str]:
    """Every account's reconcile task body, THREADS at a time, each with its own task id as
    Celery's signals would give it (worker/celery_app.py)."""
    triggers.record(account_ids)

    def one(account_id: int) -> str:
        logs.begin_task(f"task-{account_id}")
        try:
            return reconcile_account.run(account_id)
        finally:
            logs.end_task()

    with ThreadPoolExecutor(THREADS) as pool:
        return list(pool.map(one, account_ids))


def test_concurrent_syncs_never_mix_up_accounts(world):
    ids = seed_accounts(world.base, ACCOUNTS)
    account_of = {account_id: n for n, account_id in enumerate(ids)}
    collect = Collect()
    root = logging.getLogger()
    root.addHandler(collect)
    old_level = root.level
    root.setLevel(logging.INFO)
    try:
        first = run_all(ids)
        noop = run_all(ids)
    finally:
        root.removeHandler(collect)
        root.setLevel(old_level)

    assert first == noop == ["ran"] * ACCOUNTS
    stats = world.stats()
    assert stats["leaks"] == []
    assert stats["max_in_flight"] > 1  # the syncs did overlap
    for n in range(ACCOUNTS):
        held = world.close_links[n]
        assert len(held) == EVENT_TYPES + LINKS
        assert all(sid.endswith(":" + close_user(n)) for sid in held)
        assert all(f" of {n}" in link["name"] for link in held.values())
    with runtime.session_scope() as session:
        for account_id, source_id in session.execute(
            select(LinkMapping.account_id, LinkMapping.source_id)
        ):
            assert source_id.endswith(":" + close_user(account_of[account_id]))
    # The no-op round: three reads an account, and not one write.
    reads = {k: v for k, v in stats["requests"].items() if k.startswith("GET")}
    writes = sum(v for k, v in stats["requests"].items() if not k.startswith("GET"))
    assert writes == ACCOUNTS * (EVENT_TYPES + LINKS)  # all of them in the first round
    assert sum(reads.values()) == 2 * 3 * ACCOUNTS

    # Each task's lines carry its own task id, and only its own account.
    summaries = [line for line in collect.lines if line[2].startswith("full sync of ")]
    assert len(summaries) == 2 * ACCOUNTS
    for task_id, account, message in collect.lines:
        if task_id is None or account is None:
            continue
        expected = close_user(account_of[int(task_id.removeprefix("task-"))])
        assert account == expected, (task_id, account, message)
        if message.startswith("full sync of "):
            assert message.split()[3].rstrip(":") == expected
