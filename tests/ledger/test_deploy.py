"""The deploy manifest: reused on the same chain, refused on another, replaced with --fresh."""

from __future__ import annotations

from pathlib import Path

import pytest

from ledger.build import Artifact
from ledger.chain import MemoryChain
from ledger.deploy import deploy, load_manifest
from ledger.errors import NotDeployed, StaleManifest
from ledger.runtime import dev_admins
from pilots.model import Pilot


def test_second_deploy_on_same_chain_changes_nothing(
    tmp_path: Path, artifacts: dict[str, Artifact], pilots: list[Pilot]
) -> None:
    chain = MemoryChain.start()
    path = tmp_path / "manifest.json"
    first, created = deploy(chain, artifacts, pilots, path, admins=dev_admins(chain, pilots))
    assert created
    head = chain.w3.eth.block_number
    again, created_again = deploy(chain, artifacts, pilots, path)
    assert not created_again
    assert again == first
    assert chain.w3.eth.block_number == head, "a repeated deploy must not send transactions"
    assert load_manifest(path) == first
    assert [p.code for p in first.pilots] == ["LEU", "THE", "PIR", "KAU", "VEN", "SAN", "IST"]
    assert first.materials["20 01 38"] >= 1 and first.materials["P-FURNITURE"] >= 1


def test_manifest_of_another_chain_is_refused_and_fresh_replaces_it(
    tmp_path: Path, artifacts: dict[str, Artifact], pilots: list[Pilot]
) -> None:
    path = tmp_path / "manifest.json"
    deploy(MemoryChain.start(), artifacts, pilots, path)
    before = path.read_text()
    other = MemoryChain.start()
    with pytest.raises(StaleManifest, match="--fresh"):
        deploy(other, artifacts, pilots, path)
    assert path.read_text() == before, "a refused deploy must not touch the manifest"
    manifest, created = deploy(other, artifacts, pilots, path, fresh=True)
    assert created and manifest.genesis_hash == other.genesis_hash
    backups = list(tmp_path.glob("manifest.*.bak.json"))
    assert len(backups) == 1 and backups[0].read_text() == before


def test_changed_contracts_make_the_manifest_stale(
    tmp_path: Path, artifacts: dict[str, Artifact], pilots: list[Pilot]
) -> None:
    chain = MemoryChain.start()
    path = tmp_path / "manifest.json"
    deploy(chain, artifacts, pilots, path)
    changed = dict(artifacts)
    original = artifacts["MaterialLedger"]
    changed["MaterialLedger"] = Artifact(
        original.name,
        original.source,
        original.abi,
        original.bytecode,
        original.runtime_bytecode + "00",
        "",
    )
    with pytest.raises(StaleManifest, match="MaterialLedger differs"):
        deploy(chain, changed, pilots, path)


def test_missing_manifest_says_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(NotDeployed, match="loopledger deploy"):
        load_manifest(tmp_path / "none.json")


def test_a_deployment_without_the_community_programme_is_stale(
    tmp_path: Path, artifacts: dict[str, Artifact], pilots: list[Pilot]
) -> None:
    chain = MemoryChain.start()
    path = tmp_path / "manifest.json"
    manifest, _ = deploy(chain, artifacts, pilots, path)
    older = manifest.model_copy(
        update={
            "addresses": {k: v for k, v in manifest.addresses.items() if k != "CommunityProgramme"}
        }
    )
    older.save(path)
    with pytest.raises(StaleManifest, match=r"has no CommunityProgramme.*deploy --fresh"):
        deploy(chain, artifacts, pilots, path)
