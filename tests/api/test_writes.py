"""The gateway's write side on anvil: sign-in, roles, validation, idempotency, rate limits,
relaying, batching, the wallet and redemption, the audit trail and verification."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from eth_account import Account
from eth_account.messages import encode_defunct
from eth_account.signers.local import LocalAccount
from fastapi.testclient import TestClient
from sqlalchemy import delete, insert, select, update

from api.assemble import custody_of, relayer_for, write_service
from api.auth import issue_api_key
from api.main import create_app
from api.state import GatewayState
from api.writes import (
    FateName,
    KindName,
    RateLimiter,
    SourceName,
    WriteService,
)
from ledger.build import Artifact
from ledger.chain import AnvilChain
from ledger.clients import Suite
from ledger.deploy import deploy
from ledger.indexer import indexer_for
from ledger.keystore import Keystore
from ledger.runtime import dev_admins
from ledger.store.db import Store
from ledger.vocabulary import ContributionKind, Fate, Role, Source
from ledger.write.relayer import Relayer
from pilots.model import Pilot
from tests.conftest import anvil_settings
from tests.ledger.test_indexer import LEUVEN, story

pytestmark = pytest.mark.anvil
PASSWORD = "test-keystore-password"


@dataclass
class Gateway:
    client: TestClient  # answers writes synchronously (?wait=confirmed unless told otherwise)
    raw: TestClient  # no default query: writes answer 202 with their job
    suite: Suite
    store: Store
    writes: WriteService
    state: GatewayState
    alice: LocalAccount  # maker of Leuven, key in the gateway's keystore
    bob: LocalAccount  # maker of Leuven, signs his own requests
    member: LocalAccount  # community member, key in the keystore
    outsider: LocalAccount  # no role anywhere, key in the keystore
    keys: dict[str, str]
    relayer: Relayer

    def as_(self, who: str) -> dict[str, str]:
        return {"X-API-Key": self.keys[who]}


@pytest.fixture(scope="module")
def gw(
    tmp_path_factory: pytest.TempPathFactory, artifacts: dict[str, Artifact], pilots: list[Pilot]
) -> Iterator[Gateway]:
    tmp = tmp_path_factory.mktemp("gateway")
    chain = AnvilChain.start(anvil_settings(tmp))
    manifest, _ = deploy(
        chain, artifacts, pilots, tmp / "manifest.json", admins=dev_admins(chain, pilots)
    )
    suite = Suite(chain, manifest, artifacts)
    story(suite)  # alice = accounts[8], bob = accounts[9], makers of Leuven
    alice, bob, member, outsider = (chain.accounts[i] for i in (8, 9, 13, 14))
    admin = chain.accounts[LEUVEN]
    suite.registry.set_pilot_role(admin, LEUVEN, admin.address, Role.ISSUER | Role.PARTNER)
    suite.token.set_budget(admin, LEUVEN, 1_000)
    suite.catalogue.list_reward(
        admin, LEUVEN, admin.address, 30, 2, int(time.time()) + 86_400 * 400
    )
    suite.token.award(admin, LEUVEN, member.address, 100, 1)

    data = tmp / "data"
    keystore = Keystore(data / "keys", PASSWORD)
    for name, account in (
        ("alice", alice),
        ("member", member),
        ("outsider", outsider),
        ("partner", admin),
    ):
        keystore.create(name, account.key)
    store = Store.open(f"sqlite:///{tmp / 'index.sqlite'}")
    indexer_for(suite, store).run()
    stop = threading.Event()
    follower = threading.Thread(
        target=indexer_for(suite, store).run,
        kwargs={"follow": True, "stop": stop, "poll": 0.05},
        daemon=True,
    )
    follower.start()
    custody = custody_of(data, PASSWORD)
    relayer = relayer_for(suite, store, custody, chain.accounts[-1])
    relaying = threading.Thread(target=relayer.run, args=(stop,), daemon=True)
    relaying.start()
    writes = write_service(
        suite, store, custody, data_dir=data, relayer=relayer, rate=1000, burst=1000
    )
    # TestClient's requests go to http://testserver: that is this gateway's public origin.
    state = GatewayState(store, pilots, writes, public_origin="http://testserver")
    keys = {
        name: issue_api_key(store, a.address, name)
        for name, a in (("alice", alice), ("bob", bob), ("member", member), ("outsider", outsider))
    }
    keys["partner"] = issue_api_key(store, admin.address, "partner")
    app = create_app(state)
    with TestClient(app) as client, TestClient(app) as raw:
        client.event_hooks = {"request": [_wait_confirmed]}
        yield Gateway(
            client, raw, suite, store, writes, state, alice, bob, member, outsider, keys, relayer
        )
    stop.set()
    follower.join(timeout=10)
    relaying.join(timeout=10)
    chain.close()


def _wait_confirmed(request: httpx.Request) -> None:
    """Writes of `gw.client` answer once mined, as they did before the queue (unless told)."""
    if request.method == "POST" and "wait" not in request.url.params:
        request.url = request.url.copy_add_param("wait", "confirmed")


def _wood(**extra: Any) -> dict[str, Any]:
    return {"material": "17 02 01", "source": "donation", "quantity": 2.5, "unit": "kg", **extra}


def _fresh_lot(gw: Gateway, grams: int = 5_000) -> int:
    body = {"records": [_wood(quantity=grams, unit="g")]}
    reply = gw.client.post("/api/pilots/LEU/intakes", json=body, headers=gw.as_("alice"))
    assert reply.status_code == 201, reply.text
    return int(reply.json()["lots"][0])


def _error_fields(reply: Any) -> dict[str, str]:
    return {f["field"]: f["message"] for f in reply.json()["error"].get("fields", [])}


# ---- makers' records ----------------------------------------------------------------------------


def test_intake_batch_is_recorded_and_indexed(gw: Gateway) -> None:
    before = gw.suite.materials.lot_count()
    body = {
        "records": [
            _wood(),
            _wood(material="20 01 39", source="municipal_collection", quantity=1.2),
        ]
    }
    reply = gw.client.post(
        "/api/pilots/LEU/intakes", json=body, headers=gw.as_("alice"), params={"wait": "indexed"}
    )
    assert reply.status_code == 201, reply.text
    out = reply.json()
    assert out["records"] == 2 and out["lots"] == [before + 1, before + 2]
    assert out["tx_hash"].startswith("0x") and out["indexed"] is True
    assert [lot["grams"] for lot in out["indexed_lots"]] == [2_500, 1_200]
    lot = gw.suite.materials.lot(before + 1)
    assert (lot.holder, lot.grams) == (gw.alice.address, 2_500)


def test_transform_transfer_dispatch_contribution(gw: Gateway) -> None:
    lot = _fresh_lot(gw, 10_000)
    made = gw.client.post(
        "/api/pilots/LEU/transformations",
        headers=gw.as_("alice"),
        json={
            "records": [
                {
                    "inputs": [{"lot_id": lot, "quantity": 10}],
                    "outputs": [{"material": "P-JOINERY", "quantity": 9.5}],
                    "loss": 0.5,
                    "unit": "kg",
                }
            ]
        },
    )
    assert made.status_code == 201, made.text
    product = made.json()["lots"][0]
    assert gw.suite.materials.lot(lot).grams == 0 and gw.suite.materials.lot(product).grams == 9_500
    moved = gw.client.post(
        "/api/pilots/LEU/transfers",
        headers=gw.as_("alice"),
        json={
            "records": [{"lot_id": product, "to": gw.bob.address, "quantity": 1500, "unit": "g"}]
        },
    )
    assert moved.status_code == 201, moved.text
    assert gw.suite.materials.lot(moved.json()["lots"][0]).holder == gw.bob.address
    gone = gw.client.post(
        "/api/pilots/LEU/dispatches",
        headers=gw.as_("alice"),
        json={"records": [{"lot_id": product, "quantity": 8, "unit": "kg", "fate": "in_use"}]},
    )
    assert gone.status_code == 201, gone.text
    assert gw.suite.materials.lot(product).grams == 0
    done = gw.client.post(
        "/api/pilots/LEU/contributions",
        headers=gw.as_("alice"),
        json={"records": [{"kind": "repair", "amount": 90}, {"kind": "workshop", "amount": 12}]},
    )
    assert done.status_code == 201, done.text
    assert [e["args"]["amount"] for e in done.json()["events"]] == [90, 12]


def test_vocabulary_names_match_the_ledger() -> None:
    assert set(SourceName.__args__) == {s.name.lower() for s in Source}
    assert set(FateName.__args__) == {f.name.lower() for f in Fate}
    assert set(KindName.__args__) == {k.name.lower() for k in ContributionKind}


# ---- authentication and roles -------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"X-API-Key": "ll_not-a-key"},
        {"Authorization": "Bearer v1.0xabc.1.deadbeef"},
        {"Authorization": "Basic abc"},
    ],
)
def test_writes_need_a_valid_credential(gw: Gateway, headers: dict[str, str]) -> None:
    before = gw.suite.materials.lot_count()
    reply = gw.client.post("/api/pilots/LEU/intakes", json={"records": [_wood()]}, headers=headers)
    assert reply.status_code == 401 and reply.json()["error"]["code"] == "unauthorized"
    assert gw.suite.materials.lot_count() == before


def test_wrong_role_is_forbidden(gw: Gateway) -> None:
    before = gw.suite.materials.lot_count()
    outsider = gw.client.post(
        "/api/pilots/LEU/intakes", json={"records": [_wood()]}, headers=gw.as_("outsider")
    )
    assert outsider.status_code == 403 and "not a maker of pilot 1" in outsider.text
    other_pilot = gw.client.post(
        "/api/pilots/THE/intakes", json={"records": [_wood()]}, headers=gw.as_("alice")
    )
    assert other_pilot.status_code == 403
    no_custody = gw.client.post(
        "/api/pilots/LEU/intakes", json={"records": [_wood()]}, headers=gw.as_("bob")
    )
    assert no_custody.status_code == 403 and "/api/relay" in no_custody.text
    assert gw.suite.materials.lot_count() == before


def _siwe(
    gw: Gateway,
    signer: LocalAccount,
    *,
    nonce: str | None = None,
    chain_id: int | None = None,
    domain: str = "testserver",
    expires: timedelta = timedelta(minutes=10),
) -> str:
    nonce = nonce or gw.client.get("/api/auth/nonce").json()["nonce"]
    now = datetime.now(UTC)
    return (
        f"{domain} wants you to sign in with your Ethereum account:\n{signer.address}\n\n"
        f"Sign in to LoopLedger.\n\nURI: http://{domain}/maker\nVersion: 1\n"
        f"Chain ID: {chain_id or gw.suite.manifest.chain_id}\nNonce: {nonce}\n"
        f"Issued At: {now.isoformat().replace('+00:00', 'Z')}\n"
        f"Expiration Time: {(now + expires).isoformat().replace('+00:00', 'Z')}"
    )


def _sign(signer: LocalAccount, message: str) -> str:
    return "0x" + bytes(signer.sign_message(encode_defunct(text=message)).signature).hex()


def test_sign_in_with_ethereum(gw: Gateway) -> None:
    message = _siwe(gw, gw.alice)
    session = gw.client.post(
        "/api/auth/siwe", json={"message": message, "signature": _sign(gw.alice, message)}
    )
    assert session.status_code == 200, session.text
    token = session.json()["token"]
    me = gw.client.get("/api/auth/me", headers={"Authorization": f"Bearer {token}"}).json()
    assert me["address"] == gw.alice.address and "maker" in me["roles"]["LEU"]
    reply = gw.client.post(
        "/api/pilots/LEU/intakes",
        json={"records": [_wood()]},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert reply.status_code == 201
    # The same message again: its nonce is spent.
    again = gw.client.post(
        "/api/auth/siwe", json={"message": message, "signature": _sign(gw.alice, message)}
    )
    assert again.status_code == 401 and "nonce" in again.text
    # A tampered token is refused.
    forged = token.replace(gw.alice.address, gw.bob.address)
    assert (
        gw.client.get("/api/auth/me", headers={"Authorization": f"Bearer {forged}"}).status_code
        == 401
    )


@pytest.mark.parametrize(
    "fault",
    ["other_signer", "chain", "domain", "host_header", "expired", "unknown_nonce", "garbled"],
)
def test_sign_in_rejections(gw: Gateway, fault: str) -> None:
    signer = gw.alice
    message = {
        "chain": lambda: _siwe(gw, signer, chain_id=5),
        "domain": lambda: _siwe(gw, signer, domain="evil.example"),
        # The attack of issue 13: signed for evil.example and posted with `Host: evil.example`.
        "host_header": lambda: _siwe(gw, signer, domain="evil.example"),
        "expired": lambda: _siwe(gw, signer, expires=timedelta(seconds=-1)),
        "unknown_nonce": lambda: _siwe(gw, signer, nonce="abcdefgh1234"),
        "garbled": lambda: "hello",
    }.get(fault, lambda: _siwe(gw, signer))()
    key = Account.create() if fault == "other_signer" else signer
    headers = {"Host": "evil.example"} if fault == "host_header" else {}
    reply = gw.client.post(
        "/api/auth/siwe",
        json={"message": message, "signature": _sign(key, message)},
        headers=headers,
    )
    assert reply.status_code == 401, reply.text
    assert reply.json()["error"]["code"] == "unauthorized"


# ---- validation: 422 per field, nothing sent -----------------------------------------------------


@pytest.mark.parametrize(
    ("record", "field"),
    [
        (_wood(material="99 99 99"), "records.0.material"),
        (_wood(quantity=0), "body.records.0.quantity"),
        (_wood(quantity=1.0005), "body.records.0"),
        (_wood(unit="lb"), "body.records.0.unit"),
        (_wood(source="meteorite"), "body.records.0.source"),
        (_wood(evidence="0x1234"), "body.records.0.evidence"),
        (_wood(colour="red"), "body.records.0.colour"),
    ],
)
def test_bad_intakes_are_422_per_field(gw: Gateway, record: dict[str, Any], field: str) -> None:
    before = gw.suite.materials.lot_count()
    reply = gw.client.post(
        "/api/pilots/LEU/intakes", json={"records": [_wood(), record]}, headers=gw.as_("alice")
    )
    assert reply.status_code == 422, reply.text
    body = reply.json()["error"]
    assert body["code"] == "invalid_input"
    fields = _error_fields(reply)
    expected = field.replace("records.0", "records.1")
    assert any(f.startswith(expected) for f in fields), fields
    assert gw.suite.materials.lot_count() == before


def test_transform_checks_mass_balance_and_holdings(gw: Gateway) -> None:
    lot = _fresh_lot(gw, 4_000)
    foreign = 5  # lot 5 of the story is held by bob
    before = gw.suite.materials.lot_count()
    reply = gw.client.post(
        "/api/pilots/LEU/transformations",
        headers=gw.as_("alice"),
        json={
            "records": [
                {
                    "inputs": [{"lot_id": lot, "quantity": 4}],
                    "outputs": [{"material": "P-JOINERY", "quantity": 3}],
                    "loss": 0.5,
                },
                {
                    "inputs": [{"lot_id": foreign, "quantity": 1}],
                    "outputs": [{"material": "P-JOINERY", "quantity": 1}],
                },
                {
                    "inputs": [{"lot_id": lot, "quantity": 1}],
                    "outputs": [{"material": "P-JOINERY", "quantity": 1}],
                },
            ]
        },
    )
    assert reply.status_code == 422
    fields = _error_fields(reply)
    assert "mass balance" in fields["records.0"] and "differs by 500 g" in fields["records.0"]
    assert "held by" in fields["records.1.inputs.0.lot_id"]
    assert "0 g left" in fields["records.2.inputs.0.lot_id"]  # the first record drew it all
    assert gw.suite.materials.lot_count() == before and gw.suite.materials.lot(lot).grams == 4_000


def test_overdrawn_dispatch_and_unknown_lot(gw: Gateway) -> None:
    lot = _fresh_lot(gw, 1_000)
    reply = gw.client.post(
        "/api/pilots/LEU/dispatches",
        headers=gw.as_("alice"),
        json={
            "records": [
                {"lot_id": lot, "quantity": 600, "unit": "g", "fate": "recycled"},
                {"lot_id": lot, "quantity": 600, "unit": "g", "fate": "recycled"},
                {"lot_id": 10**9, "quantity": 1, "unit": "g", "fate": "recycled"},
            ]
        },
    )
    assert reply.status_code == 422
    fields = _error_fields(reply)
    assert (
        "400 g left" in fields["records.1.lot_id"]
        and "does not exist" in fields["records.2.lot_id"]
    )
    assert gw.suite.materials.lot(lot).grams == 1_000


def test_transfer_to_a_non_maker_is_refused(gw: Gateway) -> None:
    lot = _fresh_lot(gw, 1_000)
    reply = gw.client.post(
        "/api/pilots/LEU/transfers",
        headers=gw.as_("alice"),
        json={"records": [{"lot_id": lot, "to": gw.outsider.address, "quantity": 1, "unit": "kg"}]},
    )
    assert reply.status_code == 422 and "not a maker" in _error_fields(reply)["records.0.to"]


# ---- idempotency and rate limits ----------------------------------------------------------------


def test_idempotent_retry_records_once(gw: Gateway) -> None:
    before = gw.suite.materials.lot_count()
    headers = {**gw.as_("alice"), "Idempotency-Key": "intake-2026-11-22-001"}
    first = gw.client.post("/api/pilots/LEU/intakes", json={"records": [_wood()]}, headers=headers)
    second = gw.client.post("/api/pilots/LEU/intakes", json={"records": [_wood()]}, headers=headers)
    assert first.status_code == second.status_code == 201
    assert second.headers.get("Idempotent-Replayed") == "true"
    assert first.json()["tx_hash"] == second.json()["tx_hash"]
    assert gw.suite.materials.lot_count() == before + 1
    changed = gw.client.post(
        "/api/pilots/LEU/intakes", json={"records": [_wood(quantity=3)]}, headers=headers
    )
    assert changed.status_code == 422 and "different request" in changed.text
    # A request that failed validation releases its key: the corrected request, sent with the
    # same key, is recorded (once).
    retry = {**gw.as_("alice"), "Idempotency-Key": "intake-2026-11-22-002"}
    bad = gw.client.post(
        "/api/pilots/LEU/intakes", json={"records": [_wood(material="00 00 00")]}, headers=retry
    )
    assert bad.status_code == 422 and gw.suite.materials.lot_count() == before + 1
    fixed = gw.client.post("/api/pilots/LEU/intakes", json={"records": [_wood()]}, headers=retry)
    assert fixed.status_code == 201 and fixed.headers.get("Idempotent-Replayed") is None
    assert gw.suite.materials.lot_count() == before + 2


def test_rate_limit_per_account(gw: Gateway) -> None:
    saved = gw.writes.limiter
    gw.writes.limiter = RateLimiter(gw.store, rate=0.01, burst=1)
    try:
        first = gw.client.post(
            "/api/pilots/LEU/contributions",
            headers=gw.as_("alice"),
            json={"records": [{"kind": "mentoring", "amount": 30}]},
        )
        second = gw.client.post(
            "/api/pilots/LEU/contributions",
            headers=gw.as_("alice"),
            json={"records": [{"kind": "mentoring", "amount": 30}]},
        )
        other = gw.client.post(
            "/api/pilots/LEU/redemptions", headers=gw.as_("member"), json={"reward_id": 10**6}
        )
    finally:
        gw.writes.limiter = saved
    assert first.status_code == 201
    assert second.status_code == 429 and int(second.headers["Retry-After"]) >= 1
    assert second.json()["error"]["code"] == "rate_limited"
    assert other.status_code == 422  # another account is not limited by alice's writes


# ---- relayed requests and batching --------------------------------------------------------------


def test_relay_of_self_signed_requests(gw: Gateway) -> None:
    wood = gw.suite.manifest.materials["17 02 01"]
    call = gw.suite.materials.call_data(
        "intake", LEUVEN, wood, int(Source.DONATION), 777, b"\x00" * 32
    )
    request = gw.suite.tx.request_for(gw.bob, call)
    wire = {
        **request,
        "data": "0x" + request["data"].hex(),
        "signature": "0x" + request["signature"].hex(),
    }
    reply = gw.client.post("/api/relay", json={"requests": [wire]}, headers=gw.as_("bob"))
    assert reply.status_code == 201, reply.text
    lot = reply.json()["lots"][0]
    assert gw.suite.materials.lot(lot).holder == gw.bob.address  # attributed to the signer
    replayed = gw.client.post("/api/relay", json={"requests": [wire]}, headers=gw.as_("bob"))
    assert replayed.status_code == 422 and "requests.0.signature" in _error_fields(replayed)
    forged = {**wire, "gas": wire["gas"] + 1}
    refused = gw.client.post("/api/relay", json={"requests": [forged]}, headers=gw.as_("bob"))
    assert refused.status_code == 422


def test_concurrent_writes_share_transactions(gw: Gateway) -> None:
    before_batches, before = gw.relayer.batches, gw.suite.materials.lot_count()

    def post(i: int) -> int:
        reply = gw.client.post(
            "/api/pilots/LEU/intakes",
            headers=gw.as_("alice"),
            json={"records": [_wood(quantity=i + 1, unit="g") for _ in range(5)]},
        )
        assert reply.status_code == 201, reply.text
        return int(reply.json()["block_number"])

    with ThreadPoolExecutor(8) as pool:
        blocks = list(pool.map(post, range(16)))
    assert gw.suite.materials.lot_count() == before + 80
    assert gw.relayer.batches - before_batches < 16  # several requests per transaction
    assert len(set(blocks)) < 16


# ---- members ------------------------------------------------------------------------------------


def test_wallet_rewards_redeem_and_receipt(gw: Gateway) -> None:
    wallet = gw.client.get(f"/api/accounts/{gw.member.address}/wallet").json()
    assert wallet["balance"] == gw.suite.token.balance_of(gw.member.address) == 100
    rewards = gw.client.get("/api/pilots/LEU/rewards?available=true").json()
    reward = rewards[0]
    assert (reward["cost"], reward["stock"]) == (30, 2)
    headers = {**gw.as_("member"), "Idempotency-Key": "redeem-1"}
    redeemed = gw.client.post(
        "/api/pilots/LEU/redemptions", json={"reward_id": reward["reward_id"]}, headers=headers
    )
    assert redeemed.status_code == 201, redeemed.text
    again = gw.client.post(
        "/api/pilots/LEU/redemptions", json={"reward_id": reward["reward_id"]}, headers=headers
    )
    assert again.json()["redemption_id"] == redeemed.json()["redemption_id"]
    assert gw.suite.token.balance_of(gw.member.address) == 70  # redeemed once
    assert gw.state.wait_indexed(redeemed.json()["block_number"])
    receipt = gw.client.get(f"/api/redemptions/{redeemed.json()['redemption_id']}").json()
    assert (
        receipt["member"] == gw.member.address
        and receipt["cost"] == 30
        and receipt["fulfilled"] is False
    )
    after = gw.client.get("/api/pilots/LEU/rewards").json()[0]
    assert after["stock"] == 1 and after["redemptions"] == 1
    wallet = gw.client.get(f"/api/accounts/{gw.member.address}/wallet?limit=1").json()
    assert (
        wallet["balance"] == 70
        and wallet["history"]["count"] == 2
        and len(wallet["history"]["data"]) == 1
    )
    assert wallet["history"]["data"][0]["kind"] == "redemption"
    poor = gw.client.post(
        "/api/pilots/LEU/redemptions",
        json={"reward_id": reward["reward_id"]},
        headers=gw.as_("outsider"),
    )
    assert poor.status_code == 422 and "balance is 0" in poor.text
    assert gw.client.get("/api/redemptions/12345").status_code == 404
    assert wallet["balances"] == {"LEU": 70}


def test_a_receipt_alone_does_not_take_the_reward(gw: Gateway) -> None:
    """Issue 13: redemption ids are guessable and receipts public; whoever presents another
    member's receipt must not get the reward. The partner fulfils only with the member's code."""
    reward = gw.client.get("/api/pilots/LEU/rewards?available=true").json()[0]
    redeemed = gw.client.post(
        "/api/pilots/LEU/redemptions",
        json={"reward_id": reward["reward_id"]},
        headers=gw.as_("member"),
    )
    assert redeemed.status_code == 201, redeemed.text
    rid = redeemed.json()["redemption_id"]
    assert gw.state.wait_indexed(redeemed.json()["block_number"])
    assert gw.client.get(f"/api/redemptions/{rid}").status_code == 200  # the receipt is public
    # A bearer of the receipt cannot get its code, and a guessed code does not fulfil.
    stolen = gw.client.post(f"/api/redemptions/{rid}/claim-code", headers=gw.as_("outsider"))
    assert stolen.status_code == 403
    guessed = gw.client.post(
        f"/api/redemptions/{rid}/fulfilment",
        json={"code": "AAAA-AAAA-AAAA"},
        headers=gw.as_("partner"),
    )
    assert guessed.status_code == 403 and guessed.json()["error"]["fields"][0]["field"] == "code"
    assert gw.suite.catalogue.redemption_status(int(rid)) == (True, False)
    # The member's code, shown to the partner: handed over once.
    code = gw.client.post(f"/api/redemptions/{rid}/claim-code", headers=gw.as_("member")).json()[
        "code"
    ]
    not_partner = gw.client.post(
        f"/api/redemptions/{rid}/fulfilment", json={"code": code}, headers=gw.as_("outsider")
    )
    assert not_partner.status_code == 403
    done = gw.client.post(
        f"/api/redemptions/{rid}/fulfilment", json={"code": code}, headers=gw.as_("partner")
    )
    assert done.status_code == 201, done.text
    assert gw.suite.catalogue.redemption_status(int(rid)) == (True, True)
    assert gw.client.get(f"/api/redemptions/{rid}").json()["fulfilled"] is True
    again = gw.client.post(
        f"/api/redemptions/{rid}/fulfilment", json={"code": code}, headers=gw.as_("partner")
    )
    assert again.status_code == 409


# ---- auditors -----------------------------------------------------------------------------------


def test_trail_and_lists(gw: Gateway) -> None:
    trail = gw.client.get("/api/lots/1/trail").json()
    actions = [s["action"] for s in trail["trail"]]
    assert (
        actions[0] == "intake" and "consumed_by_transformation" in actions and "transfer" in actions
    )
    assert all(s["tx_hash"].startswith("0x") and s["block_number"] > 0 for s in trail["trail"])
    page = gw.client.get(f"/api/pilots/LEU/lots?holder={gw.bob.address}&limit=2").json()
    assert page["limit"] == 2 and len(page["data"]) <= 2 and page["count"] >= 2
    assert all(row["holder"] == gw.bob.address for row in page["data"])
    assert gw.client.get("/api/lots/999999/trail").status_code == 404


def test_verify_endpoint_reports_tampering(gw: Gateway) -> None:
    head = int(gw.suite.chain.w3.eth.block_number)
    assert gw.state.wait_indexed(head)
    anonymous = gw.client.get("/api/audit/verify")
    assert anonymous.status_code == 401  # re-reading the chain needs a signed-in account
    clean = gw.client.get("/api/audit/verify", headers=gw.as_("outsider")).json()
    assert clean["ok"] is True and clean["rows_checked"] > 20 and clean["mismatches"] == []
    intake = gw.store.tables["intake"]
    with gw.store.engine.begin() as conn:
        row = conn.execute(select(intake).where(intake.c.lot_id == 1)).mappings().one()
        conn.execute(update(intake).where(intake.c.lot_id == 1).values(grams=row["grams"] + 1))
    try:
        report = gw.client.get("/api/audit/verify?pilot=LEU", headers=gw.as_("outsider")).json()
        assert report["ok"] is False
        changed = [m for m in report["mismatches"] if m["table"] == "intake"]
        assert len(changed) == 1 and changed[0]["fields"] == {
            "grams": {"store": 10_001, "chain": 10_000}
        }
        assert changed[0]["tx_hash"] == row["tx_hash"]
    finally:
        with gw.store.engine.begin() as conn:
            conn.execute(delete(intake).where(intake.c.lot_id == 1))
            conn.execute(insert(intake).values(**row))
    bad = gw.client.get("/api/audit/verify?from_block=10&to_block=5", headers=gw.as_("outsider"))
    assert bad.status_code == 422
    huge = gw.client.get(
        "/api/audit/verify?from_block=0&to_block=100000", headers=gw.as_("outsider")
    )
    assert huge.status_code == 422 and "at most 100,000 blocks" in huge.text


def test_openapi_lists_every_endpoint(gw: Gateway, tmp_path: Path) -> None:
    spec = gw.client.get("/openapi.json").json()
    paths = set(spec["paths"])
    assert {
        "/api/pilots/{pilot}/intakes",
        "/api/pilots/{pilot}/transformations",
        "/api/relay",
        "/api/auth/siwe",
        "/api/accounts/{address}/wallet",
        "/api/redemptions/{redemption_id}",
        "/api/audit/verify",
        "/api/lots/{lot_id}/trail",
    } <= paths


# ---- the durable queue: 202 and jobs, one record or many ----------------------------------------


def test_a_write_is_a_job_answered_at_once(gw: Gateway) -> None:
    before = gw.suite.materials.lot_count()
    body = _wood(quantity=777, unit="g")
    reply = gw.raw.post("/api/pilots/LEU/intakes", json=body, headers=gw.as_("alice"))
    assert reply.status_code == 202, reply.text
    job = reply.json()
    assert job["state"] in ("queued", "sent", "confirmed") and job["status_url"].endswith(
        job["job_id"]
    )
    deadline = time.monotonic() + 30
    while (state := gw.raw.get(job["status_url"], headers=gw.as_("alice")).json())[
        "state"
    ] != "confirmed":
        assert time.monotonic() < deadline, state
        time.sleep(0.05)
    assert state["tx_hash"].startswith("0x") and state["block_number"] > 0
    assert gw.suite.materials.lot_count() == before + 1
    assert gw.suite.materials.lot(before + 1).grams == 777  # one record, no {"records": [...]}
    # Jobs are their account's: another account is told there is no such job.
    assert gw.raw.get(job["status_url"], headers=gw.as_("bob")).status_code == 404
    assert gw.raw.get(job["status_url"]).status_code == 401


def test_a_retry_with_the_key_finds_the_queued_job(gw: Gateway) -> None:
    """The retry of a request whose answer was lost (202, still queued, or confirmed) names the
    same job; nothing is planned or recorded again, however the chain moved in between."""
    before = gw.suite.materials.lot_count()
    headers = {**gw.as_("alice"), "Idempotency-Key": "queued-retry-1"}
    first = gw.raw.post("/api/pilots/LEU/intakes", json=_wood(), headers=headers)
    second = gw.raw.post("/api/pilots/LEU/intakes", json=_wood(), headers=headers)
    assert first.status_code == 202 and second.status_code in (201, 202)
    assert second.json()["job_id"] == first.json()["job_id"]
    assert second.headers.get("Idempotent-Replayed") == "true"
    done = gw.client.post("/api/pilots/LEU/intakes", json=_wood(), headers=headers)
    assert done.status_code == 201 and done.json()["job_id"] == first.json()["job_id"]
    assert gw.suite.materials.lot_count() == before + 1


def test_idempotency_keys_expire(gw: Gateway) -> None:
    headers = {**gw.as_("alice"), "Idempotency-Key": "expiring-key"}
    first = gw.client.post("/api/pilots/LEU/intakes", json=_wood(), headers=headers)
    assert first.status_code == 201
    jobs = gw.store.tables["write_job"]
    with gw.store.engine.begin() as conn:  # a day and a second later
        aged = update(jobs).where(jobs.c.job_id == first.json()["job_id"])
        conn.execute(aged.values(created_at=time.time() - 86_401))
    other = gw.client.post("/api/pilots/LEU/intakes", json=_wood(quantity=3), headers=headers)
    assert other.status_code == 201 and other.json()["job_id"] != first.json()["job_id"]


# ---- /api/relay: signed-in, rate-limited per account, the suite's state-changing calls only -------


def _wire(request: dict[str, Any]) -> dict[str, Any]:
    return {
        **request,
        "data": "0x" + request["data"].hex(),
        "signature": "0x" + request["signature"].hex(),
    }


def test_relay_needs_sign_in_and_takes_only_state_changing_calls(gw: Gateway) -> None:
    wood = gw.suite.manifest.materials["17 02 01"]
    intake = gw.suite.materials.call_data(
        "intake", LEUVEN, wood, int(Source.DONATION), 555, b"\0" * 32
    )
    request = _wire(gw.suite.tx.request_for(gw.bob, intake))
    anonymous = gw.client.post("/api/relay", json={"requests": [request]})
    assert anonymous.status_code == 401
    view = _wire(gw.suite.tx.request_for(gw.bob, gw.suite.materials.call_data("lotCount")))
    refused = gw.client.post("/api/relay", json={"requests": [view]}, headers=gw.as_("bob"))
    assert refused.status_code == 422 and "requests.0.data" in _error_fields(refused)
    # The same signed request twice in one body: it can run once, so the body is refused whole.
    twice = gw.client.post(
        "/api/relay", json={"requests": [request, request]}, headers=gw.as_("bob")
    )
    assert twice.status_code == 422 and "requests.1.signature" in _error_fields(twice)
    before = gw.suite.materials.lot_count()
    ok = gw.client.post("/api/relay", json={"requests": [request]}, headers=gw.as_("bob"))
    assert ok.status_code == 201, ok.text
    assert gw.suite.materials.lot_count() == before + 1


def test_a_request_signed_by_nobody_spends_no_ones_rate_limit(gw: Gateway) -> None:
    """Naming someone as a request's signer must not drain that account's shared bucket: only
    the caller, and signers whose signatures hold, are counted."""
    saved = gw.writes.limiter
    gw.writes.limiter = RateLimiter(gw.store, rate=0.01, burst=1)
    wood = gw.suite.manifest.materials["17 02 01"]
    call = gw.suite.materials.call_data("intake", LEUVEN, wood, int(Source.DONATION), 1, b"\0" * 32)
    try:
        forged = _wire(gw.suite.tx.request_for(Account.create(), call))
        forged["from"] = gw.alice.address  # alice's name, someone else's signature
        refused = gw.client.post(
            "/api/relay", json={"requests": [forged]}, headers=gw.as_("member")
        )
        own = gw.client.post(
            "/api/pilots/LEU/contributions",
            headers=gw.as_("alice"),
            json={"records": [{"kind": "mentoring", "amount": 5}]},
        )
    finally:
        gw.writes.limiter = saved
    assert refused.status_code == 422
    assert own.status_code == 201, own.text


def test_relay_is_rate_limited_per_signed_in_account(gw: Gateway) -> None:
    saved = gw.writes.limiter
    gw.writes.limiter = RateLimiter(gw.store, rate=0.01, burst=1)
    wood = gw.suite.manifest.materials["17 02 01"]
    try:
        replies = []
        for _ in range(2):  # a fresh signing key per post does not reset the account's bucket
            stranger = Account.create()
            call = gw.suite.materials.call_data(
                "intake", LEUVEN, wood, int(Source.DONATION), 1, b"\0" * 32
            )
            request = _wire(gw.suite.tx.request_for(stranger, call))
            replies.append(
                gw.client.post(
                    "/api/relay", json={"requests": [request]}, headers=gw.as_("outsider")
                )
            )
    finally:
        gw.writes.limiter = saved
    assert replies[0].status_code == 422  # not a maker: refused by the simulation, nothing sent
    assert replies[1].status_code == 429
