"""One compiler for forge and Python: identical runtime bytecode for every contract."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from ledger.build import DEPLOYABLE, Artifact, compiler_input, solc_bridge
from ledger.errors import ToolchainError
from ledger.settings import project_root

ROOT = project_root()
FORGE = ROOT / "node_modules" / "@foundry-rs" / "forge-linux-amd64" / "bin" / "forge"


def test_forge_and_py_solc_x_produce_identical_runtime_bytecode(
    artifacts: dict[str, Artifact], tmp_path: Path
) -> None:
    out, cache = tmp_path / "out", tmp_path / "cache"
    subprocess.run(
        [str(FORGE), "build", "--out", str(out), "--cache-path", str(cache), "--skip", "test"],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    compared = 0
    for source in sorted((ROOT / "contracts" / "src").rglob("*.sol")):
        for forge_file in (out / source.name).glob("*.json"):
            forge_artifact = json.loads(forge_file.read_text())
            name = forge_file.stem
            runtime = forge_artifact["deployedBytecode"]["object"]
            assert runtime == artifacts[name].runtime_bytecode, (
                f"{name}: forge and py-solc-x differ"
            )
            compared += 1
    assert set(DEPLOYABLE) <= set(artifacts)
    assert compared >= len(DEPLOYABLE)


def test_bridge_answers_version_like_native_solc() -> None:
    result = subprocess.run(
        [str(solc_bridge()), "--version"], capture_output=True, text=True, check=True
    )
    assert "Version: 0.8." in result.stdout and "+commit." in result.stdout


def test_compiler_input_follows_foundry_toml() -> None:
    settings = compiler_input()["settings"]
    assert settings["viaIR"] is True
    assert settings["optimizer"] == {"enabled": True, "runs": 200}
    assert settings["remappings"] == [
        "@openzeppelin/contracts/=node_modules/@openzeppelin/contracts/"
    ]


def test_missing_node_modules_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ToolchainError, match="npm ci"):
        solc_bridge(tmp_path)
