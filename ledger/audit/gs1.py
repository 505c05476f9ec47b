"""Identifiers of lots, pilots, makers' sites and parties in published documents.

Without a GS1 company prefix they are LoopLedger URNs (``urn:loopledger:<chain>:lot:<id>``,
``urn:loopledger:pilot:<code>``, ``urn:loopledger:party:<address>``). With one
(``LOOPLEDGER_GS1_COMPANY_PREFIX``) they follow the GS1 EPC Tag Data Standard 2.1 and the GS1
Digital Link standard 1.4:

- a material class is a GTIN-14: indicator digit 0, the company prefix, the material id as item
  reference (zero-padded so that prefix + reference are 12 digits), and the mod-10 check digit
  (GS1 General Specifications, section 7.9);
- a lot is an LGTIN ``urn:epc:class:lgtin:<prefix>.<indicator+item ref>.<lot id>`` and a
  GS1 Digital Link URI ``<resolver>/01/<GTIN-14>/10/<lot id>``;
- a pilot is the SGLN ``urn:epc:id:sgln:<prefix>.<pilot id>.0``; a maker's site in that pilot
  the SGLN with a pseudonymous extension (the first 16 hex digits of the SHA-256 of the chain
  id and the maker's address), so that no address or name is read from the location.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

__all__ = [
    "Identifiers",
    "LotRef",
    "check_digit",
    "gtin_of",
    "parse_lot",
]

LOT_URN = re.compile(r"^urn:loopledger:(\d+):lot:(\d+)$")
LGTIN = re.compile(r"^urn:epc:class:lgtin:(\d{6,12})\.(\d{1,7})\.(\d{1,20})$")
DIGITAL_LINK = re.compile(r"^https?://[^/]+(?:/[^/]+)*?/01/(\d{14})/10/(\d{1,20})$")
PREFIX = re.compile(r"^\d{6,12}$")
#: SGTIN, LGTIN and SGTIN-pattern URNs: company prefix and indicator + item reference.
GTIN_URN = re.compile(r"^urn:epc:(?:id:sgtin|class:lgtin|idpat:sgtin):(\d{6,12})\.(\d{1,7})\.")
GTIN_LINK = re.compile(r"^https?://[^?#]*?/01/(\d{14})(?:/|$)")


def check_digit(digits: str) -> int:
    """The GS1 mod-10 check digit of `digits` (weights 3, 1, 3, ... from the right).

    >>> check_digit("0950600013435")  # GTIN-14 09506000134352 of the GS1 examples
    2
    """
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(digits)))
    return (10 - total % 10) % 10


@dataclass(frozen=True)
class LotRef:
    """A lot named in a document: its id, and the material id its GS1 identifier carries."""

    lot_id: int
    material_id: int | None = None


@dataclass(frozen=True)
class Identifiers:
    """The identifiers of one deployment; `company_prefix` None gives LoopLedger URNs."""

    chain_id: int
    company_prefix: str | None = None

    def __post_init__(self) -> None:
        if self.company_prefix is not None and not PREFIX.match(self.company_prefix):
            raise ValueError(
                f"a GS1 company prefix has 6 to 12 digits, not {self.company_prefix!r}"
            )

    @property
    def gs1(self) -> bool:
        return self.company_prefix is not None

    def _reference_width(self) -> int:
        assert self.company_prefix is not None
        return 12 - len(self.company_prefix)

    def item_reference(self, material_id: int) -> str:
        """Indicator digit 0 and the material id as item reference."""
        width = self._reference_width()
        if not 0 <= material_id < 10**width:
            raise ValueError(
                f"material id {material_id} does not fit the {width} digits of item reference "
                f"that company prefix {self.company_prefix} leaves"
            )
        return "0" + str(material_id).zfill(width)

    def gtin(self, material_id: int) -> str:
        """The GTIN-14 of a material class."""
        reference = self.item_reference(material_id)
        body = reference[0] + str(self.company_prefix) + reference[1:]
        return body + str(check_digit(body))

    def lot(self, lot_id: int, material_id: int) -> str:
        """The class-level identifier of a lot, as an EPCIS epcClass."""
        if not self.gs1:
            return f"urn:loopledger:{self.chain_id}:lot:{lot_id}"
        return (
            f"urn:epc:class:lgtin:{self.company_prefix}.{self.item_reference(material_id)}.{lot_id}"
        )

    def digital_link(self, resolver: str, lot_id: int, material_id: int) -> str:
        """The GS1 Digital Link URI of a lot on `resolver` (the gateway's public URL)."""
        return f"{resolver.rstrip('/')}/01/{self.gtin(material_id)}/10/{lot_id}"

    def pilot(self, pilot_id: int, code: str) -> str:
        if not self.gs1:
            return f"urn:loopledger:pilot:{code}"
        return f"urn:epc:id:sgln:{self.company_prefix}.{self._location(pilot_id)}.0"

    def site(self, pilot_id: int, code: str, maker: str) -> str:
        """A maker's site in a pilot: the pilot itself without a prefix, else its own SGLN."""
        if not self.gs1:
            return self.pilot(pilot_id, code)
        return f"urn:epc:id:sgln:{self.company_prefix}.{self._location(pilot_id)}.{self.pseudonym(maker)}"

    def pseudonym(self, maker: str) -> str:
        """A stable pseudonym of a maker: no address can be read from it."""
        return hashlib.sha256(f"{self.chain_id}:{maker.lower()}".encode()).hexdigest()[:16]

    def _location(self, pilot_id: int) -> str:
        width = self._reference_width()
        if not 0 <= pilot_id < 10**width:
            raise ValueError(
                f"pilot id {pilot_id} does not fit {width} digits of location reference"
            )
        return str(pilot_id).zfill(width)

    def party(self, address: str) -> str:
        return f"urn:loopledger:party:{address}"

    def parse_lot(self, uri: str) -> LotRef | None:
        """The lot of this deployment that `uri` names, or None when it names none."""
        return parse_lot(uri, chain_id=self.chain_id, company_prefix=self.company_prefix)


def gtin_of(uri: str) -> str | None:
    """The GTIN-14 an SGTIN, LGTIN, SGTIN pattern or GS1 Digital Link URI carries, if any.

    >>> gtin_of("urn:epc:id:sgtin:0614141.107346.2017")
    '10614141073464'
    """
    if (found := GTIN_URN.match(uri)) is not None:
        prefix, reference = found.groups()
        if len(prefix) + len(reference) != 13:
            return None
        body = reference[0] + prefix + reference[1:]
        return body + str(check_digit(body))
    if (found := GTIN_LINK.match(uri)) is not None:
        return found.group(1)
    return None


def parse_lot(uri: str, *, chain_id: int, company_prefix: str | None) -> LotRef | None:
    """The lot that a LoopLedger URN, an LGTIN or a Digital Link URI of this deployment names."""
    if (found := LOT_URN.match(uri)) is not None:
        return LotRef(int(found.group(2))) if int(found.group(1)) == chain_id else None
    if company_prefix is None:
        return None
    if (found := LGTIN.match(uri)) is not None:
        prefix, reference, lot = found.groups()
        if prefix != company_prefix or len(prefix) + len(reference) != 13:
            return None
        return LotRef(int(lot), int(reference[1:]))
    if (found := DIGITAL_LINK.match(uri)) is not None:
        gtin, lot = found.groups()
        expected = gtin[0] + company_prefix
        if not gtin.startswith(expected) or check_digit(gtin[:-1]) != int(gtin[-1]):
            return None
        return LotRef(int(lot), int(gtin[len(expected) : -1]))
    return None
