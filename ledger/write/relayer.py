"""The relayer: the one writer of a chain, sending queued jobs exactly once.

Jobs wait in the store (:mod:`ledger.write.queue`). The relayer takes the oldest, signs the
custodial ones with their signers' next forwarder nonces, simulates the whole ``executeAll``
as itself, and stores the signed transaction and its hash with the jobs, in one database
transaction, before it broadcasts. From then on the batch is never signed again with another
nonce; every later step is reconciliation against the chain:

- a receipt (status 1): the jobs are confirmed with their own events, split at each
  ``ExecutedForwardRequest``;
- a receipt (status 0): the jobs go back to the queue with their signed requests unchanged, and
  the next batch finds the ones that fail, each alone with its decoded error;
- no receipt yet: the same raw transaction is broadcast again when the node has forgotten it,
  and after ``stuck_after`` seconds it is replaced (same relayer nonce, fees up by a quarter);
  whichever attempt is mined is the batch.

A forwarder request executes at most once (its signer's nonce), and a signed request is kept
in the store under (signer, nonce), so a job is recorded at most once; reconciling every
broadcast batch until it is mined or reverted makes it at least once. A job that fails after its
requests were broadcast (they are public) has its nonces used up by a harmless call, so that
its old signed request can never run later. On start the relayer picks up where the store
says it was, so a crash at any point loses nothing and repeats nothing.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from eth_abi import decode, encode
from eth_account.signers.local import LocalAccount
from eth_account.typed_transactions import TypedTransaction
from eth_utils import function_signature_to_4byte_selector, keccak, to_checksum_address
from hexbytes import HexBytes
from sqlalchemy import delete, insert, select, update
from sqlalchemy.engine import Connection

from ledger.clients import Suite
from ledger.contract_errors import ContractRevert, decode_revert
from ledger.custody import Custody
from ledger.errors import LedgerError
from ledger.events import DecodedEvent
from ledger.store.db import Store
from ledger.transact import EXECUTE_ALL, REQUEST_FIELDS, REQUEST_TYPE, Call
from ledger.write.queue import request_from_json, request_to_json
from ledger.write.rpc import Rpc, RpcError, redact
from ledger.write.shell import gas_with_margin

__all__ = ["BATCH_GAS", "REQUEST_TTL", "Relayer", "events_json"]

log = logging.getLogger("loopledger.relay")

#: Gas of all requests in one batch: below a 30M block gas limit with room for the forwarder.
BATCH_GAS = 24_000_000
#: Life of a signed request (seconds): bounds how long a broadcast request could still run.
REQUEST_TTL = 3_600
#: Jobs looked at per batch.
MAX_JOBS = 400
_NONCES = function_signature_to_4byte_selector("nonces(address)")
_EXECUTED = "0x" + keccak(text="ExecutedForwardRequest(address,uint256,bool)").hex()
#: The call that uses up a nonce of a failed, public request: a view of the material ledger.
_NOOP = function_signature_to_4byte_selector("lotCount()")


def _json(value: Any) -> Any:
    if isinstance(value, bytes):
        return "0x" + value.hex()
    if isinstance(value, list | tuple):
        return [_json(v) for v in value]
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > 2**53:
        return str(value)
    return value


def events_json(events: Sequence[DecodedEvent]) -> list[dict[str, Any]]:
    return [
        {"name": e.name, "log_index": e.log_index, "args": {k: _json(v) for k, v in e.args.items()}}
        for e in events
        if e.name != "Transfer"
    ]


@dataclass
class _Entry:
    """One signed request of a batch."""

    job_id: str
    signer: str
    nonce: int
    request: dict[str, Any]
    exposed: bool


@dataclass
class Relayer:
    """Sends the queue's jobs through the suite's forwarder, one batch in flight at a time."""

    suite: Suite
    store: Store
    custody: Custody
    account: LocalAccount
    rpc: Rpc = field(default=None)  # type: ignore[assignment]
    max_gas: int = BATCH_GAS
    stuck_after: float = 30.0
    #: set by writers in the same process to wake the relayer at once
    wake: threading.Event = field(default_factory=threading.Event)
    #: notified whenever jobs settle, for writers in the same process waiting on them
    settled: threading.Condition = field(default_factory=threading.Condition)
    batches: int = 0
    requests: int = 0

    def __post_init__(self) -> None:
        if self.rpc is None:
            self.rpc = Rpc(self.suite.chain)
        self.jobs = self.store.tables["write_job"]
        self.signed = self.store.tables["relay_request"]
        self.batch_table = self.store.tables["relay_batch"]
        self.forwarder = to_checksum_address(self.suite.manifest.addresses["LedgerForwarder"])
        self.chain_id = self.suite.manifest.chain_id

    # ---- the loop ---------------------------------------------------------------------------

    def run(self, stop: threading.Event, *, idle: float = 0.02) -> None:
        """Relay until `stop` is set. Faults are logged and retried with backoff, never fatal."""
        backoff = 0.1
        while not stop.is_set():
            try:
                busy = self.step()
                backoff = 0.1
            except Exception as exc:  # a fault of the node or the store: retried
                # Every state the relayer acts on is in the store and on chain, so whatever
                # failed halfway is found again by the next step.
                log.warning("relaying paused (%s); retrying in %.1f s", redact(str(exc)), backoff)
                stop.wait(backoff)
                backoff = min(backoff * 2, 5.0)
                continue
            if not busy:
                self.wake.wait(idle)
                self.wake.clear()

    def step(self) -> bool:
        """One unit of work: reconcile the batch in flight, or send the next. False when idle."""
        with self.store.engine.connect() as conn:
            open_batch = conn.execute(
                select(self.batch_table).where(self.batch_table.c.state == "sent")
            ).first()
        busy = self._reconcile(open_batch) if open_batch is not None else self._send_next()
        if busy:
            with self.settled:
                self.settled.notify_all()
        return busy

    # ---- sending ----------------------------------------------------------------------------

    def _queued(self) -> list[Any]:
        with self.store.engine.connect() as conn:
            return list(
                conn.execute(
                    select(self.jobs)
                    .where(self.jobs.c.state == "queued")
                    .order_by(self.jobs.c.created_at)
                    .limit(MAX_JOBS)
                )
            )

    def _send_next(self) -> bool:
        jobs = self._queued()
        if not jobs:
            return False
        entries = self._entries(jobs)
        if not entries:
            return True
        kept = self._simulate(entries)
        if kept is None:
            return True  # some jobs failed; the rest are planned again next step
        entries, gas = kept
        self._broadcast_new(entries, gas)
        return True

    def _chain_nonces(self, signers: Sequence[str]) -> dict[str, int]:
        calls = [
            (
                "eth_call",
                [
                    {
                        "to": self.forwarder,
                        "data": "0x" + (_NONCES + encode(["address"], [s])).hex(),
                    },
                    "latest",
                ],
            )
            for s in signers
        ]
        out: dict[str, int] = {}
        for signer, reply in zip(signers, self.rpc.batch(calls), strict=True):
            if "result" not in reply:
                raise RpcError(reply.get("error", "nonces unreadable"))
            out[signer] = int(reply["result"], 16)
        return out

    def _entries(self, jobs: Sequence[Any]) -> list[_Entry]:
        """The signed requests of `jobs`: stored ones as they are, new ones signed now.

        A stored request whose nonce the chain has already used ran somewhere (an earlier
        batch whose receipt was lost for good, or someone relaying it): its job is settled
        from the chain's log instead of being sent again."""
        ids = [j.job_id for j in jobs]
        with self.store.engine.connect() as conn:
            rows = list(
                conn.execute(
                    select(self.signed)
                    .where(self.signed.c.job_id.in_(ids))
                    .order_by(self.signed.c.job_id, self.signed.c.position)
                )
            )
            pending = {
                (r.signer, r.nonce)
                for r in conn.execute(
                    select(self.signed.c.signer, self.signed.c.nonce)
                    .join(self.jobs, self.jobs.c.job_id == self.signed.c.job_id)
                    .where(self.jobs.c.state.in_(["queued", "sent"]))
                )
            }
        stored: dict[str, list[Any]] = {}
        for r in rows:
            stored.setdefault(r.job_id, []).append(r)
        signers = sorted(
            {r.signer for r in rows}
            | {j.signer for j in jobs if j.signer}
            | {c["signer"] for j in jobs if j.signer for c in json.loads(j.calls) if "signer" in c}
        )
        chain = self._chain_nonces(signers)
        # Next nonce per custodial signer: after the chain's and after every queued request's.
        following = dict(chain)
        for signer, nonce in pending:
            if signer in following:
                following[signer] = max(following[signer], nonce + 1)
        entries: list[_Entry] = []
        expected = dict(chain)
        blocked: set[str] = set()
        deadline = int(time.time()) + REQUEST_TTL
        for job in jobs:
            mine = stored.get(job.job_id, [])
            if mine and any(r.nonce < chain[r.signer] for r in mine):
                self._settle_elsewhere(job, mine)
                continue
            if not mine and job.signer is not None:
                mine = self._sign(job, following, deadline)
                if not mine:
                    continue
            job_entries = [
                _Entry(
                    job.job_id,
                    r.signer,
                    r.nonce,
                    request_from_json(json.loads(r.request)),
                    r.exposed,
                )
                for r in mine
            ]
            # Within a batch a signer's requests must run in nonce order without a gap; a job
            # behind a gap waits for the next batch.
            trial = dict(expected)
            for e in job_entries:
                if e.signer in blocked or trial.get(e.signer) != e.nonce:
                    blocked |= {entry.signer for entry in job_entries}
                    break
                trial[e.signer] = e.nonce + 1
            else:
                expected = trial
                entries += job_entries
        return entries

    def _sign(self, job: Any, following: dict[str, int], deadline: int) -> list[Any]:
        """Sign a custodial job's calls, each with its signer's next nonce (a job of several
        makers has a signer per call), and store the requests before anything is sent."""
        calls = json.loads(job.calls)
        keys = {}
        for who in {call.get("signer", job.signer) for call in calls}:
            key = self.custody.key_for(who)
            if key is None:
                self._fail([job.job_id], [("account", f"the relayer holds no key for {who}")])
                return []
            keys[who] = key
        rows = []
        for position, call in enumerate(calls):
            who = call.get("signer", job.signer)
            nonce = following[who]
            request = self.suite.tx.sign_request(
                keys[who],
                Call(call["to"], bytes.fromhex(call["data"][2:])),
                gas=int(call["gas"]),
                deadline=deadline,
                nonce=nonce,
            )
            rows.append(
                {
                    "signer": who,
                    "nonce": nonce,
                    "job_id": job.job_id,
                    "position": position,
                    "deadline": deadline,
                    "request": json.dumps(request_to_json(request)),
                    "exposed": False,
                }
            )
            following[who] = nonce + 1
        with self.store.engine.begin() as conn:
            conn.execute(insert(self.signed), rows)
        return [_Row(**r) for r in rows]

    def _execute_all(self, entries: Sequence[_Entry]) -> Call:
        rows = [tuple(e.request[k] for k in REQUEST_FIELDS) for e in entries]
        return Call(self.forwarder, EXECUTE_ALL + encode([REQUEST_TYPE + "[]"], [rows]))

    def _estimate(self, entries: Sequence[_Entry]) -> int:
        call = self._execute_all(entries)
        params = {"from": self.account.address, "to": call.to, "data": "0x" + call.data.hex()}
        return int(self.rpc.call("eth_estimateGas", [params]), 16)

    def _simulate(self, entries: list[_Entry]) -> tuple[list[_Entry], int] | None:
        """The entries with the batch's gas, or None after failing the jobs that fail alone."""
        entries = self._within_gas(entries)
        try:
            return entries, gas_with_margin(self._estimate(entries))
        except RpcError as exc:
            if exc.revert_data() is None:
                raise
        # Find the culprits: grow the batch job by job, keeping what still runs.
        by_job: dict[str, list[_Entry]] = {}
        for e in entries:
            by_job.setdefault(e.job_id, []).append(e)
        kept: list[_Entry] = []
        failed: dict[str, LedgerError] = {}
        for job_id, mine in by_job.items():
            if {e.signer for e in mine} & {e.signer for f in failed for e in by_job[f]}:
                continue  # behind a failed job of its signer: planned again next step
            try:
                self._estimate(kept + mine)
                kept += mine
            except RpcError as exc:
                data = exc.revert_data()
                if data is None:
                    raise
                failed[job_id] = decode_revert(data)
        for job_id, error in failed.items():
            self._fail_job(job_id, by_job[job_id], error)
        return None

    def _within_gas(self, entries: list[_Entry]) -> list[_Entry]:
        total, out = 0, list[_Entry]()
        for e in entries:
            gas = int(e.request["gas"]) * 64 // 63 + 60_000
            if out and total + gas > self.max_gas and e.job_id != out[-1].job_id:
                break
            total += gas
            out.append(e)
        return out

    def _fees(self) -> tuple[int, int]:
        block = self.rpc.call("eth_getBlockByNumber", ["latest", False]) or {}
        base = int(block.get("baseFeePerGas", "0x0"), 16)
        tip = 1_000_000_000
        return base * 2 + tip, tip

    def _sign_tx(self, nonce: int, call: Call, gas: int, max_fee: int, tip: int) -> dict[str, Any]:
        tx: dict[str, Any] = {
            "to": call.to,
            "data": call.data,
            "gas": gas,
            "nonce": nonce,
            "chainId": self.chain_id,
            "maxFeePerGas": max_fee,
            "maxPriorityFeePerGas": tip,
            "value": 0,
        }
        signed = self.account.sign_transaction(tx)
        return {
            "hash": "0x" + bytes(signed.hash).hex(),
            "raw": "0x" + bytes(signed.raw_transaction).hex(),
            "max_fee": max_fee,
            "tip": tip,
            "gas": gas,
            "sent_at": time.time(),
        }

    def _broadcast_new(self, entries: list[_Entry], gas: int) -> None:
        nonce = int(self.rpc.call("eth_getTransactionCount", [self.account.address, "pending"]), 16)
        max_fee, tip = self._fees()
        attempt = self._sign_tx(nonce, self._execute_all(entries), gas, max_fee, tip)
        job_ids = sorted({e.job_id for e in entries})
        now = time.time()
        # Stored before it leaves: whatever happens next, the batch is reconciled, never re-signed.
        with self.store.engine.begin() as conn:
            batch_id = conn.execute(
                insert(self.batch_table).values(
                    relayer_nonce=nonce,
                    requests=json.dumps([[e.job_id, e.signer, e.nonce] for e in entries]),
                    attempts=json.dumps([attempt]),
                    state="sent",
                    created_at=now,
                )
            ).inserted_primary_key[0]  # type: ignore[index]
            conn.execute(
                update(self.jobs)
                .where(self.jobs.c.job_id.in_(job_ids))
                .values(state="sent", batch_id=batch_id, tx_hash=attempt["hash"], updated_at=now)
            )
            for e in entries:
                conn.execute(
                    update(self.signed)
                    .where((self.signed.c.signer == e.signer) & (self.signed.c.nonce == e.nonce))
                    .values(exposed=True)
                )
        self.batches += 1
        self.requests += len(entries)
        self._push(attempt)

    def _push(self, attempt: dict[str, Any]) -> None:
        """Broadcast; a refusal is left to reconciliation, which reads the chain's answer."""
        try:
            self.rpc.call("eth_sendRawTransaction", [attempt["raw"]])
        except RpcError as exc:
            log.info("broadcast of %s answered: %s", attempt["hash"], exc.message)

    # ---- reconciling ------------------------------------------------------------------------

    def _reconcile(self, batch: Any) -> bool:
        attempts: list[dict[str, Any]] = json.loads(batch.attempts)
        replies = self.rpc.batch([("eth_getTransactionReceipt", [a["hash"]]) for a in attempts])
        for reply in replies:
            receipt = reply.get("result")
            if receipt:
                self._settle(batch, receipt)
                return True
        latest = attempts[-1]
        used = int(self.rpc.call("eth_getTransactionCount", [self.account.address, "latest"]), 16)
        if used > batch.relayer_nonce:
            # The nonce is used, yet none of our attempts has a receipt: either a receipt is
            # still on its way (a node behind a load balancer), or another transaction took
            # the nonce. Wait a little, then let the forwarder nonces tell what ran.
            if time.time() - latest["sent_at"] > self.stuck_after:
                self._requeue(batch, "lost")
            else:
                time.sleep(0.05)
            return True
        known = self.rpc.call("eth_getTransactionByHash", [latest["hash"]])
        if time.time() - latest["sent_at"] > self.stuck_after:
            self._replace(batch, attempts)
        elif known is None:
            self._push(latest)  # the node forgot it (restart, eviction): the same bytes again
            time.sleep(0.02)
        else:
            time.sleep(0.02)
        return True

    def _replace(self, batch: Any, attempts: list[dict[str, Any]]) -> None:
        """The same transaction with the same nonce and higher fees (at least +10% each)."""
        latest = attempts[-1]
        max_fee, tip = self._fees()
        max_fee = max(max_fee, latest["max_fee"] * 5 // 4 + 1)
        tip = max(tip, latest["tip"] * 5 // 4 + 1)
        tx = self._decode_raw(latest["raw"])
        attempt = self._sign_tx(batch.relayer_nonce, tx, latest["gas"], max_fee, tip)
        attempts = [*attempts, attempt]
        with self.store.engine.begin() as conn:
            conn.execute(
                update(self.batch_table)
                .where(self.batch_table.c.batch_id == batch.batch_id)
                .values(attempts=json.dumps(attempts))
            )
        log.info(
            "batch %s not mined in %.0f s: replaced by %s",
            batch.batch_id,
            self.stuck_after,
            attempt["hash"],
        )
        self._push(attempt)

    @staticmethod
    def _decode_raw(raw: str) -> Call:
        tx = TypedTransaction.from_bytes(HexBytes(raw)).as_dict()
        return Call(to_checksum_address(tx["to"]), bytes(tx["data"]))

    def _batch_jobs(self, conn: Connection, batch_id: int) -> list[Any]:
        return list(conn.execute(select(self.jobs).where(self.jobs.c.batch_id == batch_id)))

    def _settle(self, batch: Any, receipt: dict[str, Any]) -> None:
        block = int(receipt["blockNumber"], 16)
        tx_hash = receipt["transactionHash"]
        now = time.time()
        with self.store.engine.begin() as conn:
            jobs = self._batch_jobs(conn, batch.batch_id)
            if int(receipt["status"], 16) != 1:
                # Nothing of it ran: back to the queue with the same signed requests.
                conn.execute(
                    update(self.jobs)
                    .where(self.jobs.c.batch_id == batch.batch_id)
                    .values(state="queued", batch_id=None, tx_hash=None, updated_at=now)
                )
                conn.execute(
                    update(self.batch_table)
                    .where(self.batch_table.c.batch_id == batch.batch_id)
                    .values(state="reverted", block_number=block)
                )
                log.warning(
                    "batch %s reverted on chain (%s); its jobs are tried again",
                    batch.batch_id,
                    tx_hash,
                )
                return
            groups = self._groups(receipt["logs"])
            per_job: dict[str, list[list[DecodedEvent]]] = {j.job_id: [] for j in jobs}
            for (job_id, _, _), group in zip(json.loads(batch.requests), groups, strict=True):
                per_job[job_id].append(group)
            for job_id, per_request in per_job.items():
                self._confirm(conn, job_id, tx_hash, block, per_request, now)
            conn.execute(
                update(self.batch_table)
                .where(self.batch_table.c.batch_id == batch.batch_id)
                .values(state="mined", block_number=block)
            )

    def _confirm(
        self,
        conn: Connection,
        job_id: str,
        tx_hash: str,
        block: int,
        per_request: Sequence[Sequence[DecodedEvent]],
        now: float,
    ) -> None:
        result = self._result(tx_hash, block, per_request)
        conn.execute(
            update(self.jobs)
            .where(self.jobs.c.job_id == job_id)
            .values(
                state="confirmed",
                tx_hash=tx_hash,
                block_number=block,
                result=json.dumps(result),
                updated_at=now,
            )
        )

    def _groups(self, logs: Sequence[dict[str, Any]]) -> list[list[DecodedEvent]]:
        groups: list[list[DecodedEvent]] = [[]]
        for raw in logs:
            event = self.suite.decoder.decode(raw)
            if event is None:
                continue
            if event.name == "ExecutedForwardRequest":
                groups[-1].append(event)
                groups.append([])
            else:
                groups[-1].append(event)
        return groups[:-1] if not groups[-1] else groups

    @staticmethod
    def _result(
        tx_hash: str, block: int, per_request: Sequence[Sequence[DecodedEvent]]
    ) -> dict[str, Any]:
        events = [e for group in per_request for e in group if e.name != "ExecutedForwardRequest"]
        return {"tx_hash": tx_hash, "block_number": block, "events": events_json(events)}

    def _requeue(self, batch: Any, state: str) -> None:
        now = time.time()
        with self.store.engine.begin() as conn:
            conn.execute(
                update(self.jobs)
                .where(self.jobs.c.batch_id == batch.batch_id)
                .values(state="queued", batch_id=None, tx_hash=None, updated_at=now)
            )
            conn.execute(
                update(self.batch_table)
                .where(self.batch_table.c.batch_id == batch.batch_id)
                .values(state=state)
            )

    # ---- failing and settling single jobs ---------------------------------------------------

    def _fail(self, job_ids: Sequence[str], reasons: Sequence[tuple[str, str]]) -> None:
        now = time.time()
        with self.store.engine.begin() as conn:
            conn.execute(
                update(self.jobs)
                .where(self.jobs.c.job_id.in_(list(job_ids)))
                .values(
                    state="failed",
                    error=json.dumps({"reasons": [list(r) for r in reasons]}),
                    updated_at=now,
                )
            )

    def _fail_job(self, job_id: str, entries: Sequence[_Entry], error: LedgerError) -> None:
        detail = error.as_dict() if isinstance(error, ContractRevert) else {}
        reasons = [("records", f"the ledger refused it: {error}")]
        exposed = [e for e in entries if e.exposed]
        now = time.time()
        with self.store.engine.begin() as conn:
            conn.execute(
                update(self.jobs)
                .where(self.jobs.c.job_id == job_id)
                .values(
                    state="failed",
                    updated_at=now,
                    error=json.dumps(
                        {
                            "reasons": [list(r) for r in reasons],
                            "revert": {
                                "name": type(error).__name__,
                                "args": _json(list(detail.values())),
                            },
                        }
                    ),
                )
            )
            # Never broadcast: the signatures never left the store, so their nonces are free
            # again, and so are those of the signer's later requests, which are signed afresh
            # without the gap.
            for e in entries:
                conn.execute(
                    delete(self.signed).where(
                        (self.signed.c.signer == e.signer)
                        & (self.signed.c.nonce >= e.nonce)
                        & (self.signed.c.exposed.is_(False))
                    )
                )
        for signer in sorted({e.signer for e in exposed}):
            self._burn(job_id, [e for e in exposed if e.signer == signer])

    def _burn(self, job_id: str, exposed: Sequence[_Entry]) -> None:
        """Use up the nonces of a failed job's public requests with a harmless call, in a job of
        its own, so that the old signed requests can never run. Requests a client signed itself
        cannot be burnt here: they stay valid until their deadline, which the error says."""
        key = self.custody.key_for(exposed[0].signer)
        if key is None:
            return
        noop = Call(self.suite.manifest.addresses["MaterialLedger"], _NOOP)
        burn_id = hashlib.sha256(f"burn:{job_id}:{exposed[0].signer}".encode()).hexdigest()[:32]
        with self.store.engine.begin() as conn:
            created = conn.execute(
                select(self.jobs.c.created_at).where(self.jobs.c.job_id == job_id)
            ).scalar_one()
            conn.execute(
                insert(self.jobs).values(
                    job_id=burn_id,
                    account=key.address,
                    kind="burn",
                    pilot_id=None,
                    idem_key=None,
                    request_hash="",
                    signer=key.address,
                    calls=json.dumps(
                        [{"to": noop.to, "data": "0x" + noop.data.hex(), "gas": 60_000}]
                    ),
                    state="queued",
                    created_at=created,
                    updated_at=time.time(),
                )
            )
            for position, e in enumerate(exposed):
                request = self.suite.tx.sign_request(
                    key, noop, gas=60_000, deadline=int(time.time()) + REQUEST_TTL, nonce=e.nonce
                )
                conn.execute(
                    update(self.signed)
                    .where((self.signed.c.signer == e.signer) & (self.signed.c.nonce == e.nonce))
                    .values(
                        job_id=burn_id,
                        position=position,
                        exposed=False,
                        deadline=int(request["deadline"]),
                        request=json.dumps(request_to_json(request)),
                    )
                )
        log.info("job %s failed after broadcast: its nonces are used up by job %s", job_id, burn_id)

    def _settle_elsewhere(self, job: Any, rows: Sequence[Any]) -> None:
        """Settle a job whose requests' nonces the chain has used, from the forwarder's log."""
        latest = int(self.rpc.call("eth_blockNumber", []), 16)
        found: list[tuple[str, int, int]] = []  # (tx hash, block, index among the tx's requests)
        for row in rows:
            logs = self.rpc.call(
                "eth_getLogs",
                [
                    {
                        "address": self.forwarder,
                        "fromBlock": hex(max(0, latest - 100_000)),
                        "toBlock": hex(latest),
                        "topics": [_EXECUTED, "0x" + bytes(12).hex() + row.signer[2:].lower()],
                    }
                ],
            )
            match = next(
                (
                    entry
                    for entry in logs or []
                    if decode(["uint256", "bool"], bytes.fromhex(entry["data"][2:]))[0] == row.nonce
                ),
                None,
            )
            if match is None:
                break
            found.append(
                (
                    match["transactionHash"],
                    int(match["blockNumber"], 16),
                    int(match["logIndex"], 16),
                )
            )
        now = time.time()
        if len(found) != len(rows):
            reasons = [
                (
                    "records",
                    "another request of the signer used its forwarder nonce; "
                    "nothing of this job is recorded",
                )
            ]
            self._fail([job.job_id], reasons)
            return
        tx_hash, block = found[0][0], found[0][1]
        receipt = self.rpc.call("eth_getTransactionReceipt", [tx_hash])
        groups = self._groups(receipt["logs"])
        per_request = []
        for _, _, log_index in found:
            for group in groups:
                if (
                    group
                    and group[-1].name == "ExecutedForwardRequest"
                    and group[-1].log_index == log_index
                ):
                    per_request.append(group)
        with self.store.engine.begin() as conn:
            self._confirm(conn, job.job_id, tx_hash, block, per_request, now)
        log.info("job %s had run in %s: confirmed from the chain", job.job_id, tx_hash)


@dataclass(frozen=True)
class _Row:
    signer: str
    nonce: int
    job_id: str
    position: int
    deadline: int
    request: str
    exposed: bool
