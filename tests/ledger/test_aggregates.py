"""Read models kept block by block equal read models rebuilt from the rows, through reorgs; and
the flow graph from the aggregates gives the figures of the graph from every record."""

from __future__ import annotations

import copy
import random
from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from ledger.circularity.aggregated import flow_graph, month_aligned, read_period_flows
from ledger.circularity.graph import build_flow_graph
from ledger.circularity.period import Period
from ledger.circularity.records import load_records
from ledger.circularity.report import headline
from ledger.events import DecodedEvent
from ledger.indexer.aggregates import month_of
from ledger.indexer.extract import Header
from ledger.indexer.load import load_prepared, rebuild_aggregates, rollback
from ledger.indexer.prepare import Prepared
from ledger.indexer.rows import rows_of
from ledger.store.db import AGG_TABLES, COLUMNS, Store
from ledger.store.rowtuples import tuples_of

MAKERS = {
    1: ["0x" + "a1" * 20, "0x" + "a2" * 20, "0x" + "a3" * 20],
    2: ["0x" + "b1" * 20, "0x" + "b2" * 20],
}
MEMBERS = ["0x" + "c1" * 20, "0x" + "c2" * 20, "0x" + "c3" * 20]
MATERIALS = {1: 1, 2: 1, 3: 2, 4: 2}  # material id -> kind (2: product)
T0 = 1_767_225_600  # 2026-01-01 UTC
CHAIN = {"chain_id": 31337, "genesis": "0x" + "00" * 32}


@dataclass
class Sim:
    """The contracts' state, as far as the events need it (lots, rewards, counters)."""

    lots: dict[int, dict[str, Any]] = field(default_factory=dict)
    rewards: dict[int, dict[str, Any]] = field(default_factory=dict)
    next_lot: int = 1
    next_redemption: int = 1


def _event(name: str, block: int, branch: int, index: int, **args: Any) -> DecodedEvent:
    return DecodedEvent(
        "C",
        name,
        "0x" + "00" * 20,
        block,
        _hash(block, branch),
        "0x" + f"{index:064x}",
        index,
        args,
    )


def _hash(number: int, branch: int) -> str:
    return "0x" + f"{branch:032x}{number:032x}"


