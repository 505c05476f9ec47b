"""The exchange and the challenge board through the gateway, on anvil: every endpoint, bad input
(one message per field, nothing recorded), the hand-over of an accepted match on chain with the
match record's hash as evidence, accepting twice, and proposals checked against their hash."""

from __future__ import annotations

import hashlib
import secrets
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from ledger.audit.evidence import check_file
from ledger.exchange.listing import ListingTerms, sign
from ledger.vocabulary import Role
from tests.api import test_writes
from tests.api.test_writes import Gateway, _error_fields, _fresh_lot

pytestmark = pytest.mark.anvil
#: The module-scoped gateway on anvil of the write tests, started afresh for this module.
gw = test_writes.gw


def _count(gw: Gateway, table: str) -> int:
    with gw.store.engine.connect() as conn:
        return int(
            conn.execute(select(func.count()).select_from(gw.store.tables[table])).scalar_one()
        )


def _org(gw: Gateway, who: str, lat: float, lon: float) -> int:
    body = {
        "name": f"{who}'s workshop",
        "kind": "maker",
        "sites": [{"name": f"{who} site", "kind": "workshop", "lat": lat, "lon": lon}],
    }
    reply = gw.client.post("/api/pilots/LEU/organisations", json=body, headers=gw.as_(who))
    if reply.status_code == 409:  # registered by an earlier test of this module
        orgs = gw.client.get("/api/pilots/LEU/organisations").json()
        address = getattr(gw, who).address
        return int(next(o for o in orgs if address in o["accounts"])["sites"][0]["id"])
    assert reply.status_code == 201, reply.text
    return int(reply.json()["sites"][0]["id"])


def _bob_wanted(
    gw: Gateway,
    site: int,
    grams: int,
    material: str = "17 02 01",
    *,
    nonce: int | None = None,
    now: int | None = None,
    status: int = 201,
) -> dict[str, Any]:
    """Bob holds his own key: he signs the listing's EIP-712 terms himself (a fresh nonce each
    time: the same terms signed twice are one listing)."""
    now = now if now is not None else int(time.time())
    nonce = nonce if nonce is not None else secrets.randbelow(2**62)
    terms = ListingTerms(
        pilot=1,
        account=gw.bob.address,
        side="wanted",
        material=material,
        grams=grams,
        lotId=0,
        intervalDays=0,
        neededBy=0,
        reachKm=25,
        siteId=site,
        expiresAt=now + 30 * 86_400,
        nonce=nonce,
    )
    body = {
        "side": "wanted",
        "material": material,
        "quantity": grams,
        "unit": "g",
        "site_id": site,
        "reach_km": 25,
        "expires_in_days": 30,
        "nonce": nonce,
        "created_at": now,
        "signature": sign(terms, gw.suite.manifest.chain_id, gw.bob),
    }
    reply = gw.client.post("/api/pilots/LEU/listings", json=body, headers=gw.as_("bob"))
    assert reply.status_code == status, reply.text
    return dict(reply.json())


def _alice_offer(gw: Gateway, site: int, lot: int, grams: int) -> dict[str, Any]:
    body = {
        "side": "available",
        "material": "17 02 01",
        "quantity": grams,
        "unit": "g",
        "site_id": site,
        "lot_id": lot,
    }
    reply = gw.client.post("/api/pilots/LEU/listings", json=body, headers=gw.as_("alice"))
    assert reply.status_code == 201, reply.text
    return dict(reply.json())


def test_listing_is_signed_and_anyone_can_verify_it(gw: Gateway) -> None:
    site = _org(gw, "alice", 50.8798, 4.7005)
    offer = _alice_offer(gw, site, _fresh_lot(gw, 4_000), 4_000)
    assert offer["signer"] == gw.alice.address and offer["valid"] is True
    public = gw.client.get(f"/api/listings/{offer['id']}").json()
    assert public["valid"] and public["typed_data"]["message"]["lotId"] == offer["lot_id"]
    found = gw.client.get(
        "/api/pilots/LEU/listings",
        params={"material": "17 02 01", "near_site": site, "within_km": 1},
    ).json()
    assert offer["id"] in [x["id"] for x in found] and all(x["distance_km"] <= 1 for x in found)
    none = gw.client.get("/api/pilots/LEU/listings", params={"material": "20 01 10"}).json()
    assert offer["id"] not in [x["id"] for x in none]


