"""Impact KPIs, each checked against a figure computed by hand."""

from __future__ import annotations

import doctest
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlmodel import Session

from ledger.impact import framework, kpis
from ledger.impact.declarations import DeclarationRefused, declarations_of, declare, withdraw
from ledger.impact.kpis import (
    Attendance,
    CommunityEvent,
    Declaration,
    EmissionFactor,
    ProductOutput,
)
from ledger.store.db import Store
from ledger.vocabulary import EventKind
from pilots.model import load_pilots


def ts(y: int, m: int, d: int, h: int = 12) -> int:
    return int(datetime(y, m, d, h, tzinfo=UTC).timestamp())


EVENTS = [
    CommunityEvent(
        1, 1, EventKind.WORKSHOP, ts(2025, 11, 1, 10), ts(2025, 11, 1, 12), ts(2025, 10, 1)
    ),
    CommunityEvent(2, 1, EventKind.TRAINING, ts(2026, 3, 1, 9), ts(2026, 3, 1, 12), ts(2026, 2, 1)),
    CommunityEvent(
        3, 1, EventKind.REPAIR_CAFE, ts(2026, 5, 2, 10), ts(2026, 5, 2, 14), ts(2026, 4, 1)
    ),
    CommunityEvent(
        4,
        1,
        EventKind.TRAINING,
        ts(2026, 6, 1, 9),
        ts(
            2026,
            6,
            1,
            10,
        ),
        ts(2026, 5, 1),
    ),
]
ATTENDANCE = [
    Attendance(1, "a", ts(2025, 11, 1, 11)),
    Attendance(1, "b", ts(2025, 11, 1, 11)),
    Attendance(2, "a", ts(2026, 3, 1, 10)),
    Attendance(2, "c", ts(2026, 3, 1, 10)),
    Attendance(3, "c", ts(2026, 5, 2, 11)),
    Attendance(3, "d", ts(2026, 5, 2, 11)),
    Attendance(4, "d", ts(2026, 6, 1, 9)),
]


def test_module_doctests() -> None:
    assert doctest.testmod(kpis).failed == 0


def test_participants_new_events_attendance_training() -> None:
    # 2026: a, c, d took part (b only in 2025); a came before, so new are c and d.
    assert kpis.participants(ATTENDANCE, 2026) == {"a", "c", "d"}
    assert kpis.new_participants(ATTENDANCE, 2026) == {"c", "d"}
    assert kpis.new_participants(ATTENDANCE, 2025) == {"a", "b"}
    # Three events open in 2026 with five check-ins.
    assert kpis.events_and_attendance(EVENTS, ATTENDANCE, 2026) == (3, 5)
    # Training 2 lasts 3 h (a and c: 6 h); training 4 lasts 1 h (d: 1 h): 7 attendee-hours.
    assert kpis.training_hours(EVENTS, ATTENDANCE, 2026) == pytest.approx(7.0)
    assert (
        kpis.credentials_issued([ts(2026, 3, 1), ts(2025, 12, 31, 23), ts(2026, 6, 1)], 2026) == 2
    )


def test_maker_space_users_and_new_prototypes() -> None:
    actions = [("m1", ts(2026, 1, 5)), ("m2", ts(2025, 6, 1)), ("a", ts(2026, 2, 1))]
    # Makers active in 2026: m1 and a; participants a, c, d: {m1, a, c, d} = 4.
    assert kpis.maker_space_users(actions, ATTENDANCE, 2026) == 4
    outputs = [
        ProductOutput("m1", 10, ts(2025, 5, 1)),  # m1 made class 10 first in 2025
        ProductOutput("m1", 10, ts(2026, 2, 1)),  # not new in 2026
        ProductOutput("m1", 11, ts(2026, 2, 1)),  # new: class 11 for m1
        ProductOutput("m2", 10, ts(2026, 3, 1)),  # new: class 10 is new to m2
        ProductOutput("m2", 10, ts(2026, 4, 1)),  # the same prototype again
    ]
    assert kpis.new_prototypes(outputs, 2026) == 2
    assert kpis.new_prototypes(outputs, 2025) == 1


def test_target_group_shares_suppress_groups_under_five() -> None:
    members = {f"p{i}" for i in range(20)}
    declarations = (
        [Declaration(f"p{i}", "women") for i in range(9)]
        + [Declaration(f"p{i}", "young_people") for i in range(4)]  # 4 people: suppressed
        + [Declaration(f"p{i}", "out_of_work") for i in range(5)]  # exactly 5: published
        + [Declaration("x", "out_of_work")]  # not a participant this year: not counted
    )
    shares = kpis.target_group_shares(declarations, members)
    assert shares == {"out_of_work": 5 / 20, "women": 9 / 20, "young_people": None}


def test_co2e_from_the_factor_table_and_uncovered_mass() -> None:
    factors = [
        EmissionFactor("20 01 02", "recycled", 0.309, "US EPA WARM", 2015),
        EmissionFactor("20 01 38", "reused", 0.5, "test factor", 2020),
    ]
    flows = {
        ("20 01 02", "recycled"): 1_200.0,  # 1200 x 0.309 = 370.8
        ("20 01 38", "reused"): 40.0,  # 40 x 0.5 = 20
        ("15 01 02", "recycled"): 75.0,  # no factor: reported apart
        ("20 01 02", "landfilled"): 10.0,  # no factor
    }
    result = kpis.co2e_avoided(flows, factors)
    assert result.by_material_fate == {
        ("20 01 02", "recycled"): pytest.approx(370.8),
        ("20 01 38", "reused"): pytest.approx(20.0),
    }
    assert result.total_kg == pytest.approx(390.8)
    assert result.uncovered_kg == {("15 01 02", "recycled"): 75.0, ("20 01 02", "landfilled"): 10.0}


