"""Pilot files: the seven validate; a malformed one names the file, the field and the reason."""

from __future__ import annotations

from pathlib import Path

import pytest

from ledger.errors import ConfigError
from pilots.model import PILOT_DIR, load_pilot, load_pilots


def test_seven_pilots_validate() -> None:
    pilots = load_pilots()
    assert [p.city for p in pilots] == [
        "Leuven",
        "Thessaloniki",
        "Piraeus",
        "Kaunas",
        "Venlo",
        "Santander",
        "Istanbul",
    ]
    for pilot in pilots:
        assert pilot.streams and pilot.processes and pilot.rewards
        if pilot.city in ("Kaunas", "Venlo"):
            assert pilot.illustrative
            assert all("illustrative" in s.source_note for s in pilot.streams)


@pytest.mark.parametrize(
    ("old", "new", "field", "reason"),
    [
        ('code = "LEU"', 'code = "leuven"', "code", "String should match pattern"),
        ('ewc = "17 02 01"', 'ewc = "17-02-01"', "streams.0.ewc", "String should match pattern"),
        ("product_yield = 0.65", "product_yield = 0.95", "processes.0", "must not exceed 1"),
        ("cost = 80", "cost = 0", "rewards.0.cost", "greater than 0"),
    ],
)
def test_malformed_pilot_names_file_field_reason(
    tmp_path: Path, old: str, new: str, field: str, reason: str
) -> None:
    text = (PILOT_DIR / "leuven.toml").read_text()
    assert old in text
    bad = tmp_path / "leuven.toml"
    bad.write_text(text.replace(old, new, 1))
    with pytest.raises(ConfigError) as info:
        load_pilot(bad)
    message = str(info.value)
    assert str(bad) in message and field in message and reason in message


def test_not_toml(tmp_path: Path) -> None:
    bad = tmp_path / "x.toml"
    bad.write_text("id = = 1")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_pilot(bad)


def test_duplicate_ids_rejected(tmp_path: Path) -> None:
    for name in ("leuven.toml", "venlo.toml"):
        (tmp_path / name).write_text((PILOT_DIR / "leuven.toml").read_text())
    with pytest.raises(ConfigError, match="duplicate pilot id"):
        load_pilots(tmp_path)
