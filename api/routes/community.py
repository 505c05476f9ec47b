"""Community programme: events with QR check-in, skill credentials, held drop-off points,
consented target-group declarations; and the impact KPIs of each pilot.

Writes are signed with the acting account's custodial key and relayed through the write
service (:func:`_send`, the one piece of glue to the relay); reads come from the index.
"""

from __future__ import annotations

import hashlib
import io
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

import segno
from eth_account.signers.local import LocalAccount
from eth_utils import to_checksum_address
from fastapi import APIRouter, HTTPException, Path, Query
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlmodel import Session

from api.deps import AccountDep, PilotDep, StateDep, WritesDep
from api.writes import WriteService
from ledger.checkin import InvalidCheckInToken, parse_token, token_signer
from ledger.impact.declarations import DeclarationRefused, declare, withdraw
from ledger.impact.framework import KpiValue, evaluate, jsonld
from ledger.impact.inputs import community_records, impact_inputs
from ledger.transact import Call
from ledger.vocabulary import EventKind, Role
from ledger.write.plan import WriteRejected
from ledger.write.queue import fingerprint
from pilots.model import Pilot

router = APIRouter(tags=["community"])

#: A QR code on the venue's screen is renewed before its token expires.
QR_LIFETIME = 120
KindName = Literal["workshop", "repair_cafe", "maker_faire", "training"]
YearQuery = Annotated[
    int | None, Query(ge=2000, le=2100, description="calendar year; default: this year")
]


@dataclass(frozen=True)
class Sent:
    """A confirmed community write: its transaction, block and decoded events."""

    tx_hash: str
    block_number: int
    events: list[dict[str, Any]]

    def event(self, name: str) -> dict[str, Any]:
        return dict(next(e for e in self.events if e["name"] == name)["args"])


def _send(writes: WriteService, account: str, pilot: int, where: str, call: Call) -> Sent:
    """Simulate `call` as the custodial `account`, queue it as a job for the relayer and wait
    until it is mined: the one piece of glue between these routes and the write path."""
    writes.require_custody(account)
    planned = writes.writer.simulate(account, [(where, call)])
    job, _ = writes.queue.submit(
        account=account,
        kind="community",
        pilot_id=pilot,
        request_hash=fingerprint("community", pilot, account, call.data.hex()),
        idem_key=None,
        signer=account,
        calls=planned,
    )
    writes.wake()
    job = writes.settle(job, "confirmed")
    if job.state == "failed":
        reasons = (job.error or {}).get("reasons") or [[where, "the ledger refused it"]]
        raise WriteRejected([(str(f), str(m)) for f, m in reasons])
    if (
        job.state != "confirmed"
        or job.result is None
        or job.tx_hash is None
        or job.block_number is None
    ):
        raise HTTPException(
            status_code=503, detail=f"not confirmed in time: follow it at /api/jobs/{job.job_id}"
        )
    return Sent(job.tx_hash, job.block_number, list(job.result["events"]))


def _custodial_key(writes: WriteService, account: str) -> LocalAccount:
    """The staff member's key held by the gateway: it signs the event's QR check-in codes."""
    key = writes.custody.key_for(account)
    if key is None:
        raise WriteRejected(
            [("account", f"the gateway holds no key for {account} to sign check-in codes")], 403
        )
    return key


def _chain_now(writes: WriteService) -> int:
    """The chain's clock: event windows and token lifetimes are checked against block time."""
    return int(writes.suite.chain.w3.eth.get_block("latest")["timestamp"])


def _event_row(state: Any, event_id: int) -> dict[str, Any]:
    table = state.store.tables["community_event"]
    with state.store.engine.connect() as conn:
        row = conn.execute(select(table).where(table.c.event_id == event_id)).mappings().first()
    if row is None:
        raise HTTPException(status_code=404, detail=f"no event {event_id} is indexed")
    return dict(row)


class EventIn(BaseModel):
    kind: KindName
    opens: int = Field(gt=0, lt=2**32, description="unix seconds: check-in opens")
    closes: int = Field(gt=0, lt=2**32, description="unix seconds: check-in closes")
    points: int = Field(gt=0, lt=2**16, description="points per attendee")
    venue: str = Field(
        min_length=1, max_length=200, description="place (only its SHA-256 goes on chain)"
    )


class EventOut(BaseModel):
    event_id: int
    pilot_id: int
    kind: str
    opens: int
    closes: int
    points: int
    signer: str
    attendance: int
    tx_hash: str | None = None


