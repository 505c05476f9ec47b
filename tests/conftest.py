"""Shared fixtures: compiled artifacts, an in-process chain with the suite deployed, anvil on a free port."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from ledger.build import Artifact, build
from ledger.chain import AnvilChain, MemoryChain
from ledger.clients import Suite
from ledger.deploy import deploy
from ledger.runtime import dev_admins
from ledger.settings import Settings, project_root
from pilots.model import Pilot, load_pilots

ROOT = project_root()
BUILD_CACHE = ROOT / "cache" / "loopledger"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def artifacts() -> dict[str, Artifact]:
    return build(ROOT, BUILD_CACHE)


@pytest.fixture(scope="session")
def pilots() -> list[Pilot]:
    return load_pilots()


@pytest.fixture
def memory_suite(
    artifacts: dict[str, Artifact], pilots: list[Pilot], tmp_path: Path
) -> Iterator[Suite]:
    chain = MemoryChain.start()
    manifest, _ = deploy(
        chain, artifacts, pilots, tmp_path / "manifest.json", admins=dev_admins(chain, pilots)
    )
    yield Suite(chain, manifest, artifacts)
    chain.close()


def anvil_settings(data_dir: Path, **extra: object) -> Settings:
    return Settings(chain="anvil", data_dir=data_dir, anvil_port=free_port(), **extra)  # type: ignore[arg-type]


@pytest.fixture
def anvil_chain(tmp_path: Path) -> Iterator[AnvilChain]:
    chain = AnvilChain.start(anvil_settings(tmp_path))
    yield chain
    chain.close()


@pytest.fixture
def anvil_suite(
    anvil_chain: AnvilChain, artifacts: dict[str, Artifact], pilots: list[Pilot], tmp_path: Path
) -> Suite:
    manifest, _ = deploy(
        anvil_chain,
        artifacts,
        pilots,
        tmp_path / "manifest.json",
        admins=dev_admins(anvil_chain, pilots),
    )
    return Suite(anvil_chain, manifest, artifacts)


PG_BIN = Path("/usr/lib/postgresql/15/bin")


def _as_postgres_user(args: list[str]) -> list[str]:
    """PostgreSQL refuses to run as root: run its tools as the `postgres` account then."""
    import os

    return ["runuser", "-u", "postgres", "--", *args] if os.geteuid() == 0 else args


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """A throwaway PostgreSQL cluster on a free loopback port; yields its base URL."""
    import os
    import shutil
    import subprocess
    import tempfile

    if not (PG_BIN / "initdb").exists():
        pytest.fail(
            f"PostgreSQL server binaries are missing in {PG_BIN}: apt-get install postgresql-15"
        )
    # Not under pytest's private temp dir: the postgres account must be able to reach it.
    base = Path(tempfile.mkdtemp(prefix="loopledger-pg-"))
    data = base / "data"
    data.mkdir()
    if os.geteuid() == 0:
        shutil.chown(base, "postgres")
        shutil.chown(data, "postgres")
    port = free_port()
    subprocess.run(
        _as_postgres_user(
            [
                str(PG_BIN / "initdb"),
                "-D",
                str(data),
                "-U",
                "loopledger",
                "--auth=trust",
                "-E",
                "UTF8",
            ]
        ),
        check=True,
        capture_output=True,
    )
    options = (
        f"-p {port} -k {data} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200"
    )
    subprocess.run(
        _as_postgres_user(
            [
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
        ),
        check=True,
        capture_output=True,
    )
    try:
        yield f"postgresql+psycopg://loopledger@127.0.0.1:{port}"
    finally:
        subprocess.run(
            _as_postgres_user([str(PG_BIN / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"]),
            capture_output=True,
        )
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def postgres_url(postgres_server: str) -> str:
    """A fresh database in the throwaway cluster."""
    import uuid

    import psycopg

    name = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(
        postgres_server.replace("+psycopg", "") + "/postgres", autocommit=True
    ) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    return f"{postgres_server}/{name}"


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Each store test runs on SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'index.sqlite'}"
    return str(request.getfixturevalue("postgres_url"))
