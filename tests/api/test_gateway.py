"""Gateway API over an indexed store: pilots, summaries, Sankey, trend, materials, provenance, errors."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from api.state import GatewayState
from ledger.clients import Suite
from ledger.indexer import indexer_for
from ledger.store.db import Store
from pilots.model import Pilot
from tests.ledger.test_indexer import story


@pytest.fixture
def client(memory_suite: Suite, pilots: list[Pilot], tmp_path: Path) -> TestClient:
    story(memory_suite)
    store = Store.open(f"sqlite:///{tmp_path / 'index.sqlite'}")
    indexer_for(memory_suite, store).run()
    return TestClient(create_app(GatewayState(store, pilots)))


def test_pilots_list_with_headline_metrics(client: TestClient) -> None:
    body = client.get("/api/pilots").json()
    assert body["count"] == 7 and body["period"] == "all"
    leuven = next(p for p in body["data"] if p["code"] == "LEU")
    assert leuven["metrics"]["inflow_kg"] == 12.0  # 10 kg collected + 2 kg virgin
    assert leuven["metrics"]["circular_inflow_rate"] == pytest.approx(10 / 12)
    assert leuven["metrics"]["mass_balance_findings"] == 0


def test_summary_sankey_trend_materials(client: TestClient) -> None:
    summary = client.get("/api/pilots/LEU/summary").json()
    assert summary["outflow_kg"] == pytest.approx(8.5)  # 7 + 1 dispatched, 0.5 loss
    sankey = client.get("/api/pilots/1/sankey").json()
    assert (
        sum(
            link["value"]
            for link in sankey["links"]
            if sankey["nodes"][link["source"]]["kind"] == "source"
        )
        == 12.0
    )
    trend = client.get("/api/pilots/LEU/trend").json()
    assert sum(row["inflow_kg"] for row in trend) == 12.0
    materials = client.get("/api/pilots/LEU/materials").json()
    assert {m["material"] for m in materials} >= {"17 02 01", "P-JOINERY"}
    csv = client.get("/api/pilots/LEU/metrics.csv")
    assert (
        csv.status_code == 200
        and csv.text.startswith("pilot,period,inflow_kg")
        and "\nLEU,2026-" in csv.text
    )


def test_provenance(client: TestClient) -> None:
    body = client.get("/api/lots/4/provenance").json()  # the wood residue of the transformation
    assert {s["lot_id"]: s["share"] for s in body["sources"]} == {1: 0.8, 2: 0.2}
    assert body["share_total"] == 1.0


def test_one_error_format(client: TestClient) -> None:
    missing = client.get("/api/pilots/ZZZ/summary")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"
    bad = client.get("/api/pilots/LEU/summary", params={"period": "2026-13"})
    assert bad.status_code == 422 and "month out of range" in bad.json()["error"]["message"]
    wrong_type = client.get("/api/lots/abc/provenance")
    assert wrong_type.status_code == 422 and wrong_type.json()["error"]["fields"]
    assert client.get("/api/lots/999/provenance").status_code == 404
    assert client.get("/openapi.json").status_code == 200
    assert client.get("/").status_code == 200


def test_unknown_path_and_wrong_method_answer_the_one_error_format(client: TestClient) -> None:
    for response, status, code in (
        (client.get("/api/no-such-thing"), 404, "not_found"),
        (client.get("/static/no-such-file.js"), 404, "not_found"),
        (client.delete("/api/pilots"), 405, "method_not_allowed"),
        (client.put("/api/health"), 405, "method_not_allowed"),
    ):
        assert response.status_code == status
        error = response.json()["error"]
        assert error["code"] == code and error["message"], response.text
        assert "detail" not in response.json()
