"""The EPCIS 2.0 REST bindings on anvil: GS1's own example document captured through
`POST /epcis/capture` under Leuven's mapping and queried back through `/epcis/events` with
paging; capture jobs that fail name the event; listings, GS1 headers, unsupported operations;
and Schemathesis against GS1's OpenAPI document, restricted to the implemented operations."""

from __future__ import annotations

import json
import time
from typing import Any
from urllib.parse import quote

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from api.auth import issue_api_key
from api.main import create_app
from ledger.audit.epcis import event_hash
from ledger.vocabulary import Role
from tests.api.test_writes import Gateway, gw  # noqa: F401  (the module-scoped gateway fixture)
from tests.ledger.test_epcis_mapping import OPENAPI, example_mapping, gs1_capture_example
from tests.ledger.test_indexer import LEUVEN

pytestmark = pytest.mark.anvil

BASE = "/epcis"


def _admin(gw: Gateway) -> dict[str, str]:  # noqa: F811
    admin = gw.suite.chain.accounts[LEUVEN]
    return {"X-API-Key": issue_api_key(gw.store, admin.address, "leuven-admin")}


def _mapping(gw: Gateway) -> dict[str, Any]:  # noqa: F811
    body = json.loads(example_mapping().model_dump_json())
    makers = dict(zip(body["makers"], (gw.alice.address, gw.bob.address), strict=True))
    return {**body, "makers": makers}


def _finished(gw: Gateway, location: str, headers: dict[str, str] | None = None) -> dict[str, Any]:  # noqa: F811
    deadline = time.monotonic() + 120
    while True:
        job = gw.client.get(location, headers=headers or gw.as_("alice"))
        assert job.status_code == 200, job.text
        assert job.headers["GS1-EPCIS-Version"] == "2.0.0"
        body: dict[str, Any] = job.json()
        if not body["running"]:
            return body
        assert time.monotonic() < deadline, "the capture job did not finish"
        time.sleep(0.1)


def _all_events(gw: Gateway, query: str) -> list[dict[str, Any]]:  # noqa: F811
    """Every page of a query, following the Link header's next page."""
    events: list[dict[str, Any]] = []
    url = f"{BASE}/events?{query}&perPage=2"
    pages = 0
    while url:
        reply = gw.client.get(url)
        assert reply.status_code == 200, reply.text
        assert reply.headers["GS1-CBV-Version"] == "2.0.0"
        body = reply.json()
        assert body["type"] == "EPCISQueryDocument"
        page = body["epcisBody"]["queryResults"]["resultsBody"]["eventList"]
        assert len(page) <= 2
        events += page
        pages += 1
        link = reply.headers.get("Link")
        url = link.split(">")[0].lstrip("<") if link else ""
    assert pages >= 2 or len(events) <= 2
    return events


def test_mapping_is_set_by_the_pilot_admin_only(gw: Gateway) -> None:  # noqa: F811
    mapping = _mapping(gw)
    denied = gw.client.put("/api/pilots/LEU/epcis/mapping", json=mapping, headers=gw.as_("alice"))
    assert denied.status_code == 403
    bad = gw.client.put(
        "/api/pilots/LEU/epcis/mapping",
        json={**mapping, "materials": [{"gtin": "12345678", "material": "99 99 99"}]},
        headers=_admin(gw),
    )
    assert bad.status_code == 422 and "99 99 99" in bad.text
    reply = gw.client.put("/api/pilots/LEU/epcis/mapping", json=mapping, headers=_admin(gw))
    assert reply.status_code == 200, reply.text
    assert gw.client.get("/api/pilots/LEU/epcis/mapping").json()["makers"] == mapping["makers"]


