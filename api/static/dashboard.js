// The municipal dashboard: headline figures, Sankey of flows, monthly trend, materials by name,
// the pilots compared; plain JavaScript and SVG served by the gateway (no CDN).
"use strict";

let pilots = null;
let extent = null;

const kgOf = (v) => num(v, 0) + " kg";
const label = (key, fallback) => (key in catalogue ? t(key) : fallback);

function headline(m) {
  const cards = [
    ["metric.inflow", "Inflow", kgOf(m.inflow_kg)], ["metric.circular_inflow", "Circular inflow", pct(m.circular_inflow_rate)],
    ["metric.circular_outflow", "Circular outflow", pct(m.circular_outflow_rate)], ["metric.circularity", "Circularity", pct(m.circularity_rate)],
    ["metric.diversion", "Diverted", kgOf(m.diversion_kg)], ["metric.stock", "Stock", kgOf(m.stock_kg)],
    ["metric.points_awarded", "Points awarded", num(m.points_awarded)], ["metric.points_redeemed", "Points redeemed", num(m.points_redeemed)],
    ["metric.active_members", "Active members", num(m.active_members)], ["metric.findings", "Findings", num(m.mass_balance_findings)],
  ];
  clear($("headline"), cards.map(([key, metric, value]) =>
    h("div", { class: "card" }, h("div", { class: "value", "data-metric": metric }, value), h("div", { class: "label" }, t(key)))));
}

// Secondary-material exchange and challenge board of the pilot in the period.
function exchange(x) {
  const cards = [
    ["exchange.listings", "Listings", num(x.listings)], ["exchange.proposed", "Matches proposed", num(x.matches_proposed)],
    ["exchange.accepted", "Matches accepted", num(x.matches_accepted)], ["exchange.exchanged", "Exchanged through matches", kgOf(x.kg_exchanged)],
    ["exchange.median", "Median time to match", x.median_days_to_match === null ? "–" : t("exchange.days", { n: num(x.median_days_to_match, 1) })],
    ["exchange.matched", "Listings matched", pct(x.share_listings_matched)], ["exchange.transport", "Transport of matches", num(x.transport_co2e_kg, 1) + " kg CO2e"],
    ["exchange.challenges", "Challenges", num(x.challenges)], ["exchange.proposals", "Proposals", num(x.proposals)], ["exchange.selections", "Selections", num(x.selections)],
  ];
  clear($("exchange"), cards.map(([key, metric, value]) =>
    h("div", { class: "card" }, h("div", { class: "value", "data-metric": metric }, value), h("div", { class: "label" }, t(key)))));
}

function nodeLabel(n, makers) {
  if (n.kind === "maker") return t("node.maker", { n: makers.indexOf(n.id) + 1 });
  const [kind, rest] = n.id.split(":");
  return label(`${kind}.${rest}`, n.label);
}

// A Sankey layout in columns: sources, makers, fates and stock.
function sankey(data) {
  const svg = clear($("sankey"));
  const [, , width, height] = svg.getAttribute("viewBox").split(" ").map(Number);
  const column = (n) => (n.kind === "source" || n.id === "stock:opening") ? 0 : n.kind === "maker" ? 1 : 2;
  const makers = data.nodes.filter((n) => n.kind === "maker").map((n) => n.id);
  const total = new Map();
  data.links.forEach((l) => {
    total.set(l.source, (total.get(l.source) || 0) + l.value);
    total.set(l.target, (total.get(l.target) || 0) + l.value);
  });
  const columns = [[], [], []];
  data.nodes.forEach((n, i) => { if (total.get(i)) columns[column(n)].push(i); });
  const sums = columns.map((c) => c.reduce((s, i) => s + total.get(i), 0));
  const scale = (height - 40) / Math.max(...sums, 1);
  const pos = new Map();
  columns.forEach((c, ci) => {
    let y = 10;
    c.forEach((i) => {
      const size = Math.max(2, total.get(i) * scale * 0.85);
      pos.set(i, { x: 40 + ci * (width - 260) / 2, y, h: size, inY: y, outY: y });
      y += size + 8;
    });
  });
  data.links.forEach((l) => {
    const a = pos.get(l.source), b = pos.get(l.target);
    if (!a || !b) return;
    const w = Math.max(1, l.value * scale * 0.85);
    const y0 = a.outY + w / 2, y1 = b.inY + w / 2;
    a.outY += w; b.inY += w;
    const x0 = a.x + 12, x1 = b.x, mid = (x0 + x1) / 2;
    svg.append(h("path", { d: `M${x0},${y0} C${mid},${y0} ${mid},${y1} ${x1},${y1}`, stroke: "#7fbf95", "stroke-opacity": 0.45,
      "stroke-width": w, fill: "none", "data-value": l.value }));
  });
  pos.forEach((p, i) => {
    const n = data.nodes[i];
    svg.append(h("rect", { x: p.x, y: p.y, width: 12, height: p.h, fill: n.kind === "fate" ? "#b5651d" : "#1f6f43" }));
    svg.append(h("text", { x: p.x + 16, y: p.y + p.h / 2 + 4 }, `${nodeLabel(n, makers)} (${kgOf(total.get(i))})`));
  });
}

