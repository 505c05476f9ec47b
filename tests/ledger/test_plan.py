"""The write planner as a pure function: hand-computed plans and rejections, and properties over
random batches (an accepted plan never draws more than a lot holds, nor from another's lot)."""

from __future__ import annotations

import ast
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.transact import Call
from ledger.vocabulary import ContributionKind, Fate, Role, Source
from ledger.write import plan as p
from ledger.write.plan import LedgerView, LotView, RewardView, WriteRejected, plan, to_grams

ALICE = "0x" + "a1" * 20
BOB = "0x" + "b0" * 20
CAROL = "0x" + "c0" * 20


def _encoder(contract: str) -> Any:
    def encode(fn: str, *args: Any) -> Call:
        return Call(contract, repr((fn, args)).encode())

    return encode


ENCODERS = p.Encoders(
    materials=_encoder("materials"),
    contributions=_encoder("contributions"),
    token=_encoder("token"),
    catalogue=_encoder("catalogue"),
)


def _calls(made: p.Plan) -> list[tuple[str, tuple[Any, ...]]]:
    return [ast.literal_eval(call.data.decode()) for _, call in made.calls]


def _view(**extra: Any) -> LedgerView:
    base: dict[str, Any] = {
        "encoders": ENCODERS,
        "materials": {"17 02 01": 6, "P-JOINERY": 20},
        "lots": {
            1: LotView(ALICE, 10_000, 1),
            2: LotView(BOB, 5_000, 1),
            3: LotView(ALICE, 4_000, 2),
        },
        "roles": {(1, BOB): Role.MAKER, (1, CAROL): Role.MAKER | Role.SUSPENDED},
        "next_lot": 4,
    }
    base.update(extra)
    return LedgerView(**base)


def _reasons(records: list[p.Record], view: LedgerView | None = None) -> dict[str, str]:
    with pytest.raises(WriteRejected) as caught:
        plan(ALICE, 1, records, view or _view())
    return dict(caught.value.reasons)


def test_units_are_whole_grams() -> None:
    assert to_grams(Decimal("2.5"), "kg") == 2_500 and to_grams("1", "TNE") == 1_000_000
    for bad, unit, why in [
        ("1.0005", "kg", "whole number"),
        ("0", "g", "more than zero"),
        ("-1", "kg", "more than zero"),
        ("1", "lb", "unknown unit"),
        ("x", "g", "not a number"),
        (str(2**48), "g", "largest lot"),
    ]:
        with pytest.raises(ValueError, match=why):
            to_grams(bad, unit)


def test_intakes_travel_as_one_batch_call() -> None:
    made = plan(
        ALICE,
        1,
        [
            p.Intake("17 02 01", Source.DONATION, 100),
            p.Intake("P-JOINERY", Source.VIRGIN_PURCHASE, 50),
        ],
        _view(),
    )
    ((fn, (rows,)),) = _calls(made)
    assert fn == "intakeBatch"
    assert rows == [(1, 6, int(Source.DONATION), 100, p.ZERO), (1, 20, 5, 50, p.ZERO)]


def test_draws_are_tracked_across_records() -> None:
    """10,000 g in lot 1: 6,000 then 4,000 fit; a third draw of 1 g does not."""
    records: list[p.Record] = [
        p.Dispatch(1, 6_000, Fate.RECYCLED),
        p.Transform(inputs=((1, 4_000),), outputs=(("P-JOINERY", 3_500),), loss=500),
        p.Dispatch(1, 1, Fate.REUSED),
    ]
    reasons = _reasons(records)
    assert reasons == {"records.2.lot_id": "lot 1 has 0 g left, 1 g were asked for"}
    made = plan(ALICE, 1, records[:2], _view())
    assert [fn for fn, _ in _calls(made)] == ["dispatch", "transform"]


def test_mass_balance_and_holdings_are_named_per_field() -> None:
    reasons = _reasons(
        [
            p.Transform(inputs=((1, 1_000),), outputs=(("P-JOINERY", 900),), loss=50),
            p.Dispatch(2, 1, Fate.RECYCLED),
            p.Dispatch(3, 1, Fate.RECYCLED),
            p.Dispatch(99, 1, Fate.RECYCLED),
            p.Intake("99 99 99", Source.DONATION, 1),
        ]
    )
    assert "differs by 50 g" in reasons["records.0"]
    assert f"held by {BOB}" in reasons["records.1.lot_id"]
    assert "belongs to pilot 2" in reasons["records.2.lot_id"]
    assert reasons["records.3.lot_id"] == "lot 99 does not exist"
    assert "unknown material code '99 99 99'" in reasons["records.4.material"]


