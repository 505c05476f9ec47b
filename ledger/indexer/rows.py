"""From decoded events to table rows, and the current state of lots: pure functions.

``rows_of(events, ts_of)`` turns decoded events into rows per table and into *lot operations*;
``apply_lot_ops`` folds those operations over the lots they touch. Both are replayed identically
for a backfill, an incremental run, a rebuild after a reorg and an audit.

A lot operation is a plain tuple (cheap to fold and to send between processes):

- ``(NEW, lot_id, block, ts, pilot_id, material_id, holder, grams, recycled_bp, origin)``
- ``(DRAW, lot_id, grams)``: grams taken from a lot (a transformation input or a dispatch)
- ``(HOLD, lot_id, holder)``: a whole lot handed over (it keeps its id)
- ``(SPLIT, lot_id, new_lot, block, ts, holder, grams)``: part of a lot handed over as a child
  lot with its parent's pilot, material and recycled content
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, MutableMapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ledger.events import DecodedEvent, text_of

__all__ = [
    "DRAW",
    "HOLD",
    "NEW",
    "SPLIT",
    "LotOp",
    "RowBatch",
    "apply_lot_ops",
    "lots_created",
    "lots_needed",
    "malformed_row",
    "rows_of",
]

NEW, SPLIT, DRAW, HOLD = 0, 1, 2, 3
LotOp = tuple[Any, ...]


@dataclass
class RowBatch:
    """Rows per table name, in log order."""

    tables: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: defaultdict(list))
    lot_ops: list[LotOp] = field(default_factory=list)
    events: int = 0


def _ref(event: DecodedEvent, ts: int) -> dict[str, Any]:
    return {
        "block_number": event.block_number,
        "block_hash": event.block_hash,
        "tx_hash": event.tx_hash,
        "log_index": event.log_index,
        "ts": ts,
    }


def malformed_row(
    ref: dict[str, Any], address: str, topics: str, data: str, reason: str
) -> dict[str, Any]:
    """The row of a log that could not be decoded or turned into rows (table ``malformed_log``)."""
    return {**ref, "address": address, "topics": topics, "data": data, "reason": reason[:2000]}


def rows_of(events: Iterable[DecodedEvent], ts_of: Callable[[int], int]) -> RowBatch:
    """Rows for every known event; events of no table (ERC-20 Transfer, forwarder) are skipped.

    An event whose fields do not make rows (data no honest contract emits) becomes a
    ``malformed_log`` row instead, so that one bad event cannot stop the indexer. Integers too
    wide for the store are looked for once over the whole batch; only a batch holding one is
    taken again event by event, to set aside the events that made them."""
    events = list(events)
    batch = _rows(events, ts_of, check_each=False)
    if any(_wide_integer(rows) for rows in batch.tables.values()):
        batch = _rows(events, ts_of, check_each=True)
    return batch


def _rows(
    events: Sequence[DecodedEvent], ts_of: Callable[[int], int], *, check_each: bool
) -> RowBatch:
    batch = RowBatch()
    tables = batch.tables
    marks: dict[str, int] = {}
    for event in events:
        batch.events += 1
        ts = ts_of(event.block_number)
        if check_each:
            marks = {name: len(rows) for name, rows in tables.items()}
        ops = len(batch.lot_ops)
        try:
            # Each branch computes every value before it appends, so a failure adds nothing.
            if not _add_rows(event, ts, tables, batch.lot_ops):
                batch.events -= 1
            if check_each:
                for name, rows in tables.items():
                    if wide := _wide_integer(rows[marks.get(name, 0) :]):
                        raise OverflowError(wide)
        except (KeyError, TypeError, ValueError, ArithmeticError) as exc:
            if check_each:  # drop what the event added before the check failed
                for name, rows in tables.items():
                    del rows[marks.get(name, 0) :]
            del batch.lot_ops[ops:]
            reason = f"{event.contract}.{event.name}: {type(exc).__name__}: {exc}"
            fields = repr(dict(event.args))[:4000]
            row = malformed_row(_ref(event, ts), event.address, "", fields, reason)
            tables["malformed_log"].append(row)
    return batch


#: The integers every SQL store holds (a signed 64-bit column); wider values are kept as text.
_SQL_INTEGER = range(-(2**63), 2**63)


def _wide_integer(rows: Sequence[dict[str, Any]]) -> str:
    """Why `rows` cannot be stored ("" when they can): an integer no SQL column can take (a
    uint64 deadline of 10**19 fits the contract, not the store)."""
    for row in rows:
        for column, value in row.items():
            if isinstance(value, int) and value not in _SQL_INTEGER:
                return f"{column} = {value} is beyond a 64-bit signed integer"
    return ""


def _add_rows(
    event: DecodedEvent,
    ts: int,
    tables: dict[str, list[dict[str, Any]]],
    ops: list[LotOp],
) -> bool:
    """Append the rows and lot operations of one event; False for an event of no table."""
    a = event.args
    block = event.block_number
    ref = _ref(event, ts)
    name = event.name
    if name == "MaterialTakenIn":
        tables["intake"].append(
            {
                **ref,
                "lot_id": a["lotId"],
                "pilot_id": a["pilot"],
                "maker": a["maker"],
                "material_id": a["materialId"],
                "source": a["source"],
                "grams": a["grams"],
                "recycled_bp": a["recycledBp"],
                "evidence": a["evidence"],
            }
        )
        ops.append(
            (
                NEW,
                a["lotId"],
                block,
                ts,
                a["pilot"],
                a["materialId"],
                a["maker"],
                a["grams"],
                a["recycledBp"],
                "intake",
            )
        )
    elif name == "MaterialTransformed":
        first = a["firstOutputLot"]
        outputs = a["outputs"]
        out_grams = sum(g for _, g in outputs)
        inputs = list(zip(a["inputLots"], a["inputGrams"], strict=True))
        tables["transformation"].append(
            {
                **ref,
                "transform_id": first,
                "pilot_id": a["pilot"],
                "maker": a["maker"],
                "input_grams": sum(a["inputGrams"]),
                "output_grams": out_grams,
                "loss": a["loss"],
                "recycled_bp": a["recycledBp"],
                "evidence": a["evidence"],
            }
        )
        for i, (lot, grams) in enumerate(inputs):
            tables["transformation_input"].append(
                {
                    "transform_id": first,
                    "position": i,
                    "lot_id": lot,
                    "grams": grams,
                    "block_number": block,
                }
            )
            ops.append((DRAW, lot, grams))
        for i, (material, grams) in enumerate(outputs):
            tables["transformation_output"].append(
                {
                    "transform_id": first,
                    "position": i,
                    "lot_id": first + i,
                    "material_id": material,
                    "grams": grams,
                    "block_number": block,
                }
            )
            ops.append(
                (
                    NEW,
                    first + i,
                    block,
                    ts,
                    a["pilot"],
                    material,
                    a["maker"],
                    grams,
                    a["recycledBp"],
                    "transform",
                )
            )
    elif name == "LotTransferred":
        tables["transfer"].append(
            {
                **ref,
                "pilot_id": a["pilot"],
                "sender": a["from"],
                "recipient": a["to"],
                "lot_id": a["lotId"],
                "received_lot": a["receivedLot"],
                "grams": a["grams"],
                "evidence": a["evidence"],
            }
        )
        if a["receivedLot"] == a["lotId"]:
            ops.append((HOLD, a["lotId"], a["to"]))
        else:
            ops.append((SPLIT, a["lotId"], a["receivedLot"], block, ts, a["to"], a["grams"]))
    elif name == "MaterialDispatched":
        tables["dispatch"].append(
            {
                **ref,
                "pilot_id": a["pilot"],
                "maker": a["maker"],
                "lot_id": a["lotId"],
                "grams": a["grams"],
                "fate": a["fate"],
                "evidence": a["evidence"],
            }
        )
        ops.append((DRAW, a["lotId"], a["grams"]))
    elif name == "ContributionRecorded":
        tables["contribution"].append(
            {
                **ref,
                "contribution_id": a["contributionId"],
                "pilot_id": a["pilot"],
                "maker": a["maker"],
                "kind": a["kind"],
                "amount": a["amount"],
                "evidence": a["evidence"],
            }
        )
    elif name == "PointsAwarded":
        tables["token_award"].append(
            {
                **ref,
                "pilot_id": a["pilot"],
                "issuer": a["issuer"],
                "member": a["member"],
                "amount": a["amount"],
                "reason": a["reason"],
                "budget_left": a["budgetLeft"],
            }
        )
    elif name == "AwardBudgetSet":
        tables["award_budget"].append(
            {**ref, "pilot_id": a["pilot"], "admin": a["admin"], "budget": a["budget"]},
        )
    elif name == "RewardListed":
        tables["reward"].append(
            {
                **ref,
                "reward_id": a["rewardId"],
                "pilot_id": a["pilot"],
                "partner": a["partner"],
                "cost": a["cost"],
                "stock": a["stock"],
                "expiry": a["expiry"],
            }
        )
    elif name == "RewardUpdated":
        tables["reward_update"].append(
            {
                **ref,
                "reward_id": a["rewardId"],
                "pilot_id": a["pilot"],
                "stock": a["stock"],
                "expiry": a["expiry"],
            }
        )
    elif name == "RewardRedeemed":
        tables["redemption"].append(
            {
                **ref,
                "redemption_id": a["redemptionId"],
                "pilot_id": a["pilot"],
                "member": a["member"],
                "reward_id": a["rewardId"],
                "cost": a["cost"],
            }
        )
    elif name == "RedemptionFulfilled":
        tables["fulfilment"].append(
            {
                **ref,
                "redemption_id": a["redemptionId"],
                "pilot_id": a["pilot"],
                "partner": a["partner"],
            }
        )
    elif name == "PilotAdded":
        tables["pilot"].append(
            {
                **ref,
                "pilot_id": a["pilot"],
                "code": text_of(a["code"]),
                "code_raw": a["code"],
                "country": text_of(a["country"]),
                "name": a["name"],
                "admin": a["admin"],
            }
        )
    elif name == "RoleChanged":
        tables["role_change"].append(
            {
                **ref,
                "pilot_id": a["pilot"],
                "account": a["account"],
                "by": a["by"],
                "previous": a["previous"],
                "current": a["current"],
            }
        )
    elif name == "MaterialRegistered":
        tables["material_class"].append(
            {
                **ref,
                "material_id": a["materialId"],
                "pilot_id": a["pilot"],
                "code": text_of(a["code"]),
                "code_raw": a["code"],
                "kind": a["kind"],
            }
        )
    elif name in _COMMUNITY:
        table, row = _COMMUNITY[name](a)
        tables[table].append({**ref, **row})
    elif name == "PauseChanged":
        tables["pause_change"].append({**ref, "paused": a["paused"], "by": a["by"]})
    elif name in CHALLENGE_EVENTS:
        tables[CHALLENGE_EVENTS[name]].append(_challenge_row(name, a, ref))
    else:
        return False
    return True


_Row = Callable[[Mapping[str, Any]], tuple[str, dict[str, Any]]]

#: Community programme events: (table, row without the chain reference) per event name.
_COMMUNITY: dict[str, _Row] = {
    "EventCreated": lambda a: (
        "community_event",
        {
            "event_id": a["eventId"],
            "pilot_id": a["pilot"],
            "creator": a["creator"],
            "kind": a["kind"],
            "opens": a["opens"],
            "closes": a["closes"],
            "points": a["points"],
            "signer": a["signer"],
            "venue": a["venue"],
        },
    ),
    "CheckedIn": lambda a: (
        "attendance",
        {
            "event_id": a["eventId"],
            "pilot_id": a["pilot"],
            "member": a["member"],
        },
    ),
    "CredentialIssued": lambda a: (
        "skill_credential",
        {
            "credential_id": a["credentialId"],
            "pilot_id": a["pilot"],
            "holder": a["holder"],
            "skill": _code(a["skill"]),
            "level": a["level"],
            "event_id": a["eventId"],
            "issuer": a["issuer"],
        },
    ),
    "HoldPeriodSet": lambda a: (
        "hold_period",
        {"pilot_id": a["pilot"], "admin": a["admin"], "period": a["period"]},
    ),
    "PointsHeld": lambda a: (
        "drop_off_hold",
        {
            "hold_id": a["holdId"],
            "pilot_id": a["pilot"],
            "member": a["member"],
            "points": a["points"],
            "release_at": a["releaseAt"],
            "issuer": a["issuer"],
            "evidence": a["evidence"],
        },
    ),
    "HoldVoided": lambda a: (
        "hold_void",
        {
            "hold_id": a["holdId"],
            "pilot_id": a["pilot"],
            "by": a["by"],
            "reason": _code(a["reason"]),
        },
    ),
    "HoldReleased": lambda a: (
        "hold_release",
        {
            "hold_id": a["holdId"],
            "pilot_id": a["pilot"],
            "member": a["member"],
            "points": a["points"],
        },
    ),
}


def _code(value: bytes | str) -> str:
    """A bytesN code as text; anyone may write any bytes there, so non-text stays hex."""
    try:
        text = text_of(value)
    except UnicodeDecodeError:
        text = ""
    if text.isprintable() and text:
        return text
    return value if isinstance(value, str) else "0x" + value.hex()


#: ChallengeBoard events and their tables.
CHALLENGE_EVENTS = {
    "ChallengePosted": "challenge",
    "ProposalSubmitted": "proposal",
    "ProposalShortlisted": "proposal_step",
    "ProposalSelected": "proposal_step",
    "MilestoneCompleted": "proposal_step",
}


def _hex(value: Any) -> str:
    return value if isinstance(value, str) else "0x" + bytes(value).hex()


def _challenge_row(name: str, a: Mapping[str, Any], ref: dict[str, Any]) -> dict[str, Any]:
    if name == "ChallengePosted":
        # uint128 budgets exceed 64-bit columns: kept as decimal text.
        return {
            **ref,
            "challenge_id": a["challengeId"],
            "pilot_id": a["pilot"],
            "owner": a["owner"],
            "brief": _hex(a["brief"]),
            "material_id": a["material"],
            "budget": str(a["budget"]),
            "deadline": a["deadline"],
        }
    if name == "ProposalSubmitted":
        return {
            **ref,
            "proposal_id": a["proposalId"],
            "challenge_id": a["challengeId"],
            "proposer": a["proposer"],
            "evidence": _hex(a["evidence"]),
        }
    step = {
        "challenge_id": a["challengeId"],
        "proposal_id": a["proposalId"],
        "award": "0",
        "milestones": 0,
        "milestone": None,
        "evidence": None,
    }
    if name == "ProposalShortlisted":
        return {**ref, **step, "step": "shortlisted"}
    if name == "ProposalSelected":
        return {
            **ref,
            **step,
            "step": "selected",
            "award": str(a["award"]),
            "milestones": a["milestones"],
        }
    return {
        **ref,
        **step,
        "step": "milestone",
        "milestone": a["index"],
        "evidence": _hex(a["evidence"]),
    }


def _lot_row(
    lot_id: int,
    block: int,
    ts: int,
    pilot: int,
    material: int,
    holder: str,
    grams: int,
    recycled_bp: int,
    origin: str,
    parent: int | None,
) -> dict[str, Any]:
    return {
        "lot_id": lot_id,
        "pilot_id": pilot,
        "material_id": material,
        "holder": holder,
        "grams": grams,
        "initial_grams": grams,
        "recycled_bp": recycled_bp,
        "origin": origin,
        "parent_lot": parent,
        "created_block": block,
        "created_ts": ts,
    }


def apply_lot_ops(lots: MutableMapping[int, dict[str, Any]], ops: Iterable[LotOp]) -> set[int]:
    """Fold lot operations (in log order) into `lots` (lot id -> row); returns the lot ids touched.

    `lots` must already hold every existing lot that the operations draw from or hand over.
    """
    touched: set[int] = set()
    for op in ops:
        kind, lot_id = op[0], op[1]
        if kind == NEW:
            _, _, block, ts, pilot, material, holder, grams, recycled_bp, origin = op
            lots[lot_id] = _lot_row(
                lot_id, block, ts, pilot, material, holder, grams, recycled_bp, origin, None
            )
        elif kind == DRAW:
            lots[lot_id]["grams"] -= op[2]
        elif kind == HOLD:
            lots[lot_id]["holder"] = op[2]
        else:  # SPLIT
            _, _, new_lot, block, ts, holder, grams = op
            parent = lots[lot_id]
            parent["grams"] -= grams
            lots[new_lot] = _lot_row(
                new_lot,
                block,
                ts,
                parent["pilot_id"],
                parent["material_id"],
                holder,
                grams,
                parent["recycled_bp"],
                "transfer",
                lot_id,
            )
            touched.add(new_lot)
        touched.add(lot_id)
    return touched


def lots_needed(ops: Iterable[LotOp]) -> set[int]:
    """Lots that operations draw from or hand over (to load before `apply_lot_ops`)."""
    return {op[1] for op in ops if op[0] != NEW}


def lots_created(ops: Iterable[LotOp]) -> set[int]:
    """Lots that operations create (intakes, transformation outputs, partial hand-overs)."""
    return {op[1] if op[0] == NEW else op[2] for op in ops if op[0] in (NEW, SPLIT)}
