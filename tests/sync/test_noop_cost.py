"""Once providers' latency is hidden by the threads pool, a no-op account's own cost is what sets
a worker's pace: it reads its account and tokens once, and asks Redis once per provider call."""

from __future__ import annotations

import pytest
from sqlalchemy import event

from bench.seeding import seed_accounts
from bench.standin import serve
from tests.conftest import make_settings
from worker import runtime
from worker.storage import migrate
from worker.sync import triggers
from worker.tasks.reconcile import reconcile_account


@pytest.fixture
def one_account(tmp_path, real_redis):
    server, world = serve(1)
    settings = make_settings(
        tmp_path,
        close_api_url=f"{world.base}/close",
        calendly_api_url=f"{world.base}/calendly",
        savvycal_api_url=f"{world.base}/savvycal",
    )
    runtime.configure(settings, redis_client=real_redis)
    migrate.upgrade(runtime.engine())
    (account_id,) = seed_accounts(world.base, 1)
    triggers.record([account_id])
    reconcile_account.run(account_id)  # the first sync writes the links
    yield account_id
    runtime.engine().dispose()
    server.shutdown()


def test_a_noop_sync_reads_the_connections_and_their_tokens_in_one_statement(one_account):
    statements: list[str] = []
    engine = runtime.engine()

    def seen(_conn, _cursor, sql, *_args) -> None:
        statements.append(" ".join(sql.split()))

    triggers.record([one_account])
    event.listen(engine, "before_cursor_execute", seen)
    try:
        assert reconcile_account.run(one_account) == "ran"
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    reads_of_connections = [s for s in statements if s.startswith("SELECT") and "connections" in s]
    assert len(reads_of_connections) == 1, reads_of_connections
    # 17 before the one-statement reads; 13 then, and the sync history (issue 11) adds the run's
    # prune, one DELETE in the transaction that finishes the run.
    assert len(statements) <= 14, statements
