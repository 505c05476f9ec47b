"""The material-flow graph of one pilot and period: a ``networkx.DiGraph`` built from records.

Nodes: ``source:<kind>`` (municipal collection, donation, industrial surplus, product return,
virgin supply), ``maker:<address>`` (a maker's processes), ``fate:<fate>``, ``loss`` (declared
process losses), ``stock:opening`` and ``stock:closing``. Edges carry ``grams`` and
``by_material`` (material id -> grams). Per-product and engagement figures ride along in
``G.graph`` so that every metric is a pure function of the graph.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any, cast

import networkx as nx
import pandas as pd

from ledger.circularity.period import Period
from ledger.circularity.records import FlowRecords
from ledger.vocabulary import FATE_NODES, SOURCE_NODES, maker_node

__all__ = ["FATE_NODES", "SOURCE_NODES", "build_flow_graph", "stock_at"]

PRODUCT_KIND = 2
_maker = maker_node


def _in(frame: pd.DataFrame, period: Period) -> pd.DataFrame:
    return frame[(frame["ts"] >= period.start) & (frame["ts"] < period.end)]


def _add_flows(
    graph: nx.DiGraph, frame: pd.DataFrame, tail: str, head: str, material: str = "material_id"
) -> None:
    """Add grams of `frame` grouped by (tail column, head column, material) as edges."""
    if frame.empty:
        return
    grouped = frame.groupby([tail, head, material], sort=True)["grams"].sum()
    for key, grams in grouped.items():
        u, v, m = cast(tuple[str, str, int], key)
        if graph.has_edge(u, v):
            data = graph.edges[u, v]
        else:
            graph.add_edge(u, v, grams=0, by_material={})
            data = graph.edges[u, v]
        data["grams"] += int(grams)
        data["by_material"][int(m)] = data["by_material"].get(int(m), 0) + int(grams)


def stock_at(records: FlowRecords, ts: int, lot_materials: pd.Series | None = None) -> pd.DataFrame:
    """Grams held per (holder, material) just before `ts`, counted lot by lot.

    Lots are created by intakes, transformation outputs and partial transfers; they are drawn
    down by transformation inputs, partial transfers and dispatches; whole-lot transfers change
    their holder. This lot-level count is independent of the maker-level flows of the graph,
    so comparing the two is a real mass-balance check.
    """
    materials = records.lot_materials() if lot_materials is None else lot_materials
    t = records.transfers[records.transfers["ts"] < ts]
    partial = t[t["received_lot"] != t["lot_id"]]
    whole = t[t["received_lot"] == t["lot_id"]]
    created = pd.concat(
        [
            records.intakes.loc[records.intakes["ts"] < ts, ["lot_id", "maker", "grams"]].rename(
                columns={"maker": "holder"}
            ),
            records.outputs.loc[records.outputs["ts"] < ts, ["lot_id", "maker", "grams"]].rename(
                columns={"maker": "holder"}
            ),
            partial[["received_lot", "recipient", "grams"]].rename(
                columns={"received_lot": "lot_id", "recipient": "holder"}
            ),
        ],
        ignore_index=True,
    )
    draws = pd.concat(
        [
            records.inputs.loc[records.inputs["ts"] < ts, ["lot_id", "grams"]],
            partial[["lot_id", "grams"]],
            records.dispatches.loc[records.dispatches["ts"] < ts, ["lot_id", "grams"]],
        ],
        ignore_index=True,
    )
    held = created.set_index("lot_id")
    drawn = draws.groupby("lot_id")["grams"].sum()
    held["grams"] = held["grams"].sub(drawn.reindex(held.index, fill_value=0))
    if not whole.empty:
        last_holder = whole.sort_values("ts").groupby("lot_id")["recipient"].last()
        moved = held.index.intersection(last_holder.index)
        held.loc[moved, "holder"] = last_holder.loc[moved]
    held["material_id"] = materials.reindex(held.index).fillna(-1).astype("int64")
    held = held[held["grams"] != 0]
    return cast(
        pd.DataFrame, held.groupby(["holder", "material_id"], as_index=False)["grams"].sum()
    )


def build_flow_graph(
    records: FlowRecords, period: Period, *, pilot: int | None = None
) -> nx.DiGraph:
    """The flow graph of `records` (one pilot's) over `period`."""
    graph = nx.DiGraph(period=period.label, pilot=pilot)
    materials = records.lot_materials()
    kinds = dict(zip(records.materials["material_id"], records.materials["kind"], strict=True))

    intakes = _in(records.intakes, period).assign(
        tail=lambda f: f["source"].map(SOURCE_NODES), head=lambda f: f["maker"].map(_maker)
    )
    _add_flows(graph, intakes, "tail", "head")

    transfers = _in(records.transfers, period)
    transfers = transfers.assign(
        tail=transfers["sender"].map(_maker),
        head=transfers["recipient"].map(_maker),
        material_id=transfers["lot_id"].map(materials).fillna(-1).astype("int64"),
    )
    _add_flows(graph, transfers, "tail", "head")

    dispatches = _in(records.dispatches, period)
    dispatches = dispatches.assign(
        tail=dispatches["maker"].map(_maker),
        head=dispatches["fate"].map(FATE_NODES),
        material_id=dispatches["lot_id"].map(materials).fillna(-1).astype("int64"),
    )
    _add_flows(graph, dispatches, "tail", "head")

    transforms = _in(records.transforms, period)
    losses = transforms.assign(
        tail=transforms["maker"].map(_maker), head="loss", grams=transforms["loss"], material_id=-1
    )
    _add_flows(graph, losses[losses["grams"] > 0], "tail", "head")
    for maker, row in (
        transforms.groupby("maker")[["input_grams", "output_grams", "loss"]].sum().iterrows()
    ):
        graph.add_node(_maker(str(maker)))
        graph.nodes[_maker(str(maker))].update({k: int(v) for k, v in row.items()})

    for label, ts in (("stock:opening", period.start), ("stock:closing", period.end)):
        stock = stock_at(records, ts, materials)
        if stock.empty:
            continue
        stock = stock.assign(node=stock["holder"].map(_maker), stock=label)
        if label == "stock:opening":
            _add_flows(graph, stock, "stock", "node")
        else:
            _add_flows(graph, stock, "node", "stock")

    for node in graph.nodes:
        graph.nodes[node]["kind"] = node.split(":", 1)[0]

    # Products leaving the system in the period: mass, recycled part and fates (for the MCI).
    products: dict[int, dict[str, Any]] = defaultdict(
        lambda: {"grams": 0, "recycled_grams": 0.0, "fates": {}}
    )
    if not dispatches.empty:
        bp = records.lot_recycled_bp()
        sold = dispatches[dispatches["material_id"].map(lambda m: kinds.get(m) == PRODUCT_KIND)]
        sold = sold.assign(recycled=sold["grams"] * sold["lot_id"].map(bp).fillna(0) / 10_000)
        for key, part in sold.groupby(["material_id", "fate"]):
            material, fate = cast(tuple[int, int], key)
            entry = products[int(material)]
            entry["grams"] += int(part["grams"].sum())
            entry["recycled_grams"] += float(part["recycled"].sum())
            entry["fates"][FATE_NODES[int(fate)].split(":")[1]] = int(part["grams"].sum())
    graph.graph["products"] = dict(products)

    awards, redemptions = _in(records.awards, period), _in(records.redemptions, period)
    graph.graph["engagement"] = {
        "awarded": int(awards["amount"].sum()),
        "redeemed": int(redemptions["cost"].sum()),
        "redemptions": len(redemptions),
        "active_members": len(set(awards["member"]) | set(redemptions["member"])),
    }
    return graph
