"""Provenance of a lot: every source lot (an intake) it came from, with its mass share."""

from __future__ import annotations

from collections import defaultdict
from fractions import Fraction

import networkx as nx

from ledger.circularity.records import FlowRecords

__all__ = ["lot_graph", "provenance"]


def lot_graph(records: FlowRecords) -> nx.DiGraph:
    """Edges child lot -> parent lot, weighted by the parent's share of the child's mass."""
    graph = nx.DiGraph()
    graph.add_nodes_from((int(lot), {"source": True}) for lot in records.intakes["lot_id"])
    totals = records.inputs.groupby("transform_id")["grams"].sum()
    parents: dict[int, list[tuple[int, int]]] = defaultdict(list)
    for transform, lot, grams in zip(
        records.inputs["transform_id"],
        records.inputs["lot_id"],
        records.inputs["grams"],
        strict=True,
    ):
        parents[int(transform)].append((int(lot), int(grams)))
    for transform, lot in zip(
        records.outputs["transform_id"], records.outputs["lot_id"], strict=True
    ):
        total = int(totals[transform])
        for parent, grams in parents[int(transform)]:
            share = Fraction(grams, total)
            if graph.has_edge(int(lot), parent):  # the same lot drawn twice in one transformation
                share += graph.edges[int(lot), parent]["share"]
            graph.add_edge(int(lot), parent, share=share)
    partial = records.transfers[records.transfers["received_lot"] != records.transfers["lot_id"]]
    for child, parent in zip(partial["received_lot"], partial["lot_id"], strict=True):
        graph.add_edge(int(child), int(parent), share=Fraction(1))
    return graph


def provenance(graph: nx.DiGraph, lot_id: int) -> dict[int, Fraction]:
    """Source lots of `lot_id` with exact mass shares (they sum to 1), through any depth."""
    if lot_id not in graph:
        raise KeyError(f"lot {lot_id} is not in the index")
    memo: dict[int, dict[int, Fraction]] = {}
    for node in reversed(
        list(nx.topological_sort(graph.subgraph(nx.descendants(graph, lot_id) | {lot_id})))
    ):
        parents = list(graph.successors(node))
        if not parents:
            memo[node] = {node: Fraction(1)}
            continue
        shares: dict[int, Fraction] = defaultdict(Fraction)
        for parent in parents:
            weight = graph.edges[node, parent]["share"]
            for source, part in memo[parent].items():
                shares[source] += weight * part
        memo[node] = dict(shares)
    return memo[lot_id]
