"""Typed clients of the LoopLedger contracts.

Each method takes Python values, sends the transaction either directly from the acting account's
key or as an EIP-712 signed request through the relayer (``relay=True``), and returns a dataclass
read from the transaction's own events. Reverts become named exceptions
(:mod:`ledger.contract_errors`) before anything is sent.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from eth_abi import encode
from eth_account.signers.local import LocalAccount
from eth_utils import function_signature_to_4byte_selector, to_checksum_address
from eth_utils.abi import get_abi_input_types

from ledger.build import Artifact
from ledger.chain import Chain
from ledger.checkin import CheckInToken, sign_check_in
from ledger.deploy import Manifest
from ledger.errors import LedgerError
from ledger.events import DecodedEvent, EventDecoder, fixed_bytes
from ledger.transact import Call, Receipt, Transactor
from ledger.vocabulary import ContributionKind, EventKind, Fate, Role, Source

__all__ = [
    "CatalogueClient",
    "CommunityClient",
    "ContributionClient",
    "IntakeSpec",
    "Lot",
    "MaterialClient",
    "RegistryClient",
    "Suite",
    "TokenClient",
    "TxResult",
]

ZERO_EVIDENCE = b"\0" * 32


@dataclass(frozen=True)
class TxResult:
    """A successful transaction and the events it emitted."""

    tx_hash: str
    block_number: int
    gas_used: int
    events: tuple[DecodedEvent, ...]

    def named(self, name: str) -> list[DecodedEvent]:
        return [e for e in self.events if e.name == name]


@dataclass(frozen=True)
class Lot:
    lot_id: int
    holder: str
    grams: int
    pilot: int
    material_id: int
    recycled_bp: int


@dataclass(frozen=True)
class IntakeSpec:
    """One intake for `MaterialClient.intake_batch`."""

    pilot: int
    material_id: int
    source: Source
    grams: int
    evidence: bytes = ZERO_EVIDENCE


@dataclass(frozen=True)
class IntakeResult:
    lot_id: int
    recycled_bp: int
    tx: TxResult


@dataclass(frozen=True)
class BatchIntakeResult:
    lot_ids: tuple[int, ...]
    tx: TxResult


@dataclass(frozen=True)
class TransformResult:
    output_lots: tuple[int, ...]
    recycled_bp: int
    tx: TxResult


@dataclass(frozen=True)
class TransferResult:
    received_lot: int
    tx: TxResult


@dataclass(frozen=True)
class ContributionResult:
    contribution_id: int
    tx: TxResult


@dataclass(frozen=True)
class AwardResult:
    member: str
    amount: int
    budget_left: int
    tx: TxResult


@dataclass(frozen=True)
class RewardResult:
    reward_id: int
    tx: TxResult


@dataclass(frozen=True)
class RedemptionResult:
    redemption_id: int
    reward_id: int
    cost: int
    tx: TxResult


@dataclass(frozen=True)
class Reward:
    reward_id: int
    pilot: int
    partner: str
    cost: int
    stock: int
    redeemed: int
    expiry: int


class _Client:
    def __init__(self, suite: Suite, name: str) -> None:
        self.suite = suite
        self.address = suite.manifest.addresses[name]
        self.contract = suite.chain.w3.eth.contract(
            address=to_checksum_address(self.address), abi=suite.artifacts[name].abi
        )
        self.encoder = CallEncoder(suite.artifacts[name].abi)

    def call_data(self, fn: str, *args: Any) -> Call:
        return Call(self.address, self.encoder.encode(fn, args))

    def _send(self, actor: LocalAccount, fn: str, *args: Any, relay: bool = False) -> TxResult:
        call = self.call_data(fn, *args)
        receipt = self.suite.tx.relay(actor, call) if relay else self.suite.tx.transact(actor, call)
        return self.suite.result(receipt)


class CallEncoder:
    """Calldata straight from eth_abi with cached selectors and types: several times faster than
    ``Contract.encode_abi``, which the gateway would otherwise pay on every record."""

    def __init__(self, abi: Sequence[dict[str, Any]]) -> None:
        functions = [f for f in abi if f.get("type") == "function"]
        names = [f["name"] for f in functions]
        self._functions: dict[str, tuple[bytes, list[str]]] = {}
        for fn in functions:
            if names.count(fn["name"]) == 1:  # overloaded names are not supported here
                types = list(get_abi_input_types(fn))  # type: ignore[arg-type]
                signature = f"{fn['name']}({','.join(types)})"
                self._functions[fn["name"]] = (
                    function_signature_to_4byte_selector(signature),
                    types,
                )

    def encode(self, fn: str, args: Sequence[Any]) -> bytes:
        try:
            selector, types = self._functions[fn]
        except KeyError:
            raise LedgerError(f"no function {fn!r} with a single signature in this ABI") from None
        return selector + encode(types, list(args))


class RegistryClient(_Client):
    def __init__(self, suite: Suite) -> None:
        super().__init__(suite, "PilotRegistry")

    def set_pilot_role(
        self, admin: LocalAccount, pilot: int, account: str, role: Role, granted: bool = True
    ) -> TxResult:
        return self._send(admin, "setPilotRole", pilot, account, int(role), granted)

    def set_maker_active(
        self, admin: LocalAccount, pilot: int, maker: str, active: bool
    ) -> TxResult:
        return self._send(admin, "setMakerActive", pilot, maker, active)

    def set_global_role(
        self, operator: LocalAccount, account: str, role: int, granted: bool = True
    ) -> TxResult:
        return self._send(operator, "setGlobalRole", account, role, granted)

    def set_paused(self, operator: LocalAccount, paused: bool) -> TxResult:
        return self._send(operator, "setPaused", paused)

    def register_product(self, admin: LocalAccount, pilot: int, code: str) -> int:
        result = self._send(admin, "registerMaterial", pilot, fixed_bytes(code, 16), 2)
        return int(result.named("MaterialRegistered")[0].args["materialId"])

    def roles_of(self, pilot: int, account: str) -> Role:
        return Role(int(self.contract.functions.rolesOf(pilot, account).call()))

    def paused(self) -> bool:
        return bool(self.contract.functions.paused().call())

    def material_id(self, code: str, pilot: int = 0) -> int:
        """The material id of `code` as `pilot` sees it (its own codes, then the shared ones);
        pilot 0: the shared codes only."""
        return int(self.contract.functions.materialIdIn(pilot, fixed_bytes(code, 16)).call())

    def set_material_quota(self, operator: LocalAccount, pilot: int, quota: int) -> TxResult:
        return self._send(operator, "setMaterialQuota", pilot, quota)

    def pilot_count(self) -> int:
        return int(self.contract.functions.pilotCount().call())


class MaterialClient(_Client):
    def __init__(self, suite: Suite) -> None:
        super().__init__(suite, "MaterialLedger")

    def intake(
        self,
        maker: LocalAccount,
        pilot: int,
        material_id: int,
        source: Source,
        grams: int,
        evidence: bytes = ZERO_EVIDENCE,
        *,
        relay: bool = False,
    ) -> IntakeResult:
        tx = self._send(
            maker, "intake", pilot, material_id, int(source), grams, evidence, relay=relay
        )
        event = tx.named("MaterialTakenIn")[0]
        return IntakeResult(int(event.args["lotId"]), int(event.args["recycledBp"]), tx)

    def intake_batch(
        self, maker: LocalAccount, records: Sequence[IntakeSpec], *, relay: bool = False
    ) -> BatchIntakeResult:
        rows = [(r.pilot, r.material_id, int(r.source), r.grams, r.evidence) for r in records]
        tx = self._send(maker, "intakeBatch", rows, relay=relay)
        return BatchIntakeResult(
            tuple(int(e.args["lotId"]) for e in tx.named("MaterialTakenIn")), tx
        )

    def transform(
        self,
        maker: LocalAccount,
        inputs: Sequence[tuple[int, int]],
        outputs: Sequence[tuple[int, int]],
        loss: int,
        evidence: bytes = ZERO_EVIDENCE,
        *,
        relay: bool = False,
    ) -> TransformResult:
        """`inputs`: (lot id, grams drawn); `outputs`: (material id, grams)."""
        tx = self._send(
            maker,
            "transform",
            [lot for lot, _ in inputs],
            [grams for _, grams in inputs],
            [tuple(o) for o in outputs],
            loss,
            evidence,
            relay=relay,
        )
        event = tx.named("MaterialTransformed")[0]
        first = int(event.args["firstOutputLot"])
        return TransformResult(
            tuple(range(first, first + len(outputs))), int(event.args["recycledBp"]), tx
        )

    def transfer(
        self,
        maker: LocalAccount,
        lot_id: int,
        to: str,
        grams: int,
        evidence: bytes = ZERO_EVIDENCE,
        *,
        relay: bool = False,
    ) -> TransferResult:
        tx = self._send(maker, "transfer", lot_id, to, grams, evidence, relay=relay)
        return TransferResult(int(tx.named("LotTransferred")[0].args["receivedLot"]), tx)

    def dispatch(
        self,
        maker: LocalAccount,
        lot_id: int,
        grams: int,
        fate: Fate,
        evidence: bytes = ZERO_EVIDENCE,
        *,
        relay: bool = False,
    ) -> TxResult:
        return self._send(maker, "dispatch", lot_id, grams, int(fate), evidence, relay=relay)

    def lot(self, lot_id: int) -> Lot:
        view = self.contract.functions.lotOf(lot_id).call()
        return Lot(lot_id, view[0], int(view[1]), int(view[2]), int(view[3]), int(view[4]))

    def lot_count(self) -> int:
        return int(self.contract.functions.lotCount().call())


class ContributionClient(_Client):
    def __init__(self, suite: Suite) -> None:
        super().__init__(suite, "ContributionLedger")

    def record(
        self,
        maker: LocalAccount,
        pilot: int,
        kind: ContributionKind,
        amount: int,
        evidence: bytes = ZERO_EVIDENCE,
        *,
        relay: bool = False,
    ) -> ContributionResult:
        tx = self._send(
            maker, "recordContribution", pilot, int(kind), amount, evidence, relay=relay
        )
        return ContributionResult(
            int(tx.named("ContributionRecorded")[0].args["contributionId"]), tx
        )


class TokenClient(_Client):
    def __init__(self, suite: Suite) -> None:
        super().__init__(suite, "EngagementToken")

    def set_budget(self, admin: LocalAccount, pilot: int, budget: int) -> TxResult:
        return self._send(admin, "setAwardBudget", pilot, budget)

    def set_cap(self, operator: LocalAccount, pilot: int, cap: int) -> TxResult:
        """The most points `pilot` may award in total (operator only)."""
        return self._send(operator, "setAwardCap", pilot, cap)

    def award(
        self,
        issuer: LocalAccount,
        pilot: int,
        member: str,
        amount: int,
        reason: int,
        *,
        relay: bool = False,
    ) -> AwardResult:
        tx = self._send(issuer, "award", pilot, member, amount, reason, relay=relay)
        event = tx.named("PointsAwarded")[0]
        return AwardResult(
            str(event.args["member"]), int(event.args["amount"]), int(event.args["budgetLeft"]), tx
        )

    def balance_of(self, account: str) -> int:
        """Points of every pilot together (what ERC-20 readers see)."""
        return int(self.contract.functions.balanceOf(account).call())

    def balance_in(self, pilot: int, account: str) -> int:
        """Points of `pilot`: the only ones its rewards accept."""
        return int(self.contract.functions.balanceIn(pilot, account).call())

    def total_supply(self) -> int:
        return int(self.contract.functions.totalSupply().call())

    def budget(self, pilot: int) -> int:
        return int(self.contract.functions.awardBudget(pilot).call())


class CatalogueClient(_Client):
    def __init__(self, suite: Suite) -> None:
        super().__init__(suite, "RewardCatalogue")

    def list_reward(
        self, admin: LocalAccount, pilot: int, partner: str, cost: int, stock: int, expiry: int
    ) -> RewardResult:
        tx = self._send(admin, "listReward", pilot, partner, cost, stock, expiry)
        return RewardResult(int(tx.named("RewardListed")[0].args["rewardId"]), tx)

    def update_reward(
        self, admin: LocalAccount, reward_id: int, stock: int, expiry: int
    ) -> TxResult:
        return self._send(admin, "updateReward", reward_id, stock, expiry)

    def redeem(
        self, member: LocalAccount, reward_id: int, *, relay: bool = False
    ) -> RedemptionResult:
        tx = self._send(member, "redeem", reward_id, relay=relay)
        event = tx.named("RewardRedeemed")[0]
        return RedemptionResult(
            int(event.args["redemptionId"]),
            int(event.args["rewardId"]),
            int(event.args["cost"]),
            tx,
        )

    def fulfil(self, partner: LocalAccount, redemption_id: int, *, relay: bool = False) -> TxResult:
        return self._send(partner, "fulfil", redemption_id, relay=relay)

    def reward(self, reward_id: int) -> Reward:
        pilot, partner, cost, stock, redeemed, expiry = self.contract.functions.rewardOf(
            reward_id
        ).call()
        return Reward(
            reward_id, int(pilot), str(partner), int(cost), int(stock), int(redeemed), int(expiry)
        )

    def redemption_status(self, redemption_id: int) -> tuple[bool, bool]:
        issued, fulfilled = self.contract.functions.redemptionStatus(redemption_id).call()
        return bool(issued), bool(fulfilled)


class ChallengeClient(_Client):
    """The challenge board (the gateway sends its calls through the write path)."""

    def __init__(self, suite: Suite) -> None:
        super().__init__(suite, "ChallengeBoard")

    def post(
        self,
        owner: LocalAccount,
        pilot: int,
        brief: bytes,
        material: int,
        budget: int,
        deadline: int,
    ) -> TxResult:
        return self._send(owner, "postChallenge", pilot, brief, material, budget, deadline)

    def submit(self, maker: LocalAccount, challenge_id: int, document: bytes) -> TxResult:
        return self._send(maker, "submitProposal", challenge_id, document)


class Suite:
    """The deployed contracts of one manifest, with a client per contract."""

    def __init__(
        self,
        chain: Chain,
        manifest: Manifest,
        artifacts: dict[str, Artifact],
        *,
        relayer: LocalAccount | None = None,
    ) -> None:
        self.chain = chain
        self.manifest = manifest
        self.artifacts = artifacts
        self.decoder = EventDecoder({name: artifacts[name].abi for name in manifest.addresses})
        forwarder = chain.w3.eth.contract(
            address=to_checksum_address(manifest.addresses["LedgerForwarder"]),
            abi=artifacts["LedgerForwarder"].abi,
        )
        self.tx = Transactor(
            chain.w3,
            forwarder=forwarder,
            relayer=relayer or (chain.accounts[0] if chain.accounts else None),
        )
        self.registry = RegistryClient(self)
        self.materials = MaterialClient(self)
        self.contributions = ContributionClient(self)
        self.token = TokenClient(self)
        self.catalogue = CatalogueClient(self)
        self.community = CommunityClient(self)
        self.challenges = ChallengeClient(self)

    def result(self, receipt: Receipt) -> TxResult:
        events = []
        for raw in receipt.logs:
            decoded = self.decoder.decode(raw)
            if decoded is not None:
                events.append(decoded)
        return TxResult(receipt.tx_hash, receipt.block_number, receipt.gas_used, tuple(events))


@dataclass(frozen=True)
class EventResult:
    event_id: int
    tx: TxResult


@dataclass(frozen=True)
class CheckInResult:
    event_id: int
    member: str
    points: int
    tx: TxResult


@dataclass(frozen=True)
class CredentialResult:
    credential_id: int
    tx: TxResult


@dataclass(frozen=True)
class HoldResult:
    hold_id: int
    release_at: int
    tx: TxResult


@dataclass(frozen=True)
class Credential:
    credential_id: int
    holder: str
    pilot: int
    level: int
    issued_at: int
    skill: str
    event_id: int


class CommunityClient(_Client):
    """Events and QR check-in, skill credentials and held drop-off points."""

    def __init__(self, suite: Suite) -> None:
        super().__init__(suite, "CommunityProgramme")

    def create_event(
        self,
        staff: LocalAccount,
        pilot: int,
        kind: EventKind,
        opens: int,
        closes: int,
        points: int,
        signer: str,
        venue: bytes = ZERO_EVIDENCE,
        *,
        relay: bool = False,
    ) -> EventResult:
        tx = self._send(
            staff,
            "createEvent",
            pilot,
            int(kind),
            opens,
            closes,
            points,
            signer,
            venue,
            relay=relay,
        )
        return EventResult(int(tx.named("EventCreated")[0].args["eventId"]), tx)

    def check_in(
        self, member: LocalAccount, token: CheckInToken, *, relay: bool = False
    ) -> CheckInResult:
        tx = self._send(
            member, "checkIn", token.event_id, token.not_after, token.r, token.vs, relay=relay
        )
        event = tx.named("CheckedIn")[0]
        member_address = str(event.args["member"])
        paid = [e for e in tx.named("PointsAwarded") if e.args["member"] == member_address]
        return CheckInResult(
            int(event.args["eventId"]), member_address, int(paid[0].args["amount"]), tx
        )

    def issue_credential(
        self,
        staff: LocalAccount,
        event_id: int,
        member: str,
        skill: str,
        level: int,
        *,
        relay: bool = False,
    ) -> CredentialResult:
        tx = self._send(
            staff, "issueCredential", event_id, member, fixed_bytes(skill, 16), level, relay=relay
        )
        return CredentialResult(int(tx.named("CredentialIssued")[0].args["credentialId"]), tx)

    def set_hold_period(self, admin: LocalAccount, pilot: int, seconds: int) -> TxResult:
        return self._send(admin, "setHoldPeriod", pilot, seconds)

    def hold_drop_off(
        self,
        staff: LocalAccount,
        pilot: int,
        member: str,
        points: int,
        evidence: bytes = ZERO_EVIDENCE,
        *,
        relay: bool = False,
    ) -> HoldResult:
        tx = self._send(staff, "holdDropOff", pilot, member, points, evidence, relay=relay)
        event = tx.named("PointsHeld")[0]
        return HoldResult(int(event.args["holdId"]), int(event.args["releaseAt"]), tx)

    def void_hold(
        self, staff: LocalAccount, hold_id: int, reason: str, *, relay: bool = False
    ) -> TxResult:
        return self._send(staff, "voidHold", hold_id, fixed_bytes(reason, 32), relay=relay)

    def release(self, caller: LocalAccount, hold_id: int, *, relay: bool = False) -> TxResult:
        return self._send(caller, "release", hold_id, relay=relay)

    def credential(self, credential_id: int) -> Credential:
        holder, pilot, level, issued_at, skill, event_id = self.contract.functions.credentialOf(
            credential_id
        ).call()
        return Credential(
            credential_id,
            str(holder),
            int(pilot),
            int(level),
            int(issued_at),
            bytes(skill).rstrip(b"\0").decode("ascii", "replace"),
            int(event_id),
        )

    def attended(self, member: str, event_id: int) -> bool:
        return bool(self.contract.functions.attended(member, event_id).call())

    def sign_check_in(self, signer: LocalAccount, event_id: int, not_after: int) -> CheckInToken:
        return sign_check_in(signer, self.suite.chain.chain_id, self.address, event_id, not_after)
