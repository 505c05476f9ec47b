"""GS1 EPCIS 2.0: exported documents validate against the published schema, event ids are CBV 2.0
hashes, export -> import into a fresh deployment -> export gives the same events, and
hand-written documents import or are rejected with the event and the reason."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from epcis_event_hash_generator.hash_generator import epcis_hashes_from_events
from epcis_event_hash_generator.json_to_py import event_list_from_epcis_document_json

from ledger.audit.epcis import (
    document,
    event_hash,
    event_times,
    evidence_of,
    export_events,
    plan_import,
    schema_path,
    store_tables,
    strip_chain_refs,
    validate,
)
from ledger.build import Artifact
from ledger.chain import AnvilChain
from ledger.clients import Suite
from ledger.deploy import deploy
from ledger.indexer import indexer_for
from ledger.runtime import dev_admins
from ledger.settings import project_root
from ledger.store.db import Store
from ledger.vocabulary import Role
from ledger.write.plan import WriteRejected
from ledger.write.shell import Writer
from pilots.model import Pilot
from tests.api.test_writes import Gateway, gw  # noqa: F401  (the module-scoped gateway fixture)
from tests.conftest import anvil_settings
from tests.ledger.test_indexer import LEUVEN

pytestmark = pytest.mark.anvil

SCHEMA = schema_path(project_root())
LEU_PLACE = {"id": "urn:loopledger:pilot:LEU"}
CONTEXT = [
    "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld",
    {"ll": "https://loopledger.eu/epcis/"},
]


@pytest.fixture(autouse=True)
def _schema_present() -> None:
    if not SCHEMA.exists():
        pytest.skip(
            f"the EPCIS 2.0 JSON schema is absent: expected at {SCHEMA} (../shared/reference/epcis)"
        )


def _export(
    suite: Suite, store: Store, pilots: list[Pilot], maker: str | None = None
) -> list[dict[str, Any]]:
    codes = {v: k for k, v in suite.manifest.materials.items()}
    return export_events(
        store_tables(store, pilot=LEUVEN, maker=maker),
        chain_id=suite.manifest.chain_id,
        pilot_codes={p.id: p.code for p in pilots},
        material_codes=codes,
    )


def test_export_is_valid_epcis_with_cbv_event_hashes(gw: Gateway, pilots: list[Pilot]) -> None:  # noqa: F811
    events = _export(gw.suite, gw.store, pilots)
    doc = document(events)
    assert validate(doc, SCHEMA) == []
    kinds = {(e["type"], e.get("action")) for e in events}
    assert {
        ("ObjectEvent", "ADD"),
        ("ObjectEvent", "OBSERVE"),
        ("ObjectEvent", "DELETE"),
        ("TransformationEvent", None),
    } <= kinds
    for event in events:
        assert event["eventID"].startswith("ni:///sha-256;") and event["eventID"].endswith(
            "?ver=CBV2.0"
        )
        assert event["eventID"] == event_hash(event)
    transform = next(e for e in events if e["type"] == "TransformationEvent")
    assert {q["uom"] for q in transform["inputQuantityList"] + transform["outputQuantityList"]} == {
        "GRM"
    }
    assert transform["readPoint"] == transform["bizLocation"] == LEU_PLACE
    # Any change to an event changes its hash.
    changed = copy.deepcopy(transform)
    changed["outputQuantityList"][0]["quantity"] += 1
    assert event_hash(changed) != transform["eventID"]
    # The gateway serves the same document.
    served = gw.client.get("/api/pilots/LEU/epcis").json()
    assert [e["eventID"] for e in served["epcisBody"]["eventList"]] == [
        e["eventID"] for e in events
    ]


def test_published_event_ids_are_the_hashes_of_the_published_events(gw: Gateway) -> None:  # noqa: F811
    """Anyone can recompute every eventID of the served document with GS1's reference hash
    generator, chain references included (they were once left out of the hash)."""
    served = gw.client.get("/api/pilots/LEU/epcis").json()
    events = served["epcisBody"]["eventList"]
    assert len(events) >= 6 and all("ll:block" in e and "ll:tx" in e for e in events)
    recomputed = epcis_hashes_from_events(event_list_from_epcis_document_json(served))
    assert recomputed == [e["eventID"] for e in events]
    # With a GS1 company prefix: LGTINs and SGLNs, still valid and still verifiable.
    codes = {v: k for k, v in gw.suite.manifest.materials.items()}
    gs1 = document(
        export_events(
            store_tables(gw.store, pilot=LEUVEN),
            chain_id=gw.suite.manifest.chain_id,
            pilot_codes={LEUVEN: "LEU"},
            material_codes=codes,
            company_prefix="5412345",
        )
    )
    assert validate(gs1, SCHEMA) == []
    listed = gs1["epcisBody"]["eventList"]
    assert all(
        q["epcClass"].startswith("urn:epc:class:lgtin:5412345.")
        for e in listed
        for q in e.get("quantityList", [])
    )
    assert {e["bizLocation"]["id"] for e in listed} == {"urn:epc:id:sgln:5412345.00001.0"}
    again = epcis_hashes_from_events(event_list_from_epcis_document_json(gs1))
    assert again == [e["eventID"] for e in listed]


def test_round_trip_into_a_fresh_deployment(
    gw: Gateway,  # noqa: F811
    artifacts: dict[str, Artifact],
    pilots: list[Pilot],
    tmp_path: Path,
) -> None:
    alice, bob = gw.alice.address, gw.bob.address
    exported = _export(
        gw.suite, gw.store, pilots, maker=alice
    )  # the story's records: nothing else yet
    assert len(exported) == 6
    chain = AnvilChain.start(anvil_settings(tmp_path))
    try:
        manifest, _ = deploy(
            chain, artifacts, pilots, tmp_path / "manifest.json", admins=dev_admins(chain, pilots)
        )
        fresh = Suite(chain, manifest, artifacts)
        for maker in (gw.alice, gw.bob):
            fresh.registry.set_pilot_role(chain.accounts[LEUVEN], LEUVEN, maker.address, Role.MAKER)
        plan = plan_import(
            document(exported), schema=SCHEMA, chain_id=manifest.chain_id, pilot_code="LEU"
        )
        planned = Writer(fresh).prepare(alice, LEUVEN, plan.records, where=plan.where, handles=True)
        ((call, _),) = planned.calls
        fresh.tx.relay(gw.alice, call)
        store = Store.open(f"sqlite:///{tmp_path / 'fresh.sqlite'}")
        indexer_for(fresh, store).run()
        again = _export(fresh, store, pilots, maker=alice)
    finally:
        chain.close()
    assert [strip_chain_refs(e) for e in again] == [strip_chain_refs(e) for e in exported]
    assert len(plan.records) == len(exported)
    handed_to = {d["destination"] for e in exported for d in e.get("destinationList", [])}
    assert f"urn:loopledger:party:{bob}" in handed_to  # the hand-over to another maker came through


def _doc(*events: dict[str, Any]) -> dict[str, Any]:
    return {
        "@context": CONTEXT,
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": "2026-11-22T09:00:00Z",
        "epcisBody": {"eventList": list(events)},
    }


def _event(kind: str, **fields: Any) -> dict[str, Any]:
    return {
        "type": kind,
        "eventTime": "2026-11-22T08:30:00.000Z",
        "eventTimeZoneOffset": "+01:00",
        "bizLocation": LEU_PLACE,
        **fields,
    }


PALLETS = _event(
    "ObjectEvent",
    action="ADD",
    bizStep="receiving",
    quantityList=[{"epcClass": "urn:example:pallets:7", "quantity": 12.5, "uom": "KGM"}],
    **{"ll:material": "15 01 03", "ll:source": "industrial_surplus"},
)
BENCH = _event(
    "TransformationEvent",
    bizStep="creating_class_instance",
    inputQuantityList=[{"epcClass": "urn:example:pallets:7", "quantity": 12500, "uom": "GRM"}],
    outputQuantityList=[{"epcClass": "urn:example:bench:1", "quantity": 11, "uom": "KGM"}],
    **{"ll:outputMaterials": ["P-FURNITURE"], "ll:loss": 1500},
)
SOLD = _event(
    "ObjectEvent",
    action="DELETE",
    bizStep="retail_selling",
    disposition="retail_sold",
    quantityList=[{"epcClass": "urn:example:bench:1", "quantity": 11000, "uom": "GRM"}],
)


def test_import_of_a_hand_written_document(gw: Gateway) -> None:  # noqa: F811
    before = gw.suite.materials.lot_count()
    reply = gw.client.post(
        "/api/pilots/LEU/epcis", json=_doc(PALLETS, BENCH, SOLD), headers=gw.as_("alice")
    )
    assert reply.status_code == 201, reply.text
    lots = reply.json()["lots"]
    assert lots == {"urn:example:pallets:7": before + 1, "urn:example:bench:1": before + 2}
    pallets, bench = gw.suite.materials.lot(before + 1), gw.suite.materials.lot(before + 2)
    assert (pallets.grams, bench.grams, bench.holder) == (
        0,
        0,
        gw.alice.address,
    )  # drawn, made, sold
    assert gw.state.wait_indexed(reply.json()["block_number"])
    trail = gw.client.get(f"/api/lots/{before + 2}/trail").json()["trail"]
    assert [s["action"] for s in trail] == ["produced_by_transformation", "dispatch"]
    assert trail[1]["fate"] == 1  # retail_sold maps onto "in use"


def test_an_imported_event_is_exported_with_its_own_time(gw: Gateway) -> None:  # noqa: F811
    """The time an event happened is data: the export keeps it (with its offset) and gives the
    block's time as when it was recorded; the published event id still verifies."""
    pallets = {
        **PALLETS,
        "eventTime": "2026-03-02T07:15:00.000Z",
        "quantityList": [{"epcClass": "urn:example:pallets:8", "quantity": 3, "uom": "KGM"}],
    }
    reply = gw.client.post("/api/pilots/LEU/epcis", json=_doc(pallets), headers=gw.as_("alice"))
    assert reply.status_code == 201, reply.text
    assert gw.state.wait_indexed(reply.json()["block_number"])
    served = gw.client.get("/api/pilots/LEU/epcis").json()["epcisBody"]["eventList"]
    (event,) = [e for e in served if e["ll:evidence"] == evidence_of(pallets)]
    assert (event["eventTime"], event["eventTimeZoneOffset"]) == (
        "2026-03-02T07:15:00.000Z",
        "+01:00",
    )
    block = gw.suite.chain.w3.eth.get_block(reply.json()["block_number"])
    recorded = datetime.fromtimestamp(int(block["timestamp"]), UTC)
    assert event["ll:recordedAt"] == recorded.strftime("%Y-%m-%dT%H:%M:%S.000Z")
    assert event["eventID"] == event_hash(event)


