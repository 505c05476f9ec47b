"""Product passports: what a lot is, where its mass came from and where it went, as JSON-LD.

One document per lot at a stable URL, at three levels of access, after the EU Ecodesign for
Sustainable Products Regulation (Regulation (EU) 2024/1781, art. 9-11: information in the
digital product passport is made accessible according to who asks, e.g. the public, economic
operators, and those holding the product):

- ``public``: product class, pilot, the maker as a pseudonym, recycled content, provenance
  shares down to the source lots, hand-overs and fates (pseudonymous parties), evidence hashes
  and chain references, and where to verify them against the chain;
- ``partner`` (signed in with a role in the lot's pilot): also account addresses and masses;
- ``owner`` (the lot's holder or maker): also the evidence documents held for the lot.

The vocabulary is LoopLedger's own (``https://loopledger.eu/passport/``) with schema.org terms
where they fit; the context is inline, so the document expands without fetching anything.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from fractions import Fraction
from typing import Any, Literal

from ledger.audit.gs1 import Identifiers
from ledger.vocabulary import Fate, Source

__all__ = ["CONTEXT", "Level", "LotFacts", "SourceLot", "Step", "passport_document", "passport_url"]

Level = Literal["public", "partner", "owner"]
VOCAB = "https://loopledger.eu/passport/"
CONTEXT: dict[str, Any] = {
    "@vocab": VOCAB,
    "schema": "https://schema.org/",
    "id": "@id",
    "type": "@type",
    "name": "schema:name",
    "url": {"@id": "schema:url", "@type": "@id"},
    "digitalLink": {"@type": "@id"},
    "verify": {"@type": "@id"},
    "time": {"@id": "schema:dateCreated"},
}


@dataclass(frozen=True)
class Step:
    """One ledger record touching the lot, as the index holds it."""

    action: Literal["intake", "made", "used", "handed_over", "received", "dispatched"]
    lot_id: int
    grams: int
    ts: int
    evidence: str
    block_number: int
    tx_hash: str
    log_index: int
    actor: str
    counterparty: str | None = None
    fate: int | None = None


@dataclass(frozen=True)
class SourceLot:
    """A source lot of the passport's lot (an intake) with its exact share of the lot's mass."""

    lot_id: int
    material_id: int
    share: Fraction
    material: str
    source: int
    grams: int
    maker: str


@dataclass(frozen=True)
class LotFacts:
    lot_id: int
    material_id: int
    material: str
    material_name: str
    pilot_id: int
    pilot_code: str
    city: str
    holder: str
    maker: str
    grams: int
    initial_grams: int
    recycled_bp: int
    sources: Sequence[SourceLot]
    steps: Sequence[Step]


def _time(ts: int) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _chain(step: Step) -> dict[str, Any]:
    return {"block": step.block_number, "transaction": step.tx_hash, "log": step.log_index}


def passport_document(
    facts: LotFacts,
    *,
    ids: Identifiers,
    base_url: str,
    level: Level,
    documents: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The passport of a lot at `level`; `documents` maps evidence hashes held to their names."""
    partner = level in ("partner", "owner")
    url = passport_url(ids, base_url, facts.lot_id, facts.material_id)
    doc: dict[str, Any] = {
        "@context": CONTEXT,
        "id": url,
        "type": "ProductPassport",
        "accessLevel": level,
        "product": {
            "id": ids.lot(facts.lot_id, facts.material_id),
            "type": "MaterialLot",
            "lotNumber": facts.lot_id,
            "materialClass": facts.material,
            "name": facts.material_name,
            **(
                {"digitalLink": ids.digital_link(base_url, facts.lot_id, facts.material_id)}
                if ids.gs1
                else {}
            ),
        },
        "pilot": {
            "id": ids.pilot(facts.pilot_id, facts.pilot_code),
            "code": facts.pilot_code,
            "name": facts.city,
        },
        "maker": {
            "pseudonym": ids.pseudonym(facts.maker),
            **({"account": facts.maker} if partner else {}),
        },
        "recycledContent": facts.recycled_bp / 10_000,
        "provenance": [
            {
                "sourceLot": ids.lot(s.lot_id, s.material_id),
                "lotNumber": s.lot_id,
                "share": float(s.share),
                "exactShare": f"{s.share.numerator}/{s.share.denominator}",
                "materialClass": s.material,
                "sourceKind": Source(s.source).name.lower(),
                **({"grams": s.grams, "account": s.maker} if partner else {}),
            }
            for s in facts.sources
        ],
        "handOvers": [
            {
                "from": ids.pseudonym(s.actor),
                "to": ids.pseudonym(s.counterparty or ""),
                "time": _time(s.ts),
                **(
                    {"grams": s.grams, "fromAccount": s.actor, "toAccount": s.counterparty}
                    if partner
                    else {}
                ),
                "chain": _chain(s),
            }
            for s in facts.steps
            if s.action in ("handed_over", "received")
        ],
        "fates": [
            {
                "fate": Fate(s.fate).name.lower(),
                "grams": s.grams,
                "time": _time(s.ts),
                "chain": _chain(s),
            }
            for s in facts.steps
            if s.action == "dispatched" and s.fate is not None
        ],
        "evidence": [
            {"record": s.action, "sha256": s.evidence, "time": _time(s.ts), "chain": _chain(s)}
            for s in facts.steps
        ],
        "verify": f"{base_url}/api/passports/{facts.lot_id}/verify",
    }
    if partner:
        doc["mass"] = {
            "grams": facts.grams,
            "initialGrams": facts.initial_grams,
            "holder": facts.holder,
        }
    if level == "owner":
        held = documents or {}
        doc["evidenceDocuments"] = [
            {
                "sha256": h,
                "name": held[h],
                "url": f"{base_url}/api/passports/{facts.lot_id}/evidence/{h}",
            }
            for h in sorted({s.evidence for s in facts.steps})
            if h in held
        ]
    return doc


def passport_url(ids: Identifiers, base_url: str, lot_id: int, material_id: int) -> str:
    """The stable URL of a lot's passport: its GS1 Digital Link on this gateway when a company
    prefix is set (a GS1 resolver's link), else the passport page's own address."""
    if ids.gs1:
        return ids.digital_link(base_url, lot_id, material_id)
    return f"{base_url}/passport/{lot_id}"
