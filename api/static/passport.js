// The passport page of one lot: /passport/{lot} or a GS1 Digital Link /01/{gtin}/10/{lot}.
// What it shows depends on who reads it: the public, a signed-in supply-chain partner, or
// the lot's owner (who also sees the evidence documents kept with it).
"use strict";

const lotId = location.pathname.split("/").filter(Boolean).pop();
const chainRef = (c) => `block ${c.block} · <code>${esc(c.transaction.slice(0, 12))}…</code> · log ${c.log}`;
const pct = (v) => (v * 100).toFixed(2) + " %";

async function load() {
  let p;
  try {
    p = await api("GET", `/api/passports/${lotId}`);
  } catch (err) {
    showErrors($("error"), err);
    return;
  }
  $("passport").hidden = false;
  $("level").textContent = p.accessLevel;
  $("jsonld").href = `/api/passports/${lotId}`;
  $("qr").src = `/api/passports/${lotId}/qr.svg`;
  const rows = [["Product", `${esc(p.product.name)} (${esc(p.product.materialClass)})`], ["Identifier", `<code>${esc(p.product.id)}</code>`],
    ["Pilot", `${esc(p.pilot.name)} (${esc(p.pilot.code)})`], ["Maker", `<span class="maker">${esc(p.maker.account || p.maker.pseudonym)}</span>`],
    ["Recycled content", pct(p.recycledContent)]];
  if (p.mass) rows.push(["Mass", `${(p.mass.grams / 1000).toFixed(3)} kg of ${(p.mass.initialGrams / 1000).toFixed(3)} kg`]);
  $("facts").innerHTML = rows.map(([k, v]) => `<tr><th>${k}</th><td>${v}</td></tr>`).join("");
  renderTable($("provenance"), p.provenance, [["lotNumber", "Source lot"], ["materialClass", "Material"], ["sourceKind", "Source"],
    ["share", "Share", pct], ["account", "Maker account", (v) => esc(v || "—")]]);
  renderTable($("handovers"), p.handOvers, [["time", "When"], ["from", "From", (v, r) => esc(r.fromAccount || v)],
    ["to", "To", (v, r) => esc(r.toAccount || v)], ["chain", "On chain", chainRef]]);
  renderTable($("fates"), p.fates, [["time", "When"], ["fate", "Fate"], ["grams", "kg", (v) => (v / 1000).toFixed(3)], ["chain", "On chain", chainRef]]);
  renderTable($("evidence"), p.evidence, [["record", "Record"], ["sha256", "SHA-256", (v) => `<code>${esc(v)}</code>`], ["chain", "On chain", chainRef]]);
  if (p.evidenceDocuments) {
    $("documents-section").hidden = false;
    $("documents").innerHTML = p.evidenceDocuments.length
      ? p.evidenceDocuments.map((d) => `<li>${esc(d.name)} · <code>${esc(d.sha256.slice(0, 14))}…</code></li>`).join("")
      : "<li>none kept yet</li>";
  }
}

$("verify").addEventListener("click", async () => {
  const out = $("verdict");
  try {
    const v = await api("GET", `/api/passports/${lotId}/verify`);
    out.className = "result " + (v.verified ? "ok" : "error");
    out.textContent = v.verified ? `verified: all ${v.checks.length} records match the chain`
      : "mismatch: " + v.checks.filter((c) => !c.ok).map((c) => `${c.record}: ${c.reason}`).join("; ");
  } catch (err) {
    showErrors(out, err);
  }
});

load();
