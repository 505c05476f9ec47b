// The passport page of one lot: /passport/{lot} or a GS1 Digital Link /01/{gtin}/10/{lot}.
// What it shows depends on who reads it: the public, a signed-in supply-chain partner, or
// the lot's owner (who also sees the evidence documents kept with it).
"use strict";

const lotId = location.pathname.split("/").filter(Boolean).pop();
const chainRef = (c) => [t("passport.chainref", { block: num(c.block), log: c.log }), " ", h("code", { title: c.transaction }, short(c.transaction))];
const share = (v) => new Intl.NumberFormat(locale(), { style: "percent", minimumFractionDigits: 2, maximumFractionDigits: 2 }).format(v);
const when = (iso) => dateTime(Date.parse(iso) / 1000);

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
  const facts = [[t("passport.product"), `${p.product.name} (${p.product.materialClass})`], [t("passport.identifier"), h("code", {}, p.product.id)],
    [t("field.pilot"), `${p.pilot.name} (${p.pilot.code})`], [t("col.maker"), h("span", { class: "maker" }, p.maker.account || p.maker.pseudonym)],
    [t("col.recycled"), share(p.recycledContent)]];
  if (p.mass) facts.push([t("passport.mass"), t("passport.massof", { left: kg(p.mass.grams), initial: kg(p.mass.initialGrams) })]);
  clear($("facts"), h("tbody", {}, facts.map(([k, v]) => h("tr", {}, h("th", { scope: "row" }, k), h("td", {}, v)))));
  renderTable($("provenance"), p.provenance, [[t("col.sourcelot"), (r) => r.lotNumber], [t("col.material"), (r) => r.materialClass],
    [t("field.source"), (r) => r.sourceKind], [t("col.share"), (r) => share(r.share), "num"], [t("col.maker"), (r) => r.account || "—"]]);
  renderTable($("handovers"), p.handOvers, [[t("col.when"), (r) => when(r.time)], [t("field.from"), (r) => r.fromAccount || r.from],
    [t("field.to"), (r) => r.toAccount || r.to], [t("passport.onchain"), (r) => chainRef(r.chain)]]);
  renderTable($("fates"), p.fates, [[t("col.when"), (r) => when(r.time)], [t("field.fate"), (r) => r.fate], ["kg", (r) => num(r.grams / 1000, 3), "num"],
    [t("passport.onchain"), (r) => chainRef(r.chain)]]);
  renderTable($("evidence"), p.evidence, [[t("passport.record"), (r) => r.record], ["SHA-256", (r) => h("code", {}, r.sha256)], [t("passport.onchain"), (r) => chainRef(r.chain)]]);
  if (p.evidenceDocuments) {
    $("documents-section").hidden = false;
    clear($("documents"), p.evidenceDocuments.length
      ? p.evidenceDocuments.map((d) => h("li", {}, d.name, " · ", h("code", {}, d.sha256.slice(0, 14) + "…")))
      : h("li", {}, t("passport.nodocuments")));
  }
}

async function verify() {
  const out = $("verdict");
  try {
    const v = await api("GET", `/api/passports/${lotId}/verify`);
    out.className = "result " + (v.verified ? "ok" : "error");
    out.textContent = v.verified ? t("passport.verified", { n: num(v.checks.length) })
      : t("passport.mismatch", { list: v.checks.filter((c) => !c.ok).map((c) => `${c.record}: ${c.reason}`).join("; ") });
  } catch (err) {
    showErrors(out, err);
  }
}

async function init() {
  await useLanguage(null, null);
  $("verify").addEventListener("click", verify);
  languageSwitcher(load);
  await load();
}

init();
