"""The challenge board: needs posted by pilot admins, facilitators and makers; proposals whose
documents stay with their owners (only their SHA-256 goes on chain, as evidence of priority);
shortlists, selections within the budget and completed milestones, all on chain (ChallengeBoard).

Reads come from the indexed rows; the challenge text is kept off chain, keyed by the SHA-256 that
went on chain as the challenge's brief, so anyone can check it.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Sequence
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import insert, select

from api.deps import AccountDep, PilotDep, StateDep, WritesDep
from api.state import GatewayState
from api.writes import MAX_ID, WriteService
from ledger.transact import Call
from ledger.write.plan import WriteRejected
from ledger.write.queue import JobView, fingerprint

router = APIRouter(tags=["challenges"])

Id = Annotated[int, Path(ge=1, le=MAX_ID)]
Hash = Annotated[str, Field(pattern=r"^0x[0-9a-fA-F]{64}$", description="SHA-256, 0x-hex")]
Money = Annotated[Decimal, Field(ge=0, le=10**12, decimal_places=2, description="euro")]


#: How far ahead a challenge may close: ten years of seconds.
MAX_HORIZON = 10 * 365 * 86_400


class ChallengeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    title: str = Field(min_length=3, max_length=200)
    need: str = Field(
        min_length=3, max_length=5000, description="the need, material or product sought"
    )
    material: str | None = Field(default=None, description="EWC or product code sought")
    budget: Money = Decimal(0)
    deadline: int = Field(gt=0, description="unix seconds; proposals close then")


class ProposalIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    document: Hash


class SelectIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    award: Money
    milestones: int = Field(ge=1, le=32)


class MilestoneIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    index: int = Field(ge=0, lt=32)
    evidence: Hash | None = None


class StepOut(BaseModel):
    step: str
    award: float
    milestones: int
    milestone: int | None
    evidence: str | None
    tx_hash: str
    ts: int


class ProposalOut(BaseModel):
    proposal_id: int
    challenge_id: int
    proposer: str
    evidence: str
    tx_hash: str
    block_number: int
    log_index: int
    ts: int
    status: str
    steps: list[StepOut]


class ChallengeOut(BaseModel):
    challenge_id: int
    pilot_id: int
    owner: str
    brief: str
    title: str | None
    need: str | None
    material: str | None
    budget: float
    awarded: float
    deadline: int
    tx_hash: str
    ts: int
    proposals: list[ProposalOut]


class ChainWriteOut(BaseModel):
    tx_hash: str
    block_number: int
    id: int | None = None
    indexed: bool


def brief_text(title: str, need: str) -> bytes:
    return json.dumps(
        {"title": title, "need": need}, sort_keys=True, separators=(",", ":")
    ).encode()


def _cents(euro: Decimal) -> int:
    return int(euro * 100)


def _send(writes: WriteService, account: str, pilot: int | None, call: Call) -> JobView:
    """Simulate the call as the custodial `account`, queue it, and wait for it to be confirmed."""
    writes.require_custody(account)
    planned = writes.writer.simulate(account, [("challenge", call)])
    job, _ = writes.queue.submit(
        account=account,
        kind="challenge",
        pilot_id=pilot,
        request_hash=fingerprint("challenge", call.to, call.data.hex(), time.time_ns()),
        idem_key=None,
        signer=account,
        calls=planned,
    )
    writes.wake()
    job = writes.settle(job, "confirmed")
    if job.state == "failed":
        why = "; ".join(f"{w}: {r}" for w, r in (job.error or {}).get("reasons", [])) or "refused"
        raise WriteRejected([("challenge", f"the ledger refused it: {why}")])
    if not job.final or job.block_number is None:
        raise WriteRejected(
            [("challenge", f"queued as job {job.job_id}: see GET /api/jobs/{job.job_id}")], 503
        )
    return job


def _answer(state: GatewayState, job: JobView, event: str, key: str) -> ChainWriteOut:
    found = [e for e in (job.result or {}).get("events", []) if e["name"] == event]
    assert job.tx_hash is not None and job.block_number is not None
    return ChainWriteOut(
        tx_hash=job.tx_hash,
        block_number=job.block_number,
        id=int(found[0]["args"][key]) if found and key else None,
        indexed=state.wait_indexed(job.block_number),
    )


def challenges_of(
    state: GatewayState, pilot_id: int, ids: Sequence[int] | None = None
) -> list[ChallengeOut]:
    t = state.store.tables
    challenge, proposal, step, text, material = (
        t[n] for n in ("challenge", "proposal", "proposal_step", "challenge_text", "material_class")
    )
    query = select(challenge).where(challenge.c.pilot_id == pilot_id)
    if ids is not None:
        query = query.where(challenge.c.challenge_id.in_(ids))
    with state.store.engine.connect() as conn:
        rows = conn.execute(query.order_by(challenge.c.challenge_id.desc())).mappings().all()
        cids = [r["challenge_id"] for r in rows]
        proposals = (
            conn.execute(
                select(proposal)
                .where(proposal.c.challenge_id.in_(cids))
                .order_by(proposal.c.proposal_id)
            )
            .mappings()
            .all()
        )
        steps = (
            conn.execute(
                select(step)
                .where(step.c.challenge_id.in_(cids))
                .order_by(step.c.block_number, step.c.log_index)
            )
            .mappings()
            .all()
        )
        texts = {
            r["brief"]: r
            for r in conn.execute(
                select(text).where(text.c.brief.in_([r["brief"] for r in rows]))
            ).mappings()
        }
        codes = dict(conn.execute(select(material.c.material_id, material.c.code)).all())
    out = []
    for r in rows:
        props = []
        for p in proposals:
            if p["challenge_id"] != r["challenge_id"]:
                continue
            own = [s for s in steps if s["proposal_id"] == p["proposal_id"]]
            status = (
                "selected"
                if any(s["step"] == "selected" for s in own)
                else (
                    "shortlisted" if any(s["step"] == "shortlisted" for s in own) else "submitted"
                )
            )
            props.append(
                ProposalOut(
                    **{
                        k: p[k]
                        for k in (
                            "proposal_id",
                            "challenge_id",
                            "proposer",
                            "evidence",
                            "tx_hash",
                            "block_number",
                            "log_index",
                            "ts",
                        )
                    },
                    status=status,
                    steps=[
                        StepOut(
                            step=s["step"],
                            award=int(s["award"]) / 100,
                            milestones=s["milestones"],
                            milestone=s["milestone"],
                            evidence=s["evidence"],
                            tx_hash=s["tx_hash"],
                            ts=s["ts"],
                        )
                        for s in own
                    ],
                )
            )
        awarded = sum(int(s["award"]) for s in steps if s["challenge_id"] == r["challenge_id"])
        brief = texts.get(r["brief"])
        out.append(
            ChallengeOut(
                challenge_id=r["challenge_id"],
                pilot_id=r["pilot_id"],
                owner=r["owner"],
                brief=r["brief"],
                title=brief["title"] if brief else None,
                need=brief["need"] if brief else None,
                material=codes.get(r["material_id"]),
                budget=int(r["budget"]) / 100,
                awarded=awarded / 100,
                deadline=r["deadline"],
                tx_hash=r["tx_hash"],
                ts=r["ts"],
                proposals=props,
            )
        )
    return out


@router.get(
    "/api/pilots/{pilot}/challenges",
    response_model=list[ChallengeOut],
    summary="Challenges of a pilot with their proposals, shortlists, selections and milestones",
)
def list_challenges(state: StateDep, pilot: PilotDep) -> list[ChallengeOut]:
    return challenges_of(state, pilot.id)


@router.post(
    "/api/pilots/{pilot}/challenges",
    status_code=201,
    response_model=ChainWriteOut,
    summary="Post a challenge: its text stays off chain, its SHA-256 goes on chain as the brief",
)
def post_challenge(
    body: ChallengeIn, state: StateDep, pilot: PilotDep, writes: WritesDep, account: AccountDep
) -> ChainWriteOut:
    errors: list[tuple[str, str]] = []
    material = 0
    if body.material:
        material = writes.suite.manifest.materials.get(body.material.strip(), 0)
        if not material:
            known = ", ".join(sorted(writes.suite.manifest.materials))
            errors.append(
                ("material", f"unknown material code {body.material!r}: use one of {known}")
            )
    now = int(time.time())
    if body.deadline <= now:
        errors.append(
            ("deadline", "the deadline has passed: give a time in the future (unix seconds)")
        )
    elif body.deadline > now + MAX_HORIZON:
        errors.append(("deadline", "the deadline is more than ten years away: give an earlier one"))
    if errors:
        raise WriteRejected(errors)
    text = brief_text(body.title.strip(), body.need.strip())
    brief = hashlib.sha256(text).digest()
    call = writes.suite.challenges.call_data(
        "postChallenge", pilot.id, brief, material, _cents(body.budget), body.deadline
    )
    result = _send(writes, account, pilot.id, call)
    table = state.store.tables["challenge_text"]
    with state.store.engine.begin() as conn:
        stored = conn.execute(
            select(table.c.brief).where(table.c.brief == "0x" + brief.hex())
        ).first()
        if stored is None:
            conn.execute(
                insert(table).values(
                    brief="0x" + brief.hex(),
                    title=body.title.strip(),
                    need=body.need.strip(),
                    created_at=int(time.time()),
                )
            )
    return _answer(state, result, "ChallengePosted", "challengeId")


@router.post(
    "/api/challenges/{challenge_id}/proposals",
    status_code=201,
    response_model=ChainWriteOut,
    summary="Submit a proposal: only the document's SHA-256 goes on chain (evidence of priority)",
)
def post_proposal(
    body: ProposalIn, state: StateDep, writes: WritesDep, account: AccountDep, challenge_id: Id
) -> ChainWriteOut:
    call = writes.suite.challenges.call_data(
        "submitProposal", challenge_id, bytes.fromhex(body.document[2:])
    )
    return _answer(state, _send(writes, account, None, call), "ProposalSubmitted", "proposalId")


@router.post(
    "/api/proposals/{proposal_id}/shortlist",
    response_model=ChainWriteOut,
    summary="Shortlist a proposal (the challenge owner)",
)
def shortlist(
    state: StateDep, writes: WritesDep, account: AccountDep, proposal_id: Id
) -> ChainWriteOut:
    call = writes.suite.challenges.call_data("shortlist", proposal_id)
    return _answer(state, _send(writes, account, None, call), "ProposalShortlisted", "")


@router.post(
    "/api/proposals/{proposal_id}/select",
    response_model=ChainWriteOut,
    summary="Select a proposal with an award from the budget and its milestones (the challenge owner)",
)
def select_proposal(
    body: SelectIn, state: StateDep, writes: WritesDep, account: AccountDep, proposal_id: Id
) -> ChainWriteOut:
    call = writes.suite.challenges.call_data(
        "select", proposal_id, _cents(body.award), body.milestones
    )
    return _answer(state, _send(writes, account, None, call), "ProposalSelected", "")


@router.post(
    "/api/proposals/{proposal_id}/milestones",
    response_model=ChainWriteOut,
    summary="Record a milestone of a selected proposal as complete (the challenge owner)",
)
def complete_milestone(
    body: MilestoneIn, state: StateDep, writes: WritesDep, account: AccountDep, proposal_id: Id
) -> ChainWriteOut:
    evidence = bytes.fromhex(body.evidence[2:]) if body.evidence else b"\x00" * 32
    call = writes.suite.challenges.call_data("completeMilestone", proposal_id, body.index, evidence)
    return _answer(state, _send(writes, account, None, call), "MilestoneCompleted", "")


@router.get(
    "/api/challenges/{challenge_id}/brief", summary="The challenge text and its SHA-256 check"
)
def get_brief(state: StateDep, challenge_id: Id) -> dict[str, Any]:
    t = state.store.tables
    with state.store.engine.connect() as conn:
        row = conn.execute(
            select(t["challenge"].c.brief, t["challenge_text"].c.title, t["challenge_text"].c.need)
            .join(
                t["challenge_text"],
                t["challenge_text"].c.brief == t["challenge"].c.brief,
                isouter=True,
            )
            .where(t["challenge"].c.challenge_id == challenge_id)
        ).first()
    if row is None:
        raise HTTPException(status_code=404, detail=f"challenge {challenge_id} is not indexed")
    brief, title, need = row
    matches = (
        title is not None and "0x" + hashlib.sha256(brief_text(title, need)).hexdigest() == brief
    )
    return {
        "challenge_id": challenge_id,
        "brief": brief,
        "title": title,
        "need": need,
        "matches": matches,
    }
