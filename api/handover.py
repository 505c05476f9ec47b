"""The on-chain hand-over of an accepted match, through the gateway's write path.

This is the only place where the exchange writes lots: a transfer (whole or part) planned and
queued as the lot's holder, with the SHA-256 of the match record as its evidence, so the match
is part of the lot's trail. The job's Idempotency-Key names the match and the record, so a retried
request never queues a second hand-over of one acceptance.
"""

from __future__ import annotations

from api.writes import WriteService
from ledger.write import plan as p
from ledger.write.plan import WriteRejected
from ledger.write.queue import JobView

__all__ = ["HandOverPending", "hand_over"]


class HandOverPending(WriteRejected):
    """The hand-over is queued but not yet confirmed within the gateway's wait."""


def hand_over(
    writes: WriteService,
    *,
    match_id: int,
    pilot: int,
    holder: str,
    lot_id: int,
    to: str,
    grams: int,
    evidence: str,
) -> JobView:
    """The confirmed job of the transfer; WriteRejected when it is refused or fails on chain
    (nothing was recorded), HandOverPending when it is still on its way."""
    record = p.Transfer(lot=lot_id, to=to, grams=grams, evidence=bytes.fromhex(evidence[2:]))
    job, _ = writes.submit(
        account=holder,
        pilot=pilot,
        kind="match_handover",
        content={"match": match_id, "evidence": evidence},
        # One job per acceptance of the match (an acceptance that failed may be tried again).
        idem_key=f"exchange-match-{match_id}-{evidence[2:18]}",
        records=lambda: [record],
        where=lambda _: "match",
    )
    job = writes.settle(job, "confirmed")
    if job.state == "failed":
        why = "; ".join(f"{w}: {r}" for w, r in (job.error or {}).get("reasons", [])) or "refused"
        raise WriteRejected([("match", f"the hand-over failed on chain: {why}")])
    if not job.final:
        raise HandOverPending(
            [
                (
                    "match",
                    f"the hand-over is queued as job {job.job_id}: see GET /api/jobs/{job.job_id}",
                )
            ],
            503,
        )
    return job