def test_hand_overs_go_to_active_makers_only() -> None:
    reasons = _reasons(
        [p.Transfer(1, ALICE, 1), p.Transfer(1, CAROL, 1), p.Transfer(1, "0x" + "d0" * 20, 1)]
    )
    assert "own holder" in reasons["records.0.to"]
    assert "suspended" in reasons["records.1.to"]
    assert "not a maker" in reasons["records.2.to"]


def test_a_lot_handed_over_cannot_be_drawn_again() -> None:
    reasons = _reasons([p.Transfer(1, BOB, 10_000), p.Dispatch(1, 1, Fate.RECYCLED)])
    assert "handed to another maker" in reasons["records.1.lot_id"]


def test_handles_name_lots_created_earlier_in_the_plan() -> None:
    """Next lot is 4: the intake makes lot 4, the transformation lots 5 and 6, the partial
    hand-over lot 7; the guard asserts lot 4 is still the next when the plan runs."""
    made = plan(
        ALICE,
        1,
        [
            p.Intake("17 02 01", Source.DONATION, 1_000, creates="pallets"),
            p.Transform(
                inputs=(("pallets", 1_000),),
                outputs=(("P-JOINERY", 600), ("17 02 01", 300)),
                loss=100,
                creates=("bench", "offcuts"),
            ),
            p.Transfer("offcuts", BOB, 100, creates="given"),
            p.Dispatch("bench", 600, Fate.IN_USE),
        ],
        _view(),
    )
    calls = _calls(made)
    assert calls[0] == ("expectNextLot", (4,))
    assert made.lots == {"pallets": 4, "bench": 5, "offcuts": 6, "given": 7}
    assert calls[2][1][0] == [4] and calls[3][1][:3] == (6, BOB, 100) and calls[4][1][0] == 5
    reasons = _reasons([p.Dispatch("nowhere", 1, Fate.RECYCLED)])
    assert "neither a lot of an earlier record" in reasons["records.0.lot_id"]


def test_redemptions_need_the_pilots_reward_and_the_points() -> None:
    view = _view(
        balances={ALICE: 50},
        rewards={7: RewardView(1, 30, 2, 0), 8: RewardView(2, 10, 5, 0), 9: RewardView(1, 5, 0, 0)},
    )
    assert _calls(plan(ALICE, 1, [p.Redemption(7)], view)) == [("redeem", (7,))]
    reasons = _reasons([p.Redemption(7), p.Redemption(7)], view)  # 30 + 30 > 50
    assert reasons == {"records.1.reward_id": "the reward costs 30 points; the balance is 20"}
    assert "pilot 1's catalogue" in _reasons([p.Redemption(8)], view)["records.0.reward_id"]
    assert "out of stock" in _reasons([p.Redemption(9)], view)["records.0.reward_id"]


def test_contributions_and_awards() -> None:
    made = plan(ALICE, 1, [p.Contribution(ContributionKind.REPAIR, 90)], _view())
    assert _calls(made) == [("recordContribution", (1, int(ContributionKind.REPAIR), 90, p.ZERO))]
    view = _view(budgets={1: 100})
    assert (
        "budget has 40 left"
        in _reasons([p.Award(BOB, 60, 1), p.Award(BOB, 41, 1)], view)["records.1.amount"]
    )


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from([1, 2, 3, 99]), st.integers(1, 12_000)), min_size=1, max_size=12
    )
)
def test_an_accepted_plan_never_overdraws(draws: list[tuple[int, int]]) -> None:
    view = _view()
    records: list[p.Record] = [p.Dispatch(lot, grams, Fate.RECYCLED) for lot, grams in draws]
    drawn: dict[int, int] = {}
    for lot, grams in draws:
        drawn[lot] = drawn.get(lot, 0) + grams
    fits = all(
        (held := view.lots.get(lot)) is not None
        and held.holder == ALICE
        and held.pilot == 1
        and total <= held.grams
        for lot, total in drawn.items()
    )
    try:
        made = plan(ALICE, 1, records, view)
    except WriteRejected:
        assert not fits
        return
    assert fits and len(made.calls) == len(records)
