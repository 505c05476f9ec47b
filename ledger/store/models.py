"""Tables of the index store. Every row that comes from a log keeps its chain reference
(block number and hash, transaction hash, log index) and the block's timestamp.

The store is a rebuildable index of the chain: dropping it and indexing again gives the same rows.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Index, Integer, LargeBinary, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

__all__ = [
    "AggFlow",
    "AggLot",
    "AggMaker",
    "AggMember",
    "AggProduct",
    "AggReward",
    "AggStock",
    "ApiKey",
    "Attendance",
    "AwardBudget",
    "Block",
    "Challenge",
    "ChallengeText",
    "Checkpoint",
    "CommunityEvent",
    "Contribution",
    "Dispatch",
    "DropOffHold",
    "EnrolmentCode",
    "EpcisEventTime",
    "ExchangeMatch",
    "FollowerState",
    "Fulfilment",
    "GroupDeclaration",
    "HoldPeriod",
    "HoldRelease",
    "HoldVoid",
    "Intake",
    "Listing",
    "LotState",
    "MalformedLog",
    "MaterialClass",
    "OrgAccount",
    "Organisation",
    "Passkey",
    "PasskeyChallenge",
    "PauseChange",
    "Pilot",
    "Proposal",
    "ProposalStep",
    "RateBucket",
    "Redemption",
    "RedemptionClaim",
    "RelayBatch",
    "RelayRequest",
    "Reorg",
    "RevokedSession",
    "Reward",
    "RewardUpdate",
    "RoleCacheEntry",
    "RoleChange",
    "SigninNonce",
    "Site",
    "SkillCredential",
    "TokenAward",
    "Transfer",
    "Transformation",
    "TransformationInput",
    "TransformationOutput",
    "WebSession",
    "WriteJob",
]


class LogRef(SQLModel):
    """The chain reference of a row. (block_hash, log_index) identifies a log."""

    block_number: int = Field(index=True)
    block_hash: str = Field(max_length=66)
    tx_hash: str = Field(max_length=66)
    log_index: int
    ts: int = Field(index=True, description="block timestamp, unix seconds")


class EventRow(LogRef):
    """A row of an event table without a natural id: keyed by its log."""

    block_hash: str = Field(max_length=66, primary_key=True)
    log_index: int = Field(primary_key=True)


class Block(SQLModel, table=True):
    """An indexed block: kept to detect reorgs (parent-hash mismatch) and to date the rows."""

    number: int = Field(primary_key=True)
    hash: str = Field(max_length=66, unique=True)
    parent_hash: str = Field(max_length=66)
    ts: int


class Checkpoint(SQLModel, table=True):
    """Where the indexer stands; written in the same transaction as the rows."""

    id: int = Field(default=1, primary_key=True)
    chain_id: int
    genesis_hash: str = Field(max_length=66)
    block_number: int
    block_hash: str = Field(max_length=66)


class Reorg(SQLModel, table=True):
    """A chain reorganisation the indexer met and undid: an event of its own, not an error."""

    id: int | None = Field(default=None, primary_key=True)
    detected_at: int
    old_head: int
    common_ancestor: int
    rows_removed: int


class Pilot(LogRef, table=True):
    pilot_id: int = Field(primary_key=True)
    #: The code as shown (``ledger.events.text_of``: non-printable bytes escaped) and as on chain.
    code: str = Field(max_length=32, unique=True)
    code_raw: str = Field(default="", max_length=18)
    country: str = Field(max_length=2)
    name: str
    admin: str = Field(max_length=42)


class RoleChange(EventRow, table=True):
    __tablename__ = "role_change"
    pilot_id: int = Field(index=True)
    account: str = Field(max_length=42, index=True)
    by: str = Field(max_length=42)
    previous: int
    current: int


class MaterialClass(LogRef, table=True):
    __tablename__ = "material_class"
    __table_args__ = (UniqueConstraint("pilot_id", "code", name="uq_material_class_pilot_code"),)
    material_id: int = Field(primary_key=True)
    #: The pilot whose own code this is; 0 for the codes every pilot shares.
    pilot_id: int = Field(default=0, index=True)
    #: The code as shown (``ledger.events.text_of``: non-printable bytes escaped) and as on chain.
    code: str = Field(max_length=64)
    code_raw: str = Field(default="", max_length=34)
    kind: int


class MalformedLog(EventRow, table=True):
    """A log of a known event that did not decode, kept raw: the indexer reports it and goes on."""

    __tablename__ = "malformed_log"
    address: str = Field(max_length=42)
    topics: str = Field(description="topic hex strings, comma-separated")
    data: str = Field(description="the log's data as hex (or its decoded fields when a row failed)")
    reason: str


class PauseChange(EventRow, table=True):
    __tablename__ = "pause_change"
    paused: bool
    by: str = Field(max_length=42)


class Intake(LogRef, table=True):
    lot_id: int = Field(primary_key=True)
    pilot_id: int = Field(index=True)
    maker: str = Field(max_length=42, index=True)
    material_id: int
    source: int
    grams: int
    recycled_bp: int
    evidence: str = Field(max_length=66)


class Transformation(LogRef, table=True):
    """A transformation, identified by its first output lot."""

    transform_id: int = Field(primary_key=True)
    pilot_id: int = Field(index=True)
    maker: str = Field(max_length=42, index=True)
    input_grams: int
    output_grams: int
    loss: int
    recycled_bp: int
    evidence: str = Field(max_length=66)


class TransformationInput(SQLModel, table=True):
    __tablename__ = "transformation_input"
    transform_id: int = Field(
        primary_key=True, foreign_key="transformation.transform_id", ondelete="CASCADE"
    )
    position: int = Field(primary_key=True)
    lot_id: int = Field(index=True)
    grams: int
    block_number: int = Field(index=True)


class TransformationOutput(SQLModel, table=True):
    __tablename__ = "transformation_output"
    transform_id: int = Field(
        primary_key=True, foreign_key="transformation.transform_id", ondelete="CASCADE"
    )
    position: int = Field(primary_key=True)
    lot_id: int = Field(unique=True)
    material_id: int
    grams: int
    block_number: int = Field(index=True)


class Transfer(EventRow, table=True):
    pilot_id: int = Field(index=True)
    sender: str = Field(max_length=42, index=True)
    recipient: str = Field(max_length=42, index=True)
    lot_id: int = Field(index=True)
    received_lot: int
    grams: int
    evidence: str = Field(max_length=66)


class Dispatch(EventRow, table=True):
    pilot_id: int = Field(index=True)
    maker: str = Field(max_length=42, index=True)
    lot_id: int = Field(index=True)
    grams: int
    fate: int
    evidence: str = Field(max_length=66)


class Contribution(LogRef, table=True):
    contribution_id: int = Field(primary_key=True)
    pilot_id: int = Field(index=True)
    maker: str = Field(max_length=42, index=True)
    kind: int
    amount: int
    evidence: str = Field(max_length=66)


class TokenAward(EventRow, table=True):
    __tablename__ = "token_award"
    # A wallet's history page, newest first, without sorting all of a member's rows.
    __table_args__ = (Index("ix_token_award_member_order", "member", "block_number", "log_index"),)
    pilot_id: int = Field(index=True)
    issuer: str = Field(max_length=42)
    member: str = Field(max_length=42, index=True)
    amount: int
    reason: int
    budget_left: int


class AwardBudget(EventRow, table=True):
    __tablename__ = "award_budget"
    pilot_id: int = Field(index=True)
    admin: str = Field(max_length=42)
    budget: int


class Reward(LogRef, table=True):
    reward_id: int = Field(primary_key=True)
    pilot_id: int = Field(index=True)
    partner: str = Field(max_length=42)
    cost: int
    stock: int
    expiry: int


class RewardUpdate(EventRow, table=True):
    __tablename__ = "reward_update"
    reward_id: int = Field(index=True)
    pilot_id: int
    stock: int
    expiry: int


class Redemption(LogRef, table=True):
    __table_args__ = (Index("ix_redemption_member_order", "member", "block_number", "log_index"),)
    redemption_id: int = Field(primary_key=True)
    pilot_id: int = Field(index=True)
    member: str = Field(max_length=42, index=True)
    reward_id: int = Field(index=True)
    cost: int


class Fulfilment(LogRef, table=True):
    redemption_id: int = Field(primary_key=True)
    pilot_id: int
    partner: str = Field(max_length=42)


class Challenge(LogRef, table=True):
    """A challenge posted on the ChallengeBoard. Budgets and awards are uint128: kept as text."""

    challenge_id: int = Field(primary_key=True)
    pilot_id: int = Field(index=True)
    owner: str = Field(max_length=42, index=True)
    brief: str = Field(max_length=66, description="SHA-256 of the challenge text")
    material_id: int
    budget: str = Field(max_length=40, description="euro cents, decimal")
    deadline: int


class Proposal(LogRef, table=True):
    """A proposal: only its document's SHA-256 is on chain, with the proposer and block time."""

    proposal_id: int = Field(primary_key=True)
    challenge_id: int = Field(index=True)
    proposer: str = Field(max_length=42, index=True)
    evidence: str = Field(max_length=66)


