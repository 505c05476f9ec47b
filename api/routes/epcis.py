"""GS1 EPCIS 2.0: export a pilot's material events, import a maker's document (all or nothing)."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Body, HTTPException, Query
from fastapi.responses import JSONResponse

from api.deps import AccountDep, PilotDep, StateDep, WritesDep
from api.routes.records import IdempotencyKey, Wait, answer
from ledger.audit.epcis import document, export_events, plan_import, schema_path, store_tables
from ledger.settings import project_root
from ledger.vocabulary import Role

router = APIRouter(tags=["epcis"])

EXAMPLE = {"@context": ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld", {"ll": "https://loopledger.eu/epcis/"}],
           "type": "EPCISDocument", "schemaVersion": "2.0", "creationDate": "2026-11-22T09:00:00Z",
           "epcisBody": {"eventList": [{"type": "ObjectEvent", "eventTime": "2026-11-22T08:30:00Z",
                                        "eventTimeZoneOffset": "+01:00", "action": "ADD", "bizStep": "receiving",
                                        "quantityList": [{"epcClass": "urn:example:pallets:2026-11-22", "quantity": 120,
                                                          "uom": "KGM"}],
                                        "bizLocation": {"id": "urn:loopledger:pilot:LEU"},
                                        "ll:material": "15 01 03", "ll:source": "industrial_surplus"}]}}  # fmt: skip


@router.get(
    "/api/pilots/{pilot}/epcis", summary="The pilot's material events as an EPCIS 2.0 document"
)
def export(
    state: StateDep,
    pilot: PilotDep,
    maker: Annotated[str | None, Query(description="only this maker's records")] = None,
) -> dict[str, Any]:
    records = state.records()
    codes = dict(
        zip(records.materials["material_id"].astype(int), records.materials["code"], strict=True)
    )
    checkpoint = state.store.checkpoint()
    if checkpoint is None:
        raise HTTPException(status_code=404, detail="nothing is indexed yet")
    events = export_events(store_tables(state.store, pilot=pilot.id, maker=maker), chain_id=checkpoint.chain_id,
                           pilot_codes={p.id: p.code for p in state.pilots}, material_codes=codes,
                           company_prefix=state.company_prefix)  # fmt: skip
    return document(events)


@router.post(
    "/api/pilots/{pilot}/epcis",
    status_code=202,
    summary="Record an EPCIS 2.0 document's events as the signed-in maker (all or nothing)",
)
def import_document(
    pilot: PilotDep,
    state: StateDep,
    writes: WritesDep,
    account: AccountDep,
    doc: Annotated[dict[str, Any], Body(examples=[EXAMPLE])],
    idempotency_key: IdempotencyKey = None,
    wait: Wait = None,
) -> JSONResponse:
    writes.throttle(account)
    writes.require(pilot.id, account, Role.MAKER, "maker")
    plan = plan_import(
        doc, schema=schema_path(project_root()), chain_id=writes.chain_id, pilot_code=pilot.code
    )
    job, replayed = writes.submit(
        account=account,
        pilot=pilot.id,
        kind="epcis",
        content=doc,
        idem_key=idempotency_key,
        records=lambda: plan.records,
        where=plan.where,
        handles=True,
    )
    reply = answer(state, writes, job, wait, len(plan.records), replayed)
    if reply.status_code != 201:
        return reply
    # The lots of the document, by its own names (its epcClass identifiers).
    content = {**json.loads(bytes(reply.body)), "lots": job.handles}
    replay = {"Idempotent-Replayed": "true"} if replayed else {}
    return JSONResponse(status_code=201, content=content, headers=replay)
