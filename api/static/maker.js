// The maker page: one form per ledger action; every submission carries an idempotency key, so
// a double tap or a retry on a flaky connection records nothing twice.
"use strict";

let me = null;
let materials = [];

const pilot = () => $("pilot").value;
const materialName = (m) => (m ? `${m.name || t("material.unnamed")} (${m.code})` : "?");

async function refreshLots() {
  const selects = document.querySelectorAll("select[data-lots]");
  if (!me) { clear($("lots")); for (const s of selects) clear(s); return; }
  const page = await api("GET", `/api/pilots/${pilot()}/lots?holder=${me.address}&open=true&limit=200`);
  const byId = Object.fromEntries(materials.map((m) => [m.material_id, m]));
  renderTable($("lots"), page.data, [[t("col.lot"), (l) => "#" + l.lot_id], [t("col.material"), (l) => materialName(byId[l.material_id])],
    [t("col.left"), (l) => kg(l.grams), "num"], [t("col.recycled"), (l) => pct(l.recycled_bp / 10000), "num"],
    [t("col.origin"), (l) => t("origin." + l.origin)]]);
  for (const select of selects) {
    clear(select, page.data.map((l) => h("option", { value: l.lot_id }, `#${l.lot_id} · ${materialName(byId[l.material_id])} · ${kg(l.grams)}`)));
  }
}

function fillMaterials() {
  for (const select of document.querySelectorAll("select[data-materials]")) {
    const wanted = select.dataset.materials === "waste" ? materials.filter((m) => m.kind === 1) : materials;
    const previous = select.value;
    clear(select, wanted.map((m) => h("option", { value: m.code }, materialName(m))));
    if (previous) select.value = previous;
  }
}

function recordOf(form) {
  const f = Object.fromEntries(new FormData(form).entries());
  switch (form.id) {
    case "intake": return ["intakes", { material: f.material, source: f.source, quantity: f.quantity, unit: f.unit }];
    case "transform": return ["transformations", { inputs: [{ lot_id: Number(f.in_lot), quantity: f.in_qty }],
      outputs: [{ material: f.out_material, quantity: f.out_qty }], loss: f.loss || "0", unit: f.unit }];
    case "transfer": return ["transfers", { lot_id: Number(f.lot_id), to: f.to, quantity: f.quantity, unit: f.unit }];
    case "dispatch": return ["dispatches", { lot_id: Number(f.lot_id), quantity: f.quantity, unit: f.unit, fate: f.fate }];
    default: return ["contributions", { kind: f.kind, amount: Number(f.amount) }];
  }
}

async function submit(event) {
  event.preventDefault();
  const form = event.target;
  const [path, record] = recordOf(form);
  const button = form.querySelector("button[type=submit]");
  button.disabled = true;
  $("result").className = "result";
  $("result").textContent = t("status.sending");
  try {
    const out = await api("POST", `/api/pilots/${pilot()}/${path}?wait=indexed`, { records: [record] },
      { "Idempotency-Key": crypto.randomUUID() });
    showResult($("result"), t("maker.recorded", { block: num(out.block_number) }), " ", h("code", {}, out.tx_hash),
      out.lots.length ? " · " + t("maker.newlots", { lots: out.lots.map((l) => "#" + l).join(", ") }) : "",
      out.indexed ? " · " + t("maker.indexed") : "");
    form.reset();
    await refreshLots();
  } catch (err) {
    showErrors($("result"), err);
  } finally {
    button.disabled = false;
  }
}

async function signIn() {
  me = await accountPanel(signIn);
  if (me) {
    const mine = Object.keys(me.roles).filter((p) => me.roles[p].includes("maker"));
    const first = [...$("pilot").options].find((o) => mine.includes(o.value));
    if (first) $("pilot").value = first.value;
  }
  const known = await api("GET", `/api/pilots/${pilot()}/material-names`);
  materials = known;
  fillMaterials();
  await refreshLots();
}

async function init() {
  const pilots = await pilotOptions($("pilot"), new URLSearchParams(location.search).get("pilot"));
  const here = pilots.data.find((p) => p.code === $("pilot").value);
  await useLanguage(null, here && here.language);
  for (const id of ["intake", "transform", "transfer", "dispatch", "contribution"]) $(id).addEventListener("submit", submit);
  $("pilot").addEventListener("change", signIn);
  $("pilot-form").addEventListener("submit", (e) => e.preventDefault());
  languageSwitcher(signIn);
  await signIn();
}

init();
