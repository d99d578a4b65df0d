import pytest

from worker import runtime
from worker.storage import migrate


@pytest.fixture
def db_real_redis(settings, real_redis):
    """A migrated database with the runtime on the private real redis-server."""
    runtime.configure(settings, redis_client=real_redis)
    migrate.upgrade(runtime.engine())
    yield runtime
    runtime.engine().dispose()