class ProposalStep(EventRow, table=True):
    """A challenge owner's step on a proposal: shortlisted, selected or milestone."""

    __tablename__ = "proposal_step"
    challenge_id: int = Field(index=True)
    proposal_id: int = Field(index=True)
    step: str = Field(max_length=12)
    award: str = Field(default="0", max_length=40)
    milestones: int = 0
    milestone: int | None = None
    evidence: str | None = Field(default=None, max_length=66)


class LotState(SQLModel, table=True):
    """Current state of a lot, derived from the event tables by the loader."""

    __tablename__ = "lot"
    # A pilot's lots page, newest first.
    __table_args__ = (Index("ix_lot_pilot_order", "pilot_id", "lot_id"),)
    lot_id: int = Field(primary_key=True)
    pilot_id: int = Field(index=True)
    material_id: int
    holder: str = Field(max_length=42, index=True)
    grams: int = Field(description="grams still held")
    initial_grams: int
    recycled_bp: int
    origin: str = Field(max_length=10, description="intake, transform or transfer")
    parent_lot: int | None = Field(
        default=None, description="lot a partial transfer was split from"
    )
    created_block: int = Field(index=True)
    created_ts: int


# ---- community programme: events, attendance, credentials, held drop-off points ------------------


class CommunityEvent(LogRef, table=True):
    __tablename__ = "community_event"
    event_id: int = Field(primary_key=True)
    pilot_id: int = Field(index=True)
    creator: str = Field(max_length=42)
    kind: int
    opens: int
    closes: int
    points: int
    signer: str = Field(max_length=42)
    venue: str = Field(max_length=66)