def test_bad_listings_answer_422_per_field_and_record_nothing(gw: Gateway) -> None:
    site = _org(gw, "alice", 50.8798, 4.7005)
    bob_lot = gw.suite.materials.intake(
        gw.bob, 1, gw.suite.manifest.materials["17 02 01"], 1, 3_000
    ).lot_id
    before = _count(gw, "listing")
    cases = [
        (
            {"material": "99 99 99", "lot_id": None, "interval_days": 7},
            "material",
            "unknown material code",
        ),
        ({"quantity": -5}, "body.quantity", "greater than 0"),
        ({"lot_id": bob_lot}, "lot_id", "is held by"),
        ({"lot_id": 10**9}, "lot_id", "does not exist"),
        ({"site_id": 10**9}, "site_id", "is not a site of"),
    ]
    for change, field, message in cases:
        body = {
            "side": "available",
            "material": "17 02 01",
            "quantity": 1,
            "unit": "kg",
            "site_id": site,
            "lot_id": bob_lot,
            **change,
        }
        body = {k: v for k, v in body.items() if v is not None}
        reply = gw.client.post("/api/pilots/LEU/listings", json=body, headers=gw.as_("alice"))
        assert reply.status_code == 422, (change, reply.text)
        assert reply.json()["error"]["code"] == "invalid_input"
        assert message in _error_fields(reply)[field], (field, reply.text)
    bad_signature = {
        "side": "wanted",
        "material": "17 02 01",
        "quantity": 1,
        "site_id": site,
        "nonce": 1,
        "created_at": int(time.time()),
        "signature": "0x" + "11" * 65,
    }
    reply = gw.client.post("/api/pilots/LEU/listings", json=bad_signature, headers=gw.as_("alice"))
    assert reply.status_code == 422 and "signature" in _error_fields(reply)
    assert gw.client.post("/api/pilots/LEU/listings", json=bad_signature).status_code == 401
    outsider = gw.client.post(
        "/api/pilots/LEU/listings", json=bad_signature, headers=gw.as_("outsider")
    )
    assert outsider.status_code == 403
    assert _count(gw, "listing") == before


