"""Batched relaying: many writers' signed requests in one forwarder transaction.

Each job is the work of one request to the gateway: calls signed by a custodial key (signed here,
at batch time, with the signer's next forwarder nonce) or requests the client signed itself.
One thread collects the jobs that arrive within a short window and sends them as one
``executeAll`` transaction, which is all or nothing. When a batch reverts, the jobs are retried
one by one, so one bad job fails alone with its own decoded error and the others still land.
The receipt's logs are split back per request at each ``ExecutedForwardRequest``.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

from eth_account.signers.local import LocalAccount
from eth_utils import to_checksum_address

from ledger.clients import Suite, TxResult
from ledger.errors import LedgerError
from ledger.events import DecodedEvent
from ledger.transact import Call

__all__ = ["Job", "JobResult", "RelayBatcher"]

#: Gas of all requests in one batch: below a 30M block gas limit with room for the forwarder.
BATCH_GAS = 24_000_000
REQUEST_TTL = 3600


@dataclass(frozen=True)
class JobResult:
    tx_hash: str
    block_number: int
    #: the events of each request of the job, in order
    events: tuple[tuple[DecodedEvent, ...], ...]

    def all_events(self) -> list[DecodedEvent]:
        return [e for group in self.events for e in group]


@dataclass
class Job:
    """Calls of one signer (custodial) with the gas each needs, or client-signed requests."""

    signer: LocalAccount | None = None
    calls: Sequence[tuple[Call, int]] = ()
    presigned: Sequence[dict[str, Any]] = ()
    future: Future[JobResult] = field(default_factory=Future)

    @property
    def gas(self) -> int:
        return sum(g for _, g in self.calls) + sum(int(r["gas"]) for r in self.presigned)

    @property
    def size(self) -> int:
        return len(self.calls) + len(self.presigned)


class RelayBatcher:
    """A background thread that relays jobs in batches through the suite's forwarder."""

    def __init__(self, suite: Suite, *, window: float = 0.01, max_gas: int = BATCH_GAS) -> None:
        self.suite = suite
        self.window = window
        self.max_gas = max_gas
        self._queue: queue.Queue[Job | None] = queue.Queue()
        self._nonces: dict[str, int] = {}
        self._thread: threading.Thread | None = None
        self.batches = 0
        self.requests = 0

    def start(self) -> RelayBatcher:
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="relay-batcher", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join(timeout=30)
            self._thread = None

    def submit(self, job: Job) -> Future[JobResult]:
        if job.size == 0:
            raise LedgerError("a job needs at least one call")
        if self._thread is None:
            raise LedgerError("the relay batcher is not running")
        self._queue.put(job)
        return job.future

    # ---- the batching thread --------------------------------------------------------------------

    def _loop(self) -> None:
        carry: Job | None = None
        stopping = False
        while not stopping:
            first = carry if carry is not None else self._queue.get()
            carry = None
            if first is None:
                return
            jobs, gas = [first], first.gas
            deadline = time.monotonic() + self.window
            while True:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                try:
                    job = self._queue.get(timeout=remaining)
                except queue.Empty:
                    break
                if job is None:  # stop: send what was collected, then end
                    stopping = True
                    break
                if gas + job.gas > self.max_gas:
                    carry = job
                    break
                jobs.append(job)
                gas += job.gas
            self._run(jobs)

    def _run(self, jobs: list[Job]) -> None:
        try:
            self._run_batch(jobs)
        except Exception as exc:  # never let the thread die with callers waiting
            for job in jobs:
                if not job.future.done():
                    job.future.set_exception(LedgerError(f"relaying failed: {exc}"))

    def _run_batch(self, jobs: list[Job]) -> None:
        try:
            results = self._send(jobs)
        except LedgerError as exc:
            if len(jobs) == 1:
                jobs[0].future.set_exception(exc)
                return
            for job in jobs:  # isolate the failing job(s)
                self._run_batch([job])
            return
        except Exception as exc:  # the node is gone or answered nonsense: fail, never hang
            for job in jobs:
                job.future.set_exception(LedgerError(f"relaying failed: {exc}"))
            return
        for job, result in zip(jobs, results, strict=True):
            job.future.set_result(result)

    def _next_nonce(self, address: str) -> int:
        if address not in self._nonces:
            forwarder = self.suite.tx.forwarder
            assert forwarder is not None
            self._nonces[address] = int(forwarder.functions.nonces(address).call())
        nonce = self._nonces[address]
        self._nonces[address] = nonce + 1
        return nonce

    def _send(self, jobs: list[Job]) -> list[JobResult]:
        tx = self.suite.tx
        requests: list[dict[str, Any]] = []
        owners: list[int] = []
        deadline = int(time.time()) + REQUEST_TTL
        signers = {to_checksum_address(r["from"]) for j in jobs for r in j.presigned}
        signers |= {j.signer.address for j in jobs if j.signer is not None}
        try:
            for index, job in enumerate(jobs):
                for call, gas in job.calls:
                    assert job.signer is not None
                    requests.append(tx.sign_request(job.signer, call, gas=gas, deadline=deadline,
                                                    nonce=self._next_nonce(job.signer.address)))  # fmt: skip
                    owners.append(index)
                for request in job.presigned:
                    requests.append(request)
                    owners.append(index)
            receipt = tx.submit_relayed(requests)
        except BaseException:
            for signer in signers:  # the nonces were not used: read them again next time
                self._nonces.pop(signer, None)
            raise
        for signer in signers:
            if signer not in {j.signer.address for j in jobs if j.signer is not None}:
                self._nonces.pop(signer, None)
        self.batches += 1
        self.requests += len(requests)
        decoded: TxResult = self.suite.result(receipt)
        groups: list[list[DecodedEvent]] = [[]]
        for event in decoded.events:
            if event.name == "ExecutedForwardRequest":
                groups.append([])
            else:
                groups[-1].append(event)
        per_job: list[list[tuple[DecodedEvent, ...]]] = [[] for _ in jobs]
        for owner, group in zip(owners, groups, strict=False):
            per_job[owner].append(tuple(group))
        return [
            JobResult(receipt.tx_hash, receipt.block_number, tuple(groups_of_job))
            for groups_of_job in per_job
        ]
