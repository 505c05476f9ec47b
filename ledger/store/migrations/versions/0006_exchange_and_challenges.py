"""exchange (organisations, sites, signed listings, matches) and the challenge board's rows

Revision ID: 0006
Revises: 0007 (re-chained at merge)
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIGINT = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "challenge",
        sa.Column("block_number", BIGINT, nullable=False),
        sa.Column("block_hash", sa.String(length=66), nullable=False),
        sa.Column("tx_hash", sa.String(length=66), nullable=False),
        sa.Column("log_index", BIGINT, nullable=False),
        sa.Column("ts", BIGINT, nullable=False),
        sa.Column("challenge_id", BIGINT, nullable=False),
        sa.Column("pilot_id", BIGINT, nullable=False),
        sa.Column("owner", sa.String(length=42), nullable=False),
        sa.Column("brief", sa.String(length=66), nullable=False),
        sa.Column("material_id", BIGINT, nullable=False),
        sa.Column("budget", sa.String(length=40), nullable=False),
        sa.Column("deadline", BIGINT, nullable=False),
        sa.PrimaryKeyConstraint("challenge_id"),
    )
    op.create_index(op.f("ix_challenge_block_number"), "challenge", ["block_number"], unique=False)
    op.create_index(op.f("ix_challenge_owner"), "challenge", ["owner"], unique=False)
    op.create_index(op.f("ix_challenge_pilot_id"), "challenge", ["pilot_id"], unique=False)
    op.create_index(op.f("ix_challenge_ts"), "challenge", ["ts"], unique=False)
    op.create_table(
        "challenge_text",
        sa.Column("brief", sa.String(length=66), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("need", sa.Text(), nullable=False),
        sa.Column("created_at", BIGINT, nullable=False),
        sa.PrimaryKeyConstraint("brief"),
    )
    op.create_table(
        "organisation",
        sa.Column("id", BIGINT, nullable=False),
        sa.Column("pilot_id", BIGINT, nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("created_at", BIGINT, nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_organisation_pilot_id"), "organisation", ["pilot_id"], unique=False)
    op.create_table(
        "proposal",
        sa.Column("block_number", BIGINT, nullable=False),
        sa.Column("block_hash", sa.String(length=66), nullable=False),
        sa.Column("tx_hash", sa.String(length=66), nullable=False),
        sa.Column("log_index", BIGINT, nullable=False),
        sa.Column("ts", BIGINT, nullable=False),
        sa.Column("proposal_id", BIGINT, nullable=False),
        sa.Column("challenge_id", BIGINT, nullable=False),
        sa.Column("proposer", sa.String(length=42), nullable=False),
        sa.Column("evidence", sa.String(length=66), nullable=False),
        sa.PrimaryKeyConstraint("proposal_id"),
    )
    op.create_index(op.f("ix_proposal_block_number"), "proposal", ["block_number"], unique=False)
    op.create_index(op.f("ix_proposal_challenge_id"), "proposal", ["challenge_id"], unique=False)
    op.create_index(op.f("ix_proposal_proposer"), "proposal", ["proposer"], unique=False)
    op.create_index(op.f("ix_proposal_ts"), "proposal", ["ts"], unique=False)
    op.create_table(
        "proposal_step",
        sa.Column("block_number", BIGINT, nullable=False),
        sa.Column("block_hash", sa.String(length=66), nullable=False),
        sa.Column("tx_hash", sa.String(length=66), nullable=False),
        sa.Column("log_index", BIGINT, nullable=False),
        sa.Column("ts", BIGINT, nullable=False),
        sa.Column("challenge_id", BIGINT, nullable=False),
        sa.Column("proposal_id", BIGINT, nullable=False),
        sa.Column("step", sa.String(length=12), nullable=False),
        sa.Column("award", sa.String(length=40), nullable=False),
        sa.Column("milestones", BIGINT, nullable=False),
        sa.Column("milestone", BIGINT, nullable=True),
        sa.Column("evidence", sa.String(length=66), nullable=True),
        sa.PrimaryKeyConstraint("block_hash", "log_index"),
    )
    op.create_index(
        op.f("ix_proposal_step_block_number"), "proposal_step", ["block_number"], unique=False
    )
    op.create_index(
        op.f("ix_proposal_step_challenge_id"), "proposal_step", ["challenge_id"], unique=False
    )
    op.create_index(
        op.f("ix_proposal_step_proposal_id"), "proposal_step", ["proposal_id"], unique=False
    )
    op.create_index(op.f("ix_proposal_step_ts"), "proposal_step", ["ts"], unique=False)
    op.create_table(
        "org_account",
        sa.Column("account", sa.String(length=42), nullable=False),
        sa.Column("pilot_id", BIGINT, nullable=False),
        sa.Column("organisation_id", BIGINT, nullable=False),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisation.id"],
        ),
        sa.PrimaryKeyConstraint("account", "pilot_id"),
    )
    op.create_index(
        op.f("ix_org_account_organisation_id"), "org_account", ["organisation_id"], unique=False
    )
    op.create_table(
        "site",
        sa.Column("id", BIGINT, nullable=False),
        sa.Column("organisation_id", BIGINT, nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("lat", sa.Float(), nullable=False),
        sa.Column("lon", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisation.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_site_organisation_id"), "site", ["organisation_id"], unique=False)
    op.create_table(
        "listing",
        sa.Column("id", BIGINT, nullable=False),
        sa.Column("pilot_id", BIGINT, nullable=False),
        sa.Column("chain_id", BIGINT, nullable=False),
        sa.Column("account", sa.String(length=42), nullable=False),
        sa.Column("side", sa.String(length=10), nullable=False),
        sa.Column("material", sa.String(length=16), nullable=False),
        sa.Column("grams", BIGINT, nullable=False),
        sa.Column("lot_id", BIGINT, nullable=True),
        sa.Column("interval_days", BIGINT, nullable=True),
        sa.Column("needed_by", BIGINT, nullable=True),
        sa.Column("reach_km", BIGINT, nullable=True),
        sa.Column("site_id", BIGINT, nullable=False),
        sa.Column("created_at", BIGINT, nullable=False),
        sa.Column("expires_at", BIGINT, nullable=False),
        sa.Column("nonce", BIGINT, nullable=False),
        sa.Column("digest", sa.String(length=66), nullable=False),
        sa.Column("signature", sa.String(length=140), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.ForeignKeyConstraint(
            ["site_id"],
            ["site.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("digest"),
    )
    op.create_index(op.f("ix_listing_account"), "listing", ["account"], unique=False)
    op.create_index(op.f("ix_listing_created_at"), "listing", ["created_at"], unique=False)
    op.create_index(op.f("ix_listing_material"), "listing", ["material"], unique=False)
    op.create_index(op.f("ix_listing_pilot_id"), "listing", ["pilot_id"], unique=False)
    op.create_table(
        "exchange_match",
        sa.Column("id", BIGINT, nullable=False),
        sa.Column("pilot_id", BIGINT, nullable=False),
        sa.Column("available_id", BIGINT, nullable=False),
        sa.Column("wanted_id", BIGINT, nullable=False),
        sa.Column("grams", BIGINT, nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("explanation", sa.Text(), nullable=False),
        sa.Column("distance_km", sa.Float(), nullable=False),
        sa.Column("co2e_kg", sa.Float(), nullable=False),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("proposed_by", sa.String(length=42), nullable=False),
        sa.Column("proposed_at", BIGINT, nullable=False),
        sa.Column("decided_by", sa.String(length=42), nullable=True),
        sa.Column("decided_at", BIGINT, nullable=True),
        sa.Column("record_hash", sa.String(length=66), nullable=True),
        sa.Column("tx_hash", sa.String(length=66), nullable=True),
        sa.Column("received_lot", BIGINT, nullable=True),
        sa.ForeignKeyConstraint(
            ["available_id"],
            ["listing.id"],
        ),
        sa.ForeignKeyConstraint(
            ["wanted_id"],
            ["listing.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        op.f("ix_exchange_match_available_id"), "exchange_match", ["available_id"], unique=False
    )
    op.create_index(
        op.f("ix_exchange_match_pilot_id"), "exchange_match", ["pilot_id"], unique=False
    )
    op.create_index(op.f("ix_exchange_match_state"), "exchange_match", ["state"], unique=False)
    op.create_index(
        op.f("ix_exchange_match_wanted_id"), "exchange_match", ["wanted_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_exchange_match_wanted_id"), table_name="exchange_match")
    op.drop_index(op.f("ix_exchange_match_state"), table_name="exchange_match")
    op.drop_index(op.f("ix_exchange_match_pilot_id"), table_name="exchange_match")
    op.drop_index(op.f("ix_exchange_match_available_id"), table_name="exchange_match")
    op.drop_table("exchange_match")
    op.drop_index(op.f("ix_listing_pilot_id"), table_name="listing")
    op.drop_index(op.f("ix_listing_material"), table_name="listing")
    op.drop_index(op.f("ix_listing_created_at"), table_name="listing")
    op.drop_index(op.f("ix_listing_account"), table_name="listing")
    op.drop_table("listing")
    op.drop_index(op.f("ix_site_organisation_id"), table_name="site")
    op.drop_table("site")
    op.drop_index(op.f("ix_org_account_organisation_id"), table_name="org_account")
    op.drop_table("org_account")
    op.drop_index(op.f("ix_proposal_step_ts"), table_name="proposal_step")
    op.drop_index(op.f("ix_proposal_step_proposal_id"), table_name="proposal_step")
    op.drop_index(op.f("ix_proposal_step_challenge_id"), table_name="proposal_step")
    op.drop_index(op.f("ix_proposal_step_block_number"), table_name="proposal_step")
    op.drop_table("proposal_step")
    op.drop_index(op.f("ix_proposal_ts"), table_name="proposal")
    op.drop_index(op.f("ix_proposal_proposer"), table_name="proposal")
    op.drop_index(op.f("ix_proposal_challenge_id"), table_name="proposal")
    op.drop_index(op.f("ix_proposal_block_number"), table_name="proposal")
    op.drop_table("proposal")
    op.drop_index(op.f("ix_organisation_pilot_id"), table_name="organisation")
    op.drop_table("organisation")
    op.drop_table("challenge_text")
    op.drop_index(op.f("ix_challenge_ts"), table_name="challenge")
    op.drop_index(op.f("ix_challenge_pilot_id"), table_name="challenge")
    op.drop_index(op.f("ix_challenge_owner"), table_name="challenge")
    op.drop_index(op.f("ix_challenge_block_number"), table_name="challenge")
    op.drop_table("challenge")
