"""The gateway's side of the write path: input models, and the glue from a request to a job.

A write is validated by the models (units, amounts, codes, formats), turned into the planner's
records, read, planned and simulated as the signer by :class:`ledger.write.shell.Writer` (422
with a message per field, nothing queued), then queued as a durable job with its
Idempotency-Key in one transaction (:class:`ledger.write.queue.Queue`). The relayer sends it;
the route answers 202 with the job, or waits a bounded time for it (``?wait=confirmed`` or
``indexed``) and answers 201 with what it recorded.
"""

from __future__ import annotations

import os
import secrets
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, Literal

from eth_utils import is_address, to_checksum_address
from fastapi import HTTPException
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from api.auth import SessionSigner
from ledger.clients import Suite
from ledger.custody import Custody
from ledger.errors import LedgerError
from ledger.store.db import Store
from ledger.transact import Call
from ledger.vocabulary import ContributionKind, Fate, Role, Source
from ledger.write import plan as p
from ledger.write.plan import WriteRejected, to_grams
from ledger.write.queue import JobView, Queue, fingerprint
from ledger.write.shell import Planned, Writer, recover

__all__ = [
    "MAX_BATCH",
    "ContributionIn",
    "DispatchIn",
    "IntakeIn",
    "RateLimiter",
    "TransferIn",
    "TransformIn",
    "WriteService",
    "created_lots",
]

MAX_BATCH = 200
#: Largest id a path or body may name (the store keeps 64-bit integers).
MAX_ID = 2**63 - 1
Unit = Literal["g", "kg", "t"]
Evidence = Annotated[
    str | None,
    Field(
        default=None,
        pattern=r"^0x[0-9a-fA-F]{64}$",
        description="SHA-256 of the evidence document (weigh ticket, photo, invoice), 0x-hex",
    ),
]
Positive = Annotated[Decimal, Field(gt=0, max_digits=20, decimal_places=6)]

# The vocabulary's names in lower case (tests/api check that they match ledger.vocabulary).
SourceName = Literal[
    "municipal_collection", "donation", "industrial_surplus", "product_return", "virgin_purchase"
]
FateName = Literal[
    "in_use", "reused", "repaired", "recycled", "composted", "incinerated", "landfilled"
]
KindName = Literal["workshop", "repair", "mentoring", "products_donated"]


def _evidence(value: str | None) -> bytes:
    return bytes.fromhex(value[2:]) if value else p.ZERO


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _Quantity(_Record):
    quantity: Positive = Field(examples=[12.5])
    unit: Unit = "kg"

    @model_validator(mode="after")
    def _whole_grams(self) -> _Quantity:
        to_grams(self.quantity, self.unit)
        return self

    def grams(self) -> int:
        return to_grams(self.quantity, self.unit)


class IntakeIn(_Quantity):
    material: str = Field(description="European Waste Catalogue code", examples=["20 01 01"])
    source: SourceName = Field(examples=["municipal_collection"])
    evidence: Evidence = None

    def record(self) -> p.Intake:
        return p.Intake(
            self.material, Source[self.source.upper()], self.grams(), _evidence(self.evidence)
        )


class LotDraw(_Record):
    lot_id: int = Field(gt=0, le=MAX_ID, examples=[42])
    quantity: Positive = Field(examples=[10])


class OutputIn(_Record):
    material: str = Field(examples=["20 01 39"])
    quantity: Positive = Field(examples=[9.2])


class TransformIn(_Record):
    inputs: list[LotDraw] = Field(min_length=1, max_length=32)
    outputs: list[OutputIn] = Field(min_length=1, max_length=32)
    loss: Annotated[Decimal, Field(ge=0, max_digits=20, decimal_places=6)] = Decimal(0)
    unit: Unit = "kg"
    evidence: Evidence = None

    @model_validator(mode="after")
    def _whole_grams(self) -> TransformIn:
        for value in [d.quantity for d in self.inputs] + [o.quantity for o in self.outputs]:
            to_grams(value, self.unit)
        if self.loss:
            to_grams(self.loss, self.unit)
        return self

    def record(self) -> p.Transform:
        return p.Transform(
            inputs=tuple((d.lot_id, to_grams(d.quantity, self.unit)) for d in self.inputs),
            outputs=tuple((o.material, to_grams(o.quantity, self.unit)) for o in self.outputs),
            loss=to_grams(self.loss, self.unit) if self.loss else 0,
            evidence=_evidence(self.evidence),
        )


