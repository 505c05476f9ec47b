"""Evidence: documents stay off chain (GDPR); their SHA-256 goes on chain with the record.

``hash_file`` gives the 0x-hex SHA-256 a maker records; ``check_file`` reads the evidence a
record carries from the chain itself (the transaction's receipt, not the index) and compares.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from ledger.clients import Suite
from ledger.errors import LedgerError

__all__ = ["EvidenceCheck", "check_file", "hash_file"]

CHUNK = 1 << 20


def hash_file(path: Path) -> str:
    """SHA-256 of a file, as the 0x-hex bytes32 the ledger records."""
    if not path.is_file():
        raise LedgerError(f"no such file: {path}")
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(CHUNK):
            digest.update(chunk)
    return "0x" + digest.hexdigest()


@dataclass(frozen=True)
class EvidenceCheck:
    matches: bool
    file_hash: str
    recorded: str
    event: str
    block_number: int
    tx_hash: str
    log_index: int


def check_file(
    suite: Suite, path: Path, tx_hash: str, log_index: int | None = None
) -> EvidenceCheck:
    """Compare a file with the evidence recorded by a transaction's ledger event (the one at
    `log_index`, or the only event with evidence in the transaction)."""
    file_hash = hash_file(path)
    try:
        receipt = suite.chain.w3.eth.get_transaction_receipt(tx_hash)  # type: ignore[arg-type]
    except Exception as exc:
        raise LedgerError(f"transaction {tx_hash} is not on this chain: {exc}") from exc
    events = [e for e in (suite.decoder.decode(log) for log in receipt["logs"]) if e is not None]
    candidates = [
        e
        for e in events
        if "evidence" in e.args and (log_index is None or e.log_index == log_index)
    ]
    if not candidates:
        raise LedgerError(
            f"transaction {tx_hash} records no evidence"
            + (f" at log {log_index}" if log_index is not None else "")
        )
    if len(candidates) > 1:
        logs = ", ".join(str(e.log_index) for e in candidates)
        raise LedgerError(
            f"transaction {tx_hash} records evidence in several events (logs {logs}): give --log"
        )
    event = candidates[0]
    raw = event.args["evidence"]
    recorded = raw if isinstance(raw, str) else "0x" + bytes(raw).hex()
    return EvidenceCheck(
        recorded.lower() == file_hash,
        file_hash,
        recorded,
        event.name,
        event.block_number,
        event.tx_hash,
        event.log_index,
    )
