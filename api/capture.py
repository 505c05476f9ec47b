"""EPCIS capture jobs: the one place where a captured document is written to the chain.

A foreign document is translated whole first (`ledger.audit.epcis_mapping.translate`); each
batch (consecutive events of one maker) then becomes the import's planner records
(`ledger.audit.epcis.plan_import`), and the batches of a pilot become one job with a part per
maker, each signed by its maker (`WriteService.submit_parts`): the planner follows the lots that
earlier batches create or hand over, and the relayer sends all parts in one all-or-nothing
transaction.
"""

from __future__ import annotations

import json
import re
import secrets
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from typing import Any

from sqlalchemy import insert, select, update

from api.writes import WriteService
from ledger.audit.epcis import plan_import, remember_event_times, schema_path
from ledger.audit.epcis_mapping import Batch, ImportMapping, translate
from ledger.audit.gs1 import Identifiers
from ledger.errors import LedgerError
from ledger.settings import project_root
from ledger.store.db import Store
from ledger.vocabulary import Role
from ledger.write.plan import Part, WriteRejected
from pilots.model import Pilot

__all__ = ["CaptureOutcome", "capture_job", "load_mappings", "start_capture"]

EVENT_WHERE = re.compile(r"^event (\d+)\b")
#: How long a batch may take to be confirmed before the capture gives up on the rest (seconds).
CONFIRM_TIMEOUT = 120.0


@dataclass
class CaptureOutcome:
    problems: list[tuple[str, str]] = field(default_factory=list)
    recorded: list[dict[str, Any]] = field(default_factory=list)


def load_mappings(store: Store) -> list[ImportMapping]:
    table = store.tables["epcis_mapping"]
    with store.engine.connect() as conn:
        rows = conn.execute(select(table.c.body)).all()
    return [ImportMapping.model_validate_json(row.body) for row in rows]


def event_list(doc: Mapping[str, Any]) -> list[Any]:
    """The events of an EPCISDocument or an EPCISQueryDocument."""
    body = doc.get("epcisBody") or {}
    if "queryResults" in body:
        return list(body["queryResults"].get("resultsBody", {}).get("eventList", []))
    return list(body.get("eventList", []))


def _origin(batch: Batch, where: str) -> str:
    """A reason's place named by the event of the captured document it came from."""
    found = EVENT_WHERE.match(where)
    if found is None or int(found.group(1)) >= len(batch.origins):
        return where
    return EVENT_WHERE.sub(f"event {batch.origins[int(found.group(1))]}", where, count=1)


