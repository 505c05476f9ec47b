// Staff page: create events of a pilot and show a renewing QR check-in code on the venue's screen.
"use strict";

let me = null;
let showing = null;
let timer = null;

const kindName = { workshop: "Workshop", repair_cafe: "Repair café", maker_faire: "Maker faire", training: "Training" };
const unix = (value) => Math.floor(new Date(value).getTime() / 1000);
const local = (date) => new Date(date.getTime() - date.getTimezoneOffset() * 60000).toISOString().slice(0, 16);

async function refresh() {
  const events = await api("GET", `/api/pilots/${$("pilot").value}/events`);
  renderTable($("events"), events, [["event_id", "Event"], ["kind", "Kind", (v) => esc(kindName[v] || v)],
    ["opens", "Opens", when], ["closes", "Closes", when], ["points", "Points"], ["attendance", "Check-ins"],
    ["event_id", "", (v, r) => (me && r.signer === me.address ? `<button data-qr="${esc(v)}">Show QR</button>` : "")]]);
  for (const button of document.querySelectorAll("button[data-qr]")) {
    button.addEventListener("click", () => showQr(Number(button.dataset.qr)));
  }
}

async function showQr(eventId) {
  showing = eventId;
  clearInterval(timer);
  const draw = async () => {
    try {
      const qr = await api("GET", `/api/events/${eventId}/qr`);
      $("qr").hidden = false;
      $("qr-event").textContent = eventId;
      $("qr-svg").innerHTML = qr.svg;
      $("qr-link").href = qr.url;
      $("qr-expires").textContent = `valid until ${when(qr.expires)} UTC`;
    } catch (err) {
      clearInterval(timer);
      showErrors($("result"), err);
    }
  };
  await draw();
  timer = setInterval(() => { if (showing === eventId) draw(); }, 60_000);
}

async function create(event) {
  event.preventDefault();
  const form = new FormData($("create"));
  const body = { kind: form.get("kind"), opens: unix(form.get("opens")), closes: unix(form.get("closes")),
    points: Number(form.get("points")), venue: form.get("venue") };
  try {
    const out = await api("POST", `/api/pilots/${$("pilot").value}/events`, body);
    $("result").className = "result ok";
    $("result").innerHTML = `Created event <strong id="created">${out.event_id}</strong> (transaction <code>${esc(short(out.tx_hash))}</code>).`;
    await refresh();
    await showQr(out.event_id);
  } catch (err) {
    showErrors($("result"), err);
  }
}

async function init() {
  const pilots = await api("GET", "/api/pilots");
  $("pilot").innerHTML = pilots.data.map((p) => `<option value="${p.code}">${esc(p.city)}</option>`).join("");
  $("pilot").addEventListener("change", refresh);
  const now = new Date();
  $("create").elements.opens.value = local(now);
  $("create").elements.closes.value = local(new Date(now.getTime() + 3 * 3600 * 1000));
  $("create").addEventListener("submit", create);
  $("signin").addEventListener("submit", async (e) => { e.preventDefault(); setKey($("key").value.trim()); me = await whoAmI($("who")); await refresh(); });
  me = await whoAmI($("who"));
  await refresh();
}

init();
