"""What the gateway keeps in memory per indexed block: pages of lists and derived models."""

from __future__ import annotations

import asyncio

from sqlalchemy import delete, insert

from api.state import PAGE_MEMO_SIZE, GatewayState
from ledger.store.db import Store
from pilots.model import Pilot


def _indexed(store: Store, block: int) -> None:
    table = store.tables["checkpoint"]
    with store.engine.begin() as conn:
        conn.execute(delete(table))
        conn.execute(
            insert(table).values(
                id=1, chain_id=1, genesis_hash="0x", block_number=block, block_hash="0x"
            )
        )


def test_a_page_is_this_blocks_never_the_previous_ones(store_url: str, pilots: list[Pilot]) -> None:
    store = Store.open(store_url)
    state = GatewayState(store, pilots)
    _indexed(store, 10)
    state._block(fresh=True)
    key = ("page", "wallet", "0xabc", None, 20, 0)
    assert asyncio.run(state.page(key, lambda: "balance 5")) == "balance 5"
    assert asyncio.run(state.page(key, lambda: "not read again")) == "balance 5"

    _indexed(store, 11)  # a redemption was indexed: the member must see it at once
    state._block(fresh=True)
    assert asyncio.run(state.page(key, lambda: "balance 0")) == "balance 0"


def test_paging_through_a_long_list_keeps_the_dashboards_models(
    store_url: str, pilots: list[Pilot]
) -> None:
    store = Store.open(store_url)
    state = GatewayState(store, pilots)
    _indexed(store, 10)
    computed = []

    def graph() -> str:
        computed.append(1)
        return "graph of Leuven"

    assert state.memo(("graph", 1), graph) == "graph of Leuven"
    for offset in range(0, 50 * (PAGE_MEMO_SIZE + 100), 50):  # more pages than the budget
        key = ("page", "lots", 1, "", None, False, 50, offset)
        asyncio.run(state.page(key, lambda: "[]"))

    assert state.memoized(("graph", 1)) == "graph of Leuven"
    assert computed == [1]
    first = ("page", "lots", 1, "", None, False, 50, 0)  # least recently used: dropped
    assert asyncio.run(state.page(first, lambda: "read again")) == "read again"
