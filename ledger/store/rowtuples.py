"""Rows as value tuples in a table's column order: what the drivers' executemany and COPY take.

Kept apart from the store so the indexer's worker process can use it without the SQL stack.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from operator import itemgetter
from typing import Any

__all__ = ["tuples_of"]


def tuples_of(columns: Sequence[str], rows: Sequence[Mapping[str, Any]]) -> list[tuple[Any, ...]]:
    """Rows as value tuples in column order; a column a row lacks is NULL."""
    getter = itemgetter(*columns)
    try:
        values = [getter(row) for row in rows]
    except KeyError:
        return [tuple(row.get(c) for c in columns) for row in rows]
    return values if len(columns) > 1 else [(v,) for v in values]