def test_wanted_listing_finds_the_lot_and_accepting_hands_it_over(
    gw: Gateway, tmp_path: Path
) -> None:
    alice_site = _org(gw, "alice", 50.8798, 4.7005)
    bob_site = _org(gw, "bob", 50.8640, 4.6780)  # about 2.4 km away
    lot = _fresh_lot(gw, 6_000)
    offer = _alice_offer(gw, alice_site, lot, 6_000)
    wanted = _bob_wanted(gw, bob_site, 5_000)
    ranked = gw.client.get(f"/api/listings/{wanted['id']}/matches").json()
    top = next(c for c in ranked if c["listing"]["id"] == offer["id"])
    assert top["kg"] == 5.0 and 2 < top["distance_km"] < 3
    assert "same EWC code 17 02 01" in top["explanation"]
    assert {p["name"] for p in top["parts"]} == {
        "compatibility",
        "quantity",
        "distance",
        "freshness",
    }
    assert offer["id"] not in [
        c["listing"]["id"]
        for c in gw.client.get(f"/api/listings/{offer['id']}/matches").json()
        if c["listing"]["account"] == gw.alice.address
    ]

    proposed = gw.client.post(
        "/api/matches",
        json={"available_id": offer["id"], "wanted_id": wanted["id"]},
        headers=gw.as_("bob"),
    )
    assert proposed.status_code == 201, proposed.text
    match = proposed.json()
    assert match["state"] == "proposed" and match["score"] == top["score"]
    again = gw.client.post(
        "/api/matches",
        json={"available_id": offer["id"], "wanted_id": wanted["id"]},
        headers=gw.as_("bob"),
    )
    assert again.status_code == 409
    assert (
        gw.client.post(f"/api/matches/{match['id']}/accept", headers=gw.as_("outsider")).status_code
        == 403
    )

    with ThreadPoolExecutor(2) as pool:  # accepting twice at once hands over once
        replies = list(
            pool.map(
                lambda _: gw.client.post(
                    f"/api/matches/{match['id']}/accept", headers=gw.as_("bob")
                ),
                range(2),
            )
        )
    codes = sorted(r.status_code for r in replies)
    assert codes == [200, 409], [r.text for r in replies]
    done = next(r for r in replies if r.status_code == 200).json()
    assert done["state"] == "handed_over" and done["received_lot"]
    assert gw.suite.materials.lot(done["received_lot"]).holder == gw.bob.address
    assert gw.suite.materials.lot(lot).grams == 1_000

    record = gw.client.get(f"/api/matches/{match['id']}/record").json()
    assert record["sha256"] == done["record_hash"]
    assert "0x" + hashlib.sha256(record["canonical"].encode()).hexdigest() == done["record_hash"]
    document = tmp_path / "match.json"
    document.write_bytes(record["canonical"].encode())
    assert check_file(gw.suite, document, done["tx_hash"]).matches
    assert gw.state.wait_indexed(gw.suite.chain.w3.eth.block_number)
    trail = gw.client.get(f"/api/lots/{lot}/trail").json()
    assert done["record_hash"] in str(trail)
    assert (
        gw.client.post(f"/api/matches/{match['id']}/decline", headers=gw.as_("bob")).status_code
        == 409
    )
    listed = gw.client.get("/api/pilots/LEU/matches", params={"state": "handed_over"}).json()
    assert match["id"] in [m["id"] for m in listed]


def test_a_failed_hand_over_leaves_the_match_proposed(gw: Gateway) -> None:
    alice_site = _org(gw, "alice", 50.8798, 4.7005)
    bob_site = _org(gw, "bob", 50.8640, 4.6780)
    lot = _fresh_lot(gw, 3_000)
    offer = _alice_offer(gw, alice_site, lot, 3_000)
    wanted = _bob_wanted(gw, bob_site, 3_000)
    match = gw.client.post(
        "/api/matches",
        json={"available_id": offer["id"], "wanted_id": wanted["id"]},
        headers=gw.as_("bob"),
    ).json()
    gw.suite.materials.dispatch(
        gw.alice, lot, 3_000, 4
    )  # the lot is gone before the match is accepted
    reply = gw.client.post(f"/api/matches/{match['id']}/accept", headers=gw.as_("bob"))
    assert reply.status_code == 422 and "has 0 g left" in str(reply.json())
    assert gw.client.get(f"/api/matches/{match['id']}").json()["state"] == "proposed"
    declined = gw.client.post(f"/api/matches/{match['id']}/decline", headers=gw.as_("alice"))
    assert declined.status_code == 200 and declined.json()["state"] == "declined"


def test_bad_matches(gw: Gateway) -> None:
    alice_site = _org(gw, "alice", 50.8798, 4.7005)
    bob_site = _org(gw, "bob", 50.8640, 4.6780)
    offer = _alice_offer(gw, alice_site, _fresh_lot(gw, 1_000), 1_000)
    textiles = _bob_wanted(gw, bob_site, 1_000, material="20 01 10")
    reply = gw.client.post(
        "/api/matches",
        json={"available_id": offer["id"], "wanted_id": textiles["id"]},
        headers=gw.as_("bob"),
    )
    assert reply.status_code == 422 and "does not match" in _error_fields(reply)["available_id"]
    swapped = gw.client.post(
        "/api/matches",
        json={"available_id": textiles["id"], "wanted_id": offer["id"]},
        headers=gw.as_("bob"),
    )
    assert set(_error_fields(swapped)) == {"available_id", "wanted_id"}
    assert gw.client.get("/api/matches/999999").status_code == 404
    assert gw.client.get("/api/listings/0").status_code == 422


