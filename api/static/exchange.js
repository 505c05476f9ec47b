// The exchange page: register an organisation and site, publish signed listings, search by
// material and distance, see a listing's ranked matches with the score explained, and accept one
// (an available lot is then handed over on chain with the match record's hash as evidence).
"use strict";

let me = null;
let mySite = null;
let materials = [];

const pilot = () => encodeURIComponent($("pilot").value);
const kgOf = (v) => num(v, Number.isInteger(Number(v)) ? 0 : 3);
const km = (v) => (v === null || v === undefined ? "–" : num(v, 1));
const code = (v) => h("code", { title: v }, short(v));

async function loadOrganisation() {
  mySite = null;
  if (!me) { $("org").textContent = t("exchange.signinfirst"); $("organisation").hidden = true; return; }
  const orgs = await api("GET", `/api/pilots/${pilot()}/organisations`);
  const mine = orgs.find((o) => o.accounts.includes(me.address));
  if (mine) {
    mySite = mine.sites[0];
    $("org").textContent = t("exchange.orgline", { name: mine.name, kind: tOr("org." + mine.kind, mine.kind), site: mySite.name, id: mySite.id,
      lat: num(mySite.lat, 4), lon: num(mySite.lon, 4) });
    $("organisation").hidden = true;
  } else {
    $("org").textContent = t("exchange.registerfirst");
    $("organisation").hidden = false;
  }
}

async function loadLots() {
  const select = document.querySelector("select[data-lots]");
  const surplus = h("option", { value: "" }, t("exchange.surplus"));
  if (!me) { clear(select, surplus); return; }
  const page = await api("GET", `/api/pilots/${pilot()}/lots?holder=${me.address}&open=true&limit=200`);
  const byId = Object.fromEntries(materials.map((m) => [m.material_id, m.code]));
  const chosen = select.value;  // a refresh keeps the lot someone has picked meanwhile
  clear(select, surplus, page.data.map((l) =>
    h("option", { value: l.lot_id, "data-material": byId[l.material_id] }, `#${l.lot_id} · ${byId[l.material_id] || ""} · ${kg(l.grams)}`)));
  if ([...select.options].some((o) => o.value === chosen)) select.value = chosen;
}

const listingColumns = () => [["#", (r) => r.id], [t("exchange.side"), (r) => t("side." + r.side)], [t("col.material"), (r) => h("code", {}, r.material)],
  ["kg", (r) => kgOf(r.kg), "num"], [t("exchange.organisation"), (r) => r.organisation], [t("exchange.site"), (r) => r.site],
  ["km", (r) => km(r.distance_km), "num"], [t("col.lot"), (r) => (r.lot_id ? "#" + r.lot_id : t("exchange.surplus"))],
  [t("exchange.expiresat"), (r) => date(r.expires_at)]];

async function search(event) {
  if (event) event.preventDefault();
  const f = new FormData($("search"));
  const params = new URLSearchParams();
  if (f.get("material")) params.set("material", f.get("material"));
  if (f.get("side")) params.set("side", f.get("side"));
  if (mySite) params.set("near_site", mySite.id);
  if (f.get("within_km") && mySite) params.set("within_km", f.get("within_km"));
  try {
    renderTable($("listings"), await api("GET", `/api/pilots/${pilot()}/listings?${params}`), listingColumns());
  } catch (err) {
    showErrors($("result"), err);
  }
}

async function loadMine() {
  if (!me) { clear($("mine")); return; }
  const rows = await api("GET", `/api/pilots/${pilot()}/listings?account=${me.address}&include_closed=true`);
  renderTable($("mine"), rows, [...listingColumns(), [t("challenges.status"), (r) => tOr("listing." + r.status, r.status)],
    [t("col.action"), (r) => (r.status === "open" ? h("button", { type: "button", class: "secondary", "data-matches": r.id }, t("exchange.matchesbutton")) : "")]]);
}

async function showMatches(listingId) {
  $("matches-title").textContent = t("exchange.matchesof", { id: listingId });
  const found = await api("GET", `/api/listings/${listingId}/matches`);
  const mine = await api("GET", `/api/listings/${listingId}`);
  renderTable($("candidates"), found, [
    [t("exchange.listing"), (m) => [`#${m.listing.id} · ${t("side." + m.listing.side)} `, h("code", {}, m.listing.material), ` · ${m.listing.organisation}`]],
    [t("exchange.score"), (m) => num(m.score, 3), "num"], ["kg", (m) => kgOf(m.kg), "num"], ["km", (m) => km(m.distance_km), "num"],
    [t("exchange.co2e"), (m) => num(m.co2e_kg, 3), "num"],
    [t("exchange.why"), (m) => h("ul", {}, m.parts.map((p) => h("li", {}, `${p.name} ${num(p.value, 2)} × ${p.weight}: ${p.why}`)))],
    [t("col.action"), (m) => h("button", { type: "button", "data-accept": m.listing.id, "data-of": mine.id, "data-side": mine.side }, t("exchange.accept"))],
  ]);
}

