"""consented target-group declarations (off chain)

Revision ID: 0007
Revises: 0002
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIGINT = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "group_declaration",
        sa.Column("pilot_id", BIGINT, nullable=False),
        sa.Column("member", sa.String(length=42), nullable=False),
        sa.Column("group_code", sa.String(length=40), nullable=False),
        sa.Column("consent_version", sa.String(length=20), nullable=False),
        sa.Column("consented_at", BIGINT, nullable=False),
        sa.PrimaryKeyConstraint("pilot_id", "member", "group_code"),
    )


def downgrade() -> None:
    op.drop_table("group_declaration")
