"""The LoopLedger gateway: JSON API under /api, dashboards at /, OpenAPI at /openapi.json and /docs."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles

from api.routes import audit, auth, community, epcis, lots, pilots, records, wallet
from api.state import GatewayState
from ledger.errors import LedgerError
from ledger.write.plan import WriteRejected
from ledger.write.rpc import redact

__all__ = ["create_app"]

STATIC = Path(__file__).resolve().parent / "static"
PAGES = {"/": "dashboard.html", "/maker": "maker.html", "/wallet": "wallet.html",
         "/audit": "audit.html", "/receipt": "receipt.html"}  # fmt: skip
#: The community programme's pages.
PAGES |= {
    "/impact": "impact.html",
    "/checkin": "checkin.html",
    "/events": "events.html",
    "/credential": "credential.html",
}
CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
         405: "method_not_allowed", 409: "conflict", 422: "invalid_input", 429: "rate_limited",
         503: "unavailable"}  # fmt: skip


def _error(
    status: int,
    code: str,
    message: str,
    fields: list[dict[str, str]] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body: dict[str, object] = {"error": {"code": code, "message": message}}
    if fields:
        body["error"]["fields"] = fields  # type: ignore[index]
    return JSONResponse(status_code=status, content=body, headers=headers)


def _location(loc: tuple[object, ...]) -> tuple[object, ...]:
    """A field's path in the body, without the tag of a one-or-many body (see routes.records)."""
    if len(loc) > 1 and loc[0] == "body" and loc[1] in ("batch", "record"):
        return (loc[0], *loc[2:])
    return loc


def _page(name: str) -> Callable[[], FileResponse]:
    def page() -> FileResponse:
        return FileResponse(STATIC / name)

    return page


def create_app(state: GatewayState) -> FastAPI:
    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        if state.writes is not None:
            state.writes.close()

    app = FastAPI(
        lifespan=lifespan,
        title="LoopLedger gateway",
        version="0.1.0",
        description="Circular-production ledger of the seven pilot cities: pilots, flows, metrics and provenance.",
    )
    app.state.gateway = state
    for module in (pilots, lots, records, wallet, auth, audit, epcis, community):
        app.include_router(module.router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.exception_handler(HTTPException)
    async def http_error(_: Request, exc: HTTPException) -> JSONResponse:
        return _error(exc.status_code, CODES.get(exc.status_code, "http_error"), str(exc.detail),
                      headers=dict(exc.headers or {}))  # fmt: skip

    @app.exception_handler(WriteRejected)
    async def write_rejected(_: Request, exc: WriteRejected) -> JSONResponse:
        fields = [{"field": f, "message": redact(m)} for f, m in exc.reasons]
        message = (
            "the request is invalid; see fields" if exc.status == 422 else fields[0]["message"]
        )
        return _error(exc.status, CODES.get(exc.status, "http_error"), message, fields)

    @app.exception_handler(LedgerError)
    async def ledger_error(_: Request, exc: LedgerError) -> JSONResponse:
        # The chain or the store failed underneath a request: say so, without URLs or keys.
        return _error(503, "unavailable", redact(str(exc)))

    @app.exception_handler(RequestValidationError)
    async def validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        fields = [
            {"field": ".".join(str(p) for p in _location(e["loc"])), "message": e["msg"]}
            for e in exc.errors()
        ]
        return _error(422, "invalid_input", "the request is invalid; see fields", fields)

    for route, page in PAGES.items():
        app.add_api_route(route, _page(page), include_in_schema=False, methods=["GET"])

    @app.get("/api/health", tags=["health"], summary="Liveness and the indexed block")
    def health() -> dict[str, object]:
        return {"status": "ok", "indexed_block": state.indexed_block()}

    return app