async function accept(button) {
  const [available, wanted] = button.dataset.side === "wanted"
    ? [Number(button.dataset.accept), Number(button.dataset.of)] : [Number(button.dataset.of), Number(button.dataset.accept)];
  button.disabled = true;
  $("result").className = "result";
  $("result").textContent = t("exchange.handingover");
  try {
    const proposed = await api("POST", "/api/matches", { available_id: available, wanted_id: wanted });
    const done = await api("POST", `/api/matches/${proposed.id}/accept`);
    showResult($("result"), t("exchange.matchstate", { id: done.id }), " ", h("strong", {}, done.state),
      done.tx_hash ? [" · ", t("exchange.received", { lot: done.received_lot }), " ", h("code", {}, done.tx_hash)] : null,
      " · ", t("exchange.evidence"), " ", h("code", { id: "evidence" }, done.record_hash));
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
      renderTable($("trail"), trail.trail, [[t("col.action"), (r) => r.action], [t("col.block"), (r) => num(r.block_number), "num"],
        [t("col.transaction"), (r) => code(r.tx_hash)], [t("col.grams"), (r) => num(r.grams), "num"],
        [t("exchange.evidence"), (r) => (r.evidence ? h("code", {}, r.evidence) : "")], [t("col.when"), (r) => dateTime(r.ts)]]);
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

async function loadMatches() {
  const rows = await api("GET", `/api/pilots/${pilot()}/matches`);
  renderTable($("matches"), rows, [["#", (r) => r.id], [t("side.available"), (r) => "#" + r.available_id], [t("side.wanted"), (r) => "#" + r.wanted_id],
    ["kg", (r) => kgOf(r.kg), "num"], [t("exchange.score"), (r) => num(r.score, 3), "num"], [t("challenges.status"), (r) => r.state],
    ["km", (r) => km(r.distance_km), "num"], [t("exchange.co2e"), (r) => num(r.co2e_kg, 3), "num"],
    [t("col.transaction"), (r) => (r.tx_hash ? code(r.tx_hash) : "")]]);
}

async function publish(event) {
  event.preventDefault();
  const f = Object.fromEntries(new FormData(event.target).entries());
  if (!mySite) { showErrors($("result"), new ApiError(422, { message: t("exchange.registerfirst") })); return; }
  const body = { side: f.side, material: f.material, quantity: f.quantity, unit: f.unit, site_id: mySite.id,
    expires_in_days: Number(f.expires_in_days || 30) };
  if (f.side === "available") {
    if (f.lot_id) body.lot_id = Number(f.lot_id); else if (f.interval_days) body.interval_days = Number(f.interval_days);
  } else if (f.reach_km) body.reach_km = Number(f.reach_km);
  try {
    const listing = await api("POST", `/api/pilots/${pilot()}/listings`, body);
    showResult($("result"), t("exchange.published", { id: listing.id, valid: String(listing.valid) }), " ", h("code", {}, listing.signer));
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

async function signIn() {
  me = await accountPanel(signIn);
  await refresh();
}

async function init() {
  const [pilots, known] = await Promise.all([pilotOptions($("pilot"), new URLSearchParams(location.search).get("pilot")), api("GET", "/api/materials")]);
  materials = known;
  const here = pilots.data.find((p) => p.code === $("pilot").value);
  await useLanguage(null, here && here.language);
  $("pilot").addEventListener("change", refresh);
  $("pilot-form").addEventListener("submit", (e) => e.preventDefault());
  $("organisation").addEventListener("submit", register);
  $("listing").addEventListener("submit", publish);
  $("search").addEventListener("submit", search);
  $("mine").addEventListener("click", (e) => { if (e.target.dataset.matches) showMatches(Number(e.target.dataset.matches)); });
  $("candidates").addEventListener("click", (e) => { if (e.target.dataset.accept) accept(e.target); });
  document.querySelector("select[data-lots]").addEventListener("change", (e) => {
    const option = e.target.selectedOptions[0];
    if (option && option.dataset.material) $("listing").elements.material.value = option.dataset.material;
  });
  for (const select of document.querySelectorAll("select[data-materials]")) {
    clear(select, select.hasAttribute("data-any") ? h("option", { value: "" }, t("challenges.any")) : null,
      materials.map((m) => h("option", { value: m.code }, m.code)));
  }
  languageSwitcher(signIn);
  await signIn();
}

init();
