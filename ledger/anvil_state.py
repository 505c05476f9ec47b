"""The local anvil chain's state on disk: one canonical file, written atomically.

anvil's own ``--state`` handling appends the fresh genesis block it creates at every start to
the blocks it loaded, so the file gains another block 0 per restart and a later load may take
the wrong one as genesis (then the deployment no longer matches the chain). Its periodic dump
also rewrites the file in place, which a kill during the write leaves truncated. So LoopLedger
keeps the file itself: it asks the running node for its state (``anvil_dumpState``), keeps only
the blocks on the path from the best block back to the one genesis (and their transactions),
and replaces the file with ``rename`` after an ``fsync``. A kill at any moment leaves either the
previous complete file or the new complete file.

Block hashes are recomputed from the stored headers (keccak of the RLP list of header fields in
their consensus order, EIP-1559/4895/4844/4788/7685 fields included), so no node is needed to
tell the chain's blocks from stray ones.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import os
from pathlib import Path
from typing import Any

import rlp
from eth_utils import keccak

__all__ = ["block_hash", "canonical_state", "decode_dump", "read_state", "write_atomic"]

#: Header fields that are quantities (RLP-encoded as minimal big-endian integers).
_QUANTITIES = frozenset(
    {
        "difficulty",
        "number",
        "gasLimit",
        "gasUsed",
        "timestamp",
        "baseFeePerGas",
        "blobGasUsed",
        "excessBlobGas",
    }
)


def block_hash(header: dict[str, str]) -> str:
    """The hash of a block header as anvil stores it (fields in consensus order).

    >>> genesis = {"parentHash": "0x" + "00" * 32, "number": "0x0", "extraData": "0x"}
    >>> block_hash(genesis) == "0x" + keccak(rlp.encode([bytes(32), 0, b""])).hex()
    True
    """
    fields: list[int | bytes] = [
        int(value, 16) if name in _QUANTITIES else bytes.fromhex(value[2:])
        for name, value in header.items()
    ]
    return "0x" + keccak(rlp.encode(fields)).hex()


def _quantity(value: int | str) -> int:
    return int(value, 16) if isinstance(value, str) else int(value)


def canonical_state(state: dict[str, Any]) -> dict[str, Any]:
    """The state with only the best chain's blocks and their transactions.

    The best block is the highest-numbered stored block of ``best_block_number`` (a stray genesis
    has number 0, never the best); walking parent hashes back from it to number 0 gives the chain.
    Raises ValueError when that walk breaks (a block missing): the state is not usable.

    >>> g = {"parentHash": "0x" + "00" * 32, "number": "0x0", "timestamp": "0x1"}
    >>> stray = {"parentHash": "0x" + "00" * 32, "number": "0x0", "timestamp": "0x2"}
    >>> one = {"parentHash": block_hash(g), "number": "0x1", "timestamp": "0x3"}
    >>> blocks = [{"header": h} for h in (stray, one, g)]
    >>> kept = canonical_state({"best_block_number": 1, "blocks": blocks, "transactions": []})
    >>> [b["header"]["timestamp"] for b in kept["blocks"]]
    ['0x1', '0x3']
    """
    blocks = state.get("blocks") or []
    by_hash = {block_hash(b["header"]): b for b in blocks}
    best = _quantity(state.get("best_block_number") or 0)
    heads = [h for h, b in by_hash.items() if int(b["header"]["number"], 16) == best]
    if not heads:
        raise ValueError(f"the best block {best} is not among the stored blocks")
    chain: list[dict[str, Any]] = []
    current: str | None = heads[0]
    while current is not None:
        block = by_hash.get(current)
        if block is None:
            raise ValueError(f"block {current} of the chain is missing")
        chain.append(block)
        number = int(block["header"]["number"], 16)
        current = None if number == 0 else block["header"]["parentHash"]
    chain.reverse()
    kept = {block_hash(b["header"]) for b in chain}
    transactions = [t for t in state.get("transactions") or [] if t.get("block_hash") in kept]
    return {**state, "blocks": chain, "transactions": transactions}


def decode_dump(result: str) -> dict[str, Any]:
    """The state of an ``anvil_dumpState`` answer (hex of gzip-compressed JSON)."""
    raw = bytes.fromhex(result.removeprefix("0x"))
    data: dict[str, Any] = json.loads(gzip.decompress(raw))
    return data


def read_state(path: Path) -> dict[str, Any]:
    """The canonical state in a file; ValueError (or OSError) when it cannot be used."""
    data = json.loads(path.read_text())
    if not isinstance(data, dict) or "blocks" not in data:
        raise ValueError("not an anvil state file")
    return canonical_state(data)


def write_atomic(path: Path, text: str) -> None:
    """Replace `path` with `text` so that a kill at any moment leaves the old or the new file."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        # Owner-only from the first byte (as every file of the data directory).
        with os.fdopen(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        tmp.replace(path)
        directory = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