class Attendance(EventRow, table=True):
    """A check-in: an account attended an event (no personal data)."""

    event_id: int = Field(index=True)
    pilot_id: int = Field(index=True)
    member: str = Field(max_length=42, index=True)


class SkillCredential(LogRef, table=True):
    __tablename__ = "skill_credential"
    credential_id: int = Field(primary_key=True)
    pilot_id: int = Field(index=True)
    holder: str = Field(max_length=42, index=True)
    skill: str = Field(max_length=66)
    level: int
    event_id: int
    issuer: str = Field(max_length=42)


class HoldPeriod(EventRow, table=True):
    __tablename__ = "hold_period"
    pilot_id: int = Field(index=True)
    admin: str = Field(max_length=42)
    period: int


class DropOffHold(LogRef, table=True):
    __tablename__ = "drop_off_hold"
    hold_id: int = Field(primary_key=True)
    pilot_id: int = Field(index=True)
    member: str = Field(max_length=42, index=True)
    points: int
    release_at: int
    issuer: str = Field(max_length=42)
    evidence: str = Field(max_length=66)


class HoldVoid(EventRow, table=True):
    __tablename__ = "hold_void"
    hold_id: int = Field(index=True)
    pilot_id: int = Field(index=True)
    by: str = Field(max_length=42)
    reason: str = Field(max_length=66)


class HoldRelease(EventRow, table=True):
    __tablename__ = "hold_release"
    hold_id: int = Field(index=True)
    pilot_id: int = Field(index=True)
    member: str = Field(max_length=42, index=True)
    points: int


