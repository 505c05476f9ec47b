// The maker page: one form per ledger action; every submission carries an idempotency key, so
// a double tap or a retry on a flaky connection records nothing twice.
"use strict";

let me = null;
let materials = [];

const pilot = () => $("pilot").value;

async function refreshLots() {
  if (!me) return;
  const page = await api("GET", `/api/pilots/${pilot()}/lots?holder=${me.address}&open=true&limit=200`);
  const byId = Object.fromEntries(materials.map((m) => [m.material_id, m.code]));
  renderTable($("lots"), page.data, [["lot_id", "Lot"], ["material_id", "Material", (v) => esc(byId[v] || v)],
    ["grams", "Left (kg)", (v) => (v / 1000).toFixed(3)], ["recycled_bp", "Recycled", (v) => (v / 100).toFixed(1) + " %"],
    ["origin", "Origin"]]);
  for (const select of document.querySelectorAll("select[data-lots]")) {
    select.innerHTML = page.data.map((l) => `<option value="${l.lot_id}">#${l.lot_id} · ${esc(byId[l.material_id] || "")} · ${(l.grams / 1000).toFixed(3)} kg</option>`).join("");
  }
}

function fillMaterials() {
  for (const select of document.querySelectorAll("select[data-materials]")) {
    const wanted = select.dataset.materials === "waste" ? materials.filter((m) => !m.code.startsWith("P-")) : materials;
    select.innerHTML = wanted.map((m) => `<option>${esc(m.code)}</option>`).join("");
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
  $("result").textContent = "sending…";
  try {
    const out = await api("POST", `/api/pilots/${pilot()}/${path}?wait=indexed`, { records: [record] },
      { "Idempotency-Key": crypto.randomUUID() });
    const lots = out.lots.length ? ` · new lot${out.lots.length > 1 ? "s" : ""} ${out.lots.map((l) => "#" + l).join(", ")}` : "";
    $("result").className = "result ok";
    $("result").innerHTML = `Recorded in block ${out.block_number}, transaction <code>${esc(out.tx_hash)}</code>${esc(lots)}` +
      (out.indexed ? " · indexed" : "");
    form.reset();
    await refreshLots();
  } catch (err) {
    showErrors($("result"), err);
  } finally {
    button.disabled = false;
  }
}

async function signIn() {
  me = await whoAmI($("who"));
  if (me) {
    const mine = Object.keys(me.roles).filter((p) => me.roles[p].includes("maker"));
    const options = [...$("pilot").options];
    const first = options.find((o) => mine.includes(o.value));
    if (first) $("pilot").value = first.value;
    await refreshLots();
  }
}

async function init() {
  const [pilots, known] = await Promise.all([api("GET", "/api/pilots"), api("GET", "/api/materials")]);
  materials = known;
  $("pilot").innerHTML = pilots.data.map((p) => `<option value="${p.code}">${esc(p.city)}</option>`).join("");
  fillMaterials();
  for (const id of ["intake", "transform", "transfer", "dispatch", "contribution"]) $(id).addEventListener("submit", submit);
  $("pilot").addEventListener("change", refreshLots);
  $("signin").addEventListener("submit", (e) => { e.preventDefault(); setKey($("key").value.trim()); signIn(); });
  $("signout").addEventListener("click", () => { setKey(null); me = null; $("who").textContent = "signed out"; $("lots").innerHTML = ""; });
  await signIn();
}

init();
