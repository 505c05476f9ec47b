"""a check-in row no longer repeats its event's points

Revision ID: 0010
Revises: 0009

`CheckedIn` carries the event, the member and the pilot; the points are the event's own
(`community_event.points`) and are paid by the `PointsAwarded` of the same transaction.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("attendance") as batch:
        batch.drop_column("points")


def downgrade() -> None:
    with op.batch_alter_table("attendance") as batch:
        batch.add_column(sa.Column("points", sa.Integer(), nullable=False, server_default="0"))
