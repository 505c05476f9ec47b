"""The secondary-material exchange: organisations and sites, signed listings, ranked matches,
and matches that move from proposed to accepted and handed over (on chain) or declined/expired.

Listings are EIP-712 messages signed by their account (by the gateway's custodial key, or sent
with a `signature` by a self-custody wallet); the store keeps the signature, and
`GET /api/listings/{id}` shows the signer recovered from it. Accepting a match of an available
lot hands the lot over on chain (api/handover.py) with the SHA-256 of the match record as evidence.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import time
from collections.abc import Sequence
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Path, Query
from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy import insert, select, update
from sqlalchemy.engine import Connection, CursorResult, RowMapping
from sqlalchemy.exc import IntegrityError

from api.deps import AccountDep, PilotDep, StateDep, WritesDep
from api.handover import HandOverPending, hand_over
from api.state import GatewayState
from api.writes import MAX_ID, Positive, Unit, WriteService
from ledger.clients import Lot
from ledger.contract_errors import ContractRevert
from ledger.exchange.listing import ListingTerms, digest, recover, sign, typed_data
from ledger.exchange.matches import transition
from ledger.exchange.ranking import (
    Candidate,
    ListingView,
    compatibility_table,
    great_circle_km,
    rank,
)
from ledger.vocabulary import Role
from ledger.write.plan import WriteRejected, to_grams
from pilots.model import Pilot

router = APIRouter(tags=["exchange"])

OrgKind = Literal["maker", "manufacturer", "collection_point", "shop"]
Side = Literal["available", "wanted"]
Id = Annotated[int, Path(ge=1, le=MAX_ID)]
DAY = 86_400
MAX_LISTING_DAYS = 366


class SiteIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=200)
    kind: Literal["workshop", "warehouse", "collection", "shop", "plant"] = "workshop"
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)


class OrganisationIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=200)
    kind: OrgKind
    sites: list[SiteIn] = Field(min_length=1, max_length=20)


class SitePublic(SiteIn):
    id: int


class OrganisationPublic(BaseModel):
    id: int
    pilot_id: int
    name: str
    kind: str
    accounts: list[str]
    sites: list[SitePublic]


class ListingIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    side: Side
    material: str = Field(description="EWC or product code", examples=["17 02 01"])
    quantity: Positive = Field(examples=[120])
    unit: Unit = "kg"
    site_id: int = Field(gt=0, le=MAX_ID)
    lot_id: int | None = Field(
        default=None, gt=0, le=MAX_ID, description="available: the lot offered"
    )
    interval_days: int | None = Field(
        default=None, gt=0, le=365, description="available: a recurring surplus every N days"
    )
    needed_by: int | None = Field(default=None, gt=0, lt=2**40, description="wanted: unix seconds")
    reach_km: int | None = Field(
        default=None, gt=0, le=20_000, description="wanted: how far the taker goes"
    )
    expires_in_days: int = Field(default=30, gt=0, le=MAX_LISTING_DAYS)
    nonce: int | None = Field(
        default=None, ge=0, lt=2**63, description="with a signature: the signed nonce"
    )
    created_at: int | None = Field(
        default=None, gt=0, description="with a signature: the signed expiry base"
    )
    signature: str | None = Field(default=None, pattern=r"^0x[0-9a-fA-F]{130}$")

    @model_validator(mode="after")
    def _side_fields(self) -> ListingIn:
        to_grams(self.quantity, self.unit)
        if self.side == "available" and self.lot_id is None and self.interval_days is None:
            raise ValueError("an available listing names a lot_id or a recurring interval_days")
        if self.side == "wanted" and (self.lot_id is not None or self.interval_days is not None):
            raise ValueError("a wanted listing has no lot_id or interval_days")
        if self.side == "available" and (self.needed_by is not None or self.reach_km is not None):
            raise ValueError("needed_by and reach_km belong to wanted listings")
        if (self.signature is None) != (self.nonce is None) or (self.signature is None) != (
            self.created_at is None
        ):
            raise ValueError("a signature comes with the nonce and created_at it signed")
        return self


class ListingPublic(BaseModel):
    id: int
    pilot_id: int
    account: str
    organisation: str
    side: str
    material: str
    kg: float
    lot_id: int | None
    interval_days: int | None
    needed_by: int | None
    reach_km: int | None
    site_id: int
    site: str
    lat: float
    lon: float
    created_at: int
    expires_at: int
    status: str
    digest: str
    signature: str
    distance_km: float | None = None


class SignedListing(ListingPublic):
    signer: str | None = Field(description="the account recovered from the signature")
    valid: bool
    typed_data: dict[str, Any]


class PartOut(BaseModel):
    name: str
    weight: float
    value: float
    why: str


class CandidateOut(BaseModel):
    listing: ListingPublic
    score: float
    kg: float
    distance_km: float
    tonne_km: float
    co2e_kg: float
    explanation: str
    parts: list[PartOut]


class MatchIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    available_id: int = Field(gt=0, le=MAX_ID)
    wanted_id: int = Field(gt=0, le=MAX_ID)


class MatchPublic(BaseModel):
    id: int
    pilot_id: int
    available_id: int
    wanted_id: int
    kg: float
    score: float
    explanation: str
    distance_km: float
    co2e_kg: float
    state: str
    proposed_by: str
    proposed_at: int
    decided_by: str | None
    decided_at: int | None
    record_hash: str | None
    tx_hash: str | None
    received_lot: int | None


# ---- reads -------------------------------------------------------------------------------------


def _new_id(result: CursorResult[Any]) -> int:
    """The id the database gave an inserted row."""
    key = result.inserted_primary_key
    assert key is not None, "an INSERT of one row always has a primary key"
    return int(key[0])


def _listing_query(state: GatewayState) -> Any:
    listing, site, org = (state.store.tables[n] for n in ("listing", "site", "organisation"))
    return (
        select(
            listing,
            site.c.name.label("site"),
            site.c.lat,
            site.c.lon,
            org.c.name.label("organisation"),
        )
        .join(site, site.c.id == listing.c.site_id)
        .join(org, org.c.id == site.c.organisation_id)
    )


def _public(row: RowMapping, distance: float | None = None) -> ListingPublic:
    return ListingPublic(
        id=row["id"],
        pilot_id=row["pilot_id"],
        account=row["account"],
        organisation=row["organisation"],
        side=row["side"],
        material=row["material"],
        kg=row["grams"] / 1000,
        lot_id=row["lot_id"],
        interval_days=row["interval_days"],
        needed_by=row["needed_by"],
        reach_km=row["reach_km"],
        site_id=row["site_id"],
        site=row["site"],
        lat=row["lat"],
        lon=row["lon"],
        created_at=row["created_at"],
        expires_at=row["expires_at"],
        status=row["status"],
        digest=row["digest"],
        signature=row["signature"],
        distance_km=distance,
    )


def _view(row: RowMapping) -> ListingView:
    return ListingView(
        id=row["id"],
        pilot=row["pilot_id"],
        account=row["account"],
        side=row["side"],
        material=row["material"],
        grams=row["grams"],
        lat=row["lat"],
        lon=row["lon"],
        created_at=row["created_at"],
        expires_at=row["expires_at"],
        open=row["status"] == "open",
        reach_km=float(row["reach_km"]) if row["reach_km"] is not None else None,
    )


def _terms(row: RowMapping) -> ListingTerms:
    return ListingTerms(
        pilot=row["pilot_id"],
        account=row["account"],
        side=row["side"],
        material=row["material"],
        grams=row["grams"],
        lotId=row["lot_id"] or 0,
        intervalDays=row["interval_days"] or 0,
        neededBy=row["needed_by"] or 0,
        reachKm=row["reach_km"] or 0,
        siteId=row["site_id"],
        expiresAt=row["expires_at"],
        nonce=row["nonce"],
    )


def listing_row(state: GatewayState, listing_id: int) -> RowMapping:
    table = state.store.tables["listing"]
    with state.store.engine.connect() as conn:
        row = conn.execute(_listing_query(state).where(table.c.id == listing_id)).mappings().first()
    if row is None:
        raise HTTPException(status_code=404, detail=f"listing {listing_id} does not exist")
    return row


def _compatible(pilot: Pilot) -> dict[str, frozenset[str]]:
    return compatibility_table((p.inputs, p.product) for p in pilot.processes)


def _pilot_of(state: GatewayState, pilot_id: int) -> Pilot:
    found = state.pilot(str(pilot_id))
    if found is None:
        raise HTTPException(status_code=404, detail=f"pilot {pilot_id} is not configured")
    return found


def candidates(state: GatewayState, row: RowMapping, now: int, limit: int = 20) -> list[Candidate]:
    """Ranked matches of a stored listing among its pilot's open listings."""
    table = state.store.tables["listing"]
    query = _listing_query(state).where(
        table.c.pilot_id == row["pilot_id"], table.c.status == "open", table.c.expires_at > now
    )
    with state.store.engine.connect() as conn:
        others = [_view(r) for r in conn.execute(query).mappings()]
    pilot = _pilot_of(state, row["pilot_id"])
    return rank(_view(row), others, now=now, compatible=_compatible(pilot), limit=limit)


