// The challenge board: post needs, submit proposals by their document's SHA-256 (computed here,
// the document is never uploaded), and, as a challenge's owner, shortlist, select and record milestones.
"use strict";

let me = null;
let selecting = null;
const pilot = () => encodeURIComponent($("pilot").value);

async function sha256(file) {
  const digest = await crypto.subtle.digest("SHA-256", await file.arrayBuffer());
  return "0x" + Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

function actions(c, p) {
  if (!me || me.address !== c.owner) return "";
  const button = (act, cls) => h("button", { type: "button", class: cls, "data-act": act, "data-id": p.proposal_id }, t("challenges." + act));
  if (p.status === "submitted") return [button("shortlist", "secondary"), " ", button("select")];
  if (p.status === "shortlisted") return button("select");
  return button("milestone", "secondary");
}

function status(p) {
  const done = p.steps.filter((s) => s.step === "milestone").map((s) => s.milestone + 1).join(", ");
  return tOr("proposal." + p.status, p.status) + (done ? " · " + t("challenges.milestonesdone", { list: done }) : "");
}

async function load() {
  const board = await api("GET", `/api/pilots/${pilot()}/challenges`);
  const chosen = $("challenge-pick").value;  // a reload keeps the challenge someone has picked
  clear($("challenge-pick"), board.map((c) => h("option", { value: c.challenge_id }, `#${c.challenge_id} · ${c.title || c.brief}`)));
  if (board.some((c) => String(c.challenge_id) === chosen)) $("challenge-pick").value = chosen;
  if (!board.length) { clear($("board"), h("p", {}, t("challenges.none"))); return; }
  clear($("board"), board.map((c) => {
    const table = h("table", { "data-challenge": c.challenge_id });
    renderTable(table, c.proposals, [[t("challenges.proposal"), (p) => "#" + p.proposal_id],
      [t("challenges.proposer"), (p) => h("code", { title: p.proposer }, short(p.proposer))],
      [t("challenges.hash"), (p) => h("code", { title: p.evidence }, short(p.evidence))],
      [t("col.transaction"), (p) => h("code", { title: p.tx_hash }, short(p.tx_hash))],
      [t("col.when"), (p) => dateTime(p.ts)], [t("challenges.status"), status], [t("col.action"), (p) => actions(c, p)]]);
    return h("fieldset", {}, h("legend", {}, `#${c.challenge_id} · ${c.title || t("challenges.notext")}`),
      h("p", {}, c.need || ""),
      h("p", {}, t("challenges.facts", { material: c.material || t("challenges.any"), budget: num(c.budget, 2), awarded: num(c.awarded, 2), deadline: date(c.deadline) }),
        " ", h("code", { title: c.owner }, short(c.owner)), " · ", h("code", { title: c.tx_hash }, short(c.tx_hash))),
      h("div", { class: "scroll", tabindex: 0 }, table));
  }));
}

async function recorded(id, act) {
  showResult($("result"), t("challenges.recorded", { id, action: t("challenges." + act) }));
  await load();
}

async function act(button) {
  const id = button.dataset.id;
  try {
    if (button.dataset.act === "shortlist") { await api("POST", `/api/proposals/${id}/shortlist`); await recorded(id, "shortlist"); }
    if (button.dataset.act === "select") {
      selecting = { id, button };
      $("select-title").textContent = t("challenges.selecttitle", { id });
      $("select-dialog").hidden = false;
      $("select-form").elements.award.focus();
    }
    if (button.dataset.act === "milestone") {
      const proposal = (await api("GET", `/api/pilots/${pilot()}/challenges`)).flatMap((c) => c.proposals).find((p) => String(p.proposal_id) === id);
      const index = proposal ? proposal.steps.filter((s) => s.step === "milestone").length : 0;
      await api("POST", `/api/proposals/${id}/milestones`, { index });
      await recorded(id, "milestone");
    }
  } catch (err) {
    showErrors($("result"), err);
  }
}

function closeSelect() {
  const back = selecting && selecting.button;
  selecting = null;
  $("select-dialog").hidden = true;
  if (back) back.focus();
}

async function select(event) {
  event.preventDefault();
  if (!selecting) return;
  const f = Object.fromEntries(new FormData(event.target).entries());
  const id = selecting.id;
  try {
    await api("POST", `/api/proposals/${id}/select`, { award: f.award, milestones: Number(f.milestones) });
    closeSelect();
    await recorded(id, "select");
  } catch (err) {
    showErrors($("result"), err);
  }
}

async function post(event) {
  event.preventDefault();
  const f = Object.fromEntries(new FormData(event.target).entries());
  const deadline = Math.floor(new Date(f.deadline + "T23:59:59Z").getTime() / 1000);
  try {
    const out = await api("POST", `/api/pilots/${pilot()}/challenges`, { title: f.title, need: f.need,
      material: f.material || null, budget: f.budget || "0", deadline });
    showResult($("result"), t("challenges.posted", { id: out.id }), " ", h("code", {}, out.tx_hash));
    await load();
  } catch (err) {
    showErrors($("result"), err);
  }
}

async function propose(event) {
  event.preventDefault();
  const file = event.target.elements.document.files[0];
  const challenge = event.target.elements.challenge.value;
  try {
    const document = await sha256(file);
    const out = await api("POST", `/api/challenges/${encodeURIComponent(challenge)}/proposals`, { document });
    showResult($("result"), h("p", {}, t("challenges.proposed", { id: out.id, file: file.name }), " ", h("code", { id: "document-hash" }, document)),
      h("p", {}, t("challenges.intx"), " ", h("code", { id: "proposal-tx" }, out.tx_hash)),
      h("p", {}, t("challenges.keep"), " ", h("code", {}, `loopledger evidence check ${file.name} --tx ${out.tx_hash}`)));
    await load();
  } catch (err) {
    showErrors($("result"), err);
  }
}

async function signIn() {
  me = await accountPanel(signIn);
  await load();
}

async function init() {
  const [pilots, materials] = await Promise.all([pilotOptions($("pilot"), new URLSearchParams(location.search).get("pilot")), api("GET", "/api/materials")]);
  const here = pilots.data.find((p) => p.code === $("pilot").value);
  await useLanguage(null, here && here.language);
  $("pilot").addEventListener("change", load);
  $("pilot-form").addEventListener("submit", (e) => e.preventDefault());
  $("challenge").addEventListener("submit", post);
  $("proposal").addEventListener("submit", propose);
  $("select-form").addEventListener("submit", select);
  $("select-cancel").addEventListener("click", closeSelect);
  $("select-dialog").addEventListener("keydown", (e) => { if (e.key === "Escape") closeSelect(); });
  $("board").addEventListener("click", (e) => { if (e.target.dataset.act) act(e.target); });
  clear(document.querySelector("select[data-materials]"), h("option", { value: "" }, t("challenges.any")),
    materials.map((m) => h("option", { value: m.code }, m.code)));
  languageSwitcher(signIn);
  await signIn();
}

init();