def test_gs1_example_is_captured_and_queried_back(gw: Gateway) -> None:  # noqa: F811
    assert (
        gw.client.put(
            "/api/pilots/LEU/epcis/mapping", json=_mapping(gw), headers=_admin(gw)
        ).status_code
        == 200
    )
    doc = gs1_capture_example()
    before = gw.suite.materials.lot_count()
    reply = gw.client.post(f"{BASE}/capture", json=doc, headers=gw.as_("alice"))
    assert reply.status_code == 202, reply.text
    assert reply.headers["GS1-EPCIS-Version"] == "2.0.0"
    job = _finished(gw, reply.headers["Location"])
    assert job["success"] is True and job["errors"] == [], job
    (recorded,) = job["ll:result"]["recorded"]
    assert recorded["events"] == [0, 0, 1]
    assert gw.suite.materials.lot_count() == before + 2  # two items taken in, one handed over whole
    assert gw.state.wait_indexed(recorded["block_number"])
    evidence = {
        "0x" + event_hash(e).split(";")[1].split("?")[0]: e for e in doc["epcisBody"]["eventList"]
    }
    found = [
        e
        for e in _all_events(gw, "EQ_bizLocation=urn:loopledger:pilot:LEU")
        if e.get("ll:evidence") in evidence
    ]
    assert sorted((e["type"], e["action"]) for e in found) == [
        ("ObjectEvent", "ADD"),
        ("ObjectEvent", "ADD"),
        ("ObjectEvent", "OBSERVE"),
    ]
    handed = next(e for e in found if e["action"] == "OBSERVE")
    assert handed["destinationList"][0]["destination"] == f"urn:loopledger:party:{gw.bob.address}"
    assert handed["quantityList"][0]["quantity"] == 2_500
    # The same events by the other standard parameters and resource listings.
    lot = handed["quantityList"][0]["epcClass"]
    by_class = _all_events(gw, f"MATCH_epcClass={quote(lot, safe='')}")
    assert {e["eventID"] for e in by_class} >= {handed["eventID"]}
    one = gw.client.get(f"{BASE}/events/{quote(handed['eventID'], safe='')}")
    assert one.status_code == 200 and one.json() == handed
    assert "shipping" in gw.client.get(f"{BASE}/bizSteps").json()["member"]
    assert gw.client.get(f"{BASE}/epcs/{quote(lot, safe='')}").json()["member"] == ["events"]
    listed = gw.client.get(f"{BASE}/epcs/{quote(lot, safe='')}/events").json()["epcisBody"][
        "queryResults"
    ]["resultsBody"]
    assert handed["eventID"] in {e["eventID"] for e in listed["eventList"]}
    # Capturing the same document again takes its two items in again (EPCIS ids are not
    # the ledger's identity); a document naming an unmapped place is refused whole.
    bad = json.loads(json.dumps(doc))
    bad["epcisBody"]["eventList"][1]["readPoint"] = {"id": "urn:epc:id:sgln:9999999.00000.0"}
    bad["epcisBody"]["eventList"][1]["bizLocation"] = {"id": "urn:epc:id:sgln:9999999.00000.0"}
    count = gw.suite.materials.lot_count()
    failed = _finished(
        gw, gw.client.post(f"{BASE}/capture", json=bad, headers=gw.as_("alice")).headers["Location"]
    )
    assert failed["success"] is False
    assert [(p["title"], p["type"]) for p in failed["errors"]] == [
        ("event 1 (ObjectEvent OBSERVE)", "epcisException:ValidationException")
    ]
    assert "no maker is mapped to urn:epc:id:sgln:9999999.00000.0" in failed["errors"][0]["detail"]
    assert gw.suite.materials.lot_count() == count


def test_query_parameters_and_paging(gw: Gateway) -> None:  # noqa: F811
    everything = _all_events(gw, "eventType=ObjectEvent|TransformationEvent")
    assert len(everything) >= 6
    assert {e["type"] for e in everything} == {"ObjectEvent", "TransformationEvent"}
    assert len({e["eventID"] for e in everything}) == len(
        everything
    )  # pages neither repeat nor skip
    transforms = _all_events(gw, "eventType=TransformationEvent")
    assert transforms and all(e["type"] == "TransformationEvent" for e in transforms)
    deletes = _all_events(gw, "EQ_action=DELETE")
    assert deletes and all(e["action"] == "DELETE" for e in deletes)
    assert _all_events(gw, "GE_eventTime=2100-01-01T00:00:00Z") == []
    ordered = gw.client.get(
        f"{BASE}/events?orderBy=eventTime&orderDirection=ASC&perPage=1000"
    ).json()
    times = [
        e["eventTime"] for e in ordered["epcisBody"]["queryResults"]["resultsBody"]["eventList"]
    ]
    assert times == sorted(times)
    for query, detail in (
        ("EQ_action=JUMP", "EQ_action"),
        ("GE_eventTime=yesterday", "date-time"),
        ("nextPageToken=abc", "nextPageToken"),
        ("EQ_colour=red", "EQ_colour"),
    ):
        reply = gw.client.get(f"{BASE}/events?{query}")
        assert (
            reply.status_code == 400 and reply.headers["content-type"] == "application/problem+json"
        )
        assert (
            reply.json()["type"] == "epcisException:QueryParameterException"
            and detail in reply.json()["detail"]
        )


