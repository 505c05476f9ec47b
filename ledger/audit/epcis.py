"""GS1 EPCIS 2.0 (JSON-LD) export and import of material events.

Mapping (one EPCIS event per ledger record, in chain order):

| ledger record  | EPCIS event                                            | bizStep / disposition        |
| -------------- | ------------------------------------------------------ | ---------------------------- |
| intake         | ObjectEvent, action ADD, quantityList [new lot]        | receiving / active           |
| transformation | TransformationEvent, input/outputQuantityList          | creating_class_instance / active |
| hand-over      | ObjectEvent, action OBSERVE, source/destination owning_party | shipping / active      |
| dispatch       | ObjectEvent, action DELETE, quantityList [lot drawn]   | decommissioning / by fate    |

Quantities are in grams (``GRM``); import also takes ``KGM`` and ``TNE``. A lot is the class-level
identifier ``urn:loopledger:<chain id>:lot:<lot id>``; the pilot is the readPoint and bizLocation
``urn:loopledger:pilot:<code>``; parties are ``urn:loopledger:party:<address>``. What EPCIS has no
field for travels as user extensions in the ``ll:`` namespace (material code, source, fate, loss,
evidence, and the chain reference of the record: block, transaction, log). ``eventID`` is the
CBV 2.0 event hash (``ni:///sha-256;...?ver=CBV2.0``), computed by the
``epcis-event-hash-generator`` package over the event exactly as published, chain reference
included, so that anyone can recompute it from the published document (CBV 2.0, section 8.9:
the hash covers user extensions; only eventID, recordTime and errorDeclaration are left out).

Import turns a document into the write planner's records (one per event; lots that earlier events
create are named by their epcClass), which the planner turns into one all-or-nothing job: a
``multicall`` that first asserts the id of the next lot (``expectNextLot``). A document that does
not map (unknown unit, missing quantity or material, unbalanced mass, a lot the maker does not
hold, an unsupported event) is rejected as a whole, naming each event and the reason; nothing of
it is queued.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

from epcis_event_hash_generator.hash_generator import epcis_hashes_from_events
from epcis_event_hash_generator.json_to_py import event_list_from_epcis_document_json
from eth_utils import to_checksum_address

from ledger.audit.gs1 import Identifiers
from ledger.errors import LedgerError
from ledger.vocabulary import Fate, Source
from ledger.write.plan import (
    Dispatch,
    Intake,
    LotRef,
    Record,
    Transfer,
    Transform,
    WriteRejected,
    to_grams,
)

__all__ = [
    "CONTEXT",
    "ImportPlan",
    "document",
    "event_hash",
    "event_times",
    "evidence_of",
    "export_events",
    "plan_import",
    "remember_event_times",
    "schema_path",
    "strip_chain_refs",
    "validate",
]

EPCIS_CONTEXT = "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"
NS = "https://loopledger.eu/epcis/"
CONTEXT: list[Any] = [EPCIS_CONTEXT, {"ll": NS}]
#: Extension fields that say where a record sits on chain: not part of the event's identity.
CHAIN_REFS = ("ll:block", "ll:tx", "ll:log")
FATE_DISPOSITION = {
    Fate.IN_USE: "retail_sold",
    Fate.REUSED: "active",
    Fate.REPAIRED: "active",
    Fate.RECYCLED: "disposed",
    Fate.COMPOSTED: "disposed",
    Fate.INCINERATED: "destroyed",
    Fate.LANDFILLED: "disposed",
}
LOT_URI = re.compile(r"^urn:loopledger:(\d+):lot:(\d+)$")
PARTY_URI = re.compile(r"^urn:loopledger:party:(0x[0-9a-fA-F]{40})$")
PILOT_URI = re.compile(r"^urn:loopledger:pilot:([A-Z0-9]+)$")


def schema_path(root: Path) -> Path:
    """The published EPCIS 2.0 JSON schema, kept beside the project in ../shared/reference."""
    return root.parent / "shared" / "reference" / "epcis" / "EPCIS-JSON-Schema.json"


@cache
def _validator(path: Path) -> Any:
    from jsonschema import Draft7Validator, FormatChecker

    if not path.exists():
        raise LedgerError(
            f"the EPCIS 2.0 JSON schema is not at {path}: EPCIS documents cannot be validated"
        )
    return Draft7Validator(json.loads(path.read_text()), format_checker=FormatChecker())


def validate(doc: Mapping[str, Any], path: Path) -> list[str]:
    """Every schema violation of `doc`, as 'where: what' lines (empty when valid)."""
    errors = sorted(_validator(path).iter_errors(doc), key=lambda e: list(e.absolute_path))
    return [
        f"{'/'.join(str(p) for p in e.absolute_path) or '(document)'}: {e.message}" for e in errors
    ]


def _time(ts: int) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def lot_uri(chain_id: int, lot_id: int) -> str:
    return Identifiers(chain_id).lot(lot_id, 0)


def _grams(value: int) -> dict[str, Any]:
    return {"quantity": int(value), "uom": "GRM"}


def strip_chain_refs(event: Mapping[str, Any]) -> dict[str, Any]:
    """The event without its chain reference, eventID and times (what a round trip may change)."""
    return {
        k: v
        for k, v in event.items()
        if k not in (*CHAIN_REFS, "eventID", "eventTime", "recordTime")
    }


def event_hash(event: Mapping[str, Any]) -> str:
    """The CBV 2.0 event hash of `event` as published (the algorithm itself leaves eventID out)."""
    body = {k: v for k, v in event.items() if k != "eventID"}
    doc = {
        "@context": CONTEXT,
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": "2000-01-01T00:00:00Z",
        "epcisBody": {"eventList": [json.loads(json.dumps(body))]},
    }
    return str(epcis_hashes_from_events(event_list_from_epcis_document_json(doc))[0])


#: The longest eventTime kept: RFC 3339 with nanoseconds and an offset is 35 characters.
MAX_TIME_TEXT = 40


def evidence_of(event: Mapping[str, Any]) -> str:
    """The evidence an imported event's records carry: its CBV 2.0 hash, as 0x and 64 digits."""
    return "0x" + event_hash(event).split(";")[1].split("?")[0]


