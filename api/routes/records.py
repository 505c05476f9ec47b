"""Makers' records: intakes, transformations, hand-overs, dispatches and contributions.

Each endpoint takes one record or a batch (`records`), checks everything before anything is sent
(see api/writes.py), relays the batch as one all-or-nothing job signed with the maker's custodial
key, and answers with the transaction, the events it emitted and, with `wait=indexed`, the
indexed lots. An `Idempotency-Key` header makes a retried request record nothing twice.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Annotated, Any, Generic, Literal, TypeVar

from eth_abi import encode
from eth_utils import to_checksum_address
from fastapi import APIRouter, Header, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy import func, select

from api.deps import AccountDep, PilotDep, StateDep, WritesDep
from api.idempotency import fingerprint, idempotent
from api.state import GatewayState
from api.writes import (
    MAX_BATCH,
    ContributionIn,
    DispatchIn,
    FieldErrors,
    IntakeIn,
    TransferIn,
    TransformIn,
    WriteService,
)
from ledger.events import DecodedEvent
from ledger.relay import Job, JobResult
from ledger.transact import EXECUTE_ALL, REQUEST_FIELDS, REQUEST_TYPE, Call
from ledger.vocabulary import Role

router = APIRouter(tags=["makers"])

T = TypeVar("T", bound=BaseModel)


class Batch(BaseModel, Generic[T]):
    records: list[T] = Field(min_length=1, max_length=MAX_BATCH)


class EventOut(BaseModel):
    name: str
    log_index: int
    args: dict[str, Any]


class WriteOut(BaseModel):
    tx_hash: str
    block_number: int
    records: int
    events: list[EventOut]
    lots: list[int] = Field(description="lots created by the records")
    indexed: bool
    indexed_lots: list[dict[str, Any]] | None = None


IdempotencyKey = Annotated[
    str | None,
    Header(alias="Idempotency-Key", description="retrying with the same key records nothing twice"),
]
Wait = Annotated[
    Literal["confirmed", "indexed"],
    Query(description="answer once the transaction is mined, or once the indexer has stored it"),
]


def _json(value: Any) -> Any:
    if isinstance(value, bytes):
        return "0x" + value.hex()
    if isinstance(value, list | tuple):
        return [_json(v) for v in value]
    if isinstance(value, int) and abs(value) > 2**53:
        return str(value)
    return value


def _created(events: Sequence[DecodedEvent]) -> list[int]:
    lots: list[int] = []
    for e in events:
        a = e.args
        if e.name == "MaterialTakenIn":
            lots.append(int(a["lotId"]))
        elif e.name == "MaterialTransformed":
            lots += range(int(a["firstOutputLot"]), int(a["firstOutputLot"]) + len(a["outputs"]))
        elif e.name == "LotTransferred" and a["receivedLot"] != a["lotId"]:
            lots.append(int(a["receivedLot"]))
    return lots


def _answer(state: GatewayState, result: JobResult, records: int, wait: str) -> dict[str, Any]:
    events = [e for e in result.all_events() if e.name not in ("Transfer",)]
    lots = _created(events)
    indexed = wait == "indexed" and state.wait_indexed(result.block_number)
    body = WriteOut(
        tx_hash=result.tx_hash,
        block_number=result.block_number,
        records=records,
        events=[
            EventOut(
                name=e.name, log_index=e.log_index, args={k: _json(v) for k, v in e.args.items()}
            )
            for e in events
        ],
        lots=lots,
        indexed=indexed,
    )
    if indexed and lots:
        table = state.store.tables["lot"]
        with state.store.engine.connect() as conn:
            rows = conn.execute(
                select(table).where(table.c.lot_id.in_(lots)).order_by(table.c.lot_id)
            )
            body.indexed_lots = [dict(r) for r in rows.mappings()]
    return body.model_dump()


def _write(
    state: GatewayState,
    writes: WriteService,
    account: str,
    pilot: int,
    kind: str,
    batch: Batch[Any],
    key: str | None,
    wait: str,
    build: Callable[[str, int, Sequence[Any]], list[tuple[str, Call]]],
) -> JSONResponse:
    def run() -> tuple[int, dict[str, Any]]:
        writes.throttle(account)
        writes.require(pilot, account, Role.MAKER, "maker")
        signer = writes.signer(account)
        planned = writes.simulate(account, build(account, pilot, batch.records))
        result = writes.run(Job(signer=signer, calls=planned))
        return 201, _answer(state, result, len(batch.records), wait)

    body = [r.model_dump(mode="json") for r in batch.records]
    return idempotent(state.store, account, key, fingerprint(kind, pilot, body), run)


_RESPONSES: dict[int | str, dict[str, Any]] = {
    201: {"model": WriteOut, "description": "recorded on chain"},
    401: {"description": "not signed in"},
    403: {"description": "not a maker of this pilot, suspended, or no custodial key"},
    409: {"description": "a request with this Idempotency-Key is still running"},
    422: {"description": "invalid input: one message per field; nothing was sent"},
    429: {"description": "too many writes from this account"},
}


@router.post("/api/pilots/{pilot}/intakes", status_code=201, responses=_RESPONSES,
             summary="Record material taken in (one or a batch)")  # fmt: skip
def post_intakes(batch: Batch[IntakeIn], pilot: PilotDep, state: StateDep, writes: WritesDep,
                 account: AccountDep, idempotency_key: IdempotencyKey = None, wait: Wait = "confirmed") -> JSONResponse:  # fmt: skip
    return _write(
        state,
        writes,
        account,
        pilot.id,
        "intake",
        batch,
        idempotency_key,
        wait,
        writes.intake_calls,
    )


@router.post("/api/pilots/{pilot}/transformations", status_code=201, responses=_RESPONSES,
             summary="Record transformations: inputs -> outputs + loss, mass-balanced")  # fmt: skip
def post_transformations(batch: Batch[TransformIn], pilot: PilotDep, state: StateDep, writes: WritesDep,
                         account: AccountDep, idempotency_key: IdempotencyKey = None,
                         wait: Wait = "confirmed") -> JSONResponse:  # fmt: skip
    return _write(
        state,
        writes,
        account,
        pilot.id,
        "transform",
        batch,
        idempotency_key,
        wait,
        writes.transform_calls,
    )


@router.post("/api/pilots/{pilot}/transfers", status_code=201, responses=_RESPONSES,
             summary="Hand lots (or parts) over to other makers")  # fmt: skip
def post_transfers(batch: Batch[TransferIn], pilot: PilotDep, state: StateDep, writes: WritesDep,
                   account: AccountDep, idempotency_key: IdempotencyKey = None, wait: Wait = "confirmed") -> JSONResponse:  # fmt: skip
    return _write(
        state,
        writes,
        account,
        pilot.id,
        "transfer",
        batch,
        idempotency_key,
        wait,
        writes.transfer_calls,
    )


@router.post("/api/pilots/{pilot}/dispatches", status_code=201, responses=_RESPONSES,
             summary="Record where material leaves the system (its fate)")  # fmt: skip
def post_dispatches(batch: Batch[DispatchIn], pilot: PilotDep, state: StateDep, writes: WritesDep,
                    account: AccountDep, idempotency_key: IdempotencyKey = None, wait: Wait = "confirmed") -> JSONResponse:  # fmt: skip
    return _write(
        state,
        writes,
        account,
        pilot.id,
        "dispatch",
        batch,
        idempotency_key,
        wait,
        writes.dispatch_calls,
    )


@router.post("/api/pilots/{pilot}/contributions", status_code=201, responses=_RESPONSES,
             summary="Record contributions: workshops, repair and mentoring time, donated products")  # fmt: skip
def post_contributions(batch: Batch[ContributionIn], pilot: PilotDep, state: StateDep, writes: WritesDep,
                       account: AccountDep, idempotency_key: IdempotencyKey = None,
                       wait: Wait = "confirmed") -> JSONResponse:  # fmt: skip
    return _write(state, writes, account, pilot.id, "contribution", batch, idempotency_key, wait,
                  writes.contribution_calls)  # fmt: skip


class ForwardRequestIn(BaseModel):
    from_: str = Field(alias="from", pattern=r"^0x[0-9a-fA-F]{40}$")
    to: str = Field(pattern=r"^0x[0-9a-fA-F]{40}$")
    value: int = Field(0, ge=0, le=0, description="always 0: the ledger takes no ether")
    gas: int = Field(gt=0, le=10_000_000)
    deadline: int = Field(gt=0, lt=2**48)
    data: str = Field(pattern=r"^0x([0-9a-fA-F]{2})*$")
    signature: str = Field(pattern=r"^0x[0-9a-fA-F]{130}$")


class RelayIn(BaseModel):
    requests: list[ForwardRequestIn] = Field(min_length=1, max_length=MAX_BATCH)


@router.post("/api/relay", status_code=201, responses=_RESPONSES,
             summary="Relay EIP-712 signed requests (ERC-2771) of self-custody makers and members")  # fmt: skip
def relay(
    body: RelayIn, state: StateDep, writes: WritesDep, wait: Wait = "confirmed"
) -> JSONResponse:
    forwarder = writes.suite.tx.forwarder
    assert forwarder is not None
    targets = {
        a.lower() for n, a in writes.suite.manifest.addresses.items() if n != "LedgerForwarder"
    }
    errors: list[tuple[str, str]] = []
    requests: list[dict[str, Any]] = []
    for i, r in enumerate(body.requests):
        request = {"from": to_checksum_address(r.from_), "to": to_checksum_address(r.to), "value": 0, "gas": r.gas, "deadline": r.deadline,
                   "data": bytes.fromhex(r.data[2:]), "signature": bytes.fromhex(r.signature[2:])}  # fmt: skip
        if r.to.lower() not in targets:
            errors.append((f"requests.{i}.to", "not a LoopLedger contract of this deployment"))
        elif not forwarder.functions.verify(request).call():
            errors.append((f"requests.{i}.signature", "the signature, nonce or deadline is not valid "
                                                      "for this forwarder and chain"))  # fmt: skip
        requests.append(request)
    if errors:
        raise FieldErrors(errors)
    signer = requests[0]["from"]
    writes.throttle(signer)
    try:
        data = EXECUTE_ALL + encode(
            [REQUEST_TYPE + "[]"], [[tuple(r[k] for k in REQUEST_FIELDS) for r in requests]]
        )
        writes.gas_of(writes.suite.tx.relayer.address if writes.suite.tx.relayer else signer,
                      Call(forwarder.address, data))  # fmt: skip
    except Exception as exc:
        raise FieldErrors([("requests", f"the ledger refuses it: {exc}")]) from exc
    result = writes.run(Job(presigned=requests))
    return JSONResponse(status_code=201, content=_answer(state, result, len(requests), wait))


class Page(BaseModel):
    data: list[dict[str, Any]]
    count: int
    limit: int
    offset: int


Limit = Annotated[int, Query(ge=1, le=1000, description="rows per page")]
Offset = Annotated[int, Query(ge=0, le=10**9, description="rows to skip")]


@router.get("/api/pilots/{pilot}/lots", response_model=Page, tags=["lots"],
            summary="Lots of a pilot, filtered by holder and material, newest first")  # fmt: skip
def list_lots(
    state: StateDep,
    pilot: PilotDep,
    holder: Annotated[str | None, Query(description="address of the holder")] = None,
    material: Annotated[
        str | None, Query(description="material code", examples=["20 01 01"])
    ] = None,
    open_only: Annotated[
        bool, Query(alias="open", description="only lots with grams left")
    ] = False,
    limit: Limit = 50,
    offset: Offset = 0,
) -> Page:
    table = state.store.tables["lot"]
    where = table.c.pilot_id == pilot.id
    if holder:
        where &= func.lower(table.c.holder) == holder.lower()
    if material:
        records = state.records()
        ids = records.materials.loc[records.materials["code"] == material, "material_id"].tolist()
        where &= table.c.material_id.in_([int(i) for i in ids])
    if open_only:
        where &= table.c.grams > 0
    with state.store.engine.connect() as conn:
        count = int(conn.execute(select(func.count()).select_from(table).where(where)).scalar_one())
        rows = conn.execute(
            select(table).where(where).order_by(table.c.lot_id.desc()).limit(limit).offset(offset)
        )
        data = [dict(r) for r in rows.mappings()]
    return Page(data=data, count=count, limit=limit, offset=offset)


@router.get("/api/materials", tags=["lots"], summary="Material classes (codes) known to the ledger")
def materials(state: StateDep) -> list[dict[str, Any]]:
    frame = state.records().materials.sort_values("material_id")
    return [{"material_id": int(m), "code": str(c), "kind": int(k)}
            for m, c, k in zip(frame["material_id"], frame["code"], frame["kind"], strict=True)]  # fmt: skip
