"""Read latency of the gateway under 32 concurrent clients on loopback, over a store of
1,000,000 flow records; with ``--live``, while the indexer's loader writes a block of 50 new
records every second.

    python scripts/bench_api.py [--records 1000000] [--clients 32] [--seconds 10] [--live]

The store (SQLite, the embedded default) is filled with the synthetic histories of
scripts/bench_metrics.py (intake -> transformation -> partial hand-over -> two dispatches, across
the seven pilots), written as index rows with chain references. The gateway runs in its own
process (uvicorn, one worker) exactly as `loopledger up` serves it; clients run in another.
Each endpoint gets one warm-up request (the first dashboard request of an indexed block computes
the model once; later ones are served from memory until the indexer moves on), then `--seconds`
of load from all clients at once.

The read models (``ledger.indexer.aggregates``) are derived from the filled rows once, as a
rebuild would. With ``--live`` a writer process loads one block a second through the indexer's
own loader (``load_prepared``: rows, lots and read models in one transaction): 20 intakes, 20
dispatches from them and 10 point awards across the pilots. A poller reads Leuven's summary
every 20 ms; a block's freshness is the time from its confirmation (the writer taking it) to the
first summary that counts it.

Prints one JSON line per endpoint: {"endpoint", "requests", "rps", "p50_ms", "p95_ms", "p99_ms"},
a line with the goal (dashboard summary p95 <= 50 ms); with ``--live`` also
{"history_records", "block_index_ms"} for a 10,000-record history and for the filled one, and
{"freshness_p50_s", "freshness_p95_s", "blocks"} with the goals (p95 <= 50 ms for the four
endpoints, freshness p95 <= 2 s, block index times within 2x of each other).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import socket
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import httpx
import pandas as pd
from sqlalchemy import func, insert, select

from ledger.events import DecodedEvent
from ledger.indexer.extract import Header
from ledger.indexer.load import load_prepared, rebuild_aggregates
from ledger.indexer.prepare import Prepared
from ledger.indexer.rows import rows_of
from ledger.store.db import COLUMNS, Store
from ledger.store.rowtuples import tuples_of

ENDPOINTS = {
    "dashboard_summary": "/api/pilots/{pilot}/summary?period=all",
    "pilots_list": "/api/pilots?period=all",
    "lots_list": "/api/pilots/{pilot}/lots?limit=50&offset={offset}",
    "wallet": "/api/accounts/{member}/wallet?limit=20",
}
CODES = ["LEU", "THE", "PIR", "KAU", "VEN", "SAN", "IST"]
ZERO = "0x" + "00" * 32


def _ref(frame: pd.DataFrame, offset: int) -> pd.DataFrame:
    """Chain references for synthetic rows: one block per row, ordered by time."""
    frame = frame.reset_index(drop=True)
    number = frame["ts"].rank(method="first").astype("int64") + offset
    frame["block_number"] = number
    frame["block_hash"] = ["0x" + f"{n:064x}" for n in number]
    frame["tx_hash"] = frame["block_hash"]
    frame["log_index"] = 0
    return frame


def fill(store: Store, records: int) -> dict[str, Any]:
    """Write `records` synthetic flow records as index rows; returns what the clients query."""
    from bench_metrics import synthetic

    data = synthetic(records)
    t = store.tables
    rows: dict[str, pd.DataFrame] = {}
    rows["intake"] = _ref(data.intakes.assign(evidence=ZERO), 0)
    rows["transformation"] = _ref(
        data.transforms.merge(
            data.outputs[["transform_id", "recycled_bp"]], on="transform_id"
        ).assign(evidence=ZERO),
        len(rows["intake"]),
    )
    top = len(rows["intake"]) + len(rows["transformation"])
    blocks = rows["transformation"].set_index("transform_id")["block_number"]
    rows["transformation_input"] = data.inputs[["transform_id", "lot_id", "grams"]].assign(
        position=0, block_number=lambda f: f["transform_id"].map(blocks)
    )
    rows["transformation_output"] = data.outputs[
        ["transform_id", "lot_id", "material_id", "grams"]
    ].assign(position=0, block_number=lambda f: f["transform_id"].map(blocks))
    rows["transfer"] = _ref(data.transfers.assign(evidence=ZERO), top)
    top += len(rows["transfer"])
    rows["dispatch"] = _ref(data.dispatches.assign(evidence=ZERO), top)
    top += len(rows["dispatch"])
    members = [f"0x{p}{'9' * 39}" for p in range(1, 8)]
    awards = pd.DataFrame(
        {
            "ts": 1_767_225_600 + pd.RangeIndex(700) * 3600,
            "pilot_id": [1 + i % 7 for i in range(700)],
            "issuer": "0x" + "11" * 20,
            "member": [members[i % 7] for i in range(700)],
            "amount": 10,
            "reason": 1,
            "budget_left": 0,
        }
    )
    rows["token_award"] = _ref(awards, top)
    top += len(awards)
    rows["material_class"] = data.materials.assign(
        pilot_id=0,  # codes every pilot shares
        code_raw=lambda f: f["code"].map(lambda c: "0x" + c.encode().ljust(16, b"\0").hex()),
        ts=0,
        block_number=0,
        block_hash=["0x" + f"{i:064x}" for i in range(4)],
        tx_hash=ZERO,
        log_index=0,
    )
    # The lots' current state: each intake lot is used up; products and split parts are held
    # until dispatched (zero grams left), as the indexer's fold would leave them.
    lots = (
        pd.concat(
            [
                rows["intake"].assign(
                    holder=lambda f: f["maker"],
                    origin="intake",
                    created_block=lambda f: f["block_number"],
                    parent_lot=None,
                ),
                data.outputs.assign(
                    holder=lambda f: f["maker"],
                    origin="transform",
                    created_block=lambda f: f["transform_id"].map(blocks),
                    parent_lot=None,
                ),
                # The parts handed over: the product's material and recycled content.
                data.transfers.merge(
                    data.outputs[["lot_id", "material_id", "recycled_bp"]], on="lot_id"
                ).assign(
                    parent_lot=lambda f: f["lot_id"],
                    lot_id=lambda f: f["received_lot"],
                    holder=lambda f: f["recipient"],
                    origin="transfer",
                    created_block=rows["transfer"]["block_number"].to_numpy(),
                ),
            ]
        )
        .assign(initial_grams=lambda f: f["grams"], created_ts=lambda f: f["ts"])[
            [
                "lot_id",
                "pilot_id",
                "material_id",
                "holder",
                "grams",
                "initial_grams",
                "recycled_bp",
                "origin",
                "created_block",
                "created_ts",
                "parent_lot",
            ]
        ]
        .assign(grams=0)
    )
    rows["lot"] = lots
    with store.engine.begin() as conn:
        for name, frame in rows.items():
            columns = [c.name for c in t[name].columns]
            for start in range(0, len(frame), 20_000):
                chunk = frame.iloc[start : start + 20_000][columns]
                conn.execute(insert(t[name]), chunk.to_dict(orient="records"))
        conn.execute(
            insert(t["checkpoint"]).values(
                id=1,
                chain_id=31337,
                genesis_hash=ZERO,
                block_number=top,
                block_hash="0x" + f"{top:064x}",
            )
        )
        # The read models, as the indexer would have kept them (a rebuild from the rows).
        rebuild_aggregates(conn, store)
    flow = sum(len(getattr(data, n)) for n in ("intakes", "transforms", "transfers", "dispatches"))
    return {"flow_records": flow, "members": members, "lots": len(lots)}


LEU_GRAMS = 7_000  # grams of each Leuven intake in a live block (3 per block)


def live_block(number: int, parent: Header, first_lot: int, ts: int) -> Prepared:
    """One block of 50 records: 20 intakes (3 in Leuven), 20 dispatches of parts of them and 10
    awards, as the indexer's prepare stage would hand them to the loader."""
    block_hash = "0x" + f"{number:064x}"
    header = Header(number, block_hash, parent.hash, ts)
    events = []

    def event(name: str, **args: Any) -> None:
        events.append(
            DecodedEvent("C", name, "0x" + "00" * 20, number, block_hash, ZERO, len(events), args)
        )

    makers = [f"0x{p}{'a' * 39}" for p in range(1, 8)]
    for i in range(20):
        pilot = 1 if i < 3 else 2 + i % 6
        grams = LEU_GRAMS if pilot == 1 else 5_000
        event(
            "MaterialTakenIn",
            lotId=first_lot + i,
            pilot=pilot,
            maker=makers[pilot - 1],
            materialId=1 + i % 2,
            source=1 + i % 5,
            grams=grams,
            recycledBp=10_000,
            evidence=ZERO,
        )
    for i in range(20):
        pilot = 1 if i < 3 else 2 + i % 6
        event(
            "MaterialDispatched",
            pilot=pilot,
            maker=makers[pilot - 1],
            lotId=first_lot + i,
            grams=1_000,
            fate=1 + i % 7,
            evidence=ZERO,
        )
    for i in range(10):
        event(
            "PointsAwarded",
            pilot=1 + i % 7,
            issuer=makers[0],
            member=f"0x{1 + i % 7}{'9' * 39}",
            amount=5,
            reason=1,
            budgetLeft=0,
        )
    rows = rows_of(events, lambda _: ts)
    return Prepared(
        number,
        number,
        {number: header},
        parent,
        rows={n: tuples_of(COLUMNS[n], t) for n, t in rows.tables.items()},
        lot_ops=rows.lot_ops,
        events=len(events),
    )


