"""The indexer: extract -> decode -> load, backfilling to the head or following it."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ledger.events import EventDecoder
from ledger.indexer.extract import (
    BlockRanges,
    Header,
    IndexerError,
    RangeTooLarge,
    RpcSource,
    TransientRpcError,
)
from ledger.indexer.load import load_prepared, rollback
from ledger.indexer.prepare import Prepared, batch_work, prepare
from ledger.indexer.worker import PrepareWorker
from ledger.store.db import COLUMNS, Store

if TYPE_CHECKING:
    from ledger.clients import Suite

__all__ = ["Indexer", "Progress", "indexer_for"]


@dataclass(frozen=True)
class Progress:
    """What one step did, for progress bars and logs."""

    block: int
    head: int
    events: int
    unknown: int
    reorg_to: int | None = None
    #: Logs of known events stored raw in `malformed_log` because they did not decode.
    malformed: int = 0


#: A worker process prepares ranges ahead of the loader only for a backfill this dense: the
#: previous batch held at least this many logs and more than two ranges are left.
PIPELINE_LOGS = 1_000


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
        pipeline: bool | None = None,
    ) -> None:
        """`pipeline`: prepare every range in a worker process (True), none (False), or those
        of a long and dense backfill (None, the default). Only over HTTP."""
        self.store, self.source, self.decoder = store, source, decoder
        self.addresses = list(addresses)
        self.chain_id, self.genesis = chain_id, genesis
        self.start_block = start_block
        self.confirmations = confirmations
        self.ranges = ranges or BlockRanges()
        self.pipeline = pipeline if source.url != "in-process" else False
        self._worker: PrepareWorker | None = None
        self._last_logs = 0
        #: The chain's head and the indexed block as the last step saw them (for the follower).
        self.chain_head: int | None = None
        self.last_block: int | None = None
        #: Largest peak memory of a worker process this indexer has run, in MB (benchmarks).
        self.worker_peak_rss_mb = 0.0

    def close(self) -> None:
        """Stop the worker process, if one runs (the indexer can still step afterwards)."""
        if self._worker is not None:
            peak = self._worker.peak_rss_mb()
            self.worker_peak_rss_mb = max(self.worker_peak_rss_mb, peak or 0.0)
            self._worker.close()
            self._worker = None

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

    def _prepare_here(self, first: int, head: int) -> Prepared:
        while True:
            try:
                return prepare(
                    self.source,
                    self.decoder,
                    self.addresses,
                    first,
                    min(first + self.ranges.size - 1, head),
                    COLUMNS,
                )
            except (RangeTooLarge, TransientRpcError) as exc:
                self.ranges.shrink(exc)

    def _worker_ready(self, first: int, head: int) -> bool:
        """Whether to take this batch from the worker process; starts it when a backfill
        turns out long and dense (it is used once it has started, meanwhile we go on here)."""
        if self._worker is None:
            dense = self._last_logs >= PIPELINE_LOGS and head - first + 1 > 2 * self.ranges.size
            if not (self.pipeline or (self.pipeline is None and dense)):
                return False
            source = self.source
            self._worker = PrepareWorker(
                source.url,
                self.decoder.abis,
                self.addresses,
                COLUMNS,
                timeout=source.timeout,
                retries=source.retries,
                ranges=self.ranges,
            )
        return self._worker.poll_ready(wait=self.pipeline is True)

    def _prepare_ahead(self, first: int, head: int) -> Prepared:
        """The next batch from the worker process."""
        worker = self._worker
        assert worker is not None
        while True:
            if worker.run is None or worker.run[0] != first:
                worker.start(first, head, self.ranges.size)
            kind, payload = worker.receive()
            if kind == "batch":
                assert isinstance(payload, Prepared)
                return payload
            if kind == "error":
                raise IndexerError(payload)
            self.ranges.size = payload  # "done": the run ended where we are; start the next

    def step(self) -> Progress | None:
        """Index the next batch; None when at the (confirmed) head."""
        cursor = self._cursor()
        self.last_block = cursor.number if cursor else None
        chain_head = self.chain_head = self.source.head()
        if cursor is not None:
            # A chain shorter than our checkpoint, or another hash at it, means a reorg.
            moved = cursor.number > chain_head
            if not moved:
                moved = self.source.headers([cursor.number])[cursor.number].hash != cursor.hash
            if moved:
                if self._worker is not None:
                    self._worker.run = None  # what it prepares is from the old branch
                ancestor = self._common_ancestor(min(cursor.number, chain_head))
                rollback(
                    self.store,
                    ancestor,
                    chain_id=self.chain_id,
                    genesis=self.genesis,
                    old_head=cursor.number,
                    now=int(time.time()),
                )
                self.last_block = ancestor.number
                return Progress(ancestor.number, ancestor.number, 0, 0, reorg_to=ancestor.number)
        last = cursor.number if cursor else self.start_block - 1
        head = chain_head - self.confirmations
        if last >= head:
            self.close()  # at the head: a worker process is not worth keeping
            return None
        ahead = self._worker_ready(last + 1, head)
        with batch_work():
            return self._index(cursor, last, head, ahead)

    def _index(self, cursor: Header | None, last: int, head: int, ahead: bool) -> Progress:
        """Prepare the batch after `last` (here or in the worker) and load it."""
        batch = self._prepare_ahead(last + 1, head) if ahead else self._prepare_here(last + 1, head)
        extends = cursor is None or (batch.parent is not None and batch.parent.hash == cursor.hash)
        if not batch.consistent or not extends:
            # The chain moved while the range was read: take it again (a reorg shows next step).
            if self._worker is not None:
                self._worker.run = None
            return Progress(last, head, 0, 0)
        load_prepared(self.store, batch, chain_id=self.chain_id, genesis=self.genesis)
        self.last_block = batch.to_block
        self._last_logs = batch.logs
        if not ahead:
            self.ranges.observe(batch.logs)  # the worker adapts the ranges it reads itself
        return Progress(
            batch.to_block, head, batch.events, batch.unknown, malformed=batch.malformed
        )

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
        try:
            while not stop.is_set():
                progress = self.step()
                if progress is not None:
                    on_progress(progress)
                    continue
                if not follow:
                    return
                stop.wait(poll)
        finally:
            self.close()


def indexer_for(
    suite: Suite,
    store: Store,
    *,
    confirmations: int = 0,
    initial_range: int = 100,
    max_range: int = 100_000,
    pipeline: bool | None = None,
) -> Indexer:
    """An indexer over the suite's deployment, reading the chain the suite is connected to."""
    chain = suite.chain
    url = getattr(chain, "url", "")
    source = RpcSource(url if url else chain.w3)
    return Indexer(
        store,
        source,
        suite.decoder,
        list(suite.manifest.addresses.values()),
        chain_id=suite.manifest.chain_id,
        genesis=suite.manifest.genesis_hash,
        start_block=suite.manifest.deploy_block,
        confirmations=confirmations,
        ranges=BlockRanges(initial=initial_range, maximum=max(initial_range, max_range)),
        pipeline=pipeline,
    )
