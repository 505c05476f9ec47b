"""The relayer under faults: every acknowledged job is on chain exactly once, every failed job
never, whatever the RPC endpoint does (lost receipts, errors after a broadcast, resets, 429/503,
stuck transactions) and however often the relayer process is killed.

The first tests reproduce the faults the issue found (a lost receipt recorded twice; a broadcast
reported failed, retried and recorded again; a stuck transaction blocking the writer), each
against a relayer driven step by step through a fault-injecting proxy."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils import to_checksum_address
from web3 import Web3
from web3.providers.rpc import HTTPProvider

from ledger.build import Artifact
from ledger.chain import AnvilChain, RpcChain
from ledger.clients import Suite
from ledger.deploy import deploy
from ledger.errors import ConfigError
from ledger.keystore import Keystore
from ledger.runtime import dev_admins, relayer_account
from ledger.settings import Settings
from ledger.store.db import Store
from ledger.vocabulary import Fate, Role, Source
from ledger.write import plan as p
from ledger.write.queue import JobView, Queue
from ledger.write.relayer import Relayer
from ledger.write.rpc import Rpc, RpcUnavailable
from ledger.write.shell import Writer
from pilots.model import Pilot
from tests.conftest import anvil_settings
from tests.faultproxy import Faults, fault_proxy

pytestmark = pytest.mark.anvil
LEUVEN = 1
WOOD = "17 02 01"
PASSWORD = "relayer-test-password"


class KeyCustody:
    def __init__(self, accounts: list[LocalAccount]) -> None:
        self.keys = {a.address: a for a in accounts}

    def holds(self, address: str) -> bool:
        return to_checksum_address(address) in self.keys

    def key_for(self, address: str) -> LocalAccount | None:
        return self.keys.get(to_checksum_address(address))


@dataclass
class Rig:
    chain: AnvilChain
    suite: Suite
    artifacts: dict[str, Artifact]
    makers: list[LocalAccount]
    relayer: LocalAccount


@pytest.fixture(scope="module")
def rig(
    tmp_path_factory: pytest.TempPathFactory, artifacts: dict[str, Artifact], pilots: list[Pilot]
) -> Iterator[Rig]:
    tmp = tmp_path_factory.mktemp("relayer")
    chain = AnvilChain.start(anvil_settings(tmp))
    manifest, _ = deploy(
        chain, artifacts, pilots, tmp / "manifest.json", admins=dev_admins(chain, pilots)
    )
    suite = Suite(chain, manifest, artifacts)
    makers = [Account.create() for _ in range(6)]
    for maker in makers:
        suite.registry.set_pilot_role(chain.accounts[LEUVEN], LEUVEN, maker.address, Role.MAKER)
    yield Rig(chain, suite, artifacts, makers, chain.accounts[-1])
    chain.close()


def _proxied(rig: Rig, url: str) -> Suite:
    chain = RpcChain(
        w3=Web3(HTTPProvider(url, request_kwargs={"timeout": 5})),
        accounts=rig.chain.accounts,
        url=url,
    )
    return Suite(chain, rig.suite.manifest, rig.artifacts)


def _queue_intakes(rig: Rig, queue: Queue, grams: list[int]) -> list[str]:
    """One job per amount, spread over the makers; each amount is unique, so the chain's lots
    say which job they came from."""
    writer = Writer(rig.suite)
    ids = []
    for i, amount in enumerate(grams):
        maker = rig.makers[i % len(rig.makers)]
        planned = writer.prepare(maker.address, LEUVEN, [p.Intake(WOOD, Source.DONATION, amount)])
        job, _ = queue.submit(
            account=maker.address,
            kind="intake",
            pilot_id=LEUVEN,
            request_hash=str(amount),
            idem_key=None,
            signer=maker.address,
            calls=planned.calls,
        )
        ids.append(job.job_id)
    return ids


def _lots_by_grams(rig: Rig, since: int) -> dict[int, int]:
    """How many lots of each amount the makers' intakes created after lot `since`."""
    counts: dict[int, int] = {}
    for lot_id in range(since + 1, rig.suite.materials.lot_count() + 1):
        lot = rig.suite.materials.lot(lot_id)
        counts[lot.grams] = counts.get(lot.grams, 0) + 1
    return counts