def index_blocks(url: str, count: int, interval: float, out: Any) -> None:
    """Load `count` live blocks, one every `interval` seconds; puts [(block, confirmed_at,
    index_ms)] on `out`."""
    store = Store.open(url)
    checkpoint = store.checkpoint()
    assert checkpoint is not None
    lot_table = store.tables["lot"]
    with store.engine.connect() as conn:
        first_lot = int(conn.execute(select(func.max(lot_table.c.lot_id))).scalar() or 0) + 1
    parent = Header(checkpoint.block_number, checkpoint.block_hash, ZERO, 0)
    done = []
    next_at = time.time()
    for _ in range(count):
        time.sleep(max(0.0, next_at - time.time()))
        next_at += interval
        confirmed = time.time()
        batch = live_block(parent.number + 1, parent, first_lot, int(confirmed))
        started = time.perf_counter()
        load_prepared(store, batch, chain_id=31337, genesis=ZERO)
        done.append((batch.to_block, confirmed, 1000 * (time.perf_counter() - started)))
        parent, first_lot = batch.headers[batch.to_block], first_lot + 20
    out.put(done)


def poll_freshness(base: str, stop: threading.Event, samples: list[tuple[float, float]]) -> None:
    """Leuven's all-time inflow as the summary shows it, sampled every 20 ms."""
    with httpx.Client(base_url=base, timeout=10) as client:
        while not stop.is_set():
            inflow = client.get("/api/pilots/LEU/summary?period=all").json()["inflow_kg"]
            samples.append((time.time(), float(inflow)))
            time.sleep(0.02)


