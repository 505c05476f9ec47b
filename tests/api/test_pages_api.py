"""What the pages read: names instead of codes, the data's extent, the audit search, and the
passkey endpoints' refusals (the full ceremonies run in Chromium in test_browser.py)."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from api.main import create_app
from api.passkeys import PasskeyService
from api.state import GatewayState
from ledger.clients import Suite
from ledger.indexer import indexer_for
from ledger.store.db import Store
from pilots.model import Pilot
from tests.ledger.test_indexer import makers, story

ORIGIN = "http://localhost:8000"


@pytest.fixture
def gateway(memory_suite: Suite, pilots: list[Pilot], tmp_path: Path) -> tuple[TestClient, Store]:
    story(memory_suite)
    store = Store.open(f"sqlite:///{tmp_path / 'index.sqlite'}")
    indexer_for(memory_suite, store).run()
    state = GatewayState(store, pilots, passkeys=PasskeyService(store, ORIGIN))
    return TestClient(create_app(state)), store


def test_materials_come_with_their_names(gateway: tuple[TestClient, Store]) -> None:
    client, _ = gateway
    rows = {r["material"]: r for r in client.get("/api/pilots/LEU/materials").json()}
    assert rows["17 02 01"]["name"] == "Reclaimed construction wood"
    assert rows["P-JOINERY"]["name"] == "Reclaimed-timber joinery"
    named = {m["code"]: m["name"] for m in client.get("/api/pilots/LEU/material-names").json()}
    assert named["17 02 01"] == "Reclaimed construction wood" and len(named) > 20


def test_pilots_carry_their_language_and_the_datas_extent(
    gateway: tuple[TestClient, Store],
) -> None:
    client, store = gateway
    body = client.get("/api/pilots").json()
    languages = {p["code"]: p["language"] for p in body["data"]}
    assert languages == {
        "LEU": "nl",
        "THE": "el",
        "PIR": "el",
        "KAU": "lt",
        "VEN": "nl",
        "SAN": "es",
        "IST": "tr",
    }
    with store.engine.connect() as conn:
        stamps = conn.execute(select(store.tables["intake"].c.ts)).scalars().all()
    first = body["extent"]["first"]
    assert first <= body["extent"]["last"] and len(stamps) == 2
    assert first == datetime.fromtimestamp(min(stamps), UTC).date().isoformat()


def test_audit_finds_lots_by_id_product_maker_and_transaction(
    gateway: tuple[TestClient, Store], memory_suite: Suite
) -> None:
    client, store = gateway
    recent = client.get("/api/audit/lots").json()
    assert [(r["lot_id"], r["code"], r["name"]) for r in recent] == [
        (3, "P-JOINERY", "Reclaimed-timber joinery")
    ]
    found = lambda q: {r["lot_id"] for r in client.get("/api/audit/lots", params={"q": q}).json()}  # noqa: E731
    assert found("4") == {4}
    assert found("joinery") == {3} and found("Timber") == {3}
    alice, bob = makers(memory_suite)
    assert {1, 2, 3, 4} <= found(alice.address.lower())
    assert found(bob.address) >= {5}
    with store.engine.connect() as conn:
        (tx,) = conn.execute(select(store.tables["transformation"].c.tx_hash)).one()
    assert found(tx) == {3, 4}
    assert found("no such thing") == set()
    too_long = client.get("/api/audit/lots", params={"q": "x" * 101})
    assert too_long.status_code == 422 and too_long.json()["error"]["fields"]


def _client_data(challenge: str, kind: str) -> str:
    data = {"type": kind, "challenge": challenge, "origin": ORIGIN}
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def test_passkey_enrolment_refuses_unknown_codes_and_bad_credentials(
    gateway: tuple[TestClient, Store], memory_suite: Suite
) -> None:
    client, store = gateway
    unknown = client.post("/api/passkeys/register/options", json={"code": "AAAA-BBBB-CCCC"})
    assert unknown.status_code == 401
    assert "ask the pilot staff for a new one" in unknown.json()["error"]["message"]
    service = client.app.state.gateway.passkeys  # type: ignore[attr-defined]
    member = makers(memory_suite)[0].address
    code = service.issue_code(member, 1, member)
    options = client.post("/api/passkeys/register/options", json={"code": code.lower()}).json()
    assert options["rp"]["id"] == "localhost" and options["user"]["name"] == member
    assert options["authenticatorSelection"]["residentKey"] == "required"
    # A response that is not a passkey's is refused, and the code stays usable.
    forged = {
        "id": "AAAA",
        "rawId": "AAAA",
        "type": "public-key",
        "response": {
            "clientDataJSON": _client_data(options["challenge"], "webauthn.create"),
            "attestationObject": "AAAA",
        },
    }
    refused = client.post("/api/passkeys/register", json={"code": code, "credential": forged})
    assert refused.status_code == 401 and "not accepted" in refused.json()["error"]["message"]
    with store.engine.connect() as conn:
        assert conn.execute(select(store.tables["passkey"])).first() is None
        (used,) = conn.execute(select(store.tables["enrolment_code"].c.used_at)).one()
    assert used is None
    assert "the response is malformed" in refused.json()["error"]["message"]
    # A sign-in challenge does not register a passkey.
    sign_in = client.post("/api/passkeys/sign-in/options").json()["challenge"]
    crossed = {
        **forged,
        "response": {
            **forged["response"],
            "clientDataJSON": _client_data(sign_in, "webauthn.create"),
        },
    }
    again = client.post("/api/passkeys/register", json={"code": code, "credential": crossed})
    assert again.status_code == 401 and "challenge" in again.json()["error"]["message"]


def test_passkey_sign_in_refuses_unknown_challenges_and_sessions(
    gateway: tuple[TestClient, Store],
) -> None:
    client, _ = gateway
    options = client.post("/api/passkeys/sign-in/options").json()
    assert options["rpId"] == "localhost" and options["allowCredentials"] == []
    forged = {
        "id": "AAAA",
        "rawId": "AAAA",
        "type": "public-key",
        "response": {
            "clientDataJSON": _client_data("bm90LWlzc3VlZA", "webauthn.get"),
            "authenticatorData": "AAAA",
            "signature": "AAAA",
        },
    }
    refused = client.post("/api/passkeys/sign-in", json={"credential": forged})
    assert refused.status_code == 401 and "challenge" in refused.json()["error"]["message"]
    issued = {
        **forged,
        "response": {
            **forged["response"],
            "clientDataJSON": _client_data(options["challenge"], "webauthn.get"),
        },
    }
    unknown = client.post("/api/passkeys/sign-in", json={"credential": issued})
    assert unknown.status_code == 401 and "unknown or revoked" in unknown.json()["error"]["message"]
    assert "set-cookie" not in unknown.headers
    out = client.post("/api/passkeys/sign-out", cookies={"loopledger_session": "made-up"})
    assert out.status_code == 204 and 'loopledger_session=""' in out.headers["set-cookie"]
