// Staff page: pilot staff onboard people (a custodial account, a role, an enrolment code), grant
// and revoke roles, suspend and reactivate makers, register product classes, list and update
// rewards, and set the award budget. Every action is checked by the gateway against the
// caller's on-chain role; the page only shows what it answers.
"use strict";

let view = null;

const pilotPath = (rest) => `/api/pilots/${encodeURIComponent($("pilot").value)}/admin/${rest}`;
const unixDate = (value) => Math.floor(new Date(value + "T23:59:59Z").getTime() / 1000);

// What an action answered: mined (a transaction) or queued (a job of the write path).
function done(out) {
  if (out.tx_hash) showResult($("result"), t("staff.done"), " ", out.summary || "", " (", h("code", {}, short(out.tx_hash)), ")");
  else showResult($("result"), t("staff.queued", { job: out.job_id }));
}

async function act(method, url, body) {
  try {
    const out = await api(method, url, body);
    done(out);
    await refresh();
    return out;
  } catch (err) {
    showErrors($("result"), err);
    return null;
  }
}

async function enrolmentCode(address) {
  const out = await api("POST", `/api/pilots/${encodeURIComponent($("pilot").value)}/enrolments`, { address });
  const link = h("a", { id: "enrol-link", href: "/enrol?code=" + encodeURIComponent(out.code) }, t("staff.enrollink"));
  clear($("enrolment"), h("p", { class: "result ok" }, t("staff.code", { address: out.address }), " ",
    h("strong", { id: "enrol-code" }, out.code), " · ", link));
}

function actions(row) {
  const buttons = [];
  if (row.roles.includes("maker")) {
    const suspended = row.suspended;
    const button = h("button", { type: "button", class: "secondary", "data-suspend": row.address },
      t(suspended ? "staff.reactivate" : "staff.suspend"));
    button.addEventListener("click", () => act(suspended ? "DELETE" : "PUT", pilotPath(`makers/${row.address}/suspension`)));
    buttons.push(button);
  }
  if (row.custodial) {
    const code = h("button", { type: "button", class: "secondary", "data-enrol": row.address }, t("staff.newcode"));
    code.addEventListener("click", () => enrolmentCode(row.address).catch((err) => showErrors($("result"), err)));
    buttons.push(" ", code);
  }
  return h("span", {}, buttons);
}

async function refresh() {
  if (!view) return;
  try {
    view = await api("GET", pilotPath("accounts"));
  } catch (err) {
    showErrors($("result"), err);
    return;
  }
  $("admin").hidden = !view.may_administer;
  $("staff-status").textContent = view.may_administer ? "" : t("staff.notstaff");
  renderTable($("accounts"), view.accounts, [
    [t("staff.account"), (r) => h("code", {}, r.address)],
    [t("staff.roles"), (r) => r.roles.map((x) => t("role." + x)).join(", ")],
    [t("staff.state"), (r) => (r.suspended ? t("role.suspended") : t("staff.active"))],
    [t("col.action"), actions],
  ]);
  $("budget-now").textContent = view.budget === null ? "" : t("staff.budgetnow", { points: num(view.budget) });
  const rewards = await api("GET", `/api/pilots/${encodeURIComponent($("pilot").value)}/rewards`);
  clear($("update").elements.reward, rewards.map((r) => h("option", { value: r.reward_id },
    `#${r.reward_id} · ${r.name || t("reward.unnamed")} · ${num(r.cost)} · ${num(r.stock)}`)));
}

async function onboard(event) {
  event.preventDefault();
  const role = new FormData($("onboard")).get("role");
  clear($("enrolment"));
  try {
    const out = await api("POST", pilotPath("accounts"), { role });
    done(out);
    // The person's passkey: a one-time code from the enrolment endpoint, for the new account.
    await enrolmentCode(out.address);
    $("enrolment").prepend(h("p", { id: "onboarded" }, t("staff.created", { address: out.address })));
    await refresh();
  } catch (err) {
    showErrors($("result"), err);
  }
}

function roles(event) {
  event.preventDefault();
  const form = new FormData($("roles"));
  const path = pilotPath(`accounts/${encodeURIComponent(form.get("account").trim())}/roles/${encodeURIComponent(form.get("role"))}`);
  act(event.submitter && event.submitter.value === "revoke" ? "DELETE" : "PUT", path);
}

function product(event) {
  event.preventDefault();
  act("POST", pilotPath("products"), { code: new FormData($("product")).get("code").trim() });
}

function reward(event) {
  event.preventDefault();
  const form = new FormData($("reward"));
  act("POST", pilotPath("rewards") + "?wait=indexed", { partner: form.get("partner").trim(), cost: Number(form.get("cost")),
    stock: Number(form.get("stock")), expiry: unixDate(form.get("expiry")) });
}

function update(event) {
  event.preventDefault();
  const form = new FormData($("update"));
  act("PATCH", pilotPath(`rewards/${encodeURIComponent(form.get("reward"))}`) + "?wait=indexed",
    { stock: Number(form.get("stock")), expiry: unixDate(form.get("expiry")) });
}

function budget(event) {
  event.preventDefault();
  act("PUT", pilotPath("budget") + "?wait=indexed", { budget: Number(new FormData($("budget")).get("budget")) });
}

async function signIn() {
  const me = await accountPanel(signIn);
  view = me ? {} : null;
  $("admin").hidden = true;
  $("staff-status").textContent = me ? "" : t("staff.notstaff");
  await refresh();
}

async function init() {
  const pilots = await pilotOptions($("pilot"), new URLSearchParams(location.search).get("pilot"));
  const here = pilots.data.find((p) => p.code === $("pilot").value);
  await useLanguage(null, here && here.language);
  $("pilot").addEventListener("change", refresh);
  $("pilot-form").addEventListener("submit", (e) => e.preventDefault());
  $("onboard").addEventListener("submit", onboard);
  $("roles").addEventListener("submit", roles);
  $("product").addEventListener("submit", product);
  $("reward").addEventListener("submit", reward);
  $("update").addEventListener("submit", update);
  $("budget").addEventListener("submit", budget);
  languageSwitcher(signIn);
  await signIn();
}

init();
