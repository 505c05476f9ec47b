"""Verification of the index store against the chain, reading the chain alone.

The chain's logs over a block range are decoded again and turned into the rows they must give
(the same pure ``rows_of`` the indexer uses, but nothing is read from SQL to build them). Those
rows are compared with the store's, table by table, keyed by each row's log reference
(transaction hash and log index). Every difference is reported: a row the store lacks, a row the
store has that the chain does not, and a row whose values differ, field by field. When the range
covers the whole deployment, the current state of every lot is rebuilt from the chain's events
and compared with the store's lot table as well.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

from ledger.circularity.graph import build_flow_graph
from ledger.circularity.period import Period
from ledger.circularity.records import FlowRecords, load_records, records_from_rows
from ledger.circularity.report import headline
from ledger.clients import Suite
from ledger.indexer.extract import RpcSource, as_int
from ledger.indexer.rows import LotOp, apply_lot_ops, rows_of
from ledger.store.db import EVENT_TABLES, Store

__all__ = ["Mismatch", "VerifyReport", "chain_rows", "compare_metrics", "pilot_headlines", "verify"]

#: Tables keyed by a row's own log; the transformation's children are keyed by (id, position).
CHILD_TABLES = {"transformation_input", "transformation_output"}
STEP = 5_000


@dataclass(frozen=True)
class Mismatch:
    kind: str  # "missing" (chain has it, store not), "extra" (store only), "changed"
    table: str
    key: str
    block_number: int | None
    tx_hash: str | None
    log_index: int | None
    fields: dict[str, dict[str, Any]] = field(default_factory=dict)

    def describe(self) -> str:
        if self.block_number is None and self.kind == "changed":
            changes = "; ".join(
                f"{f}: " + ", ".join(f"{k} {v!r}" for k, v in vals.items())
                for f, vals in self.fields.items()
            )
            return f"{self.table} of {self.key}: {changes}"
        where = f"block {self.block_number}"
        if self.tx_hash is not None:
            where += f", tx {self.tx_hash}, log {self.log_index}"
        if self.kind == "missing":
            return f"{self.table} {self.key}: on chain ({where}) but not in the store"
        if self.kind == "extra":
            return f"{self.table} {self.key}: in the store ({where}) but not on chain"
        changes = "; ".join(
            f"{f}: store {v['store']!r}, chain {v['chain']!r}" for f, v in self.fields.items()
        )
        return f"{self.table} {self.key} ({where}): {changes}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "table": self.table,
            "key": self.key,
            "block_number": self.block_number,
            "tx_hash": self.tx_hash,
            "log_index": self.log_index,
            "fields": self.fields,
            "message": self.describe(),
        }


@dataclass
class VerifyReport:
    from_block: int
    to_block: int
    events: int = 0
    rows_checked: int = 0
    tables: list[str] = field(default_factory=list)
    lots_checked: int | None = None
    metrics_checked: int | None = None
    mismatches: list[Mismatch] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.mismatches

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "from_block": self.from_block,
            "to_block": self.to_block,
            "events": self.events,
            "rows_checked": self.rows_checked,
            "lots_checked": self.lots_checked,
            "metrics_checked": self.metrics_checked,
            "tables": self.tables,
            "mismatches": [m.as_dict() for m in self.mismatches],
        }


def _source(suite: Suite) -> RpcSource:
    url = getattr(suite.chain, "url", "")
    return RpcSource(url if url else suite.chain.w3)


def chain_rows(
    suite: Suite,
    from_block: int,
    to_block: int,
    *,
    progress: Callable[[int], None] = lambda _: None,
) -> tuple[dict[str, list[dict[str, Any]]], list[LotOp], int]:
    """The rows the chain's logs give over [from_block, to_block], its lot operations, and the event count."""
    source = _source(suite)
    addresses = list(suite.manifest.addresses.values())
    tables: dict[str, list[dict[str, Any]]] = {}
    lot_ops: list[LotOp] = []
    events = 0
    try:
        start = from_block
        while start <= to_block:
            end = min(start + STEP - 1, to_block)
            raw = source.logs(addresses, start, end)
            numbers = {as_int(log["blockNumber"]) for log in raw}
            headers = source.headers(numbers) if numbers else {}
            decoded = [e for e in (suite.decoder.decode(log) for log in raw) if e is not None]
            batch = rows_of(decoded, lambda n, h=headers: h[n].ts)  # type: ignore[misc]
            for name, rows in batch.tables.items():
                tables.setdefault(name, []).extend(rows)
            lot_ops.extend(batch.lot_ops)
            events += batch.events
            progress(end)
            start = end + 1
    finally:
        source.close()
    return tables, lot_ops, events


def _store_rows(store: Store, name: str, from_block: int, to_block: int) -> list[dict[str, Any]]:
    table = store.tables[name]
    query = select(table).where(table.c.block_number.between(from_block, to_block))
    with store.engine.connect() as conn:
        return [dict(row) for row in conn.execute(query).mappings()]


def _key(name: str, row: dict[str, Any]) -> tuple[Any, ...]:
    if name in CHILD_TABLES:
        return (row["transform_id"], row["position"])
    return (row["tx_hash"], row["log_index"])


def _show(name: str, key: tuple[Any, ...]) -> str:
    if name in CHILD_TABLES:
        return f"transformation {key[0]} #{key[1]}"
    return f"log {key[1]} of {key[0]}"


def _pilot_filter(
    pilot: int | None, tables: dict[str, list[dict[str, Any]]]
) -> Callable[[str, dict[str, Any]], bool]:
    if pilot is None:
        return lambda _name, _row: True
    transforms = {
        r["transform_id"] for r in tables.get("transformation", []) if r["pilot_id"] == pilot
    }

    def keep(name: str, row: dict[str, Any]) -> bool:
        if name in CHILD_TABLES:
            return row["transform_id"] in transforms
        return bool(row.get("pilot_id", pilot) == pilot)

    return keep


