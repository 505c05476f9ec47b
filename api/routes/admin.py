"""Pilot administration by its signed-in staff: roles, makers' suspension, product classes,
rewards and their partners, the award budget; onboarding a person as a new custodial account;
and the pilot's accounts with their roles, for the staff page.

Every action is an :class:`ledger.admin.AdminAction` planned by :func:`ledger.admin.plan_admin`
against what the chain says of the caller and the target (:func:`ledger.admin.read_view`): 403
when the caller is neither the pilot's admin nor the operator, 422 with a reason per field for
bad input. An accepted plan is simulated as the caller (422 when the ledger would refuse it),
then sent with the caller's custodial key (staff sign in like everyone else; the gateway's
custody holds their keys). How it is sent depends on the contract, on purpose:

- ``RewardCatalogue`` and ``EngagementToken`` (rewards, budget) take forwarded calls: the plan
  becomes a durable job of the write queue, which the relayer sends as the staff's signed
  request. The answer is 202 with the job, or 201 once mined with ``?wait=confirmed``.
- ``PilotRegistry`` (roles, suspension, product classes) checks ``msg.sender``, so that no
  relayer can ever act as a pilot admin, and the queue sends forward requests only. These
  calls are sent synchronously from the staff's own key by :func:`ledger.admin.send_admin` (the
  path of ``loopledger admin`` too) and answered 201 once mined; the staff account pays their
  gas. A node that refuses the transaction answers 503, as every chain failure does.
"""

from __future__ import annotations

import secrets
from typing import Annotated, Any, Literal

from eth_account import Account
from eth_utils import to_checksum_address
from fastapi import APIRouter, Header, Path
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy import select
from web3.exceptions import ContractLogicError

from api.deps import AccountDep, PilotDep, StateDep, WritesDep
from api.routes.records import JobOut, Wait, WriteOut, answer
from api.state import GatewayState
from api.writes import MAX_ID, WriteService
from ledger.admin import (
    GRANTABLE,
    RELAYABLE,
    AdminAction,
    AdminPlan,
    AdminRejected,
    call_of,
    may_administer,
    plan_admin,
    read_view,
    send_admin,
)
from ledger.custody import KeyMaker
from ledger.vocabulary import Role
from ledger.write.plan import WriteRejected
from pilots.model import Pilot

router = APIRouter(tags=["administration"])

RoleName = Literal["maker", "partner", "issuer", "facilitator"]
Address = Annotated[
    str, Path(description="the account (0x and 40 hex digits)", examples=["0x" + "ab" * 20])
]
IdempotencyKey = Annotated[
    str | None,
    Header(alias="Idempotency-Key", description="retrying with the same key sends nothing twice"),
]
#: Points (the contracts' uint64, within the index's signed 64-bit integers), pieces of stock
#: (uint32) and expiries in unix seconds (uint40), as the contracts take them.
Points = Annotated[int, Field(ge=0, lt=2**63)]
Stock = Annotated[int, Field(ge=0, lt=2**32)]
Expiry = Annotated[int, Field(ge=0, lt=2**40)]
QUEUED: dict[int | str, dict[str, Any]] = {
    201: {"model": WriteOut, "description": "on chain (with wait=confirmed)"},
    202: {"model": JobOut, "description": "accepted: queued for the relayer, or not yet mined"},
}


class AccountOut(BaseModel):
    address: str
    roles: list[str] = Field(description="maker, partner, issuer, facilitator, admin")
    suspended: bool
    custodial: bool = Field(description="the gateway holds the account's key")


class AccountsOut(BaseModel):
    caller: str
    may_administer: bool = Field(description="the caller is the pilot's admin or the operator")
    budget: int | None = Field(description="the award budget last set (indexed)")
    accounts: list[AccountOut]


class SentOut(BaseModel):
    """An action sent from the staff's own key and mined."""

    summary: str
    tx_hash: str
    block_number: int
    indexed: bool


class OnboardIn(BaseModel):
    role: RoleName = Field(default="maker", description="the role the new account receives")


class OnboardOut(SentOut):
    address: str = Field(description="the new custodial account; enrol it for a passkey next")
    key_name: str = Field(description="its key's name in the gateway's keystore")
    role: RoleName


