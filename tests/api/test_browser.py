"""Each role's page in headless Chromium (Playwright) on a system started by `loopledger up` with
the demo scenario, opened at http://localhost (the passkeys' origin): charts show real numbers,
names instead of codes, the period picker, passkey enrolment and sign-in with Chromium's virtual
authenticator, languages with their number and date formats, a 375-px phone screen, redemption
by keyboard alone, a script in a material code shown as text, and axe-core on every page."""

from __future__ import annotations

import json
import os
import re
import shutil
import sqlite3
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from eth_account import Account
from web3 import HTTPProvider, Web3

from ledger.build import build
from ledger.chain import ANVIL_MNEMONIC, RpcChain, dev_accounts
from ledger.clients import Suite
from ledger.deploy import load_manifest
from pilots.model import load_pilots
from pilots.seed import DemoCustody
from tests.conftest import BUILD_CACHE, ROOT, free_port
from tests.pilots.test_up import LOOPLEDGER, _start, _stop, _wait

pytestmark = [pytest.mark.anvil, pytest.mark.slow]

CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
PAGES = [
    *("/", "/maker", "/wallet", "/audit", "/receipt", "/enrol"),
    *("/impact", "/events", "/exchange", "/challenges", "/credential", "/checkin", "/staff"),
]
#: Records every Content-Security-Policy violation and every call of `f` (the payload's handler).
WATCH = """
window.__csp = [];
document.addEventListener('securitypolicyviolation', (e) => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI));
window.__ran = 0;
window.f = () => { window.__ran += 1; };
"""
#: A material code that is HTML with an event handler, within the 16 bytes of a code.
PAYLOAD = "<svg/onload=f()>"
DEMO_SEED = 2026  # LOOPLEDGER_DEMO_SEED's default, which `loopledger up` seeds with
NL_MONTHS = ["jan", "feb", "mrt", "apr", "mei", "jun", "jul", "aug", "sep", "okt", "nov", "dec"]


@dataclass
class System:
    base: str
    data: Path
    keys: dict[str, Any]
    anvil_port: int

    def get(self, path: str, **headers: str) -> Any:
        reply = httpx.get(self.base + path, headers=headers, timeout=60)
        assert reply.status_code == 200, reply.text
        return reply.json()

    def cli(self, *args: str) -> str:
        done = subprocess.run(
            [*LOOPLEDGER, *args, "--data-dir", str(self.data)],
            capture_output=True,
            text=True,
            check=True,
        )
        return done.stdout.strip()

    def cli_in(self, *args: str, stdin: str) -> str:
        done = subprocess.run(
            [*LOOPLEDGER, *args, "--data-dir", str(self.data)],
            input=stdin,
            capture_output=True,
            text=True,
            check=True,
            env={k: v for k, v in os.environ.items() if not k.startswith("LOOPLEDGER_")},
        )
        return done.stdout.strip()

    def enrolment_code(self, address: str) -> str:
        """A code from the operator's command line (staff enrol only their own pilot's people,
        never staff: the staff page's test takes that path)."""
        return self.cli("keys", "enrol", address, "--pilot", "LEU").splitlines()[0]


@pytest.fixture(scope="module")
def system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[System]:
    if shutil.which(CHROMIUM) is None:
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs Debian's chromium package")
    data = tmp_path_factory.mktemp("browser") / "data"
    port, anvil_port = free_port(), free_port()
    process = _start(data, anvil_port, port)
    base = f"http://localhost:{port}"
    try:
        _wait(process, f"{base}/api/health")
        keys = json.loads((data / "demo-access.json").read_text())
        yield System(base, data, keys, anvil_port)
    finally:
        _stop(process)


@pytest.fixture(scope="module")
def browser(system: System) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield chromium
        chromium.close()


@dataclass
class Tab:
    page: Any
    context: Any
    cdp: Any
    authenticator: str


def _open(browser: Any, width: int = 1280, locale: str = "en-GB") -> Tab:
    context = browser.new_context(viewport={"width": width, "height": 900}, locale=locale)
    context.add_init_script(WATCH)
    page = context.new_page()
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
    added = cdp.send("WebAuthn.addVirtualAuthenticator", {"options": options})
    return Tab(page, context, cdp, added["authenticatorId"])


