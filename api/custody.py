"""Keys the gateway holds for signed-in makers and members who do not sign themselves.

Two sources: the encrypted keystore (any deployment) and, on a local development chain only,
the demo scenario's deterministic accounts. Keys are decrypted on first use and kept in memory.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from typing import Protocol

from eth_account.signers.local import LocalAccount
from eth_utils import to_checksum_address

from ledger.keystore import Keystore
from pilots.model import Pilot
from pilots.seed import demo_account

__all__ = ["Custody", "DemoCustody", "KeystoreCustody", "MultiCustody"]


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
