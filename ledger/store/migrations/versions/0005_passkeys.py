"""passkeys: enrolment codes, WebAuthn credentials and challenges, page sessions

Revision ID: 0005
Revises: 0004
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIGINT = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "enrolment_code",
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("address", sa.String(length=42), nullable=False),
        sa.Column("pilot_id", BIGINT, nullable=False),
        sa.Column("issued_by", sa.String(length=42), nullable=False),
        sa.Column("created_at", BIGINT, nullable=False),
        sa.Column("expires_at", BIGINT, nullable=False),
        sa.Column("used_at", BIGINT, nullable=True),
        sa.PrimaryKeyConstraint("code_hash"),
    )
    op.create_index("ix_enrolment_code_address", "enrolment_code", ["address"], unique=False)
    op.create_table(
        "passkey",
        sa.Column("credential_id", sa.String(length=1400), nullable=False),
        sa.Column("address", sa.String(length=42), nullable=False),
        sa.Column("public_key", sa.String(), nullable=False),
        sa.Column("sign_count", BIGINT, nullable=False),
        sa.Column("label", sa.String(length=100), nullable=False),
        sa.Column("created_at", BIGINT, nullable=False),
        sa.Column("last_used_at", BIGINT, nullable=True),
        sa.Column("revoked", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("credential_id"),
    )
    op.create_index("ix_passkey_address", "passkey", ["address"], unique=False)
    op.create_table(
        "passkey_challenge",
        sa.Column("challenge_hash", sa.String(length=64), nullable=False),
        sa.Column("purpose", sa.String(length=16), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=True),
        sa.Column("created_at", BIGINT, nullable=False),
        sa.PrimaryKeyConstraint("challenge_hash"),
    )
    op.create_table(
        "web_session",
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("address", sa.String(length=42), nullable=False),
        sa.Column("credential_id", sa.String(length=1400), nullable=False),
        sa.Column("created_at", BIGINT, nullable=False),
        sa.Column("expires_at", BIGINT, nullable=False),
        sa.PrimaryKeyConstraint("token_hash"),
    )
    op.create_index("ix_web_session_address", "web_session", ["address"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_web_session_address", table_name="web_session")
    op.drop_table("web_session")
    op.drop_table("passkey_challenge")
    op.drop_index("ix_passkey_address", table_name="passkey")
    op.drop_table("passkey")
    op.drop_index("ix_enrolment_code_address", table_name="enrolment_code")
    op.drop_table("enrolment_code")
