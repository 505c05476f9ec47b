"""The Alembic migrations build exactly the schema the SQLModel tables describe."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlmodel import SQLModel

from ledger.store.db import Store


def test_migrations_match_the_models(tmp_path: Path) -> None:
    store = Store.open(f"sqlite:///{tmp_path / 'index.sqlite'}")  # runs every migration
    with store.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": False})
        differences = compare_metadata(context, SQLModel.metadata)
    assert differences == [], differences
