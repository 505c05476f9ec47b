"""Assembling the write side of a gateway: custody, the queue, the planner's shell, sign-in, and
(when this process relays too) the relayer. The command line calls these; nothing else builds
them."""

from __future__ import annotations

from pathlib import Path

from eth_account.signers.local import LocalAccount

from api.auth import SessionSigner
from api.writes import RateLimiter, RoleCache, WriteService, session_secret
from ledger.clients import Suite
from ledger.custody import Custody, KeystoreCustody, MultiCustody
from ledger.keystore import Keystore
from ledger.store.db import Store
from ledger.write.queue import Queue
from ledger.write.relayer import Relayer
from ledger.write.shell import Writer

__all__ = ["custody_of", "relayer_for", "write_service"]


def custody_of(data_dir: Path, password: str, *extra: Custody) -> MultiCustody:
    """The custodial keys: the keystore in `data_dir`, then any `extra` source (demo keys)."""
    return MultiCustody(KeystoreCustody(Keystore(data_dir / "keys", password)), *extra)


def write_service(
    suite: Suite,
    store: Store,
    custody: Custody,
    *,
    data_dir: Path,
    relayer: Relayer | None = None,
    rate: float = 20.0,
    burst: int = 60,
    wait: float = 30.0,
) -> WriteService:
    """The write service of a gateway; `relayer` when one runs in this process (woken at once)."""
    return WriteService(
        suite=suite,
        writer=Writer(suite),
        queue=Queue(store),
        custody=custody,
        sessions=SessionSigner(session_secret(data_dir / "session.key")),
        limiter=RateLimiter(store, rate=rate, burst=burst),
        role_cache=RoleCache(store, suite.registry.roles_of),
        wait_timeout=wait,
        wake=relayer.wake.set if relayer is not None else (lambda: None),
        settled=relayer.settled if relayer is not None else None,
    )


def relayer_for(suite: Suite, store: Store, custody: Custody, account: LocalAccount) -> Relayer:
    """The relayer of `suite`'s chain, sending the store's queue with `account`."""
    return Relayer(suite, store, custody, account)
