"""What the gateway reads: the index store and a cache of the model's records."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from ledger.circularity.records import FlowRecords, load_records
from ledger.store.db import Store
from pilots.model import Pilot

__all__ = ["GatewayState"]


@dataclass
class GatewayState:
    store: Store
    pilots: list[Pilot]
    _cache: tuple[int, FlowRecords] | None = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def pilot(self, key: str) -> Pilot | None:
        key = key.upper()
        return next((p for p in self.pilots if p.code == key or str(p.id) == key), None)

    def records(self) -> FlowRecords:
        """All records, reloaded only when the indexer has moved on."""
        checkpoint = self.store.checkpoint()
        block = checkpoint.block_number if checkpoint else -1
        with self._lock:
            if self._cache is None or self._cache[0] != block:
                self._cache = (block, load_records(self.store.engine))
            return self._cache[1]

    def indexed_block(self) -> int | None:
        checkpoint = self.store.checkpoint()
        return checkpoint.block_number if checkpoint else None
