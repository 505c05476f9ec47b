"""An EPCIS document's events that are already on this chain are found by their event id before
anything is imported (re-importing a chain's own export used to record every event again)."""

from __future__ import annotations

import pytest

from ledger.audit.epcis import document
from ledger.audit.epcis_known import chain_event_ids, split_known, without_events
from pilots.model import Pilot
from tests.api.test_writes import Gateway, gw  # noqa: F401  (the module-scoped gateway fixture)
from tests.ledger.test_epcis import PALLETS, SCHEMA, _export
from tests.ledger.test_indexer import LEUVEN


@pytest.fixture(autouse=True)
def _schema_present() -> None:
    if not SCHEMA.exists():
        pytest.skip(f"the EPCIS 2.0 JSON schema is absent: expected at {SCHEMA}")


def test_own_export_is_recognised_and_new_events_are_not(gw: Gateway, pilots: list[Pilot]) -> None:  # noqa: F811
    exported = _export(gw.suite, gw.store, pilots, maker=gw.alice.address)
    assert exported, "the gateway's story holds records of alice"
    codes = {v: k for k, v in gw.suite.manifest.materials.items()}
    on_chain = chain_event_ids(
        gw.store,
        pilot=LEUVEN,
        chain_id=gw.suite.manifest.chain_id,
        pilot_codes={p.id: p.code for p in pilots},
        material_codes=codes,
    )
    doc = document([*exported, PALLETS])
    found = split_known(doc["epcisBody"]["eventList"], on_chain)
    assert [i for i, _ in found.known] == list(range(len(exported)))
    assert found.new == [len(exported)], "a hand-written event is new"
    assert "already on this chain" in found.describe(len(exported) + 1)
    # A forged eventID does not hide a known event: the hash is computed again.
    forged = [{**e, "eventID": "ni:///sha-256;00?ver=CBV2.0"} for e in exported]
    assert len(split_known(forged, on_chain).known) == len(exported)
    assert without_events(doc, found.new)["epcisBody"]["eventList"] == [PALLETS]
