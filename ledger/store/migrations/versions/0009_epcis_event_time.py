"""imported EPCIS events' own times, by event hash

Revision ID: 0009
Revises: 0008
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "epcis_event_time",
        sa.Column("evidence", sa.String(length=66), nullable=False),
        sa.Column("event_time", sa.String(length=40), nullable=False),
        sa.Column("time_zone_offset", sa.String(length=6), nullable=False),
        sa.PrimaryKeyConstraint("evidence"),
    )


def downgrade() -> None:
    op.drop_table("epcis_event_time")
