"""From decoded events to table rows, and the current state of lots: pure functions.

``rows_of(events, ts_of)`` turns decoded events into rows per table; ``apply_to_lots`` folds
material events over the lots they touch. Both are replayed identically for a backfill, an
incremental run or a rebuild after a reorg.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, MutableMapping
from dataclasses import dataclass, field
from typing import Any

from ledger.events import DecodedEvent, text_of

__all__ = ["LOT_EVENTS", "RowBatch", "apply_to_lots", "rows_of"]

LOT_EVENTS = frozenset(
    {"MaterialTakenIn", "MaterialTransformed", "LotTransferred", "MaterialDispatched"}
)


@dataclass
class RowBatch:
    """Rows per table name, in log order."""

    tables: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: defaultdict(list))
    lot_events: list[DecodedEvent] = field(default_factory=list)
    events: int = 0

    def add(self, table: str, row: dict[str, Any]) -> None:
        self.tables[table].append(row)


def _ref(event: DecodedEvent, ts: int) -> dict[str, Any]:
    return {
        "block_number": event.block_number,
        "block_hash": event.block_hash,
        "tx_hash": event.tx_hash,
        "log_index": event.log_index,
        "ts": ts,
    }


def rows_of(events: Iterable[DecodedEvent], ts_of: Callable[[int], int]) -> RowBatch:
    """Rows for every known event; events of no table (ERC-20 Transfer, forwarder) are skipped."""
    batch = RowBatch()
    tables = batch.tables
    for event in events:
        batch.events += 1
        a = event.args
        ref = _ref(event, ts_of(event.block_number))
        name = event.name
        if name == "MaterialTakenIn":
            tables["intake"].append({**ref, "lot_id": a["lotId"], "pilot_id": a["pilot"], "maker": a["maker"],
                                 "material_id": a["materialId"], "source": a["source"], "grams": a["grams"],
                                 "recycled_bp": a["recycledBp"], "evidence": a["evidence"]})  # fmt: skip
            batch.lot_events.append(event)
        elif name == "MaterialTransformed":
            first = a["firstOutputLot"]
            outputs = a["outputs"]
            out_grams = sum(g for _, g in outputs)
            tables["transformation"].append({**ref, "transform_id": first, "pilot_id": a["pilot"], "maker": a["maker"],
                                         "input_grams": sum(a["inputGrams"]), "output_grams": out_grams,
                                         "loss": a["loss"], "recycled_bp": a["recycledBp"],
                                         "evidence": a["evidence"]})  # fmt: skip
            for i, (lot, grams) in enumerate(zip(a["inputLots"], a["inputGrams"], strict=True)):
                tables["transformation_input"].append({"transform_id": first, "position": i, "lot_id": lot,
                                                   "grams": grams, "block_number": event.block_number})  # fmt: skip
            for i, (material, grams) in enumerate(outputs):
                tables["transformation_output"].append({"transform_id": first, "position": i, "lot_id": first + i,
                                                    "material_id": material, "grams": grams,
                                                    "block_number": event.block_number})  # fmt: skip
            batch.lot_events.append(event)
        elif name == "LotTransferred":
            tables["transfer"].append({**ref, "pilot_id": a["pilot"], "sender": a["from"], "recipient": a["to"],
                                   "lot_id": a["lotId"], "received_lot": a["receivedLot"], "grams": a["grams"],
                                   "evidence": a["evidence"]})  # fmt: skip
            batch.lot_events.append(event)
        elif name == "MaterialDispatched":
            tables["dispatch"].append({**ref, "pilot_id": a["pilot"], "maker": a["maker"], "lot_id": a["lotId"],
                                   "grams": a["grams"], "fate": a["fate"], "evidence": a["evidence"]})  # fmt: skip
            batch.lot_events.append(event)
        elif name == "ContributionRecorded":
            tables["contribution"].append({**ref, "contribution_id": a["contributionId"], "pilot_id": a["pilot"],
                                       "maker": a["maker"], "kind": a["kind"], "amount": a["amount"],
                                       "evidence": a["evidence"]})  # fmt: skip
        elif name == "PointsAwarded":
            tables["token_award"].append({**ref, "pilot_id": a["pilot"], "issuer": a["issuer"], "member": a["member"],
                                      "amount": a["amount"], "reason": a["reason"],
                                      "budget_left": a["budgetLeft"]})  # fmt: skip
        elif name == "AwardBudgetSet":
            tables["award_budget"].append(
                {**ref, "pilot_id": a["pilot"], "admin": a["admin"], "budget": a["budget"]},
            )
        elif name == "RewardListed":
            tables["reward"].append({**ref, "reward_id": a["rewardId"], "pilot_id": a["pilot"], "partner": a["partner"],
                                 "cost": a["cost"], "stock": a["stock"], "expiry": a["expiry"]})  # fmt: skip
        elif name == "RewardUpdated":
            tables["reward_update"].append({**ref, "reward_id": a["rewardId"], "pilot_id": a["pilot"],
                                        "stock": a["stock"], "expiry": a["expiry"]})  # fmt: skip
        elif name == "RewardRedeemed":
            tables["redemption"].append({**ref, "redemption_id": a["redemptionId"], "pilot_id": a["pilot"],
                                     "member": a["member"], "reward_id": a["rewardId"], "cost": a["cost"]})  # fmt: skip
        elif name == "RedemptionFulfilled":
            tables["fulfilment"].append({**ref, "redemption_id": a["redemptionId"], "pilot_id": a["pilot"],
                                     "partner": a["partner"]})  # fmt: skip
        elif name == "PilotAdded":
            tables["pilot"].append({**ref, "pilot_id": a["pilot"], "code": text_of(a["code"]),
                                "country": text_of(a["country"]), "name": a["name"], "admin": a["admin"]})  # fmt: skip
        elif name == "RoleChanged":
            tables["role_change"].append({**ref, "pilot_id": a["pilot"], "account": a["account"], "by": a["by"],
                                      "previous": a["previous"], "current": a["current"]})  # fmt: skip
        elif name == "MaterialRegistered":
            tables["material_class"].append({**ref, "material_id": a["materialId"], "code": text_of(a["code"]),
                                         "kind": a["kind"]})  # fmt: skip
        elif name == "PauseChanged":
            tables["pause_change"].append({**ref, "paused": a["paused"], "by": a["by"]})
        else:
            batch.events -= 1
    return batch


def apply_to_lots(
    lots: MutableMapping[int, dict[str, Any]],
    events: Iterable[DecodedEvent],
    ts_of: Callable[[int], int],
) -> set[int]:
    """Fold lot events (in log order) into `lots` (lot id -> row); returns the lot ids touched.

    `lots` must already hold every existing lot that the events draw from.
    """
    touched: set[int] = set()

    def create(lot_id: int, event: DecodedEvent, **values: Any) -> None:
        lots[lot_id] = {"lot_id": lot_id, "created_block": event.block_number,
                        "created_ts": ts_of(event.block_number), "parent_lot": None, **values}  # fmt: skip
        touched.add(lot_id)

    def draw(lot_id: int, grams: int) -> dict[str, Any]:
        row = lots[lot_id]
        row["grams"] -= grams
        touched.add(lot_id)
        return row

    for event in events:
        a: Mapping[str, Any] = event.args
        if event.name == "MaterialTakenIn":
            create(a["lotId"], event, pilot_id=a["pilot"], material_id=a["materialId"], holder=a["maker"],
                   grams=a["grams"], initial_grams=a["grams"], recycled_bp=a["recycledBp"], origin="intake")  # fmt: skip
        elif event.name == "MaterialTransformed":
            for lot, grams in zip(a["inputLots"], a["inputGrams"], strict=True):
                draw(lot, grams)
            for i, (material, grams) in enumerate(a["outputs"]):
                create(a["firstOutputLot"] + i, event, pilot_id=a["pilot"], material_id=material,
                       holder=a["maker"], grams=grams, initial_grams=grams, recycled_bp=a["recycledBp"],
                       origin="transform")  # fmt: skip
        elif event.name == "LotTransferred":
            lot, received = a["lotId"], a["receivedLot"]
            if received == lot:
                lots[lot]["holder"] = a["to"]
                touched.add(lot)
            else:
                parent = draw(lot, a["grams"])
                create(received, event, pilot_id=parent["pilot_id"], material_id=parent["material_id"],
                       holder=a["to"], grams=a["grams"], initial_grams=a["grams"],
                       recycled_bp=parent["recycled_bp"], origin="transfer")  # fmt: skip
                lots[received]["parent_lot"] = lot
        elif event.name == "MaterialDispatched":
            draw(a["lotId"], a["grams"])
    return touched


def lots_needed(events: Iterable[DecodedEvent]) -> set[int]:
    """Existing lots that lot events draw from or hand over (to load before `apply_to_lots`)."""
    needed: set[int] = set()
    for event in events:
        a = event.args
        if event.name == "MaterialTransformed":
            needed.update(a["inputLots"])
        elif event.name in ("LotTransferred", "MaterialDispatched"):
            needed.add(a["lotId"])
    return needed


def lots_created(events: Iterable[DecodedEvent]) -> set[int]:
    """Lots that lot events create (intakes, transformation outputs, partial hand-overs)."""
    created: set[int] = set()
    for event in events:
        a = event.args
        if event.name == "MaterialTakenIn":
            created.add(a["lotId"])
        elif event.name == "MaterialTransformed":
            created.update(range(a["firstOutputLot"], a["firstOutputLot"] + len(a["outputs"])))
        elif event.name == "LotTransferred" and a["receivedLot"] != a["lotId"]:
            created.add(a["receivedLot"])
    return created
