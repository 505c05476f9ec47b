"""Product passports on anvil: the JSON-LD expands under its own context, provenance shares
equal the auditor's provenance tree, each access level shows what it should (API and browser),
the owner keeps evidence documents, the records verify against the chain, the QR code decodes
(with zxing-cpp, from Chromium's rendering of the served SVG) to the passport's URL, and with a
GS1 company prefix the URL is a Digital Link that this gateway resolves."""

from __future__ import annotations

import hashlib
import shutil
import threading
import time
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
import uvicorn
import zxingcpp
from fastapi.testclient import TestClient
from pyld import jsonld
from sqlalchemy import select

from api.auth import issue_api_key
from api.main import create_app
from api.passkeys import PasskeyService
from api.state import GatewayState
from ledger.audit.gs1 import Identifiers
from tests.api.test_browser import CHROMIUM, FLAGS
from tests.api.test_writes import Gateway, gw  # noqa: F401  (the module-scoped gateway fixture)
from tests.conftest import free_port
from tests.ledger.test_indexer import LEUVEN

pytestmark = pytest.mark.anvil

PRODUCT = 3  # the story's joinery: 8 kg of collected wood and 2 kg of virgin wood, sold
HANDED = 4  # the story's residue: part of it handed to bob
VOCAB = "https://loopledger.eu/passport/"


def _admin_key(gw: Gateway) -> str:  # noqa: F811
    return issue_api_key(gw.store, gw.suite.chain.accounts[LEUVEN].address, "leuven-admin")


def _no_fetching(url: str, options: Any = None) -> Any:
    raise AssertionError(f"the passport's JSON-LD made the processor fetch {url}")


def test_public_passport_is_json_ld_with_the_auditors_provenance(gw: Gateway) -> None:  # noqa: F811
    reply = gw.client.get(f"/api/passports/{PRODUCT}")
    assert reply.status_code == 200, reply.text
    assert reply.headers["content-type"] == "application/ld+json"
    doc = reply.json()
    assert doc["accessLevel"] == "public" and doc["product"]["materialClass"] == "P-JOINERY"
    assert doc["recycledContent"] == 0.8 and doc["pilot"]["code"] == "LEU"
    assert [f["fate"] for f in doc["fates"]] == ["in_use"]
    assert gw.alice.address not in reply.text and gw.alice.address.lower() not in reply.text.lower()
    assert "evidenceDocuments" not in doc and "mass" not in doc
    # The shares are the auditor's provenance tree's, exactly.
    audit = gw.client.get(f"/api/lots/{PRODUCT}/provenance").json()
    assert [(s["lotNumber"], s["share"]) for s in doc["provenance"]] == [
        (s["lot_id"], s["share"]) for s in audit["sources"]
    ]
    assert [s["exactShare"] for s in doc["provenance"]] == ["4/5", "1/5"]
    # JSON-LD: expands under the inline context, fetching nothing, to the passport vocabulary.
    expanded = jsonld.expand(doc, {"documentLoader": _no_fetching})
    (node,) = expanded
    assert node["@type"] == [VOCAB + "ProductPassport"] and node["@id"] == doc["id"]
    assert node[VOCAB + "recycledContent"][0]["@value"] == 0.8
    kept = {k.removeprefix(VOCAB) for k in node}
    assert {"product", "pilot", "maker", "provenance", "fates", "evidence", "verify"} <= kept
    evidence = node[VOCAB + "evidence"]
    assert len(evidence) == len(doc["evidence"]) >= 2


def test_levels_partner_and_owner(gw: Gateway) -> None:  # noqa: F811
    partner = gw.client.get(
        f"/api/passports/{HANDED}", headers={"X-API-Key": _admin_key(gw)}
    ).json()
    assert partner["accessLevel"] == "partner"
    assert partner["maker"]["account"] == gw.alice.address and "evidenceDocuments" not in partner
    (handover,) = partner["handOvers"]
    assert handover["toAccount"] == gw.bob.address and handover["grams"] == 1_000
    public = gw.client.get(f"/api/passports/{HANDED}").json()
    assert "toAccount" not in public["handOvers"][0]
    assert public["handOvers"][0]["to"] == Identifiers(gw.suite.manifest.chain_id).pseudonym(
        gw.bob.address
    )
    owner = gw.client.get(f"/api/passports/{HANDED}", headers=gw.as_("alice")).json()
    assert owner["accessLevel"] == "owner" and owner["evidenceDocuments"] == []
    outsider = gw.client.get(f"/api/passports/{HANDED}", headers=gw.as_("outsider")).json()
    assert outsider["accessLevel"] == "public"
    assert (
        gw.client.get(f"/api/passports/{HANDED}", headers={"X-API-Key": "nope"}).status_code == 401
    )


