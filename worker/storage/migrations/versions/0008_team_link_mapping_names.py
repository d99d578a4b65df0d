"""team_link_mappings.link_name: the name of the rep's link a team link was last mapped to, so
the history can say what a re-mapping or an unmapping changed it from after that link has left
Close.

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("team_link_mappings", schema=None) as batch_op:
        batch_op.add_column(sa.Column("link_name", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("team_link_mappings", schema=None) as batch_op:
        batch_op.drop_column("link_name")