def test_facilitator_is_an_on_chain_role(gw: Gateway) -> None:
    admin = gw.suite.chain.accounts[1]
    gw.suite.registry.set_pilot_role(admin, 1, gw.member.address, Role.FACILITATOR)
    gw.writes.role_cache.forget()
    alice_site = _org(gw, "alice", 50.8798, 4.7005)
    bob_site = _org(gw, "bob", 50.8640, 4.6780)
    offer = _alice_offer(gw, alice_site, _fresh_lot(gw, 2_000), 2_000)
    wanted = _bob_wanted(gw, bob_site, 2_000)
    proposed = gw.client.post(
        "/api/matches",
        json={"available_id": offer["id"], "wanted_id": wanted["id"]},
        headers=gw.as_("member"),
    )
    assert proposed.status_code == 201, proposed.text
    accepted = gw.client.post(
        f"/api/matches/{proposed.json()['id']}/accept", headers=gw.as_("member")
    )
    assert accepted.status_code == 200 and accepted.json()["state"] == "handed_over"


def test_challenge_board(gw: Gateway, tmp_path: Path) -> None:
    deadline = int(time.time()) + 30 * 86_400
    body = {
        "title": "Stools from offcuts",
        "need": "A stool design from joinery offcuts",
        "material": "17 02 01",
        "budget": 5000,
        "deadline": deadline,
    }
    bad = gw.client.post(
        "/api/pilots/LEU/challenges",
        json={**body, "material": "00 00 00", "deadline": 5},
        headers=gw.as_("alice"),
    )
    assert bad.status_code == 422 and set(_error_fields(bad)) == {"material", "deadline"}
    # 10**19 fits the contract's uint64, not the index's integers: refused before it is sent.
    far = gw.client.post(
        "/api/pilots/LEU/challenges", json={**body, "deadline": 10**19}, headers=gw.as_("alice")
    )
    assert far.status_code == 422 and set(_error_fields(far)) == {"deadline"}, far.text
    posted = gw.client.post("/api/pilots/LEU/challenges", json=body, headers=gw.as_("alice"))
    assert posted.status_code == 201, posted.text
    challenge = posted.json()["id"]
    brief = gw.client.get(f"/api/challenges/{challenge}/brief").json()
    assert brief["matches"] is True

    document = tmp_path / "proposal.pdf"
    document.write_bytes(b"%PDF-1.4 a stool from offcuts, drawings and costs")
    digest = "0x" + hashlib.sha256(document.read_bytes()).hexdigest()
    outsider = gw.client.post(
        f"/api/challenges/{challenge}/proposals",
        json={"document": digest},
        headers=gw.as_("outsider"),
    )
    assert outsider.status_code in (403, 422)
    short = gw.client.post(
        f"/api/challenges/{challenge}/proposals", json={"document": "0x12"}, headers=gw.as_("alice")
    )
    assert short.status_code == 422 and "body.document" in _error_fields(short)
    submitted = gw.client.post(
        f"/api/challenges/{challenge}/proposals", json={"document": digest}, headers=gw.as_("alice")
    )
    assert submitted.status_code == 201, submitted.text
    proposal = submitted.json()
    assert check_file(gw.suite, document, proposal["tx_hash"]).matches
    other = tmp_path / "other.pdf"
    other.write_bytes(b"another document")
    assert not check_file(gw.suite, other, proposal["tx_hash"]).matches

    pid = proposal["id"]
    assert (
        gw.client.post(f"/api/proposals/{pid}/shortlist", headers=gw.as_("alice")).status_code
        == 200
    )
    over = gw.client.post(
        f"/api/proposals/{pid}/select",
        json={"award": 6000, "milestones": 2},
        headers=gw.as_("alice"),
    )
    assert over.status_code == 422 and "ChallengeOverBudget" in over.text
    chosen = gw.client.post(
        f"/api/proposals/{pid}/select",
        json={"award": 3000, "milestones": 2},
        headers=gw.as_("alice"),
    )
    assert chosen.status_code == 200, chosen.text
    done = gw.client.post(
        f"/api/proposals/{pid}/milestones", json={"index": 0}, headers=gw.as_("alice")
    )
    assert done.status_code == 200, done.text
    twice = gw.client.post(
        f"/api/proposals/{pid}/milestones", json={"index": 0}, headers=gw.as_("alice")
    )
    assert twice.status_code == 422
    board = gw.client.get("/api/pilots/LEU/challenges").json()
    mine = next(c for c in board if c["challenge_id"] == challenge)
    assert (
        mine["title"] == "Stools from offcuts"
        and mine["budget"] == 5000
        and mine["awarded"] == 3000
    )
    steps = [s["step"] for s in mine["proposals"][0]["steps"]]
    assert (
        steps == ["shortlisted", "selected", "milestone"]
        and mine["proposals"][0]["status"] == "selected"
    )


