"""Impact KPIs of one pilot and year: pure functions of typed ledger records.

Social figures come from on-chain attendance, events and credentials (accounts only) and from
off-chain, consented target-group declarations, which are published only as aggregates: a group
with fewer than ``MIN_GROUP`` people is suppressed (a small-cell rule as used in official
statistics, e.g. Eurostat's and national statistical offices' disclosure control).

Maker-space indicators follow the UrbanM action plans' "users per year" and "new prototypes per
year". Environmental figures reuse the circularity model: kg diverted, CTI % circularity
(WBCSD Circular Transition Indicators v4) and the MCI (Ellen MacArthur Foundation, 2019), and
CO2e avoided from the factor table in ``factors.toml`` (each factor with source and year).
"""

from __future__ import annotations

import tomllib
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from ledger.circularity.period import Period
from ledger.vocabulary import EventKind

__all__ = [
    "MIN_GROUP",
    "Attendance",
    "Co2eResult",
    "CommunityEvent",
    "Declaration",
    "EmissionFactor",
    "KpiProgress",
    "ProductOutput",
    "co2e_avoided",
    "credentials_issued",
    "events_and_attendance",
    "load_factors",
    "maker_space_users",
    "new_participants",
    "new_prototypes",
    "participants",
    "progress",
    "target_group_shares",
    "training_hours",
]

MIN_GROUP = 5
FACTORS_FILE = Path(__file__).with_name("factors.toml")


@dataclass(frozen=True)
class CommunityEvent:
    event_id: int
    pilot: int
    kind: EventKind
    opens: int
    closes: int
    created_ts: int


@dataclass(frozen=True)
class Attendance:
    event_id: int
    member: str
    ts: int


@dataclass(frozen=True)
class Declaration:
    """A member's consented declaration of belonging to a target group of the pilot (off chain)."""

    member: str
    group: str


@dataclass(frozen=True)
class ProductOutput:
    """A product lot a maker made: (maker, product material class) at time ts."""

    maker: str
    material_id: int
    ts: int


@dataclass(frozen=True)
class EmissionFactor:
    ewc: str
    fate: str
    kg_co2e_per_kg: float
    source: str
    year: int


@dataclass(frozen=True)
class Co2eResult:
    """CO2e avoided per (material code, fate) in kg, and the kg that no factor covers."""

    by_material_fate: dict[tuple[str, str], float]
    uncovered_kg: dict[tuple[str, str], float]

    @property
    def total_kg(self) -> float:
        return sum(self.by_material_fate.values())


@dataclass(frozen=True)
class KpiProgress:
    """Value against baseline and target: `additional` is the change over the baseline (the
    counterfactual: what the pilot would show without the programme is taken to be the
    baseline), `progress` the share of the way from baseline to target (None when equal)."""

    value: float
    baseline: float
    target: float
    additional: float
    progress: float | None


def _in_year(ts: int, year: int) -> bool:
    period = Period.year(year)
    return period.start <= ts < period.end


def participants(attendances: Iterable[Attendance], year: int) -> set[str]:
    """Distinct members who checked in to at least one event of the pilot in `year`."""
    return {a.member for a in attendances if _in_year(a.ts, year)}


def new_participants(attendances: Sequence[Attendance], year: int) -> set[str]:
    """Participants of `year` who had never checked in before it."""
    start = Period.year(year).start
    before = {a.member for a in attendances if a.ts < start}
    return participants(attendances, year) - before


def events_and_attendance(
    events: Iterable[CommunityEvent], attendances: Iterable[Attendance], year: int
) -> tuple[int, int]:
    """(events opening in `year`, check-ins in `year`)."""
    held = sum(1 for e in events if _in_year(e.opens, year))
    return held, sum(1 for a in attendances if _in_year(a.ts, year))


def training_hours(
    events: Iterable[CommunityEvent], attendances: Iterable[Attendance], year: int
) -> float:
    """Attendee-hours of training: each check-in to a training counts its scheduled length."""
    length = {
        e.event_id: (e.closes - e.opens) / 3600 for e in events if e.kind == EventKind.TRAINING
    }
    return sum(
        length[a.event_id] for a in attendances if a.event_id in length and _in_year(a.ts, year)
    )