class ProductIn(BaseModel):
    code: str = Field(min_length=1, max_length=32, examples=["P-BENCH"])


class ProductOut(SentOut):
    code: str
    material_id: int


class RewardIn(BaseModel):
    partner: str = Field(description="the reward partner's account", examples=["0x" + "ab" * 20])
    cost: Points = Field(description="points a member pays")
    stock: Stock
    expiry: Expiry = Field(description="unix seconds: the reward cannot be redeemed after")


class RewardUpdateIn(BaseModel):
    stock: Stock
    expiry: Expiry


class BudgetIn(BaseModel):
    budget: Points = Field(description="points the pilot's issuers may still award")


def _rejected(exc: AdminRejected) -> WriteRejected:
    """403 when the caller may not administer the pilot, else 422 with every field."""
    refused = any(where == "caller" for where, _ in exc.reasons)
    return WriteRejected(exc.reasons, 403 if refused else 422)


def _chain_now(writes: WriteService) -> int:
    return int(writes.suite.chain.w3.eth.get_block("latest")["timestamp"])


def _plan(writes: WriteService, action: AdminAction, caller: str) -> AdminPlan:
    """The planner's call for `action` by `caller`, from what the chain says now."""
    writes.throttle(caller)
    try:
        plan = plan_admin(action, read_view(writes.suite, action, caller, now=_chain_now(writes)))
    except AdminRejected as exc:
        raise _rejected(exc) from exc
    if not writes.custody.holds(caller):
        why = (
            f"the gateway holds no key for {caller}: pilot staff act here from a custodial "
            "account (`loopledger keys add NAME --import`), or with `loopledger admin --key`"
        )
        raise WriteRejected([("account", why)], 403)
    return plan


def _send_direct(
    state: GatewayState, writes: WriteService, caller: str, plan: AdminPlan, where: str
) -> tuple[SentOut, Any]:
    """Simulate a registry call as the staff, send it from their key, wait for the indexer."""
    assert plan.client not in RELAYABLE
    writes.writer.simulate(caller, [(where, call_of(writes.suite, plan))])
    key = writes.custody.key_for(caller)
    assert key is not None  # _plan checked that custody holds it
    result = send_admin(writes.suite, key, plan)
    if plan.method == "setPilotRole" or plan.method == "setMakerActive":
        writes.forget_roles(plan.args[0], plan.args[1])
    sent = SentOut(
        summary=plan.summary,
        tx_hash=result.tx_hash,
        block_number=result.block_number,
        indexed=state.wait_indexed(result.block_number, timeout=30),
    )
    return sent, result


def _queue(
    state: GatewayState,
    writes: WriteService,
    caller: str,
    pilot: Pilot,
    plan: AdminPlan,
    where: str,
    idem_key: str | None,
    wait: str | None,
) -> JSONResponse:
    """Queue a relayable plan as the staff's job: 202 with it, or 201 once mined."""
    assert plan.client in RELAYABLE
    job, replayed = writes.submit_calls(
        account=caller,
        pilot=pilot.id,
        kind="admin",
        content=[plan.method, list(plan.args)],
        idem_key=idem_key,
        calls=[(where, call_of(writes.suite, plan))],
    )
    return answer(state, writes, job, wait, 1, replayed)


# ---- reads --------------------------------------------------------------------------------------


def _accounts(state: GatewayState, writes: WriteService, pilot: int) -> list[AccountOut]:
    """Each account's roles as the last indexed role change left them."""
    table = state.store.tables["role_change"]
    query = (
        select(table.c.account, table.c.current)
        .where(table.c.pilot_id == pilot)
        .order_by(table.c.block_number, table.c.log_index)
    )
    with state.store.engine.connect() as conn:
        latest = {str(a): Role(int(c)) for a, c in conn.execute(query)}
    names = {**{str(int(r)): n for n, r in GRANTABLE.items()}, str(int(Role.ADMIN)): "admin"}
    out = []
    for address, roles in latest.items():
        held = [name for bit, name in names.items() if roles & Role(int(bit))]
        if held:
            out.append(
                AccountOut(
                    address=address,
                    roles=held,
                    suspended=bool(roles & Role.SUSPENDED),
                    custodial=writes.custody.holds(address),
                )
            )
    return sorted(out, key=lambda a: a.address.lower())


