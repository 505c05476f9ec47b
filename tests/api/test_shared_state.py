"""State every gateway worker shares through the store: sign-in nonces, signed-out sessions,
rate-limit buckets, the role cache, and the follower's record behind /api/health."""

from __future__ import annotations

import time

import pytest
from eth_utils import to_checksum_address
from fastapi.testclient import TestClient

from api.auth import NonceBook, RevokedSessions
from api.health import HealthPolicy, health_of
from api.main import create_app
from api.state import GatewayState
from api.writes import RateLimiter, RoleCache
from ledger.clients import Suite
from ledger.indexer import indexer_for
from ledger.store.db import Store
from ledger.store.models import Checkpoint, FollowerState
from ledger.vocabulary import Role
from pilots.model import Pilot


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def test_a_nonce_issued_by_one_worker_is_spent_once_by_another(store_url: str) -> None:
    store = Store.open(store_url)
    one, two = NonceBook(Store(store.engine)), NonceBook(Store(store.engine))
    nonce = one.issue()
    assert two.consume(nonce)
    assert not one.consume(nonce) and not two.consume(nonce)
    assert not two.consume("never-issued")


def test_nonces_expire_and_are_bounded(store_url: str) -> None:
    store, clock = Store.open(store_url), Clock()
    book = NonceBook(store, ttl=60, limit=3, clock=clock)
    old = book.issue()
    clock.now += 61
    assert not book.consume(old)  # expired
    for _ in range(3):
        book.issue()  # the expired one is dropped on the way
    with pytest.raises(Exception, match="too many sign-ins"):
        book.issue()
    clock.now += 61
    book.issue()  # the three expired: room again
    with store.engine.connect() as conn:
        rows = conn.execute(store.tables["signin_nonce"].select()).all()
    assert len(rows) == 1


def test_a_signed_out_session_is_refused_by_every_worker(store_url: str) -> None:
    store, clock = Store.open(store_url), Clock()
    one, two = (
        RevokedSessions(store, clock=clock),
        RevokedSessions(Store(store.engine), clock=clock),
    )
    one.revoke("v1.token", expires_at=clock.now + 100)
    one.revoke("v1.token", expires_at=clock.now + 100)  # twice is once
    assert two.revoked("v1.token") and not two.revoked("v1.other")
    clock.now += 101
    one.revoke("v1.later", expires_at=clock.now + 100)  # drops the expired entry
    with store.engine.connect() as conn:
        assert len(conn.execute(store.tables["revoked_session"].select()).all()) == 1


CHECKPOINT = Checkpoint(chain_id=1, genesis_hash="0x", block_number=100, block_hash="0x")


def _follower(**changes: object) -> FollowerState:
    base = {"state": "following", "heartbeat": 1000.0, "chain_head": 105, "indexed_block": 100}
    return FollowerState(**{**base, **changes})


def test_one_accounts_writes_are_counted_by_every_worker(store_url: str) -> None:
    store, clock = Store.open(store_url), Clock()
    one = RateLimiter(store, rate=1.0, burst=2, clock=clock)
    two = RateLimiter(Store(store.engine), rate=1.0, burst=2, clock=clock)
    assert one.take("0xa") == 0 and two.take("0xa") == 0  # the burst, spent on two workers
    assert one.take("0xa") == pytest.approx(1.0) and two.take("0xa") == pytest.approx(1.0)
    assert two.take("0xb") == 0  # another account has its own bucket
    clock.now += 1.0
    assert one.take("0xa") == 0  # one token back after a second


def test_full_buckets_are_dropped(store_url: str) -> None:
    store, clock = Store.open(store_url), Clock()
    limiter = RateLimiter(store, rate=1.0, burst=2, clock=clock, sweep_every=3)
    limiter.take("0xa")
    limiter.take("0xb")
    clock.now += 10  # both full again
    limiter.take("0xc")  # the third call sweeps
    with store.engine.connect() as conn:
        accounts = conn.execute(store.tables["rate_bucket"].select()).all()
    assert [row.account for row in accounts] == ["0xc"]


