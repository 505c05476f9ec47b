"""Redemption claim codes: the secret that makes a redemption the member's, not the receipt's.

A redemption id is public and guessable (``rewardId << 32 | n``), and its receipt is public so
that anyone can check that points were burnt. Handing over the reward needs more: the member
asks for a claim code (shown once in the wallet; only its SHA-256 is kept), and the partner,
signed in, fulfils with that code. A code is single-use and a new one replaces the old.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time

from sqlalchemy import delete, insert, select

from ledger.store.db import Store

__all__ = ["claim_matches", "forget_claim", "issue_claim"]

#: 12 characters of an unambiguous alphabet (~60 bits): typed by a partner from a phone screen.
ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 12


def _hash(code: str) -> str:
    return hashlib.sha256(code.strip().upper().replace("-", "").encode()).hexdigest()


def issue_claim(store: Store, redemption_id: int, member: str) -> str:
    """A new claim code for `redemption_id` (replacing any earlier one), as XXXX-XXXX-XXXX."""
    raw = "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))
    table = store.tables["redemption_claim"]
    with store.engine.begin() as conn:
        conn.execute(delete(table).where(table.c.redemption_id == redemption_id))
        row = {
            "redemption_id": redemption_id,
            "member": member,
            "code_hash": _hash(raw),
            "created_at": int(time.time()),
        }
        conn.execute(insert(table).values(**row))
    return "-".join(raw[i : i + 4] for i in range(0, CODE_LENGTH, 4))


def claim_matches(store: Store, redemption_id: int, code: str) -> bool:
    """Whether `code` is the current claim code of `redemption_id` (compared in constant time)."""
    table = store.tables["redemption_claim"]
    with store.engine.connect() as conn:
        stored = conn.execute(
            select(table.c.code_hash).where(table.c.redemption_id == redemption_id)
        ).scalar_one_or_none()
    return stored is not None and hmac.compare_digest(stored, _hash(code))


def forget_claim(store: Store, redemption_id: int) -> None:
    """Drop the claim code of a fulfilled redemption: it is used."""
    table = store.tables["redemption_claim"]
    with store.engine.begin() as conn:
        conn.execute(delete(table).where(table.c.redemption_id == redemption_id))
