// Shared by the maker, wallet, receipt and audit pages: API calls, sign-in, small DOM helpers.
"use strict";

const $ = (id) => document.getElementById(id);
const esc = (v) => String(v ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
const short = (h) => (h && h.length > 14 ? h.slice(0, 8) + "…" + h.slice(-4) : h);
const when = (ts) => new Date(ts * 1000).toISOString().slice(0, 16).replace("T", " ");

// The API key comes from the link (#key=...) once, then lives in this tab's session storage.
function apiKey() {
  const fromLink = new URLSearchParams(location.hash.slice(1)).get("key");
  if (fromLink) {
    sessionStorage.setItem("loopledger-key", fromLink);
    history.replaceState(null, "", location.pathname + location.search);
  }
  return sessionStorage.getItem("loopledger-key");
}

function setKey(key) {
  if (key) sessionStorage.setItem("loopledger-key", key); else sessionStorage.removeItem("loopledger-key");
}

class ApiError extends Error {
  constructor(status, error) {
    super(error ? error.message : "HTTP " + status);
    this.status = status;
    this.fields = (error && error.fields) || [];
  }
}

async function api(method, url, body, extraHeaders) {
  const headers = { Accept: "application/json", ...(extraHeaders || {}) };
  const key = apiKey();
  if (key) headers["X-API-Key"] = key;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const data = await response.json().catch(() => ({}));
  if (!response.ok) throw new ApiError(response.status, data.error);
  return data;
}

// A message per field next to the form, and a summary line.
function showErrors(target, err) {
  const lines = err.fields && err.fields.length ? err.fields.map((f) => `<li><code>${esc(f.field)}</code>: ${esc(f.message)}</li>`).join("") : "";
  target.className = "result error";
  target.innerHTML = `<strong>${esc(err.message)}</strong>` + (lines ? `<ul>${lines}</ul>` : "");
}

function renderTable(table, rows, columns) {
  table.innerHTML = "<tr>" + columns.map(([, label]) => `<th>${esc(label)}</th>`).join("") + "</tr>" +
    rows.map((r) => "<tr>" + columns.map(([key, , fmt]) => `<td>${fmt ? fmt(r[key], r) : esc(r[key])}</td>`).join("") + "</tr>").join("");
}

async function whoAmI(statusEl) {
  if (!apiKey()) { statusEl.textContent = "not signed in: paste an API key"; return null; }
  try {
    const me = await api("GET", "/api/auth/me");
    const roles = Object.entries(me.roles).map(([p, r]) => `${p}: ${r.join(", ")}`).join("; ");
    statusEl.textContent = `signed in as ${me.address}` + (roles ? ` (${roles})` : " (no roles yet)");
    return me;
  } catch (err) {
    statusEl.textContent = "sign-in failed: " + err.message;
    return null;
  }
}
