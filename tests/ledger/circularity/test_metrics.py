"""Circularity metrics: hand-computed cases, doctests, and properties over random histories."""

from __future__ import annotations

import doctest
from datetime import UTC, datetime
from types import ModuleType

import networkx as nx
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger import anvil_state
from ledger.circularity import metrics
from ledger.circularity.graph import build_flow_graph
from ledger.circularity.period import Period
from ledger.circularity.provenance import lot_graph, provenance
from ledger.circularity.records import FlowRecords
from tests.factories import RecordBuilder, random_records

JAN = int(datetime(2026, 1, 10, tzinfo=UTC).timestamp())
FEB = int(datetime(2026, 2, 10, tzinfo=UTC).timestamp())
YEAR = Period.year(2026)
A, B = "0x" + "a" * 40, "0x" + "b" * 40


@pytest.mark.parametrize("module", [metrics, anvil_state])
def test_doctests_of_formulas(module: ModuleType) -> None:
    result = doctest.testmod(module)
    assert result.attempted > 0, f"{module.__name__} has no doctests to run"
    assert result.failed == 0


def test_no_inflow() -> None:
    graph = build_flow_graph(FlowRecords.empty(), YEAR)
    assert metrics.inflow(graph) == 0 and metrics.outflow(graph) == 0
    assert metrics.circular_inflow_rate(graph) is None
    assert metrics.circular_outflow_rate(graph) is None
    assert metrics.circularity_rate(graph) is None


def test_only_virgin_input() -> None:
    b = RecordBuilder()
    b.intake(JAN, A, 2, 1_000, source=5)
    graph = build_flow_graph(b.records(), YEAR)
    assert metrics.circular_inflow_rate(graph) == 0.0
    assert metrics.stock_held(graph) == 1_000


def test_only_landfill_outflow() -> None:
    b = RecordBuilder()
    lot = b.intake(JAN, A, 1, 1_000)
    b.dispatch(JAN + 60, lot, 1_000, fate=7)
    graph = build_flow_graph(b.records(), YEAR)
    assert metrics.circular_inflow_rate(graph) == 1.0
    assert metrics.circular_outflow_rate(graph) == 0.0
    assert metrics.circularity_rate(graph) == 0.5  # (1 * 1000 + 0 * 1000) / 2000
    assert metrics.diversion(graph) == 0


def test_fully_circular() -> None:
    b = RecordBuilder()
    lot = b.intake(JAN, A, 1, 1_000)
    b.dispatch(JAN + 60, lot, 600, fate=4)  # recycled
    b.dispatch(JAN + 90, lot, 400, fate=2)  # reused
    graph = build_flow_graph(b.records(), YEAR)
    assert metrics.circularity_rate(graph) == 1.0
    assert metrics.diversion(graph) == 1_000


def test_material_still_in_stock_at_period_end() -> None:
    b = RecordBuilder()
    lot = b.intake(JAN, A, 1, 1_000)
    b.dispatch(JAN + 60, lot, 400, fate=1)
    graph = build_flow_graph(b.records(), Period.month(2026, 1))
    assert metrics.stock_held(graph) == 600
    assert metrics.mass_balance_residuals(graph) == {A: 0}
    assert metrics.circular_outflow_rate(graph) == 0.0  # sold into use is outflow, not circular


def test_transformation_with_inputs_from_an_earlier_period() -> None:
    b = RecordBuilder()
    lot = b.intake(JAN, A, 1, 1_000)
    (chair,) = b.transform(FEB, [(lot, 1_000)], [(3, 900)], loss=100)
    b.dispatch(FEB + 60, chair, 900, fate=4)
    february = build_flow_graph(b.records(), Period.month(2026, 2))
    assert metrics.inflow(february) == 0
    assert metrics.circular_inflow_rate(february) is None
    assert metrics.outflow(february) == 1_000  # 900 dispatched + 100 declared loss
    assert metrics.circular_outflow_rate(february) == 0.9
    assert metrics.mass_balance_residuals(february) == {A: 0}
    assert february.edges["stock:opening", f"maker:{A}"]["grams"] == 1_000
    assert metrics.process_yields(february)[A]["yield"] == 0.9
    mci = metrics.material_circularity_indicator(february, 3)
    # F_R = 1, C_R = 1, E_C = E_F = 1: V = 0, W = 0, LFI = 0, MCI = 1.
    assert mci == 1.0


