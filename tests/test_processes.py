"""The production shape, end to end: anvil mining a block a second, PostgreSQL, the follower
(`loopledger index --follow`), the relayer (`loopledger relay`) and two gateway workers
(`loopledger serve --workers 2`) as separate processes. Sign-in works whichever worker answers;
a SIGKILLed follower shows in /api/health of every worker and, restarted, catches up; writes
acknowledged while a worker is SIGKILLed are each on chain exactly once; a reorg deeper than the
confirmations is undone in the rows and the read models, which equal a rebuild from the rows."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from eth_account.messages import encode_defunct
from sqlalchemy import func, select

from ledger.build import Artifact
from ledger.chain import AnvilChain, dev_accounts
from ledger.clients import Suite
from ledger.deploy import load_manifest
from ledger.store.db import Store
from ledger.vocabulary import Role, Source
from tests.conftest import anvil_settings, free_port
from tests.ledger.test_aggregates import check_rebuild_matches

LOOPLEDGER = [sys.executable, "-m", "loopledger"]


@pytest.fixture
def system(tmp_path: Path, postgres_url: str) -> Iterator[dict[str, Any]]:
    chain = AnvilChain.start(anvil_settings(tmp_path / "anvil", anvil_block_time=1))
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOOPLEDGER_")}
    env.update(
        {
            "LOOPLEDGER_CHAIN": chain.url,
            "LOOPLEDGER_CHAIN_ID": "31337",
            "LOOPLEDGER_OPERATOR_KEY": "0x" + bytes(dev_accounts(1)[0].key).hex(),
            "LOOPLEDGER_DATA_DIR": str(tmp_path / "data"),
            "LOOPLEDGER_DATABASE_URL": postgres_url,
            "LOOPLEDGER_CONFIRMATIONS": "1",
            "LOOPLEDGER_FOLLOWER_STALE_SECONDS": "3",
            "LOOPLEDGER_MAX_LAG_BLOCKS": "5",
            "LOOPLEDGER_API_PORT": str(port),
            "LOOPLEDGER_KEYSTORE_PASSWORD": "a password of this test",
        }
    )
    subprocess.run([*LOOPLEDGER, "deploy"], env=env, check=True, capture_output=True, timeout=600)
    procs: dict[str, subprocess.Popen[bytes]] = {}

    def start(name: str, *args: str) -> None:
        log = (tmp_path / f"{name}.log").open("ab")
        procs[name] = subprocess.Popen(
            [*LOOPLEDGER, *args], env=env, stdout=log, stderr=log, start_new_session=True
        )

    start("index", "index", "--follow")
    start("serve", "serve", "--workers", "2")
    try:
        yield {
            "base": f"http://127.0.0.1:{port}",
            "chain": chain,
            "start": start,
            "procs": procs,
            "db": postgres_url,
            "logs": tmp_path,
            "env": env,
        }
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
                proc.wait(timeout=30)
        chain.close()


def _until(check: Any, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = check()
            if last:
                return last
        except httpx.HTTPError as exc:
            last = exc
        time.sleep(0.25)
    raise AssertionError(f"{what}: {last}")


def _health(base: str) -> httpx.Response:
    # A new connection each time: the kernel hands it to either worker.
    return httpx.get(f"{base}/api/health", timeout=5)


def _sign_in(base: str, signer: Any) -> str:
    with httpx.Client(base_url=base, timeout=10) as first:
        issued = first.get("/api/auth/nonce").json()
    now = datetime.now(UTC)
    message = (
        f"{issued['domain']} wants you to sign in with your Ethereum account:\n{signer.address}\n\n"
        f"Sign in to LoopLedger.\n\nURI: http://{issued['domain']}/maker\nVersion: 1\n"
        f"Chain ID: {issued['chain_id']}\nNonce: {issued['nonce']}\n"
        f"Issued At: {now.isoformat().replace('+00:00', 'Z')}\n"
        f"Expiration Time: {(now + timedelta(minutes=5)).isoformat().replace('+00:00', 'Z')}"
    )
    signature = "0x" + bytes(signer.sign_message(encode_defunct(text=message)).signature).hex()
    with httpx.Client(base_url=base, timeout=10) as second:  # likely another worker
        reply = second.post("/api/auth/siwe", json={"message": message, "signature": signature})
    assert reply.status_code == 200, reply.text
    return str(reply.json()["token"])


def test_processes_share_state_survive_kills_and_undo_a_deep_reorg(
    system: dict[str, Any], artifacts: dict[str, Artifact]
) -> None:
    base, chain = system["base"], system["chain"]
    _until(lambda: _health(base).status_code == 200, 300, "the gateway never became healthy")
    member = dev_accounts(12)[11]
    tokens = [_sign_in(base, member) for _ in range(12)]  # nonces cross workers: none fails
    bearer = {"Authorization": f"Bearer {tokens[0]}"}
    assert httpx.post(f"{base}/api/auth/logout", headers=bearer, timeout=5).status_code == 204
    for _ in range(8):  # signed out on every worker
        assert httpx.get(f"{base}/api/auth/me", headers=bearer, timeout=10).status_code == 401
    other = {"Authorization": f"Bearer {tokens[1]}"}
    assert httpx.get(f"{base}/api/auth/me", headers=other, timeout=10).status_code == 200

    # SIGKILL the follower: every worker reports it down once it has been silent too long.
    follower = system["procs"]["index"]
    os.killpg(follower.pid, signal.SIGKILL)
    follower.wait(timeout=10)
    down = _until(lambda: (r := _health(base)).status_code == 503 and r, 30, "health stayed ok")
    assert "said nothing" in down.json()["error"]["message"]

    # Meanwhile the chain moves on: an intake the index does not have yet.
    manifest = load_manifest(Path(system["logs"]) / "data" / "deployment-rpc.json")
    suite = Suite(chain, manifest, artifacts)
    maker = chain.accounts[9]
    # Deployed with the operator key only: the operator administers every pilot.
    suite.registry.set_pilot_role(chain.accounts[0], 1, maker.address, Role.MAKER)
    wood = suite.registry.material_id("20 01 38")
    made = suite.materials.intake(maker, 1, wood, Source.DONATION, 12_345)

    system["start"]("index", "index", "--follow")
    _until(lambda: _health(base).status_code == 200, 120, "the follower did not catch up")
    store = Store.open(system["db"])
    _until(
        lambda: (c := store.checkpoint()) and c.block_number >= made.tx.block_number, 60, "behind"
    )
    lots = httpx.get(
        f"{base}/api/pilots/LEU/lots", params={"holder": maker.address}, timeout=10
    ).json()
    assert lots["count"] == 1 and lots["data"][0]["lot_id"] == made.lot_id
    check_rebuild_matches(store)
    _writes_outlive_a_killed_worker_and_a_deep_reorg_leaves_no_trace(system, artifacts)


def _workers(parent: int) -> list[int]:
    """Process ids of `parent`'s children (the gateway's worker processes)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == parent:
                found.append(int(entry.name))
    return found