def _lot_with_document(gw: Gateway, content: bytes) -> int:  # noqa: F811
    evidence = "0x" + hashlib.sha256(content).hexdigest()
    record = {
        "material": "17 02 01",
        "source": "donation",
        "quantity": 3,
        "unit": "kg",
        "evidence": evidence,
    }
    reply = gw.client.post(
        "/api/pilots/LEU/intakes?wait=indexed", json={"records": [record]}, headers=gw.as_("alice")
    )
    assert reply.status_code == 201, reply.text
    return int(reply.json()["lots"][0])


def test_owner_keeps_evidence_documents_and_records_verify(gw: Gateway) -> None:  # noqa: F811
    ticket = b"weigh ticket 2026-11-23: 3.000 kg of pallet wood"
    lot = _lot_with_document(gw, ticket)
    digest = "0x" + hashlib.sha256(ticket).hexdigest()
    url = f"/api/passports/{lot}/evidence/{digest}"
    upload = {"Content-Type": "text/plain", "X-Filename": "ticket.txt"}
    assert (
        gw.client.put(url, content=ticket, headers={**upload, **gw.as_("outsider")}).status_code
        == 403
    )
    assert (
        gw.client.put(url, content=ticket + b"!", headers={**upload, **gw.as_("alice")}).status_code
        == 422
    )
    other = "0x" + hashlib.sha256(b"x").hexdigest()
    refused = gw.client.put(
        f"/api/passports/{lot}/evidence/{other}",
        content=b"x",
        headers={**upload, **gw.as_("alice")},
    )
    assert refused.status_code == 422 and "carries evidence" in refused.text
    assert (
        gw.client.put(url, content=ticket, headers={**upload, **gw.as_("alice")}).status_code == 200
    )
    owner = gw.client.get(f"/api/passports/{lot}", headers=gw.as_("alice")).json()
    assert [(d["sha256"], d["name"]) for d in owner["evidenceDocuments"]] == [
        (digest, "ticket.txt")
    ]
    assert gw.client.get(url, headers=gw.as_("alice")).content == ticket
    assert gw.client.get(url).status_code == 401
    verdict = gw.client.get(f"/api/passports/{lot}/verify").json()
    assert verdict["verified"] is True and [c["record"] for c in verdict["checks"]] == ["intake"]


def test_verify_finds_a_tampered_index(gw: Gateway) -> None:  # noqa: F811
    lot = _lot_with_document(gw, b"another ticket")
    table = gw.store.tables["intake"]
    with gw.store.engine.begin() as conn:
        (evidence,) = conn.execute(select(table.c.evidence).where(table.c.lot_id == lot)).one()
        conn.execute(table.update().where(table.c.lot_id == lot).values(evidence="0x" + "00" * 32))
    try:
        verdict = gw.client.get(f"/api/passports/{lot}/verify").json()
    finally:
        with gw.store.engine.begin() as conn:
            conn.execute(table.update().where(table.c.lot_id == lot).values(evidence=evidence))
    assert (
        verdict["verified"] is False
        and "the chain records evidence" in verdict["checks"][0]["reason"]
    )


def test_gs1_digital_link_passport(gw: Gateway) -> None:  # noqa: F811
    state = GatewayState(
        gw.store,
        gw.state.pilots,
        gw.writes,
        company_prefix="5412345",
        public_url="https://ledger.example",
    )
    client = TestClient(create_app(state))
    doc = client.get(f"/api/passports/{PRODUCT}").json()
    ids = Identifiers(gw.suite.manifest.chain_id, "5412345")
    joinery = gw.suite.manifest.materials["P-JOINERY"]
    assert (
        doc["id"]
        == f"https://ledger.example/01/{ids.gtin(joinery)}/10/{PRODUCT}"
        == doc["product"]["digitalLink"]
    )
    assert (
        doc["product"]["id"]
        == f"urn:epc:class:lgtin:5412345.{ids.item_reference(joinery)}.{PRODUCT}"
    )
    assert doc["pilot"]["id"] == "urn:epc:id:sgln:5412345.00001.0"
    path = doc["id"].removeprefix("https://ledger.example")
    resolved = client.get(path, headers={"Accept": "application/ld+json"})
    assert resolved.status_code == 200 and resolved.json()["id"] == doc["id"]
    assert "<title>LoopLedger · product passport</title>" in client.get(path).text
    assert client.get(f"/01/{ids.gtin(joinery + 1)}/10/{PRODUCT}").status_code == 404


