// Staff page: create events of a pilot and show a renewing QR check-in code on the venue's screen.
"use strict";

let me = null;
let showing = null;
let timer = null;

const unix = (value) => Math.floor(new Date(value).getTime() / 1000);
const local = (d) => new Date(d.getTime() - d.getTimezoneOffset() * 60000).toISOString().slice(0, 16);

async function refresh() {
  const events = await api("GET", `/api/pilots/${encodeURIComponent($("pilot").value)}/events`);
  renderTable($("events"), events, [[t("events.event"), (r) => "#" + r.event_id], [t("field.kind"), (r) => t("event." + r.kind)],
    [t("events.opens"), (r) => dateTime(r.opens)], [t("events.closes"), (r) => dateTime(r.closes)],
    [t("col.points"), (r) => num(r.points), "num"], [t("events.checkins"), (r) => num(r.attendance), "num"],
    [t("col.action"), (r) => {
      if (!me || r.signer !== me.address) return "";
      const button = h("button", { type: "button", class: "secondary", "data-qr": r.event_id }, t("events.showqr"));
      button.addEventListener("click", () => showQr(r.event_id));
      return button;
    }]]);
}

// The QR code, drawn from the SVG's path data only: no markup from the answer enters the page.
function qrImage(svgText) {
  const parsed = new DOMParser().parseFromString(svgText, "image/svg+xml").documentElement;
  const keep = (el, names) => Object.fromEntries(names.filter((n) => el.hasAttribute(n)).map((n) => [n, el.getAttribute(n)]));
  const paths = [...parsed.querySelectorAll("path")].map((p) => h("path", keep(p, ["d", "transform", "stroke", "fill", "class"])));
  return h("svg", { ...keep(parsed, ["width", "height", "viewBox"]), role: "img", "aria-label": t("events.qralt") }, paths);
}

async function showQr(eventId) {
  showing = eventId;
  clearInterval(timer);
  const draw = async () => {
    try {
      const qr = await api("GET", `/api/events/${eventId}/qr`);
      $("qr").hidden = false;
      $("qr-title").textContent = t("events.qrtitle", { event: eventId });
      clear($("qr-svg"), qrImage(qr.svg));
      $("qr-link").href = qr.url;
      $("qr-expires").textContent = t("events.validuntil", { when: dateTime(qr.expires) });
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
    const out = await api("POST", `/api/pilots/${encodeURIComponent($("pilot").value)}/events`, body);
    showResult($("result"), t("events.created"), " ", h("strong", { id: "created" }, out.event_id), " (", h("code", {}, short(out.tx_hash)), ")");
    await refresh();
    await showQr(out.event_id);
  } catch (err) {
    showErrors($("result"), err);
  }
}

async function signIn() {
  me = await accountPanel(signIn);
  await refresh();
}

async function init() {
  const pilots = await pilotOptions($("pilot"), new URLSearchParams(location.search).get("pilot"));
  const here = pilots.data.find((p) => p.code === $("pilot").value);
  await useLanguage(null, here && here.language);
  $("pilot").addEventListener("change", refresh);
  $("pilot-form").addEventListener("submit", (e) => e.preventDefault());
  const now = new Date();
  $("create").elements.opens.value = local(now);
  $("create").elements.closes.value = local(new Date(now.getTime() + 3 * 3600 * 1000));
  $("create").addEventListener("submit", create);
  languageSwitcher(signIn);
  await signIn();
}

init();
