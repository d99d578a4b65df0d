"""connections.cleanup_next_at / cleanup_attempts: a disconnect's clean-up is recorded before it
is enqueued and retried by a sweep until it is done (CONTRACT §5 "Durable clean-up")

A connection already disconnected with tokens still stored is a clean-up that the old
fire-and-forget task gave up on: it is recorded as due now, so the sweep finishes it.

Revision ID: 0004
Revises: 0003
"""

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("connections", schema=None) as batch_op:
        batch_op.add_column(sa.Column("cleanup_next_at", sa.DateTime(), nullable=True))
        batch_op.add_column(
            sa.Column("cleanup_attempts", sa.Integer(), nullable=False, server_default="0")
        )
        batch_op.create_index(
            batch_op.f("ix_connections_cleanup_next_at"), ["cleanup_next_at"], unique=False
        )
    connections = sa.table(
        "connections",
        sa.column("state", sa.String),
        sa.column("access_token", sa.Text),
        sa.column("refresh_token", sa.Text),
        sa.column("cleanup_next_at", sa.DateTime),
    )
    op.execute(
        connections.update()
        .where(
            connections.c.state == "disconnected",
            sa.or_(
                connections.c.access_token.is_not(None), connections.c.refresh_token.is_not(None)
            ),
        )
        .values(cleanup_next_at=datetime.now(UTC).replace(tzinfo=None))
    )


def downgrade() -> None:
    with op.batch_alter_table("connections", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_connections_cleanup_next_at"))
        batch_op.drop_column("cleanup_attempts")
        batch_op.drop_column("cleanup_next_at")
