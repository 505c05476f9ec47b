// The exchange page: register an organisation and site, publish signed listings, search by
// material and distance, see a listing's ranked matches with the score explained, and accept one
// (an available lot is then handed over on chain with the match record's hash as evidence).
"use strict";

let me = null;
let mySite = null;
let materials = [];

const pilot = () => $("pilot").value;
const kgOf = (v) => Number(v).toLocaleString("en", { maximumFractionDigits: 3 });

function ok(text) {
  $("result").className = "result ok";
  $("result").innerHTML = text;
}

async function loadOrganisation() {
  mySite = null;
  if (!me) return;
  const orgs = await api("GET", `/api/pilots/${pilot()}/organisations`);
  const mine = orgs.find((o) => o.accounts.includes(me.address));
  if (mine) {
    mySite = mine.sites[0];
    $("org").textContent = `${mine.name} (${mine.kind}) · site ${mySite.name} #${mySite.id} at ${mySite.lat.toFixed(4)}, ${mySite.lon.toFixed(4)}`;
    $("organisation").hidden = true;
  } else {
    $("org").textContent = "Register your organisation and a site to list material.";
    $("organisation").hidden = false;
  }
}

async function loadLots() {
  if (!me) return;
  const page = await api("GET", `/api/pilots/${pilot()}/lots?holder=${me.address}&open=true&limit=200`);
  const byId = Object.fromEntries(materials.map((m) => [m.material_id, m.code]));
  const select = document.querySelector("select[data-lots]");
  const chosen = select.value;  // a refresh while the form is being filled keeps the choice
  select.innerHTML = `<option value="">recurring surplus</option>` + page.data.map((l) =>
    `<option value="${l.lot_id}" data-material="${esc(byId[l.material_id])}">#${l.lot_id} · ${esc(byId[l.material_id] || "")} · ${(l.grams / 1000).toFixed(3)} kg</option>`).join("");
  if (page.data.some((l) => String(l.lot_id) === chosen)) select.value = chosen;
}

const listingColumns = [["id", "#"], ["side", "Side"], ["material", "Material", (v) => `<code>${esc(v)}</code>`],
  ["kg", "kg", kgOf], ["organisation", "Organisation"], ["site", "Site"],
  ["distance_km", "km", (v) => (v === null || v === undefined ? "–" : Number(v).toFixed(1))],
  ["lot_id", "Lot", (v) => (v ? `#${v}` : "surplus")], ["expires_at", "Expires", when]];

async function search(event) {
  if (event) event.preventDefault();
  const f = new FormData($("search"));
  const params = new URLSearchParams();
  if (f.get("material")) params.set("material", f.get("material"));
  if (f.get("side")) params.set("side", f.get("side"));
  if (mySite) params.set("near_site", mySite.id);
  if (f.get("within_km") && mySite) params.set("within_km", f.get("within_km"));
  try {
    renderTable($("listings"), await api("GET", `/api/pilots/${pilot()}/listings?${params}`), listingColumns);
  } catch (err) {
    showErrors($("result"), err);
  }
}

async function loadMine() {
  if (!me) return;
  const rows = await api("GET", `/api/pilots/${pilot()}/listings?account=${me.address}&include_closed=true`);
  renderTable($("mine"), rows, [...listingColumns, ["status", "Status"],
    ["id", "", (v, r) => (r.status === "open" ? `<button type="button" class="secondary" data-matches="${v}">Matches</button>` : "")]]);
}

async function showMatches(listingId) {
  $("matches-title").textContent = `Matches of listing #${listingId}`;
  const found = await api("GET", `/api/listings/${listingId}/matches`);
  const mine = await api("GET", `/api/listings/${listingId}`);
  renderTable($("candidates"), found, [
    ["listing", "Listing", (l) => `#${l.id} · ${esc(l.side)} <code>${esc(l.material)}</code> · ${esc(l.organisation)}`],
    ["score", "Score", (v) => v.toFixed(3)], ["kg", "kg", kgOf], ["distance_km", "km", (v) => v.toFixed(1)],
    ["co2e_kg", "Transport CO2e (kg)", (v) => v.toFixed(3)],
    ["parts", "Why", (parts) => "<ul>" + parts.map((p) => `<li>${esc(p.name)} ${p.value.toFixed(2)} × ${p.weight}: ${esc(p.why)}</li>`).join("") + "</ul>"],
    ["listing", "", (l) => `<button type="button" data-accept="${l.id}" data-of="${mine.id}" data-side="${esc(mine.side)}">Accept</button>`],
  ]);
}

