"""sync history: each run's kind and trigger, and every write to Close as a change of its run

sync_runs.kind (full | event_type) and sync_runs.trigger; accounts.sync_requested_trigger (what
asked for the recorded trigger a run takes up); link_changes (CONTRACT §3
`GET /admin/accounts/{close_user_id}/history`). Existing runs were all full syncs.

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("sync_runs", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("kind", sa.String(length=16), nullable=False, server_default="full")
        )
        batch_op.add_column(sa.Column("trigger", sa.String(length=16), nullable=True))
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("sync_requested_trigger", sa.String(length=16), nullable=True)
        )
    op.create_table(
        "link_changes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("provider", sa.String(length=16), nullable=False),
        sa.Column("source_id", sa.String(length=512), nullable=False),
        sa.Column("name", sa.Text(), nullable=True),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("changed_json", sa.Text(), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["run_id"], ["sync_runs.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("link_changes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_link_changes_run_id"), ["run_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("link_changes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_link_changes_run_id"))
    op.drop_table("link_changes")
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.drop_column("sync_requested_trigger")
    with op.batch_alter_table("sync_runs", schema=None) as batch_op:
        batch_op.drop_column("trigger")
        batch_op.drop_column("kind")
