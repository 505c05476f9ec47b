"""GS1 EPCIS 2.0: export a pilot's material events, import a maker's document (all or nothing)."""

from __future__ import annotations

import time
from typing import Annotated, Any

from fastapi import APIRouter, Body, HTTPException, Query
from fastapi.responses import JSONResponse
from sqlalchemy import delete, insert, select

from api.deps import AccountDep, PilotDep, StateDep, WritesDep
from api.routes.records import IdempotencyKey, Wait, answer
from api.writes import MAX_BATCH
from ledger.audit.epcis import (
    document,
    export_events,
    plan_import,
    remember_event_times,
    schema_path,
    store_tables,
)
from ledger.audit.epcis_mapping import ImportMapping
from ledger.settings import project_root
from ledger.vocabulary import Role
from ledger.write.plan import WriteRejected

router = APIRouter(tags=["epcis"])

EXAMPLE = {
    "@context": [
        "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld",
        {"ll": "https://loopledger.eu/epcis/"},
    ],
    "type": "EPCISDocument",
    "schemaVersion": "2.0",
    "creationDate": "2026-11-22T09:00:00Z",
    "epcisBody": {
        "eventList": [
            {
                "type": "ObjectEvent",
                "eventTime": "2026-11-22T08:30:00Z",
                "eventTimeZoneOffset": "+01:00",
                "action": "ADD",
                "bizStep": "receiving",
                "quantityList": [
                    {"epcClass": "urn:example:pallets:2026-11-22", "quantity": 120, "uom": "KGM"}
                ],
                "bizLocation": {"id": "urn:loopledger:pilot:LEU"},
                "ll:material": "15 01 03",
                "ll:source": "industrial_surplus",
            }
        ]
    },
}


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
    events = export_events(
        store_tables(state.store, pilot=pilot.id, maker=maker),
        chain_id=checkpoint.chain_id,
        pilot_codes={p.id: p.code for p in state.pilots},
        material_codes=codes,
        company_prefix=state.company_prefix,
    )
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
    events = (doc.get("epcisBody") or {}).get("eventList")
    if isinstance(events, list) and len(events) > MAX_BATCH:
        why = f"{len(events)} events: send at most {MAX_BATCH} per document"
        raise WriteRejected([("epcisBody.eventList", why)])
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
    remember_event_times(state.store, doc["epcisBody"]["eventList"])
    # The lots of the document, by its own names (its epcClass identifiers).
    return answer(
        state,
        writes,
        job,
        wait,
        len(plan.records),
        replayed,
        amend=lambda content: {**content, "lots": job.handles},
    )


@router.get(
    "/api/pilots/{pilot}/epcis/mapping",
    summary="How the pilot reads EPCIS documents of other systems",
)
def get_mapping(state: StateDep, pilot: PilotDep) -> ImportMapping:
    table = state.store.tables["epcis_mapping"]
    with state.store.engine.connect() as conn:
        row = conn.execute(select(table.c.body).where(table.c.pilot_id == pilot.id)).first()
    if row is None:
        raise HTTPException(
            status_code=404, detail=f"pilot {pilot.code} has no EPCIS import mapping yet"
        )
    return ImportMapping.model_validate_json(row.body)


@router.put(
    "/api/pilots/{pilot}/epcis/mapping",
    summary="Set the pilot's EPCIS import mapping (pilot admin)",
)
def put_mapping(
    state: StateDep, writes: WritesDep, pilot: PilotDep, account: AccountDep, mapping: ImportMapping
) -> ImportMapping:
    writes.require(pilot.id, account, Role.ADMIN, "admin")
    if mapping.pilot != pilot.code:
        raise WriteRejected(
            [("pilot", f"the mapping is for {mapping.pilot}, the path names {pilot.code}")]
        )
    unknown = sorted(
        {rule.material for rule in mapping.materials} - set(writes.suite.manifest.materials)
    )
    if unknown:
        raise WriteRejected([("materials", f"unknown material codes: {', '.join(unknown)}")])
    table = state.store.tables["epcis_mapping"]
    with state.store.engine.begin() as conn:
        conn.execute(delete(table).where(table.c.pilot_id == pilot.id))
        conn.execute(
            insert(table).values(
                pilot_id=pilot.id,
                body=mapping.model_dump_json(),
                updated_by=account,
                updated_at=int(time.time()),
            )
        )
    return mapping
