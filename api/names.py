"""What the pages show instead of codes: material names (from the pilots' files), reward
names, partners and descriptions, and what a points award was for. Pure functions of the
pilot configuration and a row."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ledger.vocabulary import AwardReason
from pilots.model import Pilot, Reward

__all__ = ["RewardText", "award_activity", "material_names", "reward_text"]

#: A redemption id is its reward's id in the high bits and a counter in the low 32.
REDEMPTION_COUNTER_BITS = 32


def material_names(pilots: Sequence[Pilot], prefer: int | None = None) -> dict[str, str]:
    """Name of every material and product code the pilots' files name; where two pilots name a
    code differently, the pilot `prefer` wins, then the first pilot by id."""
    names: dict[str, str] = {}
    ordered = sorted(pilots, key=lambda p: (p.id != prefer, p.id))
    for pilot in reversed(ordered):
        for stream in pilot.streams:
            names[stream.ewc] = stream.name
        for process in pilot.processes:
            names[process.product] = process.product_name
    return names


@dataclass(frozen=True)
class RewardText:
    name: str
    description: str
    partner_name: str
    days_valid: int


def reward_text(pilot: Pilot, position: int) -> RewardText | None:
    """The catalogue entry of the pilot's file for the pilot's `position`-th listed reward
    (from 1, in the order of reward ids): rewards are listed from the file, in its order, when
    the pilot is set up. A reward listed later has no entry (None).

    >>> from pilots.model import load_pilots
    >>> leuven = load_pilots()[0]
    >>> reward_text(leuven, 1).name, reward_text(leuven, 3)
    ('Repair café voucher', None)
    """
    if not 1 <= position <= len(pilot.rewards):
        return None
    entry: Reward = pilot.rewards[position - 1]
    return RewardText(entry.name, entry.description, entry.partner, entry.days_valid)


def award_activity(pilot: Pilot, reason: int, points: int) -> tuple[str, int | None]:
    """What an award was for (an AwardReason name in lower case, or "other") and, for a
    drop-off, the kilograms it stands for under the pilot's earning rule (rounded down).

    >>> from pilots.model import load_pilots
    >>> award_activity(load_pilots()[0], 1, 12)
    ('drop_off', 12)
    >>> award_activity(load_pilots()[0], 3, 30)
    ('workshop', None)
    """
    try:
        kind = AwardReason(reason)
    except ValueError:
        return "other", None
    kg = None
    if kind is AwardReason.DROP_OFF and pilot.earning.drop_off_per_kg > 0:
        kg = points // pilot.earning.drop_off_per_kg
    return kind.name.lower(), kg
