"""The impact inputs of one pilot and year from the index store (I/O) and the flow records.

``community_records`` reads the community tables (events, check-ins, credentials) and the
consented declarations; ``impact_inputs`` (pure) adds the flow-graph figures of the year.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from ledger.circularity import metrics
from ledger.circularity.cycles import product_cycle
from ledger.circularity.graph import FATE_NODES, build_flow_graph
from ledger.circularity.period import Period
from ledger.circularity.records import FlowRecords
from ledger.impact.declarations import declarations_of
from ledger.impact.framework import ImpactInputs
from ledger.impact.kpis import Attendance, CommunityEvent, Declaration, ProductOutput
from ledger.store import models
from ledger.vocabulary import EventKind
from pilots.model import Pilot

__all__ = ["CommunityRecords", "community_records", "impact_inputs", "product_mci"]

PRODUCT_KIND = 2


@dataclass(frozen=True)
class CommunityRecords:
    events: list[CommunityEvent]
    attendances: list[Attendance]
    credential_ts: list[int]
    declarations: list[Declaration]


def community_records(engine: Engine, pilot_id: int) -> CommunityRecords:
    """Events, check-ins and credentials of the pilot (indexed from the chain) and its
    consented declarations (off chain)."""
    with Session(engine) as session:
        events = session.exec(
            select(models.CommunityEvent).where(col(models.CommunityEvent.pilot_id) == pilot_id)
        ).all()
        rows = session.exec(
            select(models.Attendance).where(col(models.Attendance.pilot_id) == pilot_id)
        ).all()
        creds = session.exec(
            select(models.SkillCredential).where(col(models.SkillCredential.pilot_id) == pilot_id)
        ).all()
        declared = declarations_of(session, pilot_id)
    ev = [
        CommunityEvent(e.event_id, e.pilot_id, EventKind(e.kind), e.opens, e.closes, e.ts)
        for e in events
    ]
    att = [Attendance(a.event_id, a.member, a.ts) for a in rows]
    cred_ts = [c.ts for c in creds]
    return CommunityRecords(ev, att, cred_ts, declared)


def product_mci(records: FlowRecords, pilot: Pilot, period: Period) -> float | None:
    """MCI of the pilot's products, mass-weighted over product classes; each class is
    biological or technical by its process inputs (:mod:`ledger.circularity.cycles`)."""
    graph = build_flow_graph(records, period, pilot=pilot.id)
    codes = dict(zip(records.materials["material_id"], records.materials["code"], strict=True))
    inputs: dict[str, list[str]] = defaultdict(list)
    lifetime: dict[str, tuple[float, float]] = {}
    for process in pilot.processes:
        inputs[process.product] += process.inputs
        lifetime[process.product] = (process.lifetime_ratio, process.utility_ratio)
    total, weighted = 0, 0.0
    for material_id, product in graph.graph.get("products", {}).items():
        code = codes.get(material_id, "")
        l_ratio, u_ratio = lifetime.get(code, (1.0, 1.0))
        mci = metrics.material_circularity_indicator(
            graph,
            material_id,
            biological=product_cycle(inputs.get(code, [])) == "biological",
            lifetime_ratio=l_ratio,
            utility_ratio=u_ratio,
        )
        if mci is not None:
            total += product["grams"]
            weighted += mci * product["grams"]
    return weighted / total if total else None


def impact_inputs(
    records: FlowRecords, community: CommunityRecords, pilot: Pilot, year: int
) -> ImpactInputs:
    """Everything the pilot's KPIs need for `year` (records of this pilot only)."""
    period = Period.year(year)
    graph = build_flow_graph(records, period, pilot=pilot.id)
    materials = records.lot_materials()
    codes = dict(zip(records.materials["material_id"], records.materials["code"], strict=True))
    kinds = dict(zip(records.materials["material_id"], records.materials["kind"], strict=True))
    fate_names = {value: node.split(":", 1)[1] for value, node in FATE_NODES.items()}
    kg: dict[tuple[str, str], float] = defaultdict(float)
    d = records.dispatches
    d = d[(d["ts"] >= period.start) & (d["ts"] < period.end)]
    for lot, grams, fate in zip(d["lot_id"], d["grams"], d["fate"], strict=True):
        code = codes.get(int(materials.get(int(lot), -1)), "?")
        kg[(code, fate_names[int(fate)])] += int(grams) / 1000
    actions = [
        (str(m), int(t))
        for frame in (records.intakes, records.transforms, records.dispatches)
        for m, t in zip(frame["maker"], frame["ts"], strict=True)
    ]
    outs = records.outputs
    outputs = [
        ProductOutput(str(m), int(mat), int(t))
        for m, mat, t in zip(outs["maker"], outs["material_id"], outs["ts"], strict=True)
        if kinds.get(int(mat)) == PRODUCT_KIND
    ]
    return ImpactInputs(
        events=community.events,
        attendances=community.attendances,
        credential_ts=community.credential_ts,
        maker_actions=actions,
        outputs=outputs,
        declarations=community.declarations,
        kg_diverted=metrics.diversion(graph) / 1000,
        kg_by_material_fate=dict(kg),
        circularity_rate=metrics.circularity_rate(graph),
        mci=product_mci(records, pilot, period),
    )
