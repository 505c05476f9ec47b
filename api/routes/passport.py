"""Product passports: the page, the JSON-LD document, the QR code, verification against the
chain, and the owner's evidence documents. See `ledger.audit.passport` for the levels."""

from __future__ import annotations

import hashlib
import io
import time
from fractions import Fraction
from pathlib import Path as FilePath
from typing import Annotated, Any, cast

import segno
from fastapi import APIRouter, Header, HTTPException, Path, Request
from fastapi.responses import FileResponse, JSONResponse, Response
from sqlalchemy import delete, insert, or_, select

from api.deps import OptionalAccountDep, StateDep, WritesDep
from api.state import GatewayState
from ledger.audit.gs1 import Identifiers
from ledger.audit.passport import Level, LotFacts, SourceLot, Step, passport_document, passport_url
from ledger.circularity.provenance import lot_graph, provenance
from ledger.vocabulary import Role

router = APIRouter(tags=["passports"])

MAX_LOT = 2**48
MAX_DOCUMENT = 5 * 1024 * 1024
LotPath = Annotated[int, Path(ge=1, le=MAX_LOT, description="lot id")]
PAGE = "passport.html"
STATIC = FilePath(__file__).resolve().parent.parent / "static"


def _ids(state: GatewayState) -> Identifiers:
    checkpoint = state.store.checkpoint()
    if checkpoint is None:
        raise HTTPException(status_code=404, detail="nothing is indexed yet")
    return Identifiers(checkpoint.chain_id, state.company_prefix)


def _base(state: GatewayState, request: Request) -> str:
    return (state.public_url or str(request.base_url)).rstrip("/")


def _names(state: GatewayState) -> dict[str, str]:
    names: dict[str, str] = {}
    for pilot in state.pilots:
        names.update({s.ewc: s.name for s in pilot.streams})
        names.update({p.product: p.product_name for p in pilot.processes})
    return names


def lot_facts(state: GatewayState, lot_id: int) -> LotFacts:
    """What the index holds about a lot, for its passport."""
    t = state.store.tables
    with state.store.engine.connect() as conn:
        lot = conn.execute(select(t["lot"]).where(t["lot"].c.lot_id == lot_id)).mappings().first()
        if lot is None:
            raise HTTPException(status_code=404, detail=f"lot {lot_id} is not indexed")
        steps: list[Step] = []

        def add(action: Any, row: Any, actor: str, **extra: Any) -> None:
            steps.append(
                Step(
                    action=action,
                    lot_id=lot_id,
                    grams=int(row.get("grams", 0)),
                    ts=int(row["ts"]),
                    evidence=str(row["evidence"]),
                    block_number=int(row["block_number"]),
                    tx_hash=str(row["tx_hash"]),
                    log_index=int(row["log_index"]),
                    actor=actor,
                    **extra,
                )
            )

        for row in conn.execute(
            select(t["intake"]).where(t["intake"].c.lot_id == lot_id)
        ).mappings():
            add("intake", row, row["maker"])
        made = (
            select(t["transformation"], t["transformation_output"].c.grams)
            .join(
                t["transformation_output"],
                t["transformation_output"].c.transform_id == t["transformation"].c.transform_id,
            )
            .where(t["transformation_output"].c.lot_id == lot_id)
        )
        for row in conn.execute(made).mappings():
            add("made", row, row["maker"])
        used = (
            select(t["transformation"], t["transformation_input"].c.grams)
            .join(
                t["transformation_input"],
                t["transformation_input"].c.transform_id == t["transformation"].c.transform_id,
            )
            .where(t["transformation_input"].c.lot_id == lot_id)
        )
        for row in conn.execute(used).mappings():
            add("used", row, row["maker"])
        moved = select(t["transfer"]).where(
            or_(t["transfer"].c.lot_id == lot_id, t["transfer"].c.received_lot == lot_id)
        )
        for row in conn.execute(moved).mappings():
            action = "handed_over" if row["lot_id"] == lot_id else "received"
            add(action, row, row["sender"], counterparty=row["recipient"])
        for row in conn.execute(
            select(t["dispatch"]).where(t["dispatch"].c.lot_id == lot_id)
        ).mappings():
            add("dispatched", row, row["maker"], fate=int(row["fate"]))
    steps.sort(key=lambda s: (s.block_number, s.log_index))
    records = state.records()
    codes = dict(
        zip(records.materials["material_id"].astype(int), records.materials["code"], strict=True)
    )
    graph = lot_graph(records)
    shares = provenance(graph, lot_id) if lot_id in graph else {lot_id: Fraction(1)}
    intakes = cast(
        dict[Any, dict[str, Any]], records.intakes.set_index("lot_id").to_dict(orient="index")
    )
    sources = [
        SourceLot(
            lot_id=int(s),
            material_id=int(intakes[s]["material_id"]),
            share=share,
            material=codes[int(intakes[s]["material_id"])],
            source=int(intakes[s]["source"]),
            grams=int(intakes[s]["grams"]),
            maker=str(intakes[s]["maker"]),
        )
        for s, share in sorted(shares.items())
        if s in intakes
    ]
    first = steps[0] if steps else None
    maker = (
        first.counterparty
        if first is not None and first.action == "received"
        else (first.actor if first else lot["holder"])
    )
    pilot = next(p for p in state.pilots if p.id == lot["pilot_id"])
    code = codes.get(int(lot["material_id"]), str(lot["material_id"]))
    return LotFacts(
        lot_id=lot_id,
        material_id=int(lot["material_id"]),
        material=code,
        material_name=_names(state).get(code, code),
        pilot_id=pilot.id,
        pilot_code=pilot.code,
        city=pilot.city,
        holder=str(lot["holder"]),
        maker=str(maker),
        grams=int(lot["grams"]),
        initial_grams=int(lot["initial_grams"]),
        recycled_bp=int(lot["recycled_bp"]),
        sources=sources,
        steps=steps,
    )


