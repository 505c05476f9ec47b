"""Read models as pure functions of event rows: what each row adds to the aggregate tables.

The loader adds the contributions of a batch's rows in the batch's transaction; a reorg subtracts
the contributions of the rows it removes; a rebuild adds those of every row. Because each
additive table is a sum of per-row contributions, the three agree, whatever the order of the
batches (tested in ``tests/ledger/test_aggregates.py``). Rows whose values are all zero carry
nothing: readers sum, and comparisons ignore them.

Rows come as tuples in the store's column order (``ledger.store.db.COLUMNS``), as the loader has
them. The material and recycled content of a lot come from the lot table (``LotInfo``).

- ``agg_flow`` (pilot, month, tail, head, material) -> grams: the flow graph's edges
  (``ledger.circularity.graph``): source -> maker (intake), maker -> maker (hand-over),
  maker -> fate (dispatch), maker -> loss (declared process loss, material -1).
- ``agg_stock`` (pilot, month, holder, material) -> grams: change of what a holder holds,
  counted lot by lot (created +, drawn -, handed over - and +).
- ``agg_maker`` (pilot, month, maker) -> input, output and lost grams of transformations.
- ``agg_product`` (pilot, month, material, fate) -> grams dispatched and grams x recycled bp.
- ``agg_member`` (pilot, month, member) -> points awarded and redeemed, and how many times.
- ``agg_lot`` (pilot, holder, material) -> lots and open lots (from lot states before and after).
- ``agg_reward`` reward -> terms and stock (not additive: folded in log order).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from functools import lru_cache
from operator import itemgetter
from typing import Any

from ledger.vocabulary import FATE_NODES, LOSS_NODE, SOURCE_NODES, maker_node

__all__ = [
    "ADDITIVE",
    "AGG_KEYS",
    "Contributions",
    "LotInfo",
    "contributions",
    "fold_rewards",
    "lot_counts",
    "month_of",
    "negate",
    "summed",
]

#: Key columns of each aggregate table; the other columns are the summed values.
AGG_KEYS: dict[str, tuple[str, ...]] = {
    "agg_flow": ("pilot_id", "month", "tail", "head", "material_id"),
    "agg_stock": ("pilot_id", "month", "holder", "material_id"),
    "agg_maker": ("pilot_id", "month", "maker"),
    "agg_product": ("pilot_id", "month", "material_id", "fate"),
    "agg_member": ("pilot_id", "month", "member"),
    "agg_lot": ("pilot_id", "holder", "material_id"),
    "agg_reward": ("reward_id",),
}
#: Tables that are sums of per-row contributions (agg_lot is a sum of per-lot-state ones).
ADDITIVE = ("agg_flow", "agg_stock", "agg_maker", "agg_product", "agg_member")

#: Per table: key tuple -> list of values (in the table's value-column order).
Contributions = dict[str, dict[tuple[Any, ...], list[int]]]
#: Lot id -> (material id, recycled content in bp).
LotInfo = Mapping[int, tuple[int, int]]

UNKNOWN = (-1, 0)


@lru_cache(maxsize=4096)
def _month_of_day(day: int) -> int:
    when = datetime.fromtimestamp(day * 86_400, UTC)
    return int(datetime(when.year, when.month, 1, tzinfo=UTC).timestamp())


def month_of(ts: int) -> int:
    """The UTC month start (unix seconds) of a block time."""
    return _month_of_day(ts // 86_400)


def _add(table: dict[tuple[Any, ...], list[int]], key: tuple[Any, ...], *values: int) -> None:
    found = table.get(key)
    if found is None:
        table[key] = list(values)
    else:
        for i, v in enumerate(values):
            found[i] += v


def contributions(
    rows: Mapping[str, Sequence[tuple[Any, ...]]],
    columns: Mapping[str, Sequence[str]],
    lots: LotInfo,
) -> Contributions:
    """What `rows` (per event table, tuples in `columns` order) add to the additive tables.

    A transformation's input and output rows come with their transformation row (one event,
    one block: they are loaded and removed together).
    """
    out: Contributions = {name: {} for name in ADDITIVE}
    flow, stock, maker_t, product, member = (out[n] for n in ADDITIVE)

    def get(table: str, *names: str) -> Any:
        return itemgetter(*(list(columns[table]).index(n) for n in names))

    intake = get("intake", "pilot_id", "ts", "maker", "source", "material_id", "grams")
    for r in rows.get("intake", ()):
        pilot, ts, maker, source, material, grams = intake(r)
        month = month_of(ts)
        _add(flow, (pilot, month, SOURCE_NODES[source], maker_node(maker), material), grams)
        _add(stock, (pilot, month, maker, material), grams)

    x_of = get("transformation", "transform_id", "pilot_id", "ts", "maker")
    x_sums = get("transformation", "input_grams", "output_grams", "loss")
    parents = {x_of(r)[0]: r for r in rows.get("transformation", ())}
    for r in rows.get("transformation", ()):
        _, pilot, ts, maker = x_of(r)
        month = month_of(ts)
        inputs, outputs, loss = x_sums(r)
        _add(maker_t, (pilot, month, maker), inputs, outputs, loss)
        if loss > 0:
            _add(flow, (pilot, month, maker_node(maker), LOSS_NODE, -1), loss)
    for table, sign in (("transformation_input", -1), ("transformation_output", 1)):
        part = get(table, "transform_id", "lot_id", "grams")
        for r in rows.get(table, ()):
            transform_id, lot, grams = part(r)
            _, pilot, ts, maker = x_of(parents[transform_id])
            material = lots.get(lot, UNKNOWN)[0]
            _add(stock, (pilot, month_of(ts), maker, material), sign * grams)

    transfer = get("transfer", "pilot_id", "ts", "sender", "recipient", "lot_id", "grams")
    for r in rows.get("transfer", ()):
        pilot, ts, sender, recipient, lot, grams = transfer(r)
        month, material = month_of(ts), lots.get(lot, UNKNOWN)[0]
        _add(flow, (pilot, month, maker_node(sender), maker_node(recipient), material), grams)
        # Whole or partial, a hand-over moves its grams from the sender to the recipient (a
        # whole lot's grams are what was left of it).
        _add(stock, (pilot, month, sender, material), -grams)
        _add(stock, (pilot, month, recipient, material), grams)

    dispatch = get("dispatch", "pilot_id", "ts", "maker", "lot_id", "grams", "fate")
    for r in rows.get("dispatch", ()):
        pilot, ts, maker, lot, grams, fate = dispatch(r)
        month = month_of(ts)
        material, recycled_bp = lots.get(lot, UNKNOWN)
        _add(flow, (pilot, month, maker_node(maker), FATE_NODES[fate], material), grams)
        _add(stock, (pilot, month, maker, material), -grams)
        _add(product, (pilot, month, material, fate), grams, grams * recycled_bp)

    award = get("token_award", "pilot_id", "ts", "member", "amount")
    for r in rows.get("token_award", ()):
        pilot, ts, who, amount = award(r)
        _add(member, (pilot, month_of(ts), who), amount, 0, 1, 0)
    redemption = get("redemption", "pilot_id", "ts", "member", "cost")
    for r in rows.get("redemption", ()):
        pilot, ts, who, cost = redemption(r)
        _add(member, (pilot, month_of(ts), who), 0, cost, 0, 1)
    return out


def negate(parts: Contributions) -> Contributions:
    """The contributions to take away (rows a reorg removed)."""
    return {name: {k: [-v for v in vs] for k, vs in table.items()} for name, table in parts.items()}


def lot_counts(
    before: Iterable[Mapping[str, Any]], after: Iterable[Mapping[str, Any]]
) -> dict[tuple[Any, ...], list[int]]:
    """What changes of lot states (rows of the lot table) add to ``agg_lot``."""
    out: dict[tuple[Any, ...], list[int]] = {}
    for sign, states in ((-1, before), (1, after)):
        for lot in states:
            key = (lot["pilot_id"], lot["holder"], lot["material_id"])
            _add(out, key, sign, sign if lot["grams"] > 0 else 0)
    return out


def fold_rewards(
    current: Mapping[int, dict[str, Any]],
    rows: Mapping[str, Sequence[tuple[Any, ...]]],
    columns: Mapping[str, Sequence[str]],
) -> dict[int, dict[str, Any]]:
    """Rewards after the listings, updates and redemptions of `rows` (in log order), starting
    from `current` (``agg_reward`` rows by reward id); returns the rewards that changed."""
    events: list[tuple[int, int, str, tuple[Any, ...]]] = []
    for table in ("reward", "reward_update", "redemption"):
        order = itemgetter(columns[table].index("block_number"), columns[table].index("log_index"))
        events += [(*order(r), table, r) for r in rows.get(table, ())]
    events.sort(key=itemgetter(0, 1))
    changed: dict[int, dict[str, Any]] = {}
    for _, _, table, r in events:
        row = dict(zip(columns[table], r, strict=True))
        reward_id = row["reward_id"]
        if table == "reward":
            changed[reward_id] = {
                "reward_id": reward_id,
                "pilot_id": row["pilot_id"],
                "partner": row["partner"],
                "cost": row["cost"],
                "stock_set": row["stock"],
                "redeemed_since_set": 0,
                "expiry": row["expiry"],
                "redemptions": 0,
            }
            continue
        reward = changed.get(reward_id)
        if reward is None:
            if reward_id not in current:
                continue  # a reward listed before the deployment block: nothing to count on
            reward = changed[reward_id] = dict(current[reward_id])
        if table == "reward_update":
            reward.update(stock_set=row["stock"], expiry=row["expiry"], redeemed_since_set=0)
        else:
            reward["redeemed_since_set"] += 1
            reward["redemptions"] += 1
    return changed


def summed(parts: Iterable[Contributions]) -> Contributions:
    """Several contributions as one."""
    out: Contributions = defaultdict(dict)
    for part in parts:
        for name, table in part.items():
            for key, values in table.items():
                _add(out[name], key, *values)
    return dict(out)