def test_a_document_of_too_many_events_is_refused_before_anything_is_stored(
    gw: Gateway,  # noqa: F811
) -> None:
    many = [
        {**PALLETS, "eventTime": f"2026-03-02T07:{i // 60:02d}:{i % 60:02d}Z"} for i in range(201)
    ]
    reply = gw.client.post("/api/pilots/LEU/epcis", json=_doc(*many), headers=gw.as_("alice"))
    assert reply.status_code == 422 and "at most 200" in reply.text
    with gw.store.engine.connect() as conn:
        kept = conn.execute(gw.store.tables["epcis_event_time"].select()).all()
    assert evidence_of(many[0]) not in {row.evidence for row in kept}


def test_an_event_naming_another_hash_as_its_evidence_gives_no_time() -> None:
    """Only an event's own hash is tied to its time: a document cannot date other records."""
    forged = {**PALLETS, "eventTime": "2001-01-01T00:00:00.000Z", "ll:evidence": "0x" + "ab" * 32}
    # Re-sent with its evidence named, an event is another event (the name is hashed too).
    named = {**PALLETS, "ll:evidence": evidence_of(PALLETS)}
    long = {**PALLETS, "eventTime": "2026-03-02T07:15:00." + "1" * 40 + "Z"}  # not a clock's
    rows = event_times([forged, named, long, PALLETS])
    assert rows == [
        {
            "evidence": evidence_of(PALLETS),
            "event_time": PALLETS["eventTime"],
            "time_zone_offset": "+01:00",
        }
    ]


