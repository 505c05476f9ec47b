"""Before an EPCIS import: which of a document's events are already on this chain.

An exported event's ``eventID`` is its CBV 2.0 event hash, computed without the chain reference
(see :mod:`ledger.audit.epcis`). Importing a chain's own export would record every event again as
new lots; so the events of the document are hashed again (a given ``eventID`` is not trusted)
and compared with the hashes of the pilot's indexed records. The store must be indexed to the
head for the check to see the latest records.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ledger.audit.epcis import event_hash, export_events, store_tables

__all__ = ["KnownEvents", "chain_event_ids", "split_known", "without_events"]


@dataclass(frozen=True)
class KnownEvents:
    """The document's events split into those already on the chain and the new ones."""

    known: list[tuple[int, str]]  # (position in the document, event hash)
    new: list[int]

    def describe(self, total: int) -> str:
        first = ", ".join(str(i) for i, _ in self.known[:5]) + (
            ", ..." if len(self.known) > 5 else ""
        )
        return (
            f"{len(self.known)} of the document's {total} events are already on this chain (events {first}; "
            f"e.g. {self.known[0][1]})"
        )


def _hash(event: Mapping[str, Any]) -> str | None:
    try:
        return event_hash(event)
    except Exception:  # an event the hash generator cannot read: the import's checks name it
        return None


def split_known(events: Sequence[Mapping[str, Any]], on_chain: Iterable[str]) -> KnownEvents:
    """Pure: which events (by recomputed event hash) are among the chain's.

    >>> split_known([], {"ni:///x"})
    KnownEvents(known=[], new=[])
    """
    seen = set(on_chain)
    known: list[tuple[int, str]] = []
    new: list[int] = []
    for index, event in enumerate(events):
        digest = _hash(event) if isinstance(event, Mapping) else None
        if digest is not None and digest in seen:
            known.append((index, digest))
        else:
            new.append(index)
    return KnownEvents(known, new)


def without_events(doc: Mapping[str, Any], keep: Sequence[int]) -> dict[str, Any]:
    """The document with only the events at the positions in `keep`."""
    body = dict(doc.get("epcisBody") or {})
    events = list(body.get("eventList") or [])
    body["eventList"] = [events[i] for i in keep]
    return {**doc, "epcisBody": body}


def chain_event_ids(
    store: Any,
    *,
    pilot: int,
    chain_id: int,
    pilot_codes: Mapping[int, str],
    material_codes: Mapping[int, str],
) -> set[str]:
    """The event hashes of a pilot's indexed material records, as an export gives them."""
    events = export_events(
        store_tables(store, pilot=pilot),
        chain_id=chain_id,
        pilot_codes=pilot_codes,
        material_codes=material_codes,
    )
    return {str(e["eventID"]) for e in events}
