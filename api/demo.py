"""Sign-in links of the demo scenario (development chains only)."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path

from sqlalchemy import select

from api.auth import hash_api_key, issue_api_key
from ledger.store.db import Store
from pilots.model import Pilot
from pilots.seed import demo_account

__all__ = ["demo_access"]


def demo_access(
    data_dir: Path, store: Store, pilots: Sequence[Pilot], seed: int
) -> dict[str, dict[str, dict[str, str]]]:
    """API keys of the first demo maker and member of each pilot (development chains only).

    Kept in ``demo-access.json`` (owner-only) in the data directory and reused while the store
    still knows them, so bookmarked links keep working across restarts.
    """
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
