"""write queue: jobs, their signed requests and the relayer's batches (replaces idempotent_request)

Revision ID: 0003
Revises: 0002
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIGINT = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.drop_table("idempotent_request")
    op.create_table(
        "write_job",
        sa.Column("job_id", sa.String(length=32), nullable=False),
        sa.Column("account", sa.String(length=42), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("pilot_id", BIGINT, nullable=True),
        sa.Column("idem_key", sa.String(length=200), nullable=True),
        sa.Column("request_hash", sa.String(length=64), nullable=False),
        sa.Column("signer", sa.String(length=42), nullable=True),
        sa.Column("calls", sa.Text(), nullable=False),
        sa.Column("handles", sa.Text(), nullable=True),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("batch_id", BIGINT, nullable=True),
        sa.Column("tx_hash", sa.String(length=66), nullable=True),
        sa.Column("block_number", BIGINT, nullable=True),
        sa.Column("result", sa.Text(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("updated_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("job_id"),
        sa.UniqueConstraint("account", "idem_key", name="uq_write_job_idem"),
    )
    op.create_index("ix_write_job_account", "write_job", ["account"], unique=False)
    op.create_index("ix_write_job_state", "write_job", ["state"], unique=False)
    op.create_index("ix_write_job_batch_id", "write_job", ["batch_id"], unique=False)
    op.create_table(
        "relay_request",
        sa.Column("signer", sa.String(length=42), nullable=False),
        sa.Column("nonce", BIGINT, nullable=False),
        sa.Column("job_id", sa.String(length=32), nullable=False),
        sa.Column("position", BIGINT, nullable=False),
        sa.Column("deadline", BIGINT, nullable=False),
        sa.Column("request", sa.Text(), nullable=False),
        sa.Column("exposed", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("signer", "nonce"),
    )
    op.create_index("ix_relay_request_job_id", "relay_request", ["job_id"], unique=False)
    op.create_table(
        "relay_batch",
        sa.Column("batch_id", sa.Integer(), nullable=False),
        sa.Column("relayer_nonce", BIGINT, nullable=False),
        sa.Column("requests", sa.Text(), nullable=False),
        sa.Column("attempts", sa.Text(), nullable=False),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("block_number", BIGINT, nullable=True),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("batch_id"),
    )
    op.create_index("ix_relay_batch_state", "relay_batch", ["state"], unique=False)


def downgrade() -> None:
    op.drop_table("relay_batch")
    op.drop_table("relay_request")
    op.drop_table("write_job")
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