def _budget(state: GatewayState, pilot: int) -> int | None:
    table = state.store.tables["award_budget"]
    query = (
        select(table.c.budget)
        .where(table.c.pilot_id == pilot)
        .order_by(table.c.block_number.desc(), table.c.log_index.desc())
        .limit(1)
    )
    with state.store.engine.connect() as conn:
        row = conn.execute(query).first()
    return None if row is None else int(row.budget)


@router.get(
    "/api/pilots/{pilot}/admin/accounts",
    response_model=AccountsOut,
    summary="Whether the caller is the pilot's staff; for staff, its accounts and their roles",
)
def accounts(
    pilot: PilotDep, state: StateDep, writes: WritesDep, account: AccountDep
) -> AccountsOut:
    # The caller's own standing is read from the chain, as every admin action checks it. The
    # list (and which accounts the gateway holds keys of) is for the pilot's staff only.
    writes.throttle(account)
    view = read_view(writes.suite, AdminAction("budget", pilot.id), account, 0)
    staff = may_administer(view)
    return AccountsOut(
        caller=account,
        may_administer=staff,
        budget=_budget(state, pilot.id) if staff else None,
        accounts=_accounts(state, writes, pilot.id) if staff else [],
    )


# ---- registry: sent from the staff's own key ----------------------------------------------------


@router.post(
    "/api/pilots/{pilot}/admin/accounts",
    response_model=OnboardOut,
    status_code=201,
    summary="Onboard a person: a new custodial account holding a role (then enrol a passkey)",
)
def onboard(
    body: OnboardIn, pilot: PilotDep, state: StateDep, writes: WritesDep, account: AccountDep
) -> OnboardOut:
    if not isinstance(writes.custody, KeyMaker):
        raise WriteRejected([("account", "this gateway has no keystore for new accounts")], 503)
    # Planned with the new key's address before the key is stored: a refused caller leaves
    # nothing behind.
    fresh = secrets.token_bytes(32)
    address = to_checksum_address(Account.from_key(fresh).address)
    action = AdminAction("grant", pilot.id, account=address, role=body.role)
    plan = _plan(writes, action, account)
    # Simulated too before the key is stored: a grant the ledger refuses leaves no key either.
    writes.writer.simulate(account, [("role", call_of(writes.suite, plan))])
    name = f"{pilot.code.lower()}-{body.role}-{address[2:10].lower()}"
    writes.custody.create(name, fresh)
    sent, _ = _send_direct(state, writes, account, plan, "role")
    return OnboardOut(**sent.model_dump(), address=address, key_name=name, role=body.role)


@router.put(
    "/api/pilots/{pilot}/admin/accounts/{address}/roles/{role}",
    response_model=SentOut,
    status_code=201,
    summary="Grant a role of the pilot to an account",
)
def grant(
    address: Address,
    role: Annotated[str, Path(description="maker, partner, issuer or facilitator")],
    pilot: PilotDep,
    state: StateDep,
    writes: WritesDep,
    account: AccountDep,
) -> SentOut:
    plan = _plan(writes, AdminAction("grant", pilot.id, account=address, role=role), account)
    return _send_direct(state, writes, account, plan, "role")[0]


@router.delete(
    "/api/pilots/{pilot}/admin/accounts/{address}/roles/{role}",
    response_model=SentOut,
    summary="Revoke a role of the pilot from an account",
)
def revoke(
    address: Address,
    role: Annotated[str, Path(description="maker, partner, issuer or facilitator")],
    pilot: PilotDep,
    state: StateDep,
    writes: WritesDep,
    account: AccountDep,
) -> SentOut:
    plan = _plan(writes, AdminAction("revoke", pilot.id, account=address, role=role), account)
    return _send_direct(state, writes, account, plan, "role")[0]