def test_unsupported_operations_and_errors_take_the_standards_form(gw: Gateway) -> None:  # noqa: F811
    for method, path in (
        ("GET", "/queries"),
        ("POST", "/events"),
        ("DELETE", "/nextPageToken/x"),
        ("OPTIONS", "/events"),
    ):
        reply = gw.client.request(method, BASE + path)
        assert reply.status_code == 501, (method, path)
        assert reply.json()["type"] == "epcisException:ImplementationException"
    unsigned = gw.client.post(f"{BASE}/capture", json=gs1_capture_example())
    assert (
        unsigned.status_code == 401
        and unsigned.json()["type"] == "epcisException:SecurityException"
    )
    invalid = gw.client.post(
        f"{BASE}/capture", json={"type": "EPCISDocument"}, headers=gw.as_("alice")
    )
    assert (
        invalid.status_code == 400
        and invalid.json()["type"] == "epcisException:ValidationException"
    )
    assert gw.client.get(f"{BASE}/capture/nothing", headers=gw.as_("alice")).status_code == 404
    assert gw.client.get(f"{BASE}/bizSteps/flying").status_code == 404
    top = gw.client.get(BASE).json()
    assert top["type"] == "Collection" and "events" in top["member"]


IMPLEMENTED = {
    ("GET", "/"),
    ("POST", "/capture"),
    ("GET", "/capture"),
    ("GET", "/capture/{captureID}"),
    ("GET", "/events"),
    ("GET", "/events/{eventID}"),
} | {
    ("GET", f"/{r}{tail}")
    for r, value in (
        ("eventTypes", "{eventType}"),
        ("epcs", "{epc}"),
        ("bizSteps", "{bizStep}"),
        ("bizLocations", "{bizLocation}"),
        ("readPoints", "{readPoint}"),
        ("dispositions", "{disposition}"),
    )
    for tail in ("", f"/{value}", f"/{value}/events")
}
EXAMPLES = 25


def test_schemathesis_against_gs1_openapi(gw: Gateway) -> None:  # noqa: F811
    """Generated requests to every implemented operation of GS1's document: no 5xx, and every
    answer conforms to the document (status, content type, headers, body). The standard's
    QueryParameterException (400) for a parameter value the query language refuses is
    accepted on query operations whose entry in the document lists no 400.

    One defect of the document is mended first: CaptureJob's `errors`/`errorFile` choice is a
    `oneOf` of two schemas that require nothing, so every object matches both and no capture
    job could ever conform; it is read as the `anyOf` it means."""
    spec = json.loads(OPENAPI.read_text())
    choice = spec["components"]["schemas"]["CaptureJob"]["allOf"][1]
    choice["anyOf"] = choice.pop("oneOf")
    schema = schemathesis.openapi.from_dict(spec)
    schema.app = create_app(gw.state)
    operations = [r.ok() for r in schema.get_all_operations()]
    chosen = [op for op in operations if (op.method.upper(), op.path) in IMPLEMENTED]
    assert len(chosen) == len(IMPLEMENTED)
    headers = {"X-API-Key": gw.keys["alice"]}
    tried: dict[str, int] = {}

    def check(operation: Any) -> None:
        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            database=None,
        )
        def run(case: Any) -> None:
            response = case.call(base_url=f"http://localhost{BASE}", headers=headers)
            assert response.status_code < 500, (
                f"{operation.label}: {response.status_code} {response.text}"
            )
            query_refusal = (
                response.status_code == 400
                and response.json().get("type") == "epcisException:QueryParameterException"
            )
            checks = [
                not_a_server_error,
                content_type_conformance,
                response_headers_conformance,
                response_schema_conformance,
            ]
            if not query_refusal:
                checks.append(status_code_conformance)
            case.validate_response(response, checks=checks)
            tried[operation.label] = tried.get(operation.label, 0) + 1

        run()

    for operation in chosen:
        check(operation)
    assert len(tried) == len(chosen)


