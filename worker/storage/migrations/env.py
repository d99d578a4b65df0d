"""Alembic environment: the URL and connection come from `worker.storage.migrate`, not an
alembic.ini."""

from alembic import context

from worker.storage.models import Base

config = context.config
connection = config.attributes.get("connection")

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