@router.put(
    "/api/pilots/{pilot}/admin/makers/{address}/suspension",
    response_model=SentOut,
    status_code=201,
    summary="Suspend a maker: their writes are refused until reactivated",
)
def suspend(
    address: Address, pilot: PilotDep, state: StateDep, writes: WritesDep, account: AccountDep
) -> SentOut:
    plan = _plan(writes, AdminAction("suspend", pilot.id, account=address), account)
    return _send_direct(state, writes, account, plan, "account")[0]


@router.delete(
    "/api/pilots/{pilot}/admin/makers/{address}/suspension",
    response_model=SentOut,
    summary="Reactivate a suspended maker",
)
def reactivate(
    address: Address, pilot: PilotDep, state: StateDep, writes: WritesDep, account: AccountDep
) -> SentOut:
    plan = _plan(writes, AdminAction("reactivate", pilot.id, account=address), account)
    return _send_direct(state, writes, account, plan, "account")[0]


@router.post(
    "/api/pilots/{pilot}/admin/products",
    response_model=ProductOut,
    status_code=201,
    summary="Register a product class of the pilot (e.g. P-BENCH)",
)
def product(
    body: ProductIn, pilot: PilotDep, state: StateDep, writes: WritesDep, account: AccountDep
) -> ProductOut:
    plan = _plan(writes, AdminAction("product", pilot.id, code=body.code), account)
    sent, result = _send_direct(state, writes, account, plan, "code")
    material = int(result.named("MaterialRegistered")[0].args["materialId"])
    return ProductOut(**sent.model_dump(), code=body.code, material_id=material)


# ---- catalogue and token: relayed jobs of the write queue ----------------------------------------


@router.post(
    "/api/pilots/{pilot}/admin/rewards",
    status_code=202,
    response_model=JobOut,
    responses=QUEUED,
    summary="List a reward of a reward partner in the pilot's catalogue",
)
def list_reward(
    body: RewardIn,
    pilot: PilotDep,
    state: StateDep,
    writes: WritesDep,
    account: AccountDep,
    idempotency_key: IdempotencyKey = None,
    wait: Wait = None,
) -> JSONResponse:
    action = AdminAction(
        "reward",
        pilot.id,
        account=body.partner,
        cost=body.cost,
        stock=body.stock,
        expiry=body.expiry,
    )
    plan = _plan(writes, action, account)
    return _queue(state, writes, account, pilot, plan, "reward", idempotency_key, wait)


@router.patch(
    "/api/pilots/{pilot}/admin/rewards/{reward_id}",
    status_code=202,
    response_model=JobOut,
    responses=QUEUED,
    summary="Update a reward's stock and expiry",
)
def update_reward(
    reward_id: Annotated[int, Path(ge=1, le=MAX_ID)],
    body: RewardUpdateIn,
    pilot: PilotDep,
    state: StateDep,
    writes: WritesDep,
    account: AccountDep,
    idempotency_key: IdempotencyKey = None,
    wait: Wait = None,
) -> JSONResponse:
    # From the chain, not the index: a reward listed a moment ago may not be indexed yet.
    try:
        listed_in = writes.suite.catalogue.reward(reward_id).pilot
    except ContractLogicError:
        listed_in = 0  # no reward has this id
    if listed_in != pilot.id:
        raise WriteRejected([("reward_id", f"pilot {pilot.code} has no reward {reward_id}")], 404)
    action = AdminAction(
        "update-reward", pilot.id, reward_id=reward_id, stock=body.stock, expiry=body.expiry
    )
    plan = _plan(writes, action, account)
    return _queue(state, writes, account, pilot, plan, "reward", idempotency_key, wait)


@router.put(
    "/api/pilots/{pilot}/admin/budget",
    status_code=202,
    response_model=JobOut,
    responses=QUEUED,
    summary="Set the pilot's award budget (points its issuers may still award)",
)
def set_budget(
    body: BudgetIn,
    pilot: PilotDep,
    state: StateDep,
    writes: WritesDep,
    account: AccountDep,
    idempotency_key: IdempotencyKey = None,
    wait: Wait = None,
) -> JSONResponse:
    plan = _plan(writes, AdminAction("budget", pilot.id, budget=body.budget), account)
    return _queue(state, writes, account, pilot, plan, "budget", idempotency_key, wait)
