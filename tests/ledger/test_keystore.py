"""The encrypted keystore: round trip, wrong password, no overwrite, and a direct send with it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ledger.clients import Suite
from ledger.keystore import Keystore, KeystoreError
from ledger.vocabulary import Role, Source


def test_round_trip_and_errors(tmp_path: Path) -> None:
    store = Keystore(tmp_path / "keys", "correct horse")
    account = store.create("maker-1")
    stored = (tmp_path / "keys" / "maker-1.json").read_text()
    assert account.key.hex() not in stored and json.loads(stored)["crypto"]["kdf"] == "scrypt"
    assert (tmp_path / "keys" / "maker-1.json").stat().st_mode & 0o077 == 0
    assert store.load("maker-1").address == account.address
    assert store.names() == ["maker-1"]
    with pytest.raises(KeystoreError, match="exists already"):
        store.create("maker-1")
    with pytest.raises(KeystoreError, match="wrong keystore password"):
        Keystore(tmp_path / "keys", "wrong").load("maker-1")
    with pytest.raises(KeystoreError, match="invalid key name"):
        store.create("../escape")


def test_maker_sends_with_a_keystore_key(memory_suite: Suite, tmp_path: Path) -> None:
    funded = memory_suite.chain.accounts[9]
    store = Keystore(tmp_path, "pw")
    store.create("workshop", funded.key)
    maker = store.load("workshop")
    memory_suite.registry.set_pilot_role(
        memory_suite.chain.accounts[1], 1, maker.address, Role.MAKER
    )
    lot = memory_suite.materials.intake(
        maker, 1, memory_suite.manifest.materials["17 02 01"], Source.DONATION, 500
    )
    assert memory_suite.materials.lot(lot.lot_id).holder == maker.address
