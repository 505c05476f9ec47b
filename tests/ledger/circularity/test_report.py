"""Comparison tables across pilots and periods, Sankey data, and the three export formats."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest

from ledger.circularity.graph import build_flow_graph
from ledger.circularity.period import Period
from ledger.circularity.report import export, headline, metric_table, sankey, within_data
from tests.factories import RecordBuilder

T = int(datetime(2026, 3, 5, tzinfo=UTC).timestamp())


def _records() -> RecordBuilder:
    b = RecordBuilder(pilot=1)
    lot = b.intake(T, "0x" + "a" * 40, 1, 2_000)
    b.dispatch(T + 10, lot, 500, fate=4)
    return b


def test_metric_table_per_pilot_and_period(tmp_path: Path) -> None:
    records = _records().records()
    table = metric_table(
        records, {1: "LEU", 2: "THE"}, [Period.parse("2026-03"), Period.parse("2026-04")]
    )
    assert list(table["period"]) == ["2026-03", "2026-04", "2026-03", "2026-04"]
    march = table[(table["pilot"] == "LEU") & (table["period"] == "2026-03")].iloc[0]
    assert (
        march["inflow_kg"] == 2.0
        and march["stock_kg"] == 1.5
        and march["circular_outflow_rate"] == 1.0
    )
    assert table[table["pilot"] == "THE"]["inflow_kg"].sum() == 0
    assert export(table, None, "csv").startswith("pilot,period")  # type: ignore[union-attr]
    export(table, tmp_path / "m.parquet", "parquet")
    assert pd.read_parquet(tmp_path / "m.parquet").equals(table)
    assert '"period":"2026-03"' in (export(table, None, "json") or "").replace(" ", "")
    with pytest.raises(ValueError, match="unknown format"):
        export(table, None, "xlsx")


def test_sankey_links_carry_kilograms() -> None:
    graph = build_flow_graph(_records().records(), Period.parse("2026"))
    data = sankey(graph)
    labels = {n["id"]: i for i, n in enumerate(data["nodes"])}
    values = {(link["source"], link["target"]): link["value"] for link in data["links"]}
    maker = labels["maker:0x" + "a" * 40]
    assert values[(labels["source:donation"], maker)] == 2.0
    assert values[(maker, labels["fate:recycled"])] == 0.5
    assert values[(maker, labels["stock:closing"])] == 1.5


def test_all_means_the_datas_months_and_kg_are_rounded_to_the_gram() -> None:
    b = _records()
    lot = b.intake(T + 40 * 86_400, "0x" + "a" * 40, 1, 782_706)
    b.dispatch(T + 41 * 86_400, lot, 1, fate=4)
    records = b.records()
    span = within_data(Period.parse("all"), records)
    assert [m.label for m in span.months()] == ["2026-03", "2026-04"]
    table = metric_table(records, {1: "LEU"}, span.months())
    assert list(table["inflow_kg"]) == [2.0, 782.706]
    assert headline(build_flow_graph(records, span, pilot=1))["inflow_kg"] == 784.706
    assert within_data(Period.parse("all"), RecordBuilder().records()).months() == []
