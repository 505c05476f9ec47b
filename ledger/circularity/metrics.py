"""Circularity metrics: pure functions of a flow graph (see :mod:`ledger.circularity.graph`).

Sources of the formulas:
- WBCSD, *Circular Transition Indicators* (CTI) v4: % circular inflow, % circular outflow and
  % circularity as the mass-weighted mean of the two.
- Eurostat, circular material use rate U / (DMC + U), the same idea at country scale.
- Ellen MacArthur Foundation & Granta Design, *Material Circularity Indicator* (2015/2019):
  V, W0, W_C, W_F, W, LFI, X, F(X) and MCI as written in each function.
"""

from __future__ import annotations

from collections.abc import Iterable
from itertools import islice

import networkx as nx

__all__ = [
    "circular_inflow_rate",
    "circular_outflow_rate",
    "circularity_rate",
    "closed_loops",
    "diversion",
    "engagement",
    "exchange_links",
    "inflow",
    "mass_balance_residuals",
    "material_circularity_indicator",
    "outflow",
    "process_yields",
    "stock_held",
]

CIRCULAR_FATES = frozenset({"fate:reused", "fate:repaired", "fate:recycled", "fate:composted"})
DISPOSAL_FATES = frozenset({"fate:landfilled", "fate:incinerated"})
VIRGIN = "source:virgin_purchase"


def _edge_sum(graph: nx.DiGraph, edges: Iterable[tuple[str, str]], weight: str = "grams") -> int:
    return sum(int(graph.edges[u, v][weight]) for u, v in edges)


def _kind(graph: nx.DiGraph, kind: str) -> list[str]:
    return [n for n, k in graph.nodes(data="kind") if k == kind]


def inflow(graph: nx.DiGraph) -> int:
    """Grams entering the pilot from sources (secondary and virgin) in the period."""
    return _edge_sum(graph, graph.out_edges(_kind(graph, "source")))


def circular_inflow_rate(graph: nx.DiGraph) -> float | None:
    """Secondary inflow / total inflow (CTI "% circular inflow"); None without inflow.

    Examples
    --------
    >>> g = nx.DiGraph()
    >>> g.add_node("source:donation", kind="source"); g.add_node(VIRGIN, kind="source")
    >>> g.add_edge("source:donation", "maker:a", grams=750); g.add_edge(VIRGIN, "maker:a", grams=250)
    >>> circular_inflow_rate(g)
    0.75
    """
    total = inflow(graph)
    if total == 0:
        return None
    virgin = _edge_sum(graph, graph.out_edges(VIRGIN)) if VIRGIN in graph else 0
    return (total - virgin) / total


def outflow(graph: nx.DiGraph) -> int:
    """Grams leaving the pilot: dispatched to any fate, plus declared process losses.

    Losses count as outflow that is not circular (their fate is unknown), a conservative choice.
    """
    heads = _kind(graph, "fate") + (["loss"] if "loss" in graph else [])
    return _edge_sum(graph, graph.in_edges(heads))


def circular_outflow_rate(graph: nx.DiGraph) -> float | None:
    """Outflow to reuse, repair, recycling and composting / total outflow (CTI); None without outflow."""
    total = outflow(graph)
    if total == 0:
        return None
    circular = _edge_sum(graph, graph.in_edges([n for n in CIRCULAR_FATES if n in graph]))
    return circular / total


def circularity_rate(graph: nx.DiGraph) -> float | None:
    """Mass-weighted mean of circular inflow and circular outflow rates (CTI % circularity).

    (r_in * inflow + r_out * outflow) / (inflow + outflow); a side without mass weighs nothing.
    """
    mass_in, mass_out = inflow(graph), outflow(graph)
    if mass_in + mass_out == 0:
        return None
    r_in, r_out = circular_inflow_rate(graph) or 0.0, circular_outflow_rate(graph) or 0.0
    return (r_in * mass_in + r_out * mass_out) / (mass_in + mass_out)


def mass_balance_residuals(graph: nx.DiGraph) -> dict[str, int]:
    """Per maker: opening stock + inflows - outflows - losses - closing stock, in grams.

    Zero for consistent chain data; anything else is a finding to report, never to hide.
    """
    residuals = {}
    for node in _kind(graph, "maker"):
        incoming = _edge_sum(graph, graph.in_edges(node))
        outgoing = _edge_sum(graph, graph.out_edges(node))
        residuals[node.split(":", 1)[1]] = incoming - outgoing
    return residuals


def diversion(graph: nx.DiGraph) -> int:
    """Grams dispatched in the period that were kept from landfill and incineration."""
    dispatched = _edge_sum(graph, graph.in_edges(_kind(graph, "fate")))
    disposed = _edge_sum(graph, graph.in_edges([n for n in DISPOSAL_FATES if n in graph]))
    return dispatched - disposed


def stock_held(graph: nx.DiGraph) -> int:
    """Grams held by makers at the end of the period."""
    return _edge_sum(graph, graph.in_edges("stock:closing")) if "stock:closing" in graph else 0


def process_yields(graph: nx.DiGraph) -> dict[str, dict[str, float]]:
    """Per maker: transformation input, output and loss grams, and yield = output / input."""
    result = {}
    for node in _kind(graph, "maker"):
        data = graph.nodes[node]
        if data.get("input_grams"):
            result[node.split(":", 1)[1]] = {
                "input_grams": data["input_grams"],
                "output_grams": data["output_grams"],
                "loss_grams": data["loss"],
                "yield": data["output_grams"] / data["input_grams"],
            }
    return result