def run_capture(
    writes: WriteService,
    doc: Mapping[str, Any],
    *,
    capture_id: str,
    account: str,
    mappings: Sequence[ImportMapping],
    pilots: Sequence[Pilot],
    company_prefix: str | None,
) -> CaptureOutcome:
    """Translate, plan and record a captured document; every problem as (where, why)."""
    outcome = CaptureOutcome()
    chain_id = writes.chain_id
    if not mappings:
        outcome.problems.append(
            (
                "document",
                "no pilot has an EPCIS import mapping yet: its admin "
                "sets one with PUT /api/pilots/{pilot}/epcis/mapping",
            )
        )
        return outcome
    try:
        batches = translate(
            {"epcisBody": {"eventList": event_list(doc)}},
            mappings,
            ids=Identifiers(chain_id, company_prefix),
        )
    except WriteRejected as exc:
        outcome.problems.extend(exc.reasons)
        return outcome
    by_code = {p.code: p for p in pilots}
    for batch in batches:
        pilot = by_code[batch.pilot]
        if account != batch.maker and not writes.roles(pilot.id, account) & Role.ADMIN:
            outcome.problems.append(
                (
                    f"event {batch.origins[0]}",
                    f"{account} may not record for maker {batch.maker}: "
                    f"capture as that maker or as the admin of pilot {pilot.code}",
                )
            )
    if outcome.problems:
        return outcome
    created = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    remember_event_times(writes.queue.store, event_list(doc))
    # One all-or-nothing job per pilot: each maker's batch is a part signed by that maker, so
    # what one maker hands over the next can use, and nothing is recorded unless all of it is.
    by_pilot: dict[str, list[Batch]] = {}
    for batch in batches:
        by_pilot.setdefault(batch.pilot, []).append(batch)
    for code, pilot_batches in by_pilot.items():
        pilot = by_code[code]
        origins = [i for batch in pilot_batches for i in batch.origins]
        where = f"events {origins[0]}-{origins[-1]}"
        try:
            parts = []
            for batch in pilot_batches:
                plan = plan_import(
                    batch.document(created),
                    schema=schema_path(project_root()),
                    chain_id=chain_id,
                    pilot_code=pilot.code,
                )
                named = partial(_named, batch, plan.where)
                parts.append(Part(batch.maker, tuple(plan.records), named))
            job, _ = writes.submit_parts(
                account=account,
                pilot=pilot.id,
                kind="epcis-capture",
                content={"capture": capture_id, "pilot": code},
                idem_key=None,
                parts=partial(tuple, parts),
            )
            job = writes.queue.wait(job.job_id, timeout=CONFIRM_TIMEOUT, settled=writes.settled)
        except WriteRejected as exc:
            outcome.problems.extend(exc.reasons)
        except LedgerError as exc:
            outcome.problems.append((where, str(exc)))
        else:
            if job.state == "failed":
                reasons = (job.error or {}).get("reasons") or [[where, "the ledger refused it"]]
                outcome.problems.extend((str(w), str(why)) for w, why in reasons)
            elif job.state != "confirmed":
                outcome.problems.append(
                    (
                        where,
                        f"job {job.job_id} is not confirmed after {CONFIRM_TIMEOUT:.0f} s; "
                        "it is still queued and will be recorded whole or not at all",
                    )
                )
        if outcome.problems:
            if outcome.recorded:
                outcome.problems.append(
                    (
                        "document",
                        "the events of pilots before this one were recorded: see the capture "
                        "job's result",
                    )
                )
            return outcome
        for batch in pilot_batches:
            outcome.recorded.append(
                {
                    "maker": batch.maker,
                    "pilot": pilot.code,
                    "events": batch.origins,
                    "job": job.job_id,
                    "tx_hash": job.tx_hash,
                    "block_number": job.block_number,
                    "lots": job.handles,
                }
            )
    return outcome


def _named(batch: Batch, where: Callable[[int], str], index: int) -> str:
    """Record `index` of a batch, named by its event in the captured document."""
    return _origin(batch, where(index))


def _iso(ts: int | None) -> str | None:
    return None if ts is None else datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def capture_job(row: Any) -> dict[str, Any]:
    """A capture job row as the EPCIS 2.0 REST bindings' CaptureJob."""
    job: dict[str, Any] = {
        "captureID": row.capture_id,
        "createdAt": _iso(row.created_at),
        "running": bool(row.running),
        "success": bool(row.success),
        "captureErrorBehaviour": "rollback",
        "errors": json.loads(row.errors),
    }
    if row.finished_at is not None:
        job["finishedAt"] = _iso(row.finished_at)
    job["ll:result"] = json.loads(row.result)
    return job


def start_capture(
    writes: WriteService,
    store: Store,
    doc: Mapping[str, Any],
    *,
    account: str,
    pilots: Sequence[Pilot],
    company_prefix: str | None,
) -> str:
    """Store a running capture job, run it in a thread, and give its id."""
    capture_id = "cap" + secrets.token_hex(12)
    table = store.tables["epcis_capture"]
    with store.engine.begin() as conn:
        conn.execute(
            insert(table).values(
                capture_id=capture_id,
                account=account,
                created_at=int(time.time()),
                running=True,
                success=True,
                events=len(event_list(doc)),
                errors="[]",
                result="{}",
            )
        )

    def work() -> None:
        try:
            outcome = run_capture(
                writes,
                doc,
                capture_id=capture_id,
                account=account,
                mappings=load_mappings(store),
                pilots=pilots,
                company_prefix=company_prefix,
            )
        except Exception as exc:  # a job never stays "running" because its thread died
            outcome = CaptureOutcome(problems=[("document", f"the capture failed: {exc}")])
        problems = [
            {
                "type": "epcisException:ValidationException",
                "title": where,
                "detail": why,
                "status": 400,
            }
            for where, why in outcome.problems
        ]
        with store.engine.begin() as conn:
            conn.execute(
                update(table)
                .where(table.c.capture_id == capture_id)
                .values(
                    running=False,
                    success=not problems,
                    finished_at=int(time.time()),
                    errors=json.dumps(problems),
                    result=json.dumps({"recorded": outcome.recorded}),
                )
            )

    threading.Thread(target=work, name=f"capture-{capture_id}", daemon=True).start()
    return capture_id
