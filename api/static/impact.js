// Impact view: a pilot's KPIs against baseline and target, grouped; the seven pilots side by side.
"use strict";

const fmt = (v, unit) => (v === null || v === undefined ? "–" : unit === "share" || unit === "index" ? Number(v).toFixed(2) : Number(v).toLocaleString("en", { maximumFractionDigits: 1 }));

function bar(p) {
  if (p === null || p === undefined) return "–";
  const pct = Math.max(0, Math.min(100, p * 100));
  return `<meter min="0" max="100" value="${pct}" title="${(p * 100).toFixed(0)} % of the way"></meter> ${(p * 100).toFixed(0)} %`;
}

async function show() {
  const pilot = $("pilot").value;
  const year = $("year").value;
  history.replaceState(null, "", `?pilot=${pilot}&year=${year}`);
  $("jsonld").href = `/api/pilots/${pilot}/impact.jsonld?year=${year}`;
  const impact = await api("GET", `/api/pilots/${pilot}/impact?year=${year}`);
  $("groups").innerHTML = ["social", "economic", "environmental"].map((group) => {
    const rows = impact.kpis.filter((k) => k.group === group);
    return `<h2>${group[0].toUpperCase() + group.slice(1)}</h2><table data-group="${group}"><tr><th>KPI</th><th>Value</th><th>Baseline</th><th>Target</th><th>Progress</th><th>Method and source</th></tr>` +
      rows.map((k) => `<tr data-metric="${esc(k.metric)}"><td>${esc(k.name)}${k.iris ? ` <small>IRIS+ ${esc(k.iris)}</small>` : ""}</td>` +
        `<td class="value">${fmt(k.value, k.unit)} <small>${esc(k.unit)}</small>${k.note ? `<br><small>${esc(k.note)}</small>` : ""}</td>` +
        `<td>${fmt(k.baseline, k.unit)}</td><td>${fmt(k.target, k.unit)}</td><td>${bar(k.progress)}</td>` +
        `<td><small>${esc(k.method)}; ${esc(k.source)}</small></td></tr>`).join("") + "</table>";
  }).join("");
  const all = await api("GET", `/api/impact?year=${year}`);
  const metrics = ["participants", "attendance", "training_hours", "credentials_issued", "maker_space_users", "new_prototypes", "kg_diverted", "circularity_rate", "mci"];
  const names = Object.fromEntries(all[0].kpis.map((k) => [k.metric, k.name]));
  $("compare").innerHTML = `<tr><th>Pilot</th>${metrics.map((m) => `<th>${esc(names[m] || m)}</th>`).join("")}</tr>` +
    all.map((p) => `<tr><td>${esc(p.city)}</td>${metrics.map((m) => {
      const k = p.kpis.find((x) => x.metric === m);
      return `<td>${k ? fmt(k.value, k.unit) : "–"}</td>`;
    }).join("")}</tr>`).join("");
}

async function init() {
  const pilots = await api("GET", "/api/pilots");
  const params = new URLSearchParams(location.search);
  $("pilot").innerHTML = pilots.data.map((p) => `<option value="${p.code}">${esc(p.city)}</option>`).join("");
  $("pilot").value = params.get("pilot") || pilots.data[0].code;
  $("year").value = params.get("year") || new Date().getUTCFullYear();
  $("controls").addEventListener("submit", (e) => { e.preventDefault(); show(); });
  $("pilot").addEventListener("change", show);
  await show();
}

init();
