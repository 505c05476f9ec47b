"""Keys the gateway holds for signed-in makers and members who do not sign themselves.

Two sources: the encrypted keystore (any deployment) and, on a local development chain only,
the demo scenario's deterministic accounts. Keys are decrypted on first use and kept in memory.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

from eth_account.signers.local import LocalAccount
from eth_utils import to_checksum_address
from sqlalchemy import select

from api.auth import hash_api_key
from ledger.keystore import Keystore
from ledger.store.db import Store
from pilots.model import Pilot
from pilots.seed import demo_account

__all__ = ["Custody", "DemoCustody", "KeystoreCustody", "MultiCustody", "demo_access"]


class Custody(Protocol):
    def key_for(self, address: str) -> LocalAccount | None: ...


class KeystoreCustody:
    """Keys of the keystore, found by the address recorded in each (v3) key file."""

    def __init__(self, keystore: Keystore) -> None:
        self.keystore = keystore
        self._loaded: dict[str, LocalAccount] = {}
        self._lock = threading.Lock()

    def _names(self) -> dict[str, str]:
        names: dict[str, str] = {}
        directory = self.keystore.directory
        if directory.exists():
            for path in directory.glob("*.json"):
                try:
                    names[to_checksum_address("0x" + json.loads(path.read_text())["address"])] = (
                        path.stem
                    )
                except (ValueError, KeyError, json.JSONDecodeError):
                    continue
        return names

    def key_for(self, address: str) -> LocalAccount | None:
        address = to_checksum_address(address)
        with self._lock:
            if address not in self._loaded:
                name = self._names().get(address)
                if name is None:
                    return None
                self._loaded[address] = self.keystore.load(name)
            return self._loaded[address]


class DemoCustody:
    """The demo scenario's makers and members (development chains only)."""

    def __init__(self, seed: int, pilots: Sequence[Pilot]) -> None:
        self.accounts: dict[str, LocalAccount] = {}
        for pilot in pilots:
            for role, count in (
                ("maker", pilot.scenario.makers),
                ("member", pilot.scenario.members),
            ):
                for i in range(count):
                    account = demo_account(seed, pilot, role, i)
                    self.accounts[account.address] = account

    def key_for(self, address: str) -> LocalAccount | None:
        return self.accounts.get(to_checksum_address(address))


class MultiCustody:
    def __init__(self, *sources: Custody) -> None:
        self.sources = sources

    def key_for(self, address: str) -> LocalAccount | None:
        for source in self.sources:
            key = source.key_for(address)
            if key is not None:
                return key
        return None


def demo_access(
    data_dir: Path, store: Store, pilots: Sequence[Pilot], seed: int
) -> dict[str, dict[str, dict[str, str]]]:
    """API keys of the first demo maker and member of each pilot (development chains only).

    Kept in ``demo-access.json`` (owner-only) in the data directory and reused while the store
    still knows them, so bookmarked links keep working across restarts.
    """
    from api.writes import issue_api_key

    path = data_dir / "demo-access.json"
    try:
        saved: dict[str, dict[str, dict[str, str]]] = json.loads(path.read_text())
    except (OSError, ValueError):
        saved = {}
    table = store.tables["api_key"]
    with store.engine.connect() as conn:
        known = set(conn.execute(select(table.c.key_hash)).scalars())
    access: dict[str, dict[str, dict[str, str]]] = {}
    for pilot in pilots:
        access[pilot.code] = {}
        for role in ("maker", "member"):
            account = demo_account(seed, pilot, role, 0)
            entry = saved.get(pilot.code, {}).get(role)
            if (
                entry is None
                or entry.get("address") != account.address
                or hash_api_key(entry["key"]) not in known
            ):
                key = issue_api_key(store, account.address, f"demo {role} of {pilot.code}")
                entry = {"address": account.address, "key": key}
            access[pilot.code][role] = entry
    data_dir.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(access, fh, indent=2)
    tmp.replace(path)
    return access
