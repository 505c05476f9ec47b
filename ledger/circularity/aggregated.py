"""The flow graph of a pilot and period from the indexer's monthly aggregates.

``build_flow_graph`` (``ledger.circularity.graph``) builds the graph from every flow record;
this module builds the same graph from the read models the indexer keeps
(``ledger.indexer.aggregates``), whose size grows with pilots x months x makers x materials, not
with the records. Sums are taken over whole months, so the period must start and end on month
boundaries (years, quarters, months and "all" do); see :func:`month_aligned`.

``read_period_flows`` is the I/O (a handful of GROUP BY queries); ``flow_graph`` is pure.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import networkx as nx
from sqlalchemy import Connection, text

from ledger.circularity.period import Period
from ledger.indexer.aggregates import month_of
from ledger.vocabulary import FATE_NODES, maker_node

__all__ = ["PeriodFlows", "flow_graph", "month_aligned", "read_period_flows"]

PRODUCT_KIND = 2


@dataclass(frozen=True)
class PeriodFlows:
    """What the flow graph of one pilot and period is made of, summed over its months."""

    #: (tail node, head node, material id, grams)
    flows: list[tuple[str, str, int, int]] = field(default_factory=list)
    #: (holder, material id, grams) held at the start and at the end of the period
    opening: list[tuple[str, int, int]] = field(default_factory=list)
    closing: list[tuple[str, int, int]] = field(default_factory=list)
    #: maker -> (input grams, output grams, loss) of its transformations
    makers: dict[str, tuple[int, int, int]] = field(default_factory=dict)
    #: (material id, fate, grams, grams x recycled bp) of dispatches
    products: list[tuple[int, int, int, int]] = field(default_factory=list)
    #: awarded, redeemed, redemptions, active_members
    engagement: dict[str, int] = field(default_factory=dict)


def month_aligned(period: Period) -> bool:
    """Whether `period` is made of whole months (so the monthly aggregates answer it)."""

    def aligned(ts: int) -> bool:
        return ts <= 0 or ts >= 2**61 or month_of(ts) == ts

    return aligned(period.start) and aligned(period.end)


def _add_edge(graph: nx.DiGraph, u: str, v: str, material: int, grams: int) -> None:
    if not graph.has_edge(u, v):
        graph.add_edge(u, v, grams=0, by_material={})
    data = graph.edges[u, v]
    data["grams"] += grams
    data["by_material"][material] = data["by_material"].get(material, 0) + grams


def flow_graph(
    flows: PeriodFlows, period: Period, kinds: Mapping[int, int], *, pilot: int | None = None
) -> nx.DiGraph:
    """The flow graph of ``ledger.circularity.graph.build_flow_graph`` from summed flows;
    `kinds` maps material ids to their kind (products are kind 2)."""
    graph = nx.DiGraph(period=period.label, pilot=pilot)
    for tail, head, material, grams in sorted(flows.flows):
        _add_edge(graph, tail, head, material, grams)
    for maker, (inputs, outputs, loss) in sorted(flows.makers.items()):
        graph.add_node(maker_node(maker), input_grams=inputs, output_grams=outputs, loss=loss)
    for holder, material, grams in sorted(flows.opening):
        _add_edge(graph, "stock:opening", maker_node(holder), material, grams)
    for holder, material, grams in sorted(flows.closing):
        _add_edge(graph, maker_node(holder), "stock:closing", material, grams)
    for node in graph.nodes:
        graph.nodes[node]["kind"] = node.split(":", 1)[0]
    products: dict[int, dict[str, Any]] = {}
    for material, fate, grams, recycled_gbp in sorted(flows.products):
        if kinds.get(material) != PRODUCT_KIND:
            continue
        entry = products.setdefault(material, {"grams": 0, "recycled_grams": 0.0, "fates": {}})
        entry["grams"] += grams
        entry["recycled_grams"] += recycled_gbp / 10_000
        name = FATE_NODES[fate].split(":")[1]
        entry["fates"][name] = entry["fates"].get(name, 0) + grams
    graph.graph["products"] = products
    graph.graph["engagement"] = {
        "awarded": flows.engagement.get("awarded", 0),
        "redeemed": flows.engagement.get("redeemed", 0),
        "redemptions": flows.engagement.get("redemptions", 0),
        "active_members": flows.engagement.get("active_members", 0),
    }
    return graph


_FLOWS = text(
    "SELECT tail, head, material_id, SUM(grams) FROM agg_flow "
    "WHERE pilot_id = :pilot AND month >= :start AND month < :end "
    "GROUP BY tail, head, material_id HAVING SUM(grams) <> 0"
)
_STOCK = text(
    "SELECT holder, material_id, SUM(grams) FROM agg_stock WHERE pilot_id = :pilot AND month < :at "
    "GROUP BY holder, material_id HAVING SUM(grams) <> 0"
)
_MAKERS = text(
    "SELECT maker, SUM(input_grams), SUM(output_grams), SUM(loss) FROM agg_maker "
    "WHERE pilot_id = :pilot AND month >= :start AND month < :end GROUP BY maker "
    "HAVING SUM(input_grams) <> 0 OR SUM(output_grams) <> 0 OR SUM(loss) <> 0"
)
_PRODUCTS = text(
    "SELECT material_id, fate, SUM(grams), SUM(recycled_gbp) FROM agg_product "
    "WHERE pilot_id = :pilot AND month >= :start AND month < :end "
    "GROUP BY material_id, fate HAVING SUM(grams) <> 0"
)
_ENGAGEMENT = text(
    "SELECT COALESCE(SUM(awarded), 0), COALESCE(SUM(redeemed), 0), "
    "COALESCE(SUM(redemptions), 0) FROM agg_member "
    "WHERE pilot_id = :pilot AND month >= :start AND month < :end"
)
_ACTIVE = text(
    "SELECT COUNT(*) FROM (SELECT member FROM agg_member "
    "WHERE pilot_id = :pilot AND month >= :start AND month < :end "
    "GROUP BY member HAVING SUM(awards) + SUM(redemptions) > 0) AS active"
)


def read_period_flows(conn: Connection, pilot: int, period: Period) -> PeriodFlows:
    """Sum the aggregates of `pilot` over `period` (which must be month aligned)."""
    if not month_aligned(period):
        raise ValueError(f"the period {period.label!r} does not start and end on month boundaries")
    span = {"pilot": pilot, "start": period.start, "end": period.end}

    def stock(at: int) -> list[tuple[str, int, int]]:
        rows = conn.execute(_STOCK, {"pilot": pilot, "at": at})
        return [(str(h), int(m), int(g)) for h, m, g in rows]

    awarded, redeemed, redemptions = conn.execute(_ENGAGEMENT, span).one()
    return PeriodFlows(
        flows=[(str(t), str(h), int(m), int(g)) for t, h, m, g in conn.execute(_FLOWS, span)],
        opening=stock(period.start),
        closing=stock(period.end),
        makers={str(m): (int(i), int(o), int(x)) for m, i, o, x in conn.execute(_MAKERS, span)},
        products=[(int(m), int(f), int(g), int(r)) for m, f, g, r in conn.execute(_PRODUCTS, span)],
        engagement={
            "awarded": int(awarded),
            "redeemed": int(redeemed),
            "redemptions": int(redemptions),
            "active_members": int(conn.execute(_ACTIVE, span).scalar_one()),
        },
    )
