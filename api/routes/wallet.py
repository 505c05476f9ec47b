"""Community members: balance and history, the reward catalogue, redemption and its receipt."""

from __future__ import annotations

import time
from typing import Annotated, Any

from eth_utils import is_address, to_checksum_address
from fastapi import APIRouter, HTTPException, Path, Query
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field
from sqlalchemy import func, literal, select

from api.claims import claim_matches, forget_claim, issue_claim
from api.deps import AccountDep, PilotDep, StateDep, WritesDep
from api.names import REDEMPTION_COUNTER_BITS, award_activity, reward_text
from api.routes.records import IdempotencyKey, Limit, Offset, Page, Wait, answer
from ledger.write.plan import Fulfilment, Redemption, WriteRejected

router = APIRouter(tags=["members"])


def _address(address: str) -> str:
    if not is_address(address):
        raise HTTPException(status_code=422, detail=f"{address!r} is not an Ethereum address")
    return to_checksum_address(address)


def _positions(state: Any) -> dict[int, int]:
    """Each reward's place (from 1) among its pilot's rewards, in the order they were listed."""
    table = state.store.tables["reward"]
    with state.store.engine.connect() as conn:
        rows = conn.execute(
            select(table.c.reward_id, table.c.pilot_id).order_by(table.c.reward_id)
        ).all()
    seen: dict[int, int] = {}
    out: dict[int, int] = {}
    for reward_id, pilot_id in rows:
        seen[pilot_id] = seen.get(pilot_id, 0) + 1
        out[int(reward_id)] = seen[pilot_id]
    return out


def _described(state: Any, row: dict[str, Any], positions: dict[int, int]) -> dict[str, Any]:
    """A history row with what happened: the activity an award was for, the reward redeemed."""
    pilot = state.pilot(str(row["pilot_id"]))
    detail = int(row["detail"])
    row["detail"] = str(detail)
    row["activity"], row["kg"], row["reward_name"] = "redemption", None, None
    if pilot is not None and row["kind"] == "award":
        row["activity"], row["kg"] = award_activity(pilot, detail, int(row["points"]))
    elif pilot is not None:
        position = positions.get(detail >> REDEMPTION_COUNTER_BITS, 0)
        text = reward_text(pilot, position)
        row["reward_name"] = text.name if text else None
    return row


class WalletOut(BaseModel):
    address: str
    balance: int
    awarded: int
    redeemed: int
    balances: dict[str, int] = Field(
        description="points per pilot code: a reward takes only its own pilot's points"
    )
    history: Page