def event_times(events: Iterable[Mapping[str, Any]]) -> list[dict[str, str]]:
    """The `epcis_event_time` rows of `events`: each event's own time under its hash. An event
    whose ``ll:evidence`` names another hash is left out (its records point to that event)."""
    rows: dict[str, dict[str, str]] = {}
    for event in events:
        own = evidence_of(event)
        given = event.get("ll:evidence")
        if "eventTime" not in event or (given is not None and str(given).lower() != own):
            continue
        when, offset = str(event["eventTime"]), str(event.get("eventTimeZoneOffset", "+00:00"))
        if len(when) > MAX_TIME_TEXT or len(offset) > 6:
            continue  # a time written with more digits than any clock has: not kept
        rows[own] = {"evidence": own, "event_time": when, "time_zone_offset": offset}
    return list(rows.values())


def remember_event_times(store: Any, events: Iterable[Mapping[str, Any]]) -> None:
    """Keep the times of the events of a document being imported, so that their export says
    when they happened, not when they were recorded. Written before the records are sent: a
    row says only what its hashed event says, so one whose records never land is harmless."""
    rows = event_times(events)
    if rows:
        with store.engine.begin() as conn:
            store.insert_ignore(conn, "epcis_event_time", rows)


def document(events: Sequence[Mapping[str, Any]], *, created: int | None = None) -> dict[str, Any]:
    return {
        "@context": CONTEXT,
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": _time(created or int(datetime.now(UTC).timestamp())),
        "epcisBody": {"eventList": list(events)},
    }


