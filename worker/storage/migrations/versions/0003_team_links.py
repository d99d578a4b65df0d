"""team links: Close shared scheduling links and what each rep was last mapped to

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("link_mappings", schema=None) as batch_op:
        batch_op.add_column(sa.Column("slug", sa.String(length=255), nullable=True))

    op.create_table(
        "team_links",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organization_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("calendly_slug", sa.String(length=255), nullable=True),
        sa.Column("savvycal_slug", sa.String(length=255), nullable=True),
        sa.Column("close_shared_link_id", sa.String(length=64), nullable=True),
        sa.Column("template_tag", sa.String(length=255), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_by_account_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["created_by_account_id"], ["accounts.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("organization_id", "name"),
    )
    with op.batch_alter_table("team_links", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_team_links_organization_id"), ["organization_id"], unique=False
        )

    op.create_table(
        "team_link_mappings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("team_link_id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("provider", sa.String(length=16), nullable=True),
        sa.Column("source_id", sa.String(length=512), nullable=True),
        sa.Column("close_link_id", sa.String(length=64), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["team_link_id"], ["team_links.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("team_link_id", "account_id"),
    )
    with op.batch_alter_table("team_link_mappings", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_team_link_mappings_account_id"), ["account_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_team_link_mappings_team_link_id"), ["team_link_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("team_link_mappings", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_team_link_mappings_team_link_id"))
        batch_op.drop_index(batch_op.f("ix_team_link_mappings_account_id"))
    op.drop_table("team_link_mappings")
    with op.batch_alter_table("team_links", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_team_links_organization_id"))
    op.drop_table("team_links")
    with op.batch_alter_table("link_mappings", schema=None) as batch_op:
        batch_op.drop_column("slug")
