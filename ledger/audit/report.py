"""The audit report of one pilot and period: an HTML document (and a PDF where a converter is
installed) whose every figure can be traced to chain records.

Sections: the verification of the index against the chain; the headline metrics, each with its
method in plain words with its public source; mass-balance findings per maker; the largest flows with their
block, transaction, log and evidence hash; and an appendix listing every material record of the
period with its chain reference, so a reader can recompute any figure.
"""

from __future__ import annotations

import html
import shutil
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ledger.audit.verify import VerifyReport
from ledger.circularity import metrics
from ledger.circularity.graph import build_flow_graph
from ledger.circularity.period import Period
from ledger.circularity.records import FlowRecords
from ledger.circularity.report import headline
from ledger.impact.framework import KpiValue
from ledger.vocabulary import Fate, Source

__all__ = ["render_report", "to_pdf"]

APPENDIX_ROWS = 5_000
RECORD_WORDS = {
    "intake": "intake",
    "transformation": "transformation",
    "transfer": "hand-over",
    "dispatch": "dispatch",
}
LARGEST = 15

#: headline figure -> (label, unit, how it is worked out, in plain words, with its source)
METHODS: list[tuple[str, str, str, str]] = [
    (
        "inflow_kg",
        "Material taken in",
        "kg",
        "All material the pilot's makers took in during the period, from every source.",
    ),
    (
        "circular_inflow_rate",
        "Share of intake that was secondary material",
        "share",
        "Secondary material taken in (collected, donated, surplus, returned) divided by all material taken "
        "in. Source: WBCSD Circular Transition Indicators, '% circular inflow'.",
    ),
    (
        "outflow_kg",
        "Material that left the makers",
        "kg",
        "All material dispatched during the period: sold or in use, reused, repaired, recycled, composted, "
        "incinerated or landfilled.",
    ),
    (
        "circular_outflow_rate",
        "Share of outflow kept in the loop",
        "share",
        "Material reused, repaired, recycled or composted divided by all material that left. Source: WBCSD "
        "Circular Transition Indicators, '% circular outflow'.",
    ),
    (
        "circularity_rate",
        "Circularity (inflow and outflow together)",
        "share",
        "The two shares above averaged, each weighted by its amount of material: a side with more kilograms "
        "counts for more. Source: WBCSD Circular Transition Indicators, '% circularity'.",
    ),
    (
        "diversion_kg",
        "Kept from landfill and incineration",
        "kg",
        "Material dispatched to any fate other than landfill or incineration.",
    ),
    (
        "stock_kg",
        "Held by makers at the end of the period",
        "kg",
        "Material still in the makers' lots on the last day of the period.",
    ),
    (
        "mass_balance_findings",
        "Makers whose material does not add up",
        "count",
        "For each maker: stock at the start + material in - material out - process losses - stock at the "
        "end. Anything but zero is listed in section 3.",
    ),
    (
        "exchange_links",
        "Maker-to-maker exchange links",
        "count",
        "Pairs of makers that handed material from one to the other.",
    ),
    (
        "closed_loops",
        "Closed loops between makers",
        "count",
        "Chains of hand-overs that come back to the maker they started from.",
    ),
    (
        "points_awarded",
        "Engagement points awarded",
        "points",
        "Points given to community members for circular activities.",
    ),
    ("points_redeemed", "Engagement points redeemed", "points", "Points members spent on rewards."),
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


NO_EVIDENCE = "0x" + "00" * 32


def _day(ts: int) -> str:
    return f"{datetime.fromtimestamp(ts, UTC):%Y-%m-%d}"


def _ref(row: Mapping[str, Any]) -> str:
    return (
        f"{datetime.fromtimestamp(int(row['ts']), UTC):%Y-%m-%d %H:%M} UTC, block {row['block_number']}"
        f"<br><code>{_e(row['tx_hash'])}</code><br>log {row['log_index']}"
    )


def _words(member: Source | Fate) -> str:
    return member.name.lower().replace("_", " ")


def _evidence(row: Mapping[str, Any]) -> str:
    value = str(row.get("evidence") or "")
    return "no evidence" if value in ("", NO_EVIDENCE) else f"<code>{_e(value)}</code>"


def _period_words(period: Period, records: FlowRecords, now: int) -> str:
    """The period as dates, with 'period not finished' while it runs."""
    if period.label == "all":
        extent = records.extent()
        span = (
            f"all records ({_day(extent[0])} to {_day(extent[1])})"
            if extent
            else "all records (none yet)"
        )
    else:
        span = f"{period.label} ({_day(period.start)} to {_day(period.end - 1)})"
    if period.label != "all" and period.end > now:
        span += f"; period not finished: figures up to {_day(now)}"
    return span


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
    impact: tuple[int, Sequence[KpiValue]] | None = None,
    material_names: Mapping[str, str] | None = None,
    now: int | None = None,
) -> str:
    """The report as one self-contained HTML page. `rows` are the store's material rows of the
    pilot (intake, transformation, transfer, dispatch) with their chain references; `impact` the
    year and KPIs of the pilot's impact framework (section 5)."""
    graph = build_flow_graph(records.for_pilot(pilot_id), period, pilot=pilot_id)
    figures = headline(graph)
    now = int(datetime.now(UTC).timestamp()) if now is None else now
    names = material_names or {}
    known: dict[Any, Any] = records.lot_materials().to_dict()
    lot_material = {int(k): int(v) for k, v in known.items()}

    def material(lot: int) -> str:
        code = material_codes.get(lot_material.get(lot, -1), "")
        return f"{names[code]} ({code})" if code in names else code or "unknown"

    in_period = {
        name: [r for r in table if period.start <= r["ts"] < period.end]
        for name, table in rows.items()
        if name in ("intake", "transformation", "transfer", "dispatch")
    }
    parts = [
        f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>LoopLedger audit report · {_e(pilot_name)} · "
        f"{_e(period.label)}</title><style>{STYLE}</style></head><body>",
        f"<h1>Audit report: {_e(pilot_name)}, {_e(period.label)}</h1>",
        f"<p><strong>Period:</strong> {_e(_period_words(period, records, now))}.</p>",
        f"<p>Generated {datetime.now(UTC):%Y-%m-%d %H:%M} UTC from chain {chain['chain_id']} "
        f"(genesis <code>{_e(chain['genesis_hash'])}</code>), indexed to block {chain['indexed_block']}. "
        "Every figure below is computed from the records listed in the appendix, each with the block, "
        "transaction and log that hold it on chain.</p>",
    ]
    parts.append("<h2>1. Verification of the index against the chain</h2>")
    if verification is None:
        parts.append("<p>Not run.</p>")
    else:
        verdict = (
            "<span class='ok'>the index matches the chain</span>"
            if verification.ok
            else f"<span class='bad'>{len(verification.mismatches)} mismatches</span>"
        )
        parts.append(
            f"<p>Blocks {verification.from_block}&ndash;{verification.to_block}: {verification.events:,} events re-read "
            f"from the chain, {verification.rows_checked:,} rows compared: {verdict}.</p>"
        )
        if verification.mismatches:
            parts.append(
                _table(
                    ["kind", "table", "detail"],
                    [
                        (_e(m.kind), _e(m.table), _e(m.describe()))
                        for m in verification.mismatches[:200]
                    ],
                )
            )
    parts.append("<h2>2. Metrics and their method</h2>")
    parts.append(
        _table(
            ["figure", "value", "how it is worked out"],
            [
                (_e(label), _e(_fmt(figures.get(key), unit)), _e(method))
                for key, label, unit, method in METHODS
            ],
        )
    )
    residuals = metrics.mass_balance_residuals(graph)
    findings = {maker: value for maker, value in residuals.items() if value != 0}
    parts.append("<h2>3. Mass-balance findings</h2>")
    if findings:
        parts.append(
            _table(
                ["maker", "does not add up by (kg)"],
                [(_e(m), f"{v / 1000:,.3f}") for m, v in sorted(findings.items())],
            )
        )
    else:
        parts.append(
            f"<p class='ok'>None: for each of the {len(residuals)} makers, opening stock + inflows &minus; outflows &minus; "
            "losses &minus; closing stock = 0 kg (the ledger enforces mass balance on every transformation).</p>"
        )
    parts.append(f"<h2>4. Largest flows ({LARGEST} per kind)</h2>")

    def what(name: str, r: Mapping[str, Any]) -> tuple[str, str, str]:
        if name == "intake":
            return str(r["lot_id"]), material(int(r["lot_id"])), _words(Source(r["source"]))
        if name == "dispatch":
            return str(r["lot_id"]), material(int(r["lot_id"])), _words(Fate(r["fate"]))
        return f"{r['lot_id']} to {r['received_lot']}", material(int(r["lot_id"])), "handed over"

    for name, title in (
        ("intake", "Intakes"),
        ("dispatch", "Dispatches"),
        ("transfer", "Hand-overs between makers"),
    ):
        top = sorted(in_period.get(name, []), key=lambda r: -int(r["grams"]))[:LARGEST]
        parts.append(f"<h3>{title}</h3>")
        parts.append(
            _table(
                ["lot", "material", "source / fate", "kg", "chain reference", "evidence (SHA-256)"],
                [
                    (*map(_e, what(name, r)), f"{r['grams'] / 1000:,.3f}", _ref(r), _evidence(r))
                    for r in top
                ],
            )
        )
    if impact is not None:
        parts.append(_impact_section(*impact))
    parts.append("<h2>Appendix: every material record of the period</h2>")
    appendix = sorted(
        ((name, r) for name, table in in_period.items() for r in table),
        key=lambda pair: (pair[1]["block_number"], pair[1]["log_index"]),
    )
    if len(appendix) > APPENDIX_ROWS:
        parts.append(
            f"<p>{len(appendix):,} records; the first {APPENDIX_ROWS:,} are listed. All of them: "
            "<code>loopledger epcis export</code> or <code>GET /api/pilots/{pilot}/epcis</code>.</p>"
        )
    parts.append(
        _table(
            ["record", "lot", "kg", "maker", "date and chain reference", "evidence"],
            [
                (
                    _e(RECORD_WORDS[name]),
                    _e(r.get("lot_id", r.get("transform_id"))),
                    f"{int(r.get('grams', r.get('input_grams', 0))) / 1000:,.3f}",
                    f"<code>{_e(r.get('maker', r.get('sender')))}</code>",
                    _ref(r),
                    _evidence(r),
                )
                for name, r in appendix[:APPENDIX_ROWS]
            ],
        )
    )
    parts.append("</body></html>")
    return "\n".join(parts)


