"""Load: one database transaction per batch, rows and checkpoint together, idempotent."""

from __future__ import annotations

from collections.abc import Sequence
from operator import itemgetter
from typing import Any

from sqlalchemy import delete, insert, select
from sqlalchemy.engine import Connection

from ledger.indexer.aggregates import (
    ADDITIVE,
    LotInfo,
    contributions,
    fold_rewards,
    lot_counts,
    negate,
)
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
from ledger.store.db import AGG_TABLES, COLUMNS, EVENT_TABLES, Store

__all__ = ["load_prepared", "rebuild_aggregates", "rebuild_lots", "rollback"]

#: Event tables that the additive aggregates and the reward fold read.
_FLOW_TABLES = (
    "intake",
    "transformation",
    "transformation_input",
    "transformation_output",
    "transfer",
    "dispatch",
    "token_award",
    "redemption",
)
_REWARD_TABLES = ("reward", "reward_update", "redemption")


def load_prepared(store: Store, batch: Prepared, *, chain_id: int, genesis: str) -> None:
    """Write the rows of a prepared range, its blocks and the new checkpoint in one transaction."""
    with store.engine.begin() as conn:
        # Blocks at or above the range's start are stored only if this range (or part of it) was
        # loaded before and its checkpoint was lost or moved back: the rows are then skipped as
        # duplicates, so the read models are derived from the rows again instead of added to.
        reloaded = store.max_block(conn) >= batch.from_block
        blocks = [
            {"number": h.number, "hash": h.hash, "parent_hash": h.parent_hash, "ts": h.ts}
            for h in batch.headers.values()
        ]
        store.insert_ignore(conn, "block", blocks)
        for table in EVENT_TABLES:
            store.insert_tuples(conn, table, batch.rows.get(table, ()))
        _forget_roles(conn, store, batch.rows.get("role_change", ()))
        info: LotInfo = {}
        if batch.lot_ops and not reloaded:
            created = lots_created(batch.lot_ops)
            lots = store.lots(conn, lots_needed(batch.lot_ops) | created)
            # Lots this range creates exist already: it was loaded before (see above).
            reloaded = bool(created & lots.keys())
            if not reloaded:
                before = {i: dict(lot) for i, lot in lots.items()}
                touched = apply_lot_ops(lots, batch.lot_ops)
                after = [lots[i] for i in sorted(touched)]
                store.upsert(conn, "lot", after, "lot_id")
                counts = lot_counts([before[i] for i in touched if i in before], after)
                store.add_to(conn, "agg_lot", counts)
                info = {i: (lot["material_id"], lot["recycled_bp"]) for i, lot in lots.items()}
        if reloaded:
            conn.execute(delete(store.tables["lot"]))
            rebuild_lots(conn, store)
            rebuild_aggregates(conn, store)
        else:
            _add_rows(conn, store, batch.rows, info)
        checkpoint = batch.headers[batch.to_block]
        store.set_checkpoint(conn, chain_id, genesis, checkpoint.number, checkpoint.hash)


_ROLE_KEY = (COLUMNS["role_change"].index("pilot_id"), COLUMNS["role_change"].index("account"))


def _forget_roles(conn: Connection, store: Store, changes: Sequence[tuple[Any, ...]]) -> None:
    """A role change indexed: the gateways' cached roles of that account in that pilot are
    stale (``api.writes.RoleCache`` reads them from the chain again)."""
    cache = store.tables["role_cache"]
    pilot, account = _ROLE_KEY
    for key in {(row[pilot], row[account]) for row in changes}:
        conn.execute(delete(cache).where(cache.c.pilot_id == key[0], cache.c.account == key[1]))


def _lot_ops(conn: Connection, store: Store) -> list[LotOp]:
    """The lot operations of every stored event row, in log order."""
    t = store.tables
    keyed: list[tuple[int, int, int, LotOp]] = []  # (block, log index, position, operation)
    for r in conn.execute(select(t["intake"])).mappings():
        keyed.append(
            (
                r["block_number"],
                r["log_index"],
                0,
                (
                    NEW,
                    r["lot_id"],
                    r["block_number"],
                    r["ts"],
                    r["pilot_id"],
                    r["material_id"],
                    r["maker"],
                    r["grams"],
                    r["recycled_bp"],
                    "intake",
                ),
            )
        )
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
        keyed.append(
            (
                x["block_number"],
                x["log_index"],
                1_000_000 + r["position"],
                (
                    NEW,
                    r["lot_id"],
                    x["block_number"],
                    x["ts"],
                    x["pilot_id"],
                    r["material_id"],
                    x["maker"],
                    r["grams"],
                    x["recycled_bp"],
                    "transform",
                ),
            )
        )
    for r in conn.execute(select(t["transfer"])).mappings():
        op: LotOp = (
            (HOLD, r["lot_id"], r["recipient"])
            if r["received_lot"] == r["lot_id"]
            else (
                SPLIT,
                r["lot_id"],
                r["received_lot"],
                r["block_number"],
                r["ts"],
                r["recipient"],
                r["grams"],
            )
        )
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