@pytest.mark.parametrize(
    ("events", "reason"),
    [
        (
            [
                {
                    **PALLETS,
                    "quantityList": [{"epcClass": "urn:example:p", "quantity": 3, "uom": "LBR"}],
                }
            ],
            "unit 'LBR'",
        ),
        (
            [{**PALLETS, "quantityList": [{"epcClass": "urn:example:p", "uom": "KGM"}]}],
            "no quantity",
        ),
        (
            [PALLETS, {**BENCH, "ll:loss": 1000}],
            "outputs 11000 g + loss 1000 g must equal inputs 12500 g",
        ),
        ([PALLETS, {**PALLETS, "ll:material": "99 99 99"}], "unknown material code '99 99 99'"),
        (
            [
                _event(
                    "ObjectEvent",
                    action="DELETE",
                    quantityList=[
                        {"epcClass": "urn:loopledger:31337:lot:5", "quantity": 1, "uom": "GRM"}
                    ],
                    **{"ll:fate": "recycled"},
                )
            ],
            "is held by",
        ),  # lot 5 of the story is bob's
        (
            [
                _event(
                    "AggregationEvent",
                    action="ADD",
                    parentID="urn:example:box",
                    childEPCs=["urn:example:item:1"],
                )
            ],
            "unsupported event",
        ),
        (
            [
                {
                    **SOLD,
                    "quantityList": [
                        {"epcClass": "urn:example:nowhere", "quantity": 1, "uom": "GRM"}
                    ],
                }
            ],
            "neither a lot of an earlier record",
        ),
        ([{k: v for k, v in PALLETS.items() if k != "eventTimeZoneOffset"}], "eventTimeZoneOffset"),
        (
            [{**PALLETS, "quantityList": [{"epcClass": "pallets 7", "quantity": 1, "uom": "KGM"}]}],
            "is not a 'uri'",
        ),
        ([{**PALLETS, "eventTime": "2026-13-40T99:00:00Z"}], "is not a 'date-time'"),
    ],
)
def test_rejected_documents_record_nothing(
    gw: Gateway,  # noqa: F811
    events: list[dict[str, Any]],
    reason: str,
) -> None:
    before = gw.suite.materials.lot_count()
    reply = gw.client.post("/api/pilots/LEU/epcis", json=_doc(*events), headers=gw.as_("alice"))
    assert reply.status_code == 422, reply.text
    messages = [f["field"] + ": " + f["message"] for f in reply.json()["error"]["fields"]]
    assert any(reason in m for m in messages), messages
    assert gw.suite.materials.lot_count() == before


