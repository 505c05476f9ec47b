"""The indexer: extract -> decode -> load, backfilling to the head or following it."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from operator import attrgetter
from typing import Any

from ledger.events import EventDecoder
from ledger.indexer.extract import (
    BlockRanges,
    Header,
    IndexerError,
    RangeTooLarge,
    RpcSource,
    TransientRpcError,
    as_hex,
    as_int,
)
from ledger.indexer.load import load_batch, rollback
from ledger.store.db import Store

__all__ = ["Indexer", "Progress"]


@dataclass(frozen=True)
class Progress:
    """What one step did, for progress bars and logs."""

    block: int
    head: int
    events: int
    unknown: int
    reorg_to: int | None = None


#: A fetched range: its last block, its raw logs and the headers of their blocks (and the last).
Fetched = tuple[int, list[dict[str, Any]], dict[int, "Header"]]


class Indexer:
    """Indexes the logs of a deployment into a store, one bounded batch per step."""

    def __init__(
        self,
        store: Store,
        source: RpcSource,
        decoder: EventDecoder,
        addresses: Sequence[str],
        *,
        chain_id: int,
        genesis: str,
        start_block: int,
        confirmations: int = 0,
        ranges: BlockRanges | None = None,
        prefetch: bool = True,
    ) -> None:
        self.store, self.source, self.decoder = store, source, decoder
        self.addresses = list(addresses)
        self.chain_id, self.genesis = chain_id, genesis
        self.start_block = start_block
        self.confirmations = confirmations
        self.ranges = ranges or BlockRanges()
        self.prefetch = prefetch
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="indexer-prefetch")
        self._prefetch: tuple[int, int, Future[Fetched]] | None = None

    def _cursor(self) -> Header | None:
        checkpoint = self.store.checkpoint()
        if checkpoint is None:
            return None
        if checkpoint.chain_id != self.chain_id or checkpoint.genesis_hash != self.genesis:
            raise IndexerError(
                f"The index store holds chain {checkpoint.chain_id} (genesis {checkpoint.genesis_hash[:10]}...), not "
                "this chain: point LOOPLEDGER_DATABASE_URL at another database or run `loopledger index --rebuild`."
            )
        return Header(checkpoint.block_number, checkpoint.block_hash, "", 0)

    def _common_ancestor(self, below: int) -> Header:
        """Newest stored block whose hash the chain still has (or the block before the deployment)."""
        while below >= self.start_block:
            stored = self.store.stored_blocks(below, 64)
            if not stored:
                break
            chain = self.source.headers([n for n, _ in stored])
            for number, stored_hash in stored:
                if chain[number].hash == stored_hash:
                    return chain[number]
            below = stored[-1][0] - 1
        base = max(self.start_block - 1, 0)
        return self.source.headers([base])[base]

    def _fetch(self, from_block: int, to_block: int) -> Fetched:
        raw = self.source.logs(self.addresses, from_block, to_block)
        headers = self.source.headers({as_int(log["blockNumber"]) for log in raw} | {to_block})
        return to_block, raw, headers

    def _take_prefetched(self, from_block: int, head: int) -> Fetched | None:
        """The prefetched range if it starts where we are and ends within the head; else None."""
        prefetch, self._prefetch = self._prefetch, None
        if prefetch is None:
            return None
        start, end, future = prefetch
        try:
            result = future.result()
        except (RangeTooLarge, TransientRpcError):
            return None  # fetched again (and the range shrunk) on the normal path
        return result if start == from_block and end <= head else None

    def step(self) -> Progress | None:
        """Index the next batch; None when at the (confirmed) head."""
        cursor = self._cursor()
        chain_head = self.source.head()
        if cursor is not None:
            # A chain shorter than our checkpoint, or another hash at it, means a reorg.
            moved = cursor.number > chain_head
            if not moved:
                moved = self.source.headers([cursor.number])[cursor.number].hash != cursor.hash
            if moved:
                ancestor = self._common_ancestor(min(cursor.number, chain_head))
                rollback(self.store, ancestor, chain_id=self.chain_id, genesis=self.genesis,
                         old_head=cursor.number, now=int(time.time()))  # fmt: skip
                return Progress(ancestor.number, ancestor.number, 0, 0, reorg_to=ancestor.number)
        last = cursor.number if cursor else self.start_block - 1
        head = chain_head - self.confirmations
        if last >= head:
            return None
        fetched = self._take_prefetched(last + 1, head)
        if fetched is None:
            while True:
                to_block = min(last + self.ranges.size, head)
                try:
                    fetched = self._fetch(last + 1, to_block)
                except (RangeTooLarge, TransientRpcError):
                    self.ranges.shrink()
                    continue
                break
        to_block, raw, headers = fetched
        for log in raw:
            if headers[as_int(log["blockNumber"])].hash != as_hex(log["blockHash"]):
                # The chain moved under us between the two calls: take the range again.
                return Progress(last, head, 0, 0)
        # While this batch is decoded and loaded, the next range is fetched (backfill only):
        # the node works on it on the other core instead of waiting for us.
        ahead = min(to_block + self.ranges.size, head)
        if self.prefetch and ahead > to_block:
            self._prefetch = (
                to_block + 1,
                ahead,
                self._pool.submit(self._fetch, to_block + 1, ahead),
            )
        unknown_before = self.decoder.unknown
        events = [e for e in (self.decoder.decode(log) for log in raw) if e is not None]
        events.sort(key=attrgetter("block_number", "log_index"))
        load_batch(
            self.store,
            events,
            headers,
            chain_id=self.chain_id,
            genesis=self.genesis,
            checkpoint=headers[to_block],
        )
        self.ranges.observe(len(raw))
        return Progress(to_block, head, len(events), self.decoder.unknown - unknown_before)

    def run(
        self,
        *,
        follow: bool = False,
        stop: threading.Event | None = None,
        on_progress: Callable[[Progress], None] = lambda _: None,
        poll: float = 0.5,
    ) -> None:
        """Backfill to the head; with `follow`, keep following it until `stop` is set."""
        stop = stop or threading.Event()
        while not stop.is_set():
            progress = self.step()
            if progress is not None:
                on_progress(progress)
                continue
            if not follow:
                return
            stop.wait(poll)