@router.post(
    "/api/pilots/{pilot}/events",
    status_code=201,
    response_model=EventOut,
    summary="Create an event (pilot staff); its QR tokens are signed with the staff's key",
)
def create_event(
    body: EventIn, pilot: PilotDep, state: StateDep, writes: WritesDep, account: AccountDep
) -> EventOut:
    writes.throttle(account)
    writes.require(pilot.id, account, Role.ISSUER, "staff member (award issuer)")
    if body.closes <= body.opens:
        raise WriteRejected([("closes", "an event must close after it opens")])
    if body.closes <= _chain_now(writes):
        raise WriteRejected(
            [("closes", "the event is already over: choose a closing time in the future")]
        )
    venue = hashlib.sha256(body.venue.encode()).digest()
    kind = EventKind[body.kind.upper()]
    call = writes.suite.community.call_data(
        "createEvent", pilot.id, int(kind), body.opens, body.closes, body.points, account, venue
    )
    result = _send(writes, account, pilot.id, "event", call)
    created = result.event("EventCreated")
    state.wait_indexed(result.block_number, timeout=30)
    return EventOut(
        event_id=int(created["eventId"]),
        pilot_id=pilot.id,
        kind=body.kind,
        opens=body.opens,
        closes=body.closes,
        points=body.points,
        signer=account,
        attendance=0,
        tx_hash=result.tx_hash,
    )


@router.get(
    "/api/pilots/{pilot}/events", response_model=list[EventOut], summary="The pilot's events"
)
def list_events(pilot: PilotDep, state: StateDep) -> list[EventOut]:
    events, attendance = state.store.tables["community_event"], state.store.tables["attendance"]
    with state.store.engine.connect() as conn:
        rows = (
            conn.execute(
                select(events)
                .where(events.c.pilot_id == pilot.id)
                .order_by(events.c.event_id.desc())
            )
            .mappings()
            .all()
        )
        counts: dict[int, int] = {}
        for (event_id,) in conn.execute(
            select(attendance.c.event_id).where(attendance.c.pilot_id == pilot.id)
        ):
            counts[int(event_id)] = counts.get(int(event_id), 0) + 1
    return [
        EventOut(
            event_id=r["event_id"],
            pilot_id=r["pilot_id"],
            kind=EventKind(r["kind"]).name.lower(),
            opens=r["opens"],
            closes=r["closes"],
            points=r["points"],
            signer=r["signer"],
            attendance=counts.get(r["event_id"], 0),
        )
        for r in rows
    ]


class QrOut(BaseModel):
    event_id: int
    token: str
    url: str = Field(description="the link the QR code carries")
    expires: int
    svg: str = Field(description="the QR code as SVG")


@router.get(
    "/api/events/{event_id}/qr",
    response_model=QrOut,
    summary="A fresh check-in token for the venue's screen (the event's signer only)",
)
def event_qr(
    event_id: Annotated[int, Path(ge=1, le=2**63 - 1)],
    state: StateDep,
    writes: WritesDep,
    account: AccountDep,
) -> QrOut:
    row = _event_row(state, event_id)
    if row["signer"] != account:
        raise WriteRejected(
            [("account", "only the staff member who signs this event's QR codes can show them")],
            403,
        )
    now = _chain_now(writes)
    if now > row["closes"]:
        raise WriteRejected([("event_id", "the event is over: check-in has closed")], 409)
    token = writes.suite.community.sign_check_in(
        _custodial_key(writes, account), event_id, now + QR_LIFETIME
    )
    url = f"/checkin?t={token.encode()}"
    out = io.BytesIO()
    segno.make(url, error="m").save(out, kind="svg", scale=4)
    return QrOut(
        event_id=event_id,
        token=token.encode(),
        url=url,
        expires=now + QR_LIFETIME,
        svg=out.getvalue().decode(),
    )


class CheckInIn(BaseModel):
    token: str = Field(min_length=1, max_length=300, description="the t= value of the QR link")


class CheckInOut(BaseModel):
    event_id: int
    pilot_id: int
    member: str
    points: int
    tx_hash: str
    block_number: int
    indexed: bool


