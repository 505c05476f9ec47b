"""The LoopLedger gateway: JSON API under /api, dashboards at /, OpenAPI at /openapi.json and /docs."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles

from api.routes import lots, pilots
from api.state import GatewayState

__all__ = ["create_app"]

STATIC = Path(__file__).resolve().parent / "static"


def _error(
    status: int, code: str, message: str, fields: list[dict[str, str]] | None = None
) -> JSONResponse:
    body: dict[str, object] = {"error": {"code": code, "message": message}}
    if fields:
        body["error"]["fields"] = fields  # type: ignore[index]
    return JSONResponse(status_code=status, content=body)


def create_app(state: GatewayState) -> FastAPI:
    app = FastAPI(
        title="LoopLedger gateway",
        version="0.1.0",
        description="Circular-production ledger of the seven pilot cities: pilots, flows, metrics and provenance.",
    )
    app.state.gateway = state
    app.include_router(pilots.router)
    app.include_router(lots.router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.exception_handler(HTTPException)
    async def http_error(_: Request, exc: HTTPException) -> JSONResponse:
        return _error(
            exc.status_code,
            "http_error" if exc.status_code != 404 else "not_found",
            str(exc.detail),
        )

    @app.exception_handler(RequestValidationError)
    async def validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        fields = [
            {"field": ".".join(str(p) for p in e["loc"]), "message": e["msg"]} for e in exc.errors()
        ]
        return _error(422, "invalid_input", "the request is invalid; see fields", fields)

    @app.get("/", include_in_schema=False)
    def dashboard() -> FileResponse:
        return FileResponse(STATIC / "dashboard.html")

    @app.get("/api/health", tags=["health"], summary="Liveness and the indexed block")
    def health() -> dict[str, object]:
        return {"status": "ok", "indexed_block": state.indexed_block()}

    return app
