"""read models (aggregates kept by the indexer) and shared gateway state (follower, sign-in)

Revision ID: 0004
Revises: 0006
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIGINT = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _int(name: str, *, key: bool = False) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, BIGINT, nullable=False, primary_key=key)


def _text(name: str, length: int, *, key: bool = False) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, sa.String(length=length), nullable=False, primary_key=key)


def upgrade() -> None:
    op.create_table(
        "agg_flow",
        _int("pilot_id", key=True),
        _int("month", key=True),
        _text("tail", 60, key=True),
        _text("head", 60, key=True),
        _int("material_id", key=True),
        _int("grams"),
    )
    op.create_table(
        "agg_stock",
        _int("pilot_id", key=True),
        _int("month", key=True),
        _text("holder", 42, key=True),
        _int("material_id", key=True),
        _int("grams"),
    )
    op.create_table(
        "agg_maker",
        _int("pilot_id", key=True),
        _int("month", key=True),
        _text("maker", 42, key=True),
        _int("input_grams"),
        _int("output_grams"),
        _int("loss"),
    )
    op.create_table(
        "agg_product",
        _int("pilot_id", key=True),
        _int("month", key=True),
        _int("material_id", key=True),
        _int("fate", key=True),
        _int("grams"),
        _int("recycled_gbp"),
    )
    op.create_table(
        "agg_member",
        _int("pilot_id", key=True),
        _int("month", key=True),
        _text("member", 42, key=True),
        _int("awarded"),
        _int("redeemed"),
        _int("awards"),
        _int("redemptions"),
    )
    op.create_index("ix_agg_member_member", "agg_member", ["member"])
    op.create_table(
        "agg_lot",
        _int("pilot_id", key=True),
        _text("holder", 42, key=True),
        _int("material_id", key=True),
        _int("lots"),
        _int("open_lots"),
    )
    op.create_table(
        "agg_reward",
        _int("reward_id", key=True),
        _int("pilot_id"),
        _text("partner", 42),
        _int("cost"),
        _int("stock_set"),
        _int("redeemed_since_set"),
        _int("expiry"),
        _int("redemptions"),
    )
    op.create_index("ix_agg_reward_pilot_id", "agg_reward", ["pilot_id"])
    op.create_index("ix_lot_pilot_order", "lot", ["pilot_id", "lot_id"])
    op.create_index(
        "ix_token_award_member_order", "token_award", ["member", "block_number", "log_index"]
    )
    op.create_index(
        "ix_redemption_member_order", "redemption", ["member", "block_number", "log_index"]
    )
    op.create_table(
        "follower_state",
        _int("id", key=True),
        _text("state", 20),
        sa.Column("heartbeat", sa.Float(), nullable=False),
        _int("chain_head"),
        _int("indexed_block"),
        sa.Column("last_error", sa.String(), nullable=True),
        sa.Column("error_at", sa.Float(), nullable=True),
    )
    op.create_table(
        "signin_nonce",
        _text("nonce", 64, key=True),
        sa.Column("expires_at", sa.Float(), nullable=False),
    )
    op.create_index("ix_signin_nonce_expires_at", "signin_nonce", ["expires_at"])
    op.create_table(
        "revoked_session",
        _text("token_hash", 64, key=True),
        sa.Column("expires_at", sa.Float(), nullable=False),
    )
    op.create_index("ix_revoked_session_expires_at", "revoked_session", ["expires_at"])


def downgrade() -> None:
    for index, table in (
        ("ix_revoked_session_expires_at", "revoked_session"),
        ("ix_signin_nonce_expires_at", "signin_nonce"),
        ("ix_redemption_member_order", "redemption"),
        ("ix_token_award_member_order", "token_award"),
        ("ix_lot_pilot_order", "lot"),
        ("ix_agg_reward_pilot_id", "agg_reward"),
        ("ix_agg_member_member", "agg_member"),
    ):
        op.drop_index(index, table_name=table)
    for table in (
        "revoked_session",
        "signin_nonce",
        "follower_state",
        "agg_reward",
        "agg_lot",
        "agg_member",
        "agg_product",
        "agg_maker",
        "agg_stock",
        "agg_flow",
    ):
        op.drop_table(table)
