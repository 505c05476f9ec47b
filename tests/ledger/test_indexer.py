"""The indexer: rows match the chain, re-runs change nothing, reorgs and crashes lose nothing."""

from __future__ import annotations

import os
import random
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from sqlalchemy import select, update

from ledger.chain import AnvilChain
from ledger.clients import IntakeSpec, Suite
from ledger.indexer import indexer_for
from ledger.store.db import EVENT_TABLES, Store
from ledger.transact import Call
from ledger.vocabulary import Fate, Role, Source

LEUVEN = 1
COMPARED = (*EVENT_TABLES, "lot")


def snapshot(store: Store) -> dict[str, list[tuple[Any, ...]]]:
    """Every compared table as a sorted list of rows."""
    with store.engine.connect() as conn:
        return {
            name: sorted(tuple(row) for row in conn.execute(select(store.tables[name])).all())
            for name in COMPARED
        }


def makers(suite: Suite, count: int = 2) -> list[Any]:
    accounts = [suite.chain.accounts[8 + i] for i in range(count)]
    for account in accounts:
        suite.registry.set_pilot_role(
            suite.chain.accounts[LEUVEN], LEUVEN, account.address, Role.MAKER
        )
    return accounts


def story(suite: Suite) -> None:
    alice, bob = makers(suite)
    wood, joinery = suite.manifest.materials["17 02 01"], suite.manifest.materials["P-JOINERY"]
    a = suite.materials.intake(alice, LEUVEN, wood, Source.MUNICIPAL_COLLECTION, 10_000).lot_id
    b = suite.materials.intake(alice, LEUVEN, wood, Source.VIRGIN_PURCHASE, 2_000).lot_id
    made = suite.materials.transform(
        alice, [(a, 8_000), (b, 2_000)], [(joinery, 7_000), (wood, 2_500)], 500
    )
    part = suite.materials.transfer(alice, made.output_lots[1], bob.address, 1_000).received_lot
    suite.materials.transfer(alice, a, bob.address, 2_000)  # the whole rest of lot a
    suite.materials.dispatch(bob, part, 1_000, Fate.RECYCLED)
    suite.materials.dispatch(alice, made.output_lots[0], 7_000, Fate.IN_USE)


def test_rows_match_the_chain(memory_suite: Suite, store_url: str) -> None:
    story(memory_suite)
    store = Store.open(store_url)
    indexer_for(memory_suite, store).run()
    with store.engine.connect() as conn:
        lots = {r["lot_id"]: r for r in conn.execute(select(store.tables["lot"])).mappings()}
        pilots = conn.execute(select(store.tables["pilot"].c.code)).scalars().all()
    assert len(pilots) == 7
    assert len(lots) == memory_suite.materials.lot_count() == 5
    for lot_id, row in lots.items():
        on_chain = memory_suite.materials.lot(lot_id)
        assert (row["holder"], row["grams"], row["material_id"], row["recycled_bp"]) == (
            on_chain.holder,
            on_chain.grams,
            on_chain.material_id,
            on_chain.recycled_bp,
        )
    assert lots[5]["parent_lot"] == 4 and lots[5]["origin"] == "transfer"


def test_rerunning_a_range_changes_nothing(memory_suite: Suite, store_url: str) -> None:
    story(memory_suite)
    store = Store.open(store_url)
    indexer = indexer_for(memory_suite, store)
    indexer.run()
    before = snapshot(store)
    # Pretend the checkpoint fell back to just before the transformation: the range from there
    # is loaded again, drawing on lots created before it.
    with store.engine.connect() as conn:
        (transform_block,) = conn.execute(
            select(store.tables["transformation"].c.block_number)
        ).one()
    back = transform_block - 1
    back_hash = "0x" + bytes(memory_suite.chain.w3.eth.get_block(back)["hash"]).hex()
    with store.engine.begin() as conn:
        conn.execute(
            update(store.tables["checkpoint"]).values(block_number=back, block_hash=back_hash)
        )
    indexer.run()
    assert snapshot(store) == before


def _rpc(suite: Suite, method: str, *params: Any) -> Any:
    return suite.chain.w3.provider.make_request(method, list(params))["result"]  # type: ignore[arg-type]


@contextmanager
def _restored(suite: Suite) -> Iterator[None]:
    """Run a block on the shared anvil chain, then put the chain back as it was."""
    base = _rpc(suite, "evm_snapshot")
    try:
        yield
    finally:
        _rpc(suite, "evm_revert", base)
        suite.tx._nonces.clear()  # the restored chain has other nonces


def _anvil_store(tmp_path: Path, name: str) -> Store:
    return Store.open(f"sqlite:///{tmp_path / name}")


