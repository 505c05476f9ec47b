"""Load: one database transaction per batch, rows and checkpoint together, idempotent."""

from __future__ import annotations

from operator import itemgetter
from typing import Any

from sqlalchemy import delete, insert, select
from sqlalchemy.engine import Connection

from ledger.indexer.extract import Header
from ledger.indexer.prepare import Prepared
from ledger.indexer.rows import (
    DRAW,
    HOLD,
    NEW,
    SPLIT,
    LotOp,
    apply_lot_ops,
    lots_created,
    lots_needed,
)
from ledger.store.db import EVENT_TABLES, Store

__all__ = ["load_prepared", "rebuild_lots", "rollback"]


def load_prepared(store: Store, batch: Prepared, *, chain_id: int, genesis: str) -> None:
    """Write the rows of a prepared range, its blocks and the new checkpoint in one transaction."""
    with store.engine.begin() as conn:
        blocks = [
            {"number": h.number, "hash": h.hash, "parent_hash": h.parent_hash, "ts": h.ts}
            for h in batch.headers.values()
        ]
        store.insert_ignore(conn, "block", blocks)
        for table in EVENT_TABLES:
            store.insert_tuples(conn, table, batch.rows.get(table, ()))
        if batch.lot_ops:
            created = lots_created(batch.lot_ops)
            lots = store.lots(conn, lots_needed(batch.lot_ops) | created)
            if created & lots.keys():
                # This range was loaded before (its checkpoint was lost or moved back): folding
                # its operations again would draw lots twice, so derive lots from the event rows.
                conn.execute(delete(store.tables["lot"]))
                rebuild_lots(conn, store)
            else:
                touched = apply_lot_ops(lots, batch.lot_ops)
                store.upsert(conn, "lot", [lots[i] for i in sorted(touched)], "lot_id")
        checkpoint = batch.headers[batch.to_block]
        store.set_checkpoint(conn, chain_id, genesis, checkpoint.number, checkpoint.hash)


def _lot_ops(conn: Connection, store: Store) -> list[LotOp]:
    """The lot operations of every stored event row, in log order."""
    t = store.tables
    keyed: list[tuple[int, int, int, LotOp]] = []  # (block, log index, position, operation)
    for r in conn.execute(select(t["intake"])).mappings():
        keyed.append((r["block_number"], r["log_index"], 0, (NEW, r["lot_id"], r["block_number"], r["ts"],
                      r["pilot_id"], r["material_id"], r["maker"], r["grams"], r["recycled_bp"], "intake")))  # fmt: skip
    transformations = {
        r["transform_id"]: r for r in conn.execute(select(t["transformation"])).mappings()
    }
    for r in conn.execute(select(t["transformation_input"])).mappings():
        x = transformations[r["transform_id"]]
        keyed.append(
            (x["block_number"], x["log_index"], r["position"], (DRAW, r["lot_id"], r["grams"]))
        )
    for r in conn.execute(select(t["transformation_output"])).mappings():
        x = transformations[r["transform_id"]]
        keyed.append((x["block_number"], x["log_index"], 1_000_000 + r["position"], (NEW, r["lot_id"],
                      x["block_number"], x["ts"], x["pilot_id"], r["material_id"], x["maker"], r["grams"],
                      x["recycled_bp"], "transform")))  # fmt: skip
    for r in conn.execute(select(t["transfer"])).mappings():
        op: LotOp = (
            (HOLD, r["lot_id"], r["recipient"])
            if r["received_lot"] == r["lot_id"]
            else (SPLIT, r["lot_id"], r["received_lot"], r["block_number"], r["ts"], r["recipient"], r["grams"])
        )  # fmt: skip
        keyed.append((r["block_number"], r["log_index"], 0, op))
    for r in conn.execute(select(t["dispatch"])).mappings():
        keyed.append((r["block_number"], r["log_index"], 0, (DRAW, r["lot_id"], r["grams"])))
    keyed.sort(key=itemgetter(0, 1, 2))
    return [k[3] for k in keyed]


def rebuild_lots(conn: Connection, store: Store) -> int:
    """Recompute the lot table from the event tables; returns the number of lots."""
    lots: dict[int, dict[str, Any]] = {}
    apply_lot_ops(lots, _lot_ops(conn, store))
    if lots:
        conn.execute(insert(store.tables["lot"]), list(lots.values()))
    return len(lots)


def rollback(
    store: Store, ancestor: Header, *, chain_id: int, genesis: str, old_head: int, now: int
) -> int:
    """Undo every row above `ancestor`, rebuild lots, move the checkpoint; one transaction."""
    with store.engine.begin() as conn:
        removed = store.delete_above(conn, ancestor.number)
        rebuild_lots(conn, store)
        store.insert_ignore(conn, "block", [{"number": ancestor.number, "hash": ancestor.hash,
                                             "parent_hash": ancestor.parent_hash, "ts": ancestor.ts}])  # fmt: skip
        store.set_checkpoint(conn, chain_id, genesis, ancestor.number, ancestor.hash)
        conn.execute(insert(store.tables["reorg"]), [{"detected_at": now, "old_head": old_head,
                                                      "common_ancestor": ancestor.number, "rows_removed": removed}])  # fmt: skip
    return removed