def _act(sim: Sim, kind: int, rng: random.Random, emit: Any) -> None:
    """One contract call (skipped when the state does not allow it), as its events."""
    pilot = rng.choice([1, 2])
    maker = rng.choice(MAKERS[pilot])
    held = [i for i, lot in sim.lots.items() if lot["holder"] == maker and lot["grams"] > 0]
    ev = b"\x00" * 32
    if kind == 0 or (kind in (1, 2, 3) and not held):
        source = rng.randint(1, 5)
        lot, grams, material = sim.next_lot, rng.randint(1, 5000), rng.choice([1, 2])
        bp = 0 if source == 5 else 10_000
        sim.next_lot += 1
        sim.lots[lot] = {
            "holder": maker,
            "grams": grams,
            "material": material,
            "bp": bp,
            "pilot": pilot,
        }
        emit(
            "MaterialTakenIn",
            lotId=lot,
            pilot=pilot,
            maker=maker,
            materialId=material,
            source=source,
            grams=grams,
            recycledBp=bp,
            evidence=ev,
        )
    elif kind == 1:
        inputs = rng.sample(held, min(len(held), rng.randint(1, 2)))
        draws = [rng.randint(1, sim.lots[i]["grams"]) for i in inputs]
        total = sum(draws)
        loss = rng.randint(0, total - 1)
        outs = [rng.randint(1, total - loss)] if total - loss > 1 and rng.random() < 0.5 else []
        outs.append(total - loss - sum(outs))
        bp = sum(sim.lots[i]["bp"] * g for i, g in zip(inputs, draws, strict=True)) // total
        for i, g in zip(inputs, draws, strict=True):
            sim.lots[i]["grams"] -= g
        first = sim.next_lot
        outputs = []
        for g in outs:
            material = rng.choice([3, 4])
            sim.lots[sim.next_lot] = {
                "holder": maker,
                "grams": g,
                "material": material,
                "bp": bp,
                "pilot": pilot,
            }
            outputs.append((material, g))
            sim.next_lot += 1
        emit(
            "MaterialTransformed",
            firstOutputLot=first,
            outputs=outputs,
            inputLots=inputs,
            inputGrams=draws,
            loss=loss,
            recycledBp=bp,
            pilot=pilot,
            maker=maker,
            evidence=ev,
        )
    elif kind == 2:
        lot = rng.choice(held)
        to = rng.choice([m for m in MAKERS[pilot] if m != maker])
        grams = rng.choice([sim.lots[lot]["grams"], rng.randint(1, sim.lots[lot]["grams"])])
        if grams == sim.lots[lot]["grams"]:
            sim.lots[lot]["holder"] = to
            received = lot
        else:
            received = sim.next_lot
            sim.next_lot += 1
            sim.lots[lot]["grams"] -= grams
            sim.lots[received] = {**sim.lots[lot], "holder": to, "grams": grams}
        emit(
            "LotTransferred",
            pilot=pilot,
            **{"from": maker, "to": to},
            lotId=lot,
            receivedLot=received,
            grams=grams,
            evidence=ev,
        )
    elif kind == 3:
        lot = rng.choice(held)
        grams = rng.randint(1, sim.lots[lot]["grams"])
        sim.lots[lot]["grams"] -= grams
        emit(
            "MaterialDispatched",
            pilot=pilot,
            maker=maker,
            lotId=lot,
            grams=grams,
            fate=rng.randint(1, 7),
            evidence=ev,
        )
    elif kind == 4:
        emit(
            "PointsAwarded",
            pilot=pilot,
            issuer=maker,
            member=rng.choice(MEMBERS),
            amount=rng.randint(1, 50),
            reason=1,
            budgetLeft=1000,
        )
    elif kind == 5:
        reward = (pilot << 32) | (len(sim.rewards) + 1)
        sim.rewards[reward] = {
            "pilot": pilot,
            "cost": rng.randint(1, 20),
            "stock": rng.randint(0, 3),
        }
        emit(
            "RewardListed",
            rewardId=reward,
            pilot=pilot,
            partner=maker,
            cost=sim.rewards[reward]["cost"],
            stock=sim.rewards[reward]["stock"],
            expiry=T0 + 10**8,
        )
    elif kind == 6 and sim.rewards:
        reward = rng.choice(sorted(sim.rewards))
        sim.rewards[reward]["stock"] = rng.randint(0, 3)
        emit(
            "RewardUpdated",
            rewardId=reward,
            pilot=sim.rewards[reward]["pilot"],
            stock=sim.rewards[reward]["stock"],
            expiry=T0 + 10**8,
        )
    elif kind == 7:
        stocked = [r for r in sorted(sim.rewards) if sim.rewards[r]["stock"] > 0]
        if stocked:
            reward = rng.choice(stocked)
            sim.rewards[reward]["stock"] -= 1
            emit(
                "RewardRedeemed",
                redemptionId=sim.next_redemption,
                pilot=sim.rewards[reward]["pilot"],
                member=rng.choice(MEMBERS),
                rewardId=reward,
                cost=sim.rewards[reward]["cost"],
            )
            sim.next_redemption += 1


def _prepared(blocks: list[tuple[Header, list[DecodedEvent]]], parent: Header) -> Prepared:
    events = [e for _, block in blocks for e in block]
    ts = {h.number: h.ts for h, _ in blocks}
    rows = rows_of(events, ts.__getitem__)
    return Prepared(
        blocks[0][0].number,
        blocks[-1][0].number,
        {h.number: h for h, _ in blocks},
        parent,
        rows={n: tuples_of(COLUMNS[n], t) for n, t in rows.tables.items()},
        lot_ops=rows.lot_ops,
        events=len(events),
    )


def _aggregates(store: Store, conn: Any) -> dict[str, list[tuple[Any, ...]]]:
    """Every aggregate row whose values are not all zero, sorted."""
    out = {}
    for name in AGG_TABLES:
        table = store.tables[name]
        keys = {c.name for c in table.primary_key.columns}
        values = [i for i, c in enumerate(COLUMNS[name]) if c not in keys]
        rows = [tuple(r) for r in conn.execute(select(*(table.c[c] for c in COLUMNS[name])))]
        keep = name == "agg_reward"  # not a sum: a reward with nothing left is still listed
        out[name] = sorted(r for r in rows if keep or any(r[i] != 0 for i in values))
    return out


