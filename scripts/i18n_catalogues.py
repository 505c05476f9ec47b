"""Write the pages' message catalogues, api/static/i18n/<language>.json, from
api/i18n/messages.toml (one entry per key with its text in every language).

    python scripts/i18n_catalogues.py           # write the catalogues
    python scripts/i18n_catalogues.py --check   # exit 1 when a written catalogue is out of date
"""

from __future__ import annotations

import json
import re
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ROOT / "api" / "i18n" / "messages.toml"
TARGET = ROOT / "api" / "static" / "i18n"
LANGUAGES = ("en", "nl", "el", "lt", "es", "tr")
PLACEHOLDER = re.compile(r"\{([a-z]+)\}")


class CatalogueError(ValueError):
    """An entry lacks a language or changes the placeholders of the English text."""


def catalogues(messages: dict[str, dict[str, str]]) -> dict[str, dict[str, str]]:
    """One catalogue per language; every key in every language, with the English placeholders."""
    out: dict[str, dict[str, str]] = {lang: {} for lang in LANGUAGES}
    for key, texts in sorted(messages.items()):
        missing = [lang for lang in LANGUAGES if not texts.get(lang)]
        if missing:
            raise CatalogueError(f"{key}: no text in {', '.join(missing)}")
        wanted = sorted(PLACEHOLDER.findall(texts["en"]))
        for lang in LANGUAGES:
            if sorted(PLACEHOLDER.findall(texts[lang])) != wanted:
                raise CatalogueError(f"{key} ({lang}): placeholders must be {wanted}")
            out[lang][key] = texts[lang]
    return out


def render(catalogue: dict[str, str]) -> str:
    return json.dumps(catalogue, ensure_ascii=False, indent=1, sort_keys=True) + "\n"


def main(argv: list[str]) -> int:
    try:
        built = catalogues(tomllib.loads(SOURCE.read_text(encoding="utf-8")))
    except (CatalogueError, tomllib.TOMLDecodeError) as exc:
        print(f"{SOURCE}: {exc}", file=sys.stderr)
        return 1
    stale = []
    for lang, catalogue in built.items():
        path = TARGET / f"{lang}.json"
        text = render(catalogue)
        if "--check" in argv:
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                stale.append(path.name)
        else:
            TARGET.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
    if stale:
        print(
            f"out of date: {', '.join(stale)}: run python scripts/i18n_catalogues.py",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
