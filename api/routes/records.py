"""Makers' records: intakes, transformations, hand-overs, dispatches and contributions; relayed
signed requests; and the jobs they become.

Each endpoint takes one record or a batch (`records`), checks everything before anything is
queued (see api/writes.py), and queues the batch as one all-or-nothing job signed with the
maker's custodial key. It answers 202 with the job, or, with ``wait=confirmed`` or
``wait=indexed``, once the job is mined (or indexed) and at most the gateway's wait bound later:
201 with the transaction, the events and the lots created, 422 if the ledger refused it, or
202 if it is still on its way (``GET /api/jobs/{id}`` follows it). An `Idempotency-Key` header
makes a retried request record nothing twice.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Generic, Literal, TypeVar

from eth_utils import function_signature_to_4byte_selector, to_checksum_address
from fastapi import APIRouter, Header, HTTPException, Path, Query
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Discriminator, Field, Tag
from sqlalchemy import func, select

from api.deps import AccountDep, PilotDep, StateDep, WritesDep
from api.state import GatewayState
from api.writes import (
    MAX_BATCH,
    ContributionIn,
    DispatchIn,
    IntakeIn,
    TransferIn,
    TransformIn,
    WriteService,
    created_lots,
)
from ledger.vocabulary import Role
from ledger.write.plan import WriteRejected
from ledger.write.queue import JobView, fingerprint

router = APIRouter(tags=["makers"])

T = TypeVar("T", bound=BaseModel)


class Batch(BaseModel, Generic[T]):
    records: list[T] = Field(min_length=1, max_length=MAX_BATCH)


class EventOut(BaseModel):
    name: str
    log_index: int
    args: dict[str, Any]


class JobOut(BaseModel):
    job_id: str
    state: Literal["queued", "sent", "confirmed", "failed"]
    kind: str
    status_url: str
    tx_hash: str | None = None
    block_number: int | None = None
    error: dict[str, Any] | None = None


class WriteOut(JobOut):
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
    Literal["confirmed", "indexed"] | None,
    Query(
        description="hold the answer until the job is mined, or stored by the indexer, for at "
        "most the gateway's wait bound; without it the answer is 202 with the job at once"
    ),
]


def job_out(job: JobView) -> JobOut:
    return JobOut(
        job_id=job.job_id,
        state=job.state,  # type: ignore[arg-type]
        kind=job.kind,
        status_url=f"/api/jobs/{job.job_id}",
        tx_hash=job.tx_hash,
        block_number=job.block_number,
        error=job.error,
    )


def answer(
    state: GatewayState,
    writes: WriteService,
    job: JobView,
    wait: str | None,
    records: int,
    replayed: bool = False,
    amend: Callable[[dict[str, Any]], dict[str, Any]] = lambda content: content,
) -> JSONResponse:
    """201 with what a confirmed job recorded (`amend` adds what the resource says of it), 422
    when it failed, else 202 with the job."""
    job = writes.settle(job, wait)
    headers = {"Idempotent-Replayed": "true"} if replayed else {}
    if job.state == "failed":
        reasons = (job.error or {}).get("reasons") or [["records", "the ledger refused it"]]
        raise WriteRejected([(str(f), str(m)) for f, m in reasons])
    if job.state != "confirmed" or job.result is None:
        body = job_out(job).model_dump()
        return JSONResponse(status_code=202, content=body, headers=headers)
    events = job.result["events"]
    lots = created_lots(events)
    assert job.block_number is not None
    indexed = wait == "indexed" and state.wait_indexed(job.block_number)
    out = WriteOut(
        **job_out(job).model_dump(),
        records=records,
        events=[EventOut(**e) for e in events],
        lots=lots,
        indexed=indexed,
    )
    if indexed and lots:
        table = state.store.tables["lot"]
        with state.store.engine.connect() as conn:
            rows = conn.execute(
                select(table).where(table.c.lot_id.in_(lots)).order_by(table.c.lot_id)
            )
            out.indexed_lots = [dict(r) for r in rows.mappings()]
    return JSONResponse(status_code=201, content=amend(out.model_dump()), headers=headers)


def _write(
    state: GatewayState,
    writes: WriteService,
    account: str,
    pilot: int,
    kind: str,
    body: Any,
    key: str | None,
    wait: str | None,
) -> JSONResponse:
    records = body.records if isinstance(body, Batch) else [body]
    writes.throttle(account)
    writes.require(pilot, account, Role.MAKER, "maker")
    job, replayed = writes.submit(
        account=account,
        pilot=pilot,
        kind=kind,
        content=[r.model_dump(mode="json") for r in records],
        idem_key=key,
        records=lambda: [r.record() for r in records],
    )
    return answer(state, writes, job, wait, len(records), replayed)


_RESPONSES: dict[int | str, dict[str, Any]] = {
    201: {"model": WriteOut, "description": "recorded on chain (with wait=confirmed or indexed)"},
    202: {"model": JobOut, "description": "accepted: queued, or sent and not yet mined"},
    401: {"description": "not signed in"},
    403: {"description": "not a maker of this pilot, suspended, or no custodial key"},
    409: {"description": "a request with this Idempotency-Key is still being accepted"},
    422: {"description": "invalid input: one message per field; nothing was recorded"},
    429: {"description": "too many writes from this account"},
}


def _one_or_many(value: Any) -> str:
    return "batch" if isinstance(value, dict) and "records" in value else "record"


# One record, or a batch {"records": [...]}: chosen by the body's shape, so that a bad record's
# errors name its fields only (no union of both readings).
IntakeBody = Annotated[
    Annotated[Batch[IntakeIn], Tag("batch")] | Annotated[IntakeIn, Tag("record")],
    Discriminator(_one_or_many),
]
TransformBody = Annotated[
    Annotated[Batch[TransformIn], Tag("batch")] | Annotated[TransformIn, Tag("record")],
    Discriminator(_one_or_many),
]
TransferBody = Annotated[
    Annotated[Batch[TransferIn], Tag("batch")] | Annotated[TransferIn, Tag("record")],
    Discriminator(_one_or_many),
]
DispatchBody = Annotated[
    Annotated[Batch[DispatchIn], Tag("batch")] | Annotated[DispatchIn, Tag("record")],
    Discriminator(_one_or_many),
]
ContributionBody = Annotated[
    Annotated[Batch[ContributionIn], Tag("batch")] | Annotated[ContributionIn, Tag("record")],
    Discriminator(_one_or_many),
]


def _records_route(kind: str, path: str, body: Any, summary: str) -> None:
    """POST /api/pilots/{pilot}/<path>: one record or a batch of `kind`."""

    def post(
        body: Any,
        pilot: PilotDep,
        state: StateDep,
        writes: WritesDep,
        account: AccountDep,
        idempotency_key: IdempotencyKey = None,
        wait: Wait = None,
    ) -> JSONResponse:
        return _write(state, writes, account, pilot.id, kind, body, idempotency_key, wait)

    post.__annotations__ = {**post.__annotations__, "body": body}
    post.__name__ = f"post_{path}"
    router.add_api_route(
        f"/api/pilots/{{pilot}}/{path}",
        post,
        methods=["POST"],
        status_code=202,
        responses=_RESPONSES,
        summary=summary,
    )


_records_route("intake", "intakes", IntakeBody, "Record material taken in (one record or a batch)")
_records_route(
    "transform",
    "transformations",
    TransformBody,
    "Record transformations: inputs -> outputs + loss, mass-balanced",
)
_records_route("transfer", "transfers", TransferBody, "Hand lots (or parts) over to other makers")
_records_route(
    "dispatch", "dispatches", DispatchBody, "Record where material leaves the system (its fate)"
)
_records_route(
    "contribution",
    "contributions",
    ContributionBody,
    "Record contributions: workshops, repair and mentoring time, donated products",
)


@router.get(
    "/api/jobs/{job_id}",
    response_model=JobOut,
    tags=["jobs"],
    summary="A write job: queued, sent (with its transaction), confirmed or failed",
)
def get_job(
    job_id: Annotated[str, Path(pattern=r"^[0-9a-f]{32}$")],
    state: StateDep,
    writes: WritesDep,
    account: AccountDep,
) -> JobOut:
    job = writes.queue.get(job_id)
    if job is None or job.account != account:
        raise HTTPException(status_code=404, detail=f"no job {job_id} of {account}")
    return job_out(job)


# ---- relayed requests a client signed ---------------------------------------------------------


class ForwardRequestIn(BaseModel):
    from_: str = Field(alias="from", pattern=r"^0x[0-9a-fA-F]{40}$")
    to: str = Field(pattern=r"^0x[0-9a-fA-F]{40}$")
    value: int = Field(0, ge=0, le=0, description="always 0: the ledger takes no ether")
    gas: int = Field(gt=0, le=10_000_000)
    deadline: int = Field(gt=0, lt=2**48)
    data: str = Field(
        pattern=r"^0x([0-9a-fA-F]{2}){4,8192}$", description="calldata, at most 8 KiB"
    )
    signature: str = Field(pattern=r"^0x[0-9a-fA-F]{130}$")


class RelayIn(BaseModel):
    requests: list[ForwardRequestIn] = Field(min_length=1, max_length=MAX_BATCH)


def relayable_selectors(writes: WriteService) -> dict[str, set[bytes]]:
    """State-changing functions of each suite contract (by address): what /api/relay accepts."""
    out: dict[str, set[bytes]] = {}
    for name, address in writes.suite.manifest.addresses.items():
        if name == "LedgerForwarder":
            continue
        out[address.lower()] = {
            function_signature_to_4byte_selector(
                f"{item['name']}({','.join(_abi_type(i) for i in item['inputs'])})"
            )
            for item in writes.suite.artifacts[name].abi
            if item.get("type") == "function"
            and item.get("stateMutability") in ("nonpayable", "payable")
        }
    return out


def _abi_type(item: dict[str, Any]) -> str:
    kind = str(item["type"])
    if kind.startswith("tuple"):
        return "(" + ",".join(_abi_type(c) for c in item["components"]) + ")" + kind[5:]
    return kind


@router.post(
    "/api/relay",
    status_code=202,
    responses=_RESPONSES,
    summary="Relay EIP-712 signed requests (ERC-2771) of self-custody makers and members",
)
def relay(
    body: RelayIn,
    state: StateDep,
    writes: WritesDep,
    account: AccountDep,
    idempotency_key: IdempotencyKey = None,
    wait: Wait = None,
) -> JSONResponse:
    writes.throttle(account)
    requests: list[dict[str, Any]] = [
        {
            "from": to_checksum_address(r.from_),
            "to": to_checksum_address(r.to),
            "value": 0,
            "gas": r.gas,
            "deadline": r.deadline,
            "data": bytes.fromhex(r.data[2:]),
            "signature": bytes.fromhex(r.signature[2:]),
        }
        for r in body.requests
    ]
    content = [r.model_dump(mode="json", by_alias=True) for r in body.requests]
    request_hash = fingerprint("relay", 0, content)
    if idempotency_key is not None:
        earlier = writes.queue.replay(account, idempotency_key, request_hash)
        if earlier is not None:
            return answer(state, writes, earlier, wait, len(requests), replayed=True)
    allowed = relayable_selectors(writes)
    reasons: list[tuple[str, str]] = []
    for i, r in enumerate(requests):
        selectors = allowed.get(r["to"].lower())
        if selectors is None:
            reasons.append((f"requests.{i}.to", "not a LoopLedger contract of this deployment"))
        elif r["data"][:4] not in selectors:
            reasons.append((f"requests.{i}.data", "not a state-changing function of the ledger"))
    if reasons:
        raise WriteRejected(reasons)
    nonces = writes.relay_nonces(requests)
    reasons = writes.check_relayed(requests, nonces)
    if reasons:
        raise WriteRejected(reasons)
    # Signers count against their own limits once their signatures are known to be theirs.
    for signer in sorted({r["from"] for r in requests} - {account}):
        writes.throttle(signer)
    job, replayed = writes.queue.submit(
        account=account,
        kind="relay",
        pilot_id=None,
        request_hash=request_hash,
        idem_key=idempotency_key,
        presigned=[(int(n), r) for n, r in zip(nonces, requests, strict=True) if n is not None],
    )
    writes.wake()
    return answer(state, writes, job, wait, len(requests), replayed)


class Page(BaseModel):
    data: list[dict[str, Any]]
    count: int
    limit: int
    offset: int


Limit = Annotated[int, Query(ge=1, le=1000, description="rows per page")]
Offset = Annotated[int, Query(ge=0, le=10**9, description="rows to skip")]


@router.get(
    "/api/pilots/{pilot}/lots",
    response_model=Page,
    tags=["lots"],
    summary="Lots of a pilot, filtered by holder and material, newest first",
)
async def list_lots(
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
) -> Response:
    def read() -> str:
        table, counts = state.store.tables["lot"], state.store.tables["agg_lot"]
        where = table.c.pilot_id == pilot.id
        counted = counts.c.pilot_id == pilot.id
        if holder:
            where &= func.lower(table.c.holder) == holder.lower()
            counted &= func.lower(counts.c.holder) == holder.lower()
        if material:
            ids = [m.material_id for m in state.materials() if m.code == material]
            where &= table.c.material_id.in_(ids)
            counted &= counts.c.material_id.in_(ids)
        if open_only:
            where &= table.c.grams > 0
        # The count comes from the indexer's lot counts per holder and material, not from
        # counting a pilot's lots.
        total = func.coalesce(func.sum(counts.c.open_lots if open_only else counts.c.lots), 0)
        with state.store.engine.connect() as conn:
            count = int(conn.execute(select(total).where(counted)).scalar_one())
            data = []
            if offset < count:  # past the end nothing is read
                rows = conn.execute(
                    select(table)
                    .where(where)
                    .order_by(table.c.lot_id.desc())
                    .limit(limit)
                    .offset(offset)
                )
                data = [dict(r) for r in rows.mappings()]
        return Page(data=data, count=count, limit=limit, offset=offset).model_dump_json()

    key = ("page", "lots", pilot.id, (holder or "").lower(), material, open_only, limit, offset)
    return Response(await state.page(key, read), media_type="application/json")


@router.get("/api/materials", tags=["lots"], summary="Material classes (codes) known to the ledger")
def materials(state: StateDep) -> list[dict[str, Any]]:
    return [
        {"material_id": m.material_id, "code": m.code, "kind": m.kind} for m in state.materials()
    ]
