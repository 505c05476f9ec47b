"""security hardening: raw on-chain codes, per-pilot material codes, malformed logs,
redemption claim codes

Revision ID: 0013
Revises: 0016
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIGINT = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _log_ref() -> list[sa.Column[object]]:
    return [
        sa.Column("block_number", BIGINT, nullable=False),
        sa.Column("block_hash", sa.String(length=66), nullable=False),
        sa.Column("tx_hash", sa.String(length=66), nullable=False),
        sa.Column("log_index", BIGINT, nullable=False),
        sa.Column("ts", BIGINT, nullable=False),
    ]


def _raw(code: str, size: int) -> str:
    """The bytesN value a code indexed before this revision stood for (they were UTF-8 text)."""
    return "0x" + code.encode().ljust(size, b"\0").hex()


def upgrade() -> None:
    conn = op.get_bind()
    with op.batch_alter_table("pilot", schema=None) as batch_op:
        batch_op.alter_column("code", type_=sa.String(length=32), existing_nullable=False)
        batch_op.add_column(
            sa.Column("code_raw", sa.String(length=18), nullable=False, server_default="")
        )
    pilot = sa.table("pilot", sa.column("pilot_id"), sa.column("code"), sa.column("code_raw"))
    for pilot_id, code in conn.execute(sa.select(pilot.c.pilot_id, pilot.c.code)).all():
        conn.execute(
            pilot.update().where(pilot.c.pilot_id == pilot_id).values(code_raw=_raw(code, 8))
        )

    # The unique code becomes unique per pilot: copy the table (an unnamed SQLite constraint
    # cannot be dropped in place).
    op.create_table(
        "material_class_v13",
        *_log_ref(),
        sa.Column("material_id", BIGINT, nullable=False),
        sa.Column("pilot_id", BIGINT, nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("code_raw", sa.String(length=34), nullable=False),
        sa.Column("kind", BIGINT, nullable=False),
        sa.PrimaryKeyConstraint("material_id"),
        sa.UniqueConstraint("pilot_id", "code", name="uq_material_class_pilot_code"),
    )
    old = sa.table(
        "material_class",
        *(sa.column(c) for c in ("block_number", "block_hash", "tx_hash", "log_index", "ts")),
        sa.column("material_id"),
        sa.column("code"),
        sa.column("kind"),
    )
    new = sa.table(
        "material_class_v13",
        *(sa.column(c) for c in ("block_number", "block_hash", "tx_hash", "log_index", "ts")),
        *(sa.column(c) for c in ("material_id", "pilot_id", "code", "code_raw", "kind")),
    )
    rows = [
        {**row._asdict(), "pilot_id": 0, "code_raw": _raw(row.code, 16)}
        for row in conn.execute(sa.select(old)).all()
    ]
    if rows:
        conn.execute(new.insert(), rows)
    op.drop_table("material_class")
    op.rename_table("material_class_v13", "material_class")
    with op.batch_alter_table("material_class", schema=None) as batch_op:
        batch_op.create_index("ix_material_class_block_number", ["block_number"], unique=False)
        batch_op.create_index("ix_material_class_ts", ["ts"], unique=False)
        batch_op.create_index("ix_material_class_pilot_id", ["pilot_id"], unique=False)

    op.create_table(
        "malformed_log",
        *_log_ref(),
        sa.Column("address", sa.String(length=42), nullable=False),
        sa.Column("topics", sa.String(), nullable=False),
        sa.Column("data", sa.String(), nullable=False),
        sa.Column("reason", sa.String(), nullable=False),
        sa.PrimaryKeyConstraint("block_hash", "log_index"),
    )
    with op.batch_alter_table("malformed_log", schema=None) as batch_op:
        batch_op.create_index("ix_malformed_log_block_number", ["block_number"], unique=False)
        batch_op.create_index("ix_malformed_log_ts", ["ts"], unique=False)

    op.create_table(
        "redemption_claim",
        sa.Column("redemption_id", BIGINT, nullable=False),
        sa.Column("member", sa.String(length=42), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", BIGINT, nullable=False),
        sa.PrimaryKeyConstraint("redemption_id"),
    )


def downgrade() -> None:
    op.drop_table("redemption_claim")
    op.drop_table("malformed_log")
    with op.batch_alter_table("material_class", schema=None) as batch_op:
        batch_op.drop_index("ix_material_class_pilot_id")
        batch_op.drop_constraint("uq_material_class_pilot_code", type_="unique")
        batch_op.drop_column("code_raw")
        batch_op.drop_column("pilot_id")
        batch_op.create_unique_constraint("uq_material_class_code", ["code"])
    with op.batch_alter_table("pilot", schema=None) as batch_op:
        batch_op.drop_column("code_raw")