async function accept(button) {
  const [available, wanted] = button.dataset.side === "wanted"
    ? [Number(button.dataset.accept), Number(button.dataset.of)] : [Number(button.dataset.of), Number(button.dataset.accept)];
  button.disabled = true;
  $("result").className = "result";
  $("result").textContent = "handing over…";
  try {
    const proposed = await api("POST", "/api/matches", { available_id: available, wanted_id: wanted });
    const done = await api("POST", `/api/matches/${proposed.id}/accept`);
    ok(`Match #${done.id} is <strong>${esc(done.state)}</strong>` +
      (done.tx_hash ? ` in transaction <code>${esc(done.tx_hash)}</code>, received lot #${done.received_lot}` : "") +
      `; evidence (SHA-256 of the match record) <code id="evidence">${esc(done.record_hash)}</code>`);
    const offer = await api("GET", `/api/listings/${available}`);
    if (offer.lot_id && done.record_hash) await showTrail(offer.lot_id, done.record_hash);
    await refresh();
  } catch (err) {
    showErrors($("result"), err);
    button.disabled = false;
  }
}

async function showTrail(lot, evidence) {
  for (let i = 0; i < 40; i += 1) {
    const trail = await api("GET", `/api/lots/${lot}/trail`);
    if (trail.trail.some((s) => s.action === "transfer" && s.evidence === evidence)) {
      renderTable($("trail"), trail.trail, [["action", "Action"], ["block_number", "Block"],
        ["tx_hash", "Transaction", (v) => `<code title="${esc(v)}">${esc(short(v))}</code>`], ["grams", "Grams"],
        ["evidence", "Evidence", (v) => `<code>${esc(v)}</code>`], ["ts", "When", when]]);
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

async function loadMatches() {
  const rows = await api("GET", `/api/pilots/${pilot()}/matches`);
  renderTable($("matches"), rows, [["id", "#"], ["available_id", "Available"], ["wanted_id", "Wanted"], ["kg", "kg", kgOf],
    ["score", "Score", (v) => v.toFixed(3)], ["state", "State"], ["distance_km", "km", (v) => v.toFixed(1)],
    ["co2e_kg", "CO2e kg", (v) => v.toFixed(3)], ["tx_hash", "Transaction", (v) => (v ? `<code>${esc(short(v))}</code>` : "")]]);
}

async function publish(event) {
  event.preventDefault();
  const f = Object.fromEntries(new FormData(event.target).entries());
  if (!mySite) { showErrors($("result"), { message: "register your organisation and a site first", fields: [] }); return; }
  const body = { side: f.side, material: f.material, quantity: f.quantity, unit: f.unit, site_id: mySite.id,
    expires_in_days: Number(f.expires_in_days || 30) };
  if (f.side === "available") {
    if (f.lot_id) body.lot_id = Number(f.lot_id); else if (f.interval_days) body.interval_days = Number(f.interval_days);
  } else if (f.reach_km) body.reach_km = Number(f.reach_km);
  try {
    const listing = await api("POST", `/api/pilots/${pilot()}/listings`, body);
    ok(`Listing #${listing.id} published, signed by <code>${esc(listing.signer)}</code> (signature valid: ${listing.valid})`);
    await refresh();
  } catch (err) {
    showErrors($("result"), err);
  }
}

async function register(event) {
  event.preventDefault();
  const f = Object.fromEntries(new FormData(event.target).entries());
  try {
    await api("POST", `/api/pilots/${pilot()}/organisations`, { name: f.name, kind: f.kind,
      sites: [{ name: f.site, kind: "workshop", lat: Number(f.lat), lon: Number(f.lon) }] });
    await refresh();
  } catch (err) {
    showErrors($("result"), err);
  }
}

async function refresh() {
  await loadOrganisation();
  await Promise.all([loadLots(), loadMine(), loadMatches(), search()]);
}

async function init() {
  $("signin").addEventListener("submit", async (event) => { event.preventDefault(); setKey($("key").value.trim()); me = await whoAmI($("who")); await refresh(); });
  $("signout").addEventListener("click", async () => { setKey(null); me = null; $("who").textContent = "signed out"; });
  $("pilot").addEventListener("change", refresh);
  $("organisation").addEventListener("submit", register);
  $("listing").addEventListener("submit", publish);
  $("search").addEventListener("submit", search);
  $("mine").addEventListener("click", (e) => { if (e.target.dataset.matches) showMatches(Number(e.target.dataset.matches)); });
  $("candidates").addEventListener("click", (e) => { if (e.target.dataset.accept) accept(e.target); });
  document.querySelector("select[data-lots]").addEventListener("change", (e) => {
    const option = e.target.selectedOptions[0];
    if (option && option.dataset.material) $("listing").elements.material.value = option.dataset.material;
  });
  const [pilots, known] = await Promise.all([api("GET", "/api/pilots"), api("GET", "/api/materials")]);
  materials = known;
  $("pilot").innerHTML = pilots.data.map((p) => `<option value="${esc(p.code)}">${esc(p.city)}</option>`).join("");
  for (const select of document.querySelectorAll("select[data-materials]")) {
    select.innerHTML = (select.hasAttribute("data-any") ? `<option value="">any</option>` : "") +
      materials.map((m) => `<option>${esc(m.code)}</option>`).join("");
  }
  me = await whoAmI($("who"));
  await refresh();
}

init();
