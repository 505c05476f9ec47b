"""Compile the contracts with the same compiler and settings as forge.

The compiler is the npm ``solc`` WASM build behind ``scripts/solc``; the settings (optimizer,
via-IR, EVM version, remappings, metadata hash) are read from ``foundry.toml`` so forge and this
build cannot drift apart. Artifacts are cached in the data directory, keyed by a hash of the
sources and settings.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ledger.errors import ToolchainError
from ledger.settings import project_root

__all__ = ["Artifact", "build", "compiler_input", "solc_bridge"]

#: Contracts that are deployed; the rest are interfaces and libraries.
DEPLOYABLE = (
    "LedgerForwarder",
    "PilotRegistry",
    "MaterialLedger",
    "ContributionLedger",
    "EngagementToken",
    "RewardCatalogue",
    "CommunityProgramme",
    "ChallengeBoard",
)


@dataclass(frozen=True)
class Artifact:
    """What the Python side needs of one compiled contract."""

    name: str
    source: str
    abi: list[dict[str, Any]]
    bytecode: str
    runtime_bytecode: str
    metadata: str

    @property
    def runtime_hash(self) -> str:
        return "0x" + hashlib.sha256(bytes.fromhex(self.runtime_bytecode[2:])).hexdigest()


def solc_bridge(root: Path | None = None) -> Path:
    """Path of the native-style solc command, after checking that it can run."""
    root = root or project_root()
    bridge = root / "scripts" / "solc"
    if shutil.which("node") is None:
        raise ToolchainError(
            "Node.js is not installed: install it (Debian: apt-get install nodejs npm)."
        )
    if not (root / "node_modules" / "solc").is_dir():
        raise ToolchainError(
            f"The npm toolchain is missing in {root}: run `npm ci` there (or `make setup`)."
        )
    return bridge


def _foundry_profile(root: Path) -> dict[str, Any]:
    with (root / "foundry.toml").open("rb") as fh:
        profile: dict[str, Any] = tomllib.load(fh)["profile"]["default"]
    return profile


def compiler_input(root: Path | None = None) -> dict[str, Any]:
    """The standard-JSON input for every source under contracts/src, as forge would build it."""
    root = root or project_root()
    profile = _foundry_profile(root)
    src = root / profile.get("src", "contracts/src")
    sources = {
        path.relative_to(root).as_posix(): {"content": path.read_text()}
        for path in sorted(src.rglob("*.sol"))
    }
    if not sources:
        raise ToolchainError(f"No Solidity sources under {src}.")
    return {
        "language": "Solidity",
        "sources": sources,
        "settings": {
            "remappings": list(profile.get("remappings", [])),
            "optimizer": {
                "enabled": bool(profile.get("optimizer", False)),
                "runs": int(profile.get("optimizer_runs", 200)),
            },
            "viaIR": bool(profile.get("via_ir", False)),
            "evmVersion": profile.get("evm_version", "cancun"),
            "metadata": {"bytecodeHash": profile.get("bytecode_hash", "ipfs")},
            "libraries": {},
            "outputSelection": {
                "*": {
                    "*": ["abi", "evm.bytecode.object", "evm.deployedBytecode.object", "metadata"]
                }
            },
        },
    }


def _compile(root: Path, standard_input: dict[str, Any]) -> dict[str, Any]:
    # py-solc-x drives the bridge as it would a native solc (`--standard-json`, stdin/stdout).
    import solcx
    from solcx.exceptions import SolcError

    bridge = solc_bridge(root)
    try:
        output: dict[str, Any] = solcx.compile_standard(
            standard_input, solc_binary=bridge, base_path=str(root), allow_paths=[str(root)]
        )
    except SolcError as exc:
        raise ToolchainError(
            f"Solidity compilation failed:\n{exc.stderr_data or exc.message}"
        ) from exc
    except (OSError, subprocess.SubprocessError) as exc:
        raise ToolchainError(f"Cannot run the solc bridge {bridge}: {exc}") from exc
    errors = [e for e in output.get("errors", []) if e.get("severity") == "error"]
    if errors:
        raise ToolchainError(
            "Solidity compilation failed:\n" + "\n".join(e["formattedMessage"] for e in errors)
        )
    return output


def build(root: Path | None = None, cache_dir: Path | None = None) -> dict[str, Artifact]:
    """Compile (or load from cache) every contract; returns artifacts by contract name."""
    root = root or project_root()
    standard_input = compiler_input(root)
    key = hashlib.sha256(json.dumps(standard_input, sort_keys=True).encode()).hexdigest()[:16]
    cache = (cache_dir / f"artifacts-{key}.json") if cache_dir else None
    if cache and cache.exists():
        raw = json.loads(cache.read_text())
    else:
        output = _compile(root, standard_input)
        raw = {}
        for source, contracts in output["contracts"].items():
            for name, data in contracts.items():
                raw[name] = {
                    "name": name,
                    "source": source,
                    "abi": data["abi"],
                    "bytecode": "0x" + data["evm"]["bytecode"]["object"],
                    "runtime_bytecode": "0x" + data["evm"]["deployedBytecode"]["object"],
                    "metadata": data["metadata"],
                }
        if cache:
            cache.parent.mkdir(parents=True, exist_ok=True)
            tmp = cache.with_suffix(".tmp")
            tmp.write_text(json.dumps(raw))
            tmp.replace(cache)
    return {name: Artifact(**data) for name, data in raw.items()}
