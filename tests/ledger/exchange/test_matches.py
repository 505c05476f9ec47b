"""Accepting a match twice, or many times at once, moves it out of 'proposed' once."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import insert, select

from ledger.exchange.matches import transition
from ledger.store.db import Store


def _store(tmp: Path) -> tuple[Store, int]:
    store = Store.open(f"sqlite:///{tmp / 'index.sqlite'}")
    t = store.tables
    with store.engine.begin() as conn:
        org = conn.execute(
            insert(t["organisation"]).values(pilot_id=1, name="o", kind="maker", created_at=0)
        )
        site = conn.execute(
            insert(t["site"]).values(
                organisation_id=org.inserted_primary_key[0],
                name="s",
                kind="workshop",
                lat=0.0,
                lon=0.0,
            )
        )
        ids = []
        for i, side in enumerate(("available", "wanted")):
            row = conn.execute(
                insert(t["listing"]).values(
                    pilot_id=1,
                    chain_id=1,
                    account=f"0x{i}",
                    side=side,
                    material="17 02 01",
                    grams=1,
                    lot_id=None,
                    site_id=site.inserted_primary_key[0],
                    created_at=0,
                    expires_at=10,
                    nonce=i,
                    digest=f"0x{i}",
                    signature="0x",
                    status="open",
                )
            )
            ids.append(row.inserted_primary_key[0])
        match = conn.execute(
            insert(t["exchange_match"]).values(
                pilot_id=1,
                available_id=ids[0],
                wanted_id=ids[1],
                grams=1,
                score=1.0,
                explanation="",
                distance_km=0.0,
                co2e_kg=0.0,
                state="proposed",
                proposed_by="0x0",
                proposed_at=0,
            )
        )
    return store, int(match.inserted_primary_key[0])


@settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(attempts=st.integers(2, 12), declines=st.integers(0, 4))
def test_accepting_many_times_at_once_claims_once(
    tmp_path_factory: object, attempts: int, declines: int
) -> None:
    store, match_id = _store(tmp_path_factory.mktemp("m"))  # type: ignore[attr-defined]
    table = store.tables["exchange_match"]

    def accept(i: int) -> bool:
        with store.engine.begin() as conn:
            return transition(
                conn, table, match_id, "proposed", "accepted", decided_by=f"0x{i}", decided_at=i
            )

    def decline(i: int) -> bool:
        with store.engine.begin() as conn:
            return transition(conn, table, match_id, "proposed", "declined", decided_at=i)

    with ThreadPoolExecutor(4) as pool:
        accepted = list(pool.map(accept, range(attempts)))
        declined = list(pool.map(decline, range(declines)))
    with store.engine.connect() as conn:
        state = conn.execute(select(table.c.state).where(table.c.id == match_id)).scalar_one()
    assert sum(accepted) == 1 and not any(declined) and state == "accepted"