@router.get(
    "/api/accounts/{address}/wallet",
    response_model=WalletOut,
    summary="Points balance and history of a member (newest first)",
)
async def wallet(
    state: StateDep,
    address: Annotated[str, Path(examples=["0x" + "ab" * 20])],
    pilot: Annotated[str | None, Query(description="only this pilot (code)")] = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> Response:
    member = _address(address)
    chosen = None if pilot is None else state.pilot(pilot)
    if pilot is not None and chosen is None:
        raise HTTPException(status_code=404, detail=f"unknown pilot {pilot!r}")

    def read() -> str:
        awards, redemptions = state.store.tables["token_award"], state.store.tables["redemption"]
        agg = state.store.tables["agg_member"]
        where_a, where_r = awards.c.member == member, redemptions.c.member == member
        where_m = agg.c.member == member
        if chosen is not None:
            where_a &= awards.c.pilot_id == chosen.id
            where_r &= redemptions.c.pilot_id == chosen.id
            where_m &= agg.c.pilot_id == chosen.id
        # Totals and the history's length come from the indexer's per-member aggregates; a page
        # takes the newest `offset + limit` rows of each table along their (member, block, log)
        # indexes and merges them, so it never sorts a member's whole history.
        totals = ("awarded", "redeemed", "awards", "redemptions")
        sums = select(*(func.coalesce(func.sum(agg.c[c]), 0) for c in totals)).where(where_m)
        pages = (
            select(
                literal("award").label("kind"),
                awards.c.pilot_id,
                awards.c.amount.label("points"),
                awards.c.reason.label("detail"),
                awards.c.block_number,
                awards.c.tx_hash,
                awards.c.log_index,
                awards.c.ts,
            )
            .where(where_a)
            .order_by(awards.c.block_number.desc(), awards.c.log_index.desc()),
            select(
                literal("redemption").label("kind"),
                redemptions.c.pilot_id,
                (-redemptions.c.cost).label("points"),
                redemptions.c.redemption_id.label("detail"),
                redemptions.c.block_number,
                redemptions.c.tx_hash,
                redemptions.c.log_index,
                redemptions.c.ts,
            )
            .where(where_r)
            .order_by(redemptions.c.block_number.desc(), redemptions.c.log_index.desc()),
        )
        with state.store.engine.connect() as conn:
            awarded, redeemed, n_awards, n_redemptions = (int(v) for v in conn.execute(sums).one())
            newest = []
            if offset < n_awards + n_redemptions:  # past the end nothing is read
                newest = [
                    dict(r) for q in pages for r in conn.execute(q.limit(offset + limit)).mappings()
                ]
            by_pilot = select(agg.c.pilot_id, agg.c.awarded - agg.c.redeemed).where(where_m)
            per_pilot = {int(p): int(points) for p, points in conn.execute(by_pilot).all()}
        newest.sort(key=lambda r: (r["block_number"], r["log_index"]), reverse=True)
        positions = _positions(state)
        data = [_described(state, r, positions) for r in newest[offset : offset + limit]]
        count = n_awards + n_redemptions
        codes = {p.id: p.code for p in state.pilots}
        balances = {codes.get(i, str(i)): points for i, points in sorted(per_pilot.items())}
        return WalletOut(
            address=member,
            balance=awarded - redeemed,
            awarded=awarded,
            redeemed=redeemed,
            balances=balances,
            history=Page(data=data, count=count, limit=limit, offset=offset),
        ).model_dump_json()

    key = ("page", "wallet", member, chosen.id if chosen else None, limit, offset)
    return Response(await state.page(key, read), media_type="application/json")


class RewardOut(BaseModel):
    reward_id: int
    pilot_id: int
    partner: str
    cost: int
    stock: int
    expiry: int
    expired: bool
    redemptions: int
    name: str | None = Field(default=None, description="from the pilot's catalogue file")
    description: str | None = None
    partner_name: str | None = None
    days_valid: int | None = None


def _reward_names(state: Any, pilot_id: int, position: int) -> dict[str, Any]:
    pilot = state.pilot(str(pilot_id))
    text = reward_text(pilot, position) if pilot is not None else None
    return (
        {}
        if text is None
        else {
            "name": text.name,
            "description": text.description,
            "partner_name": text.partner_name,
            "days_valid": text.days_valid,
        }
    )


def rewards_of(state: Any, pilot_id: int) -> list[RewardOut]:
    """The pilot's rewards with their stock, from the indexer's reward read model (the last
    stock set by a listing or update, less the redemptions since)."""
    table = state.store.tables["agg_reward"]
    query = select(table).where(table.c.pilot_id == pilot_id).order_by(table.c.reward_id)
    with state.store.engine.connect() as conn:
        rewards = conn.execute(query).mappings().all()
    now = int(time.time())
    return [
        RewardOut(
            reward_id=r["reward_id"],
            pilot_id=pilot_id,
            partner=r["partner"],
            cost=r["cost"],
            stock=max(0, r["stock_set"] - r["redeemed_since_set"]),
            expiry=r["expiry"],
            expired=r["expiry"] <= now,
            redemptions=r["redemptions"],
            **_reward_names(state, pilot_id, position),
        )
        for position, r in enumerate(rewards, start=1)
    ]


@router.get(
    "/api/pilots/{pilot}/rewards",
    response_model=list[RewardOut],
    summary="The pilot's reward catalogue with current stock",
)
def rewards(state: StateDep, pilot: PilotDep, available: bool = False) -> list[RewardOut]:
    listed = rewards_of(state, pilot.id)
    return [r for r in listed if r.stock > 0 and not r.expired] if available else listed


class RedeemIn(BaseModel):
    reward_id: int = Field(
        gt=0, le=2**63 - 1, description="the reward to redeem", examples=[4294967297]
    )


class ReceiptOut(BaseModel):
    redemption_id: str = Field(description="what the partner verifies (decimal; large)")
    reward_id: str
    pilot_id: int
    member: str
    cost: int
    block_number: int
    tx_hash: str
    log_index: int
    ts: int
    fulfilled: bool
    fulfilment_tx: str | None = None
    reward_name: str | None = Field(default=None, description="from the pilot's catalogue file")


@router.post(
    "/api/pilots/{pilot}/redemptions",
    status_code=202,
    summary="Redeem points for a reward (the signed-in member's custodial key signs)",
)
def redeem(
    body: RedeemIn,
    pilot: PilotDep,
    state: StateDep,
    writes: WritesDep,
    account: AccountDep,
    idempotency_key: IdempotencyKey = None,
    wait: Wait = None,
) -> JSONResponse:
    """Queued like every write; with ``wait=indexed`` the answer (201) carries the redemption id
    and its receipt link once the index holds it, which is what the partner reads."""
    writes.throttle(account)
    job, replayed = writes.submit(
        account=account,
        pilot=pilot.id,
        kind="redeem",
        content=body.reward_id,
        idem_key=idempotency_key,
        records=lambda: [Redemption(body.reward_id)],
        where=lambda _: "reward_id",
    )

    def receipt(content: dict[str, Any]) -> dict[str, Any]:
        event = next(e for e in content["events"] if e["name"] == "RewardRedeemed")
        rid = int(event["args"]["redemptionId"])
        return {
            **content,
            "redemption_id": str(rid),
            "reward_id": str(body.reward_id),
            "cost": int(event["args"]["cost"]),
            "receipt_url": f"/receipt?id={rid}",
        }

    return answer(state, writes, job, wait, 1, replayed, amend=receipt)


@router.get(
    "/api/redemptions/{redemption_id}",
    response_model=ReceiptOut,
    summary="A redemption receipt, for the reward partner to verify",
)
def receipt(state: StateDep, redemption_id: Annotated[int, Path(ge=1, le=2**63 - 1)]) -> ReceiptOut:
    redemptions, fulfilments = state.store.tables["redemption"], state.store.tables["fulfilment"]
    with state.store.engine.connect() as conn:
        row = (
            conn.execute(select(redemptions).where(redemptions.c.redemption_id == redemption_id))
            .mappings()
            .first()
        )
        done = (
            conn.execute(select(fulfilments).where(fulfilments.c.redemption_id == redemption_id))
            .mappings()
            .first()
        )
    if row is None:
        raise HTTPException(status_code=404, detail=f"no redemption {redemption_id} is indexed")
    pilot = state.pilot(str(row["pilot_id"]))
    text = reward_text(pilot, _positions(state).get(int(row["reward_id"]), 0)) if pilot else None
    return ReceiptOut(
        redemption_id=str(row["redemption_id"]),
        reward_id=str(row["reward_id"]),
        pilot_id=row["pilot_id"],
        member=row["member"],
        cost=row["cost"],
        block_number=row["block_number"],
        tx_hash=row["tx_hash"],
        log_index=row["log_index"],
        ts=row["ts"],
        fulfilled=done is not None,
        fulfilment_tx=done["tx_hash"] if done else None,
        reward_name=text.name if text else None,
    )


class ClaimOut(BaseModel):
    redemption_id: str
    code: str = Field(description="shown once: the member shows it to the partner (text or QR)")
    receipt_url: str


class FulfilIn(BaseModel):
    code: str = Field(
        min_length=12,
        max_length=20,
        description="the claim code the member shows",
        examples=["ABCD-EFGH-JKLM"],
    )


class FulfilOut(BaseModel):
    redemption_id: str
    fulfilled: bool
    tx_hash: str
    block_number: int


def _redemption(state: StateDep, redemption_id: int) -> tuple[dict[str, Any], str, bool]:
    """The indexed redemption, its reward's partner, and whether it is fulfilled (404 if unknown)."""
    t = state.store.tables
    with state.store.engine.connect() as conn:
        row = (
            conn.execute(
                select(t["redemption"]).where(t["redemption"].c.redemption_id == redemption_id)
            )
            .mappings()
            .first()
        )
        if row is None:
            raise HTTPException(status_code=404, detail=f"no redemption {redemption_id} is indexed")
        partner = conn.execute(
            select(t["reward"].c.partner).where(t["reward"].c.reward_id == row["reward_id"])
        ).scalar_one()
        done = conn.execute(
            select(func.count()).where(t["fulfilment"].c.redemption_id == redemption_id)
        ).scalar_one()
    return dict(row), str(partner), bool(done)


RedemptionId = Annotated[int, Path(ge=1, le=2**63 - 1)]


@router.post(
    "/api/redemptions/{redemption_id}/claim-code",
    response_model=ClaimOut,
    status_code=201,
    summary="A claim code for one's own redemption (replaces an earlier one); shown once",
)
def claim_code(
    state: StateDep, writes: WritesDep, account: AccountDep, redemption_id: RedemptionId
) -> ClaimOut:
    writes.throttle(account)
    row, _, fulfilled = _redemption(state, redemption_id)
    if row["member"] != account:
        raise HTTPException(
            status_code=403, detail="only the member who redeemed may have its claim code"
        )
    if fulfilled:
        raise HTTPException(
            status_code=409, detail=f"redemption {redemption_id} was handed over already"
        )
    code = issue_claim(state.store, redemption_id, account)
    return ClaimOut(
        redemption_id=str(redemption_id), code=code, receipt_url=f"/receipt?id={redemption_id}"
    )


@router.post(
    "/api/redemptions/{redemption_id}/fulfilment",
    response_model=FulfilOut,
    status_code=201,
    summary="The signed-in partner hands the reward over to whoever shows the claim code",
)
def fulfil(
    state: StateDep,
    writes: WritesDep,
    account: AccountDep,
    redemption_id: RedemptionId,
    body: FulfilIn,
) -> FulfilOut:
    writes.throttle(account)  # also bounds guesses of a code
    row, partner, fulfilled = _redemption(state, redemption_id)
    pilot = int(row["pilot_id"])
    if account != partner:
        raise HTTPException(
            status_code=403, detail="only the reward's partner, signed in, may hand it over"
        )
    if fulfilled:
        raise HTTPException(
            status_code=409, detail=f"redemption {redemption_id} was handed over already"
        )
    if not claim_matches(state.store, redemption_id, body.code):
        message = (
            "this is not the redemption's claim code: ask the member to show the code in their "
            "wallet (a receipt alone does not take the reward)"
        )
        raise WriteRejected([("code", message)], 403)
    job, _ = writes.submit(
        account=account,
        pilot=pilot,
        kind="fulfil",
        content=redemption_id,
        idem_key=None,
        records=lambda: [Fulfilment(redemption_id)],
        where=lambda _: "redemption_id",
    )
    job = writes.settle(job, "indexed")
    if job.state == "failed":
        reasons = (job.error or {}).get("reasons") or [["redemption_id", "the ledger refused it"]]
        raise WriteRejected([(str(f), str(m)) for f, m in reasons])
    if job.state != "confirmed" or job.block_number is None or job.tx_hash is None:
        raise HTTPException(
            status_code=503, detail=f"the fulfilment is queued as job {job.job_id}: ask again later"
        )
    forget_claim(state.store, redemption_id)
    state.wait_indexed(job.block_number, timeout=30)
    return FulfilOut(
        redemption_id=str(redemption_id),
        fulfilled=True,
        tx_hash=job.tx_hash,
        block_number=job.block_number,
    )