def export_events(
    tables: Mapping[str, Sequence[Mapping[str, Any]]],
    *,
    chain_id: int,
    pilot_codes: Mapping[int, str],
    material_codes: Mapping[int, str],
    company_prefix: str | None = None,
) -> list[dict[str, Any]]:
    """EPCIS events for the material records in `tables` (rows as the store holds them).

    With a GS1 `company_prefix`, lots are LGTINs, the pilot (bizLocation) and the maker's site
    (readPoint) SGLNs; without one, LoopLedger URNs (see `ledger.audit.gs1`).
    """
    ids = Identifiers(chain_id, company_prefix)
    outputs: dict[int, list[Mapping[str, Any]]] = {}
    for row in tables.get("transformation_output", []):
        outputs.setdefault(row["transform_id"], []).append(row)
    inputs: dict[int, list[Mapping[str, Any]]] = {}
    for row in tables.get("transformation_input", []):
        inputs.setdefault(row["transform_id"], []).append(row)
    lot_material = {
        int(r["lot_id"]): int(r["material_id"])
        for name in ("lot", "intake", "transformation_output")
        for r in tables.get(name, [])
    }
    events: list[tuple[tuple[int, int], dict[str, Any]]] = []
    times = {str(r["evidence"]).lower(): r for r in tables.get("epcis_event_time", [])}

    def lot(lot_id: int) -> str:
        return ids.lot(lot_id, lot_material.get(int(lot_id), 0))

    def base(row: Mapping[str, Any], kind: str, maker: str) -> dict[str, Any]:
        pilot_id, code = row["pilot_id"], pilot_codes[row["pilot_id"]]
        # An imported event happened when it says; its block's time is when it was recorded.
        own = times.get(str(row["evidence"]).lower())
        when = (
            {"eventTime": _time(row["ts"]), "eventTimeZoneOffset": "+00:00"}
            if own is None
            else {
                "eventTime": own["event_time"],
                "eventTimeZoneOffset": own["time_zone_offset"],
                "ll:recordedAt": _time(row["ts"]),
            }
        )
        return {
            "type": kind,
            **when,
            "readPoint": {"id": ids.site(pilot_id, code, maker)},
            "bizLocation": {"id": ids.pilot(pilot_id, code)},
            "ll:pilot": code,
        }

    def refs(row: Mapping[str, Any]) -> dict[str, Any]:
        return {
            "ll:evidence": row["evidence"],
            "ll:block": row["block_number"],
            "ll:tx": row["tx_hash"],
            "ll:log": row["log_index"],
        }

    for row in tables.get("intake", []):
        event = {
            **base(row, "ObjectEvent", row["maker"]),
            "action": "ADD",
            "bizStep": "receiving",
            "disposition": "active",
            "quantityList": [{"epcClass": lot(row["lot_id"]), **_grams(row["grams"])}],
            "ll:maker": row["maker"],
            "ll:material": material_codes[row["material_id"]],
            "ll:source": Source(row["source"]).name.lower(),
            **refs(row),
        }
        events.append(((row["block_number"], row["log_index"]), event))
    for row in tables.get("transformation", []):
        ins = sorted(inputs.get(row["transform_id"], []), key=lambda r: r["position"])
        outs = sorted(outputs.get(row["transform_id"], []), key=lambda r: r["position"])
        event = {
            **base(row, "TransformationEvent", row["maker"]),
            "bizStep": "creating_class_instance",
            "disposition": "active",
            "inputQuantityList": [
                {"epcClass": lot(r["lot_id"]), **_grams(r["grams"])} for r in ins
            ],
            "outputQuantityList": [
                {"epcClass": lot(r["lot_id"]), **_grams(r["grams"])} for r in outs
            ],
            "ll:maker": row["maker"],
            "ll:outputMaterials": [material_codes[r["material_id"]] for r in outs],
            "ll:loss": int(row["loss"]),
            **refs(row),
        }
        events.append(((row["block_number"], row["log_index"]), event))
    for row in tables.get("transfer", []):
        event = {
            **base(row, "ObjectEvent", row["sender"]),
            "action": "OBSERVE",
            "bizStep": "shipping",
            "disposition": "active",
            "quantityList": [{"epcClass": lot(row["lot_id"]), **_grams(row["grams"])}],
            "sourceList": [{"type": "owning_party", "source": ids.party(row["sender"])}],
            "destinationList": [
                {"type": "owning_party", "destination": ids.party(row["recipient"])}
            ],
            "ll:maker": row["sender"],
            "ll:receivedLot": lot(row["received_lot"]),
            **refs(row),
        }
        events.append(((row["block_number"], row["log_index"]), event))
    for row in tables.get("dispatch", []):
        fate = Fate(row["fate"])
        event = {
            **base(row, "ObjectEvent", row["maker"]),
            "action": "DELETE",
            "bizStep": "decommissioning",
            "disposition": FATE_DISPOSITION[fate],
            "quantityList": [{"epcClass": lot(row["lot_id"]), **_grams(row["grams"])}],
            "ll:maker": row["maker"],
            "ll:fate": fate.name.lower(),
            **refs(row),
        }
        events.append(((row["block_number"], row["log_index"]), event))
    events.sort(key=lambda pair: pair[0])
    ordered = [event for _, event in events]
    for event in ordered:
        event["eventID"] = event_hash(event)
    return ordered