@pytest.fixture
def tab(browser: Any) -> Iterator[Tab]:
    opened = _open(browser)
    errors: list[str] = []
    opened.page.on("pageerror", lambda exc: errors.append(str(exc)))
    # Console errors but the browser's own notes on 4xx answers, which the pages expect (a
    # visitor not signed in, a refused passkey) and show in their own words.
    opened.page.on(
        "console",
        lambda m: (
            errors.append(m.text)
            if m.type == "error" and not m.text.startswith("Failed to load resource")
            else None
        ),
    )
    yield opened
    csp = opened.page.evaluate("window.__csp")
    opened.context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"
    assert not csp, f"Content-Security-Policy violations: {csp}"


def _loaded(page: Any, path: str) -> None:
    """Wait until the page has drawn its data (each page says so in its own element)."""
    ready = {
        "/": "#compare tbody tr",
        "/maker": "#account p",
        "/wallet": "#rewards li",
        "/audit": "#found tbody tr",
        "/receipt": "#lookup",
        "/enrol": "#enrol-form",
        "/impact": "#compare tbody tr",
        "/events": "#events thead",
        "/exchange": "#matches thead",
        "/challenges": "#board > *",
        "/credential": "#lookup",
        "/checkin": "#result.error",  # no code in the link: the page says what to do
        "/passport": "#level:not(:empty)",
        "/staff": "#staff-status:not(:empty), #admin:not([hidden])",
    }
    key = "/passport" if path.startswith("/passport/") else path.split("?")[0]
    page.wait_for_selector(ready[key], timeout=60_000)
    # (Selectors, not wait_for_function: the pages' CSP forbids evaluating strings.)
    page.wait_for_selector("#lang option:nth-child(6)", state="attached")


def _axe(page: Any) -> list[dict[str, Any]]:
    # Runtime evaluation, not a <script> element: the page's CSP forbids inline scripts.
    page.evaluate(AXE.read_text(encoding="utf-8"))
    violations: list[dict[str, Any]] = page.evaluate(
        """async () => (await axe.run(document, { resultTypes: ['violations'] })).violations
            .map((v) => ({ id: v.id, impact: v.impact, nodes: v.nodes.slice(0, 3).map((n) => n.target.join(' ')) }))"""
    )
    return violations


def _number(text: str) -> float:
    match = re.search(r"-?[\d,]+(\.\d+)?", text)
    assert match, f"no number in {text!r}"
    return float(match.group(0).replace(",", ""))


def _sign_in(system: System, tab: Tab, address: str) -> None:
    """Enrol a passkey for `address` with a code from pilot staff; the page then signs in."""
    code = system.enrolment_code(address)
    tab.page.goto(f"{system.base}/enrol?code={code}&lang=en")
    tab.page.wait_for_selector("#lang option:nth-child(6)", state="attached")
    tab.page.click("#enrol-form button[type=submit]")
    tab.page.wait_for_selector("#enrol-result.ok", timeout=30_000)
    assert address in tab.page.inner_text("#enrol-result")


def _leuven_staff(system: System) -> Any:
    """Leuven's pilot admin (anvil account 1) as a custodial account of the gateway: its key
    goes into the gateway's keystore once, and it signs in with a passkey like everyone."""
    Account.enable_unaudited_hdwallet_features()
    staff = Account.from_mnemonic(ANVIL_MNEMONIC, account_path="m/44'/60'/0'/0/1")
    if not (system.data / "keys" / "staff-leu.json").exists():
        system.cli_in("keys", "add", "staff-leu", "--import", stdin=staff.key.hex() + "\n")
    return staff


def _richest_member(system: System, pilot_id: int, cost: int) -> str:
    with sqlite3.connect(system.data / "index-anvil.sqlite") as db:
        rows = db.execute(
            "SELECT member, SUM(amount) FROM token_award WHERE pilot_id = ? GROUP BY member "
            "ORDER BY 2 DESC",
            (pilot_id,),
        ).fetchall()
    for member, _ in rows:
        if system.get(f"/api/accounts/{member}/wallet")["balance"] >= cost:
            return str(member)
    raise AssertionError(f"no member of pilot {pilot_id} has {cost} points")