@router.post(
    "/api/checkins",
    status_code=201,
    response_model=CheckInOut,
    summary="Check in to an event with the QR token (the signed-in member's key signs)",
)
def check_in(
    body: CheckInIn, state: StateDep, writes: WritesDep, account: AccountDep
) -> CheckInOut:
    writes.throttle(account)
    try:
        token = parse_token(body.token)
        signer = token_signer(
            token, writes.chain_id, writes.suite.community.address, now=_chain_now(writes)
        )
    except InvalidCheckInToken as exc:
        raise WriteRejected([("token", str(exc))]) from exc
    row = _event_row(state, token.event_id)
    if signer != row["signer"]:
        raise WriteRejected(
            [("token", "this code was not issued for this event: scan the code at the venue")]
        )
    now = _chain_now(writes)
    if not row["opens"] <= now <= row["closes"]:
        raise WriteRejected([("token", "check-in is open only during the event")])
    call = writes.suite.community.call_data(
        "checkIn", token.event_id, token.not_after, token.r, token.vs
    )
    result = _send(writes, account, int(row["pilot_id"]), "token", call)
    result.event("CheckedIn")  # the check-in is on chain (StopIteration otherwise)
    indexed = state.wait_indexed(result.block_number, timeout=30)
    return CheckInOut(
        event_id=token.event_id,
        pilot_id=row["pilot_id"],
        member=account,
        points=int(row["points"]),
        tx_hash=result.tx_hash,
        block_number=result.block_number,
        indexed=indexed,
    )


class CredentialIn(BaseModel):
    event_id: int = Field(ge=1, le=2**63 - 1, description="the training the member attended")
    member: str = Field(pattern=r"^0x[0-9a-fA-F]{40}$")
    skill: str = Field(pattern=r"^[A-Z0-9_-]{1,16}$", description="skill code, e.g. WELDING")
    level: int = Field(ge=1, le=255)


class CredentialOut(BaseModel):
    credential_id: int
    holder: str
    pilot_id: int
    pilot: str
    skill: str
    level: int
    event_id: int
    issued_at: int
    block_number: int
    tx_hash: str


@router.post(
    "/api/credentials",
    status_code=201,
    summary="Issue a skill credential to a training attendee (staff)",
)
def issue_credential(
    body: CredentialIn, state: StateDep, writes: WritesDep, account: AccountDep
) -> dict[str, Any]:
    writes.throttle(account)
    row = _event_row(state, body.event_id)
    writes.require(row["pilot_id"], account, Role.ISSUER, "staff member (award issuer)")
    call = writes.suite.community.call_data(
        "issueCredential",
        body.event_id,
        to_checksum_address(body.member),
        body.skill.encode().ljust(16, b"\0"),
        body.level,
    )
    result = _send(writes, account, int(row["pilot_id"]), "event_id", call)
    cid = int(result.event("CredentialIssued")["credentialId"])
    state.wait_indexed(result.block_number, timeout=30)
    return {"credential_id": cid, "tx_hash": result.tx_hash, "verify_url": f"/credential?id={cid}"}


@router.get(
    "/api/credentials/{credential_id}",
    response_model=CredentialOut,
    summary="Verify a skill credential by its id (valid in every pilot)",
)
def credential(
    credential_id: Annotated[int, Path(ge=1, le=2**63 - 1)], state: StateDep
) -> CredentialOut:
    table = state.store.tables["skill_credential"]
    with state.store.engine.connect() as conn:
        row = (
            conn.execute(select(table).where(table.c.credential_id == credential_id))
            .mappings()
            .first()
        )
    if row is None:
        raise HTTPException(status_code=404, detail=f"no credential {credential_id} is indexed")
    pilot = state.pilot(str(row["pilot_id"]))
    return CredentialOut(
        credential_id=row["credential_id"],
        holder=row["holder"],
        pilot_id=row["pilot_id"],
        pilot=pilot.city if pilot else str(row["pilot_id"]),
        skill=row["skill"],
        level=row["level"],
        event_id=row["event_id"],
        issued_at=row["ts"],
        block_number=row["block_number"],
        tx_hash=row["tx_hash"],
    )


class DeclarationIn(BaseModel):
    groups: list[str] = Field(
        max_length=10, description="target groups of the pilot the member belongs to"
    )
    consent: bool = Field(
        description="the member agrees to the use of this declaration in aggregate figures"
    )
    consent_version: str = Field(min_length=1, max_length=20)


