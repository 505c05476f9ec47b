"""The exchange and challenge part of the demo scenario, written once through the gateway's own
endpoints (the same checks, EIP-712 signing and on-chain hand-overs as any client gets).

Per pilot: an organisation and site for each of the first four demo makers (the fourth a
manufacturer), available listings of lots they hold and a recurring surplus stream, wanted
listings, matches (some accepted and handed over on chain, one left proposed, one declined), and
a challenge with proposals, a shortlist, a selection and a completed milestone.
"""

from __future__ import annotations

import hashlib
import math
import time
from dataclasses import dataclass
from decimal import Decimal

from eth_account.signers.local import LocalAccount
from sqlalchemy import func, select

from api.routes import challenges, exchange
from api.state import GatewayState
from api.writes import WriteService
from ledger.write.plan import WriteRejected
from pilots.model import Pilot
from pilots.seed import demo_account

__all__ = ["ExchangeDemoReport", "seed_exchange"]

MAKERS = 4


@dataclass(frozen=True)
class ExchangeDemoReport:
    listings: int
    matches: int
    handed_over: int
    challenges: int
    proposals: int


def seed_exchange(
    state: GatewayState, writes: WriteService, *, seed: int
) -> ExchangeDemoReport | None:
    """Seed every pilot once; None when the store holds listings already."""
    table = state.store.tables["listing"]
    with state.store.engine.connect() as conn:
        if conn.execute(select(func.count()).select_from(table)).scalar_one() > 0:
            return None
    totals = [0, 0, 0, 0, 0]
    for pilot in state.pilots:
        for n, value in enumerate(
            _seed_pilot(state, writes, pilot, _cast(state, writes, pilot, seed), seed)
        ):
            totals[n] += value
    return ExchangeDemoReport(*totals)


def _open_lots(
    state: GatewayState, writes: WriteService, pilot: Pilot, maker: str
) -> list[tuple[int, str, int]]:
    """(lot, EWC code, grams) of the maker's open lots of the pilot's streams, newest first."""
    lots = state.store.tables["lot"]
    codes = {v: k for k, v in writes.suite.manifest.materials.items()}
    streams = {s.ewc for s in pilot.streams}
    with state.store.engine.connect() as conn:
        held = conn.execute(
            select(lots.c.lot_id, lots.c.material_id, lots.c.grams)
            .where(lots.c.holder == maker, lots.c.pilot_id == pilot.id, lots.c.grams > 0)
            .order_by(lots.c.lot_id.desc())
        ).all()
    return [(int(lot), codes[m], int(g)) for lot, m, g in held if codes.get(m) in streams]


def _cast(state: GatewayState, writes: WriteService, pilot: Pilot, seed: int) -> list[LocalAccount]:
    """Four demo makers: the two holding most open stream lots offer, two others take."""
    makers = [demo_account(seed, pilot, "maker", i) for i in range(pilot.scenario.makers)]
    ranked = sorted(makers, key=lambda m: -len(_open_lots(state, writes, pilot, m.address)))
    return ranked[:MAKERS]


def _site(pilot: Pilot, i: int) -> tuple[float, float]:
    # Sites on a ring 2-8 km around the city centre (1 degree of latitude is about 111 km).
    angle, km = 2 * math.pi * i / MAKERS, 2.0 + 2.0 * i
    lat = pilot.coordinates.lat + km / 111.2 * math.cos(angle)
    lon = pilot.coordinates.lon + km / (
        111.2 * math.cos(math.radians(pilot.coordinates.lat))
    ) * math.sin(angle)
    return round(lat, 6), round(lon, 6)


