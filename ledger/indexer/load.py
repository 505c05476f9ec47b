"""Load: one database transaction per batch, rows and checkpoint together, idempotent."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import delete, insert, select
from sqlalchemy.engine import Connection

from ledger.events import DecodedEvent
from ledger.indexer.extract import Header
from ledger.indexer.rows import RowBatch, apply_to_lots, lots_created, lots_needed, rows_of
from ledger.store.db import EVENT_TABLES, Store

__all__ = ["load_batch", "rebuild_lots", "rollback"]


def load_batch(
    store: Store,
    events: Sequence[DecodedEvent],
    headers: dict[int, Header],
    *,
    chain_id: int,
    genesis: str,
    checkpoint: Header,
) -> RowBatch:
    """Write the rows of `events`, their blocks and the new checkpoint in one transaction."""
    batch = rows_of(events, lambda n: headers[n].ts)
    with store.engine.begin() as conn:
        blocks = [
            {"number": h.number, "hash": h.hash, "parent_hash": h.parent_hash, "ts": h.ts}
            for h in headers.values()
        ]
        store.insert_ignore(conn, "block", blocks)
        for table in EVENT_TABLES:
            store.insert_ignore(conn, table, batch.tables.get(table, []))
        if batch.lot_events:
            created = lots_created(batch.lot_events)
            lots = store.lots(conn, lots_needed(batch.lot_events) | created)
            if created & lots.keys():
                # This range was loaded before (its checkpoint was lost or moved back): folding
                # its events again would draw lots twice, so derive lots from the event rows.
                conn.execute(delete(store.tables["lot"]))
                rebuild_lots(conn, store)
            else:
                touched = apply_to_lots(lots, batch.lot_events, lambda n: headers[n].ts)
                store.upsert(conn, "lot", [lots[i] for i in sorted(touched)], "lot_id")
        store.set_checkpoint(conn, chain_id, genesis, checkpoint.number, checkpoint.hash)
    return batch


def _lot_events(conn: Connection, store: Store) -> Iterable[DecodedEvent]:
    """Lot events rebuilt from the event tables, in log order."""
    t = store.tables
    rows: list[tuple[int, int, str, dict[str, Any]]] = []
    for r in conn.execute(select(t["intake"])).mappings():
        rows.append((r["block_number"], r["log_index"], "MaterialTakenIn", {
            "lotId": r["lot_id"], "pilot": r["pilot_id"], "maker": r["maker"], "materialId": r["material_id"],
            "grams": r["grams"], "recycledBp": r["recycled_bp"]}))  # fmt: skip
    inputs: dict[int, list[tuple[int, int, int]]] = {}
    for r in conn.execute(select(t["transformation_input"])).mappings():
        inputs.setdefault(r["transform_id"], []).append((r["position"], r["lot_id"], r["grams"]))
    outputs: dict[int, list[tuple[int, int, int]]] = {}
    for r in conn.execute(select(t["transformation_output"])).mappings():
        outputs.setdefault(r["transform_id"], []).append(
            (r["position"], r["material_id"], r["grams"])
        )
    for r in conn.execute(select(t["transformation"])).mappings():
        ins = sorted(inputs.get(r["transform_id"], []))
        outs = sorted(outputs.get(r["transform_id"], []))
        rows.append((r["block_number"], r["log_index"], "MaterialTransformed", {
            "pilot": r["pilot_id"], "maker": r["maker"], "firstOutputLot": r["transform_id"],
            "inputLots": [lot for _, lot, _ in ins], "inputGrams": [g for _, _, g in ins],
            "outputs": [(m, g) for _, m, g in outs], "recycledBp": r["recycled_bp"]}))  # fmt: skip
    for r in conn.execute(select(t["transfer"])).mappings():
        rows.append((r["block_number"], r["log_index"], "LotTransferred", {
            "lotId": r["lot_id"], "to": r["recipient"], "receivedLot": r["received_lot"], "grams": r["grams"]}))  # fmt: skip
    for r in conn.execute(select(t["dispatch"])).mappings():
        rows.append(
            (
                r["block_number"],
                r["log_index"],
                "MaterialDispatched",
                {"lotId": r["lot_id"], "grams": r["grams"]},
            )
        )
    rows.sort(key=lambda row: (row[0], row[1]))
    for number, index, name, args in rows:
        yield DecodedEvent("MaterialLedger", name, "", number, "", "", index, args)


def rebuild_lots(conn: Connection, store: Store) -> int:
    """Recompute the lot table from the event tables; returns the number of lots."""
    ts = {
        int(r.number): int(r.ts)
        for r in conn.execute(select(store.tables["block"].c.number, store.tables["block"].c.ts))
    }
    lots: dict[int, dict[str, Any]] = {}
    apply_to_lots(lots, _lot_events(conn, store), lambda n: ts[n])
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
