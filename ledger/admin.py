"""Administration of a pilot by its staff: roles, maker suspension, product classes, rewards, budgets.

:func:`plan_admin` is pure: it turns one requested action and what the chain says about the
caller and the target into the contract call to send, or an :class:`AdminRejected` carrying
(where, why) reasons. The checks mirror the contracts' own (``PilotRegistry.setPilotRole``,
``setMakerActive``, ``registerMaterial``; ``RewardCatalogue.listReward`` / ``updateReward``;
``EngagementToken.setAwardBudget``: the pilot admin or the operator), so that a refused action
is refused with a message before anything is signed. :func:`call_of` encodes an accepted plan
(the one encoding of admin calls); :func:`send_admin` sends it from the staff's own key.

Who may relay what: ``PilotRegistry`` checks ``msg.sender`` (it takes no ERC-2771 forwarder, so
that no relayer can ever act as a pilot admin), hence roles, suspensions and product classes are
sent by the staff key itself; ``RewardCatalogue`` and ``EngagementToken`` read ``_msgSender()``,
so their plans (:data:`RELAYABLE`) may also go through the forwarder as signed requests.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

from eth_account.signers.local import LocalAccount
from eth_utils import is_address, to_checksum_address

from ledger.clients import TxResult
from ledger.errors import LedgerError
from ledger.events import fixed_bytes
from ledger.transact import Call
from ledger.vocabulary import Role

__all__ = [
    "ACTIONS",
    "GRANTABLE",
    "RELAYABLE",
    "AdminAction",
    "AdminPlan",
    "AdminRejected",
    "CallerView",
    "call_of",
    "may_administer",
    "plan_admin",
    "read_view",
    "send_admin",
]

NO_ROLES = Role(0)

#: Roles pilot staff grant and revoke, by the name used on the command line and in the API.
GRANTABLE = {
    "maker": Role.MAKER,
    "partner": Role.PARTNER,
    "issuer": Role.ISSUER,
    "facilitator": Role.FACILITATOR,
}

#: The clients whose contracts take forwarded calls: their plans can be relayed (see above).
RELAYABLE = frozenset({"catalogue", "token"})

ACTIONS = (
    "grant",
    "revoke",
    "suspend",
    "reactivate",
    "product",
    "reward",
    "update-reward",
    "budget",
)
ActionKind = Literal[
    "grant", "revoke", "suspend", "reactivate", "product", "reward", "update-reward", "budget"
]

#: Product codes: what ``bytes16`` holds, in the pilots' own style (e.g. P-JOINERY).
PRODUCT_CODE = re.compile(r"[A-Z0-9][A-Z0-9 ._-]{0,15}")


class AdminRejected(LedgerError):
    """An administrative action that cannot be done, with every (where, why) reason."""

    def __init__(self, reasons: list[tuple[str, str]]) -> None:
        self.reasons = reasons
        super().__init__("; ".join(f"{where}: {why}" for where, why in reasons))


@dataclass(frozen=True)
class AdminAction:
    """One request of pilot staff. Fields unused by a kind stay None."""

    kind: ActionKind
    pilot: int
    account: str | None = None  # grant, revoke, suspend, reactivate; the partner of a reward
    role: str | None = None  # grant, revoke
    code: str | None = None  # product
    reward_id: int | None = None  # update-reward
    cost: int | None = None  # reward
    stock: int | None = None  # reward, update-reward
    expiry: int | None = None  # reward, update-reward (unix seconds)
    budget: int | None = None  # budget


@dataclass(frozen=True)
class CallerView:
    """What the chain says, read before planning: the caller's roles and the target's."""

    caller_roles: Role
    caller_is_operator: bool
    target_roles: Role = NO_ROLES
    now: int = 0


@dataclass(frozen=True)
class AdminPlan:
    """The contract call an accepted action makes: (client, method, arguments)."""

    client: Literal["registry", "catalogue", "token"]
    method: str
    args: tuple[Any, ...]
    summary: str


def may_administer(view: CallerView) -> bool:
    """Whether the caller may administer the pilot: its admin, or the operator (pure)."""
    return bool(view.caller_roles & Role.ADMIN or view.caller_is_operator)


def plan_admin(action: AdminAction, view: CallerView) -> AdminPlan:
    """The call for `action`, or AdminRejected with every reason (pure)."""
    reasons: list[tuple[str, str]] = []
    if not may_administer(view):
        reasons.append(("caller", f"only pilot {action.pilot}'s admin or the operator may do this"))
    account = None
    if action.kind in ("grant", "revoke", "suspend", "reactivate", "reward"):
        if action.account is None or not is_address(action.account):
            reasons.append(("account", "give an Ethereum address (0x and 40 hex digits)"))
        else:
            account = to_checksum_address(action.account)
    role = GRANTABLE.get((action.role or "").lower())
    if action.kind in ("grant", "revoke") and role is None:
        reasons.append(("role", f"use one of {', '.join(GRANTABLE)}"))
    if action.kind in ("suspend", "reactivate") and not view.target_roles & Role.MAKER:
        reasons.append(("account", "is not a maker of this pilot: grant the maker role first"))
    if action.kind == "reward" and account is not None and not view.target_roles & Role.PARTNER:
        reasons.append(
            ("account", "is not a reward partner of this pilot: grant the partner role first")
        )
    if action.kind == "revoke" and role is not None and not view.target_roles & role:
        reasons.append(("role", f"the account does not hold the {action.role} role"))
    if action.kind == "product" and not PRODUCT_CODE.fullmatch(action.code or ""):
        reasons.append(("code", "1 to 16 capitals, digits, space, '.', '_' or '-', e.g. P-BENCH"))
    for name in ("cost", "stock", "budget", "reward_id"):
        value = getattr(action, name)
        needed = (
            (name in ("cost", "stock") and action.kind == "reward")
            or (name in ("stock", "reward_id") and action.kind == "update-reward")
            or (name == "budget" and action.kind == "budget")
        )
        if needed and (value is None or value < (1 if name in ("cost", "reward_id") else 0)):
            reasons.append(
                (
                    name,
                    "give a whole number" + (" above 0" if name in ("cost", "reward_id") else ""),
                )
            )
    if action.kind in ("reward", "update-reward") and (
        action.expiry is None or action.expiry <= view.now
    ):
        reasons.append(("expiry", "give a date in the future"))
    if reasons:
        raise AdminRejected(reasons)
    pilot = action.pilot
    match action.kind:
        case "grant" | "revoke":
            assert role is not None
            granted = action.kind == "grant"
            verb = "grant" if granted else "revoke"
            return AdminPlan(
                "registry",
                "setPilotRole",
                (pilot, account, int(role), granted),
                f"{verb} {action.role} of pilot {pilot} {'to' if granted else 'from'} {account}",
            )
        case "suspend" | "reactivate":
            return AdminPlan(
                "registry",
                "setMakerActive",
                (pilot, account, action.kind == "reactivate"),
                f"{action.kind} maker {account} of pilot {pilot}",
            )
        case "product":
            return AdminPlan(
                "registry",
                "registerMaterial",
                (pilot, action.code, 2),
                f"register product class {action.code} in pilot {pilot}",
            )
        case "reward":
            return AdminPlan(
                "catalogue",
                "listReward",
                (pilot, account, action.cost, action.stock, action.expiry),
                f"list a reward of {action.cost} points ({action.stock} in stock) in pilot {pilot}",
            )
        case "update-reward":
            return AdminPlan(
                "catalogue",
                "updateReward",
                (action.reward_id, action.stock, action.expiry),
                f"update reward {action.reward_id}: {action.stock} in stock",
            )
        case "budget":
            return AdminPlan(
                "token",
                "setAwardBudget",
                (pilot, action.budget),
                f"set pilot {pilot}'s award budget to {action.budget} points",
            )
    raise AdminRejected(
        [("action", f"unknown action {action.kind!r}: use one of {', '.join(ACTIONS)}")]
    )


#: The registry's global scope (pilot 0) and its operator bit (``Roles.GLOBAL``, ``Roles.OPERATOR``).
GLOBAL_SCOPE, OPERATOR_BIT = 0, 1


def read_view(suite: Any, action: AdminAction, caller: str, now: int) -> CallerView:
    """What `plan_admin` needs to know from the chain (the I/O before the pure planning)."""
    target = (
        suite.registry.roles_of(action.pilot, to_checksum_address(action.account))
        if action.account and is_address(action.account)
        else NO_ROLES
    )
    global_roles = int(suite.registry.contract.functions.rolesOf(GLOBAL_SCOPE, caller).call())
    return CallerView(
        caller_roles=suite.registry.roles_of(action.pilot, caller),
        caller_is_operator=bool(global_roles & OPERATOR_BIT),
        target_roles=target,
        now=now,
    )


def call_of(suite: Any, plan: AdminPlan) -> Call:
    """The contract call of an accepted plan: its address and calldata (no I/O)."""
    client = getattr(suite, plan.client)
    args = plan.args
    if plan.method == "registerMaterial":
        args = (args[0], fixed_bytes(args[1], 16), args[2])
    call: Call = client.call_data(plan.method, *args)
    return call


def send_admin(suite: Any, actor: LocalAccount, plan: AdminPlan) -> TxResult:
    """Send an accepted plan from `actor`'s own key and wait until it is mined.

    The one place admin actions reach the chain directly (the CLI, and the gateway for the
    registry's calls, which cannot be relayed)."""
    result: TxResult = suite.result(suite.tx.transact(actor, call_of(suite, plan)))
    return result