def _drain(relayer: Relayer, queue: Queue, ids: list[str], *, limit: float = 60) -> list[JobView]:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        jobs = [queue.get(i) for i in ids]
        if all(j is not None and j.final for j in jobs):
            return [j for j in jobs if j is not None]
        try:
            relayer.step()
        except (RpcUnavailable, Exception) as exc:  # the relayer's loop retries these
            if not isinstance(exc, RpcUnavailable | OSError) and "chain" not in str(exc):
                raise
            time.sleep(0.05)
    raise AssertionError(f"jobs not settled within {limit} s: {[queue.get(i) for i in ids]}")


def _store(tmp_path: Path) -> Store:
    return Store.open(f"sqlite:///{tmp_path / 'index.sqlite'}")


def test_a_lost_receipt_records_each_job_once(rig: Rig, tmp_path: Path) -> None:
    store = _store(tmp_path)
    queue = Queue(store)
    before = rig.suite.materials.lot_count()
    ids = _queue_intakes(rig, queue, [11_001, 11_002])  # two makers, one batch
    faults = Faults(
        rate=1.0,
        kinds=("lost_receipt", "503", "reset_before"),
        only=frozenset({"eth_getTransactionReceipt"}),
    )
    with fault_proxy(rig.chain.url, faults) as proxy:
        suite = _proxied(rig, proxy.url)
        relayer = Relayer(suite, store, KeyCustody(rig.makers), rig.relayer)
        assert relayer.step()  # broadcast
        for _ in range(6):  # every receipt lookup fails
            with contextlib.suppress(RpcUnavailable):
                relayer.step()
        assert sum(faults.injected.values()) >= 6
        faults.rate = 0.0
        jobs = _drain(relayer, queue, ids)
    assert [j.state for j in jobs] == ["confirmed", "confirmed"]
    assert relayer.batches == 1 and jobs[0].tx_hash == jobs[1].tx_hash
    assert _lots_by_grams(rig, before) == {11_001: 1, 11_002: 1}


def test_a_broadcast_reported_as_failed_is_not_sent_again(rig: Rig, tmp_path: Path) -> None:
    """The node takes the transaction, the connection is reset before the answer: the relayer
    must find the transaction, not sign the job again."""
    store = _store(tmp_path)
    queue = Queue(store)
    before = rig.suite.materials.lot_count()
    ids = _queue_intakes(rig, queue, [12_001])
    faults = Faults(rate=1.0, kinds=("reset_after",), only=frozenset({"eth_sendRawTransaction"}))
    with fault_proxy(rig.chain.url, faults) as proxy:
        relayer = Relayer(_proxied(rig, proxy.url), store, KeyCustody(rig.makers), rig.relayer)
        jobs = _drain(relayer, queue, ids)
    assert faults.injected["reset_after"] >= 1
    assert jobs[0].state == "confirmed" and relayer.batches == 1
    assert _lots_by_grams(rig, before) == {12_001: 1}


def test_a_stuck_transaction_is_replaced_with_a_higher_fee(rig: Rig, tmp_path: Path) -> None:
    store = _store(tmp_path)
    queue = Queue(store)
    before = rig.suite.materials.lot_count()
    ids = _queue_intakes(rig, queue, [13_001])
    w3 = rig.chain.w3
    relayer = Relayer(rig.suite, store, KeyCustody(rig.makers), rig.relayer, stuck_after=0.3)
    w3.provider.make_request("evm_setAutomine", [False])  # type: ignore[arg-type]
    try:
        assert relayer.step()
        time.sleep(0.4)
        relayer.step()  # not mined in time: replaced
        with store.engine.connect() as conn:
            attempts = conn.execute(store.tables["relay_batch"].select()).fetchall()[-1].attempts
    finally:
        w3.provider.make_request("evm_setAutomine", [True])  # type: ignore[arg-type]
        w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]
    import json

    fees = [a["max_fee"] for a in json.loads(attempts)]
    assert len(fees) == 2 and fees[1] > fees[0] * 1.1
    jobs = _drain(relayer, queue, ids)
    assert jobs[0].state == "confirmed" and jobs[0].tx_hash == json.loads(attempts)[1]["hash"]
    assert _lots_by_grams(rig, before) == {13_001: 1}


