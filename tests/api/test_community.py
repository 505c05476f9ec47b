"""The community programme through the gateway on anvil: events, QR check-in, credentials,
declarations with consent, and the impact KPIs that count them."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from eth_account.signers.local import LocalAccount
from fastapi.testclient import TestClient

from api.assemble import custody_of, relayer_for, write_service
from api.auth import issue_api_key
from api.main import create_app
from api.state import GatewayState
from ledger.build import Artifact
from ledger.chain import AnvilChain
from ledger.clients import Suite
from ledger.deploy import deploy
from ledger.indexer import indexer_for
from ledger.keystore import Keystore
from ledger.runtime import dev_admins
from ledger.store.db import Store
from ledger.vocabulary import Role
from pilots.model import Pilot
from tests.conftest import anvil_settings

pytestmark = pytest.mark.anvil
PASSWORD = "test-keystore-password"
LEUVEN = 1


@dataclass
class Gateway:
    client: TestClient
    suite: Suite
    staff: LocalAccount
    member: LocalAccount
    keys: dict[str, str]

    def as_(self, who: str) -> dict[str, str]:
        return {"X-API-Key": self.keys[who]}


@pytest.fixture(scope="module")
def gw(
    tmp_path_factory: pytest.TempPathFactory, artifacts: dict[str, Artifact], pilots: list[Pilot]
) -> Iterator[Gateway]:
    tmp = tmp_path_factory.mktemp("community")
    chain = AnvilChain.start(anvil_settings(tmp))
    manifest, _ = deploy(
        chain, artifacts, pilots, tmp / "manifest.json", admins=dev_admins(chain, pilots)
    )
    suite = Suite(chain, manifest, artifacts)
    admin, staff, member, other = (chain.accounts[i] for i in (LEUVEN, 10, 11, 12))
    suite.registry.set_pilot_role(admin, LEUVEN, staff.address, Role.ISSUER)
    suite.token.set_budget(admin, LEUVEN, 1_000)
    data = tmp / "data"
    keystore = Keystore(data / "keys", PASSWORD)
    for name, account in (("staff", staff), ("member", member), ("other", other)):
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
    state = GatewayState(store, pilots, writes)
    keys = {
        name: issue_api_key(store, a.address, name)
        for name, a in (("staff", staff), ("member", member), ("other", other))
    }
    with TestClient(create_app(state)) as client:
        yield Gateway(client, suite, staff, member, keys)
    stop.set()
    follower.join(timeout=10)
    relaying.join(timeout=10)
    chain.close()


def _fields(reply: Any) -> dict[str, str]:
    return {f["field"]: f["message"] for f in reply.json()["error"].get("fields", [])}


def _chain_now(gw: Gateway) -> int:
    return int(gw.suite.chain.w3.eth.get_block("latest")["timestamp"])


def _event(gw: Gateway, **extra: Any) -> dict[str, Any]:
    now = _chain_now(gw)
    body = {
        "kind": "training",
        "opens": now - 60,
        "closes": now + 3 * 3600,
        "points": 25,
        "venue": "Makerspace hall",
        **extra,
    }
    reply = gw.client.post("/api/pilots/LEU/events", json=body, headers=gw.as_("staff"))
    assert reply.status_code == 201, reply.text
    return dict(reply.json())


def test_event_qr_check_in_once_and_counted(gw: Gateway) -> None:
    event = _event(gw)
    qr = gw.client.get(f"/api/events/{event['event_id']}/qr", headers=gw.as_("staff"))
    assert qr.status_code == 200, qr.text
    assert qr.json()["url"].startswith("/checkin?t=") and "<svg" in qr.json()["svg"]
    token = qr.json()["token"]
    # Only the event's signer can show its codes.
    assert (
        gw.client.get(f"/api/events/{event['event_id']}/qr", headers=gw.as_("member")).status_code
        == 403
    )
    before = gw.suite.token.balance_of(gw.member.address)
    reply = gw.client.post("/api/checkins", json={"token": token}, headers=gw.as_("member"))
    assert reply.status_code == 201, reply.text
    assert reply.json()["points"] == 25 and reply.json()["indexed"] is True
    assert gw.suite.token.balance_of(gw.member.address) == before + 25
    again = gw.client.post("/api/checkins", json={"token": token}, headers=gw.as_("member"))
    assert again.status_code == 422 and "CommunityAlreadyCheckedIn" in _fields(again)["token"]
    assert gw.suite.token.balance_of(gw.member.address) == before + 25
    wallet = gw.client.get(f"/api/accounts/{gw.member.address}/wallet").json()
    assert any(h["detail"] == "7" and h["points"] == 25 for h in wallet["history"]["data"])
    year = datetime.fromtimestamp(_chain_now(gw), UTC).year
    impact = gw.client.get(f"/api/pilots/LEU/impact?year={year}").json()
    kpis = {k["metric"]: k for k in impact["kpis"]}
    assert kpis["attendance"]["value"] >= 1 and kpis["participants"]["value"] >= 1
    assert kpis["training_hours"]["value"] > 3
    assert kpis["target_group_share"]["value"] is None  # under five people: suppressed
    compared = gw.client.get(f"/api/impact?year={year}").json()
    assert len(compared) == 7
    doc = gw.client.get(f"/api/pilots/LEU/impact.jsonld?year={year}").json()
    assert doc["@type"] == "Dataset" and len(doc["variableMeasured"]) == len(impact["kpis"])
    # A credential for the attendee, verifiable by id.
    issued = gw.client.post(
        "/api/credentials",
        headers=gw.as_("staff"),
        json={
            "event_id": event["event_id"],
            "member": gw.member.address,
            "skill": "WELDING",
            "level": 1,
        },
    )
    assert issued.status_code == 201, issued.text
    got = gw.client.get(f"/api/credentials/{issued.json()['credential_id']}").json()
    assert (got["holder"], got["skill"], got["pilot"]) == (gw.member.address, "WELDING", "Leuven")


def test_bad_tokens_and_non_staff_are_refused(gw: Gateway) -> None:
    reply = gw.client.post("/api/checkins", json={"token": "nonsense"}, headers=gw.as_("member"))
    assert reply.status_code == 422 and "scan" in _fields(reply)["token"]
    event_id = _event(gw, kind="workshop")["event_id"]
    expired = gw.suite.community.sign_check_in(gw.staff, event_id, _chain_now(gw) - 5).encode()
    reply = gw.client.post("/api/checkins", json={"token": expired}, headers=gw.as_("member"))
    assert reply.status_code == 422 and "expired" in _fields(reply)["token"]
    forged = gw.suite.community.sign_check_in(gw.member, event_id, _chain_now(gw) + 60).encode()
    reply = gw.client.post("/api/checkins", json={"token": forged}, headers=gw.as_("member"))
    assert reply.status_code == 422 and "not issued for this event" in _fields(reply)["token"]
    now = _chain_now(gw)
    body = {"kind": "workshop", "opens": now, "closes": now + 60, "points": 5, "venue": "x"}
    refused = gw.client.post("/api/pilots/LEU/events", json=body, headers=gw.as_("member"))
    assert refused.status_code == 403 and "award issuer" in refused.json()["error"]["message"]
    body["closes"] = now - 10
    bad = gw.client.post("/api/pilots/LEU/events", json=body, headers=gw.as_("staff"))
    assert bad.status_code == 422 and "closes" in _fields(bad)


def test_declarations_need_consent_and_known_groups(gw: Gateway) -> None:
    url = "/api/pilots/LEU/declarations"
    body = {"groups": ["women"], "consent": False, "consent_version": "v1"}
    assert gw.client.put(url, json=body, headers=gw.as_("member")).status_code == 422
    body = {"groups": ["pensioners"], "consent": True, "consent_version": "v1"}
    reply = gw.client.put(url, json=body, headers=gw.as_("member"))
    assert reply.status_code == 422 and "does not target" in _fields(reply)["groups"]
    body["groups"] = ["women"]
    assert gw.client.put(url, json=body, headers=gw.as_("member")).status_code == 204
    assert gw.client.delete(url, headers=gw.as_("member")).status_code == 204
    assert gw.client.put(url, json=body).status_code == 401


def test_held_drop_off_points_voided_by_staff_or_released(gw: Gateway) -> None:
    admin = gw.suite.chain.accounts[LEUVEN]
    gw.suite.community.set_hold_period(admin, LEUVEN, 86_400)
    before = gw.suite.token.balance_of(gw.member.address)
    body = {"member": gw.member.address, "points": 40}
    assert (
        gw.client.post("/api/pilots/LEU/holds", json=body, headers=gw.as_("member")).status_code
        == 403
    )
    first = gw.client.post("/api/pilots/LEU/holds", json=body, headers=gw.as_("staff"))
    assert first.status_code == 201, first.text
    hold = first.json()["hold_id"]
    assert gw.suite.token.balance_of(gw.member.address) == before  # held, not spendable
    refused = gw.client.post(
        f"/api/holds/{hold}/void", json={"reason": "SELF"}, headers=gw.as_("member")
    )
    assert refused.status_code == 403
    early = gw.client.post(f"/api/holds/{hold}/release", headers=gw.as_("member"))
    assert early.status_code == 422 and "CommunityHoldNotDue" in _fields(early)["hold_id"]
    voided = gw.client.post(
        f"/api/holds/{hold}/void", json={"reason": "DUPLICATE_TICKET"}, headers=gw.as_("staff")
    )
    assert voided.status_code == 200, voided.text
    gw.suite.community.set_hold_period(admin, LEUVEN, 0)
    second = gw.client.post("/api/pilots/LEU/holds", json=body, headers=gw.as_("staff")).json()[
        "hold_id"
    ]
    released = gw.client.post(f"/api/holds/{second}/release", headers=gw.as_("member"))
    assert released.status_code == 200, released.text
    assert gw.suite.token.balance_of(gw.member.address) == before + 40
    states = {
        h["hold_id"]: (h["state"], h["reason"])
        for h in gw.client.get(f"/api/accounts/{gw.member.address}/holds").json()
    }
    assert states[hold] == ("voided", "DUPLICATE_TICKET") and states[second] == ("released", None)