def _compare(
    name: str,
    chain: Iterable[dict[str, Any]],
    stored: Iterable[dict[str, Any]],
    report: VerifyReport,
) -> None:
    on_chain = {_key(name, r): r for r in chain}
    in_store = {_key(name, r): r for r in stored}
    for key in sorted(on_chain.keys() | in_store.keys(), key=repr):
        a, b = on_chain.get(key), in_store.get(key)
        row = a or b
        assert row is not None
        ref = (row.get("block_number"), row.get("tx_hash"), row.get("log_index"))
        if b is None:
            report.mismatches.append(Mismatch("missing", name, _show(name, key), *ref))
        elif a is None:
            report.mismatches.append(Mismatch("extra", name, _show(name, key), *ref))
        else:
            diff = {f: {"store": b.get(f), "chain": v} for f, v in a.items() if b.get(f) != v}
            if diff:
                report.mismatches.append(Mismatch("changed", name, _show(name, key), *ref, diff))
        report.rows_checked += 1


def pilot_headlines(records: FlowRecords, pilot_ids: Iterable[int]) -> dict[int, dict[str, Any]]:
    """Each pilot's headline metrics over all its records (what the gateway publishes)."""
    everything = Period.parse("all")
    return {
        p: headline(build_flow_graph(records.for_pilot(p), everything, pilot=p)) for p in pilot_ids
    }


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) or isinstance(b, float):
        if a is None or b is None:
            return a is b
        return abs(float(a) - float(b)) <= 1e-9 * max(1.0, abs(float(a)), abs(float(b)))
    return bool(a == b)


def compare_metrics(
    expected: dict[int, dict[str, Any]],
    found: dict[int, dict[str, Any]],
    where: str,
    report: VerifyReport,
) -> None:
    """Record every headline metric of `found` (store or gateway) that differs from the chain's."""
    for pilot, metrics in expected.items():
        other = found.get(pilot)
        if other is None:
            report.mismatches.append(
                Mismatch("missing", f"{where} metrics", f"pilot {pilot}", None, None, None)
            )
            continue
        diff = {
            name: {"store" if where == "store" else "gateway": other.get(name), "chain": value}
            for name, value in metrics.items()
            if not _same(value, other.get(name))
        }
        if diff:
            report.mismatches.append(
                Mismatch("changed", f"{where} metrics", f"pilot {pilot}", None, None, None, diff)
            )
        report.metrics_checked = (report.metrics_checked or 0) + len(metrics)


def verify(
    suite: Suite,
    store: Store,
    *,
    from_block: int | None = None,
    to_block: int | None = None,
    pilot: int | None = None,
    pilot_ids: Iterable[int] = (),
    published: dict[int, dict[str, Any]] | None = None,
    progress: Callable[[int], None] = lambda _: None,
) -> VerifyReport:
    """Compare the store with the chain over a block range (default: deployment to the store's
    checkpoint, or to the head when nothing is indexed)."""
    checkpoint = store.checkpoint()
    start = suite.manifest.deploy_block if from_block is None else from_block
    if to_block is None:
        to_block = checkpoint.block_number if checkpoint else int(suite.chain.w3.eth.block_number)
    if start > to_block:
        raise ValueError(f"the block range is empty: from {start} to {to_block}")
    report = VerifyReport(start, to_block)
    tables, lot_ops, report.events = chain_rows(suite, start, to_block, progress=progress)
    keep = _pilot_filter(pilot, tables)
    for name in EVENT_TABLES:
        chain = [r for r in tables.get(name, []) if keep(name, r)]
        stored = [r for r in _store_rows(store, name, start, to_block) if keep(name, r)]
        _compare(name, chain, stored, report)
        report.tables.append(name)
    whole = (
        start <= suite.manifest.deploy_block
        and checkpoint is not None
        and to_block == checkpoint.block_number
    )
    if whole:
        lots: dict[int, dict[str, Any]] = {}
        apply_lot_ops(lots, lot_ops)
        with store.engine.connect() as conn:
            stored_lots = {
                r["lot_id"]: dict(r) for r in conn.execute(select(store.tables["lot"])).mappings()
            }
        for lot_id in sorted(lots.keys() | stored_lots.keys()):
            a, b = lots.get(lot_id), stored_lots.get(lot_id)
            if pilot is not None and (a or b or {}).get("pilot_id") != pilot:
                continue
            block = (a or b or {}).get("created_block")
            if b is None:
                report.mismatches.append(
                    Mismatch("missing", "lot", f"lot {lot_id}", block, None, None)
                )
            elif a is None:
                report.mismatches.append(
                    Mismatch("extra", "lot", f"lot {lot_id}", block, None, None)
                )
            else:
                diff = {f: {"store": b.get(f), "chain": v} for f, v in a.items() if b.get(f) != v}
                if diff:
                    report.mismatches.append(
                        Mismatch("changed", "lot", f"lot {lot_id}", block, None, None, diff)
                    )
        report.lots_checked = len(lots)
        # The figures: recomputed from the chain's rows, from the store's, and as published.
        ids = [pilot] if pilot is not None else list(pilot_ids)
        if ids:
            expected = pilot_headlines(records_from_rows(tables), ids)
            compare_metrics(
                expected, pilot_headlines(load_records(store.engine), ids), "store", report
            )
            if published is not None:
                compare_metrics(
                    expected, {p: published[p] for p in ids if p in published}, "gateway", report
                )
    return report
