"""Each role's page in headless Chromium (Playwright) on a system started by `loopledger up` with
the demo scenario: charts show real numbers, a maker logs a record, a member redeems a reward,
an auditor traces a lot and verifies the index."""

from __future__ import annotations

import json
import os
import re
import shutil
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from eth_account import Account

from ledger.chain import ANVIL_MNEMONIC
from tests.conftest import free_port
from tests.pilots.test_up import LOOPLEDGER, _start, _stop, _wait

pytestmark = [pytest.mark.anvil, pytest.mark.slow]

CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


@dataclass
class System:
    base: str
    data: Path
    keys: dict[str, Any]

    def get(self, path: str) -> Any:
        reply = httpx.get(self.base + path, timeout=60)
        assert reply.status_code == 200, reply.text
        return reply.json()


@pytest.fixture(scope="module")
def system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[System]:
    if shutil.which(CHROMIUM) is None:
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs Debian's chromium package")
    data = tmp_path_factory.mktemp("browser") / "data"
    port = free_port()
    process = _start(data, free_port(), port)
    base = f"http://127.0.0.1:{port}"
    try:
        _wait(process, f"{base}/api/health")
        yield System(base, data, json.loads((data / "demo-access.json").read_text()))
    finally:
        _stop(process)


@pytest.fixture(scope="module")
def browser(system: System) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context()
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    yield page
    context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


def _number(text: str) -> float:
    match = re.search(r"-?[\d,]+(\.\d+)?", text)
    assert match, f"no number in {text!r}"
    return float(match.group(0).replace(",", ""))


def test_municipal_dashboard_renders_real_numbers(system: System, page: Any) -> None:
    page.goto(f"{system.base}/?pilot=LEU")
    page.wait_for_selector("#status:has-text('indexed to block')", timeout=60_000)
    summary = system.get("/api/pilots/LEU/summary")
    inflow = page.inner_text("[data-metric='Inflow']")
    assert (
        _number(inflow) == pytest.approx(summary["inflow_kg"], abs=1) and summary["inflow_kg"] > 0
    )
    assert page.locator("#sankey path").count() > 3 and page.locator("#sankey rect").count() > 3
    assert page.locator("#trend *").count() > 3
    assert page.locator("#compare tr").count() == 8  # header + seven pilots
    assert page.get_attribute("#csv", "href").startswith("/api/pilots/LEU/metrics.csv")


def test_maker_logs_an_intake(system: System, page: Any) -> None:
    maker = system.keys["LEU"]["maker"]
    page.goto(f"{system.base}/maker#key={maker['key']}")
    page.wait_for_selector("#who:has-text('signed in as')", timeout=30_000)
    assert maker["address"] in page.inner_text("#who")
    page.select_option("#intake select[name=source]", "municipal_collection")
    page.fill("#intake input[name=quantity]", "3.25")
    page.click("#intake button[type=submit]")
    page.wait_for_selector("#result.ok", timeout=60_000)
    lot = int(re.search(r"new lot #(\d+)", page.inner_text("#result")).group(1))  # type: ignore[union-attr]
    lots = system.get(f"/api/pilots/LEU/lots?holder={maker['address']}&open=true&limit=1000")[
        "data"
    ]
    mine = next(row for row in lots if row["lot_id"] == lot)
    assert mine["grams"] == 3_250 and mine["holder"] == maker["address"]
    assert page.locator(f"#lots td:text-is('{lot}')").count() == 1  # the page lists it too
    # An unbalanced transformation is refused with the reason, and nothing is recorded.
    page.select_option("#transform select[name=in_lot]", str(lot))
    page.fill("#transform input[name=in_qty]", "3")
    page.fill("#transform input[name=out_qty]", "2")
    page.click("#transform button[type=submit]")
    page.wait_for_selector("#result.error", timeout=30_000)
    assert "mass balance" in page.inner_text("#result")
    assert system.get(f"/api/lots/{lot}/trail")["lot"]["grams"] == 3_250


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