def test_a_document_is_all_or_nothing_on_chain(gw: Gateway) -> None:  # noqa: F811
    """A document the ledger itself refuses (the ledger is paused, which no pre-check looks at)
    is refused whole: neither of its two intakes is recorded."""
    before = gw.suite.materials.lot_count()
    operator = gw.suite.chain.accounts[0]
    good = _doc(
        PALLETS,
        {**PALLETS, "quantityList": [{"epcClass": "urn:example:p2", "quantity": 1, "uom": "KGM"}]},
    )
    gw.suite.registry.set_paused(operator, True)
    try:
        reply = gw.client.post("/api/pilots/LEU/epcis", json=good, headers=gw.as_("alice"))
    finally:
        gw.suite.registry.set_paused(operator, False)
    assert reply.status_code == 422 and "refuses" in reply.text
    assert gw.suite.materials.lot_count() == before


def test_rejection_names_every_event(gw: Gateway) -> None:  # noqa: F811
    bad = _doc({**PALLETS, "ll:source": "moon"}, {**SOLD, "ll:fate": None, "disposition": "active"})
    with pytest.raises(WriteRejected) as caught:
        plan_import(bad, schema=SCHEMA, chain_id=gw.suite.manifest.chain_id, pilot_code="LEU")
    where = [w for w, _ in caught.value.reasons]
    assert "event 0 (ObjectEvent)" in where and "event 1 (ObjectEvent)" in where
