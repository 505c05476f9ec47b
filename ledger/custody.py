"""Keys the relayer signs with for makers and members who do not sign themselves.

Sources: the encrypted keystore (any deployment) and, on a local development chain only, the demo
scenario's deterministic accounts (:class:`pilots.seed.DemoCustody`). ``holds`` answers without
decrypting anything, so a gateway can refuse a write for an account no key is held for; the
relayer decrypts a key on first use and keeps it in memory.
"""

from __future__ import annotations

import json
import threading
from typing import Protocol, runtime_checkable

from eth_account.signers.local import LocalAccount
from eth_utils import to_checksum_address

from ledger.errors import LedgerError
from ledger.keystore import Keystore

__all__ = ["Custody", "KeyMaker", "KeystoreCustody", "MultiCustody"]


class Custody(Protocol):
    def holds(self, address: str) -> bool: ...

    def key_for(self, address: str) -> LocalAccount | None: ...


@runtime_checkable
class KeyMaker(Protocol):
    """A custody that can take a new key (the gateway onboarding a person)."""

    def create(self, name: str, private_key: bytes | None = None) -> LocalAccount: ...


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

    def holds(self, address: str) -> bool:
        return to_checksum_address(address) in self._names()

    def key_for(self, address: str) -> LocalAccount | None:
        address = to_checksum_address(address)
        with self._lock:
            if address not in self._loaded:
                name = self._names().get(address)
                if name is None:
                    return None
                self._loaded[address] = self.keystore.load(name)
            return self._loaded[address]

    def create(self, name: str, private_key: bytes | None = None) -> LocalAccount:
        """A new key in the keystore under `name` (never overwriting one)."""
        account = self.keystore.create(name, private_key)
        with self._lock:
            self._loaded[account.address] = account
        return account


class MultiCustody:
    def __init__(self, *sources: Custody) -> None:
        self.sources = sources

    def holds(self, address: str) -> bool:
        return any(source.holds(address) for source in self.sources)

    def key_for(self, address: str) -> LocalAccount | None:
        for source in self.sources:
            key = source.key_for(address)
            if key is not None:
                return key
        return None

    def create(self, name: str, private_key: bytes | None = None) -> LocalAccount:
        """A new key in the first source that takes new keys (the keystore)."""
        for source in self.sources:
            if isinstance(source, KeyMaker):
                return source.create(name, private_key)
        raise LedgerError("this gateway holds no keystore to create custodial accounts in")
