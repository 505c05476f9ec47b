"""Flow records: the indexed rows the circularity model needs, as pandas DataFrames.

``load_records`` is the only I/O here; everything downstream is a pure function of
:class:`FlowRecords`. Times are unix seconds (block timestamps).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any

import pandas as pd
from sqlalchemy import Engine

__all__ = ["FlowRecords", "load_records", "records_from_rows"]

COLUMNS: dict[str, list[str]] = {
    "intakes": [
        "ts",
        "pilot_id",
        "maker",
        "lot_id",
        "material_id",
        "source",
        "grams",
        "recycled_bp",
    ],
    "transforms": [
        "ts",
        "pilot_id",
        "maker",
        "transform_id",
        "input_grams",
        "output_grams",
        "loss",
    ],
    "inputs": ["ts", "pilot_id", "maker", "transform_id", "lot_id", "grams"],
    "outputs": [
        "ts",
        "pilot_id",
        "maker",
        "transform_id",
        "lot_id",
        "material_id",
        "grams",
        "recycled_bp",
    ],
    "transfers": ["ts", "pilot_id", "sender", "recipient", "lot_id", "received_lot", "grams"],
    "dispatches": ["ts", "pilot_id", "maker", "lot_id", "grams", "fate"],
    "awards": ["ts", "pilot_id", "member", "amount"],
    "redemptions": ["ts", "pilot_id", "member", "cost"],
    "materials": ["material_id", "code", "kind"],
}


@dataclass(frozen=True)
class FlowRecords:
    """Every record of every pilot; filter with :meth:`for_pilot`."""

    intakes: pd.DataFrame
    transforms: pd.DataFrame
    inputs: pd.DataFrame
    outputs: pd.DataFrame
    transfers: pd.DataFrame
    dispatches: pd.DataFrame
    awards: pd.DataFrame
    redemptions: pd.DataFrame
    materials: pd.DataFrame

    @classmethod
    def empty(cls) -> FlowRecords:
        return cls(
            **{
                name: pd.DataFrame({c: pd.Series(dtype="int64") for c in cols})
                for name, cols in COLUMNS.items()
            }
        )

    @classmethod
    def from_frames(cls, **frames: pd.DataFrame) -> FlowRecords:
        """Records from partial frames (missing ones empty); columns are checked."""
        base = cls.empty()
        values = {}
        for f in fields(cls):
            frame = frames.get(f.name, getattr(base, f.name))
            missing = set(COLUMNS[f.name]) - set(frame.columns)
            if missing:
                raise ValueError(f"{f.name} lacks columns {sorted(missing)}")
            values[f.name] = frame.reset_index(drop=True)
        return cls(**values)

    def extent(self) -> tuple[int, int] | None:
        """First and last record time (unix seconds), or None without records."""
        times = [
            frame["ts"]
            for f in fields(self)
            if "ts" in (frame := getattr(self, f.name)).columns and not frame.empty
        ]
        if not times:
            return None
        return min(int(t.min()) for t in times), max(int(t.max()) for t in times)

    def for_pilot(self, pilot_id: int) -> FlowRecords:
        values = {}
        for f in fields(self):
            frame: pd.DataFrame = getattr(self, f.name)
            values[f.name] = (
                frame if "pilot_id" not in frame.columns else frame[frame["pilot_id"] == pilot_id]
            )
        return FlowRecords(**values)

    def lot_materials(self) -> pd.Series:
        """Material of every lot (lots created by intake, transformation or partial transfer)."""
        created = pd.concat(
            [self.intakes[["lot_id", "material_id"]], self.outputs[["lot_id", "material_id"]]],
            ignore_index=True,
        )
        return self.inherit(created.set_index("lot_id")["material_id"])

    def lot_recycled_bp(self) -> pd.Series:
        """Recycled content (basis points) of every lot."""
        created = pd.concat(
            [self.intakes[["lot_id", "recycled_bp"]], self.outputs[["lot_id", "recycled_bp"]]],
            ignore_index=True,
        )
        return self.inherit(created.set_index("lot_id")["recycled_bp"])

    def inherit(self, values: pd.Series) -> pd.Series:
        """`values` per lot, extended to lots split off by partial transfers (which keep their
        parent's material and recycled content), resolved one generation of splits per pass."""
        t = self.transfers
        parents = t.loc[t["received_lot"] != t["lot_id"]].set_index("received_lot")["lot_id"]
        known = values[~values.index.duplicated()]
        pending = parents[~parents.index.isin(known.index)]
        while not pending.empty:
            found = pending.map(known).dropna()
            if found.empty:
                break
            known = pd.concat([known, found.astype(known.dtype)])
            pending = pending[~pending.index.isin(found.index)]
        return known


_QUERIES = {
    "intakes": "SELECT ts, pilot_id, maker, lot_id, material_id, source, grams, recycled_bp FROM intake",
    "transforms": "SELECT ts, pilot_id, maker, transform_id, input_grams, output_grams, loss FROM transformation",
    "inputs": "SELECT t.ts, t.pilot_id, t.maker, i.transform_id, i.lot_id, i.grams FROM transformation_input i "
    "JOIN transformation t ON t.transform_id = i.transform_id",
    "outputs": "SELECT t.ts, t.pilot_id, t.maker, o.transform_id, o.lot_id, o.material_id, o.grams, t.recycled_bp "
    "FROM transformation_output o JOIN transformation t ON t.transform_id = o.transform_id",
    "transfers": "SELECT ts, pilot_id, sender, recipient, lot_id, received_lot, grams FROM transfer",
    "dispatches": "SELECT ts, pilot_id, maker, lot_id, grams, fate FROM dispatch",
    "awards": "SELECT ts, pilot_id, member, amount FROM token_award",
    "redemptions": "SELECT ts, pilot_id, member, cost FROM redemption",
    "materials": "SELECT material_id, code, kind FROM material_class",
}


def load_records(engine: Engine) -> FlowRecords:
    """Read every flow record from the index store."""
    with engine.connect() as conn:
        frames = {name: pd.read_sql_query(query, conn) for name, query in _QUERIES.items()}
    return FlowRecords.from_frames(**frames)


def records_from_rows(tables: Mapping[str, Sequence[Mapping[str, Any]]]) -> FlowRecords:
    """The same records from table rows held in memory (for example rebuilt from the chain by the
    audit, which must not read them from the store)."""

    def frame(name: str, rows: Iterable[Mapping[str, Any]]) -> pd.DataFrame:
        cols = COLUMNS[name]
        return pd.DataFrame([{c: r[c] for c in cols} for r in rows], columns=cols)

    transforms = {r["transform_id"]: r for r in tables.get("transformation", [])}

    def joined(name: str, key: str) -> list[dict[str, Any]]:
        out = []
        for row in tables.get(key, []):
            parent = transforms[row["transform_id"]]
            out.append(
                {
                    **row,
                    "ts": parent["ts"],
                    "pilot_id": parent["pilot_id"],
                    "maker": parent["maker"],
                    "recycled_bp": parent["recycled_bp"],
                }
            )
        return out

    frames = {
        "intakes": frame("intakes", tables.get("intake", [])),
        "transforms": frame("transforms", transforms.values()),
        "inputs": frame("inputs", joined("inputs", "transformation_input")),
        "outputs": frame("outputs", joined("outputs", "transformation_output")),
        "transfers": frame("transfers", tables.get("transfer", [])),
        "dispatches": frame("dispatches", tables.get("dispatch", [])),
        "awards": frame("awards", tables.get("token_award", [])),
        "redemptions": frame("redemptions", tables.get("redemption", [])),
        "materials": frame("materials", tables.get("material_class", [])),
    }
    empty = FlowRecords.empty()
    for name, value in frames.items():
        if value.empty:
            frames[name] = getattr(empty, name)
    return FlowRecords.from_frames(**frames)
