"""A throwaway local PostgreSQL cluster, for tests and benchmarks on one machine.

Uses the PostgreSQL 15 server binaries; as root, the server runs as the ``postgres`` account
(PostgreSQL refuses to run as root).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ledger.errors import ConfigError

__all__ = ["PG_BIN", "create_database", "temporary_cluster"]

PG_BIN = Path("/usr/lib/postgresql/15/bin")


def _as_server_user(args: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *args] if os.geteuid() == 0 else args


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def temporary_cluster() -> Iterator[str]:
    """Start a cluster on a free loopback port; yields its base URL (add ``/dbname``)."""
    if not (PG_BIN / "initdb").exists():
        raise ConfigError(
            f"PostgreSQL server binaries are missing in {PG_BIN}: apt-get install postgresql-15"
        )
    base = Path(tempfile.mkdtemp(prefix="loopledger-pg-"))  # reachable by the postgres account
    data = base / "data"
    data.mkdir()
    if os.geteuid() == 0:
        shutil.chown(base, "postgres")
        shutil.chown(data, "postgres")
    port = _free_port()
    initdb = [
        str(PG_BIN / "initdb"),
        "-D",
        str(data),
        "-U",
        "loopledger",
        "--auth=trust",
        "-E",
        "UTF8",
    ]
    subprocess.run(_as_server_user(initdb), check=True, capture_output=True)
    options = (
        f"-p {port} -k {data} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200"
    )
    start = [
        str(PG_BIN / "pg_ctl"),
        "-D",
        str(data),
        "-w",
        "-o",
        options,
        "-l",
        str(data / "log"),
        "start",
    ]
    subprocess.run(_as_server_user(start), check=True, capture_output=True)
    try:
        yield f"postgresql+psycopg://loopledger@127.0.0.1:{port}"
    finally:
        stop = [str(PG_BIN / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"]
        subprocess.run(_as_server_user(stop), capture_output=True)
        shutil.rmtree(base, ignore_errors=True)


def create_database(server_url: str) -> str:
    """A new, empty database in the cluster; returns its URL."""
    import psycopg

    name = f"db_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server_url.replace("+psycopg", "") + "/postgres", autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    return f"{server_url}/{name}"
