"""Health of a gateway worker: is the index it reads following the chain?

Any worker answers from the store alone: the indexed block (the checkpoint) and the follower's
own record (state, heartbeat, the chain head it last read). A load balancer takes a worker out
of rotation on 503: when the index lags more than the bound behind the confirmed head, or the
follower is stopped or silent. A follower retrying through a short outage is reported (its
state and last error) but keeps the workers in rotation until the lag passes the bound.
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel

from ledger.store.models import Checkpoint, FollowerState

__all__ = ["Health", "HealthPolicy", "health_of"]


@dataclass(frozen=True)
class HealthPolicy:
    max_lag_blocks: int = 10
    confirmations: int = 0
    stale_seconds: float = 30.0


class FollowerPublic(BaseModel):
    state: str
    heartbeat_age_s: float
    last_error: str | None
    error_age_s: float | None


class Health(BaseModel):
    status: str
    reasons: list[str]
    indexed_block: int | None
    chain_head: int | None
    lag_blocks: int | None
    max_lag_blocks: int
    follower: FollowerPublic | None


def health_of(
    checkpoint: Checkpoint | None, follower: FollowerState | None, now: float, policy: HealthPolicy
) -> Health:
    """The health report; status "ok" or "unavailable" (with the reasons)."""
    indexed = checkpoint.block_number if checkpoint else None
    reasons: list[str] = []
    head: int | None = None
    public: FollowerPublic | None = None
    if follower is None:
        reasons.append("no index follower has reported: start `loopledger index --follow`")
    else:
        head = follower.chain_head if follower.chain_head >= 0 else None
        age = max(0.0, now - follower.heartbeat)
        public = FollowerPublic(
            state=follower.state,
            heartbeat_age_s=round(age, 3),
            last_error=follower.last_error,
            error_age_s=None if follower.error_at is None else round(now - follower.error_at, 3),
        )
        if follower.state == "stopped":
            reasons.append(f"the index follower has stopped: {follower.last_error or 'no error'}")
        elif age > policy.stale_seconds:
            reasons.append(f"the index follower has said nothing for {age:.0f} s")
    lag: int | None = None
    if head is not None:
        lag = max(0, head - policy.confirmations - (indexed if indexed is not None else -1))
        if lag > policy.max_lag_blocks:
            reasons.append(f"the index is {lag} blocks behind the confirmed head")
    return Health(
        status="unavailable" if reasons else "ok",
        reasons=reasons,
        indexed_block=indexed,
        chain_head=head,
        lag_blocks=lag,
        max_lag_blocks=policy.max_lag_blocks,
        follower=public,
    )
