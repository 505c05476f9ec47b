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
``epcis-event-hash-generator`` package over the event without its eventID and chain reference.

Import turns a document into one all-or-nothing ledger call: a ``multicall`` that first asserts
the id of the next lot (``expectNextLot``), so that events can refer to lots created by earlier
events of the same document. A document that does not map (unknown unit, missing quantity or
material, unbalanced mass, a lot the maker does not hold, an unsupported event) is rejected as a
whole, naming each event and the reason; nothing of it is sent.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from functools import cache
from pathlib import Path
from typing import Any

from eth_utils import to_checksum_address

from ledger.errors import LedgerError
from ledger.transact import Call
from ledger.vocabulary import Fate, Source

__all__ = [
    "CONTEXT",
    "EpcisRejected",
    "ImportPlan",
    "document",
    "event_hash",
    "export_events",
    "plan_import",
    "schema_path",
    "strip_chain_refs",
    "validate",
]

EPCIS_CONTEXT = "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"
NS = "https://loopledger.eu/epcis/"
CONTEXT: list[Any] = [EPCIS_CONTEXT, {"ll": NS}]
UNITS = {"GRM": Decimal(1), "KGM": Decimal(1000), "TNE": Decimal(1_000_000)}
#: Extension fields that say where a record sits on chain: not part of the event's identity.
CHAIN_REFS = ("ll:block", "ll:tx", "ll:log")
FATE_DISPOSITION = {Fate.IN_USE: "retail_sold", Fate.REUSED: "active", Fate.REPAIRED: "active",
                    Fate.RECYCLED: "disposed", Fate.COMPOSTED: "disposed", Fate.INCINERATED: "destroyed",
                    Fate.LANDFILLED: "disposed"}  # fmt: skip
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
    return f"urn:loopledger:{chain_id}:lot:{lot_id}"


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
    """The CBV 2.0 event hash of `event` (its eventID and chain reference left out)."""
    from epcis_event_hash_generator.hash_generator import epcis_hashes_from_events
    from epcis_event_hash_generator.json_to_py import event_list_from_epcis_document_json

    body = {k: v for k, v in event.items() if k not in (*CHAIN_REFS, "eventID")}
    doc = {"@context": CONTEXT, "type": "EPCISDocument", "schemaVersion": "2.0",
           "creationDate": "2000-01-01T00:00:00Z", "epcisBody": {"eventList": [json.loads(json.dumps(body))]}}  # fmt: skip
    return str(epcis_hashes_from_events(event_list_from_epcis_document_json(doc))[0])


def document(events: Sequence[Mapping[str, Any]], *, created: int | None = None) -> dict[str, Any]:
    return {"@context": CONTEXT, "type": "EPCISDocument", "schemaVersion": "2.0",
            "creationDate": _time(created or int(datetime.now(UTC).timestamp())),
            "epcisBody": {"eventList": list(events)}}  # fmt: skip


