"""gateway state: API keys and idempotent requests

Revision ID: 0002
Revises: 0001
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIGINT = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "api_key",
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("address", sa.String(length=42), nullable=False),
        sa.Column("label", sa.String(length=100), nullable=False),
        sa.Column("created_at", BIGINT, nullable=False),
        sa.Column("revoked", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("key_hash"),
    )
    op.create_index("ix_api_key_address", "api_key", ["address"], unique=False)
    op.create_table(
        "idempotent_request",
        sa.Column("account", sa.String(length=42), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("request_hash", sa.String(length=64), nullable=False),
        sa.Column("status_code", BIGINT, nullable=True),
        sa.Column("response", sa.Text(), nullable=True),
        sa.Column("created_at", BIGINT, nullable=False),
        sa.PrimaryKeyConstraint("account", "key"),
    )


def downgrade() -> None:
    op.drop_table("idempotent_request")
    op.drop_index("ix_api_key_address", table_name="api_key")
    op.drop_table("api_key")