# ---- read models: aggregates the indexer keeps in the same transaction as the rows -----------------
# Each is a pure function of the event rows (``ledger.indexer.aggregates``), so a reorg that
# removes rows removes their share here too, and a rebuild from the rows gives the same table.
# ``month`` is the UTC month start (unix seconds) of the rows' block time.


class AggFlow(SQLModel, table=True):
    """Grams per month along one edge of the flow graph (source -> maker, maker -> maker,
    maker -> fate, maker -> loss), per material (-1: loss, or a lot of unknown material)."""

    __tablename__ = "agg_flow"
    pilot_id: int = Field(primary_key=True)
    month: int = Field(primary_key=True)
    tail: str = Field(primary_key=True, max_length=60)
    head: str = Field(primary_key=True, max_length=60)
    material_id: int = Field(primary_key=True)
    grams: int


class AggStock(SQLModel, table=True):
    """Change of the grams a holder holds of a material in a month (counted lot by lot)."""

    __tablename__ = "agg_stock"
    pilot_id: int = Field(primary_key=True)
    month: int = Field(primary_key=True)
    holder: str = Field(primary_key=True, max_length=42)
    material_id: int = Field(primary_key=True)
    grams: int


class AggMaker(SQLModel, table=True):
    """A maker's transformations in a month: grams in, out and lost."""

    __tablename__ = "agg_maker"
    pilot_id: int = Field(primary_key=True)
    month: int = Field(primary_key=True)
    maker: str = Field(primary_key=True, max_length=42)
    input_grams: int
    output_grams: int
    loss: int


class AggProduct(SQLModel, table=True):
    """Grams dispatched per material and fate in a month, and their recycled part in gram-bp."""

    __tablename__ = "agg_product"
    pilot_id: int = Field(primary_key=True)
    month: int = Field(primary_key=True)
    material_id: int = Field(primary_key=True)
    fate: int = Field(primary_key=True)
    grams: int
    recycled_gbp: int = Field(description="sum of grams x recycled content (basis points)")


class AggMember(SQLModel, table=True):
    """A member's points in a pilot and month: awarded, redeemed, and how many of each."""

    __tablename__ = "agg_member"
    pilot_id: int = Field(primary_key=True)
    month: int = Field(primary_key=True)
    member: str = Field(primary_key=True, max_length=42, index=True)
    awarded: int
    redeemed: int
    awards: int
    redemptions: int


class AggLot(SQLModel, table=True):
    """How many lots (and open lots, with grams left) a holder has of a material."""

    __tablename__ = "agg_lot"
    pilot_id: int = Field(primary_key=True)
    holder: str = Field(primary_key=True, max_length=42)
    material_id: int = Field(primary_key=True)
    lots: int
    open_lots: int


class AggReward(SQLModel, table=True):
    """A reward's current terms and stock: the last stock set (listing or update) less the
    redemptions since."""

    __tablename__ = "agg_reward"
    reward_id: int = Field(primary_key=True)
    pilot_id: int = Field(index=True)
    partner: str = Field(max_length=42)
    cost: int
    stock_set: int
    redeemed_since_set: int
    expiry: int
    redemptions: int


# ---- gateway state: not from the chain, so re-indexing never touches it ---------------------------


class ApiKey(SQLModel, table=True):
    """An API key of the gateway, bound to one account. Only the key's SHA-256 is stored."""

    __tablename__ = "api_key"
    key_hash: str = Field(primary_key=True, max_length=64)
    address: str = Field(max_length=42, index=True)
    label: str = Field(max_length=100)
    created_at: int
    revoked: bool = False


class RedemptionClaim(SQLModel, table=True):
    """The secret of a redemption that only its member holds: the receipt is public, the reward
    is handed over only to whoever shows this code to a signed-in partner. Only its SHA-256 is
    stored."""

    __tablename__ = "redemption_claim"
    redemption_id: int = Field(primary_key=True)
    member: str = Field(max_length=42)
    code_hash: str = Field(max_length=64)
    created_at: int


