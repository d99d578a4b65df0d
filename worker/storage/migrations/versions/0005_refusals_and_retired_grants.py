"""connections.webhook_reason: why Calendly refused a webhook subscription (issue 9.11);
retired_grants: a Close grant replaced by a sign-in under another organization, kept until its
links there are deleted and it is revoked (issue 9.13)

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("connections", schema=None) as batch_op:
        batch_op.add_column(sa.Column("webhook_reason", sa.String(length=255), nullable=True))
    op.create_table(
        "retired_grants",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("close_user_id", sa.String(length=64), nullable=False),
        sa.Column("organization_id", sa.String(length=64), nullable=True),
        sa.Column("close_oauth_client_id", sa.String(length=128), nullable=True),
        sa.Column("access_token", sa.Text(), nullable=True),
        sa.Column("refresh_token", sa.Text(), nullable=True),
        sa.Column("token_expires_at", sa.DateTime(), nullable=True),
        sa.Column("token_generation", sa.Integer(), nullable=False),
        sa.Column("source_ids_json", sa.Text(), nullable=False),
        sa.Column("shared_link_ids_json", sa.Text(), nullable=False),
        sa.Column("delete_links", sa.Boolean(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("retired_grants", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_retired_grants_account_id"), ["account_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_retired_grants_next_attempt_at"), ["next_attempt_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("retired_grants", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_retired_grants_next_attempt_at"))
        batch_op.drop_index(batch_op.f("ix_retired_grants_account_id"))
    op.drop_table("retired_grants")
    with op.batch_alter_table("connections", schema=None) as batch_op:
        batch_op.drop_column("webhook_reason")
