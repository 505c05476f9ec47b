"""Exchange and challenge figures of one pilot and period (pure functions of the stored rows).

A row counts in the period in which its event happened: a listing when it was created, a match
when it was proposed, an acceptance or hand-over when it was decided, a challenge, proposal or
selection at its block time.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Engine, select
from sqlmodel import SQLModel

__all__ = [
    "ExchangeFigures",
    "ExchangeRows",
    "ListingRow",
    "MatchRow",
    "exchange_figures",
    "load_rows",
]

ACCEPTED = ("accepted", "handed_over")


@dataclass(frozen=True, slots=True)
class ListingRow:
    id: int
    created_at: int


@dataclass(frozen=True, slots=True)
class MatchRow:
    available_id: int
    wanted_id: int
    state: str
    grams: int
    co2e_kg: float
    proposed_at: int
    decided_at: int | None


@dataclass(frozen=True, slots=True)
class ExchangeFigures:
    listings: int
    matches_proposed: int
    matches_accepted: int
    kg_exchanged: float
    median_days_to_match: float | None
    share_listings_matched: float | None
    transport_co2e_kg: float
    challenges: int
    proposals: int
    selections: int


def exchange_figures(
    listings: Sequence[ListingRow],
    matches: Sequence[MatchRow],
    *,
    start: int,
    end: int,
    challenge_ts: Sequence[int] = (),
    proposal_ts: Sequence[int] = (),
    selection_ts: Sequence[int] = (),
) -> ExchangeFigures:
    """Figures of [start, end).

    - time to match: for each listing created in the period that was ever matched, the days from
      its creation to its first proposed match; the median over those listings;
    - share matched: those listings over all listings created in the period;
    - kg exchanged and transport CO2e: matches handed over in the period.

    >>> ls = [ListingRow(1, 0), ListingRow(2, 86_400), ListingRow(3, 0)]
    >>> ms = [MatchRow(1, 2, "handed_over", 5_000, 0.5, 3 * 86_400, 4 * 86_400)]
    >>> f = exchange_figures(ls, ms, start=0, end=10 * 86_400)
    >>> f.listings, f.matches_accepted, f.kg_exchanged, f.median_days_to_match, f.share_listings_matched
    (3, 1, 5.0, 2.5, 0.666667)
    """

    def within(ts: int | None) -> bool:
        return ts is not None and start <= ts < end

    fresh = [row for row in listings if within(row.created_at)]
    first_match: dict[int, int] = {}
    for m in matches:
        for listing_id in (m.available_id, m.wanted_id):
            if m.proposed_at < first_match.get(listing_id, m.proposed_at + 1):
                first_match[listing_id] = m.proposed_at
    waits = [
        (first_match[row.id] - row.created_at) / 86_400 for row in fresh if row.id in first_match
    ]
    handed = [m for m in matches if m.state == "handed_over" and within(m.decided_at)]
    return ExchangeFigures(
        listings=len(fresh),
        matches_proposed=sum(1 for m in matches if within(m.proposed_at)),
        matches_accepted=sum(1 for m in matches if m.state in ACCEPTED and within(m.decided_at)),
        kg_exchanged=sum(m.grams for m in handed) / 1000,
        median_days_to_match=round(statistics.median(waits), 6) if waits else None,
        share_listings_matched=round(len(waits) / len(fresh), 6) if fresh else None,
        transport_co2e_kg=round(sum(m.co2e_kg for m in handed), 6),
        challenges=sum(1 for ts in challenge_ts if within(ts)),
        proposals=sum(1 for ts in proposal_ts if within(ts)),
        selections=sum(1 for ts in selection_ts if within(ts)),
    )


@dataclass(frozen=True)
class ExchangeRows:
    """What the figures of one pilot are computed from, as read from the store."""

    listings: list[ListingRow]
    matches: list[MatchRow]
    challenge_ts: list[int]
    proposal_ts: list[int]
    selection_ts: list[int]

    def timestamps(self) -> list[int]:
        """When anything counted here happened (to find the months with exchange activity)."""
        return [
            *(r.created_at for r in self.listings),
            *(m.proposed_at for m in self.matches),
            *(m.decided_at for m in self.matches if m.decided_at is not None),
            *self.challenge_ts,
            *self.proposal_ts,
            *self.selection_ts,
        ]

    def figures(self, start: int, end: int) -> ExchangeFigures:
        return exchange_figures(
            self.listings,
            self.matches,
            start=start,
            end=end,
            challenge_ts=self.challenge_ts,
            proposal_ts=self.proposal_ts,
            selection_ts=self.selection_ts,
        )


def load_rows(engine: Engine, pilot_id: int) -> ExchangeRows:
    """The pilot's listings, matches, challenges, proposals and selections from the store."""
    t = SQLModel.metadata.tables
    listing, match, challenge, proposal, step = (
        t[n] for n in ("listing", "exchange_match", "challenge", "proposal", "proposal_step")
    )
    ours = select(challenge.c.challenge_id).where(challenge.c.pilot_id == pilot_id)
    with engine.connect() as conn:
        listings = [
            ListingRow(int(i), int(ts))
            for i, ts in conn.execute(
                select(listing.c.id, listing.c.created_at).where(listing.c.pilot_id == pilot_id)
            )
        ]
        matches = [
            MatchRow(*row)
            for row in conn.execute(
                select(
                    match.c.available_id,
                    match.c.wanted_id,
                    match.c.state,
                    match.c.grams,
                    match.c.co2e_kg,
                    match.c.proposed_at,
                    match.c.decided_at,
                ).where(match.c.pilot_id == pilot_id)
            )
        ]
        challenges = list(
            conn.execute(select(challenge.c.ts).where(challenge.c.pilot_id == pilot_id)).scalars()
        )
        proposals = list(
            conn.execute(select(proposal.c.ts).where(proposal.c.challenge_id.in_(ours))).scalars()
        )
        selections = list(
            conn.execute(
                select(step.c.ts).where(step.c.challenge_id.in_(ours), step.c.step == "selected")
            ).scalars()
        )
    return ExchangeRows(listings, matches, challenges, proposals, selections)
