"""Chaos benchmark of the write path: exactly once under RPC faults and relayer crashes.

    python scripts/chaos_write.py [--clients 16] [--requests 40] [--records 10] [--fault-rate 0.15] [--kills 3]

A gateway on loopback queues makers' intakes (each record with a unique amount, so the chain's
lots say which record they are); `loopledger relay` runs as its own process and reaches anvil
through a JSON-RPC proxy that injects faults (delays, 429, 503, resets before and after
forwarding, lost receipts) into `--fault-rate` of its calls, and is killed with SIGKILL and
started again `--kills` times during the run. Clients retry a failed post with the same
Idempotency-Key. When every job has settled, the chain's lots are counted against the accepted
records.

Prints one JSON line per run: first the fault-free run (no faults, no kills), then the chaos run:
{"mode": ..., "accepted": A, "on_chain": C, "duplicates": D, "lost": L, "failed_jobs": F,
 "records_per_s": R, "rpc_calls": N, "faults": K, "kills": k}, and a last line comparing the two
rates (goal: duplicates == lost == 0, and under faults at least half the fault-free rate).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
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

from api.assemble import custody_of, write_service
from api.auth import issue_api_key
from api.main import create_app
from api.state import GatewayState
from ledger.clients import Suite
from ledger.keystore import Keystore
from ledger.runtime import scratch_suite
from ledger.store.db import Store
from ledger.vocabulary import Role
from ledger.write.queue import Queue
from pilots.model import load_pilots
from tests.faultproxy import Faults, fault_proxy

PASSWORD = "chaos-keystore-password"


def _port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _relay(
    suite: Suite, url: str, data: Path, db: str, relayer_key: str
) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOOPLEDGER_")}
    env.update(
        {
            "LOOPLEDGER_CHAIN": url,
            "LOOPLEDGER_CHAIN_ID": str(suite.manifest.chain_id),
            "LOOPLEDGER_DATA_DIR": str(data),
            "LOOPLEDGER_DATABASE_URL": db,
            "LOOPLEDGER_OPERATOR_KEY": suite.chain.accounts[0].key.hex(),
            "LOOPLEDGER_RELAYER_KEY": relayer_key,
            "LOOPLEDGER_KEYSTORE_PASSWORD": PASSWORD,
        }
    )
    command = [str(Path(sys.executable).parent / "loopledger"), "relay"]
    return subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _client(base: str, key: str, first: int, requests: int, records: int, out: list[str]) -> None:
    """Posts `requests` batches of intakes; a failed post is retried with its Idempotency-Key."""
    with httpx.Client(base_url=base, headers={"X-API-Key": key}, timeout=60) as http:
        for r in range(requests):
            amounts = [first + r * records + i for i in range(records)]
            body = {
                "records": [
                    {"material": "15 01 03", "source": "donation", "quantity": g, "unit": "g"}
                    for g in amounts
                ]
            }
            for _ in range(20):
                try:
                    reply = http.post(
                        "/api/pilots/LEU/intakes",
                        json=body,
                        headers={"Idempotency-Key": f"chaos-{first}-{r}"},
                    )
                except httpx.HTTPError:
                    time.sleep(0.2)
                    continue
                if reply.status_code in (201, 202):
                    out.append(reply.json()["job_id"])
                    break
                if reply.status_code not in (409, 429, 503):
                    raise SystemExit(f"a post was refused: {reply.status_code} {reply.text[:300]}")
                time.sleep(0.2)


def run(
    suite: Suite,
    tmp: Path,
    *,
    clients: int,
    requests: int,
    records: int,
    fault_rate: float,
    kills: int,
    mode: str,
) -> dict[str, Any]:
    pilots = load_pilots()
    data = tmp / mode
    keystore = Keystore(data / "keys", PASSWORD)
    makers = [keystore.create(f"maker-{i}") for i in range(clients)]
    admin = suite.chain.accounts[1]
    for maker in makers:
        suite.registry.set_pilot_role(admin, 1, maker.address, Role.MAKER)
    (data / "deployment-rpc.json").write_text(suite.manifest.model_dump_json())
    db = f"sqlite:///{tmp / f'{mode}.sqlite'}"
    store = Store.open(db)
    custody = custody_of(data, PASSWORD)
    writes = write_service(suite, store, custody, data_dir=data, rate=10_000, burst=10_000)
    keys = [issue_api_key(store, m.address, f"chaos maker {i}") for i, m in enumerate(makers)]
    port = _port()
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(GatewayState(store, pilots, writes)),
            host="127.0.0.1",
            port=port,
            log_level="warning",
        )
    )
    threading.Thread(target=server.run, daemon=True).start()
    base = f"http://127.0.0.1:{port}"
    while True:
        try:
            if httpx.get(f"{base}/api/health").status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.1)
    relayer_key = Account.create()
    suite.chain.w3.eth.send_transaction(
        {"from": suite.chain.accounts[0].address, "to": relayer_key.address, "value": 10**20}
    )  # type: ignore[typeddict-item]
    lots_before = suite.materials.lot_count()
    faults = Faults(rate=fault_rate, delay=0.2, seed=2026)
    started = time.monotonic()
    job_ids: list[str] = []
    with fault_proxy(getattr(suite.chain, "url", ""), faults) as proxy:
        relay = _relay(suite, proxy.url, data, db, relayer_key.key.hex())
        posting = [
            threading.Thread(
                target=_client,
                args=(base, keys[i], 10_000_000 * (i + 1), requests, records, job_ids),
            )
            for i in range(clients)
        ]
        for thread in posting:
            thread.start()
        for _ in range(kills):
            time.sleep(3)
            relay.send_signal(signal.SIGKILL)
            relay.wait()
            relay = _relay(suite, proxy.url, data, db, relayer_key.key.hex())
        for thread in posting:
            thread.join()
        queue = Queue(store)
        while not all((job := queue.get(j)) is not None and job.final for j in job_ids):
            time.sleep(0.2)
        seconds = time.monotonic() - started
        relay.send_signal(signal.SIGINT)
        relay.wait(timeout=60)
    server.should_exit = True
    jobs = [queue.get(j) for j in job_ids]
    failed = sum(1 for j in jobs if j is not None and j.state == "failed")
    counts: dict[int, int] = {}
    for lot_id in range(lots_before + 1, suite.materials.lot_count() + 1):
        grams = suite.materials.lot(lot_id).grams
        counts[grams] = counts.get(grams, 0) + 1
    accepted = {
        10_000_000 * (i + 1) + r * records + k
        for i in range(clients)
        for r in range(requests)
        for k in range(records)
    }
    on_chain = sum(counts.values())
    return {
        "mode": mode,
        "accepted": len(accepted),
        "on_chain": on_chain,
        "duplicates": sum(n - 1 for n in counts.values() if n > 1),
        "lost": len(accepted - set(counts)),
        "failed_jobs": failed,
        "records_per_s": round(len(accepted) / seconds, 1),
        "seconds": round(seconds, 1),
        "rpc_calls": faults.calls,
        "faults": sum(faults.injected.values()),
        "fault_kinds": dict(faults.injected),
        "kills": kills,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--requests", type=int, default=40, help="posts per client")
    parser.add_argument("--records", type=int, default=10, help="intakes per post")
    parser.add_argument("--fault-rate", type=float, default=0.15)
    parser.add_argument("--kills", type=int, default=3)
    args = parser.parse_args()
    common = {"clients": args.clients, "requests": args.requests, "records": args.records}
    with tempfile.TemporaryDirectory() as tmp, scratch_suite() as suite:
        calm = run(suite, Path(tmp), fault_rate=0.0, kills=0, mode="fault_free", **common)
        print(json.dumps(calm), flush=True)
        chaos = run(
            suite, Path(tmp), fault_rate=args.fault_rate, kills=args.kills, mode="chaos", **common
        )
        print(json.dumps(chaos), flush=True)
    ratio = chaos["records_per_s"] / calm["records_per_s"] if calm["records_per_s"] else 0.0
    print(
        json.dumps(
            {
                "chaos_over_fault_free": round(ratio, 2),
                "goal_met": chaos["duplicates"] == 0 and chaos["lost"] == 0 and ratio >= 0.5,
            }
        )
    )


if __name__ == "__main__":
    main()
