// Shared by every page: translations, locale formats, DOM building (text only, never HTML from
// data), API calls, passkey sign-in and the account panel.
"use strict";

const $ = (id) => document.getElementById(id);
const LANGUAGES = { en: "English", nl: "Nederlands", el: "Ελληνικά", lt: "Lietuvių", es: "Español", tr: "Türkçe" };
let catalogue = {};
let lang = "en";

// ---- DOM: every value goes in as text ----------------------------------------------------------

// h("td", { class: "num" }, "12", h("code", {}, hash)): attributes by setAttribute (never event
// handlers), children as text nodes or elements.
function h(tag, attrs, ...children) {
  const svg = ["svg", "path", "rect", "text", "polyline", "title", "g"].includes(tag);
  const node = svg ? document.createElementNS("http://www.w3.org/2000/svg", tag) : document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith("on")) throw new Error("no inline handlers: use addEventListener");
    node.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function clear(node, ...children) {
  node.replaceChildren(...children.flat().filter((c) => c !== null && c !== undefined && c !== false));
  return node;
}

// A table with a caption-less header row; columns: [label, (row) => text or Node, class].
function renderTable(table, rows, columns) {
  const head = h("thead", {}, h("tr", {}, columns.map(([label, , cls]) => h("th", { scope: "col", class: cls }, label))));
  const body = h("tbody", {}, rows.map((r) => h("tr", {}, columns.map(([, cell, cls]) => h("td", { class: cls }, cell(r))))));
  clear(table, head, body);
}

// ---- translations and locale formats -----------------------------------------------------------

function t(key, vars) {
  let text = catalogue[key];
  if (text === undefined) { console.error("missing translation", lang, key); text = key; }
  for (const [name, value] of Object.entries(vars || {})) text = text.split("{" + name + "}").join(String(value));
  return text;
}

// A key's text where the catalogue has one, else the value as it came (a state the API may add).
const tOr = (key, fallback) => (key in catalogue ? t(key) : fallback);

const locale = () => ({ en: "en-GB", nl: "nl-NL", el: "el-GR", lt: "lt-LT", es: "es-ES", tr: "tr-TR" })[lang];
const num = (v, digits = 0) => (v === null || v === undefined ? "–"
  : new Intl.NumberFormat(locale(), { minimumFractionDigits: digits, maximumFractionDigits: digits }).format(v));
const kg = (grams) => num(grams / 1000, 1) + " kg";
const pct = (v) => (v === null || v === undefined ? "–" : new Intl.NumberFormat(locale(), { style: "percent", maximumFractionDigits: 1 }).format(v));
const date = (ts) => new Intl.DateTimeFormat(locale(), { dateStyle: "medium", timeZone: "UTC" }).format(new Date(ts * 1000));
const dateTime = (ts) => new Intl.DateTimeFormat(locale(), { dateStyle: "medium", timeStyle: "short", timeZone: "UTC" }).format(new Date(ts * 1000));
const short = (hex) => (hex && hex.length > 14 ? hex.slice(0, 8) + "…" + hex.slice(-4) : hex);

