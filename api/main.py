"""The LoopLedger gateway: JSON API under /api, dashboards at /, OpenAPI at /openapi.json and /docs."""

from __future__ import annotations

import sys
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from http import HTTPStatus
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException

from api.health import Health, health_of
from api.routes import (
    admin,
    audit,
    auth,
    challenges,
    community,
    epcis,
    epcis_rest,
    exchange,
    lots,
    passkeys,
    passport,
    pilots,
    records,
    wallet,
)
from api.routes.epcis_rest import EpcisProblem, problem
from api.security import SecurityHeaders
from api.state import GatewayState
from ledger.errors import LedgerError
from ledger.settings import project_root
from ledger.write.plan import WriteRejected
from ledger.write.rpc import redact

__all__ = ["create_app"]

STATIC = Path(__file__).resolve().parent / "static"
#: Seconds a thread holds the GIL before one waiting for it may take it (see `create_app`).
GIL_SWITCH_INTERVAL = 0.001
#: Swagger UI and ReDoc come from the pinned npm packages, so /docs works without internet.
DOC_ASSETS = {
    "swagger": project_root() / "node_modules" / "swagger-ui-dist",
    "redoc": project_root() / "node_modules" / "redoc" / "bundles",
}
#: Each page's path and file: the role pages, then the community programme's and the exchange's.
PAGES = {
    "/": "dashboard.html",
    "/maker": "maker.html",
    "/wallet": "wallet.html",
    "/audit": "audit.html",
    "/receipt": "receipt.html",
    "/enrol": "enrol.html",
    "/impact": "impact.html",
    "/checkin": "checkin.html",
    "/events": "events.html",
    "/credential": "credential.html",
    "/exchange": "exchange.html",
    "/challenges": "challenges.html",
    "/staff": "staff.html",
}
CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    422: "invalid_input",
    429: "rate_limited",
    503: "unavailable",
}


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


def _docs(app: FastAPI) -> None:
    """/docs (Swagger UI) and /redoc from local assets; a clear 503 when they are not installed."""
    missing = [str(path) for path in DOC_ASSETS.values() if not path.is_dir()]
    for name, path in DOC_ASSETS.items():
        if path.is_dir():
            app.mount(f"/static/{name}", StaticFiles(directory=path), name=f"{name}-assets")

    def unavailable() -> HTMLResponse:
        return HTMLResponse(
            f"API documentation assets are missing ({', '.join(missing)}): run `npm ci`",
            status_code=503,
        )

    @app.get("/docs", include_in_schema=False)
    def swagger() -> HTMLResponse:
        if missing:
            return unavailable()
        page = get_swagger_ui_html(
            openapi_url="/openapi.json",
            title=f"{app.title} - API",
            swagger_js_url="/static/swagger/swagger-ui-bundle.js",
            swagger_css_url="/static/swagger/swagger-ui.css",
            swagger_favicon_url="/static/swagger/favicon-32x32.png",
        )
        return page

    @app.get("/redoc", include_in_schema=False)
    def redoc() -> HTMLResponse:
        if missing:
            return unavailable()
        page = get_redoc_html(
            openapi_url="/openapi.json",
            title=f"{app.title} - API reference",
            redoc_js_url="/static/redoc/redoc.standalone.js",
            redoc_favicon_url="/static/swagger/favicon-32x32.png",
            with_google_fonts=False,
        )
        return page


def create_app(state: GatewayState, *, on_close: Callable[[], None] = lambda: None) -> FastAPI:
    """The gateway over `state`; `on_close` runs when it shuts down (after the write service)."""

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        # A database driver releases the GIL around every row it steps, and a thread that wants
        # it back waits up to the switch interval (5 ms by default) while the event loop holds
        # it: under load a background refresh of 100 rows then takes half a second. A 1 ms
        # interval keeps the dashboards' refreshes within a block time of the index.
        switch = sys.getswitchinterval()
        sys.setswitchinterval(min(switch, GIL_SWITCH_INTERVAL))
        try:
            yield
        finally:
            sys.setswitchinterval(switch)
        try:
            if state.writes is not None:
                state.writes.close()
        finally:
            on_close()

    app = FastAPI(
        lifespan=lifespan,
        title="LoopLedger gateway",
        version="0.1.0",
        description="Circular-production ledger of the seven pilot cities: pilots, flows, metrics and provenance.",
        docs_url=None,
        redoc_url=None,
    )
    app.state.gateway = state
    app.add_middleware(SecurityHeaders)
    for module in (
        pilots,
        lots,
        records,
        wallet,
        auth,
        passkeys,
        audit,
        epcis,
        epcis_rest,
        passport,
        community,
        exchange,
        challenges,
        admin,
    ):
        app.include_router(module.router)
    _docs(app)  # before /static: its asset mounts live under that prefix
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    def under_epcis(request: Request) -> bool:
        """Under the EPCIS base path errors take the standard's form (RFC 7807 problems)."""
        path = request.url.path
        return path == epcis_rest.BASE or path.startswith(epcis_rest.BASE + "/")

    @app.exception_handler(EpcisProblem)
    async def epcis_problem(_: Request, exc: EpcisProblem) -> JSONResponse:
        return problem(exc.status, exc.detail, exc.kind)

    # Starlette's HTTPException (FastAPI's is a subclass): routing's own 404 and 405 come this way too.
    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> JSONResponse:
        if under_epcis(request):
            return problem(exc.status_code, str(exc.detail), headers=dict(exc.headers or {}))
        message = {
            404: f"nothing at {request.url.path}: see /docs for the API's paths",
            405: f"{request.method} is not allowed on {request.url.path}: see /docs",
        }
        default = exc.detail == HTTPStatus(exc.status_code).phrase
        text = message.get(exc.status_code, str(exc.detail)) if default else str(exc.detail)
        return _error(
            exc.status_code,
            CODES.get(exc.status_code, "http_error"),
            text,
            headers=dict(exc.headers or {}),
        )

    @app.exception_handler(WriteRejected)
    async def write_rejected(request: Request, exc: WriteRejected) -> JSONResponse:
        if under_epcis(request):
            return problem(exc.status, "; ".join(f"{f}: {redact(m)}" for f, m in exc.reasons))
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
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        if under_epcis(request):
            if "json" not in request.headers.get("content-type", "json"):
                return problem(
                    415, "send the EPCIS document as application/json or application/ld+json"
                )
            where = "; ".join(
                f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()
            )
            return problem(400, where, "epcisException:ValidationException")
        fields = [
            {"field": ".".join(str(p) for p in _location(e["loc"])), "message": e["msg"]}
            for e in exc.errors()
        ]
        return _error(422, "invalid_input", "the request is invalid; see fields", fields)

    for route, page in PAGES.items():
        app.add_api_route(route, _page(page), include_in_schema=False, methods=["GET"])

    @app.get(
        "/api/health",
        tags=["health"],
        response_model=Health,
        responses={503: {"description": "the index lags or its follower is down"}},
        summary="Chain head, indexed block, lag and follower state (503 when behind)",
    )
    def health() -> JSONResponse:
        store = state.store
        report = health_of(store.checkpoint(), store.follower_state(), time.time(), state.health)
        body: dict[str, object] = report.model_dump()
        if report.status == "ok":
            return JSONResponse(body)
        body["error"] = {"code": "unavailable", "message": "; ".join(report.reasons)}
        return JSONResponse(body, status_code=503)

    return app
