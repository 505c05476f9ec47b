"""The production shape, end to end: anvil mining a block a second, PostgreSQL, the follower
(`loopledger index --follow`) and two gateway workers (`loopledger serve --workers 2`) as separate
processes. Sign-in works whichever worker answers; a SIGKILLed follower shows in /api/health of
every worker and, restarted, catches up; the read models equal a rebuild from the rows."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from eth_account.messages import encode_defunct

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


def test_processes_share_state_and_survive_a_killed_follower(
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
