"""Matchmaking by hand-computed cases, and its invariants as properties."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger.exchange.ranking import (
    ROAD_FREIGHT_KG_CO2E_PER_TKM,
    ListingView,
    compatibility_table,
    great_circle_km,
    rank,
    transport_co2e_kg,
)

NOW = 1_800_000_000
DAY = 86_400
TABLE = compatibility_table([(["17 02 01", "20 01 38"], "P-JOINERY"), (["20 01 10"], "P-GARMENT")])


def listing(id: int, side: str = "available", **kw: object) -> ListingView:
    base: dict[str, object] = dict(
        id=id,
        pilot=1,
        account=f"0x{id:040x}",
        side=side,
        material="17 02 01",
        grams=100_000,
        lat=0.0,
        lon=0.0,
        created_at=NOW,
        expires_at=NOW + 30 * DAY,
    )
    base.update(kw)
    return ListingView(**base)  # type: ignore[arg-type]


def test_distance_by_hand() -> None:
    # One degree of longitude on the equator: 2 pi R / 360 = 111.1951 km (R = 6371.0088 km).
    assert great_circle_km(0, 0, 0, 1) == pytest.approx(2 * math.pi * 6371.0088 / 360, rel=1e-12)
    # Pole to equator: a quarter of a great circle.
    assert great_circle_km(90, 0, 0, 37) == pytest.approx(math.pi * 6371.0088 / 2, rel=1e-12)
    assert great_circle_km(50.8798, 4.7005, 50.8798, 4.7005) == 0


def test_transport_by_hand() -> None:
    assert transport_co2e_kg(250_000, 40.0) == (
        10.0,
        pytest.approx(10 * ROAD_FREIGHT_KG_CO2E_PER_TKM),
    )


def test_compatibility_table() -> None:
    assert TABLE["17 02 01"] == {"20 01 38"} and TABLE["P-JOINERY"] == {"17 02 01", "20 01 38"}
    assert TABLE["20 01 10"] == frozenset()


def test_score_by_hand() -> None:
    wanted = listing(1, "wanted", grams=80_000, reach_km=100.0)
    # 60 kg offered for 80 kg wanted, 0.5 degree east (55.5976 km), listed 30 days ago, same code.
    offer = listing(2, grams=60_000, lon=0.5, created_at=NOW - 30 * DAY)
    [match] = rank(wanted, [offer], now=NOW, compatible=TABLE)
    km = 2 * math.pi * 6371.0088 / 720
    expected = 0.4 * 1.0 + 0.25 * (60 / 80) + 0.25 * (1 - km / 100) + 0.1 * (1 / (1 + 30 / 30))
    assert match.score == pytest.approx(expected, abs=1e-6)  # 0.4 + 0.1875 + 0.111006 + 0.05
    assert match.grams == 60_000 and match.distance_km == pytest.approx(km, abs=1e-3)
    assert match.tonne_km == pytest.approx(0.06 * km, abs=1e-6)
    assert (
        "same EWC code 17 02 01" in match.explanation
        and "60 kg offered, 80 kg wanted" in match.explanation
    )


def test_substitute_scores_less_and_ranks_below_the_same_code() -> None:
    wanted = listing(1, "wanted", material="17 02 01")
    same = listing(2, material="17 02 01")
    substitute = listing(3, material="20 01 38")
    unrelated = listing(4, material="20 01 10")
    ranked = rank(wanted, [unrelated, substitute, same], now=NOW, compatible=TABLE)
    assert [c.listing.id for c in ranked] == [2, 3]
    assert ranked[0].score - ranked[1].score == pytest.approx(0.4 * (1 - 0.6))
    # A taker who wants the product accepts any of its process's inputs.
    for_product = rank(
        listing(5, "wanted", material="P-JOINERY"),
        [same, substitute, unrelated],
        now=NOW,
        compatible=TABLE,
    )
    assert [c.listing.id for c in for_product] == [2, 3]


def test_reach_and_exclusions() -> None:
    wanted = listing(1, "wanted", reach_km=10.0)
    near = listing(2, lon=0.05)  # 5.56 km
    far = listing(3, lon=0.2)  # 22.2 km
    other_pilot = listing(4, pilot=2)
    same_side = listing(5, "wanted")
    own = listing(6, account=wanted.account)
    closed = listing(7, open=False)
    ranked = rank(
        wanted, [near, far, other_pilot, same_side, own, closed, wanted], now=NOW, compatible=TABLE
    )
    assert [c.listing.id for c in ranked] == [2]


views = st.builds(
    listing,
    id=st.integers(1, 40),
    side=st.sampled_from(["available", "wanted"]),
    material=st.sampled_from(["17 02 01", "20 01 38", "20 01 10", "P-JOINERY"]),
    grams=st.integers(1, 10**9),
    lat=st.floats(-60, 60),
    lon=st.floats(-10, 10),
    created_at=st.integers(NOW - 400 * DAY, NOW),
    expires_at=st.integers(NOW - 10 * DAY, NOW + 10 * DAY),
    open=st.booleans(),
    reach_km=st.none() | st.floats(1, 5000),
    account=st.sampled_from(["0xa", "0xb", "0xc"]),
)


@given(views, st.lists(views, max_size=30))
def test_never_itself_nor_expired_nor_closed(
    subject: ListingView, others: list[ListingView]
) -> None:
    ranked = rank(subject, [subject, *others], now=NOW, compatible=TABLE, limit=100)
    for c in ranked:
        assert c.listing is not subject and c.listing.id != subject.id
        assert c.listing.expires_at > NOW and c.listing.open
        assert c.listing.side != subject.side and c.listing.account != subject.account
        assert 0 < c.score <= 1
    if subject.expires_at <= NOW or not subject.open:
        assert ranked == []
    assert [c.score for c in ranked] == sorted((c.score for c in ranked), reverse=True)
