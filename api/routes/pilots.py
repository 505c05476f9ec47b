"""Pilot dashboards: headline metrics, Sankey data, monthly trends, materials, comparison."""

from __future__ import annotations

import time
from dataclasses import asdict
from datetime import UTC, date, datetime
from typing import Annotated, Any, cast

from fastapi import APIRouter, HTTPException, Query
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel, Field
from sqlalchemy import Engine, text

from api.deps import PilotDep, StateDep
from api.names import material_names
from ledger.circularity.period import Period
from ledger.circularity.report import export, headline, material_table, sankey
from ledger.exchange.metrics import ExchangeFigures, load_rows

router = APIRouter(prefix="/api/pilots", tags=["pilots"])

PeriodQuery = Annotated[
    str,
    Query(
        description="2026, 2026-Q2, 2026-03, 2026-01-01..2026-06-30 or all",
        examples=["all", "2026-Q3"],
    ),
]


class Headline(BaseModel):
    inflow_kg: float
    outflow_kg: float
    circular_inflow_rate: float | None
    circular_outflow_rate: float | None
    circularity_rate: float | None
    diversion_kg: float
    stock_kg: float
    mass_balance_findings: int
    exchange_links: int
    closed_loops: int
    points_awarded: int
    points_redeemed: int
    active_members: int
    redemption_rate: float


class PilotPublic(BaseModel):
    id: int
    code: str
    city: str
    country: str
    municipality: str
    language: str = Field(description="the pages' default language (ISO 639-1)")
    lat: float
    lon: float
    illustrative: bool
    summary: str
    metrics: Headline


class Extent(BaseModel):
    """The first and last day (UTC) with indexed records: the range the period picker offers."""

    first: date
    last: date


class PilotsPublic(BaseModel):
    data: list[PilotPublic]
    count: int
    period: str
    indexed_block: int | None
    extent: Extent | None = None


#: The tables whose rows date the flows a dashboard shows; each has an index on `ts`.
_DATED = ("intake", "transformation", "transfer", "dispatch", "token_award", "redemption")


def _extent(engine: Engine) -> Extent | None:
    """The first and last day with indexed records: one indexed MIN and MAX per table."""
    with engine.connect() as conn:
        spans = [
            conn.execute(text(f"SELECT MIN(ts), MAX(ts) FROM {table}")).one() for table in _DATED
        ]
    stamps = [(int(low), int(high)) for low, high in spans if low is not None]
    if not stamps:
        return None
    return Extent(
        first=datetime.fromtimestamp(min(low for low, _ in stamps), UTC).date(),
        last=datetime.fromtimestamp(max(high for _, high in stamps), UTC).date(),
    )


def _period(text: str) -> Period:
    try:
        return Period.parse(text)
    except ValueError as exc:
        raise HTTPException(status_code=422, detail=str(exc)) from exc


@router.get("", response_model=PilotsPublic, summary="The seven pilots with headline metrics")
async def list_pilots(state: StateDep, period: PeriodQuery = "all") -> PilotsPublic:
    span = _period(period)
    key = ("pilots", span)
    found = state.memoized(key)
    if found is None:  # compute off the event loop
        found = await run_in_threadpool(state.memo, key, lambda: _list_pilots(state, span))
    return cast(PilotsPublic, found)


def _list_pilots(state: Any, span: Period) -> PilotsPublic:
    data = []
    for pilot in state.pilots:
        graph = state.graph(pilot.id, span)
        data.append(
            PilotPublic(
                id=pilot.id,
                code=pilot.code,
                city=pilot.city,
                country=pilot.country,
                municipality=pilot.municipality,
                language=pilot.language,
                lat=pilot.coordinates.lat,
                lon=pilot.coordinates.lon,
                illustrative=pilot.illustrative,
                summary=pilot.summary,
                metrics=Headline(**headline(graph)),
            )
        )
    return PilotsPublic(
        data=data,
        count=len(data),
        period=span.label,
        indexed_block=state.indexed_block(),
        extent=_extent(state.store.engine),
    )


