"""Circularity model throughput: synthetic records across the seven pilots at 10k, 100k and
1,000,000 flow records (intakes, transformations, hand-overs, dispatches); times building each
pilot's yearly flow graph and computing every metric.

    python scripts/bench_metrics.py [--sizes 10000 100000 1000000]

Prints one JSON line per size: {"records": N, "seconds": S, "peak_rss_mb": M}, each measured in
a fresh child process (generation is not timed; its memory is part of the peak).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import resource
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ledger.circularity import metrics
from ledger.circularity.graph import build_flow_graph
from ledger.circularity.period import Period
from ledger.circularity.records import FlowRecords

PILOTS = 7
YEAR_START = 1_767_225_600  # 2026-01-01 UTC
MATERIALS = pd.DataFrame(
    {
        "material_id": [1, 2, 3, 4],
        "code": ["20 01 38", "15 01 02", "P-A", "P-B"],
        "kind": [1, 1, 2, 2],
    }
)


def synthetic(records: int, seed: int = 7) -> FlowRecords:
    """Valid histories built from chains of five flow records each: an intake, a transformation
    of the whole lot into a product (with a loss), a partial hand-over of the product to
    another maker, and the dispatch of both parts."""
    rng = np.random.default_rng(seed)
    chains = max(1, records // 5)
    pilot = rng.integers(1, PILOTS + 1, chains)
    maker_ix = rng.integers(0, 12, chains)
    other_ix = (maker_ix + rng.integers(1, 12, chains)) % 12
    maker = np.char.add(
        np.char.add("0x", pilot.astype(str)), np.char.zfill(maker_ix.astype(str), 39)
    )
    other = np.char.add(
        np.char.add("0x", pilot.astype(str)), np.char.zfill(other_ix.astype(str), 39)
    )
    ts = YEAR_START + np.sort(rng.integers(0, 360 * 86_400, chains))
    grams = rng.integers(1_000, 100_000, chains)
    source = rng.integers(1, 6, chains)
    bp = np.where(source == 5, 0, 10_000)
    intake_lot = np.arange(chains) * 3 + 1
    product_lot, split_lot = intake_lot + 1, intake_lot + 2
    loss = grams // rng.integers(5, 20, chains)
    made = grams - loss
    handed = np.maximum(1, made // rng.integers(2, 5, chains))
    rest = made - handed
    material = rng.integers(1, 3, chains)
    product = rng.integers(3, 5, chains)
    base = {"pilot_id": pilot}
    frames = {
        "intakes": pd.DataFrame(
            {
                **base,
                "ts": ts,
                "maker": maker,
                "lot_id": intake_lot,
                "material_id": material,
                "source": source,
                "grams": grams,
                "recycled_bp": bp,
            }
        ),
        "transforms": pd.DataFrame(
            {
                **base,
                "ts": ts + 3_600,
                "maker": maker,
                "transform_id": product_lot,
                "input_grams": grams,
                "output_grams": made,
                "loss": loss,
            }
        ),
        "inputs": pd.DataFrame(
            {
                **base,
                "ts": ts + 3_600,
                "maker": maker,
                "transform_id": product_lot,
                "lot_id": intake_lot,
                "grams": grams,
            }
        ),
        "outputs": pd.DataFrame(
            {
                **base,
                "ts": ts + 3_600,
                "maker": maker,
                "transform_id": product_lot,
                "lot_id": product_lot,
                "material_id": product,
                "grams": made,
                "recycled_bp": bp,
            }
        ),
        "transfers": pd.DataFrame(
            {
                **base,
                "ts": ts + 7_200,
                "sender": maker,
                "recipient": other,
                "lot_id": product_lot,
                "received_lot": split_lot,
                "grams": handed,
            }
        ),
        "dispatches": pd.concat(
            [
                pd.DataFrame(
                    {
                        **base,
                        "ts": ts + 10_800,
                        "maker": maker,
                        "lot_id": product_lot,
                        "grams": rest,
                        "fate": rng.integers(1, 8, chains),
                    }
                ),
                pd.DataFrame(
                    {
                        **base,
                        "ts": ts + 14_400,
                        "maker": other,
                        "lot_id": split_lot,
                        "grams": handed,
                        "fate": rng.integers(1, 8, chains),
                    }
                ),
            ],
            ignore_index=True,
        ),
        "awards": pd.DataFrame(
            {
                **base,
                "ts": ts,
                "member": np.char.add("0x", rng.integers(0, 500, chains).astype(str)),
                "amount": rng.integers(1, 50, chains),
            }
        ),
        "materials": MATERIALS,
    }
    return FlowRecords.from_frames(**frames)


def every_metric(records: FlowRecords) -> int:
    period = Period.year(2026)
    checked = 0
    for pilot in range(1, PILOTS + 1):
        graph = build_flow_graph(records.for_pilot(pilot), period, pilot=pilot)
        metrics.inflow(graph), metrics.outflow(graph), metrics.circularity_rate(graph)
        metrics.circular_inflow_rate(graph), metrics.circular_outflow_rate(graph)
        residuals = metrics.mass_balance_residuals(graph)
        assert set(residuals.values()) <= {0}, f"pilot {pilot}: mass-balance findings {residuals}"
        metrics.diversion(graph), metrics.stock_held(graph), metrics.process_yields(graph)
        metrics.exchange_links(graph), metrics.closed_loops(graph), metrics.engagement(graph)
        for product in (3, 4):
            metrics.material_circularity_indicator(graph, product)
        checked += 1
    return checked


def _run(size: int, queue: mp.Queue) -> None:  # type: ignore[type-arg]
    records = synthetic(size)
    flow = sum(
        len(getattr(records, n)) for n in ("intakes", "transforms", "transfers", "dispatches")
    )
    started = time.perf_counter()
    every_metric(records)
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    queue.put({"records": flow, "seconds": round(seconds, 3), "peak_rss_mb": round(peak, 1)})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    args = parser.parse_args()
    context = mp.get_context("spawn")
    results = []
    for size in args.sizes:
        queue = context.Queue()
        child = context.Process(target=_run, args=(size, queue))
        child.start()
        result = queue.get()
        child.join()
        results.append(result)
        print(json.dumps(result), flush=True)
    if len(results) > 1:
        first, last = results[0], results[-1]
        growth = (last["seconds"] / first["seconds"]) / (last["records"] / first["records"])
        print(json.dumps({"time_growth_vs_linear": round(growth, 3)}))


if __name__ == "__main__":
    main()