def _rpc(chain: Any, method: str, *params: Any) -> Any:
    reply = httpx.post(
        chain.url, json={"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)}
    )
    return reply.json()["result"]


def _index_lots(store: Store, holder: str) -> int:
    lot = store.tables["lot"]
    with store.engine.connect() as conn:
        query = select(func.count()).select_from(lot).where(lot.c.holder == holder)
        return int(conn.execute(query).scalar_one())


def _writes_outlive_a_killed_worker_and_a_deep_reorg_leaves_no_trace(
    system: dict[str, Any], artifacts: dict[str, Artifact]
) -> None:
    """The second half of the story above, on the same processes (one deployment)."""
    base, chain = system["base"], system["chain"]
    relayer = chain.accounts[8]  # funded, and holds no role
    system["env"]["LOOPLEDGER_RELAYER_KEY"] = "0x" + bytes(relayer.key).hex()
    system["start"]("relay", "relay")
    _until(lambda: _health(base).status_code == 200, 300, "the gateway never became healthy")
    manifest = load_manifest(Path(system["logs"]) / "data" / "deployment-rpc.json")
    suite = Suite(chain, manifest, artifacts)
    maker = chain.accounts[7]  # a maker with no lots yet
    suite.registry.set_pilot_role(chain.accounts[0], 1, maker.address, Role.MAKER)
    wood = suite.registry.material_id("20 01 38")
    bearer = {"Authorization": f"Bearer {_sign_in(base, maker)}"}

    # Ten intakes, signed by the maker and relayed by the gateway; one worker is SIGKILLed as
    # the fourth goes out. A request cut off with its worker is sent again under its key.
    first = int(suite.tx.forwarder.functions.nonces(maker.address).call())
    acknowledged, killed = [], None
    for i in range(10):
        call = suite.materials.call_data(
            "intake", 1, wood, int(Source.DONATION), 1_000 + i, b"\0" * 32
        )
        request = suite.tx.request_for(maker, call, nonce=first + i)
        wire = {
            **request,
            "data": "0x" + request["data"].hex(),
            "signature": "0x" + request["signature"].hex(),
        }
        if i == 3:  # killed while this request is on its way
            workers = _workers(system["procs"]["serve"].pid)
            assert len(workers) >= 2, workers
            killed = workers[0]
            threading.Timer(0.05, os.kill, (killed, signal.SIGKILL)).start()
        headers = {**bearer, "Idempotency-Key": f"intake-{i}"}

        def send(wire: dict[str, Any] = wire, headers: dict[str, str] = headers) -> Any:
            reply = httpx.post(
                f"{base}/api/relay",
                params={"wait": "confirmed"},
                json={"requests": [wire]},
                headers=headers,
                timeout=60,
            )
            return reply if reply.status_code in (201, 202) else None

        acknowledged.append(_until(send, 120, f"intake {i} was never acknowledged").json())
    assert killed is not None

    # Each acknowledged intake is on chain once and in the index once, whichever worker took it.
    store = Store.open(system["db"])
    _until(
        lambda: int(suite.tx.forwarder.functions.nonces(maker.address).call()) == first + 10,
        120,
        "not every intake was relayed",
    )
    on_chain = [
        lot
        for lot in range(1, suite.materials.lot_count() + 1)
        if suite.materials.lot(lot).holder == maker.address
    ]
    assert sorted(suite.materials.lot(lot).grams for lot in on_chain) == [
        1_000 + i for i in range(10)
    ]
    _until(lambda: _index_lots(store, maker.address) == 10, 60, "the index missed intakes")
    for _ in range(6):  # the dashboards answer on either worker, the restarted one too
        reply = httpx.get(f"{base}/api/pilots/LEU/summary", timeout=10)
        assert reply.status_code == 200 and reply.json()["inflow_kg"] >= 10 * 1.0

    # A reorg deeper than the confirmations (1): an intake indexed three blocks deep vanishes.
    fork = _rpc(chain, "evm_snapshot")
    gone = suite.materials.intake(maker, 1, wood, Source.DONATION, 54_321)
    _until(lambda: _index_lots(store, maker.address) == 11, 60, "the intake was not indexed")
    _until(
        lambda: (c := store.checkpoint()) and c.block_number >= gone.tx.block_number + 2,
        60,
        "the index did not pass the intake",
    )
    _rpc(chain, "evm_revert", fork)
    _until(lambda: _index_lots(store, maker.address) == 10, 60, "the reorg was not undone")
    reorgs = store.tables["reorg"]
    with store.engine.connect() as conn:
        undone = conn.execute(select(reorgs)).mappings().all()
    assert undone and undone[-1]["old_head"] - undone[-1]["common_ancestor"] > 1
    _until(lambda: _health(base).status_code == 200, 60, "the follower did not recover")
    check_rebuild_matches(store)
