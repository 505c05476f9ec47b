"""A local encrypted keystore: one Web3 Secret Storage (v3) JSON file per named account.

Keys never leave the machine in clear text: files are encrypted with the keystore password
(``LOOPLEDGER_KEYSTORE_PASSWORD``) and written atomically with owner-only permissions.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

from eth_account import Account
from eth_account.signers.local import LocalAccount

from ledger.errors import ConfigError, LedgerError
from ledger.files import private_dir

__all__ = ["Keystore", "KeystoreError"]

_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")


class KeystoreError(LedgerError):
    """A key cannot be created or opened."""


class Keystore:
    def __init__(self, directory: Path, password: str) -> None:
        if not password:
            raise ConfigError("the keystore needs a password: set LOOPLEDGER_KEYSTORE_PASSWORD")
        self.directory = directory
        self._password = password

    def _path(self, name: str) -> Path:
        if not _NAME.match(name):
            raise KeystoreError(
                f"invalid key name {name!r}: use lowercase letters, digits, '.', '_' or '-'"
            )
        return self.directory / f"{name}.json"

    def create(self, name: str, private_key: bytes | None = None) -> LocalAccount:
        """Store a new (or the given) key under `name`; an existing name is never overwritten."""
        path = self._path(name)
        if path.exists():
            raise KeystoreError(f"a key named {name!r} exists already in {self.directory}")
        account: LocalAccount = Account.from_key(private_key) if private_key else Account.create()
        encrypted = Account.encrypt(account.key, self._password, kdf="scrypt")
        private_dir(self.directory)
        tmp = path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump(encrypted, fh)
        tmp.replace(path)
        return account

    def load(self, name: str) -> LocalAccount:
        path = self._path(name)
        if not path.exists():
            raise KeystoreError(f"no key named {name!r} in {self.directory}: create it first")
        try:
            key = Account.decrypt(json.loads(path.read_text()), self._password)
        except ValueError as exc:
            raise KeystoreError(
                f"cannot open key {name!r}: wrong keystore password or damaged file"
            ) from exc
        account: LocalAccount = Account.from_key(key)
        return account

    def names(self) -> list[str]:
        return (
            sorted(p.stem for p in self.directory.glob("*.json")) if self.directory.exists() else []
        )
