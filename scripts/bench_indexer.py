"""Indexer throughput on anvil: backfill into SQLite and PostgreSQL, against web3.py's
per-event decoding (``contract.events.<Event>.get_logs``) of the same logs as the baseline.

    python scripts/bench_indexer.py [--events 100000]

Prints JSON lines: one per store ({"store", "events", "events_per_s", "peak_rss_mb",
"worker_peak_rss_mb"}), each backfill measured in a fresh child process so each peak RSS is that
backfill's own (the loader's, and the worker process's that reads and decodes ahead of it); one
for SQLite with everything in one process (no worker) for comparison; one for the baseline.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ledger.build import build
from ledger.clients import IntakeSpec, Suite
from ledger.deploy import Manifest
from ledger.indexer import indexer_for
from ledger.runtime import scratch_suite
from ledger.settings import Settings
from ledger.store.db import Store
from ledger.store.pgtemp import create_database, temporary_cluster
from ledger.transact import Call
from ledger.vocabulary import Fate, Role, Source

BATCH = 200


def emit(suite: Suite, events: int) -> int:
    """Realistic actions until about `events` ledger events exist: batched intakes (80%),
    partial hand-overs and dispatches (20%), sent in multicall transactions."""
    admin = suite.chain.accounts[1]
    makers = suite.chain.accounts[8:12]  # funded development accounts pay their own gas
    for maker in makers:
        suite.registry.set_pilot_role(admin, 1, maker.address, Role.MAKER)
    wood = suite.manifest.materials["15 01 03"]
    emitted, step = 0, 0
    while emitted < events:
        maker = makers[step % len(makers)]
        first = suite.materials.lot_count() + 1
        specs = [IntakeSpec(1, wood, Source.MUNICIPAL_COLLECTION, 20_000 + i) for i in range(BATCH)]
        suite.materials.intake_batch(maker, specs)
        other = makers[(step + 1) % len(makers)]
        calls = []
        for lot in range(first, first + BATCH // 4):
            if lot % 2:
                calls.append(
                    suite.materials.call_data(
                        "transfer", lot, other.address, 5_000, b"\0" * 32
                    ).data
                )
            else:
                calls.append(
                    suite.materials.call_data(
                        "dispatch", lot, 5_000, int(Fate.RECYCLED), b"\0" * 32
                    ).data
                )
        multicall = suite.materials.contract.encode_abi("multicall", args=[calls])
        suite.tx.transact(maker, Call(suite.materials.address, bytes.fromhex(multicall[2:])))
        emitted += BATCH + len(calls)
        step += 1
    return emitted


def _backfill(
    url: str,
    rpc_url: str,
    manifest_json: str,
    artifacts_dir: str,
    pipeline: bool | None,
    queue: mp.Queue,  # type: ignore[type-arg]
) -> None:
    from ledger.chain import RpcChain

    settings = Settings(chain=rpc_url, chain_id=31337)
    chain = RpcChain.connect(settings)
    artifacts = build(settings.root, Path(artifacts_dir))
    suite = Suite(chain, Manifest.model_validate_json(manifest_json), artifacts)
    store = Store.open(url)
    indexer = indexer_for(suite, store, initial_range=100, max_range=100_000, pipeline=pipeline)
    total = 0
    started = time.perf_counter()

    def count(p: object) -> None:
        nonlocal total
        total += p.events  # type: ignore[attr-defined]

    indexer.run(on_progress=count)
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    worker = indexer.worker_peak_rss_mb  # 0 when no worker process ran
    queue.put(
        {
            "events": total,
            "seconds": seconds,
            "peak_rss_mb": round(peak, 1),
            "worker_peak_rss_mb": round(worker, 1),
        }
    )


def backfill_in_child(
    url: str, rpc_url: str, manifest: Manifest, artifacts_dir: Path, pipeline: bool | None = None
) -> dict[str, float]:
    context = mp.get_context("spawn")
    queue = context.Queue()
    child = context.Process(
        target=_backfill,
        args=(url, rpc_url, manifest.model_dump_json(), str(artifacts_dir), pipeline, queue),
    )
    child.start()
    result: dict[str, float] = queue.get()
    child.join()
    return result


def baseline(suite: Suite, from_block: int, to_block: int) -> dict[str, float]:
    """web3.py decoding the same logs, event type by event type."""
    started = time.perf_counter()
    decoded = 0
    for name, event_names in (
        (
            "MaterialLedger",
            ["MaterialTakenIn", "LotTransferred", "MaterialDispatched", "MaterialTransformed"],
        ),
        ("PilotRegistry", ["PilotAdded", "RoleChanged", "MaterialRegistered"]),
    ):
        contract = suite.chain.w3.eth.contract(
            address=suite.manifest.addresses[name], abi=suite.artifacts[name].abi
        )
        for event_name in event_names:
            event = getattr(contract.events, event_name)
            for start in range(from_block, to_block + 1, 2_000):
                decoded += len(
                    event.get_logs(from_block=start, to_block=min(start + 1_999, to_block))
                )
    seconds = time.perf_counter() - started
    return {"events": decoded, "events_per_s": round(decoded / seconds, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=100_000)
    args = parser.parse_args()
    with scratch_suite() as suite, tempfile.TemporaryDirectory() as tmp:
        chain, manifest = suite.chain, suite.manifest
        artifacts_dir = Settings().build_cache
        started = time.perf_counter()
        emitted = emit(suite, args.events)
        print(
            json.dumps({"emitted": emitted, "seconds": round(time.perf_counter() - started, 1)}),
            flush=True,
        )
        head = int(chain.w3.eth.block_number)
        url = getattr(chain, "url", "")
        rates = {}
        sqlite = backfill_in_child(
            f"sqlite:///{Path(tmp) / 'bench.sqlite'}", url, manifest, artifacts_dir
        )
        single = backfill_in_child(
            f"sqlite:///{Path(tmp) / 'single.sqlite'}", url, manifest, artifacts_dir, False
        )
        with temporary_cluster() as server:
            pg = backfill_in_child(create_database(server), url, manifest, artifacts_dir)
        for store, result in (
            ("sqlite", sqlite),
            ("postgresql", pg),
            ("sqlite_single_process", single),
        ):
            rates[store] = result["events"] / result["seconds"]
            print(
                json.dumps(
                    {
                        "store": store,
                        "events": result["events"],
                        "events_per_s": round(rates[store], 1),
                        "peak_rss_mb": result["peak_rss_mb"],
                        "worker_peak_rss_mb": result["worker_peak_rss_mb"],
                    }
                ),
                flush=True,
            )
        base = baseline(suite, manifest.deploy_block, head)
        print(json.dumps({"baseline": "web3_get_logs", **base}), flush=True)
        print(
            json.dumps(
                {
                    "speedup_vs_baseline": {
                        k: round(v / base["events_per_s"], 1) for k, v in rates.items()
                    }
                }
            )
        )


if __name__ == "__main__":
    main()
