"""Every string of every page has an entry in every language's catalogue, and the catalogues
written under api/static/i18n are the ones api/i18n/messages.toml gives."""

from __future__ import annotations

import json
import re
import tomllib
from html.parser import HTMLParser
from pathlib import Path

import pytest

from ledger.vocabulary import AwardReason, Fate, Role, Source
from scripts.i18n_catalogues import LANGUAGES, SOURCE, TARGET, CatalogueError, catalogues, main

STATIC = Path(__file__).resolve().parents[2] / "api" / "static"
#: Keys the scripts build from data: every value the gateway can send must have an entry.
DYNAMIC = (
    [f"role.{r.name.lower()}" for r in Role if r.name]
    + [f"source.{s.name.lower()}" for s in Source]
    + [f"fate.{f.name.lower()}" for f in Fate]
    + [f"activity.{a.name.lower()}" for a in AwardReason]
    + ["activity.other", "stock.opening", "stock.closing"]
    + [f"origin.{o}" for o in ("intake", "transform", "transfer")]
    + [
        f"action.{a}"
        for a in (
            "intake",
            "produced_by_transformation",
            "consumed_by_transformation",
            "transfer",
            "dispatch",
        )
    ]
)
#: Symbols that read the same in every language.
UNTRANSLATED = {"kg", "g", "t", "\u2013", "\u00b7"}


def used_keys(html: dict[str, str], scripts: dict[str, str], namespaces: set[str]) -> set[str]:
    """Keys the pages use: data-i18n attributes, t("...") calls and key-like string literals."""
    keys: set[str] = set()
    for text in html.values():
        keys |= set(re.findall(r'data-(?:i18n(?:-[a-z-]+)?|title)="([a-z_]+\.[a-z_]+)"', text))
    for text in scripts.values():
        keys |= set(re.findall(r'\bt\("([a-z_]+\.[a-z_]+)"', text))
        literals = re.findall(r'["`]([a-z_]+\.[a-z_]+)["`]', text)
        keys |= {k for k in literals if k.split(".")[0] in namespaces}
    return keys


class _Text(HTMLParser):
    """Visible text of a page that no data-i18n element holds."""

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[bool] = []
        self.loose: list[str] = []
        self.in_body = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "body":
            self.in_body = True
        if tag in ("meta", "link", "input", "br", "img"):
            return
        marked = any(name == "data-i18n" for name, _ in attrs) or tag in (
            "script",
            "style",
            "title",
        )
        self.stack.append(marked or (bool(self.stack) and self.stack[-1]))

    def handle_endtag(self, tag: str) -> None:
        if tag not in ("meta", "link", "input", "br", "img") and self.stack:
            self.stack.pop()

    def handle_data(self, data: str) -> None:
        text = data.strip()
        if (
            self.in_body
            and text
            and not (self.stack and self.stack[-1])
            and text not in UNTRANSLATED
        ):
            self.loose.append(text)


def _pages() -> tuple[dict[str, str], dict[str, str]]:
    html = {p.name: p.read_text(encoding="utf-8") for p in STATIC.glob("*.html")}
    scripts = {p.name: p.read_text(encoding="utf-8") for p in STATIC.glob("*.js")}
    return html, scripts


def test_the_written_catalogues_are_regenerated_unchanged() -> None:
    assert main(["--check"]) == 0
    english = json.loads((TARGET / "en.json").read_text(encoding="utf-8"))
    assert english["nav.wallet"] == "Wallet" and len(english) > 150


def test_every_page_string_has_an_entry_in_every_catalogue() -> None:
    html, scripts = _pages()
    assert len(html) >= 6
    for lang in LANGUAGES:
        catalogue = json.loads((TARGET / f"{lang}.json").read_text(encoding="utf-8"))
        namespaces = {k.split(".")[0] for k in catalogue}
        missing = (used_keys(html, scripts, namespaces) | set(DYNAMIC)) - set(catalogue)
        assert not missing, f"{lang}: no entry for {sorted(missing)}"


def test_a_page_string_without_an_entry_is_found() -> None:
    html = {"x.html": '<p data-i18n="wallet.nosuchkey">x</p>'}
    scripts = {"x.js": 't("wallet.title"); t("maker.alsomissing");'}
    catalogue = json.loads((TARGET / "en.json").read_text(encoding="utf-8"))
    missing = used_keys(html, scripts, {"wallet"}) - set(catalogue)
    assert missing == {"wallet.nosuchkey", "maker.alsomissing"}


def test_no_page_shows_text_outside_the_catalogues() -> None:
    html, _ = _pages()
    for name, text in html.items():
        parser = _Text()
        parser.feed(text)
        assert parser.loose == [], f"{name}: text without data-i18n: {parser.loose}"


def test_a_language_without_a_text_or_with_other_placeholders_is_refused() -> None:
    messages = tomllib.loads(SOURCE.read_text(encoding="utf-8"))
    broken = {**messages, "x.y": {lang: "n" for lang in LANGUAGES if lang != "tr"}}
    with pytest.raises(CatalogueError, match=r"x\.y: no text in tr"):
        catalogues(broken)
    changed = {**messages, "x.y": {**{lang: "{n} kg" for lang in LANGUAGES}, "lt": "{m} kg"}}
    with pytest.raises(CatalogueError, match=r"x\.y \(lt\): placeholders"):
        catalogues(changed)
