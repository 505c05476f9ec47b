"""Batched relaying: many writers' signed requests in one forwarder transaction.

Each job is the work of one request to the gateway: calls of a custodial key, signed when the job
is submitted (in the caller's thread) with the signer's next forwarder nonces, or requests the
client signed itself. One thread collects the jobs that arrive within a short window and sends
them as one ``executeAll`` transaction, which is all or nothing, with its gas computed from the
requests' own (each was simulated when accepted). When a batch fails, the jobs are retried one
by one with the node's estimate, so one bad job fails alone with its own decoded error and the
others still land; a job whose nonces went stale because an earlier job of its signer failed is
signed again before it is sent. The receipt's logs are split back per request at each
``ExecutedForwardRequest``.
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


#: Forwarder work per request beyond the call's own gas: signature recovery, nonce, event.
REQUEST_OVERHEAD = 60_000


def batch_gas(requests: Sequence[dict[str, Any]]) -> int:
    """Gas for an `executeAll` of `requests`: each call's gas with the 1/63 the forwarder keeps
    back (EIP-150), its overhead, calldata, and the transaction's base cost."""
    calldata = sum(len(r["data"]) + len(r["signature"]) + 320 for r in requests)
    return (
        21_000 + 16 * calldata + sum(int(r["gas"]) * 64 // 63 + REQUEST_OVERHEAD for r in requests)
    )


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
    #: (nonce, request) per call, signed when the job was submitted
    signed: list[tuple[int, dict[str, Any]]] = field(default_factory=list)

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
        # Forwarder nonces of custodial signers: `_confirmed` is what the chain has used (read
        # by the batching thread), `_allocated` what submissions have signed for so far.
        self._confirmed: dict[str, int] = {}
        self._allocated: dict[str, int] = {}
        self._lock = threading.Lock()
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
        deadline = int(time.time()) + REQUEST_TTL
        # Signing happens here, in the caller's thread, so the batching thread only sends.
        # Nonces are allocated in submission order, which is the queue's order.
        with self._lock:
            if job.signer is not None:
                address = job.signer.address
                nonce = self._allocated.get(address)
                if nonce is None:
                    nonce = self._chain_nonce(address)
                for call, gas in job.calls:
                    job.signed.append((nonce, self.suite.tx.sign_request(
                        job.signer, call, gas=gas, deadline=deadline, nonce=nonce)))  # fmt: skip
                    nonce += 1
                self._allocated[address] = nonce
            self._queue.put(job)
        return job.future

    def _chain_nonce(self, address: str) -> int:
        forwarder = self.suite.tx.forwarder
        assert forwarder is not None
        return int(forwarder.functions.nonces(address).call())

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

    def _send(self, jobs: list[Job]) -> list[JobResult]:
        tx = self.suite.tx
        requests: list[dict[str, Any]] = []
        owners: list[int] = []
        expected: dict[str, int] = {}  # next nonce per custodial signer
        deadline = int(time.time()) + REQUEST_TTL
        for index, job in enumerate(jobs):
            if job.signer is not None:
                address = job.signer.address
                if address not in expected:
                    known = self._confirmed.get(address)
                    expected[address] = known if known is not None else self._chain_nonce(address)
                for position, (nonce, request) in enumerate(job.signed):
                    if nonce != expected[address]:
                        # An earlier job of this signer failed: its nonces were never used.
                        call, gas = job.calls[position]
                        nonce = expected[address]
                        request = tx.sign_request(
                            job.signer, call, gas=gas, deadline=deadline, nonce=nonce
                        )
                        job.signed[position] = (nonce, request)
                    expected[address] = nonce + 1
                    requests.append(request)
                    owners.append(index)
            for request in job.presigned:
                requests.append(request)
                owners.append(index)
        outsiders: set[str] = {to_checksum_address(r["from"]) for j in jobs for r in j.presigned}
        try:
            # One job is estimated by the node, which names the error of a failing call. A
            # batch of jobs (each simulated when it was accepted) gets its gas computed, which
            # saves an estimate per batch; should it revert after all, `_run_batch` retries
            # the jobs one by one.
            receipt = tx.submit_relayed(
                requests, gas=None if len(jobs) == 1 else batch_gas(requests)
            )
        except BaseException:
            with self._lock:  # nothing was used: read those signers' nonces again next time
                for gone in set(expected) | outsiders:
                    self._confirmed.pop(gone, None)
                    self._allocated.pop(gone, None)
            raise
        with self._lock:
            for who, nonce in expected.items():
                self._confirmed[who] = nonce
                if self._allocated.get(who, 0) < nonce:
                    self._allocated[who] = nonce
            for outsider in outsiders:
                self._confirmed.pop(outsider, None)
                self._allocated.pop(outsider, None)
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