def run_history(store: Store, actions: list[tuple[int, int]]) -> None:
    """Drive the loader and the reorg rollback through a random history."""
    store.clear()
    sim, branch = Sim(), 0
    chain: list[tuple[Header, Sim]] = [(Header(0, _hash(0, 0), "0x" + "00" * 32, T0), Sim())]
    pending: list[tuple[Header, list[DecodedEvent]]] = []
    current: list[DecodedEvent] = []
    loaded = 0  # highest loaded block

    def head() -> Header:
        return pending[-1][0] if pending else chain[-1][0]

    def close_block(rng: random.Random) -> None:
        nonlocal current
        parent = head()
        number = parent.number + 1
        # Blocks days to weeks apart, so that histories cross month boundaries.
        header = Header(
            number, _hash(number, branch), parent.hash, parent.ts + rng.randint(3600, 20 * 86_400)
        )
        for e in current:
            object.__setattr__(e, "block_number", number)
            object.__setattr__(e, "block_hash", header.hash)
        pending.append((header, current))
        chain.append((header, copy.deepcopy(sim)))
        current = []

    def flush() -> None:
        nonlocal loaded
        if pending:
            parent = next(h for h, _ in chain if h.number == pending[0][0].number - 1)
            load_prepared(store, _prepared(pending, parent), **CHAIN)
            loaded = pending[-1][0].number
            pending.clear()

    for kind, seed in actions:
        rng = random.Random(seed)
        if kind < 8:
            index = len(current)
            _act(
                sim,
                kind,
                rng,
                lambda name, b=branch, i=index, **args: current.append(
                    _event(name, 0, b, i, **args)
                ),
            )
        elif kind == 8:
            close_block(rng)
            if rng.random() < 0.6:
                flush()
        else:  # a reorg: the chain drops its last 1..3 blocks and grows another branch
            close_block(rng)
            flush()
            depth = min(rng.randint(1, 3), len(chain) - 1)
            del chain[len(chain) - depth :]
            ancestor, state = chain[-1]
            rollback(store, ancestor, old_head=loaded, now=0, **CHAIN)
            sim, branch, loaded = copy.deepcopy(state), branch + 1, ancestor.number
    close_block(random.Random(0))
    flush()


def check_rebuild_matches(store: Store) -> None:
    with store.engine.connect() as conn:
        kept = _aggregates(store, conn)
        rebuild_aggregates(conn, store)
        rebuilt = _aggregates(store, conn)
        conn.rollback()
    assert kept == rebuilt


ACTIONS = st.lists(st.tuples(st.integers(0, 9), st.integers(0, 2**32)), max_size=80)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(actions=ACTIONS)
def test_aggregates_kept_block_by_block_equal_a_rebuild(
    store_url: str, actions: list[tuple[int, int]]
) -> None:
    store = Store.open(store_url)
    run_history(store, actions)
    check_rebuild_matches(store)


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(actions=ACTIONS)
def test_graph_from_aggregates_gives_the_figures_of_every_record(
    tmp_path_factory: Any, actions: list[tuple[int, int]]
) -> None:
    store = Store.open(f"sqlite:///{tmp_path_factory.mktemp('agg') / 'index.sqlite'}")
    run_history(store, actions)
    records = load_records(store.engine)
    periods = [
        Period.everything(),
        Period.year(2026),
        Period.quarter(2026, 2),
        Period.month(2026, 1),
    ]
    periods += [Period.month(2026, m) for m in range(2, 8)]
    with store.engine.connect() as conn:
        for pilot in (1, 2):
            for period in periods:
                assert month_aligned(period)
                expected = headline(build_flow_graph(records.for_pilot(pilot), period, pilot=pilot))
                got = headline(
                    flow_graph(
                        read_period_flows(conn, pilot, period), period, MATERIALS, pilot=pilot
                    )
                )
                assert got == pytest.approx(expected), (pilot, period.label)


def test_a_reorg_takes_the_removed_blocks_out_of_the_aggregates(store_url: str) -> None:
    """Three blocks, a reorg back to the first: only the first block's intake is counted."""
    store = Store.open(store_url)
    actions = [(0, 1), (8, 1), (0, 2), (4, 3), (8, 2), (9, 3)]
    run_history(store, actions)
    with store.engine.connect() as conn:
        flows = conn.execute(select(store.tables["agg_flow"])).mappings().all()
        members = conn.execute(select(store.tables["agg_member"])).mappings().all()
        reorgs = conn.execute(select(store.tables["reorg"])).mappings().all()
    records = load_records(store.engine)
    assert len(reorgs) == 1 and len(records.intakes) < 2
    check_rebuild_matches(store)
    assert sum(r["grams"] for r in flows) == int(records.intakes["grams"].sum())
    assert sum(r["awarded"] for r in members) == int(records.awards["amount"].sum())


def test_month_of_is_the_utc_month_start() -> None:
    assert month_of(T0 + 31 * 86_400 + 5) == T0 + 31 * 86_400  # 2026-02-01
    assert month_of(T0 - 1) == T0 - 31 * 86_400  # 2025-12-01
    assert not month_aligned(Period.parse("2026-01-01..2026-01-15"))
