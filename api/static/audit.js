// The audit page: recent products and a search, the provenance tree and trail of a lot, and
// verification of the index against the chain.
"use strict";

const SOURCES = { 1: "municipal_collection", 2: "donation", 3: "industrial_surplus", 4: "product_return", 5: "virgin_purchase" };
let names = {};

const lotLabel = (l) => `#${l.lot_id} · ${l.name || l.code || t("material.unnamed")}` + (l.code && l.name ? ` (${l.code})` : "") + ` · ${kg(l.initial_grams)}`;

function tree(node) {
  const children = (node.from || []).map(tree);
  return h("li", {}, `${t("col.lot")} #${node.lot_id} · ${pct(node.share)}` + (node.source ? ` · ${t("audit.intake")}` : "") + (node.truncated ? " …" : ""),
    children.length ? h("ul", { class: "tree" }, children) : null);
}

async function find(q) {
  $("search-status").textContent = t("status.loading");
  try {
    const hits = await api("GET", "/api/audit/lots" + (q ? "?q=" + encodeURIComponent(q) : ""));
    $("search-status").textContent = q ? t("audit.found", { n: num(hits.length) }) : t("audit.recent");
    renderTable($("found"), hits, [
      [t("col.lot"), (l) => {
        const button = h("button", { type: "button", class: "secondary", "data-lot": l.lot_id }, lotLabel(l));
        button.addEventListener("click", () => { $("lot").value = l.lot_id; trace(l.lot_id); });
        return button;
      }],
      [t("col.maker"), (l) => h("code", { title: l.holder }, short(l.holder))],
      [t("col.when"), (l) => date(l.created_ts)],
    ]);
  } catch (err) {
    showErrors($("search-status"), err);
  }
}

async function trace(lot) {
  $("lot-error").className = "result";
  $("lot-error").textContent = "";
  try {
    const [prov, trail] = await Promise.all([api("GET", `/api/lots/${lot}/provenance`), api("GET", `/api/lots/${lot}/trail`)]);
    clear($("tree"), h("ul", { class: "tree" }, tree(prov.tree)));
    $("passport-link").href = `/passport/${encodeURIComponent(lot)}`;
    $("passport-link").hidden = false;
    renderTable($("sources"), prov.sources, [[t("col.sourcelot"), (r) => "#" + r.lot_id], [t("col.share"), (r) => pct(r.share), "num"],
      [t("field.source"), (r) => label_("source." + SOURCES[r.source], String(r.source))], [t("col.takenin"), (r) => kg(r.grams), "num"],
      [t("col.maker"), (r) => h("code", { title: r.maker }, short(r.maker))], [t("col.when"), (r) => dateTime(r.ts)]]);
    renderTable($("trail"), trail.trail, [[t("col.action"), (r) => t("action." + r.action)], [t("col.block"), (r) => num(r.block_number), "num"],
      [t("col.transaction"), (r) => h("code", { title: r.tx_hash }, short(r.tx_hash))], [t("col.log"), (r) => String(r.log_index), "num"],
      [t("col.grams"), (r) => (r.grams === undefined ? "" : num(r.grams)), "num"], [t("col.when"), (r) => dateTime(r.ts)]]);
  } catch (err) {
    showErrors($("lot-error"), err);
  }
}

const label_ = (key, fallback) => (key in catalogue ? t(key) : fallback);

async function verify() {
  const params = new URLSearchParams();
  if ($("from").value) params.set("from_block", $("from").value);
  if ($("to").value) params.set("to_block", $("to").value);
  if ($("vpilot").value) params.set("pilot", $("vpilot").value);
  $("verdict").className = "result";
  $("verdict").textContent = t("audit.rereading");
  try {
    const report = await api("GET", "/api/audit/verify?" + params);
    $("verdict").className = "result " + (report.ok ? "ok" : "error");
    $("verdict").textContent = t(report.ok ? "audit.matches" : "audit.mismatch", { from: num(report.from_block), to: num(report.to_block),
      events: num(report.events), rows: num(report.rows_checked), n: num(report.mismatches.length) });
    renderTable($("mismatches"), report.mismatches, [[t("col.kind"), (r) => r.kind], [t("col.table"), (r) => r.table], [t("col.detail"), (r) => r.message]]);
  } catch (err) {
    showErrors($("verdict"), err);
  }
}

async function init() {
  const pilots = await api("GET", "/api/pilots");
  const wanted = new URLSearchParams(location.search).get("pilot");
  const here = pilots.data.find((p) => p.code === wanted) || pilots.data[0];
  await useLanguage(null, here.language);
  $("vpilot").append(...pilots.data.map((p) => h("option", { value: p.code }, p.city)));
  $("search-form").addEventListener("submit", (e) => { e.preventDefault(); find($("q").value.trim()); });
  $("lot-form").addEventListener("submit", (e) => { e.preventDefault(); trace($("lot").value); });
  $("verify-form").addEventListener("submit", (e) => { e.preventDefault(); verify(); });
  const signIn = async () => { await accountPanel(signIn); };
  languageSwitcher(async () => { await signIn(); await find($("q").value.trim()); if ($("lot").value) await trace($("lot").value); });
  await signIn();
  await find("");
  const lot = new URLSearchParams(location.search).get("lot");
  if (lot) { $("lot").value = lot; await trace(lot); }
}

init();