def test_member_redeems_a_reward_with_a_receipt(system: System, page: Any) -> None:
    reward = min(system.get("/api/pilots/LEU/rewards?available=true"), key=lambda r: r["cost"])
    member = _richest_member(system, 1, reward["cost"])
    key = subprocess.run(
        [*LOOPLEDGER, "keys", "issue", member, "--data-dir", str(system.data)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    before = system.get(f"/api/accounts/{member}/wallet")["balance"]
    page.goto(f"{system.base}/wallet#key={key}")
    page.wait_for_selector("#who:has-text('signed in as')", timeout=30_000)
    page.wait_for_selector(f"button[data-reward='{reward['reward_id']}']", timeout=30_000)
    assert _number(page.inner_text("#balance")) == before
    page.click(f"button[data-reward='{reward['reward_id']}']")
    assert page.is_visible("#confirm") and str(reward["cost"]) in page.inner_text("#confirm-text")
    page.click("#confirm-yes")
    page.wait_for_selector("#result.ok", timeout=60_000)
    _wait_for_text(page, "#balance", str(before - reward["cost"]))
    page.click("#receipt-link")
    page.wait_for_selector("#receipt.ok", timeout=30_000)
    text = page.inner_text("#receipt")
    assert "Valid redemption" in text and member in text and "Not yet handed over" in text


def test_auditor_traces_a_product_and_verifies(system: System, page: Any) -> None:
    with sqlite3.connect(system.data / "index-anvil.sqlite") as db:
        (lot,) = db.execute("SELECT MAX(lot_id) FROM lot WHERE origin = 'transform'").fetchone()
    # Re-reading the chain needs a signed-in account: any key will do.
    page.goto(f"{system.base}/audit?lot={lot}#key={system.keys['LEU']['maker']['key']}")
    page.wait_for_selector("#trail tr >> nth=1", timeout=30_000)
    assert page.locator("#tree li").count() >= 2  # the product and at least one source
    shares = [_number(t) for t in page.locator("#sources td:nth-child(2)").all_inner_texts()]
    assert sum(shares) == pytest.approx(100, abs=0.05)
    page.click("#verify-form button")
    page.wait_for_selector("#verdict.ok, #verdict.error", timeout=120_000)
    assert "the index matches the chain" in page.inner_text("#verdict")


def _wait_for_text(page: Any, selector: str, text: str, timeout: float = 30.0) -> None:
    """Wait until `selector`'s text is `text`, polled from Python: the pages' CSP forbids the
    string evaluation that Playwright's wait_for_function uses."""
    deadline = time.monotonic() + timeout
    while page.inner_text(selector).strip() != text:
        assert time.monotonic() < deadline, f"{selector}: {page.inner_text(selector)!r} != {text!r}"
        page.wait_for_timeout(100)


def _loopledger(system: System, *args: str, stdin: str | None = None) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOOPLEDGER_")}
    done = subprocess.run(
        [*LOOPLEDGER, *args, "--data-dir", str(system.data)],
        input=stdin,
        capture_output=True,
        text=True,
        check=True,
        env=env,
    )
    return done.stdout.strip()


def test_staff_event_member_checks_in_by_the_qr_link(
    system: System, browser: Any, page: Any
) -> None:
    # Leuven's pilot admin (anvil account 1) is the demo's staff member: an award issuer.
    Account.enable_unaudited_hdwallet_features()
    staff = Account.from_mnemonic(ANVIL_MNEMONIC, account_path="m/44'/60'/0'/0/1")
    _loopledger(system, "keys", "add", "staff-leu", "--import", stdin=staff.key.hex() + "\n")
    staff_key = _loopledger(system, "keys", "issue", staff.address, "--label", "staff")
    page.goto(f"{system.base}/events#key={staff_key}")
    page.wait_for_selector("#who:has-text('signed in as')", timeout=30_000)
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
    phone = browser.new_context().new_page()
    phone.goto(f"{system.base}{link}#key={member['key']}")
    phone.wait_for_selector("#result.ok", timeout=60_000)
    assert _number(phone.inner_text("#points")) == 35
    phone.goto(f"{system.base}/wallet#key={member['key']}")
    _wait_for_text(phone, "#balance", str(before + 35))
    assert "event attendance" in phone.inner_text("#history")
    phone.context.close()

    event = next(e for e in system.get("/api/pilots/LEU/events") if e["event_id"] == event_id)
    assert event["attendance"] == 1
    year = datetime.fromtimestamp(event["opens"] + 86_400 * 20, UTC).year
    attendance = next(
        k
        for k in system.get(f"/api/pilots/LEU/impact?year={year}")["kpis"]
        if k["metric"] == "attendance"
    )
    page.goto(f"{system.base}/impact?pilot=LEU&year={year}")
    page.wait_for_selector("tr[data-metric='attendance'] td.value", timeout=60_000)
    shown = _number(page.inner_text("tr[data-metric='attendance'] td.value"))
    assert shown == attendance["value"] and shown >= 1
    page.wait_for_selector("#compare tr >> nth=7", timeout=60_000)  # header + seven pilots
    assert page.locator("#compare tr").count() == 8
