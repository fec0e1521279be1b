"""Saved revisions: named copies of the stored resources, for "what changed since then?" in the UI's diff.

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
    op.create_table(
        "revisions",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("label", sa.Text, nullable=False),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.BigInteger, nullable=False),
        sa.Column("subscriptions", sa.JSON, nullable=False),
        sa.Column("rows", sa.JSON, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("revisions")
