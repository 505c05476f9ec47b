"""The on-chain hand-over of an accepted match, through today's write service.

This is the only place where the exchange writes to the chain: a lot transfer (whole or part)
signed as the lot's holder, with the SHA-256 of the match record as its evidence, so the match
is part of the lot's trail. It is one function so that it can move onto the write planner and
job queue as they are.
"""

from __future__ import annotations

from decimal import Decimal

from api.writes import TransferIn, WriteService
from ledger.relay import Job, JobResult

__all__ = ["hand_over"]


def hand_over(
    writes: WriteService,
    *,
    pilot: int,
    holder: str,
    lot_id: int,
    to: str,
    grams: int,
    evidence: str,
) -> JobResult:
    """Transfer `grams` of `lot_id` from `holder` to `to`; 4xx FieldErrors when it cannot be sent."""
    record = TransferIn(lot_id=lot_id, to=to, quantity=Decimal(grams), unit="g", evidence=evidence)
    signer = writes.signer(holder)
    planned = writes.simulate(holder, writes.transfer_calls(holder, pilot, [record]))
    return writes.run(Job(signer=signer, calls=planned))
