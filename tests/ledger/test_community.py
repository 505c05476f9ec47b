"""The community programme end to end: clients on chain, check-in tokens, the index, the KPIs."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from eth_account import Account
from sqlalchemy import select
from sqlmodel import Session

from ledger.checkin import InvalidCheckInToken, parse_token, token_signer
from ledger.circularity.records import load_records
from ledger.clients import Suite
from ledger.contract_errors import CommunityAlreadyCheckedIn, CommunityHoldDue
from ledger.impact.declarations import declare
from ledger.impact.framework import evaluate
from ledger.impact.inputs import community_records, impact_inputs
from ledger.indexer import indexer_for
from ledger.store.db import Store
from ledger.vocabulary import EventKind, Role
from pilots.model import load_pilots

LEUVEN = 1


def test_check_in_token_round_trip_and_refusals(memory_suite: Suite) -> None:
    staff = Account.create()
    community = memory_suite.community
    token = community.sign_check_in(staff, 7, 1_000_300)
    parsed = parse_token(token.encode())
    assert parsed == token
    chain_id = memory_suite.chain.chain_id
    assert token_signer(parsed, chain_id, community.address, now=1_000_000) == staff.address
    with pytest.raises(InvalidCheckInToken, match="expired"):
        token_signer(parsed, chain_id, community.address, now=1_000_301)
    with pytest.raises(InvalidCheckInToken, match="longer"):
        token_signer(parsed, chain_id, community.address, now=1_000_300 - 601)
    with pytest.raises(InvalidCheckInToken, match="scan"):
        parse_token("7.1000300.0xzz")
    too_big = token.encode().replace("7.", f"{2**63}.", 1)
    with pytest.raises(InvalidCheckInToken, match="no possible event"):
        parse_token(too_big)
    # The digest signed here is the contract's own.
    digest = community.contract.functions.checkInDigest(7, 1_000_300).call()
    assert Account._recover_hash(digest, vrs=_vrs(token.r, token.vs)) == staff.address


def _vrs(r: bytes, vs: bytes) -> tuple[int, int, int]:
    packed = int.from_bytes(vs, "big")
    return (packed >> 255) + 27, int.from_bytes(r, "big"), packed & ((1 << 255) - 1)


def test_programme_on_chain_indexed_and_counted(memory_suite: Suite, tmp_path: Path) -> None:
    suite, chain = memory_suite, memory_suite.chain
    admin, issuer = chain.accounts[LEUVEN], chain.accounts[8]
    members = [
        Account.create(),
        Account.create(),
    ]  # members pay nothing: their requests are relayed
    suite.registry.set_pilot_role(admin, LEUVEN, issuer.address, Role.ISSUER)
    suite.token.set_budget(admin, LEUVEN, 10_000)
    now = int(chain.w3.eth.get_block("latest")["timestamp"])
    training = suite.community.create_event(
        issuer, LEUVEN, EventKind.TRAINING, now - 60, now + 3 * 3600, 40, issuer.address
    )
    for member in members:
        token = suite.community.sign_check_in(issuer, training.event_id, now + 300)
        done = suite.community.check_in(member, token, relay=True)  # relayed: the member signs
        assert (done.member, done.points) == (member.address, 40)
    with pytest.raises(CommunityAlreadyCheckedIn):
        suite.community.check_in(
            members[0],
            suite.community.sign_check_in(issuer, training.event_id, now + 300),
            relay=True,
        )
    credential = suite.community.issue_credential(
        issuer, training.event_id, members[0].address, "WELDING", 2
    )
    got = suite.community.credential(credential.credential_id)
    assert (got.holder, got.pilot, got.skill, got.level) == (members[0].address, 1, "WELDING", 2)
    suite.community.set_hold_period(admin, LEUVEN, 86_400)
    voided = suite.community.hold_drop_off(issuer, LEUVEN, members[1].address, 30)
    suite.community.void_hold(issuer, voided.hold_id, "DUPLICATE_TICKET")
    suite.community.set_hold_period(admin, LEUVEN, 0)
    due = suite.community.hold_drop_off(issuer, LEUVEN, members[1].address, 25)
    with pytest.raises(CommunityHoldDue):
        suite.community.void_hold(issuer, due.hold_id, "LATE")
    suite.community.release(issuer, due.hold_id)
    assert suite.token.balance_of(members[0].address) == 40
    assert suite.token.balance_of(members[1].address) == 65  # 40 + 25 released, 30 voided

    store = Store.open(f"sqlite:///{tmp_path / 'index.sqlite'}")
    indexer_for(suite, store).run()
    with store.engine.connect() as conn:
        attendance = conn.execute(select(store.tables["attendance"])).mappings().all()
        voids = conn.execute(select(store.tables["hold_void"])).mappings().all()
        releases = conn.execute(select(store.tables["hold_release"])).mappings().all()
        credentials = conn.execute(select(store.tables["skill_credential"])).mappings().all()
    assert sorted(r["member"] for r in attendance) == sorted(m.address for m in members)
    assert [(v["hold_id"], v["reason"]) for v in voids] == [(voided.hold_id, "DUPLICATE_TICKET")]
    assert [(r["hold_id"], r["points"]) for r in releases] == [(due.hold_id, 25)]
    assert [c["skill"] for c in credentials] == ["WELDING"]

    pilot = load_pilots()[0]
    with Session(store.engine) as session:
        declare(session, pilot, members[0].address, ["women"], consent_version="v1", now=now)
    year = datetime.fromtimestamp(now, UTC).year
    community = community_records(store.engine, LEUVEN)
    inputs = impact_inputs(load_records(store.engine).for_pilot(LEUVEN), community, pilot, year)
    values = {v.kpi.metric: v for v in evaluate(pilot, inputs, year)}
    for metric, expected in (
        ("participants", 2),
        ("attendance", 2),
        ("events", 1),
        ("credentials_issued", 1),
        ("training_hours", 2 * (3 * 3600 + 60) / 3600),
    ):
        result = values[metric].result
        assert result is not None and result.value == pytest.approx(expected), metric
    assert values["target_group_share"].result is None  # one woman: suppressed