def freshness(
    samples: list[tuple[float, float]], blocks: list[tuple[int, float, float]]
) -> list[float]:
    """Seconds from each block's confirmation to the first sample that counts its intakes."""
    base = samples[0][1]
    out = []
    for k, (_, confirmed, _) in enumerate(blocks, start=1):
        wanted = base + k * 3 * LEU_GRAMS / 1000
        seen = next((t for t, inflow in samples if inflow >= wanted - 1e-6), None)
        if seen is not None:
            out.append(max(0.0, seen - confirmed))
    return out


def serve(url: str, port: int) -> None:
    import uvicorn

    from api.main import create_app
    from api.state import GatewayState
    from pilots.model import load_pilots

    app = create_app(GatewayState(Store.open(url), load_pilots()))
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")


class Connection:
    """A minimal HTTP/1.1 keep-alive client over asyncio streams. httpx's async client costs
    more interpreter time per request than the gateway itself (about 300 requests/s on this
    machine against an empty ASGI app), so it would measure the client, not the gateway."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def get(self, path: str) -> tuple[int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        self.writer.write(f"GET {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n\r\n".encode())
        head = await self.reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        headers = {
            k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:] if line)
        }
        if "content-length" not in headers:
            raise SystemExit(f"{path}: response without Content-Length")
        body = await self.reader.readexactly(int(headers["content-length"]))
        return status, body

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


async def _load(
    base: str, template: str, clients: int, seconds: float, context: dict[str, Any]
) -> list[float]:
    host, port = base.removeprefix("http://").split(":")
    latencies: list[float] = []

    def path_of(i: int, n: int, code: str | None = None) -> str:
        return template.format(
            pilot=code or CODES[(i + n) % 7],
            offset=50 * ((i * 7 + n) % 100),
            member=context["members"][(i + n) % 7],
        )

    warm = Connection(host, int(port))
    for code in CODES:  # warm-up: one request per pilot
        await warm.get(path_of(0, 0, code))
    warm.close()
    stop = time.monotonic() + seconds

    async def client(i: int) -> None:
        connection, n = Connection(host, int(port)), 0
        try:
            while time.monotonic() < stop:
                path = path_of(i, n)
                started = time.perf_counter()
                status, body = await connection.get(path)
                latencies.append(time.perf_counter() - started)
                if status != 200:
                    raise SystemExit(f"{path}: HTTP {status} {body[:200]!r}")
                n += 1
        finally:
            connection.close()

    await asyncio.gather(*(client(i) for i in range(clients)))
    return latencies


def run_clients(
    base: str, clients: int, seconds: float, context: dict[str, Any], queue: Any
) -> None:
    results = {}
    for name, template in ENDPOINTS.items():
        latencies = asyncio.run(_load(base, template, clients, seconds, context))
        results[name] = latencies
    queue.put(results)


def block_index_ms(records: int) -> float:
    """Median time to load one live block over a fresh history of `records` flow records."""
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'history.sqlite'}"
        fill(Store.open(url), records)
        queue: Any = mp.get_context("spawn").Queue()
        index_blocks(url, 20, 0.0, queue)
        return float(statistics.median(ms for _, _, ms in queue.get()))


def _ms(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return round(1000 * ordered[min(len(ordered) - 1, int(q * len(ordered)))], 2)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument(
        "--live", action="store_true", help="index a block of 50 records a second meanwhile"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'bench.sqlite'}"
        started = time.monotonic()
        context = fill(Store.open(url), args.records)
        print(
            json.dumps(
                {
                    "store": "sqlite",
                    "flow_records": context["flow_records"],
                    "lots": context["lots"],
                    "fill_seconds": round(time.monotonic() - started, 1),
                }
            ),
            flush=True,
        )
        if args.live:
            unloaded: Any = mp.get_context("spawn").Queue()
            index_blocks(url, 20, 0.0, unloaded)
            big = statistics.median(ms for _, _, ms in unloaded.get())
            line = {"history_records": context["flow_records"], "block_index_ms": round(big, 2)}
            print(json.dumps({**line, "under_read_load": False}), flush=True)
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = int(sock.getsockname()[1])
        spawn = mp.get_context("spawn")
        server = spawn.Process(target=serve, args=(url, port), daemon=True)
        server.start()
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 120
        while True:
            try:
                # (health answers 503 here: no follower runs, the loader is driven directly)
                if httpx.get(f"{base}/api/materials", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit("the gateway did not start")
            time.sleep(0.2)
        queue: Any = spawn.Queue()
        clients = spawn.Process(
            target=run_clients, args=(base, args.clients, args.seconds, context, queue)
        )
        if args.live:
            # Every endpoint's load runs `seconds` (plus its warm-up): keep blocks coming past it.
            span = len(ENDPOINTS) * (args.seconds + 2)
            blocks: Any = spawn.Queue()
            writer = spawn.Process(target=index_blocks, args=(url, int(span), 1.0, blocks))
            # The summary before the first live block: what each block's intakes add to.
            summary = httpx.get(f"{base}/api/pilots/LEU/summary?period=all", timeout=30).json()
            samples: list[tuple[float, float]] = [(time.time(), float(summary["inflow_kg"]))]
            writer.start()
            polling = threading.Event()
            poller = threading.Thread(target=poll_freshness, args=(base, polling, samples))
            poller.start()
        clients.start()
        results = queue.get()
        clients.join()
        if args.live:
            indexed = blocks.get()
            writer.join()
            time.sleep(3)  # the last block's freshness
            polling.set()
            poller.join()
        server.terminate()
        summary_p95 = None
        for name, latencies in results.items():
            line = {
                "endpoint": name,
                "path": ENDPOINTS[name],
                "clients": args.clients,
                "requests": len(latencies),
                "rps": round(len(latencies) / args.seconds, 1),
                "p50_ms": _ms(latencies, 0.50),
                "p95_ms": _ms(latencies, 0.95),
                "p99_ms": _ms(latencies, 0.99),
                "mean_ms": round(1000 * statistics.fmean(latencies), 2),
            }
            if name == "dashboard_summary":
                summary_p95 = line["p95_ms"]
            print(json.dumps(line), flush=True)
        print(
            json.dumps(
                {
                    "goal": "dashboard summary p95 <= 50 ms",
                    "p95_ms": summary_p95,
                    "goal_met": summary_p95 is not None and summary_p95 <= 50,
                }
            )
        )
        if args.live:
            fresh = freshness(samples, indexed)
            live_ms = statistics.median(ms for _, _, ms in indexed)
            print(
                json.dumps(
                    {
                        "history_records": context["flow_records"],
                        "block_index_ms": round(live_ms, 2),
                        "under_read_load": True,
                    }
                ),
                flush=True,
            )
            print(
                json.dumps(
                    {
                        "freshness_p50_s": round(statistics.median(fresh), 3) if fresh else None,
                        "freshness_p95_s": round(_ms(fresh, 0.95) / 1000, 3) if fresh else None,
                        "blocks": len(indexed),
                        "blocks_seen": len(fresh),
                        "goal": "freshness p95 <= 2 s",
                    }
                ),
                flush=True,
            )
    if args.live:
        small = block_index_ms(10_000)
        print(
            json.dumps(
                {
                    "history_records": 10_000,
                    "block_index_ms": round(small, 2),
                    "under_read_load": False,
                }
            ),
            flush=True,
        )


if __name__ == "__main__":
    main()
