"""Idempotency keys: a write retried with the same key answers what the first one answered.

The key is claimed by inserting a row before anything is sent, so two concurrent requests with one
key cannot both run: the second sees the claim and is told to retry (409). A request that fails
before reaching the chain releases its claim, so it can be corrected and sent again.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from typing import Any

from fastapi import HTTPException
from fastapi.responses import JSONResponse
from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from ledger.store.db import Store

__all__ = ["fingerprint", "idempotent"]

MAX_KEY = 200


def fingerprint(*parts: Any) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


def idempotent(
    store: Store,
    account: str,
    key: str | None,
    request_hash: str,
    run: Callable[[], tuple[int, dict[str, Any]]],
) -> JSONResponse:
    """Run `run` once per (account, key); replay its stored answer afterwards."""
    if key is None:
        status, body = run()
        return JSONResponse(status_code=status, content=body)
    if not 0 < len(key) <= MAX_KEY:
        raise HTTPException(
            status_code=422, detail=f"Idempotency-Key must be 1 to {MAX_KEY} characters"
        )
    table = store.tables["idempotent_request"]
    where = (table.c.account == account) & (table.c.key == key)
    try:
        with store.engine.begin() as conn:
            conn.execute(insert(table).values(account=account, key=key, request_hash=request_hash,
                                              created_at=int(time.time())))  # fmt: skip
    except IntegrityError:
        with store.engine.connect() as conn:
            row = conn.execute(select(table).where(where)).mappings().first()
        if row is None:  # released between our insert and this read
            raise HTTPException(
                status_code=409, detail="this Idempotency-Key is in use; retry"
            ) from None
        if row["request_hash"] != request_hash:
            raise HTTPException(
                status_code=422,
                detail="this Idempotency-Key was used for a different request: use a new key",
            ) from None
        if row["status_code"] is None:
            raise HTTPException(
                status_code=409,
                detail="a request with this Idempotency-Key is still running: retry shortly",
            ) from None
        return JSONResponse(status_code=int(row["status_code"]), content=json.loads(row["response"]),
                            headers={"Idempotent-Replayed": "true"})  # fmt: skip
    try:
        status, body = run()
    except BaseException:
        with store.engine.begin() as conn:
            conn.execute(delete(table).where(where))
        raise
    with store.engine.begin() as conn:
        conn.execute(
            update(table).where(where).values(status_code=status, response=json.dumps(body))
        )
    return JSONResponse(status_code=status, content=body)
