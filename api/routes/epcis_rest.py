"""The EPCIS 2.0 REST bindings (GS1's OpenAPI document) under one base path, `/epcis`.

Implemented: the top-level resource list, capture (`POST /capture` answers 202 with a capture
job, `GET /capture`, `GET /capture/{captureID}`), the event query (`GET /events` with the
standard query parameters and paging by `nextPageToken`, `GET /events/{eventID}`) and the
resource listings (`/eventTypes`, `/epcs`, `/bizSteps`, `/bizLocations`, `/readPoints`,
`/dispositions`, each with `/{value}` and `/{value}/events`). Named queries, subscriptions,
`POST /events` and OPTIONS discovery answer 501 (ImplementationException), as the standard
says for functionality a repository does not support. Errors are RFC 7807 problems (the
standard's form) that also carry the gateway's own `error` object. Every answer carries
`GS1-EPCIS-Version` and `GS1-CBV-Version`.

Events are the ledger's material events as `ledger.audit.epcis` publishes them, over every
pilot; a captured document's events are recorded on the chain and come back here, once
indexed, with the hash of the captured event they came from as `ll:evidence`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Body, Header, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy import select

from api.capture import capture_job, event_list, start_capture
from api.deps import AccountDep, StateDep, WritesDep
from api.state import GatewayState
from ledger.audit.epcis import CONTEXT, export_events, schema_path, store_tables, validate
from ledger.audit.epcis_mapping import cbv_name
from ledger.audit.epcis_query import Page, QueryParameterError, run_query
from ledger.settings import project_root

__all__ = ["BASE", "GS1_HEADERS", "EpcisProblem", "problem", "router"]

BASE = "/epcis"
GS1_HEADERS = {
    "GS1-EPCIS-Version": "2.0.0",
    "GS1-CBV-Version": "2.0.0",
    "GS1-EPCIS-Capture-Limit": "500",
    "GS1-EPCIS-Capture-File-Size-Limit": "1048576",
}
CAPTURE_LIMIT = 500
TYPES = {
    400: "epcisException:QueryParameterException",
    401: "epcisException:SecurityException",
    403: "epcisException:SecurityException",
    404: "epcisException:NoSuchNameException",
    406: "epcisException:NotAcceptableException",
    413: "epcisException:CaptureLimitExceededException",
    415: "epcisException:UnsupportedMediaTypeException",
    501: "epcisException:ImplementationException",
}
TITLES = {
    400: "Invalid request",
    401: "Unauthorised request",
    403: "Forbidden",
    404: "Resource not found",
    406: "Not acceptable",
    413: "Capture payload too large",
    415: "Unsupported media type",
    501: "Functionality not supported by server",
}

router = APIRouter(prefix=BASE, tags=["EPCIS 2.0"])


class EpcisProblem(Exception):
    def __init__(self, status: int, detail: str, kind: str | None = None) -> None:
        super().__init__(detail)
        self.status, self.detail, self.kind = status, detail, kind


def problem(
    status: int, detail: str, kind: str | None = None, headers: dict[str, str] | None = None
) -> JSONResponse:
    """An RFC 7807 problem in the EPCIS exception vocabulary, with the gateway's error object."""
    body = {
        "type": kind or TYPES.get(status, "epcisException:ImplementationException"),
        "title": TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
        "error": {"code": TYPES.get(status, "error").split(":")[-1], "message": detail},
    }
    return JSONResponse(
        body,
        status_code=status,
        media_type="application/problem+json",
        headers={**GS1_HEADERS, **(headers or {})},
    )


