"""/docs (Swagger UI) and /redoc render in headless Chromium with every request to anything but
the gateway itself refused: their assets are served locally from the pinned npm packages."""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from fastapi.testclient import TestClient

import api.main
from api.main import create_app
from api.state import GatewayState
from ledger.store.db import Store
from pilots.model import Pilot
from tests.api.test_browser import CHROMIUM, FLAGS
from tests.conftest import free_port

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory, pilots: list[Pilot]) -> Iterator[str]:
    store = Store.open(f"sqlite:///{tmp_path_factory.mktemp('docs') / 'index.sqlite'}")
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(GatewayState(store, pilots)), port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline, "the gateway did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="module")
def offline_page(base: str) -> Iterator[tuple[Any, list[str]]]:
    if shutil.which(CHROMIUM) is None:
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs Debian's chromium package")
    from playwright.sync_api import sync_playwright

    refused: list[str] = []

    def only_local(route: Any) -> None:
        if route.request.url.startswith(base):
            route.continue_()
        else:
            refused.append(route.request.url)
            route.abort()

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        context = browser.new_context()
        context.route("**/*", only_local)
        yield context.new_page(), refused
        browser.close()


def test_swagger_ui_renders_without_network(base: str, offline_page: tuple[Any, list[str]]) -> None:
    page, refused = offline_page
    page.goto(f"{base}/docs")
    page.wait_for_selector(".opblock-summary-path", timeout=30_000)
    paths = page.locator(".opblock-summary-path").all_inner_texts()
    assert any("/api/pilots" in p for p in paths)
    assert "LoopLedger gateway" in page.locator(".title").first.inner_text()
    assert refused == []


def test_redoc_renders_without_network(base: str, offline_page: tuple[Any, list[str]]) -> None:
    page, refused = offline_page
    page.goto(f"{base}/redoc")
    page.wait_for_selector("h1", timeout=30_000)
    assert "LoopLedger gateway" in page.locator("h1").first.inner_text()
    page.get_by_text("Chain head, indexed block, lag and follower state").first.wait_for(
        state="attached", timeout=30_000
    )
    assert refused == []


def test_docs_assets_missing_is_a_clear_503(
    monkeypatch: pytest.MonkeyPatch, pilots: list[Pilot], tmp_path: Path
) -> None:
    monkeypatch.setitem(api.main.DOC_ASSETS, "swagger", tmp_path / "nowhere")
    store = Store.open(f"sqlite:///{tmp_path / 'index.sqlite'}")
    reply = TestClient(create_app(GatewayState(store, pilots))).get("/docs")
    assert reply.status_code == 503 and "npm ci" in reply.text