@router.put(
    "/api/pilots/{pilot}/declarations",
    status_code=204,
    summary="Declare target groups, with consent (off chain; published only as aggregates)",
)
def put_declaration(
    body: DeclarationIn, pilot: PilotDep, state: StateDep, account: AccountDep
) -> None:
    if not body.consent:
        raise WriteRejected([("consent", "a declaration is stored only with the member's consent")])
    with Session(state.store.engine) as session:
        try:
            declare(
                session,
                pilot,
                account,
                body.groups,
                consent_version=body.consent_version,
                now=int(time.time()),
            )
        except DeclarationRefused as exc:
            raise WriteRejected([("groups", str(exc))]) from exc


@router.delete(
    "/api/pilots/{pilot}/declarations",
    status_code=204,
    summary="Withdraw consent: declarations deleted",
)
def delete_declaration(pilot: PilotDep, state: StateDep, account: AccountDep) -> None:
    with Session(state.store.engine) as session:
        withdraw(session, pilot.id, account)


class KpiOut(BaseModel):
    metric: str
    group: str
    name: str
    unit: str
    value: float | None
    baseline: float
    target: float
    additional: float | None
    progress: float | None
    source: str
    method: str
    iris: str | None
    note: str


class ImpactOut(BaseModel):
    pilot: str
    city: str
    year: int
    kpis: list[KpiOut]


def _year(year: int | None) -> int:
    return year if year is not None else datetime.now(UTC).year


def impact_of(state: Any, pilot: Pilot, year: int) -> list[KpiValue]:
    """The pilot's KPIs for `year`, memoized per indexed block."""

    def compute() -> list[KpiValue]:
        records = state.records().for_pilot(pilot.id)
        community = community_records(state.store.engine, pilot.id)
        return evaluate(pilot, impact_inputs(records, community, pilot, year), year)

    found = state.memoized(("impact", pilot.id, year))
    return (
        list(found) if found is not None else list(state.memo(("impact", pilot.id, year), compute))
    )


def _out(pilot: Pilot, year: int, values: list[KpiValue]) -> ImpactOut:
    return ImpactOut(
        pilot=pilot.code,
        city=pilot.city,
        year=year,
        kpis=[
            KpiOut(
                metric=v.kpi.metric,
                group=v.kpi.group,
                name=v.kpi.name,
                unit=v.kpi.unit,
                value=v.result.value if v.result else None,
                baseline=v.kpi.baseline,
                target=v.kpi.target,
                additional=v.result.additional if v.result else None,
                progress=v.result.progress if v.result else None,
                source=v.kpi.source,
                method=v.method,
                iris=v.kpi.iris,
                note=v.note,
            )
            for v in values
        ],
    )


@router.get(
    "/api/pilots/{pilot}/impact",
    response_model=ImpactOut,
    summary="Impact KPIs of a pilot against its targets",
)
def impact(pilot: PilotDep, state: StateDep, year: YearQuery = None) -> ImpactOut:
    y = _year(year)
    return _out(pilot, y, impact_of(state, pilot, y))


@router.get(
    "/api/impact",
    response_model=list[ImpactOut],
    summary="Impact KPIs of the seven pilots compared",
)
def impact_compared(state: StateDep, year: YearQuery = None) -> list[ImpactOut]:
    y = _year(year)
    return [_out(p, y, impact_of(state, p, y)) for p in state.pilots]


@router.get(
    "/api/pilots/{pilot}/impact.jsonld",
    summary="Impact KPIs as JSON-LD (schema.org Dataset, IRIS+ codes)",
)
def impact_jsonld(pilot: PilotDep, state: StateDep, year: YearQuery = None) -> dict[str, Any]:
    y = _year(year)
    return jsonld(pilot, y, impact_of(state, pilot, y))


class HoldIn(BaseModel):
    member: str = Field(pattern=r"^0x[0-9a-fA-F]{40}$")
    points: int = Field(gt=0, lt=2**32)
    evidence: str | None = Field(
        default=None, pattern=r"^0x[0-9a-fA-F]{64}$", description="SHA-256 of the weigh ticket"
    )


class VoidIn(BaseModel):
    reason: str = Field(
        pattern=r"^[A-Z0-9_-]{1,32}$", description="reason code, e.g. DUPLICATE_TICKET"
    )


class HoldOut(BaseModel):
    hold_id: int
    pilot_id: int
    member: str
    points: int
    release_at: int
    state: Literal["pending", "voided", "released"]
    reason: str | None = None


