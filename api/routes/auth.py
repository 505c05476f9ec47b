"""Sign-in: EIP-4361 (Sign-In with Ethereum) sessions; API keys are issued by the operator's CLI."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, Header, HTTPException, Response
from pydantic import BaseModel, Field

from api.auth import AuthError, verify_siwe
from api.deps import AccountDep, StateDep, WritesDep
from ledger.vocabulary import Role

router = APIRouter(prefix="/api/auth", tags=["auth"])


class NonceOut(BaseModel):
    nonce: str
    domain: str = Field(
        description="the domain the message must name (the gateway's public origin)"
    )
    uri: str = Field(description="the URI the message must name: on the gateway's public origin")
    chain_id: int
    statement: str


class SiweIn(BaseModel):
    message: str = Field(description="the EIP-4361 message, exactly as signed")
    signature: str = Field(pattern=r"^0x[0-9a-fA-F]{130}$", description="personal_sign signature")


class SessionOut(BaseModel):
    token: str
    address: str
    expires_at: int


class MeOut(BaseModel):
    address: str
    roles: dict[str, list[str]] = Field(description="roles per pilot code (on chain)")


@router.get("/nonce", response_model=NonceOut, summary="A single-use nonce for a sign-in message")
def nonce(writes: WritesDep, state: StateDep) -> NonceOut:
    origin = state.public_origin
    try:
        issued = state.nonces.issue()
    except AuthError as exc:
        raise HTTPException(status_code=503, detail=str(exc)) from exc
    return NonceOut(
        nonce=issued,
        domain=urlsplit(origin).netloc,
        uri=origin,
        chain_id=writes.chain_id,
        statement="Sign in to LoopLedger.",
    )


@router.post(
    "/siwe", response_model=SessionOut, summary="Exchange a signed EIP-4361 message for a session"
)
def siwe(body: SiweIn, writes: WritesDep, state: StateDep) -> SessionOut:
    try:
        message = verify_siwe(
            body.message,
            body.signature,
            origin=state.public_origin,
            chain_id=writes.chain_id,
            nonces=state.nonces,
        )
    except AuthError as exc:
        raise HTTPException(status_code=401, detail=str(exc)) from exc
    token, expires = writes.sessions.issue(message.address)
    return SessionOut(token=token, address=message.address, expires_at=expires)


@router.post("/logout", status_code=204, summary="Sign out: the session token stops working")
def logout(
    state: StateDep,
    writes: WritesDep,
    authorization: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> Response:
    scheme, _, token = (authorization or "").partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise HTTPException(
            status_code=401, detail="send the session as 'Authorization: Bearer <token>'"
        )
    try:
        writes.sessions.verify(token)
    except AuthError as exc:
        raise HTTPException(status_code=401, detail=str(exc)) from exc
    state.revoked.revoke(token, writes.sessions.expires_at(token))
    return Response(status_code=204)


@router.get("/me", response_model=MeOut, summary="The signed-in account and its on-chain roles")
def me(account: AccountDep, state: StateDep, writes: WritesDep) -> MeOut:
    roles: dict[str, list[str]] = {}
    for pilot in state.pilots:
        held = writes.roles(pilot.id, account)
        names = [r.name.lower() for r in Role if r in held and r.name]
        if names:
            roles[pilot.code] = names
    return MeOut(address=account, roles=roles)