def test_a_document_of_two_makers_is_captured_in_order(gw: Gateway) -> None:  # noqa: F811
    """Alice takes pallets in and hands part of them to a second custodial maker, who makes two
    benches of them and sells one: one capture, two makers, recorded in document order."""
    admin = gw.suite.chain.accounts[LEUVEN]
    second = gw.outsider.address
    gw.suite.registry.set_pilot_role(admin, LEUVEN, second, Role.MAKER)
    alice_site, second_site = "urn:epc:id:sgln:5412345.00001.0", "urn:epc:id:sgln:5412345.00002.0"
    mapping = {
        "pilot": "LEU",
        "makers": {alice_site: gw.alice.address, second_site: second},
        "materials": [
            {"pattern": "urn:epc:class:lgtin:5412345.0*.pallets-*", "material": "15 01 03"},
            {"gtin": "05412345000105", "material": "P-FURNITURE", "item_grams": 4_000},
        ],
        "steps": {
            "receiving": {"record": "intake", "source": "industrial_surplus"},
            "shipping": {"record": "hand_over"},
            "retail_selling": {"record": "dispatch", "fate": "in_use"},
        },
    }
    headers = _admin(gw)
    assert (
        gw.client.put("/api/pilots/LEU/epcis/mapping", json=mapping, headers=headers).status_code
        == 200
    )
    pallets = "urn:epc:class:lgtin:5412345.000001.pallets-77"
    at = {
        "alice": {"readPoint": {"id": alice_site}},
        "second": {"readPoint": {"id": second_site}},
    }
    when = {"eventTime": "2026-11-23T08:00:00Z", "eventTimeZoneOffset": "+01:00"}
    events = [
        {
            "type": "ObjectEvent",
            "action": "ADD",
            "bizStep": "receiving",
            **when,
            **at["alice"],
            "quantityList": [{"epcClass": pallets, "quantity": 20, "uom": "KGM"}],
        },
        {
            "type": "ObjectEvent",
            "action": "OBSERVE",
            "bizStep": "shipping",
            **when,
            **at["alice"],
            "quantityList": [{"epcClass": pallets, "quantity": 12.5, "uom": "KGM"}],
            "destinationList": [{"type": "location", "destination": second_site}],
        },
        {
            "type": "TransformationEvent",
            "bizStep": "commissioning",
            **when,
            **at["second"],
            "inputQuantityList": [{"epcClass": pallets, "quantity": 12.5, "uom": "KGM"}],
            "outputEPCList": [
                "urn:epc:id:sgtin:5412345.000010.1",
                "urn:epc:id:sgtin:5412345.000010.2",
            ],
        },
        {
            "type": "ObjectEvent",
            "action": "DELETE",
            "bizStep": "retail_selling",
            **when,
            **at["second"],
            "epcList": ["urn:epc:id:sgtin:5412345.000010.1"],
        },
    ]
    doc = {
        "@context": ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"],
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": "2026-11-23T09:00:00Z",
        "epcisBody": {"eventList": events},
    }
    before = gw.suite.materials.lot_count()
    reply = gw.client.post(f"{BASE}/capture", json=doc, headers=headers)
    assert reply.status_code == 202, reply.text
    job = _finished(gw, reply.headers["Location"], headers)
    assert job["success"] is True, json.dumps(job.get("errors"))[:3000]
    recorded = job["ll:result"]["recorded"]
    assert [(r["maker"], r["events"]) for r in recorded] == [
        (gw.alice.address, [0, 1]),
        (second, [2, 3]),
    ]
    # alice's intake, the part handed over, two benches
    assert gw.suite.materials.lot_count() == before + 4
    taken, received, bench1, bench2 = (gw.suite.materials.lot(before + i) for i in range(1, 5))
    assert (taken.holder, taken.grams) == (gw.alice.address, 7_500)
    assert (received.holder, received.grams) == (second, 0)  # all of it went into the benches
    assert (bench1.holder, bench1.grams, bench2.grams) == (second, 0, 4_000)  # one sold, one held
    # One job, one transaction: the two makers' events are recorded together or not at all.
    assert (
        recorded[0]["tx_hash"] == recorded[1]["tx_hash"]
        and recorded[0]["job"] == recorded[1]["job"]
    )
