"""Pilot administration through the gateway on anvil: each endpoint refuses the unsigned (401),
callers who are not the pilot's staff (403) and bad input (422), and what it accepts is on chain."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from eth_account.signers.local import LocalAccount
from fastapi.testclient import TestClient

from api.assemble import custody_of, relayer_for, write_service
from api.auth import issue_api_key
from api.main import create_app
from api.passkeys import PasskeyService
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
BASE = "/api/pilots/LEU/admin"


@dataclass
class Gateway:
    client: TestClient
    suite: Suite
    admin: LocalAccount
    maker: LocalAccount
    partner: LocalAccount
    keys: dict[str, str]
    state: GatewayState
    keystore: Keystore

    def as_(self, who: str) -> dict[str, str]:
        return {"X-API-Key": self.keys[who]}

    def roles(self, address: str) -> Role:
        return self.suite.registry.roles_of(LEUVEN, address)

    def now(self) -> int:
        return int(self.suite.chain.w3.eth.get_block("latest")["timestamp"])


@pytest.fixture(scope="module")
def gw(
    tmp_path_factory: pytest.TempPathFactory, artifacts: dict[str, Artifact], pilots: list[Pilot]
) -> Iterator[Gateway]:
    tmp = tmp_path_factory.mktemp("admin")
    chain = AnvilChain.start(anvil_settings(tmp))
    manifest, _ = deploy(
        chain, artifacts, pilots, tmp / "manifest.json", admins=dev_admins(chain, pilots)
    )
    suite = Suite(chain, manifest, artifacts)
    # Leuven's admin is a custodial account of the gateway, as pilot staff are; the maker is not
    # staff, the partner not yet anything.
    admin, maker, partner = (chain.accounts[i] for i in (LEUVEN, 10, 11))
    suite.registry.set_pilot_role(admin, LEUVEN, maker.address, Role.MAKER)
    data = tmp / "data"
    keystore = Keystore(data / "keys", PASSWORD)
    for name, account in (("staff", admin), ("maker", maker)):
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
    state.passkeys = PasskeyService(store, "http://localhost:8000")
    keys = {
        name: issue_api_key(store, a.address, name)
        for name, a in (("staff", admin), ("maker", maker))
    }
    with TestClient(create_app(state)) as client:
        yield Gateway(client, suite, admin, maker, partner, keys, state, keystore)
    stop.set()
    follower.join(timeout=10)
    relaying.join(timeout=10)
    chain.close()


def _fields(reply: Any) -> dict[str, str]:
    return {f["field"]: f["message"] for f in reply.json()["error"].get("fields", [])}


def _refusals(
    gw: Gateway,
    method: str,
    path: str,
    body: Any,
    bad: Any,
    field: str,
    bad_path: str | None = None,
) -> None:
    """401 unsigned, 403 for a maker (not staff), 422 naming `field` for staff with `bad` (sent
    to `bad_path` when the bad input is in the path)."""
    send = gw.client.request
    assert send(method, path, json=body).status_code == 401
    reply = send(method, path, json=body, headers=gw.as_("maker"))
    assert reply.status_code == 403, reply.text
    assert "admin or the operator" in reply.json()["error"]["message"]
    reply = send(method, bad_path or path, json=bad, headers=gw.as_("staff"))
    assert reply.status_code == 422, reply.text
    assert field in _fields(reply) or field in reply.text, reply.text


def test_grant_and_revoke_a_role(gw: Gateway) -> None:
    target = gw.partner.address
    path = f"{BASE}/accounts/{target}/roles/partner"
    _refusals(gw, "PUT", path, None, None, "role", f"{BASE}/accounts/{target}/roles/wizard")
    bad = gw.client.put(f"{BASE}/accounts/0x1234/roles/wizard", headers=gw.as_("staff"))
    assert bad.status_code == 422 and set(_fields(bad)) == {"account", "role"}, bad.text
    assert not gw.roles(target) & Role.PARTNER
    reply = gw.client.put(path, headers=gw.as_("staff"))
    assert reply.status_code == 201, reply.text
    assert reply.json()["tx_hash"].startswith("0x") and reply.json()["indexed"]
    assert gw.roles(target) & Role.PARTNER
    listed = gw.client.get(f"{BASE}/accounts", headers=gw.as_("staff")).json()
    assert listed["may_administer"] and listed["caller"] == gw.admin.address
    row = next(a for a in listed["accounts"] if a["address"] == target)
    assert row["roles"] == ["partner"] and not row["custodial"]
    # Revoking: the maker may not, a role not held is named, the staff's revocation is on chain.
    assert gw.client.delete(path, headers=gw.as_("maker")).status_code == 403
    none = gw.client.delete(f"{BASE}/accounts/{target}/roles/issuer", headers=gw.as_("staff"))
    assert none.status_code == 422 and "does not hold" in _fields(none)["role"]
    reply = gw.client.delete(path, headers=gw.as_("staff"))
    assert reply.status_code == 200, reply.text
    assert not gw.roles(target) & Role.PARTNER
    assert gw.client.put(path, headers=gw.as_("staff")).status_code == 201  # for the rewards


def test_accounts_list_needs_sign_in_and_says_who_is_staff(gw: Gateway) -> None:
    assert gw.client.get(f"{BASE}/accounts").status_code == 401
    mine = gw.client.get(f"{BASE}/accounts", headers=gw.as_("maker")).json()
    assert mine["may_administer"] is False and mine["accounts"] == []  # the list is for staff
    listed = gw.client.get(f"{BASE}/accounts", headers=gw.as_("staff")).json()
    assert listed["may_administer"] is True
    row = next(a for a in listed["accounts"] if a["address"] == gw.maker.address)
    assert "maker" in row["roles"] and row["custodial"]


def test_suspend_and_reactivate_a_maker(gw: Gateway) -> None:
    maker = gw.maker.address
    path = f"{BASE}/makers/{maker}/suspension"
    _refusals(gw, "PUT", path, None, None, "account", f"{BASE}/makers/0x12/suspension")
    not_maker = gw.client.put(
        f"{BASE}/makers/{gw.admin.address}/suspension", headers=gw.as_("staff")
    )
    assert not_maker.status_code == 422 and "not a maker" in _fields(not_maker)["account"]
    assert gw.client.put(path, headers=gw.as_("staff")).status_code == 201
    assert gw.roles(maker) & Role.SUSPENDED
    intake = {"material": "20 01 38", "source": "donation", "quantity": 2, "unit": "kg"}
    refused = gw.client.post("/api/pilots/LEU/intakes", json=intake, headers=gw.as_("maker"))
    assert refused.status_code == 403 and "suspended" in refused.text
    assert gw.client.delete(path, headers=gw.as_("maker")).status_code == 403
    assert gw.client.delete(path, headers=gw.as_("staff")).status_code == 200
    assert not gw.roles(maker) & Role.SUSPENDED
    done = gw.client.post(
        "/api/pilots/LEU/intakes?wait=confirmed", json=intake, headers=gw.as_("maker")
    )
    assert done.status_code == 201, done.text


def test_register_a_product_class(gw: Gateway) -> None:
    path = f"{BASE}/products"
    _refusals(gw, "POST", path, {"code": "P-STOOL"}, {"code": "stool!"}, "code")
    reply = gw.client.post(path, json={"code": "P-STOOL"}, headers=gw.as_("staff"))
    assert reply.status_code == 201, reply.text
    assert reply.json()["material_id"] == gw.suite.registry.material_id("P-STOOL", LEUVEN) > 0
    again = gw.client.post(path, json={"code": "P-STOOL"}, headers=gw.as_("staff"))
    assert again.status_code == 422 and "refuses" in again.text  # simulated: nothing sent


def test_list_and_update_a_reward_through_the_queue(gw: Gateway) -> None:
    partner = gw.partner.address
    if not gw.roles(partner) & Role.PARTNER:
        assert (
            gw.client.put(
                f"{BASE}/accounts/{partner}/roles/partner", headers=gw.as_("staff")
            ).status_code
            == 201
        )
    expiry = gw.now() + 30 * 86_400
    body = {"partner": partner, "cost": 40, "stock": 5, "expiry": expiry}
    bad = {"partner": gw.maker.address, "cost": 0, "stock": 5, "expiry": gw.now() - 10}
    _refusals(gw, "POST", f"{BASE}/rewards", body, bad, "cost")
    refused = gw.client.post(f"{BASE}/rewards", json=bad, headers=gw.as_("staff"))
    assert {"account", "cost", "expiry"} <= set(_fields(refused))
    # Beyond the contract's uint32 stock and uint40 expiry: refused, not a fault of the encoder.
    huge = {**body, "stock": 2**32, "expiry": 2**40}
    beyond = gw.client.post(f"{BASE}/rewards", json=huge, headers=gw.as_("staff"))
    assert beyond.status_code == 422 and {"body.stock", "body.expiry"} <= set(_fields(beyond))
    queued = gw.client.post(f"{BASE}/rewards", json=body, headers=gw.as_("staff"))
    assert queued.status_code == 202, queued.text
    job = queued.json()
    assert job["kind"] == "admin" and job["status_url"] == f"/api/jobs/{job['job_id']}"
    reply = gw.client.post(f"{BASE}/rewards?wait=confirmed", json=body, headers=gw.as_("staff"))
    assert reply.status_code == 201, reply.text
    listed = next(e for e in reply.json()["events"] if e["name"] == "RewardListed")["args"]
    reward_id = int(listed["rewardId"])
    assert gw.suite.catalogue.reward(reward_id).partner == partner
    update = {"stock": 9, "expiry": expiry + 86_400}
    path = f"{BASE}/rewards/{reward_id}?wait=confirmed"
    assert gw.client.patch(path, json=update).status_code == 401
    assert gw.client.patch(path, json=update, headers=gw.as_("maker")).status_code == 403
    minus = gw.client.patch(path, json={"stock": -1, "expiry": 1}, headers=gw.as_("staff"))
    assert minus.status_code == 422
    missing = gw.client.patch(f"{BASE}/rewards/999999", json=update, headers=gw.as_("staff"))
    assert missing.status_code == 404
    done = gw.client.patch(path, json=update, headers=gw.as_("staff"))
    assert done.status_code == 201, done.text
    assert gw.suite.catalogue.reward(reward_id).stock == 9


def test_set_the_award_budget_through_the_queue(gw: Gateway) -> None:
    path = f"{BASE}/budget?wait=indexed"
    _refusals(gw, "PUT", path, {"budget": 777}, {"budget": -5}, "budget")
    beyond = gw.client.put(path, json={"budget": 2**63}, headers=gw.as_("staff"))
    assert beyond.status_code == 422 and "body.budget" in _fields(beyond)  # the index's integers
    reply = gw.client.put(path, json={"budget": 777}, headers=gw.as_("staff"))
    assert reply.status_code == 201, reply.text
    assert gw.suite.token.budget(LEUVEN) == 777
    listed = gw.client.get(f"{BASE}/accounts", headers=gw.as_("staff")).json()
    assert listed["budget"] == 777


def test_onboard_a_maker_as_a_new_custodial_account(gw: Gateway) -> None:
    path = f"{BASE}/accounts"
    _refusals(gw, "POST", path, {"role": "maker"}, {"role": "wizard"}, "role")
    assert gw.keystore.names() == ["maker", "staff"]  # the refused requests left no key behind
    reply = gw.client.post(path, json={"role": "maker"}, headers=gw.as_("staff"))
    assert reply.status_code == 201, reply.text
    made = reply.json()
    assert gw.roles(made["address"]) & Role.MAKER
    assert gw.state.writes is not None and gw.state.writes.custody.holds(made["address"])
    assert made["key_name"] in gw.keystore.names() and made["key_name"].startswith("leu-maker-")
    # The new maker's writes are signed with the key the gateway now holds.
    key = issue_api_key(gw.state.store, made["address"], "new maker")
    intake = {"material": "20 01 38", "source": "donation", "quantity": 1.5, "unit": "kg"}
    done = gw.client.post(
        "/api/pilots/LEU/intakes?wait=confirmed", json=intake, headers={"X-API-Key": key}
    )
    assert done.status_code == 201, done.text
    lot = done.json()["lots"][0]
    assert gw.suite.materials.lot(lot).holder == made["address"]


def test_staff_enrol_only_their_own_pilots_people(gw: Gateway) -> None:
    """An enrolment code is a passkey for the account: Leuven's staff must not get one for
    another pilot's admin, a Leuven admin, or someone with roles in another pilot."""
    kaunas_admin = gw.suite.chain.accounts[4]  # staff of pilot 4, custodial on this gateway
    gw.keystore.create("kaunas-staff", kaunas_admin.key)
    both = gw.suite.chain.accounts[12]  # a maker in Leuven and in Kaunas
    gw.keystore.create("both", both.key)
    gw.suite.registry.set_pilot_role(gw.admin, LEUVEN, both.address, Role.MAKER)
    gw.suite.registry.set_pilot_role(kaunas_admin, 4, both.address, Role.MAKER)
    gw.state.writes.role_cache.forget()
    path = "/api/pilots/LEU/enrolments"
    for target in (kaunas_admin.address, gw.admin.address, both.address):
        refused = gw.client.post(path, json={"address": target}, headers=gw.as_("staff"))
        assert refused.status_code == 403, (target, refused.text)
    own = gw.client.post(path, json={"address": gw.maker.address}, headers=gw.as_("staff"))
    assert own.status_code == 201, own.text
    newcomer = gw.suite.chain.accounts[13]  # a member to be: no role, no points anywhere
    gw.keystore.create("newcomer", newcomer.key)
    fresh = gw.client.post(path, json={"address": newcomer.address}, headers=gw.as_("staff"))
    assert fresh.status_code == 201, fresh.text
    assert (
        gw.client.post(
            path, json={"address": gw.maker.address}, headers=gw.as_("maker")
        ).status_code
        == 403
    )