def test_a_failing_job_fails_alone_and_the_others_land(rig: Rig, tmp_path: Path) -> None:
    store = _store(tmp_path)
    queue = Queue(store)
    before = rig.suite.materials.lot_count()
    good = _queue_intakes(rig, queue, [14_001])
    # A dispatch of a lot another maker holds: the gateway's planner would refuse it; queued
    # directly it reaches the relayer, whose simulation must find it and fail it alone.
    maker = rig.makers[1]
    wood = rig.suite.manifest.materials[WOOD]
    taken = rig.suite.materials.intake(
        rig.makers[0], LEUVEN, wood, Source.DONATION, 500, relay=True
    )
    foreign = taken.lot_id  # held by makers[0]
    before = rig.suite.materials.lot_count()
    bad = rig.suite.materials.call_data("dispatch", foreign, 1, int(Fate.RECYCLED), p.ZERO)
    job, _ = queue.submit(
        account=maker.address,
        kind="dispatch",
        pilot_id=LEUVEN,
        request_hash="bad",
        idem_key=None,
        signer=maker.address,
        calls=[(bad, 300_000)],
    )
    also_good = _queue_intakes(rig, queue, [14_002, 14_003])
    relayer = Relayer(rig.suite, store, KeyCustody(rig.makers), rig.relayer)
    jobs = _drain(relayer, queue, [*good, job.job_id, *also_good])
    states = [j.state for j in jobs]
    assert states == ["confirmed", "failed", "confirmed", "confirmed"], jobs
    assert jobs[1].error is not None and "LedgerNotHolder" in str(jobs[1].error)
    assert _lots_by_grams(rig, before) == {14_001: 1, 14_002: 1, 14_003: 1}


def test_rpc_errors_carry_no_url_or_key() -> None:
    chain = RpcChain(
        w3=Web3(), accounts=[], url="http://127.0.0.1:9/v3/SECRETPROJECTKEY?apikey=abc"
    )
    with pytest.raises(RpcUnavailable) as caught:
        Rpc(chain, timeout=1).call("eth_blockNumber", [])
    assert "SECRETPROJECTKEY" not in str(caught.value) and "127.0.0.1" not in str(caught.value)


def test_the_relayer_key_is_never_the_operator_and_network_secrets_are_required(
    rig: Rig, tmp_path: Path, pilots: list[Pilot]
) -> None:
    operator = rig.chain.accounts[0]
    network = RpcChain(w3=rig.chain.w3, accounts=[operator], url=rig.chain.url)
    base = {"chain": rig.chain.url, "chain_id": 31337, "data_dir": tmp_path}
    with pytest.raises(ConfigError, match="LOOPLEDGER_RELAYER_KEY"):
        relayer_account(Settings(**base), network, pilots)  # type: ignore[arg-type]
    same = Settings(**base, relayer_key=operator.key.hex())  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="operator"):
        relayer_account(same, network, pilots)
    with pytest.raises(ConfigError, match="KEYSTORE_PASSWORD"):
        Settings(**base).keystore_secret()  # type: ignore[arg-type]
    own = Settings(**base, relayer_key=rig.relayer.key.hex(), keystore_password="x" * 20)  # type: ignore[arg-type]
    assert relayer_account(own, network, pilots).address == rig.relayer.address
    assert own.keystore_secret() == "x" * 20
    local = relayer_account(Settings(chain="anvil", data_dir=tmp_path), rig.chain, pilots)
    assert local.address != operator.address
    assert all(rig.suite.registry.roles_of(pl.id, local.address) == Role(0) for pl in pilots)


# ---- the relayer as a process, killed and restarted, under injected faults ---------------------