class TransferIn(_Quantity):
    lot_id: int = Field(gt=0, le=MAX_ID)
    to: str = Field(description="address of the receiving maker", examples=["0x" + "ab" * 20])
    evidence: Evidence = None

    @field_validator("to")
    @classmethod
    def _address(cls, value: str) -> str:
        if not is_address(value):
            raise ValueError("not an Ethereum address (0x and 40 hex digits)")
        return to_checksum_address(value)

    def record(self) -> p.Transfer:
        return p.Transfer(self.lot_id, self.to, self.grams(), _evidence(self.evidence))


class DispatchIn(_Quantity):
    lot_id: int = Field(gt=0, le=MAX_ID)
    fate: FateName = Field(examples=["recycled"])
    evidence: Evidence = None

    def record(self) -> p.Dispatch:
        return p.Dispatch(
            self.lot_id, self.grams(), Fate[self.fate.upper()], _evidence(self.evidence)
        )


class ContributionIn(_Record):
    kind: KindName = Field(examples=["repair"])
    amount: int = Field(gt=0, le=2**32 - 1, description="participants, minutes or items")
    evidence: Evidence = None

    def record(self) -> p.Contribution:
        return p.Contribution(
            ContributionKind[self.kind.upper()], self.amount, _evidence(self.evidence)
        )


class RateLimiter:
    """A token bucket per account in the SQL store, so that every gateway worker counts the
    same writes: `rate` writes per second, bursts up to `burst`. Buckets that have filled up
    again are dropped now and then (a full bucket is what an unknown account gets)."""

    def __init__(
        self,
        store: Store,
        rate: float,
        burst: int,
        *,
        clock: Callable[[], float] = time.time,
        sweep_every: int = 1_000,
    ) -> None:
        self._table = store.tables["rate_bucket"]
        self._engine = store.engine
        self.rate, self.burst, self.clock = rate, burst, clock
        self._sweep_every, self._calls = sweep_every, 0

    def take(self, account: str) -> float:
        """0 when allowed; otherwise the seconds to wait."""
        for attempt in (1, 2):
            try:
                return self._take(account)
            except IntegrityError:  # another worker made this account's bucket meanwhile
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def _take(self, account: str) -> float:
        t, now = self._table, self.clock()
        with self._engine.begin() as conn:
            query = select(t.c.tokens, t.c.updated_at).where(t.c.account == account)
            if conn.dialect.name == "postgresql":
                query = query.with_for_update()
            row = conn.execute(query).first()
            tokens = float(self.burst)
            if row is not None:
                tokens = min(tokens, row.tokens + max(0.0, now - row.updated_at) * self.rate)
            wait = 0.0 if tokens >= 1 else (1 - tokens) / self.rate
            left = tokens - 1 if wait == 0 else tokens
            if row is None:
                conn.execute(insert(t).values(account=account, tokens=left, updated_at=now))
            else:
                conn.execute(
                    update(t).where(t.c.account == account).values(tokens=left, updated_at=now)
                )
            self._calls += 1
            if self._calls % self._sweep_every == 0:
                conn.execute(delete(t).where(t.c.updated_at < now - self.burst / self.rate))
        return wait