function trend(rows) {
  const svg = clear($("trend"));
  if (!rows.length) return;
  const [, , width, height] = svg.getAttribute("viewBox").split(" ").map(Number);
  const max = Math.max(...rows.map((r) => r.inflow_kg), 1);
  const bw = (width - 80) / rows.length;
  const month = new Intl.DateTimeFormat(locale(), { month: "short", year: "2-digit", timeZone: "UTC" });
  rows.forEach((r, i) => {
    const size = (height - 50) * r.inflow_kg / max;
    svg.append(h("rect", { x: 50 + i * bw, y: height - 30 - size, width: bw * 0.7, height: size, fill: "#9fd1b0", "data-inflow": r.inflow_kg }));
    if (rows.length <= 18 || i % 2 === 0) svg.append(h("text", { x: 50 + i * bw, y: height - 14 }, month.format(new Date(r.period + "-01T00:00:00Z"))));
  });
  const points = rows.map((r, i) => [r, i]).filter(([r]) => r.circularity_rate !== null)
    .map(([r, i]) => `${50 + i * bw + bw * 0.35},${height - 30 - (height - 50) * r.circularity_rate}`);
  svg.append(h("polyline", { points: points.join(" "), fill: "none", stroke: "#1f6f43", "stroke-width": 2 }));
  svg.append(h("text", { x: 50, y: 12 }, t("dash.trendlegend", { max: kgOf(max) })));
}

// ---- the period picker: month, quarter, year or a custom range within the data's extent --------

function months() {
  const out = [];
  if (!extent) return out;
  let [y, m] = extent.first.split("-").map(Number);
  const [ly, lm] = extent.last.split("-").map(Number);
  while (y < ly || (y === ly && m <= lm)) {
    out.push([y, m]);
    if (++m > 12) { m = 1; y += 1; }
  }
  return out;
}

function fillPeriodValues() {
  const kind = $("period-kind").value;
  $("period-value-label").hidden = !["year", "quarter", "month"].includes(kind);
  for (const el of document.querySelectorAll("label.custom")) el.hidden = kind !== "custom";
  const all = months();
  const monthName = new Intl.DateTimeFormat(locale(), { month: "long", year: "numeric", timeZone: "UTC" });
  let options = [];
  if (kind === "year") options = [...new Set(all.map(([y]) => y))].map((y) => [String(y), String(y)]);
  if (kind === "quarter") options = [...new Set(all.map(([y, m]) => `${y}-Q${Math.ceil(m / 3)}`))].map((q) => [q, q.replace("-", " ")]);
  if (kind === "month") options = all.map(([y, m]) => [`${y}-${String(m).padStart(2, "0")}`, monthName.format(Date.UTC(y, m - 1, 1))]);
  const previous = $("period-value").value;
  clear($("period-value"), options.reverse().map(([value, text]) => h("option", { value }, text)));
  if (options.some(([v]) => v === previous)) $("period-value").value = previous;
  if (extent) {
    for (const id of ["period-from", "period-to"]) { $(id).min = extent.first; $(id).max = extent.last; }
    if (!$("period-from").value) $("period-from").value = extent.first;
    if (!$("period-to").value) $("period-to").value = extent.last;
  }
}