def credentials_issued(issued_ts: Iterable[int], year: int) -> int:
    """Skill credentials the pilot issued in `year`."""
    return sum(1 for ts in issued_ts if _in_year(ts, year))


def maker_space_users(
    maker_actions: Iterable[tuple[str, int]], attendances: Iterable[Attendance], year: int
) -> int:
    """Distinct accounts that used the maker space in `year`: makers who recorded a material
    action (account, ts) and members who attended an event."""
    makers = {account for account, ts in maker_actions if _in_year(ts, year)}
    return len(makers | participants(attendances, year))


def new_prototypes(outputs: Sequence[ProductOutput], year: int) -> int:
    """(maker, product class) pairs whose first output falls in `year`: a product class the
    maker had not made before."""
    first: dict[tuple[str, int], int] = {}
    for out in outputs:
        key = (out.maker, out.material_id)
        first[key] = min(first.get(key, out.ts), out.ts)
    return sum(1 for ts in first.values() if _in_year(ts, year))


def target_group_shares(
    declarations: Iterable[Declaration], members: set[str], *, min_group: int = MIN_GROUP
) -> dict[str, float | None]:
    """Share of `members` (the year's participants) declaring each target group; a group with
    fewer than `min_group` people is suppressed (None), so nobody can be singled out.

    >>> ds = [Declaration(f"m{i}", "women") for i in range(6)] + [Declaration("m0", "young")]
    >>> target_group_shares(ds, {f"m{i}" for i in range(10)})
    {'women': 0.6, 'young': None}
    """
    if not members:
        return {}
    counts: dict[str, set[str]] = defaultdict(set)
    for d in declarations:
        if d.member in members:
            counts[d.group].add(d.member)
    return {
        group: (len(people) / len(members) if len(people) >= min_group else None)
        for group, people in sorted(counts.items())
    }


def load_factors(path: Path = FACTORS_FILE) -> list[EmissionFactor]:
    """The emission-factor table; every factor names its source and year."""
    with path.open("rb") as fh:
        raw = tomllib.load(fh)
    return [
        EmissionFactor(f["ewc"], f["fate"], float(f["kg_co2e_per_kg"]), f["source"], int(f["year"]))
        for f in raw.get("factor", [])
    ]


def co2e_avoided(
    kg_by_material_fate: Mapping[tuple[str, str], float], factors: Iterable[EmissionFactor]
) -> Co2eResult:
    """kg CO2e avoided = kg sent to the fate x the factor of (material, fate); mass without a
    factor is reported apart instead of being given an assumed one.

    >>> f = [EmissionFactor("20 01 02", "recycled", 0.309, "US EPA WARM", 2015)]
    >>> r = co2e_avoided({("20 01 02", "recycled"): 1000.0, ("15 01 02", "recycled"): 50.0}, f)
    >>> round(r.total_kg, 3), r.uncovered_kg
    (309.0, {('15 01 02', 'recycled'): 50.0})
    """
    table = {(f.ewc, f.fate): f.kg_co2e_per_kg for f in factors}
    covered: dict[tuple[str, str], float] = {}
    uncovered: dict[tuple[str, str], float] = {}
    for key, kg in sorted(kg_by_material_fate.items()):
        if kg <= 0:
            continue
        if key in table:
            covered[key] = kg * table[key]
        else:
            uncovered[key] = kg
    return Co2eResult(covered, uncovered)


def progress(value: float, baseline: float, target: float) -> KpiProgress:
    """Additional impact over the baseline and progress from baseline to target.

    >>> progress(180, 100, 300)
    KpiProgress(value=180, baseline=100, target=300, additional=80, progress=0.4)
    """
    span = target - baseline
    return KpiProgress(
        value, baseline, target, value - baseline, (value - baseline) / span if span else None
    )