def test_the_role_cache_is_shared_and_an_indexed_role_change_clears_it(
    memory_suite: Suite, tmp_path: object
) -> None:
    suite = memory_suite
    store = Store.open(f"sqlite:///{tmp_path}/index.sqlite")
    reads: list[tuple[int, str]] = []

    def read(pilot: int, account: str) -> Role:
        reads.append((pilot, account))
        return suite.registry.roles_of(pilot, account)

    one, two = RoleCache(store, read, ttl=60), RoleCache(Store(store.engine), read, ttl=60)
    newcomer = to_checksum_address("0x" + "12" * 20)  # no role anywhere yet
    assert not one.roles(1, newcomer) & Role.MAKER
    assert not two.roles(1, newcomer) & Role.MAKER and len(reads) == 1  # from the store
    suite.registry.set_pilot_role(suite.chain.accounts[1], 1, newcomer, Role.MAKER)
    assert not two.roles(1, newcomer) & Role.MAKER  # not indexed yet: the cached roles
    indexer_for(suite, store).run()
    assert two.roles(1, newcomer) & Role.MAKER and len(reads) == 2  # cleared by the indexer
    assert one.roles(1, newcomer) & Role.MAKER and len(reads) == 2


def test_health_reports_lag_and_follower() -> None:
    policy = HealthPolicy(max_lag_blocks=10, confirmations=2, stale_seconds=30)
    ok = health_of(CHECKPOINT, _follower(), 1001.0, policy)
    assert (ok.status, ok.lag_blocks, ok.chain_head, ok.indexed_block) == ("ok", 3, 105, 100)
    behind = health_of(CHECKPOINT, _follower(chain_head=113), 1001.0, policy)
    assert behind.status == "unavailable" and "11 blocks behind" in behind.reasons[0]
    stopped = health_of(
        CHECKPOINT, _follower(state="stopped", last_error="IndexerError: bad chain"), 1001.0, policy
    )
    assert stopped.status == "unavailable" and "bad chain" in stopped.reasons[0]
    silent = health_of(CHECKPOINT, _follower(), 1031.0, policy)
    assert silent.status == "unavailable" and "said nothing" in silent.reasons[0]
    retrying = health_of(
        CHECKPOINT, _follower(state="retrying", last_error="TransientRpcError: x"), 1001.0, policy
    )
    assert retrying.status == "ok" and retrying.follower is not None
    assert retrying.follower.last_error == "TransientRpcError: x"
    assert health_of(CHECKPOINT, None, 1001.0, policy).status == "unavailable"


def test_health_endpoint_answers_503_from_the_store(tmp_path: object, pilots: list[Pilot]) -> None:
    store = Store.open(f"sqlite:///{tmp_path}/index.sqlite")
    client = TestClient(
        create_app(GatewayState(store, pilots, health=HealthPolicy(max_lag_blocks=5)))
    )
    down = client.get("/api/health")
    assert down.status_code == 503 and down.json()["error"]["code"] == "unavailable"
    with store.engine.begin() as conn:
        store.set_checkpoint(conn, 1, "0x", 100, "0x")
    store.set_follower_state(_follower(heartbeat=time.time(), chain_head=103))
    up = client.get("/api/health")
    assert up.status_code == 200, up.json()
    assert up.json()["lag_blocks"] == 3 and up.json()["follower"]["state"] == "following"
    store.set_follower_state(_follower(heartbeat=time.time(), chain_head=106))
    assert client.get("/api/health").status_code == 503


def test_a_moved_index_is_answered_from_the_last_value_while_one_refresh_runs(
    tmp_path: object, pilots: list[Pilot]
) -> None:
    store = Store.open(f"sqlite:///{tmp_path}/index.sqlite")
    state = GatewayState(store, pilots)
    calls: list[int] = []

    def compute() -> int:
        time.sleep(0.3)
        calls.append(1)
        return len(calls)

    def at(block: int) -> None:
        with store.engine.begin() as conn:
            store.set_checkpoint(conn, 1, "0x", block, "0x")
        state._block(fresh=True)

    at(1)
    assert state.memo(("k",), compute) == 1  # nothing yet: computed in the request
    at(2)
    started = time.monotonic()
    assert state.memo(("k",), compute) == 1  # the last value, at once ...
    assert state.memoized(("k",)) == 1  # ... for every request, with one refresh under way
    assert time.monotonic() - started < 0.2
    deadline = time.monotonic() + 5
    while state.memoized(("k",)) != 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert state.memoized(("k",)) == 2 and len(calls) == 2
