"""Import from other systems: a foreign EPCIS 2.0 document, read through a pilot's mapping,
becomes the internal documents that `ledger.audit.epcis.plan_import` records (one per run of
consecutive events of one maker, in document order).

A foreign document speaks GS1 and CBV 2.0, not LoopLedger: lots are SGTINs, LGTINs, SGTIN
patterns or GS1 Digital Link URIs, quantities are in KGM (or counts of items), places are SGLNs
and steps are CBV business steps and dispositions. The pilot's `ImportMapping` says

- which material code a GTIN (or a glob pattern over identifiers) is, and what one item weighs;
- which maker a readPoint or bizLocation is (the readPoint is asked first, as the more precise);
- what a CBV business step records: an intake (with its source), a transformation, a hand-over
  or a dispatch (with its fate, or the fate its disposition maps to).

Translation is pure and all or nothing: every event is read, and a document with any event
that does not map is rejected as a whole with (event, reason) pairs. A receiving step for a lot
that another maker of the same document holds is that maker's hand-over, so one document can
carry a lot across makers. Each internal event keeps the foreign event's CBV 2.0 hash as its
evidence, so that the chain record points back to the event it came from.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from fnmatch import fnmatchcase
from typing import Any, Literal

from eth_utils import is_address, to_checksum_address
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ledger.audit.epcis import CONTEXT, evidence_of
from ledger.audit.gs1 import Identifiers, gtin_of
from ledger.write.plan import WriteRejected, to_grams

__all__ = ["Batch", "ImportMapping", "MaterialRule", "StepRule", "cbv_name", "translate"]

SourceName = Literal[
    "municipal_collection", "donation", "industrial_surplus", "product_return", "virgin_purchase"
]
FateName = Literal[
    "in_use", "reused", "repaired", "recycled", "composted", "incinerated", "landfilled"
]
#: CBV 2.0 values come bare ("shipping"), as Web URIs or as EPCIS 1.x URNs.
CBV_FORMS = re.compile(
    r"^(?:https://ref\.gs1\.org/cbv/(?:BizStep|Disp)-|urn:epcglobal:cbv:(?:bizstep|disp):)(.+)$"
)
PARTY_URN = re.compile(r"^urn:loopledger:party:(0x[0-9a-fA-F]{40})$")


def cbv_name(value: str) -> str:
    """The bare CBV name of a business step or disposition in any of its three forms."""
    found = CBV_FORMS.match(value)
    return found.group(1) if found else value


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class MaterialRule(_Strict):
    """Identifiers of one material class: by GTIN, or by a glob pattern over identifiers."""

    gtin: str | None = Field(default=None, pattern=r"^\d{8,14}$", description="GTIN-8 to GTIN-14")
    pattern: str | None = Field(default=None, min_length=1, examples=["urn:example:pallets:*"])
    material: str = Field(min_length=1, description="LoopLedger material code, e.g. '15 01 03'")
    item_grams: int | None = Field(
        default=None, gt=0, description="mass of one item: for item EPCs and counts without a unit"
    )

    @model_validator(mode="after")
    def _one_key(self) -> MaterialRule:
        if (self.gtin is None) == (self.pattern is None):
            raise ValueError("a material rule names either a gtin or a pattern")
        return self

    def matches(self, uri: str) -> bool:
        if self.gtin is not None:
            return gtin_of(uri) == self.gtin.zfill(14)
        assert self.pattern is not None
        return fnmatchcase(uri, self.pattern)


class StepRule(_Strict):
    """What a CBV business step records on the ledger."""

    record: Literal["intake", "transformation", "hand_over", "dispatch"]
    source: SourceName | None = Field(default=None, description="for an intake")
    fate: FateName | None = Field(
        default=None, description="for a dispatch (else the disposition's fate)"
    )

    @model_validator(mode="after")
    def _needs(self) -> StepRule:
        if self.record == "intake" and self.source is None:
            raise ValueError("an intake step needs its source")
        return self


class ImportMapping(_Strict):
    """How one pilot reads documents from other EPCIS systems."""

    pilot: str = Field(pattern=r"^[A-Z0-9]{2,8}$", examples=["LEU"])
    makers: dict[str, str] = Field(
        description="readPoint or bizLocation id (or a glob pattern) -> maker address"
    )
    materials: list[MaterialRule] = Field(default_factory=list)
    steps: dict[str, StepRule] = Field(
        default_factory=dict, description="CBV business step -> record"
    )
    dispositions: dict[str, FateName] = Field(
        default_factory=dict, description="CBV disposition -> fate of a dispatch"
    )

    @field_validator("makers")
    @classmethod
    def _addresses(cls, value: dict[str, str]) -> dict[str, str]:
        bad = [v for v in value.values() if not is_address(v)]
        if bad:
            raise ValueError(f"not an account address: {', '.join(bad)}")
        return {k: to_checksum_address(v) for k, v in value.items()}

    @field_validator("steps", "dispositions")
    @classmethod
    def _bare(cls, value: dict[str, Any]) -> dict[str, Any]:
        return {cbv_name(k): v for k, v in value.items()}

    def maker_at(self, location: str) -> str | None:
        if location in self.makers:
            return self.makers[location]
        return next((m for p, m in self.makers.items() if fnmatchcase(location, p)), None)

    def material_of(self, uri: str) -> MaterialRule | None:
        return next((rule for rule in self.materials if rule.matches(uri)), None)


@dataclass
class Batch:
    """Consecutive events of one maker in one pilot, in the form `plan_import` records.

    `handed` lists the hand-overs of this batch as (lot key, received-lot key): later batches
    of the recipient refer to the received lot by its received-lot key."""

    pilot: str
    maker: str
    events: list[dict[str, Any]] = field(default_factory=list)
    #: index in the foreign document of each internal event
    origins: list[int] = field(default_factory=list)
    handed: list[tuple[str, str]] = field(default_factory=list)

    def document(self, created: str) -> dict[str, Any]:
        return {
            "@context": CONTEXT,
            "type": "EPCISDocument",
            "schemaVersion": "2.0",
            "creationDate": created,
            "epcisBody": {"eventList": self.events},
        }


@dataclass
class _Lot:
    holder: str
    pilot: str
    grams: int | None  # None: a lot of the ledger, whose mass the chain knows


class _Translator:
    def __init__(self, mappings: Sequence[ImportMapping], ids: Identifiers) -> None:
        self.mappings, self.ids = mappings, ids
        self.reasons: list[tuple[str, str]] = []
        self.batches: list[Batch] = []
        self.lots: dict[str, _Lot] = {}
        #: (maker, lot key) -> the key the maker's events use after receiving (part of) that lot
        self.alias: dict[tuple[str, str], str] = {}
        self.handed_count = 0

    # ---- reading ----------------------------------------------------------------------------

    def place(self, where: str, event: Mapping[str, Any]) -> tuple[ImportMapping, str] | None:
        tried = [
            loc
            for loc in ((event.get(k) or {}).get("id") for k in ("readPoint", "bizLocation"))
            if loc
        ]
        for location in tried:
            for mapping in self.mappings:
                maker = mapping.maker_at(location)
                if maker is not None:
                    return mapping, maker
        self.fail(
            where,
            f"no maker is mapped to {' or '.join(tried) or 'the event (it has no readPoint or bizLocation)'}",
        )
        return None

    def fail(self, where: str, why: str) -> None:
        self.reasons.append((where, why))

    def key(self, maker: str, uri: str) -> str:
        """The lot key a maker's event means by `uri`: the ledger's own lot, or a document lot."""
        uri = self.alias.get((maker, uri), uri)
        found = self.ids.parse_lot(uri)
        return f"urn:loopledger:{self.ids.chain_id}:lot:{found.lot_id}" if found else uri

    def grams(self, where: str, mapping: ImportMapping, element: Mapping[str, Any]) -> int | None:
        uri, unit = str(element.get("epcClass", "")), element.get("uom")
        if "quantity" not in element:
            self.fail(where, f"{uri} has no quantity")
            return None
        try:
            quantity = Decimal(str(element["quantity"]))
        except InvalidOperation:
            self.fail(where, f"{uri} has a quantity that is not a number")
            return None
        if unit is None:
            rule = mapping.material_of(uri)
            if rule is None or rule.item_grams is None:
                self.fail(
                    where,
                    f"{uri} is counted in items: map its GTIN or pattern with item_grams, or give a unit (GRM, KGM, TNE)",
                )
                return None
            quantity, unit = quantity * rule.item_grams, "g"
        try:
            return to_grams(quantity, str(unit))
        except ValueError as exc:
            self.fail(where, f"{uri}: {exc}")
            return None

    def amounts(
        self,
        where: str,
        mapping: ImportMapping,
        event: Mapping[str, Any],
        epcs: str,
        quantities: str,
    ) -> list[tuple[str, int]] | None:
        """(identifier, grams) of the items and quantities an event names under two fields."""
        out: list[tuple[str, int]] = []
        ok = True
        for epc in event.get(epcs) or []:
            rule = mapping.material_of(epc)
            if self.ids.parse_lot(epc) is not None:
                self.fail(
                    where,
                    f"{epc} is a lot of this ledger: name it in a quantity list with its mass",
                )
                ok = False
            elif rule is None or rule.item_grams is None:
                self.fail(
                    where, f"item {epc}: map its GTIN or pattern to a material with item_grams"
                )
                ok = False
            else:
                out.append((epc, rule.item_grams))
        for element in event.get(quantities) or []:
            grams = self.grams(where, mapping, element)
            if grams is None:
                ok = False
            else:
                out.append((str(element["epcClass"]), grams))
        return out if ok else None

    def material(self, where: str, mapping: ImportMapping, uri: str) -> str | None:
        rule = mapping.material_of(uri)
        if rule is None:
            self.fail(
                where,
                f"{uri}: no material rule of pilot {mapping.pilot} matches (map its GTIN or a pattern)",
            )
            return None
        return rule.material

    # ---- writing ----------------------------------------------------------------------------

    def emit(self, index: int, mapping: ImportMapping, maker: str, event: dict[str, Any]) -> None:
        last = self.batches[-1] if self.batches else None
        if last is None or (last.maker, last.pilot) != (maker, mapping.pilot):
            last = Batch(mapping.pilot, maker)
            self.batches.append(last)
        event["bizLocation"] = {"id": f"urn:loopledger:pilot:{mapping.pilot}"}
        last.events.append(event)
        last.origins.append(index)

    def draw(self, where: str, maker: str, key: str, grams: int) -> bool:
        lot = self.lots.get(key)
        if lot is None:
            if key.startswith("urn:loopledger:"):
                return True  # a lot of the ledger: the import checks its holder and mass on chain
            self.fail(
                where, f"{key} is neither taken in by an earlier event nor a lot of this ledger"
            )
            return False
        if lot.holder != maker:
            self.fail(where, f"{key} is held by another maker ({lot.holder}), not by {maker}")
            return False
        if lot.grams is not None:
            if grams > lot.grams:
                self.fail(where, f"{key}: {grams} g drawn, only {lot.grams} g are left")
                return False
            lot.grams -= grams
        return True

    # ---- one event --------------------------------------------------------------------------

    def event(self, index: int, event: Mapping[str, Any]) -> None:
        kind, action = event.get("type"), event.get("action")
        where = f"event {index} ({kind}{' ' + action if action else ''})"
        if kind not in ("ObjectEvent", "TransformationEvent"):
            self.fail(
                where, "unsupported event: ObjectEvent and TransformationEvent map onto the ledger"
            )
            return
        placed = self.place(where, event)
        if placed is None:
            return
        mapping, maker = placed
        step = cbv_name(str(event.get("bizStep", "")))
        rule = mapping.steps.get(step)
        evidence = evidence_of(event)
        base = {
            "eventTime": event["eventTime"],
            "eventTimeZoneOffset": event["eventTimeZoneOffset"],
            "ll:evidence": evidence,
        }
        if kind == "TransformationEvent":
            self.transformation(index, where, mapping, maker, event, base)
            return
        if rule is None and action == "DELETE":
            rule = StepRule(record="dispatch")
        if rule is None:
            self.fail(
                where, f"business step {step or '(none)'!r} is not mapped in pilot {mapping.pilot}"
            )
            return
        amounts = self.amounts(where, mapping, event, "epcList", "quantityList")
        if amounts is None:
            return
        if not amounts:
            self.fail(where, "the event names no lot (epcList or quantityList)")
            return
        for uri, grams in amounts:
            key = self.key(maker, uri)
            if rule.record == "intake":
                self.intake(index, where, mapping, maker, key, uri, grams, rule, base)
            elif rule.record == "hand_over":
                recipient = self.recipient(where, mapping, event)
                if recipient is not None:
                    self.hand_over(index, where, mapping, maker, recipient, key, grams, base)
            elif rule.record == "dispatch":
                fate = rule.fate or mapping.dispositions.get(
                    cbv_name(str(event.get("disposition", "")))
                )
                if fate is None:
                    self.fail(
                        where,
                        f"no fate: map business step {step!r} with a fate, or disposition {event.get('disposition')!r}",
                    )
                elif self.draw(where, maker, key, grams):
                    self.emit(
                        index,
                        mapping,
                        maker,
                        {
                            "type": "ObjectEvent",
                            "action": "DELETE",
                            **base,
                            "quantityList": [{"epcClass": key, "quantity": grams, "uom": "GRM"}],
                            "ll:fate": fate,
                        },
                    )
            else:
                self.fail(
                    where,
                    f"business step {step!r} records a transformation: send it as a TransformationEvent",
                )

    def intake(
        self,
        index: int,
        where: str,
        mapping: ImportMapping,
        maker: str,
        key: str,
        uri: str,
        grams: int,
        rule: StepRule,
        base: dict[str, Any],
    ) -> None:
        held = self.lots.get(key)
        if held is not None and held.holder != maker:
            # Receiving what another maker of this document holds: that maker's hand-over.
            self.hand_over(index, where, mapping, held.holder, maker, key, grams, base)
            return
        if held is not None or key.startswith("urn:loopledger:"):
            self.fail(where, f"{uri} is taken in twice")
            return
        material = self.material(where, mapping, uri)
        if material is None:
            return
        self.lots[key] = _Lot(maker, mapping.pilot, grams)
        self.emit(
            index,
            mapping,
            maker,
            {
                "type": "ObjectEvent",
                "action": "ADD",
                **base,
                "quantityList": [{"epcClass": key, "quantity": grams, "uom": "GRM"}],
                "ll:material": material,
                "ll:source": rule.source,
            },
        )

    def recipient(self, where: str, mapping: ImportMapping, event: Mapping[str, Any]) -> str | None:
        for element in event.get("destinationList") or []:
            target = str(element.get("destination", ""))
            party = PARTY_URN.match(target)
            if party is not None:
                return to_checksum_address(party.group(1))
            found = mapping.maker_at(target)
            if found is not None:
                return found
        self.fail(
            where,
            "a hand-over needs a destination (location or owning party) that the mapping names as a maker",
        )
        return None

    def hand_over(
        self,
        index: int,
        where: str,
        mapping: ImportMapping,
        sender: str,
        recipient: str,
        key: str,
        grams: int,
        base: dict[str, Any],
    ) -> None:
        if sender == recipient:
            self.fail(where, f"{key} is handed over to the maker who sends it")
            return
        lot = self.lots.get(key)
        whole = lot is not None and lot.grams == grams
        if not self.draw(where, sender, key, grams):
            return
        self.handed_count += 1
        received = key if whole else f"{key}#handed-{self.handed_count}"
        if whole:
            assert lot is not None
            lot.holder = recipient
        else:
            self.lots[received] = _Lot(recipient, mapping.pilot, grams if lot is not None else None)
            self.alias[(recipient, key)] = received
        self.emit(
            index,
            mapping,
            sender,
            {
                "type": "ObjectEvent",
                "action": "OBSERVE",
                **base,
                "quantityList": [{"epcClass": key, "quantity": grams, "uom": "GRM"}],
                "destinationList": [
                    {"type": "owning_party", "destination": f"urn:loopledger:party:{recipient}"}
                ],
                "ll:receivedLot": received,
            },
        )
        self.batches[-1].handed.append((key, received))

    def transformation(
        self,
        index: int,
        where: str,
        mapping: ImportMapping,
        maker: str,
        event: Mapping[str, Any],
        base: dict[str, Any],
    ) -> None:
        ins = self.amounts(where, mapping, event, "inputEPCList", "inputQuantityList")
        outs = self.amounts(where, mapping, event, "outputEPCList", "outputQuantityList")
        if ins is None or outs is None:
            return
        if not ins or not outs:
            self.fail(where, "a transformation needs inputs and outputs")
            return
        materials = [self.material(where, mapping, uri) for uri, _ in outs]
        keys = [self.key(maker, uri) for uri, _ in ins]
        drawn = all(
            [self.draw(where, maker, key, grams) for key, (_, grams) in zip(keys, ins, strict=True)]
        )
        consumed, produced = sum(g for _, g in ins), sum(g for _, g in outs)
        if produced > consumed:
            self.fail(where, f"outputs weigh {produced} g, more than the inputs' {consumed} g")
            return
        if not drawn or None in materials:
            return
        for uri, grams in outs:
            if uri in self.lots:
                self.fail(where, f"output {uri} already exists")
                return
            self.lots[uri] = _Lot(maker, mapping.pilot, grams)
        self.emit(
            index,
            mapping,
            maker,
            {
                "type": "TransformationEvent",
                **base,
                "inputQuantityList": [
                    {"epcClass": k, "quantity": g, "uom": "GRM"}
                    for k, (_, g) in zip(keys, ins, strict=True)
                ],
                "outputQuantityList": [
                    {"epcClass": u, "quantity": g, "uom": "GRM"} for u, g in outs
                ],
                "ll:outputMaterials": materials,
                "ll:loss": consumed - produced,
            },
        )


def translate(
    doc: Mapping[str, Any], mappings: Sequence[ImportMapping], *, ids: Identifiers
) -> list[Batch]:
    """The batches of a foreign EPCIS document under the pilots' mappings, or WriteRejected
    naming every event that does not map and why. `doc` is taken as schema-valid."""
    translator = _Translator(mappings, ids)
    for index, event in enumerate(doc["epcisBody"]["eventList"]):
        translator.event(index, event)
    if translator.reasons:
        raise WriteRejected(translator.reasons)
    return translator.batches
