"""Event indexer: extract (RPC) -> decode (eth_abi) -> load (SQL), with reorg handling."""

from __future__ import annotations

from ledger.clients import Suite
from ledger.indexer.extract import BlockRanges, RpcSource
from ledger.indexer.run import Indexer, Progress
from ledger.store.db import Store

__all__ = ["Indexer", "Progress", "indexer_for"]


def indexer_for(
    suite: Suite,
    store: Store,
    *,
    confirmations: int = 0,
    initial_range: int = 100,
    max_range: int = 100_000,
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
    )
