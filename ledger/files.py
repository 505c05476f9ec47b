"""Files of the data directory: owner-only, whoever else shares the machine.

The data directory holds the index store, the deployment manifest, the anvil chain and its log,
the encrypted keystore, the session secret and the demo access keys. It is 0700 and its files
0600: created so (never briefly wider), and tightened when an older, wider one is found.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = [
    "PRIVATE_DIR",
    "PRIVATE_FILE",
    "PRIVATE_UMASK",
    "private_dir",
    "private_file",
    "write_private",
]

PRIVATE_DIR = 0o700
PRIVATE_FILE = 0o600
#: The umask of LoopLedger's processes (and of the anvil they start): nothing for group or others.
PRIVATE_UMASK = 0o077


def private_dir(path: Path) -> Path:
    """`path` as an owner-only directory (created with its parents if missing)."""
    path.mkdir(mode=PRIVATE_DIR, parents=True, exist_ok=True)
    if path.stat().st_mode & 0o777 != PRIVATE_DIR:
        path.chmod(PRIVATE_DIR)
    return path


def private_file(path: Path) -> Path:
    """`path` as an owner-only file: created empty if missing, tightened if wider."""
    private_dir(path.parent)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, PRIVATE_FILE)
    os.close(fd)
    if path.stat().st_mode & 0o777 != PRIVATE_FILE:
        path.chmod(PRIVATE_FILE)
    return path


def write_private(path: Path, data: str | bytes) -> None:
    """Replace `path` atomically with `data`, owner-only from the first byte."""
    private_dir(path.parent)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE_FILE)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data.encode() if isinstance(data, str) else data)
    tmp.replace(path)