class WriteJob(SQLModel, table=True):
    """An accepted write: a row before anything is sent, then its fate on chain.

    States: ``queued`` (accepted, waiting for the relayer), ``sent`` (in a broadcast batch),
    ``confirmed`` (mined; `result` holds its events), ``failed`` (`error` holds the reasons;
    nothing of it is on chain). An Idempotency-Key is unique per account while it is kept.
    """

    __tablename__ = "write_job"
    __table_args__ = (UniqueConstraint("account", "idem_key", name="uq_write_job_idem"),)
    job_id: str = Field(primary_key=True, max_length=32)
    account: str = Field(max_length=42, index=True)
    kind: str = Field(max_length=40)
    pilot_id: int | None = None
    idem_key: str | None = Field(default=None, max_length=200)
    request_hash: str = Field(max_length=64)
    #: the custodial key that signs the calls; None for requests the client signed
    signer: str | None = Field(default=None, max_length=42)
    #: JSON: [{"to", "data", "gas"}] to sign, or the client's signed requests
    calls: str = Field(sa_type=Text)
    #: JSON: the lot id each lot the records name by a handle becomes (EPCIS documents)
    handles: str | None = Field(default=None, sa_type=Text)
    state: str = Field(max_length=12, index=True)
    batch_id: int | None = Field(default=None, index=True)
    tx_hash: str | None = Field(default=None, max_length=66)
    block_number: int | None = None
    result: str | None = Field(default=None, sa_type=Text)
    error: str | None = Field(default=None, sa_type=Text)
    created_at: float
    updated_at: float


class RelayRequest(SQLModel, table=True):
    """A signed forward request of a job. One per (signer, forwarder nonce): a request is
    signed once and never again with another nonce, so it can execute at most once."""

    __tablename__ = "relay_request"
    signer: str = Field(primary_key=True, max_length=42)
    nonce: int = Field(primary_key=True)
    job_id: str = Field(max_length=32, index=True)
    position: int
    deadline: int
    #: JSON of the ForwardRequestData, hex-encoded
    request: str = Field(sa_type=Text)
    #: broadcast at least once, so public: it could still execute until its deadline
    exposed: bool = False


class RelayBatch(SQLModel, table=True):
    """One forwarder transaction of the relayer and every signed attempt at it (same nonce)."""

    __tablename__ = "relay_batch"
    batch_id: int | None = Field(default=None, primary_key=True)
    relayer_nonce: int
    #: JSON: [[job id, signer, forwarder nonce]] of each request, in the order they run
    requests: str = Field(sa_type=Text)
    #: JSON: [{"hash", "raw", "max_fee", "tip", "sent_at"}], the last one the newest
    attempts: str = Field(sa_type=Text)
    state: str = Field(max_length=12, index=True)
    block_number: int | None = None
    created_at: float


class EpcisMapping(SQLModel, table=True):
    """How a pilot reads EPCIS documents from other systems (`ledger.audit.epcis_mapping`)."""

    __tablename__ = "epcis_mapping"
    pilot_id: int = Field(primary_key=True)
    body: str = Field(description="the ImportMapping as JSON")
    updated_by: str = Field(max_length=42)
    updated_at: int


class CaptureJob(SQLModel, table=True):
    """An EPCIS capture job (`POST /epcis/capture`): its state and, when done, its outcome."""

    __tablename__ = "epcis_capture"
    capture_id: str = Field(primary_key=True, max_length=40)
    account: str = Field(max_length=42, index=True)
    created_at: int
    finished_at: int | None = None
    running: bool = True
    success: bool = True
    events: int
    errors: str = Field(default="[]", description="RFC 7807 problems as JSON")
    result: str = Field(default="{}", description="transactions and lots as JSON")


class EvidenceDocument(SQLModel, table=True):
    """An evidence document a lot's owner keeps with its passport: off chain, found by the
    SHA-256 that a record of the lot carries on chain."""

    __tablename__ = "evidence_document"
    sha256: str = Field(primary_key=True, max_length=66)
    lot_id: int = Field(primary_key=True)
    name: str = Field(max_length=200)
    media_type: str = Field(max_length=100)
    content: bytes = Field(sa_type=LargeBinary)
    uploaded_by: str = Field(max_length=42)
    uploaded_at: int