def export_events(
    tables: Mapping[str, Sequence[Mapping[str, Any]]],
    *,
    chain_id: int,
    pilot_codes: Mapping[int, str],
    material_codes: Mapping[int, str],
) -> list[dict[str, Any]]:
    """EPCIS events for the material records in `tables` (rows as the store holds them)."""
    outputs: dict[int, list[Mapping[str, Any]]] = {}
    for row in tables.get("transformation_output", []):
        outputs.setdefault(row["transform_id"], []).append(row)
    inputs: dict[int, list[Mapping[str, Any]]] = {}
    for row in tables.get("transformation_input", []):
        inputs.setdefault(row["transform_id"], []).append(row)
    events: list[tuple[tuple[int, int], dict[str, Any]]] = []

    def base(row: Mapping[str, Any], kind: str) -> dict[str, Any]:
        place = {"id": f"urn:loopledger:pilot:{pilot_codes[row['pilot_id']]}"}
        return {"type": kind, "eventTime": _time(row["ts"]), "eventTimeZoneOffset": "+00:00",
                "readPoint": place, "bizLocation": place, "ll:pilot": pilot_codes[row["pilot_id"]]}  # fmt: skip

    def refs(row: Mapping[str, Any]) -> dict[str, Any]:
        return {"ll:evidence": row["evidence"], "ll:block": row["block_number"], "ll:tx": row["tx_hash"],
                "ll:log": row["log_index"]}  # fmt: skip

    for row in tables.get("intake", []):
        event = {**base(row, "ObjectEvent"), "action": "ADD", "bizStep": "receiving", "disposition": "active",
                 "quantityList": [{"epcClass": lot_uri(chain_id, row["lot_id"]), **_grams(row["grams"])}],
                 "ll:maker": row["maker"], "ll:material": material_codes[row["material_id"]],
                 "ll:source": Source(row["source"]).name.lower(), **refs(row)}  # fmt: skip
        events.append(((row["block_number"], row["log_index"]), event))
    for row in tables.get("transformation", []):
        ins = sorted(inputs.get(row["transform_id"], []), key=lambda r: r["position"])
        outs = sorted(outputs.get(row["transform_id"], []), key=lambda r: r["position"])
        event = {**base(row, "TransformationEvent"), "bizStep": "creating_class_instance", "disposition": "active",
                 "inputQuantityList": [{"epcClass": lot_uri(chain_id, r["lot_id"]), **_grams(r["grams"])} for r in ins],
                 "outputQuantityList": [{"epcClass": lot_uri(chain_id, r["lot_id"]), **_grams(r["grams"])} for r in outs],
                 "ll:maker": row["maker"], "ll:outputMaterials": [material_codes[r["material_id"]] for r in outs],
                 "ll:loss": int(row["loss"]), **refs(row)}  # fmt: skip
        events.append(((row["block_number"], row["log_index"]), event))
    for row in tables.get("transfer", []):
        event = {**base(row, "ObjectEvent"), "action": "OBSERVE", "bizStep": "shipping", "disposition": "active",
                 "quantityList": [{"epcClass": lot_uri(chain_id, row["lot_id"]), **_grams(row["grams"])}],
                 "sourceList": [{"type": "owning_party", "source": f"urn:loopledger:party:{row['sender']}"}],
                 "destinationList": [{"type": "owning_party", "destination": f"urn:loopledger:party:{row['recipient']}"}],
                 "ll:maker": row["sender"], "ll:receivedLot": lot_uri(chain_id, row["received_lot"]), **refs(row)}  # fmt: skip
        events.append(((row["block_number"], row["log_index"]), event))
    for row in tables.get("dispatch", []):
        fate = Fate(row["fate"])
        event = {**base(row, "ObjectEvent"), "action": "DELETE", "bizStep": "decommissioning",
                 "disposition": FATE_DISPOSITION[fate],
                 "quantityList": [{"epcClass": lot_uri(chain_id, row["lot_id"]), **_grams(row["grams"])}],
                 "ll:maker": row["maker"], "ll:fate": fate.name.lower(), **refs(row)}  # fmt: skip
        events.append(((row["block_number"], row["log_index"]), event))
    events.sort(key=lambda pair: pair[0])
    ordered = [event for _, event in events]
    for event in ordered:
        event["eventID"] = event_hash(event)
    return ordered


# ---- import -----------------------------------------------------------------------------------


class EpcisRejected(LedgerError):
    """A document that does not map onto ledger actions: every reason, per event."""

    def __init__(self, reasons: list[tuple[str, str]]) -> None:
        super().__init__("; ".join(f"{where}: {why}" for where, why in reasons))
        self.reasons = reasons


@dataclass
class ImportPlan:
    """The ledger calls of a document, in order, and the lot each document lot became."""

    calls: list[Call] = field(default_factory=list)
    lots: dict[str, int] = field(default_factory=dict)
    events: int = 0
    first_lot: int = 0


@dataclass
class _LotState:
    lot_id: int
    grams: int


class _Reader:
    """Reads the quantities and lots of one event, collecting reasons instead of raising."""

    def __init__(self, where: str, reasons: list[tuple[str, str]]) -> None:
        self.where, self.reasons = where, reasons

    def fail(self, why: str) -> None:
        self.reasons.append((self.where, why))

    def grams(self, element: Mapping[str, Any], what: str) -> int | None:
        if "quantity" not in element:
            self.fail(f"{what} has no quantity")
            return None
        unit = element.get("uom")
        if unit not in UNITS:
            self.fail(f"{what} has unit {unit!r}: use GRM, KGM or TNE")
            return None
        try:
            grams = Decimal(str(element["quantity"])) * UNITS[unit]
        except InvalidOperation:
            self.fail(f"{what} has a quantity that is not a number")
            return None
        if grams <= 0 or grams != grams.to_integral_value():
            self.fail(
                f"{what} is {element['quantity']} {unit}: it must be a positive whole number of grams"
            )
            return None
        return int(grams)