# ---- every page: axe-core, the CSP, a phone screen ------------------------------------------------


@pytest.mark.parametrize("width", [1280, 375])
def test_every_page_passes_axe_and_fits_the_screen(
    system: System, browser: Any, width: int
) -> None:
    tab = _open(browser, width=width)
    errors: list[str] = []
    tab.page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        member = system.keys["LEU"]["member"]["address"]
        _sign_in(system, tab, member)  # the wallet and maker pages are checked signed in
        with sqlite3.connect(system.data / "index-anvil.sqlite") as db:
            (product,) = db.execute(
                "SELECT MAX(o.lot_id) FROM transformation_output o JOIN material_class m "
                "ON m.material_id = o.material_id WHERE m.kind = 2"
            ).fetchone()
        for path in [*PAGES, f"/passport/{product}"]:
            tab.page.goto(system.base + path)
            _loaded(tab.page, path)
            assert _axe(tab.page) == [], path
            overflow = tab.page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
            assert overflow <= 0, f"{path} scrolls sideways by {overflow} px at {width} px"
            assert tab.page.evaluate("window.__csp") == [], path
    finally:
        tab.context.close()
    assert not errors, errors


# ---- names and numbers ------------------------------------------------------------------------------


def test_municipal_dashboard_renders_real_numbers_and_names(system: System, tab: Tab) -> None:
    page = tab.page
    page.goto(f"{system.base}/?pilot=LEU&lang=en")
    page.wait_for_selector("#status:has-text('indexed to block')", timeout=60_000)
    summary = system.get("/api/pilots/LEU/summary")
    inflow = page.inner_text("[data-metric='Inflow']")
    assert (
        _number(inflow) == pytest.approx(summary["inflow_kg"], abs=1) and summary["inflow_kg"] > 0
    )
    assert page.locator("#sankey path").count() > 3 and page.locator("#sankey rect").count() > 3
    assert page.locator("#trend *").count() > 3
    assert page.locator("#compare tbody tr").count() == 7
    assert page.get_attribute("#csv", "href").startswith("/api/pilots/LEU/metrics.csv")
    leuven = load_pilots()[0]
    rows = page.locator("#materials tbody td:first-child").all_inner_texts()
    for stream in leuven.streams:
        assert any(stream.name in r and stream.ewc in r for r in rows), (stream.name, rows)


def test_period_picker_offers_the_datas_extent(system: System, tab: Tab) -> None:
    page = tab.page
    extent = system.get("/api/pilots")["extent"]
    first, last = date.fromisoformat(extent["first"]), date.fromisoformat(extent["last"])
    page.goto(f"{system.base}/?pilot=LEU&lang=en")
    page.wait_for_selector("#status:has-text('indexed to block')", timeout=60_000)
    page.select_option("#period-kind", "quarter")
    quarters = [
        o for o in page.locator("#period-value option").evaluate_all("os => os.map(o => o.value)")
    ]
    assert f"{last.year}-Q{(last.month + 2) // 3}" == quarters[0]
    assert f"{first.year}-Q{(first.month + 2) // 3}" == quarters[-1]
    page.select_option("#period-value", quarters[1])
    page.click("#controls button[type=submit]")
    page.wait_for_selector(f"#status:has-text('{quarters[1]}')", timeout=60_000)
    summary = system.get(f"/api/pilots/LEU/summary?period={quarters[1]}")
    assert _number(page.inner_text("[data-metric='Inflow']")) == pytest.approx(
        summary["inflow_kg"], abs=1
    )
    page.select_option("#period-kind", "month")
    assert (
        page.locator("#period-value option").count()
        == (last.year - first.year) * 12 + last.month - first.month + 1
    )
    page.select_option("#period-kind", "custom")
    assert page.get_attribute("#period-from", "min") == extent["first"]
    assert page.get_attribute("#period-to", "max") == extent["last"]
    page.fill("#period-from", extent["first"])
    page.fill("#period-to", extent["first"])
    page.click("#controls button[type=submit]")
    page.wait_for_selector(f"#status:has-text('{extent['first']}')", timeout=60_000)


