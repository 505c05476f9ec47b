// The challenge board: post needs, submit proposals by their document's SHA-256 (computed here,
// the document is never uploaded), and, as a challenge's owner, shortlist, select and record milestones.
"use strict";

let me = null;
const pilot = () => $("pilot").value;

async function sha256(file) {
  const digest = await crypto.subtle.digest("SHA-256", await file.arrayBuffer());
  return "0x" + Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

function ok(html) {
  $("result").className = "result ok";
  $("result").innerHTML = html;
}

function proposalRow(c, p) {
  const owner = me && me.address === c.owner;
  const actions = !owner ? "" : p.status === "submitted"
    ? `<button type="button" class="secondary" data-act="shortlist" data-id="${p.proposal_id}">Shortlist</button>
       <button type="button" data-act="select" data-id="${p.proposal_id}">Select</button>`
    : p.status === "shortlisted" ? `<button type="button" data-act="select" data-id="${p.proposal_id}">Select</button>`
    : `<button type="button" class="secondary" data-act="milestone" data-id="${p.proposal_id}">Milestone done</button>`;
  const done = p.steps.filter((s) => s.step === "milestone").map((s) => s.milestone + 1).join(", ");
  return `<tr><td>#${p.proposal_id}</td><td><code>${esc(short(p.proposer))}</code></td>
    <td><code title="${esc(p.evidence)}">${esc(short(p.evidence))}</code></td><td><code title="${esc(p.tx_hash)}">${esc(short(p.tx_hash))}</code></td>
    <td>${when(p.ts)}</td><td>${esc(p.status)}${done ? ` · milestones ${esc(done)}` : ""}</td><td>${actions}</td></tr>`;
}

async function load() {
  const board = await api("GET", `/api/pilots/${pilot()}/challenges`);
  $("challenge-pick").innerHTML = board.map((c) => `<option value="${c.challenge_id}">#${c.challenge_id} · ${esc(c.title || c.brief)}</option>`).join("");
  $("board").innerHTML = board.map((c) => `<fieldset><legend>#${c.challenge_id} · ${esc(c.title || "(text not held here)")}</legend>
    <p>${esc(c.need || "")}</p>
    <p>Material <code>${esc(c.material || "any")}</code> · budget ${c.budget.toFixed(2)} EUR (awarded ${c.awarded.toFixed(2)}) ·
      closes ${when(c.deadline)} · posted by <code>${esc(short(c.owner))}</code> in <code>${esc(short(c.tx_hash))}</code></p>
    <table data-challenge="${c.challenge_id}"><tr><th>Proposal</th><th>Proposer</th><th>Document SHA-256</th><th>Transaction</th><th>When</th><th>Status</th><th></th></tr>
    ${c.proposals.map((p) => proposalRow(c, p)).join("")}</table></fieldset>`).join("") || "<p>No challenges yet.</p>";
}

async function act(button) {
  const id = button.dataset.id;
  try {
    if (button.dataset.act === "shortlist") await api("POST", `/api/proposals/${id}/shortlist`);
    if (button.dataset.act === "select") {
      const award = prompt("Award from the budget (EUR)", "0");
      const milestones = prompt("Number of milestones", "2");
      if (award === null || milestones === null) return;
      await api("POST", `/api/proposals/${id}/select`, { award, milestones: Number(milestones) });
    }
    if (button.dataset.act === "milestone") {
      const index = prompt("Milestone number (1 = first)", "1");
      if (index === null) return;
      await api("POST", `/api/proposals/${id}/milestones`, { index: Number(index) - 1 });
    }
    ok(`Proposal #${esc(id)}: ${esc(button.dataset.act)} recorded on chain`);
    await load();
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
    ok(`Challenge #${out.id} posted in <code>${esc(out.tx_hash)}</code>`);
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
    const out = await api("POST", `/api/challenges/${challenge}/proposals`, { document });
    ok(`Proposal #${out.id}: the SHA-256 <code id="document-hash">${esc(document)}</code> of ${esc(file.name)} is on chain in
      transaction <code id="proposal-tx">${esc(out.tx_hash)}</code>. Keep the file; check it with
      <code>loopledger evidence check ${esc(file.name)} --tx ${esc(out.tx_hash)}</code>`);
    await load();
  } catch (err) {
    showErrors($("result"), err);
  }
}

async function init() {
  $("signin").addEventListener("submit", async (event) => { event.preventDefault(); setKey($("key").value.trim()); me = await whoAmI($("who")); await load(); });
  $("signout").addEventListener("click", () => { setKey(null); me = null; $("who").textContent = "signed out"; });
  $("pilot").addEventListener("change", load);
  $("challenge").addEventListener("submit", post);
  $("proposal").addEventListener("submit", propose);
  $("board").addEventListener("click", (e) => { if (e.target.dataset.act) act(e.target); });
  const [pilots, materials] = await Promise.all([api("GET", "/api/pilots"), api("GET", "/api/materials")]);
  $("pilot").innerHTML = pilots.data.map((p) => `<option value="${esc(p.code)}">${esc(p.city)}</option>`).join("");
  document.querySelector("select[data-materials]").innerHTML = `<option value="">any</option>` +
    materials.map((m) => `<option>${esc(m.code)}</option>`).join("");
  me = await whoAmI($("who"));
  await load();
}

init();
