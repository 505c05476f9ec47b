"""The exchange and the challenge board in headless Chromium, on a gateway over anvil: a maker
lists a lot, a second maker's wanted listing shows it as a match, the second accepts, and the
lot's trail shows the hand-over with the match's evidence; a proposal's document is hashed in the
browser and checked against the hash on chain. People sign in with passkeys (Chromium's virtual
authenticator), each in a browser context of their own."""

from __future__ import annotations

import hashlib
import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from api.main import create_app
from api.passkeys import PasskeyService
from ledger.audit.evidence import check_file
from ledger.vocabulary import Role
from tests.api import test_writes
from tests.api.test_writes import Gateway, _fresh_lot
from tests.conftest import free_port

pytestmark = [pytest.mark.anvil, pytest.mark.slow]

CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
#: The module-scoped gateway on anvil of the write tests, started afresh for this module.
gw = test_writes.gw


@pytest.fixture(scope="module")
def base(gw: Gateway) -> Iterator[str]:
    """The gateway served over HTTP (the browser needs a real server); lifespan off: the write
    service belongs to the gateway fixture."""
    port = free_port()
    # Passkeys take a domain, never an address: the pages are opened at localhost.
    gw.state.passkeys = PasskeyService(gw.state.store, f"http://localhost:{port}")
    server = uvicorn.Server(
        uvicorn.Config(create_app(gw.state), port=port, log_level="warning", lifespan="off")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline, "the gateway did not start"
        time.sleep(0.05)
    yield f"http://localhost:{port}"
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if shutil.which(CHROMIUM) is None:
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs Debian's chromium package")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield chromium
        chromium.close()


@pytest.fixture
def people(browser: Any) -> Iterator[list[Any]]:
    """The pages opened by `_as`; none may have raised a JavaScript error."""
    opened: list[Any] = []
    errors: list[str] = []
    yield opened
    for page in opened:
        errors += page.errors
        page.context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


def _as(browser: Any, people: list[Any], gw: Gateway, base: str, who: str, path: str) -> Any:
    """A browser context of its own for `who`, signed in by a passkey enrolled with a one-time
    code from pilot staff, on `path`."""
    context = browser.new_context()
    page = context.new_page()
    page.errors = []
    page.on("pageerror", lambda exc: page.errors.append(str(exc)))
    page.on("dialog", lambda dialog: dialog.accept(dialog.default_value))
    people.append(page)
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
    address = getattr(gw, who).address
    assert gw.state.passkeys is not None
    code = gw.state.passkeys.issue_code(address, 1, "cli")
    page.goto(f"{base}/enrol?code={code}&lang=en")
    page.wait_for_selector("#lang option:nth-child(6)", state="attached")
    page.click("#enrol-form button[type=submit]")
    page.wait_for_selector("#enrol-result.ok", timeout=30_000)
    page.goto(f"{base}{path}?lang=en")
    page.wait_for_selector("#pilot option", state="attached", timeout=60_000)
    page.wait_for_selector(f"#who:has-text('{address}')", timeout=30_000)
    return page


def _register(page: Any, name: str, lat: float, lon: float) -> None:
    page.wait_for_selector(
        "#org:not(:empty)", timeout=30_000
    )  # (no wait_for_function: the CSP forbids eval)
    if page.is_visible("#organisation"):
        page.fill("#organisation input[name=name]", name)
        page.fill("#organisation input[name=site]", f"{name} workshop")
        page.fill("#organisation input[name=lat]", str(lat))
        page.fill("#organisation input[name=lon]", str(lon))
        page.click("#organisation button[type=submit]")
    page.wait_for_selector("#org:has-text('site')", timeout=30_000)


def test_list_match_accept_and_trail(
    gw: Gateway, base: str, browser: Any, people: list[Any]
) -> None:
    admin = gw.suite.chain.accounts[1]
    gw.suite.registry.set_pilot_role(
        admin, 1, gw.member.address, Role.MAKER
    )  # a second maker with a key here
    gw.writes.role_cache.forget()
    lot = _fresh_lot(gw, 7_000)

    page = _as(browser, people, gw, base, "alice", "/exchange")
    _register(page, "Atelier Alice", 50.8798, 4.7005)
    page.wait_for_selector(
        f"#listing select[name=lot_id] option[value='{lot}']", state="attached", timeout=30_000
    )
    page.select_option("#listing select[name=lot_id]", str(lot))
    page.fill("#listing input[name=quantity]", "7")
    page.click("#listing button[type=submit]")
    page.wait_for_selector("#result.ok:has-text('signature valid: true')", timeout=30_000)
    offer = int(page.inner_text("#result").split("#")[1].split()[0])

    page = _as(browser, people, gw, base, "member", "/exchange")
    _register(page, "Repair Hub", 50.8640, 4.6780)
    page.select_option("#listing select[name=side]", "wanted")
    page.select_option("#listing select[name=material]", "17 02 01")
    page.fill("#listing input[name=quantity]", "5")
    page.fill("#listing input[name=reach_km]", "20")
    page.click("#listing button[type=submit]")
    page.wait_for_selector("#result.ok:has-text('published')", timeout=30_000)
    wanted = int(page.inner_text("#result").split("#")[1].split()[0])
    page.click(f"#mine button[data-matches='{wanted}']")
    accept = f"#candidates button[data-accept='{offer}']"
    page.wait_for_selector(accept, timeout=30_000)
    row = page.locator("#candidates tr", has=page.locator(f"button[data-accept='{offer}']"))
    assert (
        "same EWC code 17 02 01" in row.inner_text()
        and "7 kg offered, 5 kg wanted" in row.inner_text()
    )
    page.click(accept)
    page.wait_for_selector("#result.ok:has-text('handed_over')", timeout=60_000)
    evidence = page.inner_text("#evidence")
    page.wait_for_selector(f"#trail td:has-text('{evidence}')", timeout=60_000)
    assert (
        "transfer"
        in page.locator("#trail tr", has=page.locator(f"td:has-text('{evidence}')")).inner_text()
    )

    match = next(
        m for m in gw.client.get("/api/pilots/LEU/matches").json() if m["available_id"] == offer
    )
    record = gw.client.get(f"/api/matches/{match['id']}/record").json()
    assert (
        "0x" + hashlib.sha256(record["canonical"].encode()).hexdigest()
        == evidence
        == match["record_hash"]
    )
    assert gw.suite.materials.lot(match["received_lot"]).holder == gw.member.address


def test_proposal_document_is_checked_against_its_hash(
    gw: Gateway, base: str, browser: Any, people: list[Any], tmp_path: Path
) -> None:
    page = _as(browser, people, gw, base, "alice", "/challenges")
    page.fill("#challenge input[name=title]", "Benches from reclaimed beams")
    page.fill(
        "#challenge input[name=need]", "Outdoor benches for the city park from reclaimed beams"
    )
    page.fill("#challenge input[name=budget]", "2500")
    page.fill(
        "#challenge input[name=deadline]",
        time.strftime("%Y-%m-%d", time.gmtime(time.time() + 40 * 86_400)),
    )
    page.click("#challenge button[type=submit]")
    page.wait_for_selector("#result.ok:has-text('posted')", timeout=60_000)

    if not gw.writes.roles(1, gw.member.address) & Role.MAKER:
        gw.suite.registry.set_pilot_role(
            gw.suite.chain.accounts[1], 1, gw.member.address, Role.MAKER
        )
        gw.writes.role_cache.forget()
    document = tmp_path / "bench-proposal.pdf"
    document.write_bytes(b"%PDF-1.4 benches: drawings, bill of materials, costs")
    page = _as(browser, people, gw, base, "member", "/challenges")
    page.set_input_files("#proposal input[name=document]", str(document))
    page.click("#proposal button[type=submit]")
    page.wait_for_selector("#proposal-tx", timeout=60_000)
    shown = page.inner_text("#document-hash")
    tx = page.inner_text("#proposal-tx")
    assert shown == "0x" + hashlib.sha256(document.read_bytes()).hexdigest()
    assert check_file(gw.suite, document, tx).matches
    tampered = tmp_path / "tampered.pdf"
    tampered.write_bytes(document.read_bytes() + b" ")
    assert not check_file(gw.suite, tampered, tx).matches

    page = _as(browser, people, gw, base, "alice", "/challenges")  # the owner shortlists it
    page.wait_for_selector("button[data-act=shortlist]", timeout=30_000)
    page.locator("button[data-act=shortlist]").last.click()
    page.wait_for_selector("#result.ok:has-text('shortlist recorded')", timeout=60_000)


def test_dashboard_shows_the_exchange_figures(
    gw: Gateway, base: str, browser: Any, people: list[Any]
) -> None:
    figures = gw.client.get("/api/pilots/LEU/exchange").json()
    assert figures["matches_accepted"] >= 1  # the tests above accepted a match
    page = browser.new_context().new_page()
    page.errors = []
    people.append(page)
    page.goto(f"{base}/?pilot=LEU&lang=en")
    page.wait_for_selector("#exchange [data-metric='Matches accepted']", timeout=60_000)
    assert (
        int(page.inner_text("#exchange [data-metric='Matches accepted']"))
        == figures["matches_accepted"]
    )
    assert int(page.inner_text("#exchange [data-metric='Proposals']")) == figures["proposals"]
    shown = page.inner_text("#exchange [data-metric='Exchanged through matches']")
    assert float(shown.split()[0].replace(",", "")) == pytest.approx(
        figures["kg_exchanged"], abs=0.5
    )
