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


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """A throwaway PostgreSQL cluster on a free loopback port; yields its base URL."""
    from ledger.store.pgtemp import temporary_cluster

    with temporary_cluster() as url:
        yield url


@pytest.fixture
def postgres_url(postgres_server: str) -> str:
    """A fresh database in the throwaway cluster."""
    from ledger.store.pgtemp import create_database

    return create_database(postgres_server)


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Each store test runs on SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'index.sqlite'}"
    return str(request.getfixturevalue("postgres_url"))
