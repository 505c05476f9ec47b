"""The durable write queue in the SQL store: an accepted write is a row before anything is sent.

The gateway (any worker) inserts jobs; the relayer (one process per chain) sends them and
records their fate. An Idempotency-Key is inserted with its job in one transaction, so a retry
finds the job, whatever happened to the process that accepted it. Keys are kept for
:data:`IDEMPOTENCY_TTL` seconds; after that the same key names a new request.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from ledger.store.db import Store
from ledger.transact import Call
from ledger.write.plan import WriteRejected

__all__ = [
    "FINAL",
    "IDEMPOTENCY_TTL",
    "JobView",
    "Queue",
    "fingerprint",
    "request_from_json",
    "request_to_json",
]

#: How long an Idempotency-Key keeps naming its first request (seconds): one day.
IDEMPOTENCY_TTL = 86_400
MAX_KEY = 200
FINAL = frozenset({"confirmed", "failed"})


def fingerprint(*parts: Any) -> str:
    """A stable hash of a request's content, to tell a retry from another request."""
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


def request_to_json(request: dict[str, Any]) -> dict[str, Any]:
    return {k: "0x" + v.hex() if isinstance(v, bytes) else v for k, v in request.items()}


def request_from_json(data: dict[str, Any]) -> dict[str, Any]:
    out = dict(data)
    for key in ("data", "signature"):
        out[key] = bytes.fromhex(str(out[key])[2:])
    return out


@dataclass(frozen=True)
class JobView:
    job_id: str
    account: str
    kind: str
    state: str
    pilot_id: int | None
    tx_hash: str | None
    block_number: int | None
    result: dict[str, Any] | None
    error: dict[str, Any] | None
    handles: dict[str, int]
    created_at: float
    updated_at: float

    @classmethod
    def of(cls, row: Any) -> JobView:
        return cls(
            job_id=row.job_id,
            account=row.account,
            kind=row.kind,
            state=row.state,
            pilot_id=row.pilot_id,
            tx_hash=row.tx_hash,
            block_number=row.block_number,
            result=json.loads(row.result) if row.result else None,
            error=json.loads(row.error) if row.error else None,
            handles=json.loads(row.handles) if row.handles else {},
            created_at=row.created_at,
            updated_at=row.updated_at,
        )

    @property
    def final(self) -> bool:
        return self.state in FINAL


