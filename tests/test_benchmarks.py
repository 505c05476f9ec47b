"""The benchmarks' own fixtures, run small: a benchmark whose store no longer fits the schema
fails here, not on the day its figures are needed."""

from __future__ import annotations

import queue
import sys
from pathlib import Path

from sqlalchemy import func, select

from ledger.store.db import Store
from tests.ledger.test_aggregates import check_rebuild_matches

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))

import bench_api


def test_the_api_benchmark_store_takes_live_blocks_and_keeps_its_read_models(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'bench.sqlite'}"
    store = Store.open(url)
    filled = bench_api.fill(store, 3_000)
    intake = store.tables["intake"]
    with store.engine.connect() as conn:
        before = conn.execute(select(func.count()).select_from(intake)).scalar_one()
    assert filled["flow_records"] >= 3_000 and before > 0

    out: queue.Queue[list[tuple[int, float, float]]] = queue.Queue()
    bench_api.index_blocks(url, 3, 0.0, out)
    blocks = out.get_nowait()

    assert [b for b, _, _ in blocks] == [blocks[0][0], blocks[0][0] + 1, blocks[0][0] + 2]
    with store.engine.connect() as conn:
        after = conn.execute(select(func.count()).select_from(intake)).scalar_one()
    assert after == before + 3 * 20  # 20 intakes per live block
    check_rebuild_matches(store)