function applyTranslations(root) {
  for (const el of (root || document).querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
  for (const attr of ["placeholder", "aria-label", "title", "alt"]) {
    for (const el of (root || document).querySelectorAll(`[data-i18n-${attr}]`)) el.setAttribute(attr, t(el.dataset["i18n" + attr.replace(/(^|-)(\w)/g, (_, __, c) => c.toUpperCase())]));
  }
  document.documentElement.lang = lang;
  if (document.body.dataset.title) document.title = "LoopLedger · " + t(document.body.dataset.title);
}

// The chosen language, else ?lang=, else the pilot's language, else English.
async function useLanguage(wanted, pilotLanguage) {
  const chosen = wanted || new URLSearchParams(location.search).get("lang") || localStorage.getItem("loopledger-lang") || pilotLanguage || "en";
  lang = LANGUAGES[chosen] ? chosen : "en";
  const reply = await fetch(`/static/i18n/${lang}.json`);
  catalogue = await reply.json();
  const select = $("lang");
  if (select) {
    if (!select.options.length) for (const [code, name] of Object.entries(LANGUAGES)) select.append(h("option", { value: code, lang: code }, name));
    select.value = lang;
  }
  applyTranslations();
}

// The language switcher: remembered for every page; `rerender` draws the page's data again.
function languageSwitcher(rerender) {
  $("lang").addEventListener("change", async () => {
    localStorage.setItem("loopledger-lang", $("lang").value);
    await useLanguage($("lang").value);
    await rerender();
  });
}

// ---- API ---------------------------------------------------------------------------------------

class ApiError extends Error {
  constructor(status, error) {
    super(error ? error.message : "HTTP " + status);
    this.status = status;
    this.fields = (error && error.fields) || [];
  }
}

async function api(method, url, body, extraHeaders) {
  const headers = { Accept: "application/json", ...(extraHeaders || {}) };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(url, { method, headers, credentials: "same-origin", body: body === undefined ? undefined : JSON.stringify(body) });
  const data = response.status === 204 ? {} : await response.json().catch(() => ({}));
  if (!response.ok) throw new ApiError(response.status, data.error);
  return data;
}

// The message, and one line per field, as text.
function showErrors(target, err) {
  target.className = "result error";
  clear(target, h("strong", {}, err.message),
    err.fields && err.fields.length ? h("ul", {}, err.fields.map((f) => h("li", {}, h("code", {}, f.field), ": ", f.message))) : null);
}

function showResult(target, ...children) {
  target.className = "result ok";
  clear(target, ...children);
}

async function pilotOptions(select, wanted) {
  const pilots = await api("GET", "/api/pilots");
  clear(select, pilots.data.map((p) => h("option", { value: p.code }, p.city)));
  if (wanted && pilots.data.some((p) => p.code === wanted)) select.value = wanted;
  return pilots;
}

// ---- passkeys ----------------------------------------------------------------------------------

const fromB64 = (s) => Uint8Array.from(atob(s.replace(/-/g, "+").replace(/_/g, "/") + "===".slice((s.length + 3) % 4)), (c) => c.charCodeAt(0));
const toB64 = (buf) => btoa(String.fromCharCode(...new Uint8Array(buf))).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");

function credentialJSON(cred) {
  const r = cred.response;
  const response = { clientDataJSON: toB64(r.clientDataJSON) };
  if (r.attestationObject) {
    response.attestationObject = toB64(r.attestationObject);
    response.transports = r.getTransports ? r.getTransports() : [];
  } else {
    Object.assign(response, { authenticatorData: toB64(r.authenticatorData), signature: toB64(r.signature),
      userHandle: r.userHandle ? toB64(r.userHandle) : null });
  }
  return { id: cred.id, rawId: toB64(cred.rawId), type: cred.type, response,
    clientExtensionResults: cred.getClientExtensionResults(), authenticatorAttachment: cred.authenticatorAttachment };
}

async function createPasskey(code, label) {
  const options = await api("POST", "/api/passkeys/register/options", { code });
  options.challenge = fromB64(options.challenge);
  options.user.id = fromB64(options.user.id);
  options.excludeCredentials = (options.excludeCredentials || []).map((c) => ({ ...c, id: fromB64(c.id) }));
  const cred = await navigator.credentials.create({ publicKey: options });
  return api("POST", "/api/passkeys/register", { code, label, credential: credentialJSON(cred) });
}

async function signInWithPasskey() {
  const options = await api("POST", "/api/passkeys/sign-in/options");
  options.challenge = fromB64(options.challenge);
  options.allowCredentials = (options.allowCredentials || []).map((c) => ({ ...c, id: fromB64(c.id) }));
  const cred = await navigator.credentials.get({ publicKey: options });
  return api("POST", "/api/passkeys/sign-in", { credential: credentialJSON(cred) });
}

// The account panel of the maker and wallet pages: who is signed in, sign in / out, passkeys.
async function accountPanel(onChange) {
  const panel = $("account");
  let me = null;
  try {
    me = await api("GET", "/api/auth/me");
  } catch (err) {
    if (err.status !== 401) { showErrors(panel, err); return null; }
  }
  if (!me) {
    const button = h("button", { type: "button", id: "passkey-signin" }, t("account.signin"));
    button.addEventListener("click", async () => {
      try { await signInWithPasskey(); await onChange(); } catch (err) { showErrors($("account-status"), err); }
    });
    clear(panel, h("p", { id: "account-status", role: "status" }, t("account.signedout")), button,
      h("p", { class: "hint" }, t("account.enrolhint")));
    return null;
  }
  const roles = Object.entries(me.roles).map(([p, r]) => `${p}: ${r.map((x) => t("role." + x)).join(", ")}`).join("; ");
  const out = h("button", { type: "button", id: "signout", class: "secondary" }, t("account.signout"));
  out.addEventListener("click", async () => { await api("POST", "/api/passkeys/sign-out"); await onChange(); });
  const keys = await api("GET", "/api/passkeys").catch(() => []);
  const list = h("ul", { id: "passkeys" }, keys.map((k) => {
    const revoke = h("button", { type: "button", class: "secondary", "data-credential": k.credential_id }, t("account.revoke"));
    revoke.addEventListener("click", async () => { await api("DELETE", "/api/passkeys/" + encodeURIComponent(k.credential_id)); await onChange(); });
    return h("li", {}, `${k.label} · ${t("account.created", { date: date(k.created_at) })} `, revoke);
  }));
  clear(panel, h("p", { id: "who", role: "status" }, t("account.signedinas", { address: me.address }), " ", roles ? `(${roles})` : `(${t("account.noroles")})`),
    out, keys.length ? h("h2", { class: "small" }, t("account.passkeys")) : null, keys.length ? list : null);
  return me;
}