# ---- in the browser ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def served(gw: Gateway) -> Iterator[str]:  # noqa: F811
    port = free_port()
    base = f"http://localhost:{port}"  # passkeys need a domain
    state = GatewayState(
        gw.store,
        gw.state.pilots,
        gw.writes,
        public_url=base,
        passkeys=PasskeyService(gw.store, base),
    )
    server = uvicorn.Server(uvicorn.Config(create_app(state), port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline, "the gateway did not start"
        time.sleep(0.05)
    yield base
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="module")
def browser(served: str) -> Iterator[Any]:
    if shutil.which(CHROMIUM) is None:
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs Debian's chromium package")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield chromium
        chromium.close()


def _open(browser: Any, url: str, code: str | None = None) -> tuple[Any, Any, list[str]]:
    """The page at `url`, signed in first with a passkey enrolled by `code` when given."""
    context = browser.new_context()
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    if code is not None:
        cdp = context.new_cdp_session(page)
        cdp.send("WebAuthn.enable")
        options = {
            "protocol": "ctap2",
            "transport": "internal",
            "hasResidentKey": True,
            "hasUserVerification": True,
            "isUserVerified": True,
            "automaticPresenceSimulation": True,
        }
        cdp.send("WebAuthn.addVirtualAuthenticator", {"options": options})
        page.goto(url.split("/passport/")[0] + f"/enrol?code={code}&lang=en")
        page.click("#enrol-form button[type=submit]")
        page.wait_for_selector("#enrol-result.ok", timeout=30_000)
    page.goto(url)
    page.wait_for_selector("#level:not(:empty)", timeout=30_000)
    return context, page, errors


def test_three_access_levels_in_the_browser(gw: Gateway, served: str, browser: Any) -> None:  # noqa: F811
    ticket = b"repair log for the passport page"
    lot = _lot_with_document(gw, ticket)
    digest = "0x" + hashlib.sha256(ticket).hexdigest()
    put = gw.client.put(
        f"/api/passports/{lot}/evidence/{digest}",
        content=ticket,
        headers={"X-Filename": "repair-log.txt", **gw.as_("alice")},
    )
    assert put.status_code == 200
    seen: dict[str, tuple[str, str, bool, str]] = {}
    passkeys = PasskeyService(gw.store, served)
    admin = gw.suite.chain.accounts[LEUVEN].address
    people = (
        ("public", None),
        ("partner", passkeys.issue_code(admin, LEUVEN, "test")),
        ("owner", passkeys.issue_code(gw.alice.address, LEUVEN, "test")),
    )
    for who, code in people:
        context, page, errors = _open(browser, f"{served}/passport/{lot}?lang=en", code)
        try:
            documents = page.locator("#documents-section")
            seen[who] = (
                page.locator("#level").inner_text(),
                page.locator(".maker").inner_text(),
                documents.is_visible(),
                documents.inner_text() if documents.is_visible() else "",
            )
            page.click("#verify")
            page.wait_for_selector("#verdict:not(:empty)", timeout=30_000)
            assert page.locator("#verdict").inner_text().startswith("verified"), who
            assert not errors, errors
        finally:
            context.close()
    assert seen["public"][:3] == (
        "public",
        Identifiers(gw.suite.manifest.chain_id).pseudonym(gw.alice.address),
        False,
    )
    assert seen["partner"][:3] == ("partner", gw.alice.address, False)
    assert (
        seen["owner"][:3] == ("owner", gw.alice.address, True)
        and "repair-log.txt" in seen["owner"][3]
    )


def test_qr_code_decodes_to_the_passport_url(served: str, browser: Any) -> None:
    context = browser.new_context()
    page = context.new_page()
    try:
        page.goto(f"{served}/passport/{PRODUCT}")
        # Chromium draws the served SVG on a canvas; zxing-cpp reads the pixels.
        rgba = page.evaluate(
            """async (src) => {
                const img = new Image(); img.src = src; await img.decode();
                const canvas = document.createElement("canvas");
                canvas.width = img.naturalWidth; canvas.height = img.naturalHeight;
                const ctx = canvas.getContext("2d"); ctx.fillStyle = "#fff";
                ctx.fillRect(0, 0, canvas.width, canvas.height); ctx.drawImage(img, 0, 0);
                const data = ctx.getImageData(0, 0, canvas.width, canvas.height);
                return {w: canvas.width, h: canvas.height, px: Array.from(data.data)};
            }""",
            f"{served}/api/passports/{PRODUCT}/qr.svg",
        )
    finally:
        context.close()
    pixels = np.array(rgba["px"], dtype=np.uint8).reshape(rgba["h"], rgba["w"], 4)[:, :, :3]
    (barcode,) = zxingcpp.read_barcodes(np.ascontiguousarray(pixels))
    assert barcode.format == zxingcpp.BarcodeFormat.QRCode
    assert barcode.text == f"{served}/passport/{PRODUCT}"
