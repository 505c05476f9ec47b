"""The demo's exchange and challenges, seeded through the gateway's endpoints on anvil."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from sqlalchemy import func, select

from api.assemble import custody_of, relayer_for, write_service
from api.demo_exchange import seed_exchange
from api.state import GatewayState
from ledger.build import Artifact
from ledger.chain import AnvilChain
from ledger.clients import Suite
from ledger.deploy import deploy
from ledger.indexer import indexer_for
from ledger.runtime import dev_admins
from ledger.store.db import Store
from pilots.model import Pilot
from pilots.seed import DemoCustody, seed_scenario
from tests.conftest import anvil_settings

pytestmark = [pytest.mark.anvil, pytest.mark.slow]


def test_demo_has_sites_listings_matches_handovers_and_challenges(
    tmp_path: Path, artifacts: dict[str, Artifact], pilots: list[Pilot]
) -> None:
    chain = AnvilChain.start(anvil_settings(tmp_path))
    stop = threading.Event()
    try:
        manifest, _ = deploy(
            chain, artifacts, pilots, tmp_path / "manifest.json", admins=dev_admins(chain, pilots)
        )
        suite = Suite(chain, manifest, artifacts)
        seed_scenario(suite, pilots, seed=7, scale=0.1, months=3)
        store = Store.open(f"sqlite:///{tmp_path / 'index.sqlite'}")
        indexer_for(suite, store).run()
        follower = threading.Thread(
            target=indexer_for(suite, store).run,
            kwargs={"follow": True, "stop": stop, "poll": 0.05},
            daemon=True,
        )
        follower.start()
        custody = custody_of(tmp_path / "data", "demo-password", DemoCustody(7, pilots))
        relayer = relayer_for(suite, store, custody, chain.accounts[-1])
        relaying = threading.Thread(target=relayer.run, args=(stop,), daemon=True)
        relaying.start()
        writes = write_service(suite, store, custody, data_dir=tmp_path / "data", relayer=relayer)
        state = GatewayState(store, pilots, writes)
        report = seed_exchange(state, writes, seed=7)
        assert report is not None and report.handed_over > 0 and report.challenges == len(pilots)
        assert seed_exchange(state, writes, seed=7) is None  # once
        t = store.tables
        with store.engine.connect() as conn:
            for pilot in pilots:
                count = lambda table, *where: conn.execute(  # noqa: E731
                    select(func.count()).select_from(t[table]).where(*where)
                ).scalar_one()
                assert count("organisation", t["organisation"].c.pilot_id == pilot.id) >= 2
                assert count("listing", t["listing"].c.pilot_id == pilot.id) >= 3
                assert count("challenge", t["challenge"].c.pilot_id == pilot.id) == 1
            handed = (
                conn.execute(
                    select(t["exchange_match"]).where(t["exchange_match"].c.state == "handed_over")
                )
                .mappings()
                .all()
            )
            proposals = conn.execute(select(func.count()).select_from(t["proposal"])).scalar_one()
        assert proposals == 2 * len(pilots)
        for match in handed:  # each hand-over is on chain with the match record's hash as evidence
            assert state.wait_indexed(chain.w3.eth.block_number)
            with store.engine.connect() as conn:
                evidence = conn.execute(
                    select(t["transfer"].c.evidence).where(
                        t["transfer"].c.tx_hash == match["tx_hash"]
                    )
                ).scalar_one()
            assert evidence == match["record_hash"]
        writes.close()
    finally:
        stop.set()
        chain.close()