def test_every_published_factor_names_source_and_year() -> None:
    factors = kpis.load_factors()
    assert factors
    for f in factors:
        assert len(f.source) > 10 and 1990 <= f.year <= 2030 and f.kg_co2e_per_kg > 0


def test_progress_is_the_counterfactual_against_the_baseline() -> None:
    # Baseline 120 participants, target 300, measured 165: 45 additional, 25 % of the way.
    p = kpis.progress(165, 120, 300)
    assert (p.additional, p.progress) == (45, pytest.approx(0.25))
    # Below the baseline the programme shows a negative effect, not zero.
    assert kpis.progress(100, 120, 300).additional == -20
    # A falling target (less landfill): baseline 1000 kg, target 400, measured 700: halfway.
    assert kpis.progress(700, 1000, 400).progress == pytest.approx(0.5)


def test_evaluate_framework_and_jsonld() -> None:
    pilot = load_pilots()[0]
    women = [Declaration(m, "women") for m in ("a", "c", "d")]
    inputs = framework.ImpactInputs(
        events=EVENTS,
        attendances=ATTENDANCE,
        credential_ts=[ts(2026, 3, 1)],
        declarations=women,
        kg_diverted=1_500.0,
        kg_by_material_fate={("20 01 02", "recycled"): 100.0},
        circularity_rate=0.5,
        mci=None,
    )
    values = {v.kpi.metric: v for v in framework.evaluate(pilot, inputs, 2026)}
    assert values["participants"].result is not None
    assert values["participants"].result.value == 3
    assert values["attendance"].result is not None and values["attendance"].result.value == 5
    # Three women among three participants: under five people, so suppressed.
    assert values["target_group_share"].result is None
    assert "suppressed" in values["target_group_share"].note
    assert values["co2e_avoided_kg"].result is not None
    assert values["co2e_avoided_kg"].result.value == pytest.approx(30.9)
    assert values["mci"].result is None
    kpi = values["kg_diverted"].kpi
    assert values["kg_diverted"].result is not None
    assert values["kg_diverted"].result.additional == pytest.approx(1_500 - kpi.baseline)
    doc = framework.jsonld(pilot, 2026, list(values.values()))
    assert doc["@type"] == "Dataset" and "iris" in doc["@context"]
    ids = {v["propertyID"] for v in doc["variableMeasured"]}
    assert "loopledger:participants" in ids
    assert "iris:OI4862" in ids  # CO2e avoided: IRIS+ Greenhouse Gas Emissions Reduced: Total
    assert all(v["description"] for v in doc["variableMeasured"])


def test_declarations_need_consent_and_a_targeted_group(tmp_path: Path) -> None:
    pilot = load_pilots()[0]
    store = Store.open(f"sqlite:///{tmp_path / 'index.sqlite'}")
    with Session(store.engine) as session:
        with pytest.raises(DeclarationRefused, match="consent"):
            declare(session, pilot, "0xA", ["women"], consent_version="", now=1)
        with pytest.raises(DeclarationRefused, match="does not target"):
            declare(session, pilot, "0xA", ["women", "pensioners"], consent_version="v1", now=1)
        assert declarations_of(session, pilot.id) == []  # nothing half-written
        declare(session, pilot, "0xA", ["women", "out_of_work"], consent_version="v1", now=1)
        declare(session, pilot, "0xB", ["women"], consent_version="v1", now=2)
        assert sorted(declarations_of(session, pilot.id), key=lambda d: (d.member, d.group)) == [
            Declaration("0xA", "out_of_work"),
            Declaration("0xA", "women"),
            Declaration("0xB", "women"),
        ]
        withdraw(session, pilot.id, "0xA")
        assert declarations_of(session, pilot.id) == [Declaration("0xB", "women")]


def test_audit_report_impact_section_states_method_and_source() -> None:
    from ledger.audit.report import render_report
    from ledger.circularity.period import Period
    from ledger.circularity.records import FlowRecords

    pilot = load_pilots()[0]
    inputs = framework.ImpactInputs(events=EVENTS, attendances=ATTENDANCE)
    values = framework.evaluate(pilot, inputs, 2026)
    text = render_report(
        pilot_id=1,
        pilot_name="Leuven (LEU)",
        period=Period.parse("2026"),
        records=FlowRecords.empty(),
        rows={},
        material_codes={},
        chain={"chain_id": 31337, "genesis_hash": "0x00", "indexed_block": 1},
        verification=None,
        impact=(2026, values),
    )
    section = text.split("<h2>5. Impact against targets, 2026</h2>", 1)[1]
    for value in values:
        assert value.kpi.name.replace("'", "&#x27;") in section
        assert value.method.split(";")[0].replace("'", "&#x27;") in section
    assert section.count(values[0].kpi.source) == len(values)
    # Participants: 3 against a baseline of 20 (Leuven's 50 members x 0.4): 17 below it.
    participants = next(v for v in values if v.kpi.metric == "participants")
    assert participants.result is not None and participants.result.additional == 3 - 20