class Queue:
    """Jobs in the store: insert (with idempotency), read, wait."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.jobs = store.tables["write_job"]
        self.requests = store.tables["relay_request"]

    def submit(
        self,
        *,
        account: str,
        kind: str,
        pilot_id: int | None,
        request_hash: str,
        idem_key: str | None,
        signer: str | None = None,
        calls: Sequence[tuple[Call, int]] = (),
        presigned: Sequence[tuple[int, dict[str, Any]]] = (),
        handles: dict[str, int] | None = None,
        signers: Sequence[str] = (),
    ) -> tuple[JobView, bool]:
        """Queue a job; returns it and whether it is an earlier job replayed by its key.

        `calls` are signed by the custodial `signer` when the relayer sends them; `presigned`
        are (forwarder nonce, request) pairs a client signed. `signers`, when given, names the
        custodial signer of each call (a job of several makers, all or nothing). A presigned request whose signer
        and nonce are already queued is refused: it could only execute once.
        """
        if idem_key is not None and not 0 < len(idem_key) <= MAX_KEY:
            raise WriteRejected([("Idempotency-Key", f"must be 1 to {MAX_KEY} characters")])
        now = time.time()
        job_id = secrets.token_hex(16)
        payload = (
            [{"to": c.to, "data": "0x" + c.data.hex(), "gas": gas} for c, gas in calls]
            if signer is not None
            else [request_to_json(r) for _, r in presigned]
        )
        for entry, who in zip(payload, signers, strict=False):
            entry["signer"] = who
        row = {
            "job_id": job_id,
            "account": account,
            "kind": kind,
            "pilot_id": pilot_id,
            "idem_key": idem_key,
            "request_hash": request_hash,
            "signer": signer,
            "calls": json.dumps(payload),
            "handles": json.dumps(handles) if handles else None,
            "state": "queued",
            "created_at": now,
            "updated_at": now,
        }
        for _ in range(3):
            try:
                with self.store.engine.begin() as conn:
                    conn.execute(insert(self.jobs).values(**row))
                    for position, (nonce, request) in enumerate(presigned):
                        signed = {
                            "signer": request["from"],
                            "nonce": nonce,
                            "job_id": job_id,
                            "position": position,
                            "deadline": int(request["deadline"]),
                            "request": json.dumps(request_to_json(request)),
                            "exposed": False,
                        }
                        conn.execute(insert(self.requests).values(**signed))
                return self._get(job_id), False
            except IntegrityError:
                earlier = (
                    self.replay(account, idem_key, request_hash) if idem_key is not None else None
                )
                if earlier is not None:
                    return earlier, True
                if presigned and (idem_key is None or self._by_key(account, idem_key) is None):
                    why = "a request of this signer with this nonce is already queued"
                    raise WriteRejected([("requests", why)]) from None
        raise WriteRejected([("Idempotency-Key", "this key is in use; retry")], status=409)

    def replay(self, account: str, key: str, request_hash: str) -> JobView | None:
        """The job an unexpired Idempotency-Key names (None: the key is free), or 422 when the
        key was used for a different request."""
        earlier = self._by_key(account, key)
        if earlier is None:
            return None
        if earlier.created_at < time.time() - IDEMPOTENCY_TTL:
            self._release_key(earlier.job_id)
            return None
        if self._hash_of(earlier.job_id) != request_hash:
            why = "this key was used for a different request: use a new key"
            raise WriteRejected([("Idempotency-Key", why)])
        return earlier

    def _by_key(self, account: str, key: str) -> JobView | None:
        with self.store.engine.connect() as conn:
            row = conn.execute(
                select(self.jobs).where(
                    (self.jobs.c.account == account) & (self.jobs.c.idem_key == key)
                )
            ).first()
        return JobView.of(row) if row is not None else None

    def _hash_of(self, job_id: str) -> str:
        with self.store.engine.connect() as conn:
            return str(
                conn.execute(
                    select(self.jobs.c.request_hash).where(self.jobs.c.job_id == job_id)
                ).scalar_one()
            )

    def _release_key(self, job_id: str) -> None:
        with self.store.engine.begin() as conn:
            conn.execute(
                update(self.jobs).where(self.jobs.c.job_id == job_id).values(idem_key=None)
            )

    def _get(self, job_id: str) -> JobView:
        job = self.get(job_id)
        assert job is not None
        return job

    def get(self, job_id: str) -> JobView | None:
        with self.store.engine.connect() as conn:
            row = conn.execute(select(self.jobs).where(self.jobs.c.job_id == job_id)).first()
        return JobView.of(row) if row is not None else None

    def wait(
        self, job_id: str, *, timeout: float, settled: threading.Condition | None = None
    ) -> JobView:
        """The job once it is confirmed or failed, or as it stands after `timeout` seconds.

        `settled` is notified by a relayer in the same process whenever jobs settle; without
        one (the relayer is another process) the row is read every 20 ms."""
        deadline = time.monotonic() + timeout
        while True:
            job = self.get(job_id)
            if job is None:
                raise KeyError(job_id)
            left = deadline - time.monotonic()
            if job.final or left <= 0:
                return job
            if settled is not None:
                with settled:
                    settled.wait(min(left, 0.05))
            else:
                time.sleep(min(left, 0.02))

    def pending_nonces(self, signers: Sequence[str]) -> dict[str, list[int]]:
        """Forwarder nonces of requests of `signers` that are queued or sent."""
        query = (
            select(self.requests.c.signer, self.requests.c.nonce)
            .join(self.jobs, self.jobs.c.job_id == self.requests.c.job_id)
            .where(self.requests.c.signer.in_(list(signers)))
            .where(self.jobs.c.state.in_(["queued", "sent"]))
        )
        out: dict[str, list[int]] = {}
        with self.store.engine.connect() as conn:
            for signer, nonce in conn.execute(query):
                out.setdefault(signer, []).append(int(nonce))
        return out

    def counts(self, conn: Connection | None = None) -> dict[str, int]:
        """Jobs per state (for health and benchmarks)."""
        query = select(self.jobs.c.state, func.count()).group_by(self.jobs.c.state)
        if conn is not None:
            return {s: int(n) for s, n in conn.execute(query)}
        with self.store.engine.connect() as c:
            return {s: int(n) for s, n in c.execute(query)}
