"""Import from other systems: foreign EPCIS documents (GS1's own example among them) translate
under a pilot's mapping into per-maker batches of the internal form, or are rejected whole with
the event and the reason; GS1 identifiers of this deployment read back as its lots."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import ValidationError

from ledger.audit.epcis import event_hash, schema_path, validate
from ledger.audit.epcis_mapping import ImportMapping, cbv_name, translate
from ledger.audit.gs1 import Identifiers, check_digit, gtin_of, parse_lot
from ledger.settings import project_root
from ledger.write.plan import WriteRejected

ALICE = "0x" + "a1" * 20
BOB = "0x" + "b0" * 20
OPENAPI = project_root().parent / "shared" / "reference" / "epcis" / "EPCIS-REST-openapi.json"
SCHEMA = schema_path(project_root())
IDS = Identifiers(31337)


def gs1_capture_example() -> dict[str, Any]:
    """The EPCIS document GS1 gives as the example body of `POST /capture` (read, not copied)."""
    if not OPENAPI.exists():
        pytest.skip(f"GS1's EPCIS OpenAPI document is absent: expected at {OPENAPI}")
    spec = json.loads(OPENAPI.read_text())
    body: dict[str, Any] = spec["paths"]["/capture"]["post"]["requestBody"]["content"][
        "application/json"
    ]["example"]
    return body


def example_mapping() -> ImportMapping:
    """Leuven's reading of the example: the shipping site is where material enters the pilot
    (alice's intake), the receiving site is bob's workshop."""
    return ImportMapping.model_validate(
        {
            "pilot": "LEU",
            "makers": {
                "urn:epc:id:sgln:0614141.07346.1234": ALICE,
                "urn:epc:id:sgln:0012345.11111.*": BOB,
            },
            "materials": [
                {
                    "gtin": gtin_of("urn:epc:id:sgtin:0614141.107346.1"),
                    "material": "15 01 03",
                    "item_grams": 2_500,
                }
            ],
            "steps": {
                "shipping": {"record": "intake", "source": "industrial_surplus"},
                "urn:epcglobal:cbv:bizstep:receiving": {"record": "intake", "source": "donation"},
            },
        }
    )


def test_gs1_example_becomes_an_intake_and_a_hand_over() -> None:
    doc = gs1_capture_example()
    batches = translate(doc, [example_mapping()], ids=IDS)
    assert [(b.pilot, b.maker.lower()) for b in batches] == [("LEU", ALICE)]
    (batch,) = batches
    kinds = [(e["type"], e["action"]) for e in batch.events]
    assert kinds == [("ObjectEvent", "ADD"), ("ObjectEvent", "ADD"), ("ObjectEvent", "OBSERVE")]
    assert batch.origins == [0, 0, 1]
    handed = batch.events[2]
    assert handed["quantityList"] == [
        {"epcClass": "urn:epc:id:sgtin:0614141.107346.2018", "quantity": 2_500, "uom": "GRM"}
    ]
    assert handed["destinationList"][0]["destination"].lower() == f"urn:loopledger:party:{BOB}"
    # Each record carries the CBV 2.0 hash of the GS1 event it came from as evidence.
    sources = doc["epcisBody"]["eventList"]
    assert (
        batch.events[0]["ll:evidence"] == "0x" + event_hash(sources[0]).split(";")[1].split("?")[0]
    )
    assert handed["ll:evidence"] == "0x" + event_hash(sources[1]).split(";")[1].split("?")[0]
    # The internal document is what today's import validates.
    assert validate(batch.document("2026-11-23T00:00:00Z"), SCHEMA) == []


def _event(kind: str = "ObjectEvent", **fields: Any) -> dict[str, Any]:
    return {
        "type": kind,
        "eventTime": "2026-11-22T08:30:00.000Z",
        "eventTimeZoneOffset": "+01:00",
        **fields,
    }


def _doc(*events: dict[str, Any]) -> dict[str, Any]:
    return {
        "@context": ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"],
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": "2026-11-22T09:00:00Z",
        "epcisBody": {"eventList": list(events)},
    }


WORKSHOP_MAPPING = ImportMapping.model_validate(
    {
        "pilot": "LEU",
        "makers": {
            "urn:epc:id:sgln:5412345.00001.0": ALICE,
            "urn:epc:id:sgln:5412345.00002.0": BOB,
        },
        "materials": [
            {"pattern": "urn:epc:class:lgtin:5412345.0*.pallets-*", "material": "15 01 03"},
            {"gtin": "05412345000105", "material": "P-FURNITURE", "item_grams": 4_000},
        ],
        "steps": {
            "receiving": {"record": "intake", "source": "industrial_surplus"},
            "shipping": {"record": "hand_over"},
            "retail_selling": {"record": "dispatch", "fate": "in_use"},
        },
        "dispositions": {"destroyed": "incinerated"},
    }
)
AT_ALICE = {"readPoint": {"id": "urn:epc:id:sgln:5412345.00001.0"}}
AT_BOB = {"readPoint": {"id": "urn:epc:id:sgln:5412345.00002.0"}}
PALLETS = "urn:epc:class:lgtin:5412345.000001.pallets-7"
TAKE_IN = _event(
    action="ADD",
    bizStep="receiving",
    quantityList=[{"epcClass": PALLETS, "quantity": 20, "uom": "KGM"}],
    **AT_ALICE,
)
SHIP = _event(
    action="OBSERVE",
    bizStep="shipping",
    quantityList=[{"epcClass": PALLETS, "quantity": 12.5, "uom": "KGM"}],
    destinationList=[{"type": "location", "destination": "urn:epc:id:sgln:5412345.00002.0"}],
    **AT_ALICE,
)
BENCHES = _event(
    "TransformationEvent",
    bizStep="commissioning",
    inputQuantityList=[{"epcClass": PALLETS, "quantity": 12500, "uom": "GRM"}],
    outputEPCList=["urn:epc:id:sgtin:5412345.000010.1", "urn:epc:id:sgtin:5412345.000010.2"],
    **AT_BOB,
)
SELL = _event(
    action="DELETE",
    bizStep="https://ref.gs1.org/cbv/BizStep-retail_selling",
    epcList=["urn:epc:id:sgtin:5412345.000010.1"],
    **AT_BOB,
)


def test_several_makers_in_one_document() -> None:
    batches = translate(_doc(TAKE_IN, SHIP, BENCHES, SELL), [WORKSHOP_MAPPING], ids=IDS)
    assert [(b.maker.lower(), len(b.events)) for b in batches] == [(ALICE, 2), (BOB, 2)]
    alice, bob = batches
    assert (
        alice.events[0]["quantityList"][0]["quantity"] == 20_000
        and alice.events[0]["ll:material"] == "15 01 03"
    )
    (handed,) = alice.handed
    assert handed[0] == PALLETS and handed[1] != PALLETS  # part of the lot: a new lot for bob
    bench = bob.events[0]
    assert bench["inputQuantityList"][0]["epcClass"] == handed[1]  # bob draws from what he received
    assert [q["quantity"] for q in bench["outputQuantityList"]] == [4_000, 4_000]
    assert bench["ll:loss"] == 12_500 - 8_000 and bench["ll:outputMaterials"] == ["P-FURNITURE"] * 2
    assert bob.events[1]["ll:fate"] == "in_use"


@pytest.mark.parametrize(
    ("events", "where", "reason"),
    [
        (
            [{**TAKE_IN, "readPoint": {"id": "urn:epc:id:sgln:9999999.00001.0"}}],
            "event 0",
            "no maker is mapped to urn:epc:id:sgln:9999999.00001.0",
        ),
        (
            [{**TAKE_IN, "quantityList": [{"epcClass": PALLETS, "quantity": 3, "uom": "LBR"}]}],
            "event 0",
            "unit 'LBR'",
        ),
        ([TAKE_IN, {**SHIP, "destinationList": []}], "event 1", "a hand-over needs a destination"),
        (
            [
                TAKE_IN,
                {**SHIP, "quantityList": [{"epcClass": PALLETS, "quantity": 25, "uom": "KGM"}]},
            ],
            "event 1",
            "25000 g drawn, only 20000 g are left",
        ),
        (
            [
                TAKE_IN,
                SHIP,
                {
                    **BENCHES,
                    "outputQuantityList": [
                        {
                            "epcClass": "urn:epc:class:lgtin:5412345.000010.x",
                            "quantity": 13,
                            "uom": "KGM",
                        }
                    ],
                },
            ],
            "event 2",
            "more than the inputs",
        ),
        (
            [
                _event(
                    "AggregationEvent",
                    action="ADD",
                    parentID="urn:epc:id:sscc:5412345.0000000001",
                    **AT_ALICE,
                )
            ],
            "event 0",
            "unsupported event",
        ),
        (
            [{**TAKE_IN, "bizStep": "inspecting"}],
            "event 0",
            "business step 'inspecting' is not mapped",
        ),
        (
            [
                {
                    **TAKE_IN,
                    "quantityList": [
                        {
                            "epcClass": "urn:epc:class:lgtin:7777777.000001.x",
                            "quantity": 1,
                            "uom": "KGM",
                        }
                    ],
                }
            ],
            "event 0",
            "no material rule",
        ),
        (
            [{**SELL, "epcList": ["urn:epc:id:sgtin:5412345.000010.9"]}],
            "event 0",
            "neither taken in by an earlier event",
        ),
        (
            [
                TAKE_IN,
                {
                    **SHIP,
                    **AT_BOB,
                    "destinationList": [
                        {"type": "location", "destination": "urn:epc:id:sgln:5412345.00001.0"}
                    ],
                },
            ],
            "event 1",
            "held by another maker",
        ),
        (
            [
                TAKE_IN,
                {
                    **SHIP,
                    "destinationList": [
                        {"type": "location", "destination": "urn:epc:id:sgln:5412345.00001.0"}
                    ],
                },
            ],
            "event 1",
            "handed over to the maker who sends it",
        ),
    ],
)
def test_rejections_name_the_event_and_the_reason(
    events: list[dict[str, Any]], where: str, reason: str
) -> None:
    with pytest.raises(WriteRejected) as caught:
        translate(_doc(*events), [WORKSHOP_MAPPING], ids=IDS)
    assert any(w.startswith(where) and reason in why for w, why in caught.value.reasons), (
        caught.value.reasons
    )


def test_every_bad_event_is_named_at_once() -> None:
    bad = {**TAKE_IN, "readPoint": {"id": "urn:epc:id:sgln:9999999.00001.0"}}
    with pytest.raises(WriteRejected) as caught:
        translate(
            _doc(bad, TAKE_IN, {**SELL, "bizStep": "void_shipping"}), [WORKSHOP_MAPPING], ids=IDS
        )
    assert [w.split(" (")[0] for w, _ in caught.value.reasons] == ["event 0", "event 2"]


def test_mapping_is_checked() -> None:
    with pytest.raises(ValidationError, match="not an account address"):
        ImportMapping.model_validate({"pilot": "LEU", "makers": {"urn:x": "alice"}})
    with pytest.raises(ValidationError, match="either a gtin or a pattern"):
        ImportMapping.model_validate(
            {"pilot": "LEU", "makers": {}, "materials": [{"material": "15 01 03"}]}
        )
    with pytest.raises(ValidationError, match="needs its source"):
        ImportMapping.model_validate(
            {"pilot": "LEU", "makers": {}, "steps": {"receiving": {"record": "intake"}}}
        )


def test_gs1_identifiers_round_trip() -> None:
    ids = Identifiers(31337, "5412345")
    assert ids.gtin(42) == "0541234500042" + str(check_digit("0541234500042"))
    lgtin = ids.lot(17, 42)
    assert lgtin == "urn:epc:class:lgtin:5412345.000042.17"
    assert ids.parse_lot(lgtin) is not None and ids.parse_lot(lgtin).lot_id == 17  # type: ignore[union-attr]
    link = ids.digital_link("https://ledger.example/", 17, 42)
    assert link == f"https://ledger.example/01/{ids.gtin(42)}/10/17"
    assert parse_lot(link, chain_id=31337, company_prefix="5412345") == parse_lot(
        lgtin, chain_id=31337, company_prefix="5412345"
    )
    assert ids.pilot(1, "LEU") == "urn:epc:id:sgln:5412345.00001.0"
    site = ids.site(1, "LEU", ALICE)
    assert site.startswith("urn:epc:id:sgln:5412345.00001.") and ALICE[2:10] not in site
    # Another prefix, a broken check digit or another chain's URN names no lot of this one.
    assert ids.parse_lot("urn:epc:class:lgtin:4012345.000042.17") is None
    assert ids.parse_lot(link[:-6] + "9/10/17") is None
    assert ids.parse_lot("urn:loopledger:1:lot:17") is None
    assert Identifiers(31337).lot(17, 42) == "urn:loopledger:31337:lot:17"
    with pytest.raises(ValueError, match="6 to 12 digits"):
        Identifiers(31337, "12ab")


def test_cbv_names() -> None:
    assert {
        cbv_name(v)
        for v in (
            "shipping",
            "urn:epcglobal:cbv:bizstep:shipping",
            "https://ref.gs1.org/cbv/BizStep-shipping",
        )
    } == {"shipping"}