# ---- import -----------------------------------------------------------------------------------


@dataclass
class ImportPlan:
    """What a document becomes: the planner's records, one per event, in order."""

    records: list[Record]
    #: the document's name of each event, for the reasons of a rejection
    names: list[str]

    def where(self, index: int) -> str:
        return self.names[index]


def _quantity_grams(element: Mapping[str, Any], what: str) -> int:
    if "quantity" not in element:
        raise ValueError(f"{what} has no quantity")
    unit = element.get("uom")
    if unit not in ("GRM", "KGM", "TNE"):
        raise ValueError(f"{what} has unit {unit!r}: use GRM, KGM or TNE")
    try:
        return to_grams(element["quantity"], str(unit))
    except ValueError as exc:
        raise ValueError(f"{what}: {exc}") from None


def _evidence(event: Mapping[str, Any]) -> bytes:
    given = event.get("ll:evidence")
    if isinstance(given, str) and re.fullmatch(r"0x[0-9a-fA-F]{64}", given):
        return bytes.fromhex(given[2:])
    return bytes.fromhex(evidence_of(event)[2:])


def _record(
    event: Mapping[str, Any], *, chain_id: int, pilot_code: str, created: set[str]
) -> Record:
    """The planner's record of one event; ValueError says why it does not map. `created` holds
    the lots earlier events create (a document may reuse ids that are on chain elsewhere)."""

    def lot(uri: str) -> LotRef:
        match = LOT_URI.match(uri)
        if uri in created or match is None:
            return uri  # a lot an earlier event of the document creates
        if int(match.group(1)) != chain_id:
            raise ValueError(f"lot {uri!r} belongs to another ledger (chain {match.group(1)})")
        return int(match.group(2))

    def new_lot(uri: str) -> str:
        created.add(uri)
        return uri

    place = (event.get("bizLocation") or {}).get("id", "")
    found = PILOT_URI.match(place)
    if found is not None and found.group(1) != pilot_code:
        raise ValueError(
            f"the event is located in pilot {found.group(1)}, the import is for {pilot_code}"
        )
    kind, action = event.get("type"), event.get("action")
    if kind == "ObjectEvent" and action in ("ADD", "OBSERVE", "DELETE"):
        quantities = event.get("quantityList") or []
        if len(quantities) != 1:
            raise ValueError(
                "an ObjectEvent needs exactly one quantityList element (a lot and its quantity)"
            )
        uri, grams = (
            str(quantities[0].get("epcClass", "")),
            _quantity_grams(quantities[0], "the quantity"),
        )
        if action == "ADD":
            source = str(event.get("ll:source", "")).upper()
            if source not in Source.__members__:
                raise ValueError(
                    f"unknown or missing source {event.get('ll:source')!r} (ll:source)"
                )
            material = event.get("ll:material")
            if not isinstance(material, str):
                raise ValueError("the material code is missing (ll:material)")
            return Intake(material, Source[source], grams, _evidence(event), creates=new_lot(uri))
        if action == "OBSERVE":
            targets = [
                d.get("destination", "")
                for d in event.get("destinationList") or []
                if d.get("type") == "owning_party"
            ]
            party = PARTY_URI.match(targets[0]) if len(targets) == 1 else None
            if party is None:
                raise ValueError(
                    "a hand-over needs one owning_party destination urn:loopledger:party:<address>"
                )
            received = event.get("ll:receivedLot")
            return Transfer(
                lot(uri),
                to_checksum_address(party.group(1)),
                grams,
                _evidence(event),
                creates=received if isinstance(received, str) else None,
            )
        fate = str(event.get("ll:fate", "")).upper()
        if fate not in Fate.__members__:
            by_disposition = {"retail_sold": "IN_USE", "destroyed": "INCINERATED"}
            fate = by_disposition.get(str(event.get("disposition")), "")
        if fate not in Fate.__members__:
            raise ValueError(
                "the fate of a dispatch is missing: give ll:fate (reused, recycled, ...)"
            )
        return Dispatch(lot(uri), grams, Fate[fate], _evidence(event))
    if kind == "TransformationEvent":
        ins, outs = event.get("inputQuantityList") or [], event.get("outputQuantityList") or []
        if not ins or not outs:
            raise ValueError("a TransformationEvent needs inputQuantityList and outputQuantityList")
        codes = event.get("ll:outputMaterials")
        if not isinstance(codes, list) or len(codes) != len(outs):
            codes = [event.get("ll:material")] * len(outs)
        if not all(isinstance(c, str) for c in codes):
            raise ValueError("the output material codes are missing (ll:outputMaterials)")
        loss = event.get("ll:loss", 0)
        if not isinstance(loss, int) or isinstance(loss, bool) or loss < 0:
            raise ValueError(f"ll:loss must be a whole number of grams, not {loss!r}")
        return Transform(
            inputs=tuple(
                (lot(str(e.get("epcClass", ""))), _quantity_grams(e, f"input {i}"))
                for i, e in enumerate(ins)
            ),
            outputs=tuple(
                (str(c), _quantity_grams(e, f"output {i}"))
                for i, (e, c) in enumerate(zip(outs, codes, strict=True))
            ),
            loss=loss,
            evidence=_evidence(event),
            creates=tuple(new_lot(str(e.get("epcClass", ""))) for e in outs),
        )
    raise ValueError(
        f"unsupported event: {kind} {action or ''}".strip()
        + " (ObjectEvent ADD/OBSERVE/DELETE and TransformationEvent map onto the ledger)"
    )


