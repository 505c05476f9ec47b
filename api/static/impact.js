// Impact view: a pilot's KPIs against baseline and target, grouped; the seven pilots side by side.
"use strict";

const METRICS = ["participants", "attendance", "training_hours", "credentials_issued", "maker_space_users", "new_prototypes", "kg_diverted", "circularity_rate", "mci"];
const value = (v, unit) => (unit === "share" || unit === "index" ? num(v, 2) : num(v, v !== null && v !== undefined && !Number.isInteger(v) ? 1 : 0));

function bar(p) {
  if (p === null || p === undefined) return "–";
  const share = Math.max(0, Math.min(1, p));
  return h("span", {}, h("meter", { min: 0, max: 1, value: share, "aria-label": t("impact.progress") }), " ", pct(p));
}

async function show() {
  const pilot = $("pilot").value;
  const year = $("year").value;
  history.replaceState(null, "", `?pilot=${encodeURIComponent(pilot)}&year=${encodeURIComponent(year)}`);
  $("jsonld").href = `/api/pilots/${encodeURIComponent(pilot)}/impact.jsonld?year=${encodeURIComponent(year)}`;
  try {
    const impact = await api("GET", `/api/pilots/${encodeURIComponent(pilot)}/impact?year=${encodeURIComponent(year)}`);
    clear($("groups"), ["social", "economic", "environmental"].map((group) => {
      const table = h("table", { "data-group": group });
      renderTable(table, impact.kpis.filter((k) => k.group === group), [
        [t("impact.kpi"), (k) => [k.name, k.iris ? h("span", { class: "code" }, " IRIS+ " + k.iris) : null]],
        [t("impact.value"), (k) => [value(k.value, k.unit), " ", h("span", { class: "code" }, k.unit), k.note ? h("p", { class: "hint" }, k.note) : null], "num value"],
        [t("impact.baseline"), (k) => value(k.baseline, k.unit), "num"], [t("impact.target"), (k) => value(k.target, k.unit), "num"],
        [t("impact.progress"), (k) => bar(k.progress)], [t("impact.method"), (k) => h("span", { class: "hint" }, `${k.method}; ${k.source}`)],
      ]);
      for (const [i, row] of [...table.tBodies[0].rows].entries()) row.dataset.metric = impact.kpis.filter((k) => k.group === group)[i].metric;
      return h("section", { "aria-label": t("impact." + group) }, h("h2", {}, t("impact." + group)), h("div", { class: "scroll", tabindex: 0 }, table));
    }));
    const all = await api("GET", `/api/impact?year=${encodeURIComponent(year)}`);
    const names = Object.fromEntries(all[0].kpis.map((k) => [k.metric, k.name]));
    renderTable($("compare"), all, [[t("col.pilot"), (p) => p.city],
      ...METRICS.map((m) => [names[m] || m, (p) => { const k = p.kpis.find((x) => x.metric === m); return k ? value(k.value, k.unit) : "–"; }, "num"])]);
  } catch (err) {
    clear($("groups"), h("p", { class: "result error" }, err.message));
  }
}

async function init() {
  const params = new URLSearchParams(location.search);
  const pilots = await pilotOptions($("pilot"), params.get("pilot"));
  const here = pilots.data.find((p) => p.code === $("pilot").value);
  await useLanguage(null, here && here.language);
  $("year").value = params.get("year") || new Date().getUTCFullYear();
  $("controls").addEventListener("submit", (e) => { e.preventDefault(); show(); });
  $("pilot").addEventListener("change", show);
  languageSwitcher(show);
  await show();
}

init();
