"""Dependencies of the routes, as Annotated aliases."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Path, Request

from api.state import GatewayState
from pilots.model import Pilot

__all__ = ["PilotDep", "StateDep"]


def _state(request: Request) -> GatewayState:
    state: GatewayState = request.app.state.gateway
    return state


StateDep = Annotated[GatewayState, Depends(_state)]


def _pilot(
    state: StateDep,
    pilot: Annotated[str, Path(description="pilot code (LEU) or id (1)", examples=["LEU"])],
) -> Pilot:
    found = state.pilot(pilot)
    if found is None:
        codes = ", ".join(p.code for p in state.pilots)
        raise HTTPException(status_code=404, detail=f"unknown pilot {pilot!r}: use one of {codes}")
    return found


PilotDep = Annotated[Pilot, Depends(_pilot)]
