"""community programme (events, attendance, credentials, held drop-off points) and consented
target-group declarations (off chain)

Revision ID: 0007
Revises: 0013
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIGINT = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _ref() -> list[sa.Column[object]]:
    return [
        sa.Column("block_number", BIGINT, nullable=False),
        sa.Column("block_hash", sa.String(length=66), nullable=False),
        sa.Column("tx_hash", sa.String(length=66), nullable=False),
        sa.Column("log_index", BIGINT, nullable=False),
        sa.Column("ts", BIGINT, nullable=False),
    ]


def _int(name: str) -> sa.Column[object]:
    return sa.Column(name, BIGINT, nullable=False)


def _str(name: str, length: int) -> sa.Column[object]:
    return sa.Column(name, sa.String(length=length), nullable=False)


#: table -> (columns, primary key, indexed columns besides block_number and ts)
TABLES: dict[str, tuple[list[sa.Column[object]], list[str], list[str]]] = {
    "community_event": (
        [
            _int("event_id"),
            _int("pilot_id"),
            _str("creator", 42),
            _int("kind"),
            _int("opens"),
            _int("closes"),
            _int("points"),
            _str("signer", 42),
            _str("venue", 66),
        ],
        ["event_id"],
        ["pilot_id"],
    ),
    "attendance": (
        [_int("event_id"), _int("pilot_id"), _str("member", 42), _int("points")],
        ["block_hash", "log_index"],
        ["event_id", "pilot_id", "member"],
    ),
    "skill_credential": (
        [
            _int("credential_id"),
            _int("pilot_id"),
            _str("holder", 42),
            _str("skill", 66),
            _int("level"),
            _int("event_id"),
            _str("issuer", 42),
        ],
        ["credential_id"],
        ["pilot_id", "holder"],
    ),
    "hold_period": (
        [_int("pilot_id"), _str("admin", 42), _int("period")],
        ["block_hash", "log_index"],
        ["pilot_id"],
    ),
    "drop_off_hold": (
        [
            _int("hold_id"),
            _int("pilot_id"),
            _str("member", 42),
            _int("points"),
            _int("release_at"),
            _str("issuer", 42),
            _str("evidence", 66),
        ],
        ["hold_id"],
        ["pilot_id", "member"],
    ),
    "hold_void": (
        [_int("hold_id"), _int("pilot_id"), _str("by", 42), _str("reason", 66)],
        ["block_hash", "log_index"],
        ["hold_id", "pilot_id"],
    ),
    "hold_release": (
        [_int("hold_id"), _int("pilot_id"), _str("member", 42), _int("points")],
        ["block_hash", "log_index"],
        ["hold_id", "pilot_id", "member"],
    ),
}


def upgrade() -> None:
    for table, (columns, key, indexed) in TABLES.items():
        op.create_table(table, *_ref(), *columns, sa.PrimaryKeyConstraint(*key))
        for column in ["block_number", "ts", *indexed]:
            op.create_index(f"ix_{table}_{column}", table, [column], unique=False)
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
    for table, (_, _, indexed) in reversed(TABLES.items()):
        for column in ["block_number", "ts", *indexed]:
            op.drop_index(f"ix_{table}_{column}", table_name=table)
        op.drop_table(table)