def _level(state: GatewayState, facts: LotFacts, account: str | None) -> Level:
    if account is None or state.writes is None:
        return "public"
    if account in (facts.holder, facts.maker):
        return "owner"
    roles = state.writes.roles(facts.pilot_id, account)
    return "partner" if roles and not roles & Role.SUSPENDED else "public"


def _documents(state: GatewayState, lot_id: int) -> dict[str, str]:
    table = state.store.tables["evidence_document"]
    with state.store.engine.connect() as conn:
        return {
            r.sha256: r.name
            for r in conn.execute(
                select(table.c.sha256, table.c.name).where(table.c.lot_id == lot_id)
            )
        }


def _passport(
    state: GatewayState, request: Request, lot_id: int, account: str | None
) -> JSONResponse:
    facts = lot_facts(state, lot_id)
    level = _level(state, facts, account)
    documents = _documents(state, lot_id) if level == "owner" else None
    body = passport_document(
        facts, ids=_ids(state), base_url=_base(state, request), level=level, documents=documents
    )
    return JSONResponse(
        body, media_type="application/ld+json", headers={"Vary": "X-API-Key, Authorization"}
    )


@router.get(
    "/api/passports/{lot_id}",
    summary="A lot's product passport as JSON-LD (public, partner or owner level)",
)
def passport(
    state: StateDep, request: Request, lot_id: LotPath, account: OptionalAccountDep
) -> JSONResponse:
    return _passport(state, request, lot_id, account)


@router.get(
    "/api/passports/{lot_id}/qr.svg",
    summary="QR code (SVG) of the passport's stable URL",
    response_class=Response,
)
def passport_qr(state: StateDep, request: Request, lot_id: LotPath) -> Response:
    t = state.store.tables["lot"]
    with state.store.engine.connect() as conn:
        material = conn.execute(select(t.c.material_id).where(t.c.lot_id == lot_id)).scalar()
    if material is None:
        raise HTTPException(status_code=404, detail=f"lot {lot_id} is not indexed")
    buffer = io.BytesIO()
    url = passport_url(_ids(state), _base(state, request), lot_id, int(material))
    segno.make(url, error="m").save(buffer, kind="svg", scale=8, border=4, xmldecl=False, title=url)
    return Response(buffer.getvalue(), media_type="image/svg+xml")


@router.get(
    "/api/passports/{lot_id}/verify", summary="Check every record of the passport against the chain"
)
def passport_verify(state: StateDep, writes: WritesDep, lot_id: LotPath) -> dict[str, Any]:
    facts = lot_facts(state, lot_id)
    checks = []
    decoder, w3 = writes.suite.decoder, writes.suite.chain.w3
    for step in facts.steps:
        reason = ""
        try:
            receipt = w3.eth.get_transaction_receipt(step.tx_hash)  # type: ignore[arg-type]
            logs = [log for log in receipt["logs"] if int(log["logIndex"]) == step.log_index]
            event = decoder.decode(logs[0]) if logs else None
        except Exception as exc:  # the chain does not know the transaction
            event, reason = None, f"not on this chain: {exc}"
        if event is None:
            reason = reason or f"no ledger event at log {step.log_index}"
        else:
            raw = event.args.get("evidence")
            recorded = raw if isinstance(raw, str) else "0x" + bytes(raw or b"").hex()
            if recorded.lower() != step.evidence.lower():
                reason = f"the chain records evidence {recorded}, the passport {step.evidence}"
            elif int(receipt["blockNumber"]) != step.block_number:
                reason = f"the chain has it in block {receipt['blockNumber']}, the passport {step.block_number}"
        checks.append(
            {
                "record": step.action,
                "transaction": step.tx_hash,
                "log": step.log_index,
                "ok": not reason,
                "reason": reason,
            }
        )
    return {
        "lot_id": lot_id,
        "verified": all(c["ok"] for c in checks) and bool(checks),
        "checks": checks,
    }


