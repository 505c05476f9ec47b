"""Python exceptions for every custom error of the LoopLedger contracts, decoded by selector.

Each class carries the error's fields as attributes. ``tests/ledger/test_contract_errors.py`` checks
that this module matches the compiled ABIs, so a new Solidity error cannot go unmapped."""

from __future__ import annotations

from typing import Any, ClassVar

from eth_abi import decode
from eth_utils import keccak

from ledger.errors import LedgerError


class ContractRevert(LedgerError):
    """A contract call reverted with a known custom error."""

    signature: ClassVar[str] = ""
    fields: ClassVar[tuple[str, ...]] = ()

    def __init__(self, *values: Any) -> None:
        self.values = values
        for field, value in zip(self.fields, values, strict=True):
            setattr(self, field, value)
        shown = ", ".join(f"{f}={v!r}" for f, v in zip(self.fields, values, strict=True))
        super().__init__(f"{type(self).__name__}({shown})")

    @property
    def name(self) -> str:
        return type(self).__name__

    def as_dict(self) -> dict[str, Any]:
        return dict(zip(self.fields, self.values, strict=True))


class UnknownRevert(LedgerError):
    """A revert whose data matches no known error."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        super().__init__(f"the contract reverted with unrecognised data 0x{data.hex()[:200]}")


class AddressEmptyCode(ContractRevert):
    signature = "AddressEmptyCode(address)"
    fields = ("target",)
    target: str


class CatalogueAlreadyFulfilled(ContractRevert):
    signature = "CatalogueAlreadyFulfilled(uint256)"
    fields = ("redemptionId",)
    redemptionId: int


class CatalogueBadExpiry(ContractRevert):
    signature = "CatalogueBadExpiry(uint256)"
    fields = ("expiry",)
    expiry: int


class CatalogueExpired(ContractRevert):
    signature = "CatalogueExpired(uint256,uint256)"
    fields = (
        "rewardId",
        "expiry",
    )
    rewardId: int
    expiry: int


class CatalogueNotPartner(ContractRevert):
    signature = "CatalogueNotPartner(uint256,address)"
    fields = (
        "rewardId",
        "account",
    )
    rewardId: int
    account: str


class CatalogueOutOfStock(ContractRevert):
    signature = "CatalogueOutOfStock(uint256)"
    fields = ("rewardId",)
    rewardId: int


class CatalogueUnknownRedemption(ContractRevert):
    signature = "CatalogueUnknownRedemption(uint256)"
    fields = ("redemptionId",)
    redemptionId: int


class CatalogueUnknownReward(ContractRevert):
    signature = "CatalogueUnknownReward(uint256)"
    fields = ("rewardId",)
    rewardId: int


class CatalogueZeroCost(ContractRevert):
    signature = "CatalogueZeroCost()"
    fields = ()


class CommunityAlreadyCheckedIn(ContractRevert):
    signature = "CommunityAlreadyCheckedIn(uint256,address)"
    fields = ("eventId", "member")
    eventId: int
    member: str


class CommunityBadCredential(ContractRevert):
    signature = "CommunityBadCredential()"
    fields = ()


class CommunityBadEvent(ContractRevert):
    signature = "CommunityBadEvent()"
    fields = ()


class CommunityBadHold(ContractRevert):
    signature = "CommunityBadHold()"
    fields = ()


class CommunityBadTokenSigner(ContractRevert):
    signature = "CommunityBadTokenSigner(uint256,address)"
    fields = ("eventId", "signer")
    eventId: int
    signer: str


class CommunityBadWindow(ContractRevert):
    signature = "CommunityBadWindow(uint32,uint32)"
    fields = ("opens", "closes")
    opens: int
    closes: int


class CommunityCredentialNonTransferable(ContractRevert):
    signature = "CommunityCredentialNonTransferable(uint256)"
    fields = ("credentialId",)
    credentialId: int


class CommunityHoldDue(ContractRevert):
    signature = "CommunityHoldDue(uint256,uint40)"
    fields = ("holdId", "releaseAt")
    holdId: int
    releaseAt: int


class CommunityHoldNotDue(ContractRevert):
    signature = "CommunityHoldNotDue(uint256,uint40)"
    fields = ("holdId", "releaseAt")
    holdId: int
    releaseAt: int


class CommunityHoldNotPending(ContractRevert):
    signature = "CommunityHoldNotPending(uint256,uint8)"
    fields = ("holdId", "state")
    holdId: int
    state: int


class CommunityHoldPeriodTooLong(ContractRevert):
    signature = "CommunityHoldPeriodTooLong(uint32)"
    fields = ("period",)
    period: int


class CommunityNotAttended(ContractRevert):
    signature = "CommunityNotAttended(uint256,address)"
    fields = ("eventId", "member")
    eventId: int
    member: str


class CommunityNotTraining(ContractRevert):
    signature = "CommunityNotTraining(uint256)"
    fields = ("eventId",)
    eventId: int


class CommunityOutsideWindow(ContractRevert):
    signature = "CommunityOutsideWindow(uint256,uint256,uint32,uint32)"
    fields = ("eventId", "timestamp", "opens", "closes")
    eventId: int
    timestamp: int
    opens: int
    closes: int


class CommunityTokenExpired(ContractRevert):
    signature = "CommunityTokenExpired(uint64,uint256)"
    fields = ("notAfter", "timestamp")
    notAfter: int
    timestamp: int


class CommunityUnknownCredential(ContractRevert):
    signature = "CommunityUnknownCredential(uint256)"
    fields = ("credentialId",)
    credentialId: int


class CommunityUnknownEvent(ContractRevert):
    signature = "CommunityUnknownEvent(uint256)"
    fields = ("eventId",)
    eventId: int


class CommunityUnknownEventKind(ContractRevert):
    signature = "CommunityUnknownEventKind(uint8)"
    fields = ("kind",)
    kind: int


class ChallengeBadDeadline(ContractRevert):
    signature = "ChallengeBadDeadline(uint64,uint256)"
    fields = ("deadline", "nowTs")
    deadline: int
    nowTs: int


class ChallengeBadMilestone(ContractRevert):
    signature = "ChallengeBadMilestone(uint256,uint8)"
    fields = ("proposalId", "index")
    proposalId: int
    index: int


class ChallengeBadMilestones(ContractRevert):
    signature = "ChallengeBadMilestones(uint8)"
    fields = ("milestones",)
    milestones: int


class ChallengeBadState(ContractRevert):
    signature = "ChallengeBadState(uint256,uint8)"
    fields = ("proposalId", "state")
    proposalId: int
    state: int


class ChallengeClosed(ContractRevert):
    signature = "ChallengeClosed(uint256,uint64)"
    fields = ("challengeId", "deadline")
    challengeId: int
    deadline: int


class ChallengeEmptyHash(ContractRevert):
    signature = "ChallengeEmptyHash()"
    fields = ()


class ChallengeNotOwner(ContractRevert):
    signature = "ChallengeNotOwner(uint256,address)"
    fields = ("challengeId", "account")
    challengeId: int
    account: str


class ChallengeOverBudget(ContractRevert):
    signature = "ChallengeOverBudget(uint256,uint128,uint128,uint128)"
    fields = ("challengeId", "budget", "awarded", "asked")
    challengeId: int
    budget: int
    awarded: int
    asked: int


class ChallengeUnauthorized(ContractRevert):
    signature = "ChallengeUnauthorized(address,uint16)"
    fields = ("account", "pilot")
    account: str
    pilot: int


class ChallengeUnknown(ContractRevert):
    signature = "ChallengeUnknown(uint256)"
    fields = ("challengeId",)
    challengeId: int


class ChallengeUnknownProposal(ContractRevert):
    signature = "ChallengeUnknownProposal(uint256)"
    fields = ("proposalId",)
    proposalId: int


class ContributionUnknownKind(ContractRevert):
    signature = "ContributionUnknownKind(uint8)"
    fields = ("kind",)
    kind: int


class ContributionZeroAmount(ContractRevert):
    signature = "ContributionZeroAmount()"
    fields = ()


class ECDSAInvalidSignature(ContractRevert):
    signature = "ECDSAInvalidSignature()"
    fields = ()


class ECDSAInvalidSignatureLength(ContractRevert):
    signature = "ECDSAInvalidSignatureLength(uint256)"
    fields = ("length",)
    length: int


class ECDSAInvalidSignatureS(ContractRevert):
    signature = "ECDSAInvalidSignatureS(bytes32)"
    fields = ("s",)
    s: str


class ERC20InsufficientAllowance(ContractRevert):
    signature = "ERC20InsufficientAllowance(address,uint256,uint256)"
    fields = (
        "spender",
        "allowance",
        "needed",
    )
    spender: str
    allowance: int
    needed: int


class ERC20InsufficientBalance(ContractRevert):
    signature = "ERC20InsufficientBalance(address,uint256,uint256)"
    fields = (
        "sender",
        "balance",
        "needed",
    )
    sender: str
    balance: int
    needed: int


class ERC20InvalidApprover(ContractRevert):
    signature = "ERC20InvalidApprover(address)"
    fields = ("approver",)
    approver: str


class ERC20InvalidReceiver(ContractRevert):
    signature = "ERC20InvalidReceiver(address)"
    fields = ("receiver",)
    receiver: str


class ERC20InvalidSender(ContractRevert):
    signature = "ERC20InvalidSender(address)"
    fields = ("sender",)
    sender: str


class ERC20InvalidSpender(ContractRevert):
    signature = "ERC20InvalidSpender(address)"
    fields = ("spender",)
    spender: str


class ERC2771ForwarderExpiredRequest(ContractRevert):
    signature = "ERC2771ForwarderExpiredRequest(uint48)"
    fields = ("deadline",)
    deadline: int


class ERC2771ForwarderInvalidSigner(ContractRevert):
    signature = "ERC2771ForwarderInvalidSigner(address,address)"
    fields = (
        "signer",
        "from_",
    )
    signer: str
    from_: str


class ERC2771ForwarderMismatchedValue(ContractRevert):
    signature = "ERC2771ForwarderMismatchedValue(uint256,uint256)"
    fields = (
        "requestedValue",
        "msgValue",
    )
    requestedValue: int
    msgValue: int


class ERC2771ForwarderNoRefundReceiver(ContractRevert):
    signature = "ERC2771ForwarderNoRefundReceiver()"
    fields = ()


class ERC2771UntrustfulTarget(ContractRevert):
    signature = "ERC2771UntrustfulTarget(address,address)"
    fields = (
        "target",
        "forwarder",
    )
    target: str
    forwarder: str


class FailedCall(ContractRevert):
    signature = "FailedCall()"
    fields = ()


class InsufficientBalance(ContractRevert):
    signature = "InsufficientBalance(uint256,uint256)"
    fields = (
        "balance",
        "needed",
    )
    balance: int
    needed: int


class InvalidAccountNonce(ContractRevert):
    signature = "InvalidAccountNonce(address,uint256)"
    fields = (
        "account",
        "currentNonce",
    )
    account: str
    currentNonce: int


class InvalidShortString(ContractRevert):
    signature = "InvalidShortString()"
    fields = ()


class LedgerBadShare(ContractRevert):
    signature = "LedgerBadShare(uint256)"
    fields = ("bp",)
    bp: int


class LedgerEmptyBatch(ContractRevert):
    signature = "LedgerEmptyBatch()"
    fields = ()


class LedgerEmptyTransform(ContractRevert):
    signature = "LedgerEmptyTransform()"
    fields = ()


class LedgerForwarderBatchDisabled(ContractRevert):
    signature = "LedgerForwarderBatchDisabled()"
    fields = ()


class LedgerInsufficientLot(ContractRevert):
    signature = "LedgerInsufficientLot(uint256,uint256,uint256)"
    fields = (
        "lotId",
        "available",
        "requested",
    )
    lotId: int
    available: int
    requested: int


class LedgerLengthMismatch(ContractRevert):
    signature = "LedgerLengthMismatch(uint256,uint256)"
    fields = (
        "expected",
        "actual",
    )
    expected: int
    actual: int


class LedgerLossTooHigh(ContractRevert):
    signature = "LedgerLossTooHigh(uint256,uint256,uint256)"
    fields = (
        "inputs",
        "loss",
        "maxLossBp",
    )
    inputs: int
    loss: int
    maxLossBp: int


class LedgerMassImbalance(ContractRevert):
    signature = "LedgerMassImbalance(uint256,uint256,uint256)"
    fields = (
        "inputs",
        "outputs",
        "loss",
    )
    inputs: int
    outputs: int
    loss: int


class LedgerNotHolder(ContractRevert):
    signature = "LedgerNotHolder(uint256,address,address)"
    fields = (
        "lotId",
        "holder",
        "caller",
    )
    lotId: int
    holder: str
    caller: str


class LedgerPilotMismatch(ContractRevert):
    signature = "LedgerPilotMismatch(uint256,uint16,uint16)"
    fields = (
        "lotId",
        "lotPilot",
        "pilot",
    )
    lotId: int
    lotPilot: int
    pilot: int


class LedgerSelfTransfer(ContractRevert):
    signature = "LedgerSelfTransfer(uint256)"
    fields = ("lotId",)
    lotId: int


class LedgerUnexpectedLot(ContractRevert):
    signature = "LedgerUnexpectedLot(uint256,uint256)"
    fields = ("expected", "actual")
    expected: int
    actual: int


class LedgerUnknownFate(ContractRevert):
    signature = "LedgerUnknownFate(uint8)"
    fields = ("fate",)
    fate: int


class LedgerUnknownLot(ContractRevert):
    signature = "LedgerUnknownLot(uint256)"
    fields = ("lotId",)
    lotId: int


class LedgerUnknownMaterial(ContractRevert):
    signature = "LedgerUnknownMaterial(uint16)"
    fields = ("materialId",)
    materialId: int


class LedgerUnknownSource(ContractRevert):
    signature = "LedgerUnknownSource(uint8)"
    fields = ("source",)
    source: int


class LedgerZeroAmount(ContractRevert):
    signature = "LedgerZeroAmount()"
    fields = ()


class RegistryBadMaterialCode(ContractRevert):
    signature = "RegistryBadMaterialCode(bytes16)"
    fields = ("code",)
    code: bytes


class RegistryBadPilotCode(ContractRevert):
    signature = "RegistryBadPilotCode(bytes8)"
    fields = ("code",)
    code: bytes


class RegistryInvalidMaterialKind(ContractRevert):
    signature = "RegistryInvalidMaterialKind(uint8)"
    fields = ("kind",)
    kind: int


class RegistryInvalidRole(ContractRevert):
    signature = "RegistryInvalidRole(uint8)"
    fields = ("role",)
    role: int


class RegistryMakerInactive(ContractRevert):
    signature = "RegistryMakerInactive(uint16,address)"
    fields = (
        "pilot",
        "maker",
    )
    pilot: int
    maker: str


class RegistryMaterialExists(ContractRevert):
    signature = "RegistryMaterialExists(bytes16)"
    fields = ("code",)
    code: bytes


class RegistryMaterialQuotaReached(ContractRevert):
    signature = "RegistryMaterialQuotaReached(uint16,uint16)"
    fields = (
        "pilot",
        "quota",
    )
    pilot: int
    quota: int


class RegistryPaused(ContractRevert):
    signature = "RegistryPaused()"
    fields = ()


class RegistryUnauthorized(ContractRevert):
    signature = "RegistryUnauthorized(address,uint16,uint8)"
    fields = (
        "account",
        "pilot",
        "role",
    )
    account: str
    pilot: int
    role: int


class RegistryUnknownMaterial(ContractRevert):
    signature = "RegistryUnknownMaterial(uint16)"
    fields = ("materialId",)
    materialId: int


class RegistryUnknownPilot(ContractRevert):
    signature = "RegistryUnknownPilot(uint16)"
    fields = ("pilot",)
    pilot: int


class RegistryZeroAddress(ContractRevert):
    signature = "RegistryZeroAddress()"
    fields = ()


class StringTooLong(ContractRevert):
    signature = "StringTooLong(string)"
    fields = ("str",)
    str: str


class TokenBudgetExceeded(ContractRevert):
    signature = "TokenBudgetExceeded(uint16,uint256,uint256)"
    fields = (
        "pilot",
        "requested",
        "remaining",
    )
    pilot: int
    requested: int
    remaining: int


class TokenCapExceeded(ContractRevert):
    signature = "TokenCapExceeded(uint16,uint256,uint256)"
    fields = (
        "pilot",
        "requested",
        "remaining",
    )
    pilot: int
    requested: int
    remaining: int


class TokenCatalogueAlreadySet(ContractRevert):
    signature = "TokenCatalogueAlreadySet(address)"
    fields = ("catalogue",)
    catalogue: str


class TokenInsufficientPoints(ContractRevert):
    signature = "TokenInsufficientPoints(uint16,address,uint256,uint256)"
    fields = (
        "pilot",
        "member",
        "balance",
        "needed",
    )
    pilot: int
    member: str
    balance: int
    needed: int


class TokenNonTransferable(ContractRevert):
    signature = "TokenNonTransferable()"
    fields = ()


class TokenOnlyCatalogue(ContractRevert):
    signature = "TokenOnlyCatalogue(address)"
    fields = ("caller",)
    caller: str


class TokenZeroAddress(ContractRevert):
    signature = "TokenZeroAddress()"
    fields = ()


class TokenZeroAmount(ContractRevert):
    signature = "TokenZeroAmount()"
    fields = ()


ERRORS: dict[bytes, type[ContractRevert]] = {
    keccak(text=cls.signature)[:4]: cls for cls in ContractRevert.__subclasses__()
}

#: Short aliases for the errors callers meet most.
MassImbalance = LedgerMassImbalance


def decode_revert(data: bytes) -> LedgerError:
    """The exception for raw revert data (selector + ABI-encoded fields)."""
    cls = ERRORS.get(bytes(data[:4]))
    if cls is None:
        return UnknownRevert(bytes(data))
    types = cls.signature[len(cls.__name__) + 1 : -1]
    values = decode(_split_types(types), bytes(data[4:])) if types else ()
    return cls(*[v.hex() if isinstance(v, bytes) else v for v in values])


def _split_types(types: str) -> list[str]:
    parts, depth, current = [], 0, ""
    for ch in types:
        if ch == "," and depth == 0:
            parts.append(current)
            current = ""
            continue
        depth += ch == "("
        depth -= ch == ")"
        current += ch
    parts.append(current)
    return parts