def exchange_links(graph: nx.DiGraph) -> list[tuple[str, str, int]]:
    """Maker-to-maker hand-overs: (from, to, grams)."""
    return sorted(
        (u.split(":", 1)[1], v.split(":", 1)[1], int(d["grams"]))
        for u, v, d in graph.edges(data=True)
        if u.startswith("maker:") and v.startswith("maker:")
    )


def closed_loops(graph: nx.DiGraph, *, max_length: int = 3, limit: int = 1_000) -> list[list[str]]:
    """Cycles of hand-overs between makers (material that came back), up to `max_length` makers.

    A dense exchange network has exponentially many long cycles, so loops are bounded in length
    (pairs and triangles by default) and in number (`limit`).
    """
    makers = graph.subgraph(_kind(graph, "maker"))
    cycles = islice(nx.simple_cycles(makers, length_bound=max_length), limit)
    return sorted([n.split(":", 1)[1] for n in cycle] for cycle in cycles)


def engagement(graph: nx.DiGraph) -> dict[str, float]:
    """Points awarded and redeemed, redemptions, active members, and redemption rate."""
    data = dict(graph.graph.get("engagement", {}))
    awarded = data.get("awarded", 0)
    data["redemption_rate"] = data.get("redeemed", 0) / awarded if awarded else 0.0
    return data


def material_circularity_indicator(
    graph: nx.DiGraph,
    material_id: int,
    *,
    biological: bool = False,
    lifetime_ratio: float = 1.0,
    utility_ratio: float = 1.0,
    reused_feedstock: float = 0.0,
    biological_feedstock: float = 0.0,
    collection_efficiency: float = 1.0,
    feedstock_efficiency: float = 1.0,
) -> float | None:
    """Material Circularity Indicator of one product class (Ellen MacArthur Foundation).

    M is the product mass leaving in the period; F_R its mass-weighted recycled content; C_R and
    C_U the shares going to recycling and to reuse or repair; products sold into use count as not
    yet collected.

    Biological and technical materials follow different cycles. The 2015 methodology (technical
    materials only) has no energy-recovery term: W0 = M(1 - C_R - C_U). The 2019 update
    (Ellen MacArthur Foundation & Granta Design, *Circularity Indicators: An Approach to
    Measuring Circularity, Methodology*, 2019) adds, for biological materials only, composting
    (C_C), energy recovery (C_E) and sustainably sourced biological feedstock (F_S). So for a
    technical product (``biological=False``, see :mod:`ledger.circularity.cycles`) incineration
    and "composting" are waste, and F_S is 0.

    V = M(1 - F_R - F_U - F_S); W0 = M(1 - C_R - C_U - C_C - C_E); W_C = M(1 - E_C)C_R;
    W_F = M F_R (1 - E_F)/E_F; W = W0 + (W_F + W_C)/2; LFI = (V + W) / (2M + (W_F - W_C)/2);
    X = (L/L_av)(U/U_av); F(X) = 0.9/X; MCI = max(0, 1 - LFI F(X)).

    Examples
    --------
    A product of fully recycled feedstock that is all recycled again, X = 1:

    >>> g = nx.DiGraph(products={7: {"grams": 1000, "recycled_grams": 1000.0, "fates": {"recycled": 1000}}})
    >>> material_circularity_indicator(g, 7)
    1.0

    All virgin, all landfilled, X = 1: LFI = 1, MCI = 1 - 0.9 = 0.1.

    >>> g = nx.DiGraph(products={7: {"grams": 1000, "recycled_grams": 0.0, "fates": {"landfilled": 1000}}})
    >>> round(material_circularity_indicator(g, 7), 6)
    0.1

    All virgin and incinerated: 0.1 for a technical product; for a biological one energy
    recovery counts, W = 0, LFI = 0.5 and MCI = 1 - 0.45 = 0.55.

    >>> g = nx.DiGraph(products={7: {"grams": 1000, "recycled_grams": 0.0, "fates": {"incinerated": 1000}}})
    >>> round(material_circularity_indicator(g, 7), 6), round(material_circularity_indicator(g, 7, biological=True), 6)
    (0.1, 0.55)
    """
    product = graph.graph.get("products", {}).get(material_id)
    if not product or not product["grams"]:
        return None
    m = float(product["grams"])
    fates = product["fates"]
    f_r = product["recycled_grams"] / m
    c_r = fates.get("recycled", 0) / m
    c_u = (fates.get("reused", 0) + fates.get("repaired", 0)) / m
    # Composting and energy recovery are cycles of biological material only (EMF 2019).
    c_c = fates.get("composted", 0) / m if biological else 0.0
    c_e = fates.get("incinerated", 0) / m if biological else 0.0
    f_s = biological_feedstock if biological else 0.0
    v = m * (1 - f_r - reused_feedstock - f_s)
    w0 = m * (1 - c_r - c_u - c_c - c_e)
    w_c = m * (1 - collection_efficiency) * c_r
    w_f = m * f_r * (1 - feedstock_efficiency) / feedstock_efficiency
    w = w0 + (w_f + w_c) / 2
    lfi = (v + w) / (2 * m + (w_f - w_c) / 2)
    x = lifetime_ratio * utility_ratio
    return float(max(0.0, 1 - lfi * 0.9 / x))