@router.get(
    "/{pilot}/summary", response_model=Headline, summary="Headline metrics of one pilot and period"
)
async def summary(state: StateDep, pilot: PilotDep, period: PeriodQuery = "all") -> Headline:
    span = _period(period)
    key = ("summary", pilot.id, span)
    found = state.memoized(key)
    if found is not None:
        return cast(Headline, found)

    def compute() -> Headline:
        return Headline(**headline(state.graph(pilot.id, span)))

    # Computed once per pilot, period and indexed block from the aggregates (off the event
    # loop); every later request reads the memo.
    return cast(Headline, await run_in_threadpool(state.memo, key, compute))


@router.get("/{pilot}/sankey", summary="Sankey nodes and links (kg) of one pilot and period")
def pilot_sankey(state: StateDep, pilot: PilotDep, period: PeriodQuery = "all") -> dict[str, Any]:
    graph = state.graph(pilot.id, _period(period))
    makers = sorted(n for n in graph.nodes if n.startswith("maker:"))
    labels = {n: f"maker {i + 1}" for i, n in enumerate(makers)}
    return sankey(graph, labels)


@router.get("/{pilot}/trend", summary="Monthly headline metrics of one pilot")
def trend(state: StateDep, pilot: PilotDep, period: PeriodQuery = "all") -> list[dict[str, Any]]:
    span = _period(period)
    if span.label == "all":
        active = state.active_months(pilot.id)
        if active is None:
            return []
        span = active
    return [
        {"pilot": pilot.code, "period": month.label, **headline(state.graph(pilot.id, month))}
        for month in span.months()
    ]


@router.get("/{pilot}/materials", summary="Per-material flows (kg) of one pilot and period")
def materials(
    state: StateDep, pilot: PilotDep, period: PeriodQuery = "all"
) -> list[dict[str, Any]]:
    graph = state.graph(pilot.id, _period(period))
    codes = {m.material_id: m.code for m in state.materials()}
    table = material_table(graph, codes)
    rows = cast(list[dict[str, Any]], table.to_dict(orient="records"))
    names = material_names(state.pilots, prefer=pilot.id)
    return [{"material": r["material"], "name": names.get(r["material"]), **r} for r in rows]


class MaterialName(BaseModel):
    material_id: int
    code: str = Field(description="EWC code or product code, as registered on chain")
    kind: int
    name: str | None = Field(description="from the pilots' files; None for a code no file names")


@router.get(
    "/{pilot}/material-names",
    response_model=list[MaterialName],
    summary="Every registered material with its name in this pilot",
)
def pilot_material_names(state: StateDep, pilot: PilotDep) -> list[MaterialName]:
    names = material_names(state.pilots, prefer=pilot.id)
    return [
        MaterialName(material_id=m.material_id, code=m.code, kind=m.kind, name=names.get(m.code))
        for m in state.materials()
    ]


@router.get(
    "/{pilot}/metrics.csv", response_class=PlainTextResponse, summary="Monthly metrics as CSV"
)
def metrics_csv(state: StateDep, pilot: PilotDep, period: PeriodQuery = "all") -> PlainTextResponse:
    rows = trend(state, pilot, period)
    exchange = load_rows(state.store.engine, pilot.id)
    # Months with exchange activity but no flows get a row of their own.
    span, seen = _period(period), {str(row["period"]) for row in rows}
    months = {
        time.strftime("%Y-%m", time.gmtime(ts))
        for ts in exchange.timestamps()
        if span.start <= ts < span.end
    }
    rows += [{"pilot_id": pilot.id, "period": label} for label in sorted(months - seen)]
    rows.sort(key=lambda row: str(row["period"]))
    for row in rows:  # the exchange's figures of the same month, as extra columns
        month = Period.parse(str(row["period"]))
        figures = asdict(exchange.figures(month.start, month.end))
        row.update({f"exchange_{k}": v for k, v in figures.items()})
    import pandas as pd

    text = export(pd.DataFrame(rows), None, "csv") or ""
    return PlainTextResponse(
        text,
        media_type="text/csv",
        headers={"content-disposition": f'attachment; filename="{pilot.code}-metrics.csv"'},
    )


@router.get(
    "/{pilot}/exchange",
    response_model=ExchangeFigures,
    summary="Exchange and challenge figures of one pilot and period",
)
def exchange_metrics(
    state: StateDep, pilot: PilotDep, period: PeriodQuery = "all"
) -> ExchangeFigures:
    span = _period(period)
    return load_rows(state.store.engine, pilot.id).figures(span.start, span.end)
