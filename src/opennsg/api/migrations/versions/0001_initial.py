"""Initial schema: resources, operations and the write-version row.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "resources",
        sa.Column("key", sa.String(1024), primary_key=True),
        sa.Column("id", sa.String(1024), nullable=False),
        sa.Column("type", sa.String(200), nullable=False),
        sa.Column("subscription", sa.String(100), nullable=False),
        sa.Column("resource_group", sa.String(200), nullable=True),
        sa.Column("parent", sa.String(1024), nullable=True),
        sa.Column("etag", sa.String(100), nullable=False),
        sa.Column("version", sa.BigInteger, nullable=False),
        sa.Column("body", sa.JSON, nullable=False),
    )
    op.create_index("ix_resources_type", "resources", ["type"])
    op.create_index("ix_resources_subscription", "resources", ["subscription"])
    op.create_index("ix_resources_resource_group", "resources", ["resource_group"])
    op.create_index("ix_resources_parent", "resources", ["parent"])
    op.create_table(
        "operations",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("subscription", sa.String(100), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("result", sa.JSON, nullable=True),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "meta",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("version", sa.BigInteger, nullable=False),
        sa.Column("note", sa.Text, nullable=True),
    )
    op.bulk_insert(
        sa.table("meta", sa.column("id", sa.Integer), sa.column("version", sa.BigInteger)), [{"id": 1, "version": 0}]
    )


def downgrade() -> None:
    op.drop_table("meta")
    op.drop_table("operations")
    op.drop_table("resources")
