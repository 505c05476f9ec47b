"""GS1 EPCIS 2.0: export a pilot's material events, import a maker's document (all or nothing)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Header, HTTPException, Query
from fastapi.responses import JSONResponse

from api.deps import AccountDep, PilotDep, StateDep, WritesDep
from api.idempotency import fingerprint, idempotent
from api.writes import FieldErrors
from ledger.audit.epcis import (
    EpcisRejected,
    document,
    export_events,
    prepare_import,
    schema_path,
    store_tables,
)
from ledger.errors import LedgerError
from ledger.relay import Job
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
                           pilot_codes={p.id: p.code for p in state.pilots}, material_codes=codes)  # fmt: skip
    return document(events)


@router.post("/api/pilots/{pilot}/epcis", status_code=201,
             summary="Record an EPCIS 2.0 document's events as the signed-in maker (all or nothing)")  # fmt: skip
def import_document(
    pilot: PilotDep,
    state: StateDep,
    writes: WritesDep,
    account: AccountDep,
    doc: Annotated[dict[str, Any], Body(examples=[EXAMPLE])],
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key")] = None,
) -> JSONResponse:
    def run() -> tuple[int, dict[str, Any]]:
        writes.throttle(account)
        writes.require(pilot.id, account, Role.MAKER, "maker")
        signer = writes.signer(account)
        try:
            plan, call = prepare_import(writes.suite, doc, schema=schema_path(project_root()), pilot_id=pilot.id,
                                        pilot_code=pilot.code, maker=account)  # fmt: skip
        except EpcisRejected as exc:
            raise FieldErrors(list(exc.reasons)) from exc
        except LedgerError as exc:
            raise HTTPException(status_code=503, detail=str(exc)) from exc
        planned = writes.simulate(account, [("document", call)])
        result = writes.run(Job(signer=signer, calls=planned))
        return 201, {"tx_hash": result.tx_hash, "block_number": result.block_number, "events": plan.events,
                     "lots": plan.lots}  # fmt: skip

    return idempotent(
        state.store, account, idempotency_key, fingerprint("epcis", pilot.id, doc), run
    )
