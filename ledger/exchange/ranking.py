"""Matchmaking: ranked matches of one listing among the open listings of its pilot (pure).

A match pairs an *available* listing with a *wanted* one. A candidate is kept only when it is
another account's open, unexpired listing of the other side in the same pilot, its material is
compatible, and its site lies within the taker's reach. Kept candidates are scored from four
parts, each in [0, 1], with fixed weights (``WEIGHTS``), and every part is explained:

- compatibility: 1 for the same EWC code; ``SUBSTITUTE`` when the offered code is one that a
  process of the pilot takes as input in place of, or to make, the wanted code;
- quantity fit: min(offered, wanted) / max(offered, wanted);
- distance: 1 - d / reach, with d the great-circle distance between the two sites;
- freshness: 1 / (1 + age / ``AGE_SCALE_DAYS``), the age being that of the candidate listing.

The transport estimate of the hand-over (the smaller quantity carried over d) is reported with
each match, in tonne-km and kg CO2e, but does not enter the score a second time (distance does).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

__all__ = [
    "AGE_SCALE_DAYS",
    "DEFAULT_REACH_KM",
    "EARTH_RADIUS_KM",
    "ROAD_FREIGHT_KG_CO2E_PER_TKM",
    "SUBSTITUTE",
    "WEIGHTS",
    "Candidate",
    "ListingView",
    "ScorePart",
    "compatibility_table",
    "great_circle_km",
    "rank",
    "transport_co2e_kg",
]

Side = Literal["available", "wanted"]

#: Mean Earth radius R1 of the IUGG (Moritz, "Geodetic Reference System 1980"), in km.
EARTH_RADIUS_KM = 6371.0088

#: Road freight by a diesel rigid lorry of 3.5-7.5 t at the UK average load (46 % laden), the
#: kind of vehicle that carries makers' lots: 0.58542 kg CO2e per tonne-km (direct CO2, CH4 and
#: N2O). Source: Defra/DECC, "2012 Guidelines to Defra/DECC's GHG Conversion Factors for Company
#: Reporting", Annex 7, Table 7e (diesel HGV road freight, tonne.km basis).
ROAD_FREIGHT_KG_CO2E_PER_TKM = 0.58542

#: How far a taker goes when its wanted listing names no reach.
DEFAULT_REACH_KM = 50.0
#: Age at which freshness has halved.
AGE_SCALE_DAYS = 30.0
#: Compatibility of a substitute input (a code a process takes in place of, or to make, the wanted one).
SUBSTITUTE = 0.6
WEIGHTS = {"compatibility": 0.4, "quantity": 0.25, "distance": 0.25, "freshness": 0.1}

DAY = 86_400


@dataclass(frozen=True, slots=True)
class ListingView:
    """What ranking needs of a listing; `reach_km` matters on wanted listings only."""

    id: int
    pilot: int
    account: str
    side: Side
    material: str
    grams: int
    lat: float
    lon: float
    created_at: int
    expires_at: int
    open: bool = True
    reach_km: float | None = None


@dataclass(frozen=True, slots=True)
class ScorePart:
    name: str
    weight: float
    value: float
    why: str


@dataclass(frozen=True, slots=True)
class Candidate:
    listing: ListingView
    score: float
    distance_km: float
    grams: int
    tonne_km: float
    co2e_kg: float
    parts: tuple[ScorePart, ...]

    @property
    def explanation(self) -> str:
        return "; ".join(f"{p.name} {p.value:.2f} x {p.weight:g}: {p.why}" for p in self.parts)


def great_circle_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance by the haversine formula on a sphere of ``EARTH_RADIUS_KM``.

    d = 2 R asin(sqrt(sin²(Δφ/2) + cos φ1 cos φ2 sin²(Δλ/2)))  (Sinnott, Sky & Telescope 68, 1984)

    >>> round(great_circle_km(0.0, 0.0, 0.0, 1.0), 3)  # one degree along the equator
    111.195
    """
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))


def transport_co2e_kg(
    grams: int, km: float, *, factor: float = ROAD_FREIGHT_KG_CO2E_PER_TKM
) -> tuple[float, float]:
    """(tonne-km, kg CO2e) of carrying `grams` over `km` by road.

    >>> transport_co2e_kg(500_000, 10.0)  # half a tonne over 10 km: 5 t.km x 0.58542
    (5.0, 2.9271)
    """
    tkm = grams / 1_000_000 * km
    return tkm, round(tkm * factor, 6)


