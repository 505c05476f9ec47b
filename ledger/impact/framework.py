"""A pilot's impact framework evaluated for a year, and its JSON-LD export.

Each KPI of the pilot's TOML names a metric; :func:`evaluate` computes it from
:class:`ImpactInputs` (ledger records of the pilot) and sets it against its baseline and target.
The method of every metric is stated in :data:`METHODS`, the text the audit report prints.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ledger.impact import kpis
from ledger.impact.kpis import (
    Attendance,
    CommunityEvent,
    Declaration,
    EmissionFactor,
    KpiProgress,
    ProductOutput,
)
from pilots.model import Kpi, Pilot

__all__ = ["METHODS", "ImpactInputs", "KpiValue", "evaluate", "jsonld"]

METHODS: dict[str, str] = {
    "participants": "distinct accounts with at least one on-chain check-in to a pilot event in the year",
    "new_participants": "participants of the year with no check-in in any earlier year",
    "events": "events of the pilot opening in the year (EventCreated)",
    "attendance": "check-ins in the year (CheckedIn)",
    "training_hours": "sum over check-ins to trainings of the training's scheduled length, in hours",
    "credentials_issued": "skill credentials issued by the pilot in the year (CredentialIssued)",
    "maker_space_users": "distinct makers with a material action plus distinct event participants in the year",
    "new_prototypes": "(maker, product class) pairs whose first output lot is in the year",
    "target_group_share": "consented declarations of the group among the year's participants / participants; "
    "suppressed below 5 people",
    "kg_diverted": "kg dispatched in the year to fates other than landfill and incineration",
    "co2e_avoided_kg": "kg per material and fate x published emission factor (factors.toml); "
    "mass without a factor is reported, not estimated",
    "circularity_rate": "WBCSD CTI v4: mass-weighted mean of circular inflow and outflow rates",
    "mci": "Ellen MacArthur Foundation MCI (2019), mass-weighted over product classes, energy "
    "recovery only for biological materials",
}


@dataclass(frozen=True)
class ImpactInputs:
    """The ledger records of one pilot that the KPIs are computed from."""

    events: Sequence[CommunityEvent] = ()
    attendances: Sequence[Attendance] = ()
    credential_ts: Sequence[int] = ()
    maker_actions: Sequence[tuple[str, int]] = ()
    outputs: Sequence[ProductOutput] = ()
    declarations: Sequence[Declaration] = ()
    kg_diverted: float = 0.0
    kg_by_material_fate: Mapping[tuple[str, str], float] = field(default_factory=dict)
    circularity_rate: float | None = None
    mci: float | None = None


@dataclass(frozen=True)
class KpiValue:
    kpi: Kpi
    method: str
    result: KpiProgress | None  # None: suppressed or not computable
    note: str = ""


def _value(
    kpi: Kpi, inputs: ImpactInputs, year: int, factors: Sequence[EmissionFactor]
) -> tuple[float | None, str]:
    a = inputs.attendances
    metric = kpi.metric
    if metric == "participants":
        return float(len(kpis.participants(a, year))), ""
    if metric == "new_participants":
        return float(len(kpis.new_participants(a, year))), ""
    if metric == "events":
        return float(kpis.events_and_attendance(inputs.events, a, year)[0]), ""
    if metric == "attendance":
        return float(kpis.events_and_attendance(inputs.events, a, year)[1]), ""
    if metric == "training_hours":
        return kpis.training_hours(inputs.events, a, year), ""
    if metric == "credentials_issued":
        return float(kpis.credentials_issued(inputs.credential_ts, year)), ""
    if metric == "maker_space_users":
        return float(kpis.maker_space_users(inputs.maker_actions, a, year)), ""
    if metric == "new_prototypes":
        return float(kpis.new_prototypes(inputs.outputs, year)), ""
    if metric == "target_group_share":
        shares = kpis.target_group_shares(inputs.declarations, kpis.participants(a, year))
        share = shares.get(str(kpi.target_group))
        return share, "" if share is not None else f"suppressed: fewer than {kpis.MIN_GROUP} people"
    if metric == "kg_diverted":
        return inputs.kg_diverted, ""
    if metric == "co2e_avoided_kg":
        co2e = kpis.co2e_avoided(inputs.kg_by_material_fate, factors)
        uncovered = sum(co2e.uncovered_kg.values())
        return co2e.total_kg, f"{uncovered:.1f} kg without a published factor" if uncovered else ""
    if metric == "circularity_rate":
        return (
            inputs.circularity_rate,
            "" if inputs.circularity_rate is not None else "no flows",
        )
    return inputs.mci, "" if inputs.mci is not None else "no products left the pilot"


def evaluate(
    pilot: Pilot, inputs: ImpactInputs, year: int, factors: Sequence[EmissionFactor] | None = None
) -> list[KpiValue]:
    """Every KPI of the pilot's framework for `year`, against its baseline and target."""
    table = kpis.load_factors() if factors is None else factors
    values = []
    for kpi in pilot.impact.kpis:
        value, note = _value(kpi, inputs, year, table)
        result = None if value is None else kpis.progress(value, kpi.baseline, kpi.target)
        values.append(KpiValue(kpi, METHODS[kpi.metric], result, note))
    return values


def jsonld(pilot: Pilot, year: int, values: Sequence[KpiValue]) -> dict[str, Any]:
    """The KPIs as a schema.org Dataset in JSON-LD; each KPI a PropertyValue whose propertyID is
    its IRIS+ code where one is set (``iris:`` prefix), else a LoopLedger metric id."""
    return {
        "@context": {
            "@vocab": "https://schema.org/",
            "iris": "https://iris.thegiin.org/metric/5.1/",  # IRIS+ catalogue v5.1
            "loopledger": "https://loopledger.example/metric/",
        },
        "@type": "Dataset",
        "name": f"LoopLedger impact KPIs, {pilot.city} {year}",
        "spatialCoverage": {"@type": "Place", "name": pilot.city, "address": pilot.country},
        "temporalCoverage": str(year),
        "variableMeasured": [
            {
                "@type": "PropertyValue",
                "propertyID": f"iris:{v.kpi.iris}" if v.kpi.iris else f"loopledger:{v.kpi.metric}",
                "name": v.kpi.name,
                "unitText": v.kpi.unit,
                "value": v.result.value if v.result else None,
                "description": v.method + (f" ({v.note})" if v.note else ""),
                "additionalProperty": [
                    {"@type": "PropertyValue", "name": "group", "value": v.kpi.group},
                    {"@type": "PropertyValue", "name": "baseline", "value": v.kpi.baseline},
                    {"@type": "PropertyValue", "name": "target", "value": v.kpi.target},
                    {"@type": "PropertyValue", "name": "source", "value": v.kpi.source},
                ],
            }
            for v in values
        ],
    }
