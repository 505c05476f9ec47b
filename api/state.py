"""What the gateway reads and writes through: the index store, a cache of the model's records
(and of summaries computed from them), and, when it may write, the write service."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ledger.circularity.records import FlowRecords, load_records
from ledger.settings import Settings, public_origin_for
from ledger.store.db import Store
from pilots.model import Pilot

if TYPE_CHECKING:
    from api.passkeys import PasskeyService
    from api.writes import WriteService

__all__ = ["GatewayState"]

MEMO_SIZE = 512
#: How long the indexed block is taken as known before the store is asked again (seconds).
CHECKPOINT_TTL = 0.25


#: The public origin of a gateway started without settings (the defaults of `Settings`).
LOCAL_ORIGIN = public_origin_for(
    Settings.model_fields["api_host"].default, Settings.model_fields["api_port"].default
)


@dataclass
class GatewayState:
    store: Store
    pilots: list[Pilot]
    writes: WriteService | None = None
    #: GS1 company prefix of published identifiers (None: LoopLedger URNs)
    company_prefix: str | None = None
    #: public base URL of the gateway (passport links, QR codes); None: the request's own
    public_url: str | None = None
    #: passkey sign-in for the pages (None: the pages take no sign-in)
    passkeys: PasskeyService | None = None
    #: scheme://host[:port] that sign-in messages must name (``Settings.effective_public_origin``)
    public_origin: str = LOCAL_ORIGIN
    _cache: tuple[int, FlowRecords] | None = field(default=None, repr=False)
    _memo: dict[tuple[Any, ...], Any] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _seen: tuple[float, int] = field(default=(0.0, -1), repr=False)

    def pilot(self, key: str) -> Pilot | None:
        key = key.upper()
        return next((p for p in self.pilots if p.code == key or str(p.id) == key), None)

    def _block(self, *, fresh: bool = False) -> int:
        """The indexed block, read from the store at most every CHECKPOINT_TTL seconds."""
        now = time.monotonic()
        if fresh or now - self._seen[0] > CHECKPOINT_TTL:
            checkpoint = self.store.checkpoint()
            self._seen = (now, checkpoint.block_number if checkpoint else -1)
        return self._seen[1]

    def records(self) -> FlowRecords:
        """All records, reloaded only when the indexer has moved on."""
        block = self._block()
        with self._lock:
            if self._cache is None or self._cache[0] != block:
                self._cache = (block, load_records(self.store.engine))
                self._memo.clear()
            return self._cache[1]

    def memoized(self, key: tuple[Any, ...]) -> Any | None:
        """The memo of `key` for the current indexed block, without computing anything."""
        block = self._block()
        with self._lock:
            if self._cache is not None and self._cache[0] == block:
                return self._memo.get(key)
        return None

    def memo(self, key: tuple[Any, ...], compute: Callable[[], Any]) -> Any:
        """A value derived from the records, computed once per indexed block."""
        self.records()
        with self._lock:
            if key in self._memo:
                return self._memo[key]
        value = compute()
        with self._lock:
            if len(self._memo) >= MEMO_SIZE:
                self._memo.clear()
            self._memo[key] = value
        return value

    def indexed_block(self) -> int | None:
        checkpoint = self.store.checkpoint()
        return checkpoint.block_number if checkpoint else None

    def wait_indexed(self, block: int, timeout: float = 30.0) -> bool:
        """Wait until the indexer has stored `block`; False after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while self._block(fresh=True) < block:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.05)
        return True