@router.get(
    "/api/pilots/{pilot}/organisations",
    response_model=list[OrganisationPublic],
    summary="Organisations of a pilot with their accounts and sites",
)
def list_organisations(state: StateDep, pilot: PilotDep) -> list[OrganisationPublic]:
    org, site, member = (state.store.tables[n] for n in ("organisation", "site", "org_account"))
    with state.store.engine.connect() as conn:
        orgs = (
            conn.execute(select(org).where(org.c.pilot_id == pilot.id).order_by(org.c.id))
            .mappings()
            .all()
        )
        ids = [o["id"] for o in orgs]
        sites = conn.execute(select(site).where(site.c.organisation_id.in_(ids))).mappings().all()
        accounts = (
            conn.execute(select(member).where(member.c.organisation_id.in_(ids))).mappings().all()
        )
    return [
        OrganisationPublic(
            id=o["id"],
            pilot_id=o["pilot_id"],
            name=o["name"],
            kind=o["kind"],
            accounts=sorted(a["account"] for a in accounts if a["organisation_id"] == o["id"]),
            sites=[
                SitePublic(id=s["id"], name=s["name"], kind=s["kind"], lat=s["lat"], lon=s["lon"])
                for s in sites
                if s["organisation_id"] == o["id"]
            ],
        )
        for o in orgs
    ]


