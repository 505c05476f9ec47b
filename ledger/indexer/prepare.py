"""Extract and decode one block range into a batch the loader writes as it is.

``prepare`` does every step of indexing a range that needs no database: the logs and headers
from the node, decoding, rows per table (as tuples in the store's column order) and lot
operations. Its result is plain data, so it can be computed in another process (see
``ledger.indexer.worker``) while the loader writes the previous range.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from operator import attrgetter
from typing import Any

from ledger.events import DecodedEvent, EventDecoder, MalformedLog
from ledger.indexer.extract import Header, RpcSource, as_hex, as_int
from ledger.indexer.rows import LotOp, malformed_row, rows_of
from ledger.store.rowtuples import tuples_of

__all__ = ["Prepared", "batch_work", "prepare"]


@contextmanager
def batch_work() -> Iterator[None]:
    """Pause Python's cyclic garbage collector while one batch is prepared or loaded.

    A batch allocates hundreds of thousands of short-lived dicts and tuples with no reference
    cycles; every 700 allocations the collector scans its youngest generation and, from time to
    time, the whole heap, finding nothing to free. Reference counting frees these objects all
    the same. Pausing the scans for the batch raised backfill throughput by about a quarter
    (``scripts/bench_indexer.py``); whatever cycles a batch leaves are collected once the
    collector resumes."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


@dataclass
class Prepared:
    """One block range, ready to load."""

    from_block: int
    to_block: int
    #: Headers of the blocks with logs and of `to_block` (the new checkpoint).
    headers: dict[int, Header]
    #: Header of the block before the range (None before block 0): the batch extends the
    #: store only if this is the stored checkpoint.
    parent: Header | None
    rows: dict[str, list[tuple[Any, ...]]] = field(default_factory=dict)
    lot_ops: list[LotOp] = field(default_factory=list)
    events: int = 0
    unknown: int = 0
    #: Logs of known events that did not decode or make rows: stored raw in `malformed_log`.
    malformed: int = 0
    logs: int = 0
    #: False when the chain moved between reading the logs and the headers: take it again.
    consistent: bool = True


def prepare(
    source: RpcSource,
    decoder: EventDecoder,
    addresses: Sequence[str],
    from_block: int,
    to_block: int,
    columns: Mapping[str, Sequence[str]],
) -> Prepared:
    """Logs of [from_block, to_block] decoded into rows, as tuples in `columns` order (the
    store's `COLUMNS`); raises `RangeTooLarge` and `TransientRpcError` for the caller to shrink
    the range or retry."""
    raw = source.logs(addresses, from_block, to_block)
    numbers = {as_int(log["blockNumber"]) for log in raw} | {to_block}
    if from_block > 0:
        numbers.add(from_block - 1)
    headers = source.headers(numbers)
    parent = headers.pop(from_block - 1, None)
    batch = Prepared(from_block, to_block, headers, parent, logs=len(raw))
    for log in raw:
        if headers[as_int(log["blockNumber"])].hash != as_hex(log["blockHash"]):
            batch.consistent = False
            return batch
    unknown_before = decoder.unknown
    events: list[DecodedEvent] = []
    malformed: list[dict[str, Any]] = []
    for log in raw:
        try:
            event = decoder.decode(log)
        except MalformedLog as exc:
            malformed.append(_malformed(log, headers[as_int(log["blockNumber"])].ts, str(exc)))
            continue
        if event is not None:
            events.append(event)
    events.sort(key=attrgetter("block_number", "log_index"))
    rows = rows_of(events, lambda n: headers[n].ts)
    rows.tables["malformed_log"].extend(malformed)
    batch.malformed = len(rows.tables["malformed_log"])
    batch.rows = {name: tuples_of(columns[name], table) for name, table in rows.tables.items()}
    batch.lot_ops = rows.lot_ops
    batch.events = len(events)
    batch.unknown = decoder.unknown - unknown_before
    return batch


def _malformed(log: Mapping[str, Any], ts: int, reason: str) -> dict[str, Any]:
    """The raw row of a log that did not decode."""
    ref = {
        "block_number": as_int(log["blockNumber"]),
        "block_hash": as_hex(log["blockHash"]),
        "tx_hash": as_hex(log["transactionHash"]),
        "log_index": as_int(log["logIndex"]),
        "ts": ts,
    }
    topics = ",".join(as_hex(t) for t in log["topics"])
    return malformed_row(ref, as_hex(log["address"]), topics, as_hex(log["data"]), reason)