def test_exchange_figures_on_the_api_and_in_the_csv(gw: Gateway) -> None:
    alice_site = _org(gw, "alice", 50.8798, 4.7005)
    bob_site = _org(gw, "bob", 50.8640, 4.6780)
    before = gw.client.get("/api/pilots/LEU/exchange").json()
    offer = _alice_offer(gw, alice_site, _fresh_lot(gw, 2_000), 2_000)
    wanted = _bob_wanted(gw, bob_site, 2_000)
    match = gw.client.post(
        "/api/matches",
        json={"available_id": offer["id"], "wanted_id": wanted["id"]},
        headers=gw.as_("bob"),
    ).json()
    done = gw.client.post(f"/api/matches/{match['id']}/accept", headers=gw.as_("bob")).json()
    after = gw.client.get("/api/pilots/LEU/exchange").json()
    assert after["listings"] == before["listings"] + 2
    assert after["matches_proposed"] == before["matches_proposed"] + 1
    assert after["matches_accepted"] == before["matches_accepted"] + 1
    assert after["kg_exchanged"] == pytest.approx(before["kg_exchanged"] + 2.0)
    assert after["transport_co2e_kg"] == pytest.approx(
        before["transport_co2e_kg"] + done["co2e_kg"], abs=1e-6
    )
    assert 0 < after["share_listings_matched"] <= 1
    assert (
        gw.client.get("/api/pilots/LEU/exchange", params={"period": "1999"}).json()["listings"] == 0
    )
    assert gw.client.get("/api/pilots/LEU/exchange", params={"period": "soon"}).status_code == 422
    csv = gw.client.get("/api/pilots/LEU/metrics.csv").text
    header = csv.splitlines()[0].split(",")
    assert {
        "exchange_listings",
        "exchange_kg_exchanged",
        "exchange_transport_co2e_kg",
        "exchange_proposals",
    } <= set(header)
    rows = [dict(zip(header, line.split(","), strict=True)) for line in csv.splitlines()[1:]]
    assert sum(float(r["exchange_kg_exchanged"] or 0) for r in rows) == pytest.approx(
        after["kg_exchanged"]
    )


def test_the_same_signed_listing_twice_is_one_listing(gw: Gateway) -> None:
    """Posting the same signed terms again is refused with 409, not a server error."""
    site = _org(gw, "bob", 50.88, 4.70)
    now = int(time.time())
    _bob_wanted(gw, site, 1_234, nonce=77, now=now)
    again = _bob_wanted(gw, site, 1_234, nonce=77, now=now, status=409)
    assert "recorded already" in again["error"]["message"]