def _add_rows(
    conn: Connection, store: Store, rows: dict[str, list[tuple[Any, ...]]], lots: LotInfo
) -> None:
    """Add the aggregate contributions of new event rows; fold their reward events."""
    parts = contributions(rows, COLUMNS, lots)
    for name, table in parts.items():
        store.add_to(conn, name, table)
    if any(rows.get(t) for t in _REWARD_TABLES):
        ids = {r[COLUMNS[t].index("reward_id")] for t in _REWARD_TABLES for r in rows.get(t, ())}
        changed = fold_rewards(_rewards(conn, store, ids), rows, COLUMNS)
        store.upsert(conn, "agg_reward", list(changed.values()), "reward_id")


def _rewards(conn: Connection, store: Store, ids: set[int]) -> dict[int, dict[str, Any]]:
    table = store.tables["agg_reward"]
    found = conn.execute(select(table).where(table.c.reward_id.in_(sorted(ids)))).mappings()
    return {int(r["reward_id"]): dict(r) for r in found}


def _rows(
    conn: Connection, store: Store, names: tuple[str, ...], above: int | None = None
) -> dict[str, list[tuple[Any, ...]]]:
    """Stored event rows (all, or those of blocks above `above`) as tuples in COLUMNS order."""
    out: dict[str, list[tuple[Any, ...]]] = {}
    for name in names:
        table = store.tables[name]
        query = select(*(table.c[c] for c in COLUMNS[name]))
        if above is not None:
            query = query.where(table.c.block_number > above)
        out[name] = [tuple(r) for r in conn.execute(query)]
    return out


def _lot_info(conn: Connection, store: Store, ids: set[int] | None = None) -> LotInfo:
    table = store.tables["lot"]
    query = select(table.c.lot_id, table.c.material_id, table.c.recycled_bp)
    if ids is not None:
        query = query.where(table.c.lot_id.in_(sorted(ids)))
    return {int(i): (int(m), int(bp)) for i, m, bp in conn.execute(query)}


def _rebuild_lot_counts(conn: Connection, store: Store) -> None:
    conn.execute(delete(store.tables["agg_lot"]))
    lot = store.tables["lot"]
    query = select(lot.c.pilot_id, lot.c.holder, lot.c.grams, lot.c.material_id)
    lots = (dict(r) for r in conn.execute(query).mappings())
    store.add_to(conn, "agg_lot", lot_counts((), lots))


def _rebuild_rewards(conn: Connection, store: Store) -> None:
    conn.execute(delete(store.tables["agg_reward"]))
    changed = fold_rewards({}, _rows(conn, store, _REWARD_TABLES), COLUMNS)
    store.upsert(conn, "agg_reward", list(changed.values()), "reward_id")


def rebuild_aggregates(conn: Connection, store: Store) -> None:
    """Derive every read model again from the stored rows and lots (rows must be in place)."""
    for name in AGG_TABLES:
        conn.execute(delete(store.tables[name]))
    parts = contributions(_rows(conn, store, _FLOW_TABLES), COLUMNS, _lot_info(conn, store))
    for name in ADDITIVE:
        store.add_to(conn, name, parts[name])
    _rebuild_lot_counts(conn, store)
    _rebuild_rewards(conn, store)


def rollback(
    store: Store, ancestor: Header, *, chain_id: int, genesis: str, old_head: int, now: int
) -> int:
    """Undo every row above `ancestor`, rebuild lots, move the checkpoint; one transaction."""
    with store.engine.begin() as conn:
        # The removed rows take their contributions away from the read models with them.
        gone = _rows(conn, store, _FLOW_TABLES, above=ancestor.number)
        lot_ids = {
            r[COLUMNS[t].index("lot_id")]
            for t in _FLOW_TABLES
            if "lot_id" in COLUMNS[t]
            for r in gone[t]
        }
        parts = contributions(gone, COLUMNS, _lot_info(conn, store, lot_ids))
        for name, table in negate(parts).items():
            store.add_to(conn, name, table)
        removed = store.delete_above(conn, ancestor.number)
        rebuild_lots(conn, store)
        _rebuild_lot_counts(conn, store)
        _rebuild_rewards(conn, store)
        store.insert_ignore(
            conn,
            "block",
            [
                {
                    "number": ancestor.number,
                    "hash": ancestor.hash,
                    "parent_hash": ancestor.parent_hash,
                    "ts": ancestor.ts,
                }
            ],
        )
        store.set_checkpoint(conn, chain_id, genesis, ancestor.number, ancestor.hash)
        conn.execute(
            insert(store.tables["reorg"]),
            [
                {
                    "detected_at": now,
                    "old_head": old_head,
                    "common_ancestor": ancestor.number,
                    "rows_removed": removed,
                }
            ],
        )
    return removed
