"""A match's state changes by one conditional UPDATE: of many concurrent attempts to move it out
of a state, exactly one succeeds (the database serialises the writes to the row)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Table, update
from sqlalchemy.engine import Connection

__all__ = ["STATES", "transition"]

STATES = ("proposed", "accepted", "handed_over", "declined", "expired")


def transition(
    conn: Connection, table: Table, match_id: int, src: str, dst: str, **values: Any
) -> bool:
    """Move match `match_id` from `src` to `dst` (with `values`); False when it is not in `src`."""
    done = conn.execute(
        update(table)
        .where(table.c.id == match_id, table.c.state == src)
        .values(state=dst, **values)
    )
    return done.rowcount == 1
