// The wallet page: balance, history and the reward catalogue; a redemption asks for confirmation
// and ends with a receipt the reward partner can check.
"use strict";

let me = null;
let pending = null;
let balance = 0;
const REASONS = { 1: "drop-off", 3: "workshop", 4: "repair", 5: "mentoring", 6: "products donated", 7: "event attendance" };

async function refresh() {
  const pilot = $("pilot").value;
  const rewards = await api("GET", `/api/pilots/${pilot}/rewards`);
  if (me) {
    const wallet = await api("GET", `/api/accounts/${me.address}/wallet?limit=50`);
    balance = wallet.balance;
    $("balance").textContent = wallet.balance;
    $("awarded").textContent = wallet.awarded;
    $("redeemed").textContent = wallet.redeemed;
    const holds = await api("GET", `/api/accounts/${me.address}/holds`);
    renderTable($("holds"), holds, [["hold_id", "Hold"], ["points", "Points"], ["release_at", "Spendable from", when],
      ["state", "State", (v, r) => esc(v + (r.reason ? ` (${r.reason})` : ""))]]);
    renderTable($("history"), wallet.history.data, [["ts", "When", when], ["kind", "What"], ["points", "Points"],
      ["detail", "Reference", (v, r) => (r.kind === "redemption" ? `<a href="/receipt?id=${esc(v)}">receipt ${esc(v)}</a>` : esc(REASONS[v] || "reason " + v))],
      ["tx_hash", "Transaction", (v) => `<code>${esc(short(v))}</code>`]]);
  }
  renderTable($("rewards"), rewards, [["reward_id", "Reward"], ["cost", "Cost (points)"], ["stock", "Left"],
    ["expiry", "Until", when],
    ["reward_id", "", (v, r) => (r.stock > 0 && !r.expired && me ? `<button data-reward="${esc(v)}" data-cost="${r.cost}"${r.cost > balance ? " disabled title=\"not enough points\"" : ""}>Redeem</button>` : "")]]);
  for (const button of document.querySelectorAll("button[data-reward]")) {
    button.addEventListener("click", () => ask(button.dataset.reward, Number(button.dataset.cost)));
  }
}

function ask(rewardId, cost) {
  pending = { rewardId, key: crypto.randomUUID() };
  $("confirm-text").textContent = `Redeem reward ${rewardId} for ${cost} points? This cannot be undone.`;
  $("confirm").hidden = false;
}

async function confirmRedeem() {
  if (!pending) return;
  $("confirm-yes").disabled = true;
  try {
    const out = await api("POST", `/api/pilots/${$("pilot").value}/redemptions?wait=indexed`, { reward_id: Number(pending.rewardId) },
      { "Idempotency-Key": pending.key });
    // The receipt is public; the claim code makes the reward this member's: only it is shown.
    const claim = await api("POST", `/api/redemptions/${out.redemption_id}/claim-code`);
    $("result").className = "result ok";
    $("result").innerHTML = `Redeemed: show the partner <a id="receipt-link" href="${esc(out.receipt_url)}">receipt ${esc(out.redemption_id)}</a> ` +
      `and your claim code <strong id="claim-code">${esc(claim.code)}</strong> (shown once; keep it private) ` +
      `(block ${out.block_number}, transaction <code>${esc(short(out.tx_hash))}</code>).`;
    pending = null;
    $("confirm").hidden = true;
    await refresh();
  } catch (err) {
    showErrors($("result"), err);
  } finally {
    $("confirm-yes").disabled = false;
  }
}

async function signIn() {
  me = await whoAmI($("who"));
  await refresh();
}

async function init() {
  const pilots = await api("GET", "/api/pilots");
  $("pilot").innerHTML = pilots.data.map((p) => `<option value="${p.code}">${esc(p.city)}</option>`).join("");
  $("pilot").addEventListener("change", refresh);
  $("confirm-yes").addEventListener("click", confirmRedeem);
  $("confirm-no").addEventListener("click", () => { pending = null; $("confirm").hidden = true; });
  $("signin").addEventListener("submit", (e) => { e.preventDefault(); setKey($("key").value.trim()); signIn(); });
  await signIn();
}

init();
