"""What the gateway reads and writes through: the index store and its read models (with a memo
of what was computed from them, per indexed block), and, when it may write, the write service.

Dashboards are answered from the aggregates the indexer keeps (``ledger.indexer.aggregates``):
computing a pilot's figures costs a few GROUP BY queries over pilots x months x makers x
materials, whatever the number of records. Only what needs every record (a lot's provenance,
periods that do not start and end on month boundaries, the EPCIS export) still loads them.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import networkx as nx
from sqlalchemy import func, select
from starlette.concurrency import run_in_threadpool

from api.auth import NonceBook, RevokedSessions
from api.health import HealthPolicy
from ledger.circularity.aggregated import flow_graph, month_aligned, read_period_flows
from ledger.circularity.graph import build_flow_graph
from ledger.circularity.period import Period
from ledger.circularity.records import FlowRecords, load_records
from ledger.settings import Settings, public_origin_for
from ledger.store.db import Store
from pilots.model import Pilot

if TYPE_CHECKING:
    from api.passkeys import PasskeyService
    from api.writes import WriteService

__all__ = ["GatewayState", "MaterialClass"]

#: Memo entries kept per kind (a key's first element), least recently used dropped first.
#: Pages of lists have their own, larger budget, so that paging through a long list never
#: evicts the dashboards' models, which cost far more to compute again.
MEMO_SIZE = 512
PAGE_MEMO_SIZE = 4096
MISSING = object()
log = logging.getLogger(__name__)
#: How long the indexed block is taken as known before the store is asked again (seconds).
CHECKPOINT_TTL = 0.25


#: The public origin of a gateway started without settings (the defaults of `Settings`).
LOCAL_ORIGIN = public_origin_for(
    Settings.model_fields["api_host"].default, Settings.model_fields["api_port"].default
)


@dataclass(frozen=True)
class MaterialClass:
    material_id: int
    code: str
    kind: int


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

    health: HealthPolicy = field(default_factory=HealthPolicy)
    #: Sign-in state shared by every worker through the store.
    nonces: NonceBook = field(init=False, repr=False)
    revoked: RevokedSessions = field(init=False, repr=False)
    _cache: tuple[int, FlowRecords] | None = field(default=None, repr=False)
    _memo: dict[Any, OrderedDict[tuple[Any, ...], tuple[int, Any]]] = field(
        default_factory=dict, repr=False
    )
    _computes: dict[tuple[Any, ...], Callable[[], Any]] = field(default_factory=dict, repr=False)
    _pending: set[tuple[Any, ...]] = field(default_factory=set, repr=False)
    _local: threading.local = field(default_factory=threading.local, repr=False)
    _pool: ThreadPoolExecutor = field(
        default_factory=lambda: ThreadPoolExecutor(max_workers=2, thread_name_prefix="memo"),
        repr=False,
    )
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _seen: tuple[float, int] = field(default=(0.0, -1), repr=False)

    def __post_init__(self) -> None:
        self.nonces = NonceBook(self.store)
        self.revoked = RevokedSessions(self.store)

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
        """Every record, reloaded when the indexer has moved on: for what the aggregates cannot
        answer (provenance, day ranges, exports); the dashboards do not call it."""
        block = self._block()
        with self._lock:
            if self._cache is None or self._cache[0] != block:
                self._cache = (block, load_records(self.store.engine))
            return self._cache[1]

    def _get(
        self, key: tuple[Any, ...], block: int, compute: Callable[[], Any] | None = None
    ) -> Any:
        """The memo of `key`: current, or (outside a refresh) the previous block's while one
        refresh computes the current one in the background; MISSING when there is none."""
        with self._lock:
            memo = self._memo.get(key[0])
            entry = None if memo is None else memo.get(key)
            if memo is None or entry is None:
                return MISSING
            memo.move_to_end(key)
            if entry[0] == block:
                return entry[1]
            if getattr(self._local, "refreshing", False):
                return MISSING  # a refresh builds on current values only
            compute = compute or self._computes.get(key)
            if compute is not None and key not in self._pending:
                self._pending.add(key)
                self._pool.submit(self._refresh, key, compute)
            return entry[1]

    def _put(
        self, key: tuple[Any, ...], block: int, value: Any, compute: Callable[[], Any]
    ) -> None:
        with self._lock:
            memo = self._memo.setdefault(key[0], OrderedDict())
            limit = PAGE_MEMO_SIZE if key[0] == "page" else MEMO_SIZE
            if key not in memo and len(memo) >= limit:
                dropped, _ = memo.popitem(last=False)
                self._computes.pop(dropped, None)
            old = memo.get(key)
            if old is None or old[0] <= block:
                memo[key] = (block, value)
                self._computes[key] = compute

    def _refresh(self, key: tuple[Any, ...], compute: Callable[[], Any]) -> None:
        self._local.refreshing = True
        try:
            block = self._block(fresh=True)
            self._put(key, block, compute(), compute)
        except Exception:  # the next request tries again; the stale value stays meanwhile
            log.exception("refreshing %s failed", key)
        finally:
            self._local.refreshing = False
            with self._lock:
                self._pending.discard(key)

    def memoized(self, key: tuple[Any, ...]) -> Any | None:
        """The memo of `key` without computing anything here (None when there is none): the
        current block's, or the previous one's while the current one is being computed."""
        found = self._get(key, self._block())
        return None if found is MISSING else found

    def memo(self, key: tuple[Any, ...], compute: Callable[[], Any]) -> Any:
        """A value derived from the index, computed once per indexed block. When the indexer
        moves on, requests are answered from the previous block's value while one background
        refresh computes the new one, so that no request waits for it (dashboards lag the
        index by the time one computation takes)."""
        block = self._block()
        found = self._get(key, block, compute)
        if found is not MISSING:
            return found
        value = compute()
        self._put(key, block, value, compute)
        return value

    async def page(self, key: tuple[Any, ...], compute: Callable[[], Any]) -> Any:
        """A page of a list (its JSON text) as of the current indexed block: from memory when
        this block's page was computed already. Never a previous block's page, so a member who
        has just redeemed sees the redemption. Keys start with "page".

        On SQLite the page is read on the event loop: a page is one or two indexed queries
        bounded by their LIMIT and by the list's length, and in a worker thread each of their
        rows would wait for the GIL behind the loop (1,800 against 450 pages/s under 32
        clients in ``scripts/bench_api.py``). A server database is read in the thread pool."""
        assert key[0] == "page"
        block = self._block()
        with self._lock:
            memo = self._memo.get("page")
            entry = None if memo is None else memo.get(key)
            if memo is not None and entry is not None and entry[0] == block:
                memo.move_to_end(key)
                return entry[1]
        if self.store.engine.dialect.name == "sqlite":
            value = compute()
        else:
            value = await run_in_threadpool(compute)
        self._put(key, block, value, compute)
        return value

    def materials(self) -> list[MaterialClass]:
        """The material classes known to the ledger, by id."""

        def read() -> list[MaterialClass]:
            table = self.store.tables["material_class"]
            query = select(table.c.material_id, table.c.code, table.c.kind)
            with self.store.engine.connect() as conn:
                rows = conn.execute(query.order_by(table.c.material_id)).all()
            return [MaterialClass(int(m), str(c), int(k)) for m, c, k in rows]

        found: list[MaterialClass] = self.memo(("materials",), read)
        return found

    def graph(self, pilot: int, period: Period) -> nx.DiGraph:
        """The flow graph of a pilot and period (memoized per indexed block)."""

        def build() -> nx.DiGraph:
            if not month_aligned(period):
                return build_flow_graph(self.records().for_pilot(pilot), period, pilot=pilot)
            kinds = {m.material_id: m.kind for m in self.materials()}
            with self.store.engine.connect() as conn:
                flows = read_period_flows(conn, pilot, period)
            return flow_graph(flows, period, kinds, pilot=pilot)

        graph: nx.DiGraph = self.memo(("graph", pilot, period), build)
        return graph

    def active_months(self, pilot: int) -> Period | None:
        """From the first to the last month with intakes in `pilot` (None without any)."""

        def read() -> Period | None:
            table = self.store.tables["agg_flow"]
            query = select(func.min(table.c.month), func.max(table.c.month)).where(
                table.c.pilot_id == pilot, table.c.tail.like("source:%"), table.c.grams != 0
            )
            with self.store.engine.connect() as conn:
                first, last = conn.execute(query).one()
            if first is None:
                return None
            end = Period(int(last), int(last) + 1, "").months()[0].end
            return Period(int(first), end, "all")

        found: Period | None = self.memo(("months", pilot), read)
        return found

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