def plan_import(
    doc: Mapping[str, Any],
    *,
    schema: Path,
    chain_id: int,
    pilot_id: int,
    pilot_code: str,
    maker: str,
    next_lot: int,
    materials: Mapping[str, int],
    read_lot: Callable[[int], tuple[str, int, int] | None],
    is_maker: Callable[[str], bool],
    encode: Callable[..., Call],
) -> ImportPlan:
    """Map a document onto ledger calls for `maker` in `pilot`, or raise EpcisRejected.

    `read_lot(id)` gives (holder, grams, pilot) of a lot on chain; `encode(fn, *args)` the
    material ledger's calldata; `next_lot` the id the next created lot will have.
    """
    problems = validate(doc, schema)
    if problems:
        raise EpcisRejected([("document", p) for p in problems[:20]])
    events = doc["epcisBody"]["eventList"]
    reasons: list[tuple[str, str]] = []
    plan = ImportPlan(events=len(events), first_lot=next_lot)
    known: dict[str, _LotState] = {}
    counter = next_lot
    calls: list[Call] = [encode("expectNextLot", next_lot)]

    def lot_of(reader: _Reader, uri: str, what: str) -> _LotState | None:
        if uri in known:
            return known[uri]
        match = LOT_URI.match(uri)
        if match is None or int(match.group(1)) != chain_id:
            reader.fail(
                f"{what} {uri!r} is neither a lot of an earlier event nor a lot of this ledger"
            )
            return None
        lot = read_lot(int(match.group(2)))
        if lot is None:
            reader.fail(f"{what} {uri!r} does not exist on this ledger")
            return None
        holder, grams, lot_pilot = lot
        if holder != maker or lot_pilot != pilot_id:
            reader.fail(f"{what} {uri!r} is not held by {maker} in pilot {pilot_code}")
            return None
        known[uri] = _LotState(int(match.group(2)), grams)
        return known[uri]

    def draw(reader: _Reader, state: _LotState | None, grams: int | None, what: str) -> bool:
        if state is None or grams is None:
            return False
        if grams > state.grams:
            reader.fail(f"{what} draws {grams} g, only {state.grams} g are left")
            return False
        state.grams -= grams
        return True

    def material(reader: _Reader, code: Any, what: str) -> int:
        if not isinstance(code, str) or code not in materials:
            reader.fail(f"{what}: unknown or missing material code {code!r} (ll:material)")
            return 0
        return materials[code]

    def evidence(event: Mapping[str, Any]) -> bytes:
        given = event.get("ll:evidence")
        if isinstance(given, str) and re.fullmatch(r"0x[0-9a-fA-F]{64}", given):
            return bytes.fromhex(given[2:])
        return bytes.fromhex(event_hash(event).split(";")[1].split("?")[0])

    for index, event in enumerate(events):
        reader = _Reader(f"event {index} ({event.get('type')})", reasons)
        place = (event.get("bizLocation") or {}).get("id", "")
        found = PILOT_URI.match(place)
        if found is not None and found.group(1) != pilot_code:
            reader.fail(
                f"the event is located in pilot {found.group(1)}, the import is for {pilot_code}"
            )
            continue
        kind, action = event.get("type"), event.get("action")
        if kind == "ObjectEvent" and action in ("ADD", "OBSERVE", "DELETE"):
            quantities = event.get("quantityList") or []
            if len(quantities) != 1:
                reader.fail(
                    "an ObjectEvent needs exactly one quantityList element (a lot and its quantity)"
                )
                continue
            element = quantities[0]
            grams = reader.grams(element, "the quantity")
            uri = element["epcClass"]
            if action == "ADD":
                source = str(event.get("ll:source", "")).upper()
                if source not in Source.__members__:
                    reader.fail(f"unknown or missing source {event.get('ll:source')!r} (ll:source)")
                material_id = material(reader, event.get("ll:material"), "the intake")
                if uri in known:
                    reader.fail(f"lot {uri!r} is created twice")
                if (
                    grams is None
                    or source not in Source.__members__
                    or not material_id
                    or uri in known
                ):
                    continue
                calls.append(
                    encode(
                        "intake", pilot_id, material_id, int(Source[source]), grams, evidence(event)
                    )
                )
                known[uri] = _LotState(counter, grams)
                plan.lots[uri] = counter
                counter += 1
            elif action == "OBSERVE":
                targets = [d.get("destination", "") for d in event.get("destinationList") or []
                           if d.get("type") == "owning_party"]  # fmt: skip
                party = PARTY_URI.match(targets[0]) if len(targets) == 1 else None
                if party is None:
                    reader.fail(
                        "a hand-over needs one owning_party destination urn:loopledger:party:<address>"
                    )
                    continue
                recipient = to_checksum_address(party.group(1))
                if recipient == maker or not is_maker(recipient):
                    reader.fail(f"{recipient} is not another maker of pilot {pilot_code}")
                    continue
                state = lot_of(reader, uri, "lot")
                whole = state is not None and grams == state.grams
                if not draw(reader, state, grams, f"lot {uri!r}"):
                    continue
                assert state is not None and grams is not None
                calls.append(encode("transfer", state.lot_id, recipient, grams, evidence(event)))
                received = event.get("ll:receivedLot")
                if not whole:
                    if isinstance(received, str):
                        known[received] = _LotState(
                            counter, 0
                        )  # held by the recipient, not the maker
                        plan.lots[received] = counter
                    counter += 1
            else:
                fate_name = str(event.get("ll:fate", "")).upper()
                if fate_name not in Fate.__members__:
                    by_disposition = {"retail_sold": "IN_USE", "destroyed": "INCINERATED"}
                    fate_name = by_disposition.get(str(event.get("disposition")), "")
                if fate_name not in Fate.__members__:
                    reader.fail(
                        "the fate of a dispatch is missing: give ll:fate (reused, recycled, ...)"
                    )
                    continue
                state = lot_of(reader, uri, "lot")
                if draw(reader, state, grams, f"lot {uri!r}"):
                    assert state is not None and grams is not None
                    calls.append(
                        encode(
                            "dispatch", state.lot_id, grams, int(Fate[fate_name]), evidence(event)
                        )
                    )
        elif kind == "TransformationEvent":
            ins, outs = event.get("inputQuantityList") or [], event.get("outputQuantityList") or []
            if not ins or not outs:
                reader.fail("a TransformationEvent needs inputQuantityList and outputQuantityList")
                continue
            drawn: list[tuple[int, int]] = []
            ok = True
            for i, element in enumerate(ins):
                grams = reader.grams(element, f"input {i}")
                state = lot_of(reader, element["epcClass"], f"input {i}")
                if draw(reader, state, grams, f"input {i}"):
                    assert state is not None and grams is not None
                    drawn.append((state.lot_id, grams))
                else:
                    ok = False
            codes = event.get("ll:outputMaterials")
            if not isinstance(codes, list) or len(codes) != len(outs):
                codes = [event.get("ll:material")] * len(outs)
            made: list[tuple[int, int]] = []
            for i, (element, code) in enumerate(zip(outs, codes, strict=True)):
                grams = reader.grams(element, f"output {i}")
                material_id = material(reader, code, f"output {i}")
                if grams is None or not material_id:
                    ok = False
                    continue
                made.append((material_id, grams))
            loss = event.get("ll:loss", 0)
            if not isinstance(loss, int) or loss < 0:
                reader.fail(f"ll:loss must be a whole number of grams, not {loss!r}")
                ok = False
            if ok:
                consumed, produced = sum(g for _, g in drawn), sum(g for _, g in made)
                if produced + loss != consumed:
                    reader.fail(
                        f"unbalanced mass: inputs {consumed} g, outputs {produced} g, loss {loss} g"
                    )
                    continue
                calls.append(encode("transform", [lot for lot, _ in drawn], [g for _, g in drawn],
                                    [tuple(m) for m in made], loss, evidence(event)))  # fmt: skip
                for element, (_, grams) in zip(outs, made, strict=True):
                    known[element["epcClass"]] = _LotState(counter, grams)
                    plan.lots[element["epcClass"]] = counter
                    counter += 1
        else:
            reader.fail(f"unsupported event: {kind} {action or ''}".strip() + " (ObjectEvent ADD/OBSERVE/DELETE "
                        "and TransformationEvent map onto the ledger)")  # fmt: skip
    if reasons:
        raise EpcisRejected(reasons)
    plan.calls = calls
    return plan


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
    with store.engine.connect() as conn:
        for name, who in actor.items():
            query = select(t[name])
            if pilot is not None:
                query = query.where(t[name].c.pilot_id == pilot)
            if maker is not None:
                query = query.where(t[name].c[who] == maker)
            out[name] = [dict(r) for r in conn.execute(query).mappings()]
        ids = [r["transform_id"] for r in out["transformation"]]
        for child in ("transformation_input", "transformation_output"):
            out[child] = [
                dict(r)
                for r in conn.execute(
                    select(t[child]).where(t[child].c.transform_id.in_(ids))
                ).mappings()
            ]
    return out


def prepare_import(
    suite: Any, doc: Mapping[str, Any], *, schema: Path, pilot_id: int, pilot_code: str, maker: str
) -> tuple[ImportPlan, Call]:
    """The plan of a document for `maker` and the one `multicall` that records it."""
    from ledger.vocabulary import Role

    materials = suite.materials

    def read_lot(lot_id: int) -> tuple[str, int, int] | None:
        if not 0 < lot_id <= materials.lot_count():
            return None
        lot = materials.lot(lot_id)
        return lot.holder, lot.grams, lot.pilot

    plan = plan_import(
        doc, schema=schema, chain_id=suite.manifest.chain_id, pilot_id=pilot_id, pilot_code=pilot_code,
        maker=maker, next_lot=materials.lot_count() + 1, materials=suite.manifest.materials, read_lot=read_lot,
        is_maker=lambda who: bool(suite.registry.roles_of(pilot_id, who) & Role.MAKER),
        encode=materials.call_data,
    )  # fmt: skip
    return plan, materials.call_data("multicall", [c.data for c in plan.calls])