def plan_import(
    doc: Mapping[str, Any], *, schema: Path, chain_id: int, pilot_code: str
) -> ImportPlan:
    """The planner's records of a document, one per event, or WriteRejected naming each event
    that does not map. The planner then checks them against the chain (lots held, mass balance,
    recipients) like any other write."""
    problems = validate(doc, schema)
    if problems:
        raise WriteRejected([("document", p) for p in problems[:20]])
    events = doc["epcisBody"]["eventList"]
    records: list[Record] = []
    names: list[str] = []
    reasons: list[tuple[str, str]] = []
    created: set[str] = set()
    for index, event in enumerate(events):
        name = f"event {index} ({event.get('type')})"
        names.append(name)
        try:
            records.append(
                _record(event, chain_id=chain_id, pilot_code=pilot_code, created=created)
            )
        except ValueError as exc:
            reasons.append((name, str(exc)))
    if reasons:
        raise WriteRejected(reasons)
    return ImportPlan(records, names)


def store_tables(
    store: Any, *, pilot: int | None = None, maker: str | None = None
) -> dict[str, list[dict[str, Any]]]:
    """The material rows of the store (optionally one pilot's, one maker's) for `export_events`."""
    from sqlalchemy import select

    t = store.tables
    out: dict[str, list[dict[str, Any]]] = {}
    actor = {
        "intake": "maker",
        "transformation": "maker",
        "transfer": "sender",
        "dispatch": "maker",
    }
    times = t["epcis_event_time"]
    kept: dict[str, dict[str, Any]] = {}
    with store.engine.connect() as conn:
        for name, who in actor.items():
            where = [t[name].c.pilot_id == pilot] if pilot is not None else []
            if maker is not None:
                where.append(t[name].c[who] == maker)
            out[name] = [dict(r) for r in conn.execute(select(t[name]).where(*where)).mappings()]
            # The own times of the imported events among these rows (see `remember_event_times`).
            joined = select(times).join(t[name], t[name].c.evidence == times.c.evidence)
            for r in conn.execute(joined.where(*where).distinct()).mappings():
                kept[r["evidence"]] = dict(r)
        out["epcis_event_time"] = list(kept.values())
        lots = select(t["lot"].c.lot_id, t["lot"].c.material_id)
        if pilot is not None:
            lots = lots.where(t["lot"].c.pilot_id == pilot)
        out["lot"] = [dict(r) for r in conn.execute(lots).mappings()]
        ids = [r["transform_id"] for r in out["transformation"]]
        for child in ("transformation_input", "transformation_output"):
            out[child] = [
                dict(r)
                for r in conn.execute(
                    select(t[child]).where(t[child].c.transform_id.in_(ids))
                ).mappings()
            ]
    return out