ACTIONS = st.sampled_from(["intake", "transfer", "dispatch", "transform", "reorg", "index"])


@pytest.mark.anvil
@settings(
    max_examples=15,
    deadline=None,
    derandomize=True,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(plan=st.lists(st.tuples(ACTIONS, st.integers(1, 10_000)), min_size=4, max_size=18))
def test_incremental_indexing_with_reorgs_equals_scratch(
    anvil_suite: Suite, tmp_path: Path, plan: list[tuple[str, int]]
) -> None:
    suite = anvil_suite
    rpc = partial(_rpc, suite)
    with _restored(suite):
        alice, bob = makers(suite)
        wood = suite.manifest.materials["17 02 01"]
        tag = f"{random.getrandbits(32)}"
        incremental = _anvil_store(tmp_path, f"inc-{tag}.sqlite")
        # Incrementally through the worker process, from scratch without it.
        indexer = indexer_for(suite, incremental, pipeline=True)
        snapshots: list[str] = []
        unique = iter(range(1, 10**6))  # distinct evidence keeps re-sent transactions distinct

        def intake() -> None:
            evidence = next(unique).to_bytes(32, "big")
            suite.materials.intake(alice, LEUVEN, wood, Source.DONATION, 100, evidence)

        for action, n in plan:
            count = suite.materials.lot_count()
            mine = [
                i
                for i in range(1, count + 1)
                if (lot := suite.materials.lot(i)).grams > 1 and lot.holder == alice.address
            ]
            if action == "intake" or not mine:
                snapshots.append(rpc("evm_snapshot"))
                intake()
            elif action == "transfer":
                lot_id = mine[n % len(mine)]
                grams = suite.materials.lot(lot_id).grams
                suite.materials.transfer(alice, lot_id, bob.address, 1 + n % (grams - 1))
            elif action == "dispatch":
                suite.materials.dispatch(alice, mine[n % len(mine)], 1, Fate.LANDFILLED)
            elif action == "transform":
                lot_id = mine[n % len(mine)]
                grams = suite.materials.lot(lot_id).grams
                suite.materials.transform(alice, [(lot_id, grams)], [(wood, grams - 1)], 1)
            elif action == "reorg" and snapshots:
                rpc("evm_revert", snapshots[n % len(snapshots)])
                snapshots = []
                suite.tx._nonces.clear()  # the reverted chain has other nonces
                for _ in range(n % 3):  # the new branch may be shorter or longer than the old
                    intake()
            else:
                indexer.run()
        indexer.run()
        scratch = _anvil_store(tmp_path, f"scratch-{tag}.sqlite")
        indexer_for(suite, scratch, pipeline=False).run()
        assert snapshot(incremental) == snapshot(scratch)


@pytest.mark.anvil
def test_batches_read_ahead_from_a_replaced_branch_are_undone(
    anvil_suite: Suite, tmp_path: Path
) -> None:
    """The worker process reads ahead of the loader. When the chain reorganises under batches
    it has already prepared, those are rolled back and the index equals one built from scratch."""
    suite = anvil_suite
    rpc = partial(_rpc, suite)
    with _restored(suite):
        (alice,) = makers(suite, 1)
        wood = suite.manifest.materials["17 02 01"]
        for grams in range(100, 110):
            suite.materials.intake(alice, LEUVEN, wood, Source.DONATION, grams)
        fork = rpc("evm_snapshot")
        for grams in range(200, 220):
            suite.materials.intake(alice, LEUVEN, wood, Source.DONATION, grams)
        store = _anvil_store(tmp_path, "ahead.sqlite")
        indexer = indexer_for(suite, store, initial_range=1, max_range=1, pipeline=True)
        for _ in range(5):  # one block per batch: the worker has the old branch's blocks ready
            assert indexer.step() is not None
        time.sleep(2)
        rpc("evm_revert", fork)
        suite.tx._nonces.clear()
        for grams in range(300, 303):
            suite.materials.intake(alice, LEUVEN, wood, Source.DONATION, grams)
        indexer.run()
        scratch = _anvil_store(tmp_path, "ahead-scratch.sqlite")
        indexer_for(suite, scratch, pipeline=False).run()
        assert snapshot(store) == snapshot(scratch)
        assert sorted(_intake_grams(store)) == [*range(100, 110), *range(300, 303)]
        with store.engine.connect() as conn:
            (reorg,) = conn.execute(select(store.tables["reorg"])).mappings().all()
        # A read-ahead batch of the old branch was loaded, then undone.
        assert reorg["rows_removed"] >= 1


def _intake_grams(store: Store) -> list[int]:
    table = store.tables["intake"]
    with store.engine.connect() as conn:
        return [int(grams) for (grams,) in conn.execute(select(table.c.grams))]


CRASH_RUNS = 20


def _checkpoint(db: Path) -> int:
    import sqlite3

    if not db.exists():
        return -1
    try:
        with sqlite3.connect(db, timeout=5) as conn:
            row = conn.execute("SELECT block_number FROM checkpoint").fetchone()
    except sqlite3.OperationalError:
        return -1
    return int(row[0]) if row else -1


def _workers_of(data: Path) -> list[int]:
    """Indexer worker processes started with `data` as their data directory."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            command = (entry / "cmdline").read_bytes()
            environment = (entry / "environ").read_bytes()
        except OSError:
            continue  # gone, or not ours
        if (
            b"ledger.indexer.worker" in command
            and f"LOOPLEDGER_DATA_DIR={data}".encode() in environment
        ):
            found.append(int(entry.name))
    return found


@pytest.mark.anvil
def test_sigkill_at_random_points_loses_nothing(
    anvil_suite: Suite, anvil_chain: AnvilChain, tmp_path: Path
) -> None:
    suite = anvil_suite
    (alice,) = makers(suite, 1)
    wood = suite.manifest.materials["20 01 10"]
    for round_ in range(150):
        specs = [IntakeSpec(LEUVEN, wood, Source.DONATION, 10 + round_ * 20 + i) for i in range(20)]
        suite.materials.intake_batch(alice, specs)
    lots = suite.materials.lot_count()
    for i in range(1, lots, 7):
        suite.materials.dispatch(alice, i, 5, Fate.REUSED)

    data = tmp_path / "crash"
    data.mkdir()
    manifest_copy = data / "deployment-rpc.json"
    manifest_copy.write_text(suite.manifest.model_dump_json())
    db = data / "index.sqlite"
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOOPLEDGER_")}
    env.update(
        {
            "LOOPLEDGER_CHAIN": anvil_chain.url,
            "LOOPLEDGER_CHAIN_ID": "31337",
            "LOOPLEDGER_DATA_DIR": str(data),
            "LOOPLEDGER_DATABASE_URL": f"sqlite:///{db}",
            "LOOPLEDGER_INDEX_RANGE": "1",
            "LOOPLEDGER_INDEX_RANGE_MAX": "1",
            "LOOPLEDGER_INDEX_PIPELINE": "true",
        }
    )
    command = [str(Path(sys.executable).parent / "loopledger"), "index"]
    rng = random.Random(20261122)
    kills = 0
    while kills < CRASH_RUNS:
        process = subprocess.Popen(
            command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        # Kill at a random moment once this run has committed a random number of
        # batches (1 to 12), so that the twenty kills fit in the chain's ~580 blocks
        # however fast the machine indexes.
        target = _checkpoint(db) + rng.randint(1, 12)
        deadline = time.monotonic() + 60
        while _checkpoint(db) < target and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.002)
        time.sleep(rng.uniform(0.0, 0.02))
        if process.poll() is not None:
            break  # finished before the kill: the backfill is complete
        process.send_signal(signal.SIGKILL)
        process.wait()
        kills += 1
    finished = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    assert finished.returncode == 0, finished.stderr
    assert kills >= CRASH_RUNS, f"only {kills} kills happened before the backfill finished"
    # The killed indexers' worker processes notice their closed pipes and exit by themselves.
    deadline = time.monotonic() + 30
    while _workers_of(data) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _workers_of(data) == []

    resumed = Store.open(f"sqlite:///{db}")
    clean = _anvil_store(tmp_path, "clean.sqlite")
    indexer_for(suite, clean).run()
    assert snapshot(resumed) == snapshot(clean)
    with clean.engine.connect() as conn:
        assert len(conn.execute(select(clean.tables["intake"])).all()) == 3_000


@pytest.mark.anvil
def test_reorg_rolls_back_on_both_stores(anvil_suite: Suite, store_url: str) -> None:
    suite = anvil_suite
    alice, bob = makers(suite)
    wood = suite.manifest.materials["17 02 01"]
    suite.materials.intake(alice, LEUVEN, wood, Source.DONATION, 1_000)
    fork = _rpc(suite, "evm_snapshot")
    suite.materials.transfer(alice, 1, bob.address, 400)
    suite.materials.intake(alice, LEUVEN, wood, Source.DONATION, 2_000)
    store = Store.open(store_url)
    indexer = indexer_for(suite, store)
    indexer.run()
    assert len(snapshot(store)["lot"]) == 3
    _rpc(suite, "evm_revert", fork)
    suite.tx._nonces.clear()
    suite.materials.dispatch(alice, 1, 300, Fate.REUSED)
    indexer.run()
    rows = snapshot(store)
    assert len(rows["lot"]) == 1 and rows["transfer"] == [] and len(rows["dispatch"]) == 1
    with store.engine.connect() as conn:
        reorgs = conn.execute(select(store.tables["reorg"])).mappings().all()
        (lot,) = conn.execute(select(store.tables["lot"])).mappings().all()
    assert len(reorgs) == 1 and reorgs[0]["rows_removed"] >= 3
    assert lot["grams"] == 700 and lot["holder"] == alice.address


def test_block_ranges_adapt_to_density_and_refusals() -> None:
    from ledger.indexer.extract import BlockRanges, IndexerError

    ranges = BlockRanges(initial=100, maximum=10_000, target_logs=1_000)
    ranges.observe(0)
    assert ranges.size == 200  # quiet: grow, at most twofold
    ranges.observe(20_000)
    assert ranges.size == 10  # dense: aim at the target number of logs
    ranges.shrink()
    assert ranges.size == 5
    for _ in range(10):
        ranges.observe(0)
    assert ranges.size == 5_120 and ranges.size <= ranges.maximum
    tiny = BlockRanges(initial=1, minimum=1)
    with pytest.raises(IndexerError, match="one-block range"):
        tiny.shrink()


@pytest.mark.anvil
def test_bulk_batches_load_exactly_on_both_stores(anvil_suite: Suite, store_url: str) -> None:
    """Batches large enough for the bulk paths (PostgreSQL COPY) give exactly the chain's rows,
    and loading the same range again adds nothing."""
    from ledger.audit.verify import verify
    from ledger.store.db import COPY_ROWS

    suite = anvil_suite
    (alice,) = makers(suite, 1)
    wood = suite.manifest.materials["20 01 10"]
    for round_ in range(3):
        specs = [
            IntakeSpec(LEUVEN, wood, Source.DONATION, 100 + round_ * 1000 + i)
            for i in range(COPY_ROWS)
        ]
        suite.materials.intake_batch(alice, specs)
    store = Store.open(store_url)
    indexer_for(suite, store, initial_range=10_000, max_range=10_000).run()
    report = verify(suite, store, pilot_ids=[LEUVEN])
    assert report.ok, [m.describe() for m in report.mismatches[:5]]
    assert report.lots_checked == 3 * COPY_ROWS
    # Then one batch that draws from every stored lot: the bulk update of existing lots.
    calls = [
        suite.materials.call_data("dispatch", lot, 7, int(Fate.RECYCLED), b"\0" * 32).data
        for lot in range(1, 3 * COPY_ROWS + 1)
    ]
    multicall = suite.materials.contract.encode_abi("multicall", args=[calls])
    suite.tx.transact(alice, Call(suite.materials.address, bytes.fromhex(multicall[2:])))
    indexer_for(suite, store, initial_range=10_000, max_range=10_000).run()
    report = verify(suite, store, pilot_ids=[LEUVEN])
    assert report.ok, [m.describe() for m in report.mismatches[:5]]
    with store.engine.connect() as conn:
        held = {int(r.lot_id): int(r.grams) for r in conn.execute(select(store.tables["lot"]))}
    assert (
        held == {lot: suite.materials.lot(lot).grams for lot in held} and len(held) == 3 * COPY_ROWS
    )
    before = snapshot(store)
    back = suite.manifest.deploy_block
    back_hash = "0x" + bytes(suite.chain.w3.eth.get_block(back)["hash"]).hex()
    with store.engine.begin() as conn:  # move the checkpoint back: the range loads again
        conn.execute(
            update(store.tables["checkpoint"]).values(block_number=back, block_hash=back_hash)
        )
    indexer_for(suite, store, initial_range=10_000, max_range=10_000).run()
    assert snapshot(store) == before


def test_worker_reports_what_stops_it() -> None:
    """A fault the worker process cannot get past reaches the parent as a clear IndexerError,
    and so does the worker process dying."""
    from ledger.indexer.extract import BlockRanges, IndexerError
    from ledger.indexer.worker import PrepareWorker

    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    ranges = BlockRanges(initial=4, minimum=1, maximum=4)
    worker = PrepareWorker(url, {}, [], {}, timeout=1, retries=0, ranges=ranges)
    try:
        assert worker.poll_ready(wait=True)
        worker.start(1, 10, ranges.size)
        kind, message = worker.receive()
        assert kind == "error"
        assert "one-block range" in message and "ConnectError" in message and url in message
        assert worker.run is None
        os.kill(worker._process.pid, signal.SIGKILL)
        worker._process.wait()
        with pytest.raises(IndexerError, match="prepare process stopped"):
            worker.start(1, 10, 1)
            worker.receive()
    finally:
        worker.close()
