"""The EPCIS 2.0 query language (section 8.2.7, "SimpleEventQuery") over published events.

A pure function of the events and the query parameters as the REST bindings carry them (one
string per parameter; lists are pipe-delimited). Parameters that test a field the ledger's
events never carry (sensor data, error declarations, persistent dispositions, instance EPCs,
parent ids) select nothing, which is the standard's answer for events without that field; the
ledger records a block's time as both event time and record time.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from fnmatch import fnmatchcase
from typing import Any

from ledger.audit.epcis_mapping import cbv_name
from ledger.errors import LedgerError

__all__ = ["Page", "QueryParameterError", "run_query", "values"]

#: perPage when the client gives none (the REST bindings' default) and at most.
PER_PAGE, PER_PAGE_MAX = 30, 1000

#: Parameters whose field the ledger's events never carry: an event passes only when they ask
#: for the field's absence.
ABSENT_FIELDS = re.compile(
    r"^(MATCH_parentID|MATCH_inputEPC|MATCH_outputEPC|EQ_persistentDisposition_(set|unset)|"
    r"EQ_transformationID|GE_errorDeclarationTime|LT_errorDeclarationTime|EQ_errorReason|"
    r"EQ_correctiveEventID|(EQ|GT|GE|LT|LE)_quantity|(GE|LT)_(startTime|endTime)|EQ_type|EQ_deviceID|"
    r"EQ_dataProcessingMethod|EQ_microorganism|EQ_chemicalSubstance|EQ_bizRules|EQ_stringValue|"
    r"EQ_hexBinaryValue|EQ_uriValue|EQ_booleanValue|EQ_sensorMetadata_.+|EQ_sensorReport_.+|"
    r"(EQ|GT|GE|LT|LE)_(value|minValue|maxValue|meanValue|sDev|percValue)(_.+)?|"
    r"EQ_(bizTransaction|source|destination)_.+|EQ_INNER_.+|EQ_ILMD_.+|EXISTS_ILMD_.+|"
    r"(EQ|GT|GE|LT|LE)_(INNER_)?ILMD_.+)$"
)
#: Parameters that only steer the HTTP exchange, not the selection.
TRANSPORT = {
    "nextPageToken",
    "perPage",
    "orderBy",
    "orderDirection",
    "eventCountLimit",
    "maxEventCount",
    "GS1-CBV-Min",
    "GS1-CBV-Max",
    "GS1-EPCIS-Min",
    "GS1-EPCIS-Max",
    "GS1-EPC-Format",
    "GS1-CBV-XML-Format",
}
#: An event every parameter can be tested on, to refuse bad parameters even when none match.
PROBE = {"type": "ObjectEvent", "eventTime": "2000-01-01T00:00:00Z"}


class QueryParameterError(LedgerError):
    """EPCIS QueryParameterException: a parameter's name or value is not usable."""


@dataclass(frozen=True)
class Page:
    events: list[dict[str, Any]]
    next_token: str | None


def values(raw: str) -> list[str]:
    """A pipe-delimited parameter value as its list (the REST bindings' array encoding)."""
    return [v for v in raw.split("|") if v]


def _time(name: str, raw: str) -> datetime:
    try:
        when = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise QueryParameterError(f"{name}: {raw!r} is not a date-time (RFC 3339)") from None
    if when.tzinfo is None:
        raise QueryParameterError(f"{name}: {raw!r} needs a time zone offset")
    return when


def _event_time(event: Mapping[str, Any]) -> datetime:
    return datetime.fromisoformat(str(event["eventTime"]).replace("Z", "+00:00"))


def _classes(event: Mapping[str, Any], *fields: str) -> list[str]:
    return [str(q.get("epcClass")) for f in fields for q in event.get(f) or []]


def _matches(uri: str, patterns: Sequence[str]) -> bool:
    """EPC pattern matching (section 8.2.7.1.1): exact, or a `*` pattern (idpat or glob)."""
    for pattern in patterns:
        if uri == pattern or fnmatchcase(uri, pattern):
            return True
        if pattern.startswith("urn:epc:idpat:sgtin:") and uri.startswith("urn:epc:class:lgtin:"):
            prefix = pattern.removeprefix("urn:epc:idpat:sgtin:").rstrip("*")
            if uri.removeprefix("urn:epc:class:lgtin:").startswith(prefix):
                return True
    return False


