// LoopLedger dashboard: plain JavaScript and SVG, served by the gateway (no CDN).
"use strict";

const $ = (id) => document.getElementById(id);
const SVG = "http://www.w3.org/2000/svg";
const pct = (x) => (x === null || x === undefined ? "–" : (100 * x).toFixed(1) + " %");
const kg = (x) => Number(x).toLocaleString("en", { maximumFractionDigits: 0 }) + " kg";

async function getJSON(url) {
  const response = await fetch(url);
  const body = await response.json();
  if (!response.ok) throw new Error(body.error ? body.error.message : response.statusText);
  return body;
}

function el(tag, attrs, parent, text) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (text !== undefined) node.textContent = text;
  parent.appendChild(node);
  return node;
}

function headline(m) {
  const cards = [
    ["Inflow", kg(m.inflow_kg)], ["Circular inflow", pct(m.circular_inflow_rate)],
    ["Circular outflow", pct(m.circular_outflow_rate)], ["Circularity rate", pct(m.circularity_rate)],
    ["Diverted from disposal", kg(m.diversion_kg)], ["In stock", kg(m.stock_kg)],
    ["Points awarded", m.points_awarded], ["Points redeemed", m.points_redeemed],
    ["Active members", m.active_members], ["Mass-balance findings", m.mass_balance_findings],
  ];
  $("headline").innerHTML = cards.map(([label, value]) =>
    `<div class="card"><div class="value" data-metric="${label}">${value}</div><div class="label">${label}</div></div>`).join("");
}

// A Sankey layout in columns: sources, makers, fates and stock.
function sankey(data) {
  const svg = $("sankey");
  svg.innerHTML = "";
  const width = +svg.getAttribute("width"), height = +svg.getAttribute("height");
  const column = (n) => (n.kind === "source" || n.id === "stock:opening") ? 0 : n.kind === "maker" ? 1 : 2;
  const total = new Map();
  data.links.forEach((l) => {
    total.set(l.source, Math.max(total.get(l.source) || 0, 0) + l.value);
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
      const h = Math.max(2, total.get(i) * scale * 0.85);
      pos.set(i, { x: 40 + ci * (width - 220) / 2, y, h, inY: y, outY: y });
      y += h + 8;
    });
  });
  data.links.forEach((l) => {
    const a = pos.get(l.source), b = pos.get(l.target);
    if (!a || !b) return;
    const w = Math.max(1, l.value * scale * 0.85);
    const y0 = a.outY + w / 2, y1 = b.inY + w / 2;
    a.outY += w; b.inY += w;
    const x0 = a.x + 12, x1 = b.x, mid = (x0 + x1) / 2;
    el("path", { d: `M${x0},${y0} C${mid},${y0} ${mid},${y1} ${x1},${y1}`, stroke: "#7fbf95", "stroke-opacity": 0.45,
      "stroke-width": w, fill: "none", "data-value": l.value }, svg);
  });
  pos.forEach((p, i) => {
    const n = data.nodes[i];
    el("rect", { x: p.x, y: p.y, width: 12, height: p.h, fill: n.kind === "fate" ? "#b5651d" : "#1f6f43" }, svg);
    el("text", { x: p.x + 16, y: p.y + p.h / 2 + 4 }, svg, `${n.label} (${kg(total.get(i))})`);
  });
}

function trend(rows) {
  const svg = $("trend");
  svg.innerHTML = "";
  if (!rows.length) return;
  const width = +svg.getAttribute("width"), height = +svg.getAttribute("height");
  const max = Math.max(...rows.map((r) => r.inflow_kg), 1);
  const bw = (width - 80) / rows.length;
  rows.forEach((r, i) => {
    const h = (height - 50) * r.inflow_kg / max;
    el("rect", { x: 50 + i * bw, y: height - 30 - h, width: bw * 0.7, height: h, fill: "#9fd1b0", "data-inflow": r.inflow_kg }, svg);
    el("text", { x: 50 + i * bw, y: height - 14 }, svg, r.period.slice(2));
  });
  const points = rows.filter((r) => r.circularity_rate !== null)
    .map((r) => `${50 + rows.indexOf(r) * bw + bw * 0.35},${height - 30 - (height - 50) * r.circularity_rate}`);
  el("polyline", { points: points.join(" "), fill: "none", stroke: "#1f6f43", "stroke-width": 2 }, svg);
  el("text", { x: 50, y: 12 }, svg, `bars: inflow (max ${kg(max)}); line: circularity rate (0–100 %)`);
}

