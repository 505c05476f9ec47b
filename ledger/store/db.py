"""The SQL store: engine, migrations, and the writes of the indexer's load stage.

SQLite (WAL mode) by default, PostgreSQL through ``LOOPLEDGER_DATABASE_URL``; the same SQLModel
tables and Alembic migrations serve both.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, Table, delete, event, func, select
from sqlalchemy.engine import Connection
from sqlmodel import SQLModel, create_engine

from ledger.errors import ConfigError
from ledger.files import private_file
from ledger.store import models
from ledger.store.rowtuples import tuples_of

__all__ = ["AGG_TABLES", "COLUMNS", "COPY_ROWS", "EVENT_TABLES", "Store", "make_engine"]

MIGRATIONS = Path(__file__).resolve().parent / "migrations"

#: PostgreSQL advisory lock key held while migrating.
MIGRATION_LOCK = 0x4C4F4F50

#: From this many rows on, PostgreSQL inserts go through COPY.
COPY_ROWS = 200

#: Tables filled from logs, in the order rows are inserted (parents first).
EVENT_TABLES: tuple[str, ...] = (
    "pilot",
    "role_change",
    "material_class",
    "pause_change",
    "intake",
    "transformation",
    "transformation_input",
    "transformation_output",
    "transfer",
    "dispatch",
    "contribution",
    "token_award",
    "award_budget",
    "reward",
    "reward_update",
    "redemption",
    "fulfilment",
    "malformed_log",
    "community_event",
    "attendance",
    "skill_credential",
    "hold_period",
    "drop_off_hold",
    "hold_void",
    "hold_release",
)
#: ChallengeBoard tables, after the others.
EVENT_TABLES += ("challenge", "proposal", "proposal_step")

#: Read models the indexer keeps with the rows (``ledger.indexer.aggregates``).
AGG_TABLES = (
    "agg_flow",
    "agg_stock",
    "agg_maker",
    "agg_product",
    "agg_member",
    "agg_lot",
    "agg_reward",
)

#: Column names per table, in the order of the rows the loader takes as tuples.
COLUMNS: dict[str, tuple[str, ...]] = {
    name: tuple(c.name for c in table.columns) for name, table in SQLModel.metadata.tables.items()
}


def make_engine(url: str) -> Engine:
    """An engine for `url`; SQLite files get WAL mode and their directory is created."""
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            # Created owner-only before SQLite opens it; its -wal and -shm files take its mode.
            private_file(Path(path))
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_connection: Any, _: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            # 64 MiB of page cache (default 2 MiB): index pages of a growing store stay in memory.
            cursor.execute("PRAGMA cache_size=-65536")
            cursor.close()

        return engine
    if url.startswith("postgresql"):
        if url.startswith("postgresql://"):
            url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
        return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)
    raise ConfigError(
        f"Unsupported database URL {url!r}: use sqlite:///path or postgresql://user@host/db."
    )


class Store:
    """Reads and writes of the index store."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.tables: dict[str, Table] = {
            name: SQLModel.metadata.tables[name] for name in SQLModel.metadata.tables
        }

    @classmethod
    def open(cls, url: str) -> Store:
        store = cls(make_engine(url))
        store.migrate()
        return store

    def migrate(self) -> None:
        """Bring the schema to the newest migration."""
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        with self.engine.begin() as connection:
            if connection.dialect.name == "postgresql":
                # Processes that start together (the follower, gateway workers) migrate one at
                # a time; the lock ends with the transaction (PostgreSQL's DDL is transactional).
                connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK})")
            config.attributes["connection"] = connection
            command.upgrade(config, "head")

    # ---- reads used by the indexer --------------------------------------------------------------

    def checkpoint(self) -> models.Checkpoint | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(self.tables["checkpoint"])).mappings().first()
        return models.Checkpoint(**row) if row else None

    def stored_blocks(self, below: int, limit: int) -> list[tuple[int, str]]:
        """Stored (number, hash) pairs at or below `below`, newest first."""
        table = self.tables["block"]
        query = select(table.c.number, table.c.hash).where(table.c.number <= below)
        with self.engine.connect() as conn:
            rows = conn.execute(query.order_by(table.c.number.desc()).limit(limit)).all()
        return [(int(n), str(h)) for n, h in rows]

    def lots(self, conn: Connection, lot_ids: Iterable[int]) -> dict[int, dict[str, Any]]:
        """Current rows of the given lots (those that exist), by lot id."""
        ids = sorted(set(lot_ids))
        columns = COLUMNS["lot"]
        key = columns.index("lot_id")
        names = ", ".join(f'"{c}"' for c in columns)
        # Driver level, like the writes below: this runs once per batch over thousands of ids.
        queries: list[tuple[str, tuple[Any, ...]]]
        if conn.dialect.name == "postgresql":
            queries = (
                [(f'SELECT {names} FROM "lot" WHERE "lot_id" = ANY(%s)', (ids,))] if ids else []
            )
        else:
            queries = [
                (
                    f'SELECT {names} FROM "lot" WHERE "lot_id" IN ({", ".join("?" * len(chunk))})',
                    tuple(chunk),
                )
                for chunk in (ids[i : i + 900] for i in range(0, len(ids), 900))
            ]
        found: dict[int, dict[str, Any]] = {}
        for sql, params in queries:
            for row in conn.exec_driver_sql(sql, params):
                found[int(row[key])] = dict(zip(columns, row, strict=True))
        return found

    # ---- writes ---------------------------------------------------------------------------------

    def insert_ignore(self, conn: Connection, name: str, rows: Sequence[Mapping[str, Any]]) -> None:
        """Insert rows, skipping those whose key exists (re-running a range changes nothing)."""
        if rows:
            self.insert_tuples(conn, name, tuples_of(COLUMNS[name], rows))

    def insert_tuples(self, conn: Connection, name: str, rows: Sequence[tuple[Any, ...]]) -> None:
        """`insert_ignore` for rows already given as tuples in `COLUMNS[name]` order."""
        if not rows:
            return
        columns = COLUMNS[name]
        # A plain driver-level executemany: SQLAlchemy's per-row parameter processing costs
        # more than the insert itself at indexing rates (every value here is an int, str or
        # bool the drivers take as is).
        if conn.dialect.name == "postgresql" and len(rows) >= COPY_ROWS:
            self._copy(conn, name, columns, rows, "DO NOTHING")
            return
        names = ", ".join(f'"{c}"' for c in columns)
        if conn.dialect.name == "postgresql":
            values = ", ".join(["%s"] * len(columns))
            sql = f'INSERT INTO "{name}" ({names}) VALUES ({values}) ON CONFLICT DO NOTHING'
        else:
            values = ", ".join(["?"] * len(columns))
            sql = f'INSERT OR IGNORE INTO "{name}" ({names}) VALUES ({values})'
        conn.exec_driver_sql(sql, list(rows))

    @staticmethod
    def _copy(
        conn: Connection,
        name: str,
        columns: Sequence[str],
        rows: Sequence[tuple[Any, ...]],
        on_conflict: str,
    ) -> None:
        """PostgreSQL: COPY into a transaction-local staging table, then one INSERT ... SELECT
        with `on_conflict` for existing keys (COPY alone cannot skip or update them)."""
        names = ", ".join(f'"{c}"' for c in columns)
        stage = f'"stage_{name}"'
        cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        try:
            cursor.execute(
                f'CREATE TEMP TABLE IF NOT EXISTS {stage} (LIKE "{name}") ON COMMIT DELETE ROWS'
            )
            with cursor.copy(f"COPY {stage} ({names}) FROM STDIN") as copy:
                for values in rows:
                    copy.write_row(values)
            cursor.execute(
                f'INSERT INTO "{name}" ({names}) SELECT {names} FROM {stage} ON CONFLICT {on_conflict}'
            )
            cursor.execute(f"DELETE FROM {stage}")
        finally:
            cursor.close()

    def upsert(
        self, conn: Connection, name: str, rows: Sequence[Mapping[str, Any]], key: str
    ) -> None:
        """Insert rows, replacing every other column of an existing key (driver level, as above)."""
        if not rows:
            return
        columns = COLUMNS[name]
        marker = "%s" if conn.dialect.name == "postgresql" else "?"
        names = ", ".join(f'"{c}"' for c in columns)
        values = ", ".join([marker] * len(columns))
        updates = ", ".join(f'"{c}" = excluded."{c}"' for c in columns if c != key)
        on_conflict = f'("{key}") DO UPDATE SET {updates}'
        if conn.dialect.name == "postgresql" and len(rows) >= COPY_ROWS:
            self._copy(conn, name, columns, tuples_of(columns, rows), on_conflict)
            return
        sql = f'INSERT INTO "{name}" ({names}) VALUES ({values}) ON CONFLICT {on_conflict}'
        conn.exec_driver_sql(sql, tuples_of(columns, rows))

    def add_to(
        self, conn: Connection, name: str, parts: Mapping[tuple[Any, ...], Sequence[int]]
    ) -> None:
        """Add `parts` (key columns -> value columns, in the table's order) to an aggregate
        table: missing keys are inserted, existing ones get the values added."""
        if not parts:
            return
        table = self.tables[name]
        keys = [c.name for c in table.primary_key.columns]
        columns = COLUMNS[name]
        values = [c for c in columns if c not in keys]
        if [*keys, *values] != list(columns):
            raise ValueError(f"{name}: key columns must come first")  # a model out of order
        rows = [(*k, *v) for k, v in parts.items()]
        sums = ", ".join(f'"{c}" = "{name}"."{c}" + excluded."{c}"' for c in values)
        on_conflict = f"({', '.join(chr(34) + k + chr(34) for k in keys)}) DO UPDATE SET {sums}"
        if conn.dialect.name == "postgresql" and len(rows) >= COPY_ROWS:
            self._copy(conn, name, columns, rows, on_conflict)
            return
        marker = "%s" if conn.dialect.name == "postgresql" else "?"
        names = ", ".join(f'"{c}"' for c in columns)
        marks = ", ".join([marker] * len(columns))
        conn.exec_driver_sql(
            f'INSERT INTO "{name}" ({names}) VALUES ({marks}) ON CONFLICT {on_conflict}', rows
        )

    def max_block(self, conn: Connection) -> int:
        """The highest stored block number (-1 when none)."""
        table = self.tables["block"]
        found = conn.execute(select(func.max(table.c.number))).scalar()
        return -1 if found is None else int(found)

    # ---- the follower's own account of itself (read by every gateway worker) -------------------

    def follower_state(self) -> models.FollowerState | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(self.tables["follower_state"])).mappings().first()
        return models.FollowerState(**row) if row else None

    def set_follower_state(self, state: models.FollowerState) -> None:
        with self.engine.begin() as conn:
            self.upsert(conn, "follower_state", [state.model_dump()], "id")

    def set_checkpoint(
        self, conn: Connection, chain_id: int, genesis: str, number: int, block_hash: str
    ) -> None:
        self.upsert(
            conn,
            "checkpoint",
            [
                {
                    "id": 1,
                    "chain_id": chain_id,
                    "genesis_hash": genesis,
                    "block_number": number,
                    "block_hash": block_hash,
                }
            ],
            "id",
        )

    def delete_above(self, conn: Connection, block_number: int) -> int:
        """Remove every row of a block above `block_number`; returns how many rows went."""
        removed = 0
        for name in (*reversed(EVENT_TABLES), "block"):
            table = self.tables[name]
            column = table.c.number if name == "block" else table.c.block_number
            removed += conn.execute(delete(table).where(column > block_number)).rowcount or 0
        conn.execute(delete(self.tables["lot"]))
        return removed

    def clear(self) -> None:
        """Drop every indexed row (the schema stays)."""
        with self.engine.begin() as conn:
            for name in (
                *reversed(EVENT_TABLES),
                "block",
                "lot",
                *AGG_TABLES,
                "checkpoint",
                "reorg",
            ):
                conn.execute(delete(self.tables[name]))