def test_language_switch_formats_numbers_and_dates(system: System, tab: Tab) -> None:
    page = tab.page
    page.goto(f"{system.base}/?pilot=LEU")  # Leuven works in Dutch
    page.wait_for_selector("#status:has-text('geïndexeerd')", timeout=60_000)
    assert page.get_attribute("html", "lang") == "nl"
    assert page.locator("header.site nav a[href='/wallet']").inner_text() == "Portemonnee"
    inflow = system.get("/api/pilots/LEU/summary")["inflow_kg"]
    dutch = page.inner_text("[data-metric='Inflow']")
    assert re.fullmatch(r"\d{1,3}(\.\d{3})* kg", dutch), dutch
    assert int(dutch[:-3].replace(".", "")) == pytest.approx(inflow, abs=1)
    decimals = page.locator("#materials tbody td:nth-child(2)").first.inner_text()
    assert re.fullmatch(r"\d{1,3}(\.\d{3})*,\d", decimals), decimals  # decimal comma
    first = date.fromisoformat(system.get("/api/pilots")["extent"]["first"])
    assert f"{first.day} {NL_MONTHS[first.month - 1]} {first.year}" in page.inner_text("#extent")
    page.select_option("#lang", "en")
    page.wait_for_selector("#status:has-text('indexed to block')", timeout=60_000)
    english = page.inner_text("[data-metric='Inflow']")
    assert re.fullmatch(r"\d{1,3}(,\d{3})* kg", english), english
    assert int(english[:-3].replace(",", "")) == pytest.approx(inflow, abs=1)
    decimals = page.locator("#materials tbody td:nth-child(2)").first.inner_text()
    assert re.fullmatch(r"\d{1,3}(,\d{3})*\.\d", decimals), decimals
    assert first.strftime("%-d %b %Y") in page.inner_text("#extent")
    page.select_option("#lang", "el")
    page.wait_for_selector("html[lang='el'] h1", timeout=30_000)
    greek = json.loads((ROOT / "api" / "static" / "i18n" / "el.json").read_text(encoding="utf-8"))
    assert greek["nav.wallet"] in page.inner_text("header.site nav")
    page.goto(f"{system.base}/wallet")  # the choice is kept for the other pages
    page.wait_for_selector("html[lang='el'] h1", timeout=30_000)
    assert page.inner_text("h1") == greek["wallet.title"]


# ---- passkeys ---------------------------------------------------------------------------------------