def test_mci_with_lifetime_and_partial_recycling() -> None:
    b = RecordBuilder()
    recycled = b.intake(JAN, A, 1, 500)
    virgin = b.intake(JAN, A, 1, 500, source=5)
    (chair,) = b.transform(JAN + 10, [(recycled, 500), (virgin, 500)], [(3, 1_000)], loss=0)
    b.dispatch(JAN + 20, chair, 1_000, fate=7)
    graph = build_flow_graph(b.records(), YEAR)
    # F_R = 0.5, all landfilled: V = 500, W = 1000, LFI = 1500/2000 = 0.75; X = 2: MCI = 1 - 0.75*0.45.
    assert metrics.material_circularity_indicator(graph, 3, lifetime_ratio=2.0) == pytest.approx(
        1 - 0.75 * 0.45
    )


def test_exchange_links_and_closed_loops() -> None:
    b = RecordBuilder()
    lot = b.intake(JAN, A, 1, 1_000)
    back = b.transfer(JAN + 10, lot, B, 400)
    b.transfer(JAN + 20, back, A, 100)
    graph = build_flow_graph(b.records(), YEAR)
    assert metrics.exchange_links(graph) == [(A, B, 400), (B, A, 100)]
    assert metrics.closed_loops(graph) == [[A, B]] or metrics.closed_loops(graph) == [[B, A]]


def test_engagement() -> None:
    b = RecordBuilder()
    b.award(JAN, A, 100)
    b.award(JAN, B, 50)
    b.redeem(FEB, A, 30)
    e = metrics.engagement(build_flow_graph(b.records(), YEAR))
    assert (e["awarded"], e["redeemed"], e["active_members"]) == (150, 30, 2)
    assert e["redemption_rate"] == pytest.approx(0.2)


def test_provenance_through_transformations_and_splits() -> None:
    b = RecordBuilder()
    x = b.intake(JAN, A, 1, 300)
    y = b.intake(JAN, A, 2, 100)
    (mix,) = b.transform(JAN + 10, [(x, 300), (y, 100)], [(3, 400)], loss=0)
    part = b.transfer(JAN + 20, mix, B, 100)
    z = b.intake(JAN + 30, B, 1, 100)
    (final,) = b.transform(JAN + 40, [(part, 100), (z, 100)], [(4, 150)], loss=50)
    shares = provenance(lot_graph(b.records()), final)
    assert shares == {x: pytest.approx(0.375), y: pytest.approx(0.125), z: pytest.approx(0.5)}
    assert sum(shares.values()) == 1


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10**6), actions=st.integers(1, 120))
def test_mass_is_conserved_and_balances_are_zero(seed: int, actions: int) -> None:
    records = random_records(seed, actions).records()
    graph = build_flow_graph(records, Period.everything())
    assert metrics.inflow(graph) == metrics.outflow(graph) + metrics.stock_held(graph)
    assert set(metrics.mass_balance_residuals(graph).values()) <= {0}
    for month in Period.parse("2023-11-01..2024-06-30").months():
        assert set(metrics.mass_balance_residuals(build_flow_graph(records, month)).values()) <= {0}


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10**6), actions=st.integers(1, 120))
def test_provenance_shares_sum_to_one(seed: int, actions: int) -> None:
    records = random_records(seed, actions).records()
    graph = lot_graph(records)
    for lot in list(graph.nodes)[:30]:
        assert sum(provenance(graph, lot).values()) == 1


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10**6), actions=st.integers(1, 80))
def test_metrics_do_not_depend_on_row_order(seed: int, actions: int) -> None:
    records = random_records(seed, actions).records()
    shuffled = FlowRecords.from_frames(
        **{
            name: frame.sample(frac=1, random_state=seed)
            for name, frame in records.__dict__.items()
        }
    )
    for period in (Period.everything(), Period.parse("2023-11")):
        g1, g2 = build_flow_graph(records, period), build_flow_graph(shuffled, period)
        for fn in (
            metrics.inflow,
            metrics.outflow,
            metrics.circular_inflow_rate,
            metrics.circular_outflow_rate,
            metrics.stock_held,
            metrics.diversion,
            metrics.mass_balance_residuals,
            metrics.exchange_links,
        ):
            assert fn(g1) == fn(g2)


