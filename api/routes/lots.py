"""Lots and their provenance (for auditors)."""

from __future__ import annotations

from fractions import Fraction
from typing import Annotated, Any, cast

from fastapi import APIRouter, HTTPException, Path

from api.deps import StateDep
from api.writes import MAX_ID
from ledger.circularity.provenance import lot_graph, provenance

router = APIRouter(prefix="/api/lots", tags=["lots"])


@router.get("/{lot_id}/provenance", summary="Source lots of a lot with their mass shares")
def lot_provenance(
    state: StateDep, lot_id: Annotated[int, Path(ge=1, le=MAX_ID)]
) -> dict[str, Any]:
    records = state.records()
    graph = lot_graph(records)
    if lot_id not in graph:
        raise HTTPException(status_code=404, detail=f"lot {lot_id} is not indexed")
    shares = provenance(graph, lot_id)
    intakes = cast(
        dict[Any, dict[str, Any]], records.intakes.set_index("lot_id").to_dict(orient="index")
    )
    sources = []
    for source, share in sorted(shares.items()):
        row = intakes[source]
        sources.append(
            {
                "lot_id": source,
                "share": float(share),
                "maker": row["maker"],
                "pilot_id": int(row["pilot_id"]),
                "material_id": int(row["material_id"]),
                "source": int(row["source"]),
                "grams": int(row["grams"]),
                "ts": int(row["ts"]),
            }
        )
    return {
        "lot_id": lot_id,
        "sources": sources,
        "share_total": float(sum(shares.values())),
        "tree": _tree(graph, lot_id),
    }


TREE_NODES = 500


def _tree(graph: Any, lot_id: int) -> dict[str, Any]:
    """The lot's parents, their parents, ..., each with its share of the root's mass."""
    budget = [TREE_NODES]

    def node(lot: int, share: Fraction) -> dict[str, Any]:
        budget[0] -= 1
        parents = list(graph.successors(lot))
        out: dict[str, Any] = {"lot_id": lot, "share": float(share), "source": not parents}
        if parents and budget[0] <= 0:
            out["truncated"] = True
        elif parents:
            out["from"] = [node(p, share * graph.edges[lot, p]["share"]) for p in sorted(parents)]
        return out

    return node(lot_id, Fraction(1))
