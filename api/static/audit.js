// The audit page: provenance tree and trail of a lot, and verification of the index against the chain.
"use strict";

const sources = { 1: "municipal collection", 2: "donation", 3: "industrial surplus", 4: "product return", 5: "virgin purchase" };

function tree(node) {
  const label = `lot #${node.lot_id} · ${(100 * node.share).toFixed(2)} %` + (node.source ? " · intake" : "");
  const children = (node.from || []).map(tree).join("");
  return `<li>${esc(label)}${node.truncated ? " …" : ""}${children ? `<ul class="tree">${children}</ul>` : ""}</li>`;
}

async function trace(lot) {
  $("lot-error").className = "result";
  $("lot-error").textContent = "";
  try {
    const [prov, trail] = await Promise.all([api("GET", `/api/lots/${lot}/provenance`), api("GET", `/api/lots/${lot}/trail`)]);
    $("tree").innerHTML = `<ul class="tree">${tree(prov.tree)}</ul>`;
    $("passport-link").href = `/passport/${encodeURIComponent(lot)}`;
    $("passport-link").hidden = false;
    renderTable($("sources"), prov.sources, [["lot_id", "Source lot"], ["share", "Share", (v) => (100 * v).toFixed(2) + " %"],
      ["source", "Source", (v) => esc(sources[v] || v)], ["grams", "Taken in (kg)", (v) => (v / 1000).toFixed(3)],
      ["maker", "Maker", (v) => `<code>${esc(short(v))}</code>`], ["ts", "When", when]]);
    renderTable($("trail"), trail.trail, [["action", "Action"], ["block_number", "Block"],
      ["tx_hash", "Transaction", (v) => `<code title="${esc(v)}">${esc(short(v))}</code>`], ["log_index", "Log"],
      ["grams", "Grams"], ["ts", "When", when]]);
  } catch (err) {
    showErrors($("lot-error"), err);
  }
}

async function verify() {
  const params = new URLSearchParams();
  if ($("from").value) params.set("from_block", $("from").value);
  if ($("to").value) params.set("to_block", $("to").value);
  if ($("vpilot").value) params.set("pilot", $("vpilot").value);
  $("verdict").className = "result";
  $("verdict").textContent = "re-reading the chain…";
  try {
    const report = await api("GET", "/api/audit/verify?" + params);
    $("verdict").className = "result " + (report.ok ? "ok" : "error");
    $("verdict").textContent = `blocks ${report.from_block}–${report.to_block}: ${report.events} events, ${report.rows_checked} rows` +
      (report.lots_checked !== null ? `, ${report.lots_checked} lots` : "") + " checked: " +
      (report.ok ? "the index matches the chain" : `${report.mismatches.length} mismatches`);
    renderTable($("mismatches"), report.mismatches, [["kind", "Kind"], ["table", "Table"], ["message", "Detail"]]);
  } catch (err) {
    showErrors($("verdict"), err);
  }
}

async function init() {
  const pilots = await api("GET", "/api/pilots");
  $("vpilot").innerHTML += pilots.data.map((p) => `<option value="${p.code}">${esc(p.city)}</option>`).join("");
  $("lot-form").addEventListener("submit", (e) => { e.preventDefault(); trace($("lot").value); });
  $("verify-form").addEventListener("submit", (e) => { e.preventDefault(); verify(); });
  const lot = new URLSearchParams(location.search).get("lot");
  if (lot) { $("lot").value = lot; await trace(lot); }
}

init();