def test_records_need_their_columns() -> None:
    with pytest.raises(ValueError, match="lacks columns"):
        FlowRecords.from_frames(intakes=pd.DataFrame({"ts": [1]}))


def _incinerated_virgin_product() -> nx.DiGraph:
    b = RecordBuilder()
    virgin = b.intake(JAN, A, 1, 1_000, source=5)
    (product,) = b.transform(JAN + 10, [(virgin, 1_000)], [(3, 1_000)], loss=0)
    b.dispatch(JAN + 20, product, 1_000, fate=6)
    return build_flow_graph(b.records(), YEAR)


def test_mci_incinerated_virgin_technical_product_scores_0_1() -> None:
    # Technical material: energy recovery is no recovery (EMF 2015/2019). V = M, W0 = M, W = M,
    # LFI = 2M / 2M = 1, MCI = 1 - 0.9 = 0.1.
    graph = _incinerated_virgin_product()
    assert metrics.material_circularity_indicator(graph, 3) == pytest.approx(0.1)


def test_mci_incinerated_virgin_biological_product_counts_energy_recovery() -> None:
    # Biological material (EMF 2019): C_E = 1, so W0 = 0, W = 0; V = M; LFI = M / 2M = 0.5;
    # MCI = 1 - 0.5 * 0.9 = 0.55.
    graph = _incinerated_virgin_product()
    assert metrics.material_circularity_indicator(graph, 3, biological=True) == pytest.approx(0.55)


def test_mci_composting_counts_only_for_biological_products() -> None:
    b = RecordBuilder()
    virgin = b.intake(JAN, A, 1, 1_000, source=5)
    (product,) = b.transform(JAN + 10, [(virgin, 1_000)], [(3, 1_000)], loss=0)
    b.dispatch(JAN + 20, product, 500, fate=5)  # composted
    b.dispatch(JAN + 30, product, 500, fate=7)  # landfilled
    graph = build_flow_graph(b.records(), YEAR)
    # Biological: C_C = 0.5, W0 = 500, V = 1000, LFI = 1500 / 2000 = 0.75, MCI = 1 - 0.675.
    assert metrics.material_circularity_indicator(graph, 3, biological=True) == pytest.approx(0.325)
    # Technical: composting is not a cycle of technical material, W0 = M, MCI = 0.1.
    assert metrics.material_circularity_indicator(graph, 3) == pytest.approx(0.1)
    # Sustainably sourced biological feedstock (F_S) only lowers V for biological products.
    assert metrics.material_circularity_indicator(
        graph, 3, biological=True, biological_feedstock=1.0
    ) == pytest.approx(1 - (500 / 2000) * 0.9)


#: Each fate's expected share of circular outflow (CTI: reuse, repair, recycling, composting) and
#: of diversion from disposal (everything but incineration and landfill), written out by hand.
FATE_VALUES = {
    1: (0.0, 1_000),
    2: (1.0, 1_000),
    3: (1.0, 1_000),
    4: (1.0, 1_000),
    5: (1.0, 1_000),
    6: (0.0, 0),
    7: (0.0, 0),
}


@pytest.mark.parametrize("fate", sorted(FATE_VALUES))
def test_each_fate_counts_as_the_method_says(fate: int) -> None:
    b = RecordBuilder()
    lot = b.intake(JAN, A, 1, 1_000)
    b.dispatch(JAN + 60, lot, 1_000, fate=fate)
    graph = build_flow_graph(b.records(), YEAR)
    circular, diverted = FATE_VALUES[fate]
    assert metrics.circular_outflow_rate(graph) == circular
    assert metrics.diversion(graph) == diverted
    assert metrics.circularity_rate(graph) == (1.0 * 1_000 + circular * 1_000) / 2_000


def test_circularity_rate_weighs_each_side_by_its_mass() -> None:
    """3 kg in (all secondary), 1 kg out to landfill: (1 * 3 + 0 * 1) / 4, not the plain mean 0.5."""
    b = RecordBuilder()
    lot = b.intake(JAN, A, 1, 3_000)
    b.dispatch(JAN + 60, lot, 1_000, fate=7)
    graph = build_flow_graph(b.records(), YEAR)
    assert metrics.circularity_rate(graph) == 0.75
