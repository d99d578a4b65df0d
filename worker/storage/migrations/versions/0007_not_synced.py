"""sync_runs.not_synced_json: what each full run found at the providers that is not in Close, and
why (the rep's "why isn't my link here?"); link_mappings.duration_in_minutes: the duration
pushed, shown beside each link.

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("sync_runs", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("not_synced_json", sa.Text(), nullable=False, server_default="[]")
        )
    with op.batch_alter_table("link_mappings", schema=None) as batch_op:
        batch_op.add_column(sa.Column("duration_in_minutes", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("link_mappings", schema=None) as batch_op:
        batch_op.drop_column("duration_in_minutes")
    with op.batch_alter_table("sync_runs", schema=None) as batch_op:
        batch_op.drop_column("not_synced_json")