def _test(name: str, raw: str, event: Mapping[str, Any]) -> bool:
    """Whether `event` passes parameter `name` with value `raw`."""
    if name == "eventType":
        return event.get("type") in values(raw)
    if name in ("GE_eventTime", "GE_recordTime"):
        return _event_time(event) >= _time(name, raw)
    if name in ("LT_eventTime", "LT_recordTime"):
        return _event_time(event) < _time(name, raw)
    if name == "EQ_action":
        wanted = values(raw)
        if not set(wanted) <= {"ADD", "OBSERVE", "DELETE"}:
            raise QueryParameterError(f"EQ_action: {raw!r}: use ADD, OBSERVE or DELETE")
        return event.get("action") in wanted
    if name in ("EQ_bizStep", "EQ_disposition"):
        field = "bizStep" if name == "EQ_bizStep" else "disposition"
        have = event.get(field)
        return have is not None and cbv_name(str(have)) in {cbv_name(v) for v in values(raw)}
    if name in ("EQ_readPoint", "WD_readPoint", "EQ_bizLocation", "WD_bizLocation"):
        field = "readPoint" if "readPoint" in name else "bizLocation"
        have = (event.get(field) or {}).get("id")
        return have is not None and have in values(raw)
    if name in ("MATCH_epc", "MATCH_anyEPC"):
        return False  # the ledger's events name lots (classes), never single instances
    if name == "MATCH_epcClass":
        return any(_matches(c, values(raw)) for c in _classes(event, "quantityList"))
    if name == "MATCH_inputEPCClass":
        return any(_matches(c, values(raw)) for c in _classes(event, "inputQuantityList"))
    if name == "MATCH_outputEPCClass":
        return any(_matches(c, values(raw)) for c in _classes(event, "outputQuantityList"))
    if name == "MATCH_anyEPCClass":
        every = _classes(event, "quantityList", "inputQuantityList", "outputQuantityList")
        return any(_matches(c, values(raw)) for c in every)
    if name == "EQ_eventID":
        return event.get("eventID") in values(raw)
    if name == "EXISTS_errorDeclaration":
        return raw.lower() == "false"
    if ABSENT_FIELDS.match(name):
        return False
    raise QueryParameterError(
        f"{name} is not a query parameter of EPCIS 2.0 that this repository knows"
    )


def _token(offset: int, fingerprint: str) -> str:
    raw = json.dumps({"o": offset, "q": fingerprint}).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _offset(token: str, fingerprint: str) -> int:
    try:
        data = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        offset, query = int(data["o"]), data["q"]
    except (ValueError, KeyError, TypeError):
        raise QueryParameterError("nextPageToken: not a token this repository gave out") from None
    if query != fingerprint or offset < 0:
        raise QueryParameterError(
            "nextPageToken: it belongs to another query; repeat the query without it"
        )
    return offset


def run_query(events: Iterable[Mapping[str, Any]], params: Mapping[str, str]) -> Page:
    """One page of the events that pass every parameter, in the order asked for."""
    select = {k: v for k, v in params.items() if k not in TRANSPORT}
    for name, raw in select.items():
        _test(name, raw, PROBE)
    chosen = [dict(e) for e in events if all(_test(k, v, e) for k, v in select.items())]
    order, direction = params.get("orderBy"), params.get("orderDirection", "DESC")
    if direction not in ("ASC", "DESC"):
        raise QueryParameterError(f"orderDirection: {direction!r}: use ASC or DESC")
    if order is not None:
        if order not in ("eventTime", "recordTime"):
            raise QueryParameterError(f"orderBy: {order!r}: use eventTime or recordTime")
        chosen.sort(key=_event_time, reverse=direction == "DESC")
    for name in ("eventCountLimit", "maxEventCount"):
        if name in params:
            try:
                limit = int(params[name])
            except ValueError:
                raise QueryParameterError(
                    f"{name}: {params[name]!r} is not a whole number"
                ) from None
            if limit < 1:
                raise QueryParameterError(f"{name} must be at least 1")
            if name == "maxEventCount" and len(chosen) > limit:
                raise QueryParameterError(
                    f"the query selects more than maxEventCount={limit} events"
                )
            chosen = chosen[:limit]
    try:
        per_page = int(params.get("perPage", PER_PAGE))
    except ValueError:
        raise QueryParameterError(f"perPage: {params['perPage']!r} is not a whole number") from None
    if not 1 <= per_page <= PER_PAGE_MAX:
        raise QueryParameterError(f"perPage must be between 1 and {PER_PAGE_MAX}")
    fingerprint = hashlib.sha256(
        json.dumps(
            sorted((k, v) for k, v in params.items() if k not in ("nextPageToken", "perPage"))
        ).encode()
    ).hexdigest()[:16]
    start = _offset(params["nextPageToken"], fingerprint) if "nextPageToken" in params else 0
    end = start + per_page
    return Page(chosen[start:end], _token(end, fingerprint) if end < len(chosen) else None)
