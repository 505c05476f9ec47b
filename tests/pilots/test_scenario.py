"""The demo scenario: deterministic for a seed, valid on chain, and balanced in the model."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from ledger.build import Artifact
from ledger.chain import AnvilChain
from ledger.circularity import metrics
from ledger.circularity.graph import build_flow_graph
from ledger.circularity.period import Period
from ledger.circularity.records import load_records
from ledger.clients import Suite
from ledger.deploy import deploy
from ledger.indexer import indexer_for
from ledger.runtime import dev_admins
from ledger.store.db import Store
from pilots.model import Pilot
from pilots.scenario import plan_declarations, plan_pilot
from pilots.seed import seed_scenario
from tests.conftest import anvil_settings


def test_same_seed_same_scenario(pilots: list[Pilot]) -> None:
    for pilot in pilots:
        first = plan_pilot(pilot, seed=7, start_ts=1_700_000_000)
        assert first == plan_pilot(pilot, seed=7, start_ts=1_700_000_000)
        assert first != plan_pilot(pilot, seed=8, start_ts=1_700_000_000)
        assert [a.ts for a in first] == sorted(a.ts for a in first)
        kinds = {a.kind for a in first}
        assert {"intake", "transform", "transfer", "dispatch", "award"} <= kinds


@pytest.mark.anvil
def test_seeded_scenario_has_zero_mass_balance_residual(
    anvil_suite: Suite, anvil_chain: AnvilChain, pilots: list[Pilot], tmp_path: Path
) -> None:
    report = seed_scenario(anvil_suite, pilots[:2], scale=0.05, months=3)
    assert report is not None and report.actions > 100
    assert seed_scenario(anvil_suite, pilots[:2], scale=0.05, months=3) is None, (
        "seeding happens once"
    )
    # After the history, the chain's clock is today's: the next record is dated now.
    w3 = anvil_chain.w3
    admin = anvil_chain.accounts[pilots[0].id]
    anvil_suite.token.set_budget(admin, pilots[0].id, 5)
    written = int(w3.eth.get_block("latest")["timestamp"])
    assert abs(written - time.time()) < 120, f"a record written now is dated {written}"
    store = Store.open(f"sqlite:///{tmp_path / 'index.sqlite'}")
    indexer_for(anvil_suite, store).run()
    records = load_records(store.engine)
    for pilot in pilots[:2]:
        subset = records.for_pilot(pilot.id)
        assert not subset.intakes.empty
        graph = build_flow_graph(subset, Period.everything(), pilot=pilot.id)
        assert set(metrics.mass_balance_residuals(graph).values()) == {0}
        assert metrics.inflow(graph) == metrics.outflow(graph) + metrics.stock_held(graph)
        for month in Period(
            int(subset.intakes["ts"].min()), int(subset.intakes["ts"].max()) + 1, "x"
        ).months():
            assert set(
                metrics.mass_balance_residuals(build_flow_graph(subset, month)).values()
            ) <= {0}
    # The community programme ran too: check-ins, credentials, voided and released holds.
    with store.engine.connect() as conn:
        for table in (
            "community_event",
            "attendance",
            "skill_credential",
            "hold_void",
            "hold_release",
        ):
            rows = conn.execute(select(func.count()).select_from(store.tables[table])).scalar_one()
            assert rows > 0, table


def _seeded_state(suite: Suite, store: Store) -> dict[str, list[tuple[object, ...]]]:
    """What seeding left in the index, without block numbers, hashes and times."""
    indexer_for(suite, store).run()
    kept = {
        "lot": ("lot_id", "pilot_id", "material_id", "holder", "grams", "initial_grams", "origin"),
        "token_award": ("pilot_id", "member", "amount", "reason"),
        "redemption": ("redemption_id", "member", "cost"),
        "attendance": ("event_id", "member"),
        "skill_credential": ("credential_id", "holder", "event_id"),
        "hold_void": ("hold_id",),
        "hold_release": ("hold_id",),
        "dispatch": ("lot_id", "grams", "fate"),
    }
    out = {}
    with store.engine.connect() as conn:
        for table, columns in kept.items():
            t = store.tables[table]
            rows = conn.execute(select(*(t.c[c] for c in columns))).all()
            out[table] = sorted(tuple(r) for r in rows)
    return out


@pytest.mark.anvil
def test_batched_seeding_records_what_one_action_per_block_records(
    artifacts: dict[str, Artifact], pilots: list[Pilot], tmp_path: Path
) -> None:
    states, reports = [], []
    for batch in (True, False):
        folder = tmp_path / ("batched" if batch else "single")
        chain = AnvilChain.start(anvil_settings(folder))
        try:
            manifest, _ = deploy(
                chain,
                artifacts,
                pilots[:2],
                folder / "m.json",
                admins=dev_admins(chain, pilots[:2]),
            )
            suite = Suite(chain, manifest, artifacts)
            report = seed_scenario(suite, pilots[:2], scale=0.05, months=3, batch=batch)
            assert report is not None
            reports.append(report)
            states.append(_seeded_state(suite, Store.open(f"sqlite:///{folder / 'i.sqlite'}")))
        finally:
            chain.close()
    batched, single = reports
    assert (batched.actions, batched.skipped) == (single.actions, single.skipped)
    assert batched.batched == batched.actions + batched.skipped  # no block fell back
    assert batched.transactions * 3 < single.transactions
    assert all(states[0][t] for t in states[0]), "every kind of record was seeded"
    assert states[0] == states[1]


def test_community_plan_has_events_trainings_and_a_few_voided_holds(pilots: list[Pilot]) -> None:
    for pilot in pilots:
        plan = plan_pilot(pilot, seed=7, start_ts=1_700_000_000)
        kinds = [a.kind for a in plan]
        assert {"event", "check_in", "credential", "hold", "release", "void"} <= set(kinds)
        events = {a.creates[0]: a for a in plan if a.kind == "event"}
        for a in plan:
            if a.kind == "check_in":
                ev = events[a.args["event"]]
                assert ev.ts < a.ts and ev.args["opens"] <= a.ts <= ev.args["closes"]
        # Each member checks in to an event at most once.
        pairs = [(a.args["event"], a.actor) for a in plan if a.kind == "check_in"]
        assert len(pairs) == len(set(pairs))
        holds = {a.creates[0] for a in plan if a.kind == "hold"}
        settled = [a.args["hold"] for a in plan if a.kind in ("void", "release")]
        assert sorted(settled) == sorted(holds)  # each hold is voided or released, once
        assert 0 < kinds.count("void") < kinds.count("release")


def test_declarations_use_only_the_pilots_target_groups(pilots: list[Pilot]) -> None:
    for pilot in pilots:
        declared = plan_declarations(pilot, seed=7)
        assert declared == plan_declarations(pilot, seed=7)
        assert 0 < len(declared) < pilot.scenario.members
        assert all(set(groups) <= set(pilot.impact.target_groups) for _, groups in declared)