def _owner(state: GatewayState, lot_id: int, account: str | None) -> LotFacts:
    facts = lot_facts(state, lot_id)
    if account is None:
        raise HTTPException(status_code=401, detail="sign in as the lot's holder or maker")
    if _level(state, facts, account) != "owner":
        raise HTTPException(
            status_code=403,
            detail=f"only the holder or maker of lot {lot_id} has its evidence documents",
        )
    return facts


@router.put(
    "/api/passports/{lot_id}/evidence/{sha256}",
    summary="Keep an evidence document with the passport (owner)",
)
async def put_evidence(
    state: StateDep,
    request: Request,
    lot_id: LotPath,
    sha256: Annotated[str, Path(pattern=r"^0x[0-9a-f]{64}$")],
    account: OptionalAccountDep,
    content_type: Annotated[str, Header()] = "application/octet-stream",
    x_filename: Annotated[str, Header(max_length=200)] = "evidence",
) -> dict[str, Any]:
    facts = _owner(state, lot_id, account)
    body = await request.body()
    if len(body) > MAX_DOCUMENT:
        raise HTTPException(status_code=413, detail=f"at most {MAX_DOCUMENT:,} bytes per document")
    digest = "0x" + hashlib.sha256(body).hexdigest()
    if digest != sha256:
        raise HTTPException(
            status_code=422, detail=f"the document's SHA-256 is {digest}, not {sha256}"
        )
    if sha256 not in {s.evidence.lower() for s in facts.steps}:
        raise HTTPException(
            status_code=422, detail=f"no record of lot {lot_id} carries evidence {sha256}"
        )
    table = state.store.tables["evidence_document"]
    with state.store.engine.begin() as conn:
        conn.execute(delete(table).where(table.c.sha256 == sha256, table.c.lot_id == lot_id))
        conn.execute(
            insert(table).values(
                sha256=sha256,
                lot_id=lot_id,
                name=x_filename,
                media_type=content_type,
                content=body,
                uploaded_by=str(account),
                uploaded_at=int(time.time()),
            )
        )
    return {"lot_id": lot_id, "sha256": sha256, "name": x_filename, "bytes": len(body)}


@router.get(
    "/api/passports/{lot_id}/evidence/{sha256}",
    summary="An evidence document of the passport (owner)",
    response_class=Response,
)
def get_evidence(
    state: StateDep, lot_id: LotPath, sha256: str, account: OptionalAccountDep
) -> Response:
    _owner(state, lot_id, account)
    table = state.store.tables["evidence_document"]
    with state.store.engine.connect() as conn:
        row = conn.execute(
            select(table).where(table.c.sha256 == sha256, table.c.lot_id == lot_id)
        ).first()
    if row is None:
        raise HTTPException(
            status_code=404, detail=f"no document {sha256} is kept for lot {lot_id}"
        )
    return Response(
        row.content,
        media_type=row.media_type,
        headers={"Content-Disposition": f'attachment; filename="{row.name}"'},
    )


@router.get("/passport/{lot_id}", include_in_schema=False)
def passport_page(lot_id: LotPath) -> FileResponse:
    return FileResponse(STATIC / PAGE)


@router.get("/01/{gtin}/10/{lot_id}", include_in_schema=False)
def digital_link(
    state: StateDep, request: Request, gtin: str, lot_id: LotPath, account: OptionalAccountDep
) -> Response:
    """GS1 Digital Link resolution on this gateway: the passport page, or its JSON-LD when asked."""
    ids = _ids(state)
    facts = lot_facts(state, lot_id)
    if not ids.gs1 or ids.gtin(facts.material_id) != gtin:
        raise HTTPException(status_code=404, detail=f"no product {gtin} lot {lot_id} here")
    if "application/ld+json" in request.headers.get("accept", ""):
        return _passport(state, request, lot_id, account)
    return FileResponse(STATIC / PAGE)