def compatibility_table(
    processes: Iterable[tuple[Sequence[str], str]],
) -> dict[str, frozenset[str]]:
    """Codes that may stand in for a wanted code, from processes given as (inputs, product).

    A process's inputs substitute for each other, and all of them serve a taker who wants the
    process's product code (it wants material to make that product).

    >>> table = compatibility_table([(["20 01 38", "17 02 01"], "P-CHAIR")])
    >>> sorted(table["P-CHAIR"]), sorted(table["20 01 38"])
    (['17 02 01', '20 01 38'], ['17 02 01'])
    """
    table: dict[str, set[str]] = {}
    for inputs, product in processes:
        for code in inputs:
            table.setdefault(code, set()).update(c for c in inputs if c != code)
        table.setdefault(product, set()).update(inputs)
    return {code: frozenset(codes) for code, codes in table.items()}


def _compatibility(
    wanted: str, offered: str, table: Mapping[str, frozenset[str]]
) -> tuple[float, str]:
    if wanted == offered:
        return 1.0, f"same EWC code {offered}"
    if offered in table.get(wanted, ()):
        return SUBSTITUTE, f"{offered} is an input of a pilot process that takes or makes {wanted}"
    return 0.0, ""


def rank(
    listing: ListingView,
    listings: Iterable[ListingView],
    *,
    now: int,
    compatible: Mapping[str, frozenset[str]],
    limit: int = 20,
) -> list[Candidate]:
    """The best `limit` matches of `listing` among `listings`, best first (ties: older id first).

    A listing never matches itself, its own account's listings, a listing of the same side or of
    another pilot, a closed or expired listing, or anything when it is itself closed or expired.
    """
    if not listing.open or listing.expires_at <= now:
        return []
    want_side: Side = "available" if listing.side == "wanted" else "wanted"
    offered_codes: frozenset[str] | None = None
    if listing.side == "wanted":
        offered_codes = compatible.get(listing.material, frozenset()) | {listing.material}
    found: list[Candidate] = []
    for other in listings:
        if (
            other.side != want_side
            or other.id == listing.id
            or other.pilot != listing.pilot
            or other.account == listing.account
            or not other.open
            or other.expires_at <= now
        ):
            continue
        wanted, offered = (listing, other) if listing.side == "wanted" else (other, listing)
        if offered_codes is not None:
            if other.material not in offered_codes:
                continue
        elif offered.material != wanted.material and offered.material not in compatible.get(
            wanted.material, ()
        ):
            continue
        reach = wanted.reach_km if wanted.reach_km is not None else DEFAULT_REACH_KM
        km = great_circle_km(listing.lat, listing.lon, other.lat, other.lon)
        if km > reach:
            continue
        found.append(_candidate(other, wanted, offered, km, reach, now, compatible))
    found.sort(key=lambda c: (-c.score, c.listing.id))
    return found[:limit]


def _candidate(
    other: ListingView,
    wanted: ListingView,
    offered: ListingView,
    km: float,
    reach: float,
    now: int,
    compatible: Mapping[str, frozenset[str]],
) -> Candidate:
    compat, compat_why = _compatibility(wanted.material, offered.material, compatible)
    grams = min(offered.grams, wanted.grams)
    fit = grams / max(offered.grams, wanted.grams)
    near = 1.0 - km / reach if reach > 0 else 1.0
    age_days = max(0, now - other.created_at) / DAY
    fresh = 1.0 / (1.0 + age_days / AGE_SCALE_DAYS)
    tkm, co2e = transport_co2e_kg(grams, km)
    parts = (
        ScorePart("compatibility", WEIGHTS["compatibility"], compat, compat_why),
        ScorePart(
            "quantity",
            WEIGHTS["quantity"],
            fit,
            f"{offered.grams / 1000:g} kg offered, {wanted.grams / 1000:g} kg wanted",
        ),
        ScorePart("distance", WEIGHTS["distance"], near, f"{km:.1f} km of a {reach:g} km reach"),
        ScorePart("freshness", WEIGHTS["freshness"], fresh, f"listed {age_days:.0f} days ago"),
    )
    score = sum(p.weight * p.value for p in parts)
    return Candidate(other, round(score, 6), round(km, 3), grams, round(tkm, 6), co2e, parts)