class EnrolmentCode(SQLModel, table=True):
    """A one-time code pilot staff hand a person so that they can register a passkey for their
    custodial account. Only the code's SHA-256 is stored; it works once, before it expires."""

    __tablename__ = "enrolment_code"
    code_hash: str = Field(primary_key=True, max_length=64)
    address: str = Field(max_length=42, index=True)
    pilot_id: int
    issued_by: str = Field(max_length=42)
    created_at: int
    expires_at: int
    used_at: int | None = None


class Passkey(SQLModel, table=True):
    """A WebAuthn credential (passkey) that signs a person in to their account."""

    __tablename__ = "passkey"
    credential_id: str = Field(primary_key=True, max_length=1400, description="base64url")
    address: str = Field(max_length=42, index=True)
    public_key: str = Field(description="COSE public key, base64url")
    sign_count: int
    label: str = Field(max_length=100)
    created_at: int
    last_used_at: int | None = None
    revoked: bool = False


class PasskeyChallenge(SQLModel, table=True):
    """A WebAuthn challenge handed out and not yet answered; answered once, within minutes."""

    __tablename__ = "passkey_challenge"
    challenge_hash: str = Field(primary_key=True, max_length=64)
    purpose: str = Field(max_length=16, description="register or sign_in")
    code_hash: str | None = Field(default=None, max_length=64, description="the enrolment code")
    created_at: int


class WebSession(SQLModel, table=True):
    """A page session (HttpOnly cookie). Only the token's SHA-256 is stored; signing out
    deletes the row, so a copied cookie stops working at once."""

    __tablename__ = "web_session"
    token_hash: str = Field(primary_key=True, max_length=64)
    address: str = Field(max_length=42, index=True)
    credential_id: str = Field(max_length=1400)
    created_at: int
    expires_at: int


class GroupDeclaration(SQLModel, table=True):
    """A member's declaration of belonging to a target group of a pilot, given with consent.

    Off chain only (never indexed from or written to the chain); published only as aggregates
    with groups under five people suppressed (:func:`ledger.impact.kpis.target_group_shares`).
    Withdrawing consent deletes the row.
    """

    __tablename__ = "group_declaration"
    pilot_id: int = Field(primary_key=True)
    member: str = Field(primary_key=True, max_length=42)
    group_code: str = Field(primary_key=True, max_length=40)
    consent_version: str = Field(max_length=20, description="the consent text the member agreed to")
    consented_at: int


# ---- the exchange: off-chain records, signed by their accounts; never touched by re-indexing ------


class Organisation(SQLModel, table=True):
    """A maker, manufacturer, collection point or shop of a pilot."""

    id: int | None = Field(default=None, primary_key=True)
    pilot_id: int = Field(index=True)
    name: str = Field(max_length=200)
    kind: str = Field(max_length=20)
    created_at: int


class OrgAccount(SQLModel, table=True):
    """An account acting for its organisation in a pilot."""

    __tablename__ = "org_account"
    account: str = Field(primary_key=True, max_length=42)
    pilot_id: int = Field(primary_key=True)
    organisation_id: int = Field(foreign_key="organisation.id", index=True)


