"""Tables of metrics across pilots and periods, Sankey data, and file export."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import networkx as nx
import pandas as pd

from ledger.circularity import metrics
from ledger.circularity.graph import build_flow_graph
from ledger.circularity.period import Period
from ledger.circularity.records import FlowRecords

__all__ = ["export", "headline", "kg", "material_table", "metric_table", "sankey", "within_data"]


def kg(grams: float) -> float:
    """Kilograms from grams, rounded to the gram (no float noise such as 782.7059999999999).

    >>> kg(782_706), kg(1)
    (782.706, 0.001)
    """
    return round(grams / 1000, 3)


def within_data(period: Period, records: FlowRecords) -> Period:
    """'all' narrowed to the records' extent (first to last record; None-length without records).

    The CLI and the API both report 'all' this way, so its months are the data's months.
    """
    if period.label != "all":
        return period
    extent = records.extent()
    if extent is None:
        return Period(period.start, period.start, "all")
    return Period(extent[0], extent[1] + 1, "all")


def headline(graph: nx.DiGraph) -> dict[str, Any]:
    """The headline figures of one pilot and period."""
    engagement = metrics.engagement(graph)
    residuals = metrics.mass_balance_residuals(graph)
    return {
        "inflow_kg": kg(metrics.inflow(graph)),
        "outflow_kg": kg(metrics.outflow(graph)),
        "circular_inflow_rate": metrics.circular_inflow_rate(graph),
        "circular_outflow_rate": metrics.circular_outflow_rate(graph),
        "circularity_rate": metrics.circularity_rate(graph),
        "diversion_kg": kg(metrics.diversion(graph)),
        "stock_kg": kg(metrics.stock_held(graph)),
        "mass_balance_findings": sum(1 for r in residuals.values() if r != 0),
        "exchange_links": len(metrics.exchange_links(graph)),
        "closed_loops": len(metrics.closed_loops(graph)),
        "points_awarded": engagement.get("awarded", 0),
        "points_redeemed": engagement.get("redeemed", 0),
        "active_members": engagement.get("active_members", 0),
        "redemption_rate": engagement.get("redemption_rate", 0.0),
    }


def metric_table(
    records: FlowRecords,
    pilots: Mapping[int, str],
    periods: Sequence[Period],
    *,
    progress: Callable[[int, int], None] = lambda done, total: None,
) -> pd.DataFrame:
    """One row per (pilot, period) with every headline metric; pilots by id -> code."""
    rows = []
    total = len(pilots) * len(periods)
    for pilot, code in pilots.items():
        subset = records.for_pilot(pilot)
        for period in periods:
            graph = build_flow_graph(subset, period, pilot=pilot)
            rows.append({"pilot": code, "period": period.label, **headline(graph)})
            progress(len(rows), total)
    return pd.DataFrame(rows)


def material_table(graph: nx.DiGraph, codes: dict[int, str]) -> pd.DataFrame:
    """Per material: grams in from sources, handed over, dispatched by fate, in closing stock."""
    rows: dict[int, dict[str, float]] = {}
    for u, v, data in graph.edges(data=True):
        column = (
            "inflow_kg"
            if u.startswith("source:")
            else "exchanged_kg"
            if u.startswith("maker:") and v.startswith("maker:")
            else v.split(":", 1)[1] + "_kg"
            if v.startswith("fate:")
            else "stock_kg"
            if v == "stock:closing"
            else None
        )
        if column is None:
            continue
        for material, grams in data["by_material"].items():
            row = rows.setdefault(material, {})
            row[column] = row.get(column, 0.0) + grams
    frame = pd.DataFrame.from_dict(rows, orient="index").fillna(0.0).map(kg)
    frame.insert(0, "material", [codes.get(int(m), str(m)) for m in frame.index])
    return frame.reset_index(drop=True)


def sankey(graph: nx.DiGraph, labels: dict[str, str] | None = None) -> dict[str, Any]:
    """Nodes and links (values in kg) for a Sankey diagram; makers may get display labels."""
    labels = labels or {}
    nodes = sorted(graph.nodes)
    index = {n: i for i, n in enumerate(nodes)}
    return {
        "nodes": [
            {
                "id": n,
                "label": labels.get(n, n.split(":", 1)[-1].replace("_", " ")),
                "kind": graph.nodes[n].get("kind"),
            }
            for n in nodes
        ],
        "links": [
            {"source": index[u], "target": index[v], "value": kg(d["grams"])}
            for u, v, d in sorted(graph.edges(data=True))
            if d["grams"] > 0
        ],
    }


#: A spreadsheet reads a cell that starts with one of these as a formula (OWASP, "CSV Injection").
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_safe(value: object) -> object:
    """A text cell that a spreadsheet would run as a formula, prefixed with ``'`` so it shows as
    text (OWASP "CSV Injection"); numbers and other text are left as they are.

    >>> csv_safe("=1+1"), csv_safe("20 01 38"), csv_safe(-5)
    ("'=1+1", '20 01 38', -5)
    """
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def export(frame: pd.DataFrame, path: Path | None, fmt: str) -> str | None:
    """Write `frame` as csv, parquet or json to `path` (csv/json to a string when path is None).

    In csv, every text cell and column name passes `csv_safe`: codes and names come from the
    chain, where anyone with a role chooses them (control characters never reach a cell: codes
    are printable ASCII on chain and the indexer escapes the rest, see ``ledger.events``)."""
    if fmt == "csv":
        safe = frame.rename(columns=csv_safe)
        for column in safe.columns:
            if safe[column].dtype == object or pd.api.types.is_string_dtype(safe[column]):
                safe[column] = safe[column].map(csv_safe)
        return safe.to_csv(path, index=False) if path else safe.to_csv(index=False)
    if fmt == "json":
        return (
            frame.to_json(path, orient="records", indent=2)
            if path
            else frame.to_json(orient="records", indent=2)
        )
    if fmt == "parquet":
        if path is None:
            raise ValueError("parquet needs an output file (--out)")
        frame.to_parquet(path, index=False)
        return None
    raise ValueError(f"unknown format {fmt!r}: use csv, parquet or json")
