"""`audit verify`: the store is compared with the chain alone; tampering is reported exactly."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import delete, insert, select, update

from ledger.audit.verify import pilot_headlines, verify
from ledger.chain import AnvilChain
from ledger.circularity.records import load_records
from ledger.clients import Suite
from ledger.indexer import indexer_for
from ledger.store.db import Store
from ledger.vocabulary import ContributionKind
from tests.ledger.test_indexer import LEUVEN, story

pytestmark = pytest.mark.anvil


@pytest.fixture
def indexed(anvil_suite: Suite, tmp_path: Path) -> tuple[Suite, Store]:
    story(anvil_suite)
    alice = anvil_suite.chain.accounts[8]
    anvil_suite.contributions.record(alice, LEUVEN, ContributionKind.REPAIR, 45)
    store = Store.open(f"sqlite:///{tmp_path / 'index.sqlite'}")
    indexer_for(anvil_suite, store).run()
    return anvil_suite, store


def test_an_untouched_store_matches(indexed: tuple[Suite, Store]) -> None:
    suite, store = indexed
    report = verify(suite, store, pilot_ids=range(1, 8))
    assert report.ok, [m.describe() for m in report.mismatches]
    assert report.rows_checked > 30 and report.lots_checked == 5 and report.metrics_checked
    # The recomputed figures are the store's own.
    assert pilot_headlines(load_records(store.engine), [LEUVEN])[LEUVEN]["inflow_kg"] == 12.0


def test_changed_deleted_and_added_rows_are_each_reported(indexed: tuple[Suite, Store]) -> None:
    suite, store = indexed
    t = store.tables
    with store.engine.begin() as conn:
        dispatch = (
            conn.execute(select(t["dispatch"]).order_by(t["dispatch"].c.block_number))
            .mappings()
            .first()
        )
        assert dispatch is not None
        conn.execute(
            update(t["dispatch"])
            .where(t["dispatch"].c.tx_hash == dispatch["tx_hash"])
            .values(fate=7)
        )
        contribution = conn.execute(select(t["contribution"])).mappings().one()
        conn.execute(delete(t["contribution"]))
        forged = {**contribution, "contribution_id": 99, "log_index": 77, "amount": 600}
        conn.execute(insert(t["contribution"]).values(**forged))

    report = verify(suite, store, pilot_ids=range(1, 8))
    rows = {
        (m.kind, m.table, m.tx_hash, m.log_index)
        for m in report.mismatches
        if m.block_number is not None
    }
    assert rows == {
        ("changed", "dispatch", dispatch["tx_hash"], dispatch["log_index"]),
        ("missing", "contribution", contribution["tx_hash"], contribution["log_index"]),
        ("extra", "contribution", contribution["tx_hash"], 77),
    }
    changed = next(m for m in report.mismatches if m.kind == "changed" and m.table == "dispatch")
    assert changed.fields == {"fate": {"store": 7, "chain": dispatch["fate"]}}
    # A landfilled dispatch changes the published figures, and the audit says so.
    figures = [m for m in report.mismatches if m.table == "store metrics"]
    assert len(figures) == 1 and figures[0].key == f"pilot {LEUVEN}"
    assert "circular_outflow_rate" in figures[0].fields


def test_a_block_range_and_a_pilot_narrow_the_check(indexed: tuple[Suite, Store]) -> None:
    suite, store = indexed
    t = store.tables
    with store.engine.begin() as conn:
        conn.execute(update(t["pilot"]).where(t["pilot"].c.pilot_id == 2).values(name="Forged"))
    assert not verify(suite, store).ok
    assert verify(suite, store, pilot=LEUVEN).ok  # Thessaloniki's row is outside the filter
    head = store.checkpoint()
    assert head is not None
    late = verify(suite, store, from_block=head.block_number - 2)  # after the pilots were added
    assert late.ok and late.lots_checked is None


def test_cli_exit_code_follows_the_verdict(
    indexed: tuple[Suite, Store], anvil_chain: AnvilChain, tmp_path: Path
) -> None:
    suite, store = indexed
    data = tmp_path / "audit"
    data.mkdir()
    (data / "deployment-rpc.json").write_text(suite.manifest.model_dump_json())
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOOPLEDGER_")}
    env.update(
        {
            "LOOPLEDGER_CHAIN": anvil_chain.url,
            "LOOPLEDGER_CHAIN_ID": "31337",
            "LOOPLEDGER_DATA_DIR": str(data),
            "LOOPLEDGER_DATABASE_URL": str(store.engine.url),
        }
    )
    command = [str(Path(sys.executable).parent / "loopledger"), "audit", "verify"]
    clean = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert "everything matches" in clean.stderr
    t = store.tables["intake"]
    with store.engine.begin() as conn:
        conn.execute(update(t).where(t.c.lot_id == 2).values(maker="0x" + "00" * 20))
    broken = subprocess.run(
        [*command, "--json"], env=env, capture_output=True, text=True, timeout=300
    )
    assert broken.returncode == 1
    report = json.loads(broken.stdout)
    intake = [m for m in report["mismatches"] if m["table"] == "intake"]
    assert len(intake) == 1 and intake[0]["fields"]["maker"]["store"] == "0x" + "00" * 20


def test_report_traces_figures_to_chain_records(indexed: tuple[Suite, Store]) -> None:
    from ledger.audit.epcis import store_tables
    from ledger.audit.report import render_report
    from ledger.circularity.period import Period

    suite, store = indexed
    records = load_records(store.engine)
    codes = {v: k for k, v in suite.manifest.materials.items()}
    checkpoint = store.checkpoint()
    assert checkpoint is not None
    rows = store_tables(store, pilot=LEUVEN)
    text = render_report(
        pilot_id=LEUVEN,
        pilot_name="Leuven (LEU)",
        period=Period.parse("all"),
        records=records,
        rows=rows,
        material_codes=codes,
        chain={
            "chain_id": 31337,
            "genesis_hash": checkpoint.genesis_hash,
            "indexed_block": checkpoint.block_number,
        },
        verification=verify(suite, store, pilot=LEUVEN, pilot_ids=[LEUVEN]),
    )
    assert "the index matches the chain" in text
    assert "12.000 kg" in text  # the inflow: 10 kg collected + 2 kg virgin
    assert "Circular Transition Indicators" in text  # the method names its source
    for row in rows["intake"] + rows["dispatch"] + rows["transfer"]:
        assert row["tx_hash"] in text
        assert row["evidence"] in text or (
            "no evidence" in text and set(row["evidence"][2:]) == {"0"}
        )
    assert "None: for each of the 2 makers" in text
    # Plain words: no formula, no grams, no blank material, dates beside the blocks.
    for code_like in ("None without inflow", "r_in", "Grams", "(g)", "0x" + "00" * 32):
        assert code_like not in text, code_like
    assert "<td></td>" not in text, "a blank cell (e.g. the material of a dispatch)"
    first = min(int(r["ts"]) for r in rows["intake"])
    assert f"{datetime.fromtimestamp(first, UTC):%Y-%m-%d}" in text


def test_report_of_a_running_year_says_it_is_not_finished(indexed: tuple[Suite, Store]) -> None:
    from ledger.audit.epcis import store_tables
    from ledger.audit.report import render_report
    from ledger.circularity.period import Period

    _, store = indexed
    year = datetime.now(UTC).year
    common = dict(
        pilot_id=LEUVEN,
        pilot_name="Leuven (LEU)",
        records=load_records(store.engine),
        rows=store_tables(store, pilot=LEUVEN),
        material_codes={},
        verification=None,
        chain={"chain_id": 31337, "genesis_hash": "0x", "indexed_block": 1},
    )
    running = render_report(period=Period.year(year), **common)  # type: ignore[arg-type]
    assert "period not finished" in running and f"{year}-01-01 to {year}-12-31" in running
    assert "period not finished" not in render_report(period=Period.year(year - 1), **common)  # type: ignore[arg-type]


def test_evidence_file_checked_against_the_chain(anvil_suite: Suite, tmp_path: Path) -> None:
    from ledger.audit.evidence import check_file, hash_file
    from ledger.errors import LedgerError

    ticket = tmp_path / "weigh-ticket.pdf"
    ticket.write_bytes(b"%PDF weigh ticket 2026-11-22 wood 12.5 kg")
    digest = hash_file(ticket)
    alice = anvil_suite.chain.accounts[8]
    anvil_suite.registry.set_pilot_role(
        anvil_suite.chain.accounts[LEUVEN], LEUVEN, alice.address, 2
    )
    wood = anvil_suite.manifest.materials["17 02 01"]
    result = anvil_suite.materials.intake(alice, LEUVEN, wood, 2, 12_500, bytes.fromhex(digest[2:]))
    check = check_file(anvil_suite, ticket, result.tx.tx_hash)
    assert check.matches and check.event == "MaterialTakenIn" and check.recorded == digest
    forged = tmp_path / "forged.pdf"
    forged.write_bytes(b"%PDF weigh ticket 2026-11-22 wood 15.0 kg")
    assert not check_file(anvil_suite, forged, result.tx.tx_hash).matches
    with pytest.raises(LedgerError, match="no evidence at log 99"):
        check_file(anvil_suite, ticket, result.tx.tx_hash, 99)
