"""Auditors: the trail of any lot with its chain references, and verification against the chain."""

from __future__ import annotations

import re
from typing import Annotated, Any

from eth_utils import to_checksum_address
from fastapi import APIRouter, HTTPException, Path, Query
from pydantic import BaseModel
from sqlalchemy import or_, select, union

from api.deps import AccountDep, StateDep, WritesDep
from api.names import material_names
from api.writes import MAX_ID
from ledger.audit.verify import verify

router = APIRouter(tags=["audit"])

PRODUCT_KIND = 2  # MaterialKind.Product on chain


class LotHit(BaseModel):
    lot_id: int
    pilot_id: int
    material_id: int
    code: str | None
    name: str | None
    holder: str
    grams: int
    initial_grams: int
    origin: str
    created_ts: int
    created_block: int


@router.get(
    "/api/audit/lots",
    response_model=list[LotHit],
    summary="Recent products, or lots found by lot id, product class, maker or transaction",
)
def find_lots(
    state: StateDep,
    q: Annotated[
        str | None,
        Query(
            max_length=100,
            description="lot id, code or name of a "
            "product class, maker address or transaction hash",
        ),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> list[LotHit]:
    """Without `q`: the newest product lots. With `q`: a number is a lot id, 0x and 40 hex
    digits a maker (lots made or held), 0x and 64 a transaction (lots it created or touched),
    anything else a product class code or name (case-insensitive, part of it)."""
    t = state.store.tables
    lots = t["lot"]
    records = state.records()
    codes = dict(
        zip(records.materials["material_id"].astype(int), records.materials["code"], strict=True)
    )
    kinds = dict(
        zip(records.materials["material_id"].astype(int), records.materials["kind"], strict=True)
    )
    names = material_names(state.pilots)
    text = (q or "").strip()
    query = select(lots)
    if not text:
        products = [m for m, k in kinds.items() if int(k) == PRODUCT_KIND]
        query = query.where(lots.c.material_id.in_(products), lots.c.origin == "transform")
    elif text.isdigit():
        query = query.where(lots.c.lot_id == int(text))
    elif re.fullmatch(r"0x[0-9a-fA-F]{40}", text):
        maker = to_checksum_address(text)
        made = (
            select(t["intake"].c.lot_id)
            .where(t["intake"].c.maker == maker)
            .union(
                select(t["transformation_output"].c.lot_id)
                .join(
                    t["transformation"],
                    t["transformation"].c.transform_id == t["transformation_output"].c.transform_id,
                )
                .where(t["transformation"].c.maker == maker)
            )
        )
        query = query.where(or_(lots.c.holder == maker, lots.c.lot_id.in_(made)))
    elif re.fullmatch(r"0x[0-9a-fA-F]{64}", text):
        tx = text.lower()
        touched = [
            select(t["intake"].c.lot_id).where(t["intake"].c.tx_hash == tx),
            select(t["transformation_output"].c.lot_id)
            .join(
                t["transformation"],
                t["transformation"].c.transform_id == t["transformation_output"].c.transform_id,
            )
            .where(t["transformation"].c.tx_hash == tx),
            select(t["transfer"].c.received_lot).where(t["transfer"].c.tx_hash == tx),
            select(t["dispatch"].c.lot_id).where(t["dispatch"].c.tx_hash == tx),
        ]
        query = query.where(lots.c.lot_id.in_(union(*touched)))
    else:
        wanted = text.casefold()
        matching = [
            m
            for m, c in codes.items()
            if wanted in c.casefold() or wanted in (names.get(c) or "").casefold()
        ]
        query = query.where(lots.c.material_id.in_(matching))
    with state.store.engine.connect() as conn:
        rows = conn.execute(query.order_by(lots.c.lot_id.desc()).limit(limit)).mappings().all()
    return [
        LotHit(
            **{k: r[k] for k in LotHit.model_fields if k in r},
            code=codes.get(r["material_id"]),
            name=names.get(codes.get(r["material_id"], "")),
        )
        for r in rows
    ]


#: Blocks one verification may re-read: each call reads the chain's logs again, so it needs a
#: signed-in account and a bounded span (a longer audit is several calls, or `loopledger audit verify`).
MAX_VERIFY_BLOCKS = 100_000


@router.get(
    "/api/lots/{lot_id}/trail", summary="Every record that touched a lot, with block, tx and log"
)
def trail(state: StateDep, lot_id: Annotated[int, Path(ge=1, le=MAX_ID)]) -> dict[str, Any]:
    t = state.store.tables
    steps: list[dict[str, Any]] = []
    with state.store.engine.connect() as conn:
        lot = conn.execute(select(t["lot"]).where(t["lot"].c.lot_id == lot_id)).mappings().first()
        if lot is None:
            raise HTTPException(status_code=404, detail=f"lot {lot_id} is not indexed")
        for row in conn.execute(
            select(t["intake"]).where(t["intake"].c.lot_id == lot_id)
        ).mappings():
            steps.append({"action": "intake", **row})
        made = (
            select(t["transformation"])
            .join(
                t["transformation_output"],
                t["transformation_output"].c.transform_id == t["transformation"].c.transform_id,
            )
            .where(t["transformation_output"].c.lot_id == lot_id)
        )
        for row in conn.execute(made).mappings():
            steps.append({"action": "produced_by_transformation", **row})
        used = (
            select(t["transformation"], t["transformation_input"].c.grams.label("grams_drawn"))
            .join(
                t["transformation_input"],
                t["transformation_input"].c.transform_id == t["transformation"].c.transform_id,
            )
            .where(t["transformation_input"].c.lot_id == lot_id)
        )
        for row in conn.execute(used).mappings():
            steps.append({"action": "consumed_by_transformation", **row})
        moved = select(t["transfer"]).where(
            or_(t["transfer"].c.lot_id == lot_id, t["transfer"].c.received_lot == lot_id)
        )
        for row in conn.execute(moved).mappings():
            steps.append({"action": "transfer", **row})
        for row in conn.execute(
            select(t["dispatch"]).where(t["dispatch"].c.lot_id == lot_id)
        ).mappings():
            steps.append({"action": "dispatch", **row})
    steps.sort(key=lambda s: (s["block_number"], s["log_index"]))
    return {"lot": dict(lot), "trail": steps}


@router.get(
    "/api/audit/verify",
    summary="Re-read the chain over a block range (signed in; at most 100,000 blocks); list every mismatch",
)
def audit_verify(
    state: StateDep,
    writes: WritesDep,
    account: AccountDep,
    from_block: Annotated[
        int | None, Query(ge=0, le=MAX_ID, description="default: the deployment block")
    ] = None,
    to_block: Annotated[
        int | None, Query(ge=0, le=MAX_ID, description="default: the indexed block")
    ] = None,
    pilot: Annotated[str | None, Query(description="only this pilot (code)")] = None,
) -> dict[str, Any]:
    pilot_id = None
    if pilot is not None:
        found = state.pilot(pilot)
        if found is None:
            raise HTTPException(status_code=404, detail=f"unknown pilot {pilot!r}")
        pilot_id = found.id
    start = from_block if from_block is not None else writes.suite.manifest.deploy_block
    end = to_block if to_block is not None else (state.indexed_block() or start)
    if end < start:
        raise HTTPException(
            status_code=422, detail=f"to_block {end} lies before from_block {start}"
        )
    if end - start + 1 > MAX_VERIFY_BLOCKS:
        raise HTTPException(
            status_code=422,
            detail=f"verify at most {MAX_VERIFY_BLOCKS:,} blocks per request (asked {end - start + 1:,}): "
            "narrow from_block/to_block, or run `loopledger audit verify` for the whole chain",
        )
    head = int(writes.suite.chain.w3.eth.block_number)
    if end > head:
        raise HTTPException(
            status_code=422, detail=f"to_block {end} lies beyond the chain head {head}"
        )
    del account  # signed in: who it is does not change what is verified
    return verify(
        writes.suite, state.store, from_block=start, to_block=end, pilot=pilot_id
    ).as_dict()