@router.post(
    "/api/pilots/{pilot}/holds",
    status_code=201,
    summary="Hold drop-off points for the pilot's hold period (staff)",
)
def hold_drop_off(
    body: HoldIn, pilot: PilotDep, state: StateDep, writes: WritesDep, account: AccountDep
) -> dict[str, Any]:
    writes.throttle(account)
    writes.require(pilot.id, account, Role.ISSUER, "staff member (award issuer)")
    evidence = bytes.fromhex(body.evidence[2:]) if body.evidence else bytes(32)
    call = writes.suite.community.call_data(
        "holdDropOff", pilot.id, to_checksum_address(body.member), body.points, evidence
    )
    result = _send(writes, account, pilot.id, "points", call)
    held = result.event("PointsHeld")
    state.wait_indexed(result.block_number, timeout=30)
    return {
        "hold_id": int(held["holdId"]),
        "release_at": int(held["releaseAt"]),
        "tx_hash": result.tx_hash,
    }


def _hold_row(state: Any, hold_id: int) -> dict[str, Any]:
    table = state.store.tables["drop_off_hold"]
    with state.store.engine.connect() as conn:
        row = conn.execute(select(table).where(table.c.hold_id == hold_id)).mappings().first()
    if row is None:
        raise HTTPException(status_code=404, detail=f"no held award {hold_id} is indexed")
    return dict(row)


@router.post(
    "/api/holds/{hold_id}/void",
    status_code=200,
    summary="Void held points before they are due, with a reason (staff)",
)
def void_hold(
    hold_id: Annotated[int, Path(ge=1, le=2**63 - 1)],
    body: VoidIn,
    state: StateDep,
    writes: WritesDep,
    account: AccountDep,
) -> dict[str, Any]:
    writes.throttle(account)
    row = _hold_row(state, hold_id)
    writes.require(row["pilot_id"], account, Role.ISSUER, "staff member (award issuer)")
    call = writes.suite.community.call_data(
        "voidHold", hold_id, body.reason.encode().ljust(32, b"\0")
    )
    result = _send(writes, account, int(row["pilot_id"]), "hold_id", call)
    state.wait_indexed(result.block_number, timeout=30)
    return {"hold_id": hold_id, "state": "voided", "tx_hash": result.tx_hash}


@router.post(
    "/api/holds/{hold_id}/release",
    status_code=200,
    summary="Release due held points (any signed-in account)",
)
def release_hold(
    hold_id: Annotated[int, Path(ge=1, le=2**63 - 1)],
    state: StateDep,
    writes: WritesDep,
    account: AccountDep,
) -> dict[str, Any]:
    writes.throttle(account)
    row = _hold_row(state, hold_id)
    call = writes.suite.community.call_data("release", hold_id)
    result = _send(writes, account, int(row["pilot_id"]), "hold_id", call)
    state.wait_indexed(result.block_number, timeout=30)
    return {"hold_id": hold_id, "state": "released", "tx_hash": result.tx_hash}


@router.get(
    "/api/accounts/{address}/holds",
    response_model=list[HoldOut],
    summary="A member's held drop-off points: pending (not yet spendable), voided or released",
)
def holds_of(
    address: Annotated[str, Path(pattern=r"^0x[0-9a-fA-F]{40}$")], state: StateDep
) -> list[HoldOut]:
    member = to_checksum_address(address)
    holds, voids, releases = (
        state.store.tables[n] for n in ("drop_off_hold", "hold_void", "hold_release")
    )
    with state.store.engine.connect() as conn:
        rows = (
            conn.execute(
                select(holds).where(holds.c.member == member).order_by(holds.c.hold_id.desc())
            )
            .mappings()
            .all()
        )
        ids = [r["hold_id"] for r in rows]
        voided = {
            r["hold_id"]: r["reason"]
            for r in conn.execute(select(voids).where(voids.c.hold_id.in_(ids))).mappings()
        }
        released = set(
            conn.execute(select(releases.c.hold_id).where(releases.c.hold_id.in_(ids))).scalars()
        )
    return [
        HoldOut(
            hold_id=r["hold_id"],
            pilot_id=r["pilot_id"],
            member=member,
            points=r["points"],
            release_at=r["release_at"],
            state="voided"
            if r["hold_id"] in voided
            else "released"
            if r["hold_id"] in released
            else "pending",
            reason=voided.get(r["hold_id"]),
        )
        for r in rows
    ]
