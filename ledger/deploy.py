"""Deploy the contract suite once per chain and remember it in a manifest.

The manifest (chain id, genesis hash, addresses, deploy block, runtime bytecode hashes) lives in
the data directory. Deploying again on the same chain reports the existing deployment and changes
nothing; a manifest of another chain, of a reset chain, or of other contracts is refused until
the operator asks for a fresh deployment.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from eth_abi.abi import encode
from eth_account.signers.local import LocalAccount
from eth_utils import to_checksum_address
from pydantic import BaseModel, ConfigDict

from ledger.build import DEPLOYABLE, Artifact
from ledger.chain import Chain
from ledger.errors import NotDeployed, StaleManifest
from ledger.events import abi_type, fixed_bytes
from ledger.files import write_private
from ledger.transact import Call, Transactor
from ledger.vocabulary import Role
from pilots.model import Pilot

__all__ = ["Manifest", "check_manifest", "deploy", "load_manifest", "material_codes"]

MANIFEST_VERSION = 1
#: The operator caps the points a pilot may ever award at this many years of the yearly budget in
#: its file; a pilot admin sets budgets below it, and only the operator raises it (`setAwardCap`).
AWARD_CAP_YEARS = 5
KIND_SECONDARY, KIND_PRODUCT = 1, 2


class PilotEntry(BaseModel):
    model_config = ConfigDict(frozen=True)
    id: int
    code: str
    city: str
    admin: str


class Manifest(BaseModel):
    """What was deployed where. Written once, atomically, after the whole deployment succeeded."""

    model_config = ConfigDict(frozen=True)
    version: int = MANIFEST_VERSION
    chain_id: int
    genesis_hash: str
    deploy_block: int
    deployed_at: str
    operator: str
    addresses: dict[str, str]
    runtime_hashes: dict[str, str]
    pilots: list[PilotEntry]
    materials: dict[str, int]

    def save(self, path: Path) -> None:
        write_private(path, self.model_dump_json(indent=2))


def material_codes(pilots: Sequence[Pilot]) -> list[tuple[str, int]]:
    """Every material class the pilots use, in a stable order: EWC codes, then product codes."""
    secondary = sorted(
        {s.ewc for p in pilots for s in p.streams}
        | {pr.residue for p in pilots for pr in p.processes if pr.residue}
    )
    products = sorted({pr.product for p in pilots for pr in p.processes})
    return [(c, KIND_SECONDARY) for c in secondary] + [(c, KIND_PRODUCT) for c in products]


def load_manifest(path: Path) -> Manifest:
    if not path.exists():
        raise NotDeployed(
            f"No deployment found ({path} does not exist): run `loopledger deploy` first."
        )
    return Manifest.model_validate_json(path.read_text())


def check_manifest(
    manifest: Manifest, chain: Chain, artifacts: dict[str, Artifact], path: Path
) -> None:
    """Raise StaleManifest unless the manifest describes this chain and these contracts."""
    way_out = f"Run `loopledger deploy --fresh` to deploy anew (the old manifest {path.name} is kept as a backup)."
    if manifest.chain_id != chain.chain_id:
        raise StaleManifest(
            f"The deployment manifest {path} is for chain {manifest.chain_id}, but the chain is "
            f"{chain.chain_id}. {way_out}"
        )
    if manifest.genesis_hash != chain.genesis_hash:
        raise StaleManifest(
            f"The chain was reset since the deployment in {path} (its genesis block differs). {way_out}"
        )
    missing = [name for name in DEPLOYABLE if name not in manifest.addresses]
    if missing:
        raise StaleManifest(
            f"The deployment in {path} has no {', '.join(missing)} (it predates them). {way_out}"
        )
    for name, address in manifest.addresses.items():
        code = bytes(chain.w3.eth.get_code(to_checksum_address(address)))
        if not code:
            raise StaleManifest(
                f"{name} is not deployed at {address} on this chain (was it reset?). {way_out}"
            )
        expected = artifacts[name].runtime_hash if name in artifacts else None
        if expected != manifest.runtime_hashes.get(name):
            raise StaleManifest(
                f"The contracts changed since the deployment in {path} ({name} differs). {way_out}"
            )


def _creation_code(artifact: Artifact, args: Sequence[Any]) -> bytes:
    constructor = next((i for i in artifact.abi if i["type"] == "constructor"), None)
    types = [abi_type(i) for i in constructor["inputs"]] if constructor else []
    return bytes.fromhex(artifact.bytecode[2:]) + (encode(types, list(args)) if types else b"")


def _call(artifact: Artifact, address: str, chain: Chain, fn: str, *args: Any) -> Call:
    contract = chain.w3.eth.contract(address=to_checksum_address(address), abi=artifact.abi)
    data = contract.encode_abi(fn, args=list(args))
    return Call(address, bytes.fromhex(data[2:]))


def _grant_issuer(
    tx: Transactor,
    operator: LocalAccount,
    registry_artifact: Artifact,
    registry: str,
    chain: Chain,
    programme: str,
    pilots: Sequence[PilotEntry],
) -> None:
    """The community programme awards check-in and released drop-off points through the token,
    so it is an award issuer of every pilot (granted by the operator, like the pilot admins)."""
    for entry in pilots:
        tx.transact(
            operator,
            _call(
                registry_artifact,
                registry,
                chain,
                "setPilotRole",
                entry.id,
                programme,
                int(Role.ISSUER),
                True,
            ),
        )


def deploy(
    chain: Chain,
    artifacts: dict[str, Artifact],
    pilots: Sequence[Pilot],
    manifest_path: Path,
    *,
    fresh: bool = False,
    admins: dict[int, LocalAccount] | None = None,
    progress: Callable[[str], None] = lambda _: None,
) -> tuple[Manifest, bool]:
    """Deploy the suite unless this chain has it already. Returns (manifest, newly_deployed)."""
    if manifest_path.exists() and not fresh:
        manifest = load_manifest(manifest_path)
        check_manifest(manifest, chain, artifacts, manifest_path)
        return manifest, False

    operator = chain.operator
    tx = Transactor(chain.w3)
    addresses: dict[str, str] = {}
    deploy_block = int(chain.w3.eth.block_number) + 1

    def create(name: str, *args: Any) -> str:
        progress(f"deploying {name}")
        address, _ = tx.deploy(operator, _creation_code(artifacts[name], args))
        addresses[name] = address
        return address

    forwarder = create("LedgerForwarder")
    registry = create("PilotRegistry", operator.address)
    create("MaterialLedger", registry, forwarder)
    create("ContributionLedger", registry, forwarder)
    token = create("EngagementToken", registry, forwarder)
    catalogue = create("RewardCatalogue", registry, token, forwarder)
    tx.transact(
        operator, _call(artifacts["EngagementToken"], token, chain, "setCatalogue", catalogue)
    )
    programme = create("CommunityProgramme", registry, token, forwarder)
    create("ChallengeBoard", registry, forwarder)

    reg = artifacts["PilotRegistry"]
    entries = []
    for pilot in pilots:
        admin = (admins or {}).get(pilot.id)
        admin_address = admin.address if admin else operator.address
        progress(f"registering pilot {pilot.city}")
        tx.transact(
            operator,
            _call(
                reg,
                registry,
                chain,
                "addPilot",
                fixed_bytes(pilot.code, 8),
                fixed_bytes(pilot.country, 2),
                pilot.city,
                admin_address,
            ),
        )
        tx.transact(
            operator,
            _call(
                artifacts["EngagementToken"],
                token,
                chain,
                "setAwardCap",
                pilot.id,
                pilot.earning.award_budget * AWARD_CAP_YEARS,
            ),
        )
        entries.append(
            PilotEntry(id=pilot.id, code=pilot.code, city=pilot.city, admin=admin_address)
        )
    registry_contract = chain.w3.eth.contract(address=to_checksum_address(registry), abi=reg.abi)
    for entry in entries:
        on_chain = int(registry_contract.functions.pilotIdOf(fixed_bytes(entry.code, 8)).call())
        if on_chain != entry.id:
            raise StaleManifest(
                f"pilot {entry.code} got id {on_chain} on chain but its file says {entry.id}: pilot ids must "
                "be 1..N in file order"
            )
    _grant_issuer(tx, operator, reg, registry, chain, programme, entries)
    materials: dict[str, int] = {}
    for code, kind in material_codes(pilots):
        tx.transact(
            operator,
            _call(reg, registry, chain, "registerMaterial", 0, fixed_bytes(code, 16), kind),
        )
        materials[code] = int(
            registry_contract.functions.materialIdOf(fixed_bytes(code, 16)).call()
        )

    if manifest_path.exists():
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
        manifest_path.replace(manifest_path.with_name(f"{manifest_path.stem}.{stamp}.bak.json"))
    manifest = Manifest(
        chain_id=chain.chain_id,
        genesis_hash=chain.genesis_hash,
        deploy_block=deploy_block,
        deployed_at=datetime.now(UTC).isoformat(timespec="seconds"),
        operator=operator.address,
        addresses=addresses,
        runtime_hashes={name: artifacts[name].runtime_hash for name in DEPLOYABLE},
        pilots=entries,
        materials=materials,
    )
    manifest.save(manifest_path)
    return manifest, True
