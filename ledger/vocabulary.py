"""Enumerations shared by the contracts, clients, indexer and model (values match Solidity)."""

from __future__ import annotations

from enum import IntEnum, IntFlag

__all__ = [
    "CIRCULAR_FATES",
    "FATE_NODES",
    "LOSS_NODE",
    "SOURCE_NODES",
    "AwardReason",
    "ContributionKind",
    "EventKind",
    "Fate",
    "Role",
    "Source",
    "maker_node",
]


class Source(IntEnum):
    MUNICIPAL_COLLECTION = 1
    DONATION = 2
    INDUSTRIAL_SURPLUS = 3
    PRODUCT_RETURN = 4
    VIRGIN_PURCHASE = 5

    @property
    def secondary(self) -> bool:
        return self is not Source.VIRGIN_PURCHASE


class Fate(IntEnum):
    IN_USE = 1
    REUSED = 2
    REPAIRED = 3
    RECYCLED = 4
    COMPOSTED = 5
    INCINERATED = 6
    LANDFILLED = 7


#: Fates that keep material in the loop (WBCSD CTI circular outflow: reuse, repair, recycling,
#: composting). Products sold into use are outflow, but not circular outflow.
CIRCULAR_FATES = frozenset({Fate.REUSED, Fate.REPAIRED, Fate.RECYCLED, Fate.COMPOSTED})


#: Node names of the flow graph (``ledger.circularity.graph``), also the edge ends of the
#: indexer's flow aggregates.
SOURCE_NODES = {s.value: f"source:{s.name.lower()}" for s in Source}
FATE_NODES = {f.value: f"fate:{f.name.lower()}" for f in Fate}
LOSS_NODE = "loss"


def maker_node(address: str) -> str:
    return f"maker:{address}"


class ContributionKind(IntEnum):
    WORKSHOP = 1  # amount: participants
    REPAIR = 2  # amount: minutes
    MENTORING = 3  # amount: minutes
    PRODUCTS_DONATED = 4  # amount: items


class AwardReason(IntEnum):
    """Why points were awarded (the reason code of an award on chain). The contribution kinds
    follow at 2 + ContributionKind, as the pilots' scenario awards them."""

    DROP_OFF = 1  # points: the pilot's drop_off_per_kg per kilogram dropped off
    VOLUNTEERING = 2
    WORKSHOP = 3
    REPAIR = 4
    MENTORING = 5
    PRODUCTS_DONATED = 6
    ATTENDANCE = 7  # checked in at a community event (the event's points)


class Role(IntFlag):
    ADMIN = 1
    MAKER = 2
    PARTNER = 4
    ISSUER = 8
    FACILITATOR = 64
    SUSPENDED = 128


class EventKind(IntEnum):
    """Kinds of community event (CommunityProgramme.EventKind)."""

    WORKSHOP = 1
    REPAIR_CAFE = 2
    MAKER_FAIRE = 3
    TRAINING = 4
