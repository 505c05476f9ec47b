"""Dependencies of the routes, as Annotated aliases."""

from __future__ import annotations

from typing import Annotated

from fastapi import Cookie, Depends, Header, HTTPException, Path, Request
from sqlalchemy import select

from api.auth import AuthError, hash_api_key
from api.passkeys import PasskeyError, PasskeyService
from api.state import GatewayState
from api.writes import WriteService
from pilots.model import Pilot

__all__ = [
    "SESSION_COOKIE",
    "AccountDep",
    "OptionalAccountDep",
    "PasskeysDep",
    "PilotDep",
    "StateDep",
    "WritesDep",
]

#: The page session cookie (HttpOnly, SameSite=Strict; Secure but on http://localhost).
SESSION_COOKIE = "loopledger_session"


async def _state(request: Request) -> GatewayState:
    state: GatewayState = request.app.state.gateway
    return state


StateDep = Annotated[GatewayState, Depends(_state)]


async def _pilot(
    state: StateDep,
    pilot: Annotated[str, Path(description="pilot code (LEU) or id (1)", examples=["LEU"])],
) -> Pilot:
    found = state.pilot(pilot)
    if found is None:
        codes = ", ".join(p.code for p in state.pilots)
        raise HTTPException(status_code=404, detail=f"unknown pilot {pilot!r}: use one of {codes}")
    return found


PilotDep = Annotated[Pilot, Depends(_pilot)]


def _writes(state: StateDep) -> WriteService:
    if state.writes is None:
        raise HTTPException(
            status_code=503,
            detail="this gateway serves reads only: start it with `loopledger up` to write",
        )
    return state.writes


WritesDep = Annotated[WriteService, Depends(_writes)]


def _passkeys(state: StateDep) -> PasskeyService:
    if state.passkeys is None:
        raise HTTPException(status_code=503, detail="this gateway takes no passkey sign-in")
    return state.passkeys


PasskeysDep = Annotated[PasskeyService, Depends(_passkeys)]

UNAUTHORIZED = (
    "sign in first: with a passkey on the pages, 'Authorization: Bearer <token>' from "
    "POST /api/auth/siwe, or 'X-API-Key: <key>'"
)


def _account(
    request: Request,
    state: StateDep,
    writes: WritesDep,
    authorization: Annotated[str | None, Header(include_in_schema=False)] = None,
    x_api_key: Annotated[str | None, Header(include_in_schema=False)] = None,
    session: Annotated[str | None, Cookie(alias=SESSION_COOKIE, include_in_schema=False)] = None,
) -> str:
    if x_api_key:
        table = state.store.tables["api_key"]
        with state.store.engine.connect() as conn:
            row = conn.execute(
                select(table.c.address, table.c.revoked).where(
                    table.c.key_hash == hash_api_key(x_api_key)
                )
            ).first()
        if row is None or row.revoked:
            raise HTTPException(status_code=401, detail="unknown or revoked API key")
        return str(row.address)
    if authorization:
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise HTTPException(status_code=401, detail=UNAUTHORIZED)
        try:
            address = writes.sessions.verify(token.strip())
        except AuthError as exc:
            raise HTTPException(status_code=401, detail=str(exc)) from exc
        if state.revoked.revoked(token.strip()):
            raise HTTPException(
                status_code=401, detail="this session was signed out: sign in again"
            )
        return address
    if session and state.passkeys is not None:
        # A cookie rides along with any request the browser makes: a write must come from
        # the gateway's own pages (SameSite=Strict already keeps other sites' requests out).
        origin = request.headers.get("origin")
        if request.method not in ("GET", "HEAD") and origin not in (None, state.passkeys.origin):
            raise HTTPException(
                status_code=403,
                detail=f"writes with a page session must come from {state.passkeys.origin}",
            )
        try:
            return state.passkeys.session_address(session)
        except PasskeyError as exc:
            raise HTTPException(status_code=401, detail=str(exc)) from exc
    raise HTTPException(status_code=401, detail=UNAUTHORIZED)


AccountDep = Annotated[str, Depends(_account)]


def _optional_account(
    request: Request,
    state: StateDep,
    authorization: Annotated[str | None, Header(include_in_schema=False)] = None,
    x_api_key: Annotated[str | None, Header(include_in_schema=False)] = None,
    session: Annotated[str | None, Cookie(alias=SESSION_COOKIE, include_in_schema=False)] = None,
) -> str | None:
    """The signed-in account, or None for an anonymous reader (bad credentials still fail)."""
    if not (authorization or x_api_key or session) or state.writes is None:
        return None
    return _account(request, state, state.writes, authorization, x_api_key, session)


OptionalAccountDep = Annotated[str | None, Depends(_optional_account)]