def _impact_section(year: int, values: Sequence[KpiValue]) -> str:
    """Section 5: each KPI of the pilot's framework with its value, baseline (the counterfactual),
    target, progress, method and the source of its baseline and target."""

    def shown(value: float | None) -> str:
        return "&ndash;" if value is None else f"{value:,.3f}".rstrip("0").rstrip(".")

    rows = []
    for v in values:
        r = v.result
        progress = "&ndash;" if r is None or r.progress is None else f"{100 * r.progress:.0f} %"
        rows.append(
            (
                _e(v.kpi.group),
                _e(v.kpi.name),
                f"{shown(r.value if r else None)} {_e(v.kpi.unit)}",
                shown(v.kpi.baseline),
                shown(v.kpi.target),
                shown(r.additional if r else None),
                progress,
                _e(v.method + (f" ({v.note})" if v.note else "")),
                _e(v.kpi.source),
                _e(v.kpi.iris or "none known"),
            )
        )
    return (
        f"<h2>5. Impact against targets, {year}</h2><p>The baseline stands for what the pilot would show "
        "without the programme; 'additional' is the value less the baseline. Target-group shares are published "
        "only for groups of five people or more; declarations are off chain and made with consent.</p>"
        + _table(
            [
                "group",
                "KPI",
                "value",
                "baseline",
                "target",
                "additional",
                "progress",
                "method",
                "source of baseline and target",
                "IRIS+",
            ],
            rows,
        )
    )


def to_pdf(html_path: Path, pdf_path: Path) -> str | None:
    """Convert with headless Chromium or LibreOffice where installed; None when neither is."""
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium:
        with tempfile.TemporaryDirectory() as profile:
            done = subprocess.run(
                [
                    chromium,
                    "--headless",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-background-networking",
                    f"--user-data-dir={profile}",
                    f"--print-to-pdf={pdf_path}",
                    html_path.resolve().as_uri(),
                ],
                capture_output=True,
                timeout=180,
            )
        if done.returncode == 0 and pdf_path.exists():
            return "chromium"
    office = shutil.which("libreoffice") or shutil.which("soffice")
    if office:
        done = subprocess.run(
            [
                office,
                "--headless",
                "--convert-to",
                "pdf",
                "--outdir",
                str(pdf_path.parent),
                str(html_path),
            ],
            capture_output=True,
            timeout=300,
        )
        produced = pdf_path.parent / (html_path.stem + ".pdf")
        if done.returncode == 0 and produced.exists():
            if produced != pdf_path:
                produced.replace(pdf_path)
            return "libreoffice"
    return None