def test_passkey_enrolment_sign_in_sign_out_and_revocation(system: System, tab: Tab) -> None:
    page, member = tab.page, system.keys["LEU"]["member"]["address"]
    code = system.enrolment_code(member)
    page.goto(f"{system.base}/enrol?code={code}&lang=en")
    assert "code=" not in page.url  # the code leaves the address bar and the history
    device = f"test phone {uuid.uuid4().hex[:6]}"
    page.fill("#device", device)
    page.click("#enrol-form button[type=submit]")
    page.wait_for_selector("#enrol-result.ok", timeout=30_000)
    stored = tab.cdp.send("WebAuthn.getCredentials", {"authenticatorId": tab.authenticator})
    assert [(c["rpId"], c["isResidentCredential"]) for c in stored["credentials"]] == [
        ("localhost", True)
    ]
    cookie = next(c for c in tab.context.cookies() if c["name"] == "loopledger_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict" and cookie["domain"] == "localhost"
    assert "loopledger_session" not in page.evaluate("document.cookie")
    # The code worked once.
    again = httpx.post(
        f"{system.base}/api/passkeys/register/options", json={"code": code}, timeout=30
    )
    assert again.status_code == 401 and "used" in again.json()["error"]["message"]

    page.goto(f"{system.base}/wallet?lang=en")
    page.wait_for_selector("#who", timeout=30_000)
    mine = page.locator("#passkeys li", has_text=device)  # other tests enrol this member too
    assert member in page.inner_text("#who") and mine.count() == 1
    page.click("#signout")
    page.wait_for_selector("#passkey-signin", timeout=30_000)
    assert page.evaluate("fetch('/api/auth/me').then(r => r.status)") == 401
    page.click("#passkey-signin")  # the passkey signs in again, without any code or key
    page.wait_for_selector("#who", timeout=30_000)
    assert member in page.inner_text("#who")
    mine.locator("button[data-credential]").click()  # revoke: its sessions end at once
    page.wait_for_selector("#passkey-signin", timeout=30_000)
    page.click("#passkey-signin")
    page.wait_for_selector("#account-status.error", timeout=30_000)
    assert "revoked" in page.inner_text("#account-status")


# ---- the maker, the member, the auditor -------------------------------------------------------------


def test_maker_logs_an_intake_with_named_materials(system: System, tab: Tab) -> None:
    page, maker = tab.page, system.keys["LEU"]["maker"]
    _sign_in(system, tab, maker["address"])
    page.goto(f"{system.base}/maker?lang=en")
    page.wait_for_selector("#who", timeout=30_000)
    page.wait_for_selector("#intake select[name=material] option", state="attached")
    options = page.locator("#intake select[name=material] option").all_inner_texts()
    assert "Reclaimed construction wood (17 02 01)" in options
    page.select_option("#intake select[name=material]", "17 02 01")
    page.select_option("#intake select[name=source]", "municipal_collection")
    page.fill("#intake input[name=quantity]", "3.25")
    page.click("#intake button[type=submit]")
    page.wait_for_selector("#result.ok", timeout=60_000)
    lot = int(re.search(r"new lots #(\d+)", page.inner_text("#result")).group(1))  # type: ignore[union-attr]
    lots = system.get(f"/api/pilots/LEU/lots?holder={maker['address']}&open=true&limit=1000")[
        "data"
    ]
    mine = next(row for row in lots if row["lot_id"] == lot)
    assert mine["grams"] == 3_250 and mine["holder"] == maker["address"]
    label = page.locator(f"#transform select[name=in_lot] option[value='{lot}']").inner_text()
    assert label == f"#{lot} · Reclaimed construction wood (17 02 01) · 3.3 kg"
    # An unbalanced transformation is refused with the reason, and nothing is recorded.
    page.select_option("#transform select[name=in_lot]", str(lot))
    page.fill("#transform input[name=in_qty]", "3")
    page.fill("#transform input[name=out_qty]", "2")
    page.click("#transform button[type=submit]")
    page.wait_for_selector("#result.error", timeout=30_000)
    assert "mass balance" in page.inner_text("#result")
    assert system.get(f"/api/lots/{lot}/trail")["lot"]["grams"] == 3_250


def test_member_redeems_a_reward_by_keyboard_alone(system: System, tab: Tab) -> None:
    page = tab.page
    reward = min(system.get("/api/pilots/LEU/rewards?available=true"), key=lambda r: r["cost"])
    member = _richest_member(system, 1, reward["cost"])
    before = system.get(f"/api/accounts/{member}/wallet")["balance"]
    _sign_in(system, tab, member)
    page.goto(f"{system.base}/wallet?lang=en")
    card = page.locator(f"li[data-reward-card='{reward['reward_id']}']")
    card.wait_for(timeout=30_000)
    text = card.inner_text()
    assert (
        reward["name"] in text and reward["partner_name"] in text and reward["description"] in text
    )
    assert "valid until" in text
    page.wait_for_selector("#history tbody tr", timeout=30_000)
    whats = page.locator("#history tbody td:nth-child(2)").all_inner_texts()
    assert whats and not any(w.startswith("reason") for w in whats)
    assert all(
        re.match(
            r"(drop-off [\d,]+ kg|workshop|repair café|mentoring|products donated|event attendance"
            r"|redeemed .+)$",
            w,
        )
        for w in whats
    ), whats
    assert _number(page.inner_text("#balance")) == before
    # Keyboard only: Tab to the reward's button, Enter, Enter on the confirmation.
    button = f"button[data-reward='{reward['reward_id']}']"
    for _ in range(200):
        page.keyboard.press("Tab")
        if page.evaluate(f'document.activeElement.matches("{button}")'):
            break
    else:
        raise AssertionError("the redeem button cannot be reached with Tab")
    page.keyboard.press("Enter")
    assert page.is_visible("#confirm") and reward["name"] in page.inner_text("#confirm-text")
    assert page.evaluate("document.activeElement.id") == "confirm-yes"
    page.keyboard.press("Enter")
    page.wait_for_selector("#result.ok", timeout=60_000)
    # The claim code, shown once, is what takes the reward: the receipt alone does not.
    assert re.fullmatch(r"[A-Z0-9]{4}-[A-Z0-9]{4}-[A-Z0-9]{4}", page.inner_text("#claim-code"))
    page.wait_for_selector(
        f"#balance:text-is('{before - reward['cost']:,}')",
        timeout=30_000,
    )
    assert page.evaluate("document.activeElement.id") == "receipt-link"
    assert f"redeemed {reward['name']}" in page.locator("#history tbody tr").first.inner_text()
    page.keyboard.press("Enter")
    page.wait_for_selector("#receipt.ok", timeout=30_000)
    text = page.inner_text("#receipt")
    assert "Valid redemption" in text and member in text and "Not yet handed over" in text
    assert f"of reward {reward['name']}" in text


def test_auditor_finds_recent_products_traces_and_verifies(system: System, tab: Tab) -> None:
    # Re-reading the chain needs a signed-in account: any passkey will do.
    _sign_in(system, tab, system.keys["LEU"]["member"]["address"])
    page = tab.page
    with sqlite3.connect(system.data / "index-anvil.sqlite") as db:
        (lot, tx, maker, code) = db.execute(
            "SELECT o.lot_id, t.tx_hash, t.maker, m.code FROM transformation_output o JOIN transformation t "
            "ON t.transform_id = o.transform_id JOIN material_class m ON m.material_id = o.material_id "
            "WHERE m.kind = 2 ORDER BY o.lot_id DESC LIMIT 1"
        ).fetchone()
    page.goto(f"{system.base}/audit?lang=en")
    page.wait_for_selector("#found tbody tr", timeout=30_000)
    assert page.inner_text("#search-status") == "Recent products"
    first = page.locator("#found tbody tr").first.inner_text()
    assert f"#{lot}" in first and " kg" in first
    for query in (str(lot), tx, maker, code.lower()):
        page.fill("#q", query)
        page.click("#search-form button")
        page.wait_for_selector("#search-status:has-text('found')", timeout=30_000)
        assert page.locator(f"#found button[data-lot='{lot}']").count() == 1, query
    page.click(f"#found button[data-lot='{lot}']")
    page.wait_for_selector("#trail tbody tr", timeout=30_000)
    assert page.locator("#tree li").count() >= 2  # the product and at least one source
    shares = [_number(t) for t in page.locator("#sources td:nth-child(2)").all_inner_texts()]
    assert sum(shares) == pytest.approx(100, abs=0.05)
    page.click("#verify-form button")
    page.wait_for_selector("#verdict.ok, #verdict.error", timeout=120_000)
    assert "the index matches the chain" in page.inner_text("#verdict")


# ---- a script in a material code --------------------------------------------------------------------


def test_a_material_code_holding_html_is_shown_as_text_and_nothing_runs(
    system: System, browser: Any
) -> None:
    # The pilot admin registers the code on chain; a demo maker (through the forwarder, paid by
    # an idle development account) turns some of a lot into it. The gateway's own write path
    # refuses codes that are not in the deployment, so the attacker goes to the chain directly.
    url = f"http://127.0.0.1:{system.anvil_port}"
    # Account 8: funded and idle (0 is the operator, 1-7 the pilots' admins, 9 the gateway's
    # relayer).
    accounts = dev_accounts(9)
    chain = RpcChain(w3=Web3(HTTPProvider(url)), accounts=accounts, url=url)
    manifest = load_manifest(next(system.data.glob("deployment-*.json")))
    suite = Suite(chain, manifest, build(ROOT, BUILD_CACHE), relayer=accounts[8])
    material = suite.registry.material_id(PAYLOAD) or suite.registry.register_product(
        accounts[1], 1, PAYLOAD
    )
    custody = DemoCustody(DEMO_SEED, load_pilots())
    lots = system.get("/api/pilots/LEU/lots?open=true&limit=1000")["data"]
    source = max((r for r in lots if custody.holds(r["holder"])), key=lambda r: r["grams"])
    signer = custody.key_for(source["holder"])
    assert signer is not None
    made = suite.materials.transform(
        signer, [(source["lot_id"], 1000)], [(material, 1000)], 0, relay=True
    )
    product = made.output_lots[0]
    for _ in range(150):  # until the indexer has stored it
        if any(r["lot_id"] == product for r in system.get("/api/audit/lots")):
            break
        time.sleep(0.2)

    tab = _open(browser)
    page = tab.page
    try:
        # The page's own CSP would also stop an inline handler; take it away, so that only the
        # escaping is tested.
        page.route(
            "**/*",
            lambda route: route.fulfill(
                response=(r := route.fetch()),
                headers={
                    k: v for k, v in r.headers.items() if k.lower() != "content-security-policy"
                },
                body=r.body().replace(b'http-equiv="Content-Security-Policy"', b'name="x-csp-off"'),
            ),
        )
        checks = [
            ("/?pilot=LEU&lang=en", "#materials tbody tr", "#materials"),
            ("/audit?lang=en", "#found tbody tr", "#found"),
            (f"/audit?lang=en&lot={product}", "#trail tbody tr", "#found"),
        ]
        for path, ready, where in checks:
            page.goto(system.base + path)
            page.wait_for_selector(ready, timeout=60_000)
            page.wait_for_timeout(300)
            assert PAYLOAD in page.inner_text(where), path
            handlers = page.evaluate(
                "[...document.querySelectorAll('*')].filter(e => [...e.attributes].some(a => a.name.startsWith('on'))).length"
            )
            assert handlers == 0, f"{path}: an element was made from the code"
            assert page.evaluate("window.__ran") == 0, path
        # The same code, put into the page as HTML, does make an element with a handler: the
        # check above would see it.
        page.evaluate(f"document.body.insertAdjacentHTML('beforeend', {json.dumps(PAYLOAD)})")
        assert page.evaluate("document.querySelectorAll('svg[onload]').length") == 1
    finally:
        tab.context.close()


def test_staff_event_member_checks_in_by_the_qr_link(
    system: System, browser: Any, tab: Tab
) -> None:
    # Leuven's pilot admin is the demo's staff member: an award issuer.
    staff = _leuven_staff(system)
    _sign_in(system, tab, staff.address)
    page = tab.page
    page.goto(f"{system.base}/events?lang=en")
    page.wait_for_selector("#who", timeout=30_000)
    # The demo chain's clock is close to, not exactly, the wall clock: open the window widely.
    page.evaluate(
        "() => { const f = document.getElementById('create').elements;"
        " const at = (d) => new Date(Date.now() + d * 86400000 - new Date().getTimezoneOffset() * 60000).toISOString().slice(0, 16);"
        " f.opens.value = at(-20); f.closes.value = at(1); }"
    )
    page.select_option("#create select[name=kind]", "repair_cafe")
    page.fill("#create input[name=points]", "35")
    page.fill("#create input[name=venue]", "Repair café, Leuven")
    page.click("#create button[type=submit]")
    page.wait_for_selector("#result.ok", timeout=60_000)
    event_id = int(page.inner_text("#created"))
    page.wait_for_selector("#qr-svg svg", timeout=30_000)
    link = page.get_attribute("#qr-link", "href")
    assert link.startswith("/checkin?t=")

    member = system.keys["LEU"]["member"]
    before = system.get(f"/api/accounts/{member['address']}/wallet")["balance"]
    mobile = _open(browser, width=375)
    try:
        _sign_in(system, mobile, member["address"])
        phone = mobile.page
        phone.goto(f"{system.base}{link}&lang=en")
        phone.wait_for_selector("#result.ok", timeout=60_000)
        assert _number(phone.inner_text("#points")) == 35
        phone.goto(f"{system.base}/wallet?lang=en")
        phone.wait_for_selector(f"#balance:has-text('{before + 35:,}')", timeout=30_000)
        assert "event attendance" in phone.inner_text("#history")
    finally:
        mobile.context.close()

    event = next(e for e in system.get("/api/pilots/LEU/events") if e["event_id"] == event_id)
    assert event["attendance"] == 1
    year = datetime.fromtimestamp(event["opens"] + 86_400 * 20, UTC).year
    attendance = next(
        k
        for k in system.get(f"/api/pilots/LEU/impact?year={year}")["kpis"]
        if k["metric"] == "attendance"
    )
    page.goto(f"{system.base}/impact?pilot=LEU&year={year}&lang=en")
    page.wait_for_selector("tr[data-metric='attendance'] td.value", timeout=60_000)
    shown = _number(page.inner_text("tr[data-metric='attendance'] td.value"))
    # Other tests' writes may land meanwhile: the page shows the figure of before or after.
    later = next(
        k
        for k in system.get(f"/api/pilots/LEU/impact?year={year}")["kpis"]
        if k["metric"] == "attendance"
    )
    assert shown in (attendance["value"], later["value"]) and shown >= 1
    page.wait_for_selector("#compare tr >> nth=7", timeout=60_000)  # header + seven pilots
    assert page.locator("#compare tr").count() == 8


def test_staff_onboard_a_maker_who_signs_in_and_logs_an_intake(
    system: System, browser: Any, tab: Tab
) -> None:
    staff = _leuven_staff(system)
    _sign_in(system, tab, staff.address)
    page = tab.page
    page.goto(f"{system.base}/staff?pilot=LEU&lang=en")
    page.wait_for_selector("#admin:not([hidden])", timeout=30_000)
    assert _axe(page) == []
    # A new maker: a custodial account, the maker role on chain, a one-time enrolment code.
    page.select_option("#onboard select[name=role]", "maker")
    page.click("#onboard button[type=submit]")
    page.wait_for_selector("#enrol-code", timeout=60_000)
    assert "result ok" in (page.get_attribute("#result", "class") or "")
    found = re.search(r"0x[0-9a-fA-F]{40}", page.inner_text("#onboarded"))
    assert found, page.inner_text("#onboarded")
    maker = found.group(0)
    row = page.locator("#accounts tbody tr", has_text=maker)
    row.wait_for(timeout=30_000)
    assert "maker" in row.inner_text() and "active" in row.inner_text()
    link = page.get_attribute("#enrol-link", "href")
    assert link == f"/enrol?code={page.inner_text('#enrol-code')}"

    # The maker, on their own device: the code makes a passkey, which signs them in.
    device = _open(browser)
    try:
        mine = device.page
        mine.goto(f"{system.base}{link}&lang=en")
        mine.click("#enrol-form button[type=submit]")
        mine.wait_for_selector("#enrol-result.ok", timeout=30_000)
        assert maker in mine.inner_text("#enrol-result")
        mine.goto(f"{system.base}/maker?lang=en")
        mine.wait_for_selector("#who", timeout=30_000)
        assert maker in mine.inner_text("#who") and "maker" in mine.inner_text("#who")
        mine.wait_for_selector("#intake select[name=material] option", state="attached")
        mine.select_option("#intake select[name=material]", "17 02 01")
        mine.select_option("#intake select[name=source]", "donation")
        mine.fill("#intake input[name=quantity]", "4.5")
        mine.click("#intake button[type=submit]")
        mine.wait_for_selector("#result.ok", timeout=60_000)
        lot = int(re.search(r"new lots #(\d+)", mine.inner_text("#result")).group(1))  # type: ignore[union-attr]
        held = system.get(f"/api/pilots/LEU/lots?holder={maker}&open=true&limit=1000")["data"]
        assert [(r["lot_id"], r["grams"]) for r in held] == [(lot, 4_500)]

        # Staff suspend the maker: their next record is refused.
        page.click(f"button[data-suspend='{maker}']")
        page.wait_for_selector("#result.ok", timeout=60_000)
        page.wait_for_selector(
            f"#accounts tbody tr:has-text('{maker}'):has-text('suspended')", timeout=30_000
        )
        mine.fill("#intake input[name=quantity]", "1")
        mine.click("#intake button[type=submit]")
        mine.wait_for_selector("#result.error", timeout=60_000)
        assert "suspended" in mine.inner_text("#result")
    finally:
        device.context.close()