def _seed_pilot(
    state: GatewayState, writes: WriteService, pilot: Pilot, makers: list[LocalAccount], seed: int
) -> tuple[int, int, int, int, int]:
    sites: list[int] = []
    for i, maker in enumerate(makers):
        lat, lon = _site(pilot, i)
        kind: exchange.OrgKind = "manufacturer" if i == MAKERS - 1 else "maker"
        org_in = exchange.OrganisationIn(
            name=f"{pilot.city} {kind} {i + 1}",
            kind=kind,
            sites=[exchange.SiteIn(name=f"{pilot.city} workshop {i + 1}", lat=lat, lon=lon)],
        )
        org = exchange.post_organisation(org_in, state, pilot, writes, maker.address)
        sites.append(org.sites[0].id)

    offers: list[exchange.SignedListing] = []
    for i, maker in enumerate(makers[:2]):
        for lot_id, code, grams in _open_lots(state, writes, pilot, maker.address)[:2]:
            offer_in = exchange.ListingIn(
                side="available",
                material=code,
                quantity=Decimal(grams),
                unit="g",
                site_id=sites[i],
                lot_id=lot_id,
                expires_in_days=60,
            )
            try:
                offers.append(exchange.post_listing(offer_in, state, pilot, writes, maker.address))
            except WriteRejected:  # the lot moved on since it was indexed
                continue
    stream = pilot.streams[0]
    surplus = exchange.ListingIn(
        side="available",
        material=stream.ewc,
        quantity=Decimal(300),
        unit="kg",
        site_id=sites[0],
        interval_days=30,
        expires_in_days=90,
    )
    exchange.post_listing(surplus, state, pilot, writes, makers[0].address)

    wanted: list[exchange.SignedListing] = []
    for j, offer in enumerate(offers):
        taker = 2 + j % (len(makers) - 2)
        want_in = exchange.ListingIn(
            side="wanted",
            material=offer.material,
            quantity=Decimal(str(round(offer.kg * (0.6 + 0.1 * j), 3))),
            unit="kg",
            site_id=sites[taker],
            reach_km=30,
            expires_in_days=45,
        )
        wanted.append(exchange.post_listing(want_in, state, pilot, writes, makers[taker].address))

    matches = handed = 0
    for j, want in enumerate(wanted):
        taker_address = makers[2 + j % (len(makers) - 2)].address
        row = exchange.listing_row(state, want.id)
        found = [
            c
            for c in exchange.candidates(state, row, int(time.time()))
            if c.listing.id in {o.id for o in offers}
        ]
        if not found:
            continue
        match = exchange.post_match(
            exchange.MatchIn(available_id=found[0].listing.id, wanted_id=want.id),
            state,
            writes,
            taker_address,
        )
        matches += 1
        if j % 4 == 3:
            exchange.decline_match(state, writes, taker_address, match.id)
        elif j % 4 != 2:
            done = exchange.accept_match(state, writes, taker_address, match.id)
            handed += done.state == "handed_over"

    owner = makers[-1].address
    brief = challenges.ChallengeIn(
        title=f"{pilot.city}: products from {stream.name.lower()}",
        need=f"A product a local manufacturer can sell, made from the pilot's {stream.name.lower()} stream",
        material=stream.ewc,
        budget=Decimal(10_000),
        deadline=int(time.time()) + 60 * 86_400,
    )
    posted = challenges.post_challenge(brief, state, pilot, writes, owner)
    proposals = []
    for i, maker in enumerate(makers[:2]):
        document = (
            f"{pilot.code} proposal {i + 1} of demo seed {seed}: drawings, costs and plan".encode()
        )
        proposal_in = challenges.ProposalIn(document="0x" + hashlib.sha256(document).hexdigest())
        assert posted.id is not None
        proposals.append(
            challenges.post_proposal(proposal_in, state, writes, maker.address, posted.id)
        )
    first, second = (p.id for p in proposals)
    assert first is not None and second is not None
    challenges.shortlist(state, writes, owner, second)
    challenges.select_proposal(
        challenges.SelectIn(award=Decimal(6_000), milestones=2), state, writes, owner, first
    )
    challenges.complete_milestone(challenges.MilestoneIn(index=0), state, writes, owner, first)
    return len(offers) + len(wanted) + 1, matches, handed, 1, len(proposals)
