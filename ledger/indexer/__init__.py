"""Event indexer: extract (RPC) -> decode (eth_abi) -> load (SQL), with reorg handling.

The package imports its parts on first use, so the indexer's worker process
(``python -m ledger.indexer.worker``) starts without the SQL and web3 stacks it does not need.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ledger.indexer.run import Indexer, Progress, indexer_for

__all__ = ["Indexer", "Progress", "indexer_for"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from ledger.indexer import run

        return getattr(run, name)
    raise AttributeError(f"module 'ledger.indexer' has no attribute {name!r}")
