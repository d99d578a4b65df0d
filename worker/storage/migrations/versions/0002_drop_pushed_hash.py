"""drop link_mappings.pushed_hash: written on every push, never read (what Close holds is
compared field by field instead, CONTRACT §4 "Comparing")

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("link_mappings", schema=None) as batch_op:
        batch_op.drop_column("pushed_hash")


def downgrade() -> None:
    with op.batch_alter_table("link_mappings", schema=None) as batch_op:
        batch_op.add_column(sa.Column("pushed_hash", sa.String(length=64), nullable=True))
