"""`celery -A worker worker`, as the Procfile starts it, runs the threads pool sized by
WORKER_CONCURRENCY (CONTRACT §2): the pool is the app's configuration, not the command line's."""

from __future__ import annotations

import pytest

from tests.processes import Stack
from worker.config import DEFAULT_WORKER_CONCURRENCY, ConfigError, load_settings

DEV = {"SCHEDSYNC_ENV": "development", "SECRET_KEY": "k", "ENCRYPTION_KEYS": "x"}


def test_worker_concurrency_defaults_and_is_read_from_the_environment():
    assert load_settings(DEV, dotenv=False).worker_concurrency == DEFAULT_WORKER_CONCURRENCY
    settings = load_settings({**DEV, "WORKER_CONCURRENCY": "64"}, dotenv=False)
    assert settings.worker_concurrency == 64


@pytest.mark.parametrize("raw", ["0", "-3", "lots", "1.5", "100000"])
def test_a_worker_concurrency_that_cannot_run_is_refused_by_name(raw):
    with pytest.raises(ConfigError, match="WORKER_CONCURRENCY"):
        load_settings({**DEV, "WORKER_CONCURRENCY": raw}, dotenv=False)


def test_an_unknown_worker_pool_is_refused_by_name():
    with pytest.raises(ConfigError, match="WORKER_POOL"):
        load_settings({**DEV, "WORKER_POOL": "gevent"}, dotenv=False)


@pytest.mark.slow
def test_the_procfile_worker_command_runs_the_threads_pool_at_the_configured_concurrency(
    tmp_path, redis_server
):
    stack = Stack(tmp_path, redis_server.url)
    try:
        worker = stack.start_worker(concurrency=12)
        banner = worker.log.read_text()
    finally:
        stack.stop_all()
    assert "concurrency: 12 (thread)" in banner, banner[-2000:]
    # Under threads the whole worker is one process: no pool children to fork.
    assert "ForkPoolWorker" not in banner