function table(id, rows, columns) {
  $(id).innerHTML = "<tr>" + columns.map(([, label]) => `<th>${label}</th>`).join("") + "</tr>" +
    rows.map((r) => "<tr>" + columns.map(([key, , fmt]) => `<td>${fmt ? fmt(r[key], r) : r[key]}</td>`).join("") + "</tr>").join("");
}

// Secondary-material exchange and challenge board of the pilot in the period.
function exchange(x) {
  const days = x.median_days_to_match === null ? "–" : x.median_days_to_match.toFixed(1) + " days";
  const cards = [
    ["Listings", x.listings], ["Matches proposed", x.matches_proposed], ["Matches accepted", x.matches_accepted],
    ["Exchanged through matches", kg(x.kg_exchanged)], ["Median time to match", days],
    ["Listings matched", pct(x.share_listings_matched)], ["Transport of matches", x.transport_co2e_kg.toFixed(1) + " kg CO2e"],
    ["Challenges", x.challenges], ["Proposals", x.proposals], ["Selections", x.selections],
  ];
  $("exchange").innerHTML = cards.map(([label, value]) =>
    `<div class="card"><div class="value" data-metric="${label}">${value}</div><div class="label">${label}</div></div>`).join("");
}

async function show() {
  const pilot = $("pilot").value, period = encodeURIComponent($("period").value.trim() || "all");
  $("status").textContent = "loading…";
  try {
    const [summary, flows, months, materials, all] = await Promise.all([
      getJSON(`/api/pilots/${pilot}/summary?period=${period}`), getJSON(`/api/pilots/${pilot}/sankey?period=${period}`),
      getJSON(`/api/pilots/${pilot}/trend?period=${period}`), getJSON(`/api/pilots/${pilot}/materials?period=${period}`),
      getJSON(`/api/pilots?period=${period}`),
    ]);
    headline(summary);
    sankey(flows);
    trend(months);
    const mcols = Object.keys(materials[0] || {}).map((k) => [k, k.replace("_kg", ""), k === "material" ? null : (v) => Number(v || 0).toFixed(1)]);
    table("materials", materials, mcols);
    table("compare", all.data, [["city", "Pilot", (v, r) => v + (r.illustrative ? " (illustrative)" : "")],
      ["metrics", "Inflow", (m) => kg(m.inflow_kg)], ["metrics", "Circular inflow", (m) => pct(m.circular_inflow_rate)],
      ["metrics", "Circular outflow", (m) => pct(m.circular_outflow_rate)], ["metrics", "Circularity rate", (m) => pct(m.circularity_rate)],
      ["metrics", "Points awarded", (m) => m.points_awarded], ["metrics", "Points redeemed", (m) => m.points_redeemed]]);
    exchange(await getJSON(`/api/pilots/${pilot}/exchange?period=${period}`));
    $("csv").href = `/api/pilots/${pilot}/metrics.csv?period=${period}`;
    $("status").textContent = `indexed to block ${all.indexed_block}; period ${all.period}`;
  } catch (err) {
    $("status").textContent = "error: " + err.message;
  }
}

async function init() {
  const pilots = await getJSON("/api/pilots");
  const wanted = new URLSearchParams(location.search).get("pilot");
  $("pilot").innerHTML = pilots.data.map((p) => `<option value="${p.code}" ${p.code === wanted ? "selected" : ""}>${p.city}</option>`).join("");
  $("controls").addEventListener("submit", (e) => { e.preventDefault(); show(); });
  $("pilot").addEventListener("change", show);
  await show();
}

init();
