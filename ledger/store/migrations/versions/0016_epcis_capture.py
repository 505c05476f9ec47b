"""EPCIS import mappings per pilot, capture jobs, passports' evidence documents

Revision ID: 0016
Revises: 0003
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIGINT = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "epcis_mapping",
        sa.Column("pilot_id", sa.Integer(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("updated_by", sa.String(length=42), nullable=False),
        sa.Column("updated_at", BIGINT, nullable=False),
        sa.PrimaryKeyConstraint("pilot_id"),
    )
    op.create_table(
        "epcis_capture",
        sa.Column("capture_id", sa.String(length=40), nullable=False),
        sa.Column("account", sa.String(length=42), nullable=False),
        sa.Column("created_at", BIGINT, nullable=False),
        sa.Column("finished_at", BIGINT, nullable=True),
        sa.Column("running", sa.Boolean(), nullable=False),
        sa.Column("success", sa.Boolean(), nullable=False),
        sa.Column("events", BIGINT, nullable=False),
        sa.Column("errors", sa.Text(), nullable=False),
        sa.Column("result", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("capture_id"),
    )
    op.create_index("ix_epcis_capture_account", "epcis_capture", ["account"], unique=False)
    op.create_table(
        "evidence_document",
        sa.Column("sha256", sa.String(length=66), nullable=False),
        sa.Column("lot_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("media_type", sa.String(length=100), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("uploaded_by", sa.String(length=42), nullable=False),
        sa.Column("uploaded_at", BIGINT, nullable=False),
        sa.PrimaryKeyConstraint("sha256", "lot_id"),
    )


def downgrade() -> None:
    op.drop_table("evidence_document")
    op.drop_index("ix_epcis_capture_account", table_name="epcis_capture")
    op.drop_table("epcis_capture")
    op.drop_table("epcis_mapping")