def _json(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(body, status_code=status, headers={**GS1_HEADERS, **(headers or {})})


def _events(state: GatewayState) -> list[dict[str, Any]]:
    """Every published event, computed once per indexed block."""

    def compute() -> list[dict[str, Any]]:
        checkpoint = state.store.checkpoint()
        if checkpoint is None:
            return []
        materials = state.records().materials
        codes = dict(zip(materials["material_id"].astype(int), materials["code"], strict=True))
        return export_events(
            store_tables(state.store),
            chain_id=checkpoint.chain_id,
            pilot_codes={p.id: p.code for p in state.pilots},
            material_codes=codes,
            company_prefix=state.company_prefix,
        )

    events: list[dict[str, Any]] = state.memo(("epcis-rest-events",), compute)
    return events


def _query_document(request: Request, page: Page) -> JSONResponse:
    body = {
        "@context": CONTEXT,
        "type": "EPCISQueryDocument",
        "schemaVersion": "2.0",
        "creationDate": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z"),
        "epcisBody": {
            "queryResults": {
                "queryName": "SimpleEventQuery",
                "resultsBody": {"eventList": page.events},
            }
        },
    }
    headers = {}
    if page.next_token is not None:
        params = {**request.query_params, "nextPageToken": page.next_token}
        headers["Link"] = f'<{request.url.path}?{urlencode(params)}>; rel="next"'
    return _json(body, headers=headers)


def _query(
    state: GatewayState, request: Request, fixed: dict[str, str] | None = None
) -> JSONResponse:
    params = {**request.query_params, **(fixed or {})}
    try:
        page = run_query(_events(state), params)
    except QueryParameterError as exc:
        raise EpcisProblem(400, str(exc)) from exc
    return _query_document(request, page)


def _collection(members: list[str]) -> JSONResponse:
    return _json({"@context": CONTEXT, "type": "Collection", "member": members})


# ---- resources: what each listing holds and the query its /events stands for --------------


def _lots(event: dict[str, Any]) -> list[str]:
    return [
        str(q["epcClass"])
        for f in ("quantityList", "inputQuantityList", "outputQuantityList")
        for q in event.get(f) or []
    ]


RESOURCES: dict[str, tuple[Callable[[dict[str, Any]], list[str]], str]] = {
    "eventTypes": (lambda e: [str(e["type"])], "eventType"),
    "epcs": (_lots, "MATCH_anyEPCClass"),
    "bizSteps": (lambda e: [cbv_name(str(e["bizStep"]))] if e.get("bizStep") else [], "EQ_bizStep"),
    "bizLocations": (
        lambda e: [str(e["bizLocation"]["id"])] if e.get("bizLocation") else [],
        "EQ_bizLocation",
    ),
    "readPoints": (
        lambda e: [str(e["readPoint"]["id"])] if e.get("readPoint") else [],
        "EQ_readPoint",
    ),
    "dispositions": (
        lambda e: [cbv_name(str(e["disposition"]))] if e.get("disposition") else [],
        "EQ_disposition",
    ),
}


def _members(state: GatewayState, resource: str) -> list[str]:
    of, _ = RESOURCES[resource]
    seen: dict[str, None] = {}
    for event in _events(state):
        for value in of(event):
            seen.setdefault(value, None)
    return list(seen)


@router.get("", summary="The top-level resources of this EPCIS repository")
@router.get("/", include_in_schema=False)
def top_level() -> JSONResponse:
    return _collection(
        [
            "events",
            "eventTypes",
            "epcs",
            "bizSteps",
            "bizLocations",
            "readPoints",
            "dispositions",
            "capture",
            "queries",
        ]
    )


@router.post(
    "/capture", status_code=202, summary="Capture an EPCIS document (asynchronous, all or nothing)"
)
def capture(
    state: StateDep,
    writes: WritesDep,
    account: AccountDep,
    doc: Annotated[dict[str, Any], Body()],
    gs1_epcis_version: Annotated[str | None, Header(alias="GS1-EPCIS-Version")] = None,
    gs1_capture_error_behaviour: Annotated[
        str | None, Header(alias="GS1-Capture-Error-Behaviour")
    ] = None,
) -> Response:
    if gs1_epcis_version is not None and not gs1_epcis_version.startswith("2."):
        raise EpcisProblem(
            406, f"GS1-EPCIS-Version {gs1_epcis_version}: this repository speaks EPCIS 2.0"
        )
    if gs1_capture_error_behaviour not in (None, "rollback"):
        raise EpcisProblem(
            400,
            f"GS1-Capture-Error-Behaviour {gs1_capture_error_behaviour}: this repository captures "
            "a document all or nothing; send rollback or leave the header out",
            "epcisException:ValidationException",
        )
    kind = doc.get("type")
    if kind not in ("EPCISDocument", "EPCISQueryDocument"):
        raise EpcisProblem(
            400,
            "the body must be an EPCISDocument or an EPCISQueryDocument",
            "epcisException:ValidationException",
        )
    if kind == "EPCISDocument":
        problems = validate(doc, schema_path(project_root()))
        if problems:
            raise EpcisProblem(400, "; ".join(problems[:10]), "epcisException:ValidationException")
    events = event_list(doc)
    if not events:
        raise EpcisProblem(400, "the document has no events", "epcisException:ValidationException")
    if len(events) > CAPTURE_LIMIT:
        raise EpcisProblem(413, f"{len(events)} events: at most {CAPTURE_LIMIT} per capture")
    capture_id = start_capture(
        writes,
        state.store,
        doc,
        account=account,
        pilots=state.pilots,
        company_prefix=state.company_prefix,
    )
    return Response(
        status_code=202, headers={**GS1_HEADERS, "Location": f"{BASE}/capture/{capture_id}"}
    )


def _jobs(state: GatewayState, account: str, capture_id: str | None = None) -> list[Any]:
    table = state.store.tables["epcis_capture"]
    query = select(table).where(table.c.account == account).order_by(table.c.created_at.desc())
    if capture_id is not None:
        query = query.where(table.c.capture_id == capture_id)
    with state.store.engine.connect() as conn:
        return list(conn.execute(query.limit(200)).all())


@router.get("/capture", summary="The signed-in account's capture jobs")
def capture_jobs(state: StateDep, account: AccountDep) -> JSONResponse:
    return _json([capture_job(row) for row in _jobs(state, account)])


@router.get("/capture/{captureID}", summary="One capture job")
def capture_status(state: StateDep, account: AccountDep, captureID: str) -> JSONResponse:
    rows = _jobs(state, account, captureID)
    if not rows:
        raise EpcisProblem(404, f"no capture job {captureID} of {account}")
    return _json(capture_job(rows[0]))


@router.get("/events", summary="Events selected by the EPCIS query language's parameters")
def events(state: StateDep, request: Request) -> JSONResponse:
    return _query(state, request)


@router.get("/events/{eventID:path}", summary="One event by its eventID")
def event(state: StateDep, eventID: str) -> JSONResponse:
    found = next((e for e in _events(state) if e["eventID"] == eventID), None)
    if found is None:
        raise EpcisProblem(404, f"no event {eventID}")
    return _json(found)


def _listing(resource: str) -> None:
    _, parameter = RESOURCES[resource]

    def listing(state: StateDep) -> JSONResponse:
        return _collection(_members(state, resource))

    def sub(state: StateDep, value: str) -> JSONResponse:
        if value not in _members(state, resource):
            raise EpcisProblem(404, f"no {resource} {value!r} in this repository")
        return _collection(["events"])

    def sub_events(state: StateDep, request: Request, value: str) -> JSONResponse:
        if value not in _members(state, resource):
            raise EpcisProblem(404, f"no {resource} {value!r} in this repository")
        return _query(state, request, {parameter: value})

    router.add_api_route(
        f"/{resource}", listing, methods=["GET"], summary=f"The {resource} of the events"
    )
    router.add_api_route(
        f"/{resource}/{{value:path}}/events",
        sub_events,
        methods=["GET"],
        summary=f"Events of one of the {resource}",
    )
    router.add_api_route(
        f"/{resource}/{{value:path}}", sub, methods=["GET"], summary=f"One of the {resource}"
    )


for _resource in RESOURCES:
    _listing(_resource)


def unsupported() -> JSONResponse:
    return problem(
        501,
        "this EPCIS repository does not support this operation: it offers capture, "
        "the event query and the resource listings",
    )


for _path, _methods in (
    ("/events", ["POST"]),
    ("/queries", ["GET", "POST"]),
    ("/queries/{rest:path}", ["GET", "POST", "DELETE"]),
    ("/nextPageToken/{token}", ["DELETE"]),
    ("/{rest:path}", ["OPTIONS"]),
):
    router.add_api_route(_path, unsupported, methods=_methods, include_in_schema=False)
