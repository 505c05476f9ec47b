"""Every response carries the security headers (issue 13), and the pages need nothing the
strict Content-Security-Policy forbids: no inline script or style, nothing from elsewhere."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.main import PAGES, STATIC, create_app
from api.security import CSP
from api.state import GatewayState
from ledger.store.db import Store
from pilots.model import Pilot


@pytest.fixture
def client(pilots: list[Pilot], tmp_path: Path) -> TestClient:
    return TestClient(
        create_app(GatewayState(Store.open(f"sqlite:///{tmp_path / 'i.sqlite'}"), pilots))
    )


PATHS = [
    "/",
    "/wallet",
    "/static/dashboard.js",
    "/api/health",
    "/api/nowhere",
    "/api/pilots/X/summary",
]


@pytest.mark.parametrize("path", PATHS)
def test_every_response_has_the_headers(client: TestClient, path: str) -> None:
    reply = client.get(path)
    assert reply.headers["content-security-policy"] == CSP
    assert "frame-ancestors 'none'" in CSP and "script-src 'self'" in CSP and "unsafe" not in CSP
    assert reply.headers["x-content-type-options"] == "nosniff"
    assert reply.headers["referrer-policy"] == "no-referrer"
    assert reply.headers["x-frame-options"] == "DENY"


def test_pages_hold_no_inline_script_or_style() -> None:
    for name in {*PAGES.values(), *(p.name for p in STATIC.glob("*.html"))}:
        html = (STATIC / name).read_text()
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), f"inline script in {name}"
        assert "<style" not in html and not re.search(r"\sstyle=", html), f"inline style in {name}"
        assert not re.search(r"\son[a-z]+=", html), f"inline event handler in {name}"
        assert not re.search(r"(src|href)=\"(https?:)?//", html), (
            f"a resource from elsewhere in {name}"
        )
    for script in STATIC.glob("*.js"):
        text = script.read_text()
        assert not re.search(r"style=|\beval\(|new Function\(", text), (
            f"{script.name} needs what CSP forbids"
        )