class Site(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    organisation_id: int = Field(foreign_key="organisation.id", index=True)
    name: str = Field(max_length=200)
    kind: str = Field(max_length=20)
    lat: float
    lon: float


class Listing(SQLModel, table=True):
    """An available lot or surplus stream, or a wanted material, with its EIP-712 signature."""

    id: int | None = Field(default=None, primary_key=True)
    pilot_id: int = Field(index=True)
    chain_id: int = Field(description="the EIP-712 domain's chain id")
    account: str = Field(max_length=42, index=True)
    side: str = Field(max_length=10)
    material: str = Field(max_length=16, index=True)
    grams: int
    lot_id: int | None = None
    interval_days: int | None = None
    needed_by: int | None = None
    reach_km: int | None = None
    site_id: int = Field(foreign_key="site.id")
    created_at: int = Field(index=True)
    expires_at: int
    nonce: int
    digest: str = Field(max_length=66, unique=True)
    signature: str = Field(max_length=140)
    status: str = Field(default="open", max_length=10, description="open or closed")


class ExchangeMatch(SQLModel, table=True):
    """A match of an available and a wanted listing: proposed, accepted, handed_over, declined
    or expired. Its state changes only by conditional UPDATEs, so a transition happens once."""

    __tablename__ = "exchange_match"
    id: int | None = Field(default=None, primary_key=True)
    pilot_id: int = Field(index=True)
    available_id: int = Field(foreign_key="listing.id", index=True)
    wanted_id: int = Field(foreign_key="listing.id", index=True)
    grams: int
    score: float
    explanation: str
    distance_km: float
    co2e_kg: float
    state: str = Field(max_length=12, index=True)
    proposed_by: str = Field(max_length=42)
    proposed_at: int
    decided_by: str | None = Field(default=None, max_length=42)
    decided_at: int | None = None
    record_hash: str | None = Field(default=None, max_length=66)
    tx_hash: str | None = Field(default=None, max_length=66)
    received_lot: int | None = None


class ChallengeText(SQLModel, table=True):
    """The text of a challenge, keyed by the SHA-256 that went on chain as its brief."""

    __tablename__ = "challenge_text"
    brief: str = Field(primary_key=True, max_length=66)
    title: str = Field(max_length=200)
    need: str
    created_at: int


class FollowerState(SQLModel, table=True):
    """What the index follower last said about itself, for every gateway worker to report."""

    __tablename__ = "follower_state"
    id: int = Field(default=1, primary_key=True)
    state: str = Field(max_length=20, description="starting, following, retrying or stopped")
    heartbeat: float = Field(description="unix time of the follower's last word")
    chain_head: int = Field(description="the chain's head block as the follower last read it")
    indexed_block: int
    last_error: str | None = None
    error_at: float | None = None


class SigninNonce(SQLModel, table=True):
    """A sign-in (EIP-4361) nonce a gateway worker issued; spent once, before it expires."""

    __tablename__ = "signin_nonce"
    nonce: str = Field(primary_key=True, max_length=64)
    expires_at: float = Field(index=True)


class RevokedSession(SQLModel, table=True):
    """A session token signed out before its expiry (kept until then, by its SHA-256)."""

    __tablename__ = "revoked_session"
    token_hash: str = Field(primary_key=True, max_length=64)
    expires_at: float = Field(index=True)


class EpcisEventTime(SQLModel, table=True):
    """When an imported EPCIS event happened, by the CBV 2.0 hash of the event (which its
    records carry on chain as evidence). The hash covers the event's time, so a row can only
    ever say what the hashed event said, whoever wrote it and whether or not it was recorded."""

    __tablename__ = "epcis_event_time"
    evidence: str = Field(primary_key=True, max_length=66)
    event_time: str = Field(max_length=40, description="the event's eventTime, as sent")
    time_zone_offset: str = Field(max_length=6)


class RateBucket(SQLModel, table=True):
    """A token bucket of one account's writes, shared by every gateway worker. A bucket full
    again is the default and is dropped, so the table holds only accounts writing now."""

    __tablename__ = "rate_bucket"
    account: str = Field(primary_key=True, max_length=42)
    tokens: float
    updated_at: float = Field(index=True)


class RoleCacheEntry(SQLModel, table=True):
    """An account's on-chain roles in a pilot, as read from the chain by a gateway worker. The
    indexer deletes the entry when it indexes a role change of that account; it expires anyway."""

    __tablename__ = "role_cache"
    pilot_id: int = Field(primary_key=True)
    account: str = Field(primary_key=True, max_length=42)
    roles: int
    expires_at: float = Field(index=True)


def _widen_integers() -> None:
    # Grams (uint48), budgets (uint64) and redemption ids (reward id << 32) exceed 32-bit
    # integers: every integer column is 64-bit (SQLite's INTEGER already is, and must stay
    # INTEGER for its primary keys to autoincrement).
    wide = BigInteger().with_variant(Integer(), "sqlite")
    for table in SQLModel.metadata.tables.values():
        for column in table.columns:
            if type(column.type) is Integer:
                column.type = wide


_widen_integers()
