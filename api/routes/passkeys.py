"""Passkey sign-in for people: enrolment codes from pilot staff, WebAuthn registration and
sign-in, the page session cookie, sign-out and revocation."""

from __future__ import annotations

from typing import Annotated, Any

from eth_utils import is_address, to_checksum_address
from fastapi import APIRouter, Cookie, HTTPException, Response
from pydantic import BaseModel, Field

from api.deps import SESSION_COOKIE, AccountDep, PasskeysDep, PilotDep, StateDep, WritesDep
from api.passkeys import SESSION_TTL, PasskeyError, cookie_secure
from api.state import GatewayState
from api.writes import WriteService
from ledger.vocabulary import Role
from pilots.model import Pilot

router = APIRouter(tags=["passkeys"])


class EnrolmentIn(BaseModel):
    address: str = Field(description="the person's custodial account", examples=["0x" + "ab" * 20])


class EnrolmentOut(BaseModel):
    code: str = Field(description="shown once: the person types it or opens enrol_url")
    address: str
    enrol_url: str


class CodeIn(BaseModel):
    code: str = Field(min_length=1, max_length=40, description="the enrolment code")


class RegisterIn(CodeIn):
    credential: dict[str, Any] = Field(description="the PublicKeyCredential, JSON-encoded")
    label: str = Field(default="passkey", max_length=100, description="which device this is")


class SignInIn(BaseModel):
    credential: dict[str, Any] = Field(description="the PublicKeyCredential, JSON-encoded")


class SignedIn(BaseModel):
    address: str
    expires_at: int


class PasskeyOut(BaseModel):
    credential_id: str
    label: str
    created_at: int
    last_used_at: int | None


def _refused(exc: PasskeyError) -> HTTPException:
    return HTTPException(status_code=401, detail=str(exc))


#: The registry's global scope, where bit 1 is the operator.
GLOBAL_SCOPE = 0


def _refuse_foreign(state: GatewayState, writes: WriteService, pilot: Pilot, address: str) -> None:
    """An enrolment code gives a passkey for `address`: staff of `pilot` enrol the people of
    their pilot, never staff (of any pilot, or the operator) and never someone who holds a role
    or points in another pilot. Those are enrolled by the operator (`loopledger keys enrol`)."""
    if (
        writes.roles(GLOBAL_SCOPE, address) & Role.ADMIN
        or writes.roles(pilot.id, address) & Role.ADMIN
    ):
        why = f"{address} is staff: its enrolment code comes from the operator (loopledger keys enrol)"
        raise HTTPException(status_code=403, detail=why)
    for other in state.pilots:
        if other.id == pilot.id:
            continue
        if writes.roles(other.id, address) or writes.suite.token.balance_in(other.id, address):
            why = (
                f"{address} belongs to pilot {other.code} too (a role or points there): its "
                "enrolment code comes from the operator (loopledger keys enrol)"
            )
            raise HTTPException(status_code=403, detail=why)


@router.post(
    "/api/pilots/{pilot}/enrolments",
    response_model=EnrolmentOut,
    status_code=201,
    summary="Pilot staff: a one-time code with which a person registers a passkey",
)
def enrol(
    body: EnrolmentIn,
    pilot: PilotDep,
    state: StateDep,
    account: AccountDep,
    writes: WritesDep,
    passkeys: PasskeysDep,
) -> EnrolmentOut:
    writes.require(pilot.id, account, Role.ADMIN, "staff member (pilot admin)")
    if not is_address(body.address):
        raise HTTPException(status_code=422, detail=f"{body.address!r} is not an Ethereum address")
    address = to_checksum_address(body.address)
    _refuse_foreign(state, writes, pilot, address)
    if not writes.custody.holds(address):
        raise HTTPException(
            status_code=422,
            detail=f"{address} has no custodial key on this gateway: add one with `loopledger keys add`",
        )
    code = passkeys.issue_code(address, pilot.id, account)
    return EnrolmentOut(
        code=code, address=address, enrol_url=f"{passkeys.origin}/enrol?code={code}"
    )


@router.post("/api/passkeys/register/options", summary="Options to create a passkey (WebAuthn)")
def register_options(body: CodeIn, passkeys: PasskeysDep) -> dict[str, Any]:
    try:
        return passkeys.registration_options(body.code)
    except PasskeyError as exc:
        raise _refused(exc) from exc


@router.post(
    "/api/passkeys/register",
    response_model=SignedIn,
    status_code=201,
    summary="Store a new passkey for the enrolment code's account",
)
def register(body: RegisterIn, passkeys: PasskeysDep) -> SignedIn:
    try:
        address = passkeys.register(body.code, body.credential, body.label)
    except PasskeyError as exc:
        raise _refused(exc) from exc
    return SignedIn(address=address, expires_at=0)


@router.post("/api/passkeys/sign-in/options", summary="Options to sign in with a passkey")
def sign_in_options(passkeys: PasskeysDep) -> dict[str, Any]:
    return passkeys.authentication_options()


@router.post(
    "/api/passkeys/sign-in",
    response_model=SignedIn,
    summary="Sign in with a passkey: sets the page session cookie",
)
def sign_in(body: SignInIn, response: Response, passkeys: PasskeysDep) -> SignedIn:
    try:
        address, token, expires = passkeys.authenticate(body.credential)
    except PasskeyError as exc:
        raise _refused(exc) from exc
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=SESSION_TTL,
        path="/",
        httponly=True,
        secure=cookie_secure(passkeys.origin),
        samesite="strict",
    )
    return SignedIn(address=address, expires_at=expires)


@router.post("/api/passkeys/sign-out", status_code=204, summary="End the page session")
def sign_out(
    response: Response,
    passkeys: PasskeysDep,
    session: Annotated[str | None, Cookie(alias=SESSION_COOKIE, include_in_schema=False)] = None,
) -> Response:
    if session:
        passkeys.sign_out(session)
    response.status_code = 204
    response.delete_cookie(
        SESSION_COOKIE,
        path="/",
        httponly=True,
        secure=cookie_secure(passkeys.origin),
        samesite="strict",
    )
    return response


@router.get(
    "/api/passkeys", response_model=list[PasskeyOut], summary="The signed-in account's passkeys"
)
def my_passkeys(account: AccountDep, passkeys: PasskeysDep) -> list[PasskeyOut]:
    return [PasskeyOut(**vars(p)) for p in passkeys.passkeys_of(account)]


@router.delete(
    "/api/passkeys/{credential_id}",
    status_code=204,
    summary="Revoke one of the signed-in account's passkeys (its sessions end)",
)
def revoke(credential_id: str, account: AccountDep, passkeys: PasskeysDep) -> Response:
    try:
        passkeys.revoke(account, credential_id)
    except PasskeyError as exc:
        raise HTTPException(status_code=404, detail=str(exc)) from exc
    return Response(status_code=204)
