"""shared limits: rate-limit buckets and the role cache, for every gateway worker

Revision ID: 0008
Revises: 0005
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIGINT = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "rate_bucket",
        sa.Column("account", sa.String(length=42), nullable=False),
        sa.Column("tokens", sa.Float(), nullable=False),
        sa.Column("updated_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("account"),
    )
    op.create_index("ix_rate_bucket_updated_at", "rate_bucket", ["updated_at"])
    op.create_table(
        "role_cache",
        sa.Column("pilot_id", BIGINT, nullable=False),
        sa.Column("account", sa.String(length=42), nullable=False),
        sa.Column("roles", BIGINT, nullable=False),
        sa.Column("expires_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("pilot_id", "account"),
    )
    op.create_index("ix_role_cache_expires_at", "role_cache", ["expires_at"])


def downgrade() -> None:
    op.drop_index("ix_role_cache_expires_at", table_name="role_cache")
    op.drop_table("role_cache")
    op.drop_index("ix_rate_bucket_updated_at", table_name="rate_bucket")
    op.drop_table("rate_bucket")
