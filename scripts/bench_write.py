"""Write throughput through the gateway on anvil, against plain web3.py as the baseline.

    python scripts/bench_write.py [--records 24000] [--clients 16]

Gateway mode: 16 client threads (in their own process) post makers' records over HTTP to a
gateway on loopback: batches of intakes, then transformations that consume the lots just taken
in. The gateway validates and plans each request and queues it as a durable job in the store
(`?wait=confirmed` holds the answer until it is mined); the relayer signs the jobs with the makers'
custodial keys and sends the requests of many clients in one forwarder transaction, storing each
batch before it broadcasts it. The clock stops when every record is
confirmed on chain; the run then waits for the indexer and checks that every record is in the
store. Baseline: the same number of clients, each sending one transaction per intake with
web3.py (build, sign, send, wait for the receipt).

Prints JSON lines: {"mode": "gateway_queued", "records_per_s": R, ...} and
{"mode": "one_tx_per_record", "records_per_s": B, ...}.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx
import uvicorn
from eth_account import Account
from eth_account.signers.local import LocalAccount
from sqlalchemy import func, select

from api.assemble import custody_of, relayer_for, write_service
from api.auth import issue_api_key
from api.main import create_app
from api.state import GatewayState
from ledger.clients import Suite
from ledger.keystore import Keystore
from ledger.runtime import scratch_suite
from ledger.store.db import Store
from ledger.vocabulary import Role, Source
from pilots.model import load_pilots

INTAKES_PER_REQUEST = 50
TRANSFORMS_PER_REQUEST = 10
PASSWORD = "bench-keystore-password"


def _client(base: str, key: str, rounds: int, out: list[tuple[int, int, float]]) -> None:
    """One maker: per round, a batch of intakes then transformations of some of those lots."""
    headers = {"X-API-Key": key}
    with httpx.Client(base_url=base, headers=headers, timeout=300) as http:
        for _ in range(rounds):
            intake = {
                "records": [
                    {
                        "material": "15 01 03",
                        "source": "municipal_collection",
                        "quantity": 2_000 + i,
                        "unit": "g",
                    }
                    for i in range(INTAKES_PER_REQUEST)
                ]
            }
            reply = http.post("/api/pilots/LEU/intakes?wait=confirmed", json=intake)
            reply.raise_for_status()
            lots = reply.json()["lots"]
            transforms = {
                "records": [
                    {
                        "inputs": [{"lot_id": lot, "quantity": 2_000}],
                        "outputs": [{"material": "P-FURNITURE", "quantity": 1_800}],
                        "loss": 200,
                        "unit": "g",
                    }
                    for lot in lots[:TRANSFORMS_PER_REQUEST]
                ]
            }
            made = http.post("/api/pilots/LEU/transformations?wait=confirmed", json=transforms)
            made.raise_for_status()
            out.append((len(intake["records"]), len(transforms["records"]), time.monotonic()))
            out.append((0, 0, float(made.json()["block_number"])))


def _client_process(base: str, keys: list[str], rounds: int, queue: Any) -> None:
    results: list[list[tuple[int, int, float]]] = [[] for _ in keys]
    threads = [
        threading.Thread(target=_client, args=(base, k, rounds, results[i]))
        for i, k in enumerate(keys)
    ]
    started = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - started
    intakes = sum(r[0] for res in results for r in res)
    transforms = sum(r[1] for res in results for r in res)
    last_block = max(int(r[2]) for res in results for r in res if r[0] == 0)
    queue.put(
        {"seconds": elapsed, "intakes": intakes, "transforms": transforms, "last_block": last_block}
    )


def _index_follower(suite: Suite, data: Path, db: Path) -> subprocess.Popen[bytes]:
    """`loopledger index --follow` as its own process: the one indexer writer of the design,
    beside the gateway process (which then spends its interpreter on requests only)."""
    data.mkdir(parents=True)
    (data / "deployment-rpc.json").write_text(suite.manifest.model_dump_json())
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOOPLEDGER_")}
    env.update(
        {
            "LOOPLEDGER_CHAIN": getattr(suite.chain, "url", ""),
            "LOOPLEDGER_CHAIN_ID": str(suite.manifest.chain_id),
            "LOOPLEDGER_DATA_DIR": str(data),
            "LOOPLEDGER_DATABASE_URL": f"sqlite:///{db}",
        }
    )
    command = [str(Path(sys.executable).parent / "loopledger"), "index", "--follow"]
    return subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def gateway_mode(suite: Suite, clients: int, records: int, tmp: Path) -> dict[str, Any]:
    pilots = load_pilots()
    admin = suite.chain.accounts[1]
    data = tmp / "gateway"
    keystore = Keystore(data / "keys", PASSWORD)
    makers = [keystore.create(f"maker-{i}") for i in range(clients)]
    for maker in makers:
        suite.registry.set_pilot_role(admin, 1, maker.address, Role.MAKER)
    db = tmp / "gateway.sqlite"
    store = Store.open(f"sqlite:///{db}")
    follower = _index_follower(suite, tmp / "indexer", db)
    custody = custody_of(data, PASSWORD)
    for maker in makers:  # decrypt the keys before the clock starts
        custody.key_for(maker.address)
    relayer = relayer_for(suite, store, custody, suite.chain.accounts[-1])
    stop = threading.Event()
    relaying = threading.Thread(target=relayer.run, args=(stop,), daemon=True)
    relaying.start()
    writes = write_service(
        suite, store, custody, data_dir=data, relayer=relayer, rate=10_000, burst=10_000, wait=300
    )
    keys = [issue_api_key(store, m.address, f"bench maker {i}") for i, m in enumerate(makers)]
    app = create_app(GatewayState(store, pilots, writes))
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    serving = threading.Thread(target=server.run, daemon=True)
    serving.start()
    base = f"http://127.0.0.1:{port}"
    while httpx.get(f"{base}/api/health").status_code != 200:
        time.sleep(0.1)
    per_round = INTAKES_PER_REQUEST + TRANSFORMS_PER_REQUEST
    rounds = max(1, records // (per_round * clients))
    batches_before = relayer.batches
    queue: Any = mp.get_context("spawn").Queue()
    process = mp.get_context("spawn").Process(
        target=_client_process, args=(base, keys, rounds, queue)
    )
    process.start()
    result = queue.get()
    process.join()
    confirmed = result["intakes"] + result["transforms"]
    # Every record indexed: wait for the follower, then count the makers' rows in the store.
    waited = time.monotonic()
    while (store.checkpoint() or None) is None or store.checkpoint().block_number < result[
        "last_block"
    ]:  # type: ignore[union-attr]
        time.sleep(0.1)
    index_lag = time.monotonic() - waited
    addresses = [m.address for m in makers]
    t = store.tables
    with store.engine.connect() as conn:
        intakes = conn.execute(
            select(func.count()).select_from(t["intake"]).where(t["intake"].c.maker.in_(addresses))
        ).scalar_one()
        transforms = conn.execute(
            select(func.count())
            .select_from(t["transformation"])
            .where(t["transformation"].c.maker.in_(addresses))
        ).scalar_one()
    if (intakes, transforms) != (result["intakes"], result["transforms"]):
        raise SystemExit(
            f"the store holds {intakes} intakes and {transforms} transformations of the makers, "
            f"{result['intakes']} and {result['transforms']} were confirmed"
        )
    server.should_exit = True
    serving.join(timeout=10)
    follower.send_signal(signal.SIGINT)
    follower.wait(timeout=60)
    stop.set()
    relaying.join(timeout=10)
    writes.close()
    return {
        "mode": "gateway_queued",
        "records": confirmed,
        "clients": clients,
        "records_per_s": round(confirmed / result["seconds"], 1),
        "seconds": round(result["seconds"], 2),
        "transactions": relayer.batches - batches_before,
        "indexed": True,
        "index_lag_s": round(index_lag, 2),
    }


def baseline_mode(suite: Suite, clients: int, records: int) -> dict[str, Any]:
    """One plain web3.py transaction per intake, `clients` senders in parallel, each waiting for its receipt."""
    w3 = suite.chain.w3
    admin, funder = suite.chain.accounts[1], suite.chain.accounts[0]
    senders: list[LocalAccount] = [Account.create() for _ in range(clients)]
    for sender in senders:
        suite.registry.set_pilot_role(admin, 1, sender.address, Role.MAKER)
        w3.eth.wait_for_transaction_receipt(
            w3.eth.send_transaction({"from": funder.address, "to": sender.address, "value": 10**19})
        )
    ledger = w3.eth.contract(
        address=suite.materials.contract.address, abi=suite.materials.contract.abi
    )
    material = suite.manifest.materials["15 01 03"]
    per_sender = max(1, records // clients)

    def send(sender: LocalAccount) -> None:
        nonce = w3.eth.get_transaction_count(sender.address)
        for i in range(per_sender):
            tx = ledger.functions.intake(
                1, material, int(Source.MUNICIPAL_COLLECTION), 2_000 + i, b"\0" * 32
            ).build_transaction(
                {"from": sender.address, "nonce": nonce + i, "chainId": w3.eth.chain_id}
            )
            tx_hash = w3.eth.send_raw_transaction(sender.sign_transaction(tx).raw_transaction)
            w3.eth.wait_for_transaction_receipt(tx_hash)

    threads = [threading.Thread(target=send, args=(s,)) for s in senders]
    started = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    seconds = time.monotonic() - started
    done = per_sender * clients
    return {
        "mode": "one_tx_per_record",
        "records": done,
        "clients": clients,
        "records_per_s": round(done / seconds, 1),
        "seconds": round(seconds, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--records", type=int, default=24_000, help="records through the gateway")
    parser.add_argument(
        "--baseline-records", type=int, default=2_000, help="records of the baseline"
    )
    parser.add_argument("--clients", type=int, default=16)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, scratch_suite() as suite:
        gateway = gateway_mode(suite, args.clients, args.records, Path(tmp))
        print(json.dumps(gateway), flush=True)
        baseline = baseline_mode(suite, args.clients, args.baseline_records)
        print(json.dumps(baseline), flush=True)
        print(
            json.dumps(
                {
                    "ratio": round(gateway["records_per_s"] / baseline["records_per_s"], 1),
                    "goal_records_per_s": 1000,
                    "goal_met": gateway["records_per_s"] >= 1000,
                }
            )
        )


if __name__ == "__main__":
    main()
