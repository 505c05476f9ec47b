"""The audit report of one pilot and period: an HTML document (and a PDF where a converter is
installed) whose every figure can be traced to chain records.

Sections: the verification of the index against the chain; the headline metrics, each with its
method (formula and public source, taken from the metric's own documentation in
``ledger.circularity.metrics``); mass-balance findings per maker; the largest flows with their
block, transaction, log and evidence hash; and an appendix listing every material record of the
period with its chain reference, so a reader can recompute any figure.
"""

from __future__ import annotations

import html
import inspect
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ledger.audit.verify import VerifyReport
from ledger.circularity import metrics
from ledger.circularity.graph import build_flow_graph
from ledger.circularity.period import Period
from ledger.circularity.records import FlowRecords
from ledger.circularity.report import headline
from ledger.vocabulary import Fate, Source

__all__ = ["render_report", "to_pdf"]

APPENDIX_ROWS = 5_000
LARGEST = 15

#: headline figure -> (label, unit, the function whose documentation states the method)
METHODS: list[tuple[str, str, str, Callable[..., Any]]] = [
    ("inflow_kg", "Inflow", "kg", metrics.inflow),
    ("circular_inflow_rate", "Circular inflow rate", "share", metrics.circular_inflow_rate),
    ("outflow_kg", "Outflow", "kg", metrics.outflow),
    ("circular_outflow_rate", "Circular outflow rate", "share", metrics.circular_outflow_rate),
    ("circularity_rate", "Circularity rate (CTI % circularity)", "share", metrics.circularity_rate),
    ("diversion_kg", "Diverted from landfill and incineration", "kg", metrics.diversion),
    ("stock_kg", "Stock held at the end of the period", "kg", metrics.stock_held),
    (
        "mass_balance_findings",
        "Makers with a mass-balance residual",
        "count",
        metrics.mass_balance_residuals,
    ),
    ("exchange_links", "Maker-to-maker exchange links", "count", metrics.exchange_links),
    ("closed_loops", "Closed loops between makers", "count", metrics.closed_loops),
    ("points_awarded", "Engagement points awarded", "points", metrics.engagement),
    ("points_redeemed", "Engagement points redeemed", "points", metrics.engagement),
]

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 1100px; color: #1d2a22; }
h1, h2 { color: #1f6f43; } table { border-collapse: collapse; width: 100%; font-size: .85rem; margin-bottom: 1.5rem; }
th, td { border-bottom: 1px solid #ccd; padding: .25rem .45rem; text-align: left; vertical-align: top; }
code { font-size: .8rem; word-break: break-all; } .ok { color: #1f6f43; } .bad { color: #a5281b; }
pre { white-space: pre-wrap; font-size: .8rem; margin: 0; }
"""


def _e(value: Any) -> str:
    return html.escape(str(value))


def _table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _fmt(value: Any, unit: str) -> str:
    if value is None:
        return "no flow in the period"
    if unit == "share":
        return f"{100 * float(value):.2f} %"
    if unit == "kg":
        return f"{float(value):,.3f} kg"
    return f"{value:,}"


def _method(fn: Callable[..., Any]) -> str:
    """The metric's documentation without its doctest examples."""
    return (inspect.getdoc(fn) or "").split("\nExamples\n")[0].strip()


def _ref(row: Mapping[str, Any]) -> str:
    return (f"block {row['block_number']}<br><code>{_e(row['tx_hash'])}</code><br>log {row['log_index']}")  # fmt: skip


def render_report(
    *,
    pilot_id: int,
    pilot_name: str,
    period: Period,
    records: FlowRecords,
    rows: Mapping[str, Sequence[Mapping[str, Any]]],
    material_codes: Mapping[int, str],
    chain: Mapping[str, Any],
    verification: VerifyReport | None,
) -> str:
    """The report as one self-contained HTML page. `rows` are the store's material rows of the
    pilot (intake, transformation, transfer, dispatch) with their chain references."""
    graph = build_flow_graph(records.for_pilot(pilot_id), period, pilot=pilot_id)
    figures = headline(graph)
    in_period = {
        name: [r for r in table if period.start <= r["ts"] < period.end]
        for name, table in rows.items()
        if name in ("intake", "transformation", "transfer", "dispatch")
    }
    parts = [f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>LoopLedger audit report · {_e(pilot_name)} · "
             f"{_e(period.label)}</title><style>{STYLE}</style></head><body>",
             f"<h1>Audit report: {_e(pilot_name)}, {_e(period.label)}</h1>",
             f"<p>Generated {datetime.now(UTC):%Y-%m-%d %H:%M} UTC from chain {chain['chain_id']} "
             f"(genesis <code>{_e(chain['genesis_hash'])}</code>), indexed to block {chain['indexed_block']}. "
             "Every figure below is computed from the records listed in the appendix, each with the block, "
             "transaction and log that hold it on chain.</p>"]  # fmt: skip
    parts.append("<h2>1. Verification of the index against the chain</h2>")
    if verification is None:
        parts.append("<p>Not run.</p>")
    else:
        verdict = ("<span class='ok'>the index matches the chain</span>" if verification.ok
                   else f"<span class='bad'>{len(verification.mismatches)} mismatches</span>")  # fmt: skip
        parts.append(f"<p>Blocks {verification.from_block}&ndash;{verification.to_block}: {verification.events:,} events re-read "
                     f"from the chain, {verification.rows_checked:,} rows compared: {verdict}.</p>")  # fmt: skip
        if verification.mismatches:
            parts.append(_table(["kind", "table", "detail"],
                                [(_e(m.kind), _e(m.table), _e(m.describe())) for m in verification.mismatches[:200]]))  # fmt: skip
    parts.append("<h2>2. Metrics and their method</h2>")
    parts.append(_table(["metric", "value", "method and source"],
                        [(_e(label), _e(_fmt(figures.get(key), unit)), f"<pre>{_e(_method(fn))}</pre>")
                         for key, label, unit, fn in METHODS]))  # fmt: skip
    residuals = metrics.mass_balance_residuals(graph)
    findings = {maker: value for maker, value in residuals.items() if value != 0}
    parts.append("<h2>3. Mass-balance findings</h2>")
    if findings:
        parts.append(
            _table(
                ["maker", "residual (g)"], [(_e(m), f"{v:,}") for m, v in sorted(findings.items())]
            )
        )
    else:
        parts.append(f"<p class='ok'>None: for each of the {len(residuals)} makers, opening stock + inflows &minus; outflows &minus; "
                     "losses &minus; closing stock = 0 g (the ledger enforces mass balance on every transformation).</p>")  # fmt: skip
    parts.append(f"<h2>4. Largest flows ({LARGEST} per kind)</h2>")

    def what(name: str, r: Mapping[str, Any]) -> tuple[str, str, str]:
        if name == "intake":
            return (
                str(r["lot_id"]),
                str(material_codes.get(r["material_id"], r["material_id"])),
                Source(r["source"]).name.lower(),
            )
        if name == "dispatch":
            return str(r["lot_id"]), "", Fate(r["fate"]).name.lower()
        return f"{r['lot_id']} -> {r['received_lot']}", "", ""

    for name, title in (
        ("intake", "Intakes"),
        ("dispatch", "Dispatches"),
        ("transfer", "Hand-overs between makers"),
    ):
        top = sorted(in_period.get(name, []), key=lambda r: -int(r["grams"]))[:LARGEST]
        parts.append(f"<h3>{title}</h3>")
        parts.append(_table(["lot", "material", "source / fate", "kg", "chain reference", "evidence (SHA-256)"],
                            [(*map(_e, what(name, r)), f"{r['grams'] / 1000:,.3f}", _ref(r), f"<code>{_e(r['evidence'])}</code>")
                             for r in top]))  # fmt: skip
    parts.append("<h2>Appendix: every material record of the period</h2>")
    appendix = sorted(((name, r) for name, table in in_period.items() for r in table),
                      key=lambda pair: (pair[1]["block_number"], pair[1]["log_index"]))  # fmt: skip
    if len(appendix) > APPENDIX_ROWS:
        parts.append(f"<p>{len(appendix):,} records; the first {APPENDIX_ROWS:,} are listed. All of them: "
                     "<code>loopledger epcis export</code> or <code>GET /api/pilots/{pilot}/epcis</code>.</p>")  # fmt: skip
    parts.append(_table(["record", "lot", "grams", "maker", "chain reference", "evidence"],
                        [(_e(name), _e(r.get("lot_id", r.get("transform_id"))),
                          f"{int(r.get('grams', r.get('input_grams', 0))):,}", f"<code>{_e(r.get('maker', r.get('sender')))}</code>",
                          _ref(r), f"<code>{_e(r['evidence'])}</code>") for name, r in appendix[:APPENDIX_ROWS]]))  # fmt: skip
    parts.append("</body></html>")
    return "\n".join(parts)


def to_pdf(html_path: Path, pdf_path: Path) -> str | None:
    """Convert with headless Chromium or LibreOffice where installed; None when neither is."""
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium:
        with tempfile.TemporaryDirectory() as profile:
            done = subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu",
                                   "--disable-background-networking", f"--user-data-dir={profile}",
                                   f"--print-to-pdf={pdf_path}", html_path.resolve().as_uri()],
                                  capture_output=True, timeout=180)  # fmt: skip
        if done.returncode == 0 and pdf_path.exists():
            return "chromium"
    office = shutil.which("libreoffice") or shutil.which("soffice")
    if office:
        done = subprocess.run([office, "--headless", "--convert-to", "pdf", "--outdir", str(pdf_path.parent), str(html_path)],
                              capture_output=True, timeout=300)  # fmt: skip
        produced = pdf_path.parent / (html_path.stem + ".pdf")
        if done.returncode == 0 and produced.exists():
            if produced != pdf_path:
                produced.replace(pdf_path)
            return "libreoffice"
    return None