@router.get(
    "/api/pilots/{pilot}/listings",
    response_model=list[ListingPublic],
    summary="Open listings of a pilot, by material and distance from a site",
)
def list_listings(
    state: StateDep,
    pilot: PilotDep,
    material: Annotated[str | None, Query(max_length=16, description="EWC or product code")] = None,
    side: Side | None = None,
    near_site: Annotated[
        int | None, Query(ge=1, le=MAX_ID, description="distance from this site")
    ] = None,
    within_km: Annotated[float | None, Query(gt=0, le=20_000)] = None,
    account: Annotated[str | None, Query(max_length=42)] = None,
    include_closed: bool = False,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[ListingPublic]:
    table, site = state.store.tables["listing"], state.store.tables["site"]
    now = int(time.time())
    query = _listing_query(state).where(table.c.pilot_id == pilot.id)
    if not include_closed:
        query = query.where(table.c.status == "open", table.c.expires_at > now)
    if material:
        query = query.where(table.c.material == material.strip())
    if side:
        query = query.where(table.c.side == side)
    if account:
        query = query.where(table.c.account == account)
    origin = None
    with state.store.engine.connect() as conn:
        if near_site is not None:
            origin = conn.execute(
                select(site.c.lat, site.c.lon).where(site.c.id == near_site)
            ).first()
            if origin is None:
                raise WriteRejected([("near_site", f"site {near_site} does not exist")])
        elif within_km is not None:
            raise WriteRejected(
                [("within_km", "give near_site: the site the distance is measured from")]
            )
        rows = (
            conn.execute(query.order_by(table.c.created_at.desc(), table.c.id.desc()))
            .mappings()
            .all()
        )
    out = []
    for row in rows:
        km = great_circle_km(origin[0], origin[1], row["lat"], row["lon"]) if origin else None
        if within_km is not None and km is not None and km > within_km:
            continue
        out.append(_public(row, round(km, 3) if km is not None else None))
    if origin is not None:
        out.sort(key=lambda item: (item.distance_km or 0.0, item.id))
    return out[:limit]


@router.get(
    "/api/listings/{listing_id}",
    response_model=SignedListing,
    summary="A listing with its EIP-712 document and the signer recovered from its signature",
)
def get_listing(state: StateDep, listing_id: Id) -> SignedListing:
    row = listing_row(state, listing_id)
    chain_id = row["chain_id"]
    terms = _terms(row)
    signer = recover(terms, chain_id, row["signature"])
    valid = signer == row["account"] and digest(terms, chain_id) == row["digest"]
    return SignedListing(
        **_public(row).model_dump(),
        signer=signer,
        valid=valid,
        typed_data=typed_data(terms, chain_id),
    )


@router.get(
    "/api/listings/{listing_id}/matches",
    response_model=list[CandidateOut],
    summary="Ranked matches of a listing, each with its score explained",
)
def listing_matches(
    state: StateDep, listing_id: Id, limit: Annotated[int, Query(ge=1, le=100)] = 20
) -> list[CandidateOut]:
    row = listing_row(state, listing_id)
    found = candidates(state, row, int(time.time()), limit)
    ids = [c.listing.id for c in found]
    table = state.store.tables["listing"]
    with state.store.engine.connect() as conn:
        rows = {
            r["id"]: r
            for r in conn.execute(_listing_query(state).where(table.c.id.in_(ids))).mappings()
        }
    return [
        CandidateOut(
            listing=_public(rows[c.listing.id], c.distance_km),
            score=c.score,
            kg=c.grams / 1000,
            distance_km=c.distance_km,
            tonne_km=c.tonne_km,
            co2e_kg=c.co2e_kg,
            explanation=c.explanation,
            parts=[
                PartOut(name=p.name, weight=p.weight, value=round(p.value, 6), why=p.why)
                for p in c.parts
            ],
        )
        for c in found
    ]


# ---- writes ------------------------------------------------------------------------------------


def _lot_on_chain(writes: WriteService, lot_id: int) -> Lot | None:
    """The lot as the chain holds it now (None: no such lot)."""
    if lot_id > writes.suite.materials.lot_count():
        return None
    try:
        return writes.suite.materials.lot(lot_id)
    except ContractRevert:
        return None


def _require_maker(writes: WriteService, pilot: int, account: str) -> None:
    writes.require(pilot, account, Role.MAKER, "maker")


@router.post(
    "/api/pilots/{pilot}/organisations",
    status_code=201,
    response_model=OrganisationPublic,
    summary="Register the signed-in account's organisation and its sites",
)
def post_organisation(
    body: OrganisationIn, state: StateDep, pilot: PilotDep, writes: WritesDep, account: AccountDep
) -> OrganisationPublic:
    roles = writes.roles(pilot.id, account)
    if not roles & (Role.MAKER | Role.ADMIN | Role.FACILITATOR | Role.PARTNER):
        raise WriteRejected(
            [("account", f"{account} has no role in pilot {pilot.code}: ask the pilot admin")], 403
        )
    org, site, member = (state.store.tables[n] for n in ("organisation", "site", "org_account"))
    with state.store.engine.begin() as conn:
        taken = conn.execute(
            select(member.c.organisation_id).where(
                member.c.account == account, member.c.pilot_id == pilot.id
            )
        ).first()
        if taken is not None:
            raise WriteRejected(
                [("account", f"{account} acts for organisation {taken[0]} in this pilot already")],
                409,
            )
        org_id = _new_id(
            conn.execute(
                insert(org).values(
                    pilot_id=pilot.id,
                    name=body.name.strip(),
                    kind=body.kind,
                    created_at=int(time.time()),
                )
            )
        )
        conn.execute(
            insert(member).values(account=account, pilot_id=pilot.id, organisation_id=org_id)
        )
        for s in body.sites:
            conn.execute(
                insert(site).values(
                    organisation_id=org_id, name=s.name.strip(), kind=s.kind, lat=s.lat, lon=s.lon
                )
            )
    return next(o for o in list_organisations(state, pilot) if o.id == org_id)


def _site_of_account(
    conn: Connection, state: GatewayState, pilot: int, account: str, site_id: int
) -> bool:
    site, member = state.store.tables["site"], state.store.tables["org_account"]
    found = conn.execute(
        select(site.c.id)
        .join(member, member.c.organisation_id == site.c.organisation_id)
        .where(site.c.id == site_id, member.c.account == account, member.c.pilot_id == pilot)
    ).first()
    return found is not None


@router.post(
    "/api/pilots/{pilot}/listings",
    status_code=201,
    response_model=SignedListing,
    summary="List an available lot or surplus stream, or a wanted material (EIP-712 signed)",
)
def post_listing(
    body: ListingIn, state: StateDep, pilot: PilotDep, writes: WritesDep, account: AccountDep
) -> SignedListing:
    _require_maker(writes, pilot.id, account)
    errors: list[tuple[str, str]] = []
    material = body.material.strip()
    if material not in writes.suite.manifest.materials:
        known = ", ".join(sorted(writes.suite.manifest.materials))
        errors.append(("material", f"unknown material code {material!r}: use one of {known}"))
    grams = to_grams(body.quantity, body.unit)
    if body.lot_id is not None:
        lot = _lot_on_chain(writes, body.lot_id)
        if lot is None:
            errors.append(("lot_id", f"lot {body.lot_id} does not exist"))
        elif lot.holder != account:
            errors.append(
                ("lot_id", f"lot {body.lot_id} is held by {lot.holder}, not by {account}")
            )
        elif lot.pilot != pilot.id:
            errors.append(
                ("lot_id", f"lot {body.lot_id} belongs to pilot {lot.pilot}, not {pilot.id}")
            )
        else:
            if grams > lot.grams:
                errors.append(
                    ("quantity", f"lot {body.lot_id} has {lot.grams} g left, {grams} g were listed")
                )
            codes = {v: k for k, v in writes.suite.manifest.materials.items()}
            if not errors and codes.get(lot.material_id) != material:
                errors.append(
                    (
                        "material",
                        f"lot {body.lot_id} is {codes.get(lot.material_id)}, not {material}",
                    )
                )
    now = int(time.time())
    if body.needed_by is not None and body.needed_by <= now:
        errors.append(
            ("needed_by", "the date has passed: give a time in the future (unix seconds)")
        )
    with state.store.engine.connect() as conn:
        if not _site_of_account(conn, state, pilot.id, account, body.site_id):
            errors.append(
                (
                    "site_id",
                    f"site {body.site_id} is not a site of {account}'s organisation in "
                    f"{pilot.code}: register it with POST /api/pilots/{pilot.code}/organisations",
                )
            )
    if errors:
        raise WriteRejected(errors)
    created = body.created_at if body.created_at is not None else now
    if abs(created - now) > 600:
        raise WriteRejected(
            [("created_at", "the signed created_at must be within 10 minutes of now")]
        )
    terms = ListingTerms(
        pilot=pilot.id,
        account=account,
        side=body.side,
        material=material,
        grams=grams,
        lotId=body.lot_id or 0,
        intervalDays=body.interval_days or 0,
        neededBy=body.needed_by or 0,
        reachKm=body.reach_km or 0,
        siteId=body.site_id,
        expiresAt=created + body.expires_in_days * DAY,
        nonce=body.nonce if body.nonce is not None else secrets.randbelow(2**63),
    )
    chain_id = writes.chain_id
    if body.signature is None:
        key = writes.custody.key_for(account)
        if key is None:
            why = f"the gateway holds no key for {account}: sign the listing's EIP-712 terms and send the signature"
            raise WriteRejected([("account", why)], 403)
        signature = sign(terms, chain_id, key)
    else:
        signature = body.signature
        if recover(terms, chain_id, signature) != account:
            raise WriteRejected(
                [
                    (
                        "signature",
                        f"not {account}'s EIP-712 signature of these terms: "
                        "sign GET /api/listings/{id}'s typed_data form of them",
                    )
                ]
            )
    table = state.store.tables["listing"]
    try:
        listing_id = _insert_listing(
            state, table, pilot, account, body, terms, material, grams, created, chain_id, signature
        )
    except IntegrityError:
        raise HTTPException(
            status_code=409,
            detail="this signed listing is recorded already: sign new terms (another nonce) to "
            "list again",
        ) from None
    return get_listing(state, listing_id)


def _insert_listing(
    state: Any,
    table: Any,
    pilot: Any,
    account: str,
    body: Any,
    terms: Any,
    material: str,
    grams: int,
    created: int,
    chain_id: int,
    signature: str,
) -> int:
    with state.store.engine.begin() as conn:
        listing_id = _new_id(
            conn.execute(
                insert(table).values(
                    pilot_id=pilot.id,
                    chain_id=chain_id,
                    account=account,
                    side=body.side,
                    material=material,
                    grams=grams,
                    lot_id=body.lot_id,
                    interval_days=body.interval_days,
                    needed_by=body.needed_by,
                    reach_km=body.reach_km,
                    site_id=body.site_id,
                    created_at=created,
                    expires_at=terms.expiresAt,
                    nonce=terms.nonce,
                    digest=digest(terms, chain_id),
                    signature=signature,
                    status="open",
                )
            )
        )
    return listing_id


def match_record(row: RowMapping, available: RowMapping, wanted: RowMapping) -> bytes:
    """The canonical JSON of an accepted match: its SHA-256 is the hand-over's evidence."""
    record = {
        "match": row["id"],
        "pilot": row["pilot_id"],
        "grams": row["grams"],
        "available": {
            "listing": available["id"],
            "account": available["account"],
            "lot": available["lot_id"],
            "digest": available["digest"],
        },
        "wanted": {
            "listing": wanted["id"],
            "account": wanted["account"],
            "digest": wanted["digest"],
        },
        "accepted_by": row["decided_by"],
        "accepted_at": row["decided_at"],
    }
    return json.dumps(record, sort_keys=True, separators=(",", ":")).encode()


def _match(conn: Connection, state: GatewayState, match_id: int) -> RowMapping:
    table = state.store.tables["exchange_match"]
    row = conn.execute(select(table).where(table.c.id == match_id)).mappings().first()
    if row is None:
        raise HTTPException(status_code=404, detail=f"match {match_id} does not exist")
    return row


def _match_public(row: RowMapping) -> MatchPublic:
    return MatchPublic(
        **{k: row[k] for k in MatchPublic.model_fields if k != "kg"}, kg=row["grams"] / 1000
    )


@router.get(
    "/api/pilots/{pilot}/matches", response_model=list[MatchPublic], summary="Matches of a pilot"
)
def list_matches(
    state: StateDep,
    pilot: PilotDep,
    match_state: Annotated[
        Literal["proposed", "accepted", "handed_over", "declined", "expired"] | None,
        Query(alias="state"),
    ] = None,
    listing: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[MatchPublic]:
    table = state.store.tables["exchange_match"]
    query = select(table).where(table.c.pilot_id == pilot.id)
    if match_state:
        query = query.where(table.c.state == match_state)
    if listing:
        query = query.where((table.c.available_id == listing) | (table.c.wanted_id == listing))
    with state.store.engine.connect() as conn:
        rows = conn.execute(query.order_by(table.c.id.desc()).limit(limit)).mappings().all()
    return [_match_public(r) for r in rows]


@router.get("/api/matches/{match_id}", response_model=MatchPublic, summary="One match")
def get_match(state: StateDep, match_id: Id) -> MatchPublic:
    with state.store.engine.connect() as conn:
        return _match_public(_match(conn, state, match_id))


@router.get(
    "/api/matches/{match_id}/record",
    summary="The match record whose SHA-256 is the hand-over's evidence",
)
def get_match_record(state: StateDep, match_id: Id) -> Any:
    with state.store.engine.connect() as conn:
        row = _match(conn, state, match_id)
    if row["decided_at"] is None or row["state"] not in ("accepted", "handed_over"):
        raise HTTPException(
            status_code=409,
            detail=f"match {match_id} is {row['state']}: only accepted matches have a record",
        )
    text = match_record(
        row, listing_row(state, row["available_id"]), listing_row(state, row["wanted_id"])
    )
    return json.loads(text) | {
        "sha256": "0x" + hashlib.sha256(text).hexdigest(),
        "canonical": text.decode(),
    }


def _may_act(writes: WriteService, pilot: int, account: str, parties: Sequence[str]) -> None:
    if account in parties or writes.roles(pilot, account) & Role.FACILITATOR:
        return
    raise WriteRejected(
        [
            (
                "account",
                f"{account} is neither a party to this match nor a facilitator of pilot {pilot}",
            )
        ],
        403,
    )


@router.post(
    "/api/matches",
    status_code=201,
    response_model=MatchPublic,
    summary="Propose a match of an available and a wanted listing (a party or a facilitator)",
)
def post_match(
    body: MatchIn, state: StateDep, writes: WritesDep, account: AccountDep
) -> MatchPublic:
    available, wanted = listing_row(state, body.available_id), listing_row(state, body.wanted_id)
    errors: list[tuple[str, str]] = []
    if available["side"] != "available":
        errors.append(("available_id", f"listing {available['id']} is a wanted listing"))
    if wanted["side"] != "wanted":
        errors.append(("wanted_id", f"listing {wanted['id']} is an available listing"))
    if errors:
        raise WriteRejected(errors)
    _may_act(writes, wanted["pilot_id"], account, (available["account"], wanted["account"]))
    now = int(time.time())
    found = next(
        (
            c
            for c in candidates(state, wanted, now, limit=10_000)
            if c.listing.id == available["id"]
        ),
        None,
    )
    if found is None:
        raise WriteRejected(
            [
                (
                    "available_id",
                    f"listing {available['id']} does not match listing {wanted['id']}: "
                    "other pilot, same account, expired or closed, incompatible material, "
                    "or beyond the taker's reach",
                )
            ]
        )
    table = state.store.tables["exchange_match"]
    with state.store.engine.begin() as conn:
        open_ = conn.execute(
            select(table.c.id).where(
                table.c.available_id == available["id"],
                table.c.wanted_id == wanted["id"],
                table.c.state.in_(("proposed", "accepted")),
            )
        ).first()
        if open_ is not None:
            raise WriteRejected(
                [("available_id", f"match {open_[0]} of these listings is open already")], 409
            )
        match_id = _new_id(
            conn.execute(
                insert(table).values(
                    pilot_id=wanted["pilot_id"],
                    available_id=available["id"],
                    wanted_id=wanted["id"],
                    grams=found.grams,
                    score=found.score,
                    explanation=found.explanation,
                    distance_km=found.distance_km,
                    co2e_kg=found.co2e_kg,
                    state="proposed",
                    proposed_by=account,
                    proposed_at=now,
                )
            )
        )
        return _match_public(_match(conn, state, match_id))


def _expire(conn: Connection, state: GatewayState, row: RowMapping, now: int) -> bool:
    """Mark a proposed match expired when either listing has expired or closed."""
    listing = state.store.tables["listing"]
    lapsed = conn.execute(
        select(listing.c.id).where(
            listing.c.id.in_((row["available_id"], row["wanted_id"])),
            (listing.c.expires_at <= now) | (listing.c.status != "open"),
        )
    ).first()
    if lapsed is None:
        return False
    table = state.store.tables["exchange_match"]
    transition(conn, table, row["id"], "proposed", "expired", decided_at=now)
    return True


@router.post(
    "/api/matches/{match_id}/accept",
    response_model=MatchPublic,
    summary="Accept a match; an available lot is handed over on chain with the match record as evidence",
)
def accept_match(
    state: StateDep, writes: WritesDep, account: AccountDep, match_id: Id
) -> MatchPublic:
    table, listing = state.store.tables["exchange_match"], state.store.tables["listing"]
    now = int(time.time())
    with state.store.engine.begin() as conn:
        row = _match(conn, state, match_id)
    available, wanted = (
        listing_row(state, row["available_id"]),
        listing_row(state, row["wanted_id"]),
    )
    _may_act(writes, row["pilot_id"], account, (available["account"], wanted["account"]))
    with state.store.engine.begin() as conn:
        if row["state"] == "proposed" and _expire(conn, state, row, now):
            raise WriteRejected(
                [("match", f"match {match_id} has expired: a listing expired or closed")], 409
            )
        # The guard: only one request moves the match out of 'proposed'; any other gets 409.
        claimed = transition(
            conn, table, match_id, "proposed", "accepted", decided_by=account, decided_at=now
        )
    if not claimed:
        raise WriteRejected(
            [
                (
                    "match",
                    f"match {match_id} is {row['state'] if row['state'] != 'proposed' else 'taken'}"
                    ": it can be accepted once",
                )
            ],
            409,
        )
    with state.store.engine.connect() as conn:
        row = _match(conn, state, match_id)
    record_hash = "0x" + hashlib.sha256(match_record(row, available, wanted)).hexdigest()
    values: dict[str, Any] = {"record_hash": record_hash}
    if available["lot_id"] is not None:
        try:
            job = hand_over(
                writes,
                match_id=match_id,
                pilot=row["pilot_id"],
                holder=available["account"],
                lot_id=available["lot_id"],
                to=wanted["account"],
                grams=row["grams"],
                evidence=record_hash,
            )
        except HandOverPending:
            raise  # queued: it may still land, so the match stays accepted
        except BaseException:
            with state.store.engine.begin() as conn:  # nothing half-written: back to proposed
                transition(
                    conn, table, match_id, "accepted", "proposed", decided_by=None, decided_at=None
                )
            raise
        events = (job.result or {}).get("events", [])
        moved = [e for e in events if e["name"] == "LotTransferred"]
        values |= {
            "state": "handed_over",
            "tx_hash": job.tx_hash,
            "received_lot": int(moved[0]["args"]["receivedLot"]) if moved else None,
        }
    with state.store.engine.begin() as conn:
        conn.execute(update(table).where(table.c.id == match_id).values(**values))
        conn.execute(
            update(listing)
            .where(listing.c.id.in_((available["id"], wanted["id"])))
            .values(status="closed")
        )
        return _match_public(_match(conn, state, match_id))


@router.post(
    "/api/matches/{match_id}/decline",
    response_model=MatchPublic,
    summary="Decline a proposed match",
)
def decline_match(
    state: StateDep, writes: WritesDep, account: AccountDep, match_id: Id
) -> MatchPublic:
    table = state.store.tables["exchange_match"]
    with state.store.engine.begin() as conn:
        row = _match(conn, state, match_id)
        available, wanted = (
            listing_row(state, row["available_id"]),
            listing_row(state, row["wanted_id"]),
        )
        _may_act(writes, row["pilot_id"], account, (available["account"], wanted["account"]))
        done = transition(
            conn,
            table,
            match_id,
            "proposed",
            "declined",
            decided_by=account,
            decided_at=int(time.time()),
        )
        if not done:
            raise WriteRejected(
                [
                    (
                        "match",
                        f"match {match_id} is {row['state']}: only a proposed match is declined",
                    )
                ],
                409,
            )
        return _match_public(_match(conn, state, match_id))