function period() {
  const kind = $("period-kind").value;
  if (kind === "all") return "all";
  if (kind === "custom") return `${$("period-from").value}..${$("period-to").value}`;
  return $("period-value").value || "all";
}

// ---- drawing ------------------------------------------------------------------------------------

let names = {};

async function show() {
  const pilot = $("pilot").value, span = encodeURIComponent(period());
  $("status").textContent = t("status.loading");
  try {
    const [summary, flows, monthly, materials, all, known] = await Promise.all([
      api("GET", `/api/pilots/${pilot}/summary?period=${span}`), api("GET", `/api/pilots/${pilot}/sankey?period=${span}`),
      api("GET", `/api/pilots/${pilot}/trend?period=${span}`), api("GET", `/api/pilots/${pilot}/materials?period=${span}`),
      api("GET", `/api/pilots?period=${span}`), api("GET", `/api/pilots/${pilot}/material-names`),
    ]);
    names = Object.fromEntries(known.map((m) => [m.code, m.name]));
    headline(summary);
    sankey(flows);
    trend(monthly);
    const keys = Object.keys(materials[0] || {}).filter((k) => k.endsWith("_kg"));
    renderTable($("materials"), materials, [
      [t("col.material"), (r) => [r.name || t("material.unnamed"), " ", h("span", { class: "code" }, r.material)]],
      ...keys.map((k) => [label("col." + k, label("fate." + k.replace("_kg", ""), k)), (r) => num(r[k] || 0, 1), "num"]),
    ]);
    renderTable($("compare"), all.data, [
      [t("col.pilot"), (r) => r.city + (r.illustrative ? ` (${t("pilot.illustrative")})` : "")],
      [t("metric.inflow"), (r) => kgOf(r.metrics.inflow_kg), "num"], [t("metric.circular_inflow"), (r) => pct(r.metrics.circular_inflow_rate), "num"],
      [t("metric.circular_outflow"), (r) => pct(r.metrics.circular_outflow_rate), "num"], [t("metric.circularity"), (r) => pct(r.metrics.circularity_rate), "num"],
      [t("metric.points_awarded"), (r) => num(r.metrics.points_awarded), "num"], [t("metric.points_redeemed"), (r) => num(r.metrics.points_redeemed), "num"],
    ]);
    exchange(await api("GET", `/api/pilots/${pilot}/exchange?period=${span}`));
    $("csv").href = `/api/pilots/${pilot}/metrics.csv?period=${span}`;
    $("status").textContent = t("dash.status", { block: num(all.indexed_block), period: all.period === "all" ? t("period.all") : all.period });
  } catch (err) {
    $("status").textContent = t("status.error", { message: err.message });
  }
}

function showExtent() {
  $("extent").textContent = extent ? t("dash.extent", { first: date(Date.parse(extent.first) / 1000), last: date(Date.parse(extent.last) / 1000) }) : "";
}

async function init() {
  const wanted = (new URLSearchParams(location.search).get("pilot") || "LEU").toUpperCase();
  pilots = await api("GET", "/api/pilots");
  extent = pilots.extent;
  const here = pilots.data.find((p) => p.code === wanted) || pilots.data[0];
  await useLanguage(null, here.language);
  clear($("pilot"), pilots.data.map((p) => h("option", { value: p.code }, p.city)));
  $("pilot").value = here.code;
  fillPeriodValues();
  showExtent();
  $("period-kind").addEventListener("change", fillPeriodValues);
  $("controls").addEventListener("submit", (e) => { e.preventDefault(); show(); });
  $("pilot").addEventListener("change", show);
  languageSwitcher(async () => { fillPeriodValues(); showExtent(); await show(); });
  await show();
}

init();