def _relay_process(rig: Rig, url: str, data: Path, db: str) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOOPLEDGER_")}
    env.update(
        {
            "LOOPLEDGER_CHAIN": url,
            "LOOPLEDGER_CHAIN_ID": "31337",
            "LOOPLEDGER_DATA_DIR": str(data),
            "LOOPLEDGER_DATABASE_URL": db,
            "LOOPLEDGER_OPERATOR_KEY": rig.chain.accounts[0].key.hex(),
            "LOOPLEDGER_RELAYER_KEY": rig.relayer.key.hex(),
            "LOOPLEDGER_KEYSTORE_PASSWORD": PASSWORD,
        }
    )
    command = [str(Path(sys.executable).parent / "loopledger"), "relay"]
    return subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def test_killed_and_faulted_relayer_records_every_job_exactly_once(
    rig: Rig, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    keystore = Keystore(data / "keys", PASSWORD)
    for i, maker in enumerate(rig.makers):
        keystore.create(f"maker-{i}", maker.key)
    (data / "deployment-rpc.json").write_text(rig.suite.manifest.model_dump_json())
    db = f"sqlite:///{tmp_path / 'index.sqlite'}"
    store = Store.open(db)
    queue = Queue(store)
    before = rig.suite.materials.lot_count()
    amounts = [20_000 + i for i in range(60)]
    ids = _queue_intakes(rig, queue, amounts[:30])
    faults = Faults(rate=0.2, delay=0.2, seed=11, spared=frozenset({"eth_chainId"}))
    with fault_proxy(rig.chain.url, faults) as proxy:
        process = _relay_process(rig, proxy.url, data, db)
        try:
            for kill in range(3):
                time.sleep(4 + kill)
                if kill == 1:  # more work arrives while the relayer is down and back
                    ids += _queue_intakes(rig, queue, amounts[30:])
                process.send_signal(signal.SIGKILL)
                process.wait(timeout=10)
                process = _relay_process(rig, proxy.url, data, db)
            deadline = time.monotonic() + 180
            while time.monotonic() < deadline:
                jobs = [queue.get(i) for i in ids]
                if all(j is not None and j.final for j in jobs):
                    break
                time.sleep(0.5)
        finally:
            process.send_signal(signal.SIGINT)
            try:
                _, err = process.communicate(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                _, err = process.communicate()
    jobs = [queue.get(i) for i in ids]
    assert all(j is not None and j.state == "confirmed" for j in jobs), (
        [j.state for j in jobs if j is not None],
        err.decode()[-2000:],
    )
    assert sum(faults.injected.values()) >= 0.1 * faults.calls > 0
    assert _lots_by_grams(rig, before) == dict.fromkeys(amounts, 1)


def test_a_job_of_several_makers_is_all_or_nothing(rig: Rig, tmp_path: Path) -> None:
    store = _store(tmp_path)
    queue = Queue(store)
    first, second = rig.makers[0], rig.makers[1]
    wood = rig.suite.manifest.materials[WOOD]
    mine = rig.suite.materials.intake(first, LEUVEN, wood, Source.DONATION, 700, relay=True).lot_id
    before = rig.suite.materials.lot_count()

    def intake(grams: int) -> Any:
        return rig.suite.materials.call_data(
            "intake", LEUVEN, wood, int(Source.DONATION), grams, p.ZERO
        )

    # The second maker's part fails (a lot the first holds): the first's intake must not land.
    foreign = rig.suite.materials.call_data("dispatch", mine, 1, int(Fate.RECYCLED), p.ZERO)
    bad, _ = queue.submit(
        account=first.address,
        kind="epcis-capture",
        pilot_id=LEUVEN,
        request_hash="bad",
        idem_key=None,
        signer=first.address,
        calls=[(intake(15_001), 300_000), (foreign, 300_000)],
        signers=[first.address, second.address],
    )
    good, _ = queue.submit(
        account=first.address,
        kind="epcis-capture",
        pilot_id=LEUVEN,
        request_hash="good",
        idem_key=None,
        signer=first.address,
        calls=[(intake(15_002), 300_000), (intake(15_003), 300_000)],
        signers=[first.address, second.address],
    )
    relayer = Relayer(rig.suite, store, KeyCustody(rig.makers), rig.relayer)
    failed, done = _drain(relayer, queue, [bad.job_id, good.job_id])
    assert failed.state == "failed" and "LedgerNotHolder" in str(failed.error)
    assert done.state == "confirmed" and len(done.result["events"]) == 2  # type: ignore[index]
    assert _lots_by_grams(rig, before) == {15_002: 1, 15_003: 1}
    holders = {rig.suite.materials.lot(i).holder for i in (before + 1, before + 2)}
    assert holders == {first.address, second.address}  # each part signed by its own maker


def test_a_closed_rpc_client_opens_again(rig: Rig) -> None:
    """A gateway app that shuts down closes its client; others sharing it must go on working."""
    rpc = Rpc(rig.chain)
    before = int(rpc.call("eth_blockNumber", []), 16)
    rpc.close()
    assert int(rpc.call("eth_blockNumber", []), 16) >= before