class RoleCache:
    """Accounts' on-chain roles per pilot, kept in the SQL store for `ttl` seconds so that the
    gateway's workers share one cache. The indexer deletes an entry in the transaction that
    indexes a role change of its account (``ledger.indexer.load``); a change made between a
    worker's chain read and its insert can be missed for at most `ttl` seconds."""

    def __init__(
        self,
        store: Store,
        read: Callable[[int, str], Role],
        *,
        ttl: float = 5.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._table = store.tables["role_cache"]
        self._engine = store.engine
        self.read, self.ttl, self.clock = read, ttl, clock

    def roles(self, pilot: int, address: str) -> Role:
        t, now = self._table, self.clock()
        account = to_checksum_address(address)
        key = (t.c.pilot_id == pilot) & (t.c.account == account)
        with self._engine.connect() as conn:
            held = conn.execute(select(t.c.roles).where(key, t.c.expires_at > now)).first()
        if held is not None:
            return Role(int(held.roles))
        roles = self.read(pilot, account)
        try:
            with self._engine.begin() as conn:
                conn.execute(delete(t).where(key | (t.c.expires_at <= now)))
                conn.execute(
                    insert(t).values(
                        pilot_id=pilot, account=account, roles=int(roles), expires_at=now + self.ttl
                    )
                )
        except IntegrityError:
            pass  # another worker cached the same account meanwhile: the roles just read stand
        return roles

    def forget(self, pilot: int | None = None, address: str | None = None) -> None:
        """Drop the entry of `address` in `pilot`, or every entry: a role was changed on chain
        and is needed before the indexer has seen the change."""
        t = self._table
        query = delete(t)
        if pilot is not None and address is not None:
            query = query.where(t.c.pilot_id == pilot, t.c.account == to_checksum_address(address))
        with self._engine.begin() as conn:
            conn.execute(query)


def created_lots(events: Sequence[dict[str, Any]]) -> list[int]:
    """Lots that the events of a job created, in order."""
    lots: list[int] = []
    for e in events:
        a = e["args"]
        if e["name"] == "MaterialTakenIn":
            lots.append(int(a["lotId"]))
        elif e["name"] == "MaterialTransformed":
            first = int(a["firstOutputLot"])
            lots += range(first, first + len(a["outputs"]))
        elif e["name"] == "LotTransferred" and a["receivedLot"] != a["lotId"]:
            lots.append(int(a["receivedLot"]))
    return lots


@dataclass
class WriteService:
    """What the write routes share: the planner's shell, the queue, custody, sign-in, limits."""

    suite: Suite
    writer: Writer
    queue: Queue
    custody: Custody
    sessions: SessionSigner
    limiter: RateLimiter
    role_cache: RoleCache
    #: how long ``?wait=`` holds a request before answering 202 (seconds)
    wait_timeout: float = 30.0
    #: wakes a relayer running in this process
    wake: Callable[[], None] = lambda: None
    #: notified by a relayer running in this process when jobs settle
    settled: threading.Condition | None = None

    @property
    def chain_id(self) -> int:
        return self.suite.manifest.chain_id

    def close(self) -> None:
        self.writer.rpc.close()

    # ---- who may write ---------------------------------------------------------------------

    def roles(self, pilot: int, address: str) -> Role:
        return self.role_cache.roles(pilot, address)

    def forget_roles(self, pilot: int, address: str) -> None:
        """Drop the cached roles of `address` in `pilot`: pilot staff just changed them."""
        self.role_cache.forget(pilot, address)

    def require(self, pilot: int, address: str, role: Role, what: str) -> None:
        roles = self.roles(pilot, address)
        if roles & Role.SUSPENDED:
            raise WriteRejected([("account", f"{address} is suspended in pilot {pilot}")], 403)
        if not roles & role:
            why = f"{address} is not a {what} of pilot {pilot}: ask the pilot admin"
            raise WriteRejected([("account", why)], 403)

    def throttle(self, account: str) -> None:
        """429 with Retry-After when `account` writes faster than its rate limit allows."""
        retry = self.limiter.take(account)
        if retry > 0:
            raise HTTPException(
                status_code=429,
                detail=f"too many writes: retry in {retry:.1f} s",
                headers={"Retry-After": str(max(1, round(retry)))},
            )

    def require_custody(self, address: str) -> None:
        if not self.custody.holds(address):
            why = (
                f"the gateway holds no key for {address}: send EIP-712 signed requests to "
                "/api/relay instead"
            )
            raise WriteRejected([("account", why)], 403)

    # ---- submitting ------------------------------------------------------------------------

    def submit(
        self,
        *,
        account: str,
        pilot: int,
        kind: str,
        content: Any,
        idem_key: str | None,
        records: Callable[[], Sequence[p.Record]],
        where: Callable[[int], str] = lambda i: f"records.{i}",
        handles: bool = False,
    ) -> tuple[JobView, bool]:
        """Plan `records` as the custodial `account` and queue them: the job, and whether it
        is an earlier job that the Idempotency-Key names (then nothing is planned again)."""

        def prepare() -> Planned:
            self.require_custody(account)
            return self.writer.prepare(account, pilot, records(), where=where, handles=handles)

        return self._queue(account, pilot, kind, content, idem_key, prepare)

    def submit_calls(
        self,
        *,
        account: str,
        pilot: int,
        kind: str,
        content: Any,
        idem_key: str | None,
        calls: Sequence[tuple[str, Call]],
    ) -> tuple[JobView, bool]:
        """Queue calls another planner made (pilot administration), signed by the custodial
        `account`: simulated as it first (422 naming `where` of the call the ledger refuses)."""

        def prepare() -> Planned:
            self.require_custody(account)
            return Planned(tuple(self.writer.simulate(account, calls)), {})

        return self._queue(account, pilot, kind, content, idem_key, prepare)

    def submit_parts(
        self,
        *,
        account: str,
        pilot: int,
        kind: str,
        content: Any,
        idem_key: str | None,
        parts: Callable[[], Sequence[p.Part]],
    ) -> tuple[JobView, bool]:
        """Plan the records of several custodial makers as one all-or-nothing job (an EPCIS
        document of several makers): each part is signed by its maker, all run in one batch."""

        def prepare() -> Planned:
            built = parts()
            for part in built:
                self.require_custody(part.actor)
            return self.writer.prepare_parts(pilot, built)

        return self._queue(account, pilot, kind, content, idem_key, prepare)

    def _queue(
        self,
        account: str,
        pilot: int,
        kind: str,
        content: Any,
        idem_key: str | None,
        prepare: Callable[[], Planned],
    ) -> tuple[JobView, bool]:
        request_hash = fingerprint(kind, pilot, content)
        if idem_key is not None:
            earlier = self.queue.replay(account, idem_key, request_hash)
            if earlier is not None:
                return earlier, True
        planned = prepare()
        job, replayed = self.queue.submit(
            account=account,
            kind=kind,
            pilot_id=pilot,
            request_hash=request_hash,
            idem_key=idem_key,
            signer=planned.signers[0] if planned.signers else account,
            calls=planned.calls,
            handles=planned.lots,
            signers=planned.signers,
        )
        self.wake()
        return job, replayed

    # ---- requests a client signed -----------------------------------------------------------

    def relay_nonces(self, requests: Sequence[dict[str, Any]]) -> list[int | None]:
        """The forwarder nonce each request was signed for, or None when its signature matches
        no nonce its signer could use next (after the chain's and its queued requests).

        The signature covers the nonce, so trying the few nonces that could come next tells
        which one it is, without a call to the chain per request."""
        signers = sorted({r["from"] for r in requests})
        chain = self.writer.forwarder_nonces(signers)
        queued = self.queue.pending_nonces(signers)
        tx = self.suite.tx
        taken: set[tuple[str, int]] = set()
        out: list[int | None] = []
        for r in requests:
            first = chain[r["from"]]
            last = max([first, *queued.get(r["from"], [])]) + len(requests)
            found = None
            for nonce in range(first, last + 1):
                if (r["from"], nonce) in taken:
                    continue
                digest = tx.request_digest(
                    r["from"], r["to"], r["gas"], nonce, r["deadline"], r["data"]
                )
                if recover(digest, r["signature"]) == r["from"]:
                    found = nonce
                    break
            if found is not None:
                taken.add((r["from"], found))
            out.append(found)
        return out

    def check_relayed(
        self, requests: Sequence[dict[str, Any]], nonces: Sequence[int | None]
    ) -> list[tuple[str, str]]:
        """(field, reason) for each request that cannot run: bad signature or nonce, already
        queued, expired. Then the whole is simulated when nothing of its signers is queued."""
        reasons: list[tuple[str, str]] = []
        now = time.time()
        queued = self.queue.pending_nonces(sorted({r["from"] for r in requests}))
        for i, (r, nonce) in enumerate(zip(requests, nonces, strict=True)):
            if nonce is None:
                why = "the signature, nonce or deadline is not valid for this forwarder and chain"
                reasons.append((f"requests.{i}.signature", why))
            elif nonce in queued.get(r["from"], []):
                why = "this signer's request with this nonce is already queued: it runs once"
                reasons.append((f"requests.{i}.signature", why))
            elif r["deadline"] <= now + 60:
                reasons.append((f"requests.{i}.deadline", "the request expires within a minute"))
        if reasons or any(queued.get(s) for s in {r["from"] for r in requests}):
            return reasons
        try:
            self.writer.simulate_relayed(requests)
        except LedgerError as exc:
            reasons.append(("requests", f"the ledger refuses it: {exc}"))
        return reasons

    def settle(self, job: JobView, wait: str | None) -> JobView:
        """The job after waiting for it as asked (bounded by `wait_timeout`)."""
        if wait is None or job.final:
            return job
        return self.queue.wait(job.job_id, timeout=self.wait_timeout, settled=self.settled)


def session_secret(path: Path) -> bytes:
    """The gateway's session secret: created once (owner-only), then reused across restarts."""
    if path.exists():
        secret = path.read_bytes()
        if len(secret) >= 32:
            return secret
    path.parent.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_bytes(32)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(secret)
    tmp.replace(path)
    return secret
