// The wallet page: balance, history by what happened, and the reward catalogue by name; a
// redemption asks for confirmation and ends with a receipt the reward partner can check.
"use strict";

let me = null;
let pending = null;
let balance = 0;

function what(row) {
  if (row.kind === "redemption") return t("history.redeemed", { reward: row.reward_name || t("reward.unnamed") });
  if (row.activity === "drop_off" && row.kg !== null) return t("history.drop_off_kg", { kg: num(row.kg) });
  return t("activity." + row.activity);
}

async function refresh() {
  const pilot = $("pilot").value;
  const rewards = await api("GET", `/api/pilots/${pilot}/rewards`);
  if (me) {
    const wallet = await api("GET", `/api/accounts/${me.address}/wallet?limit=50`);
    balance = wallet.balance;
    $("balance").textContent = num(wallet.balance);
    $("awarded").textContent = num(wallet.awarded);
    $("redeemed").textContent = num(wallet.redeemed);
    const holds = await api("GET", `/api/accounts/${me.address}/holds`);
    renderTable($("holds"), holds, [[t("wallet.hold"), (r) => "#" + r.hold_id], [t("col.points"), (r) => num(r.points), "num"],
      [t("wallet.spendable"), (r) => dateTime(r.release_at)],
      [t("wallet.holdstate"), (r) => tOr("hold." + r.state, r.state) + (r.reason ? ` (${r.reason})` : "")]]);
    renderTable($("history"), wallet.history.data, [[t("col.when"), (r) => dateTime(r.ts)], [t("col.what"), what],
      [t("col.points"), (r) => (r.points > 0 ? "+" : "") + num(r.points), "num"],
      [t("col.reference"), (r) => (r.kind === "redemption" ? h("a", { href: "/receipt?id=" + encodeURIComponent(r.detail) }, t("history.receipt")) : "")],
      [t("col.transaction"), (r) => h("code", { title: r.tx_hash }, short(r.tx_hash))]]);
  } else {
    for (const id of ["balance", "awarded", "redeemed"]) $(id).textContent = "–";
    clear($("holds"));
    clear($("history"));
  }
  clear($("rewards"), rewards.map((r) => {
    const canRedeem = me && r.stock > 0 && !r.expired;
    const button = canRedeem ? h("button", { type: "button", "data-reward": r.reward_id, "data-cost": r.cost,
      disabled: r.cost > balance, title: r.cost > balance ? t("wallet.notenough") : null }, t("wallet.redeem")) : null;
    if (button) button.addEventListener("click", () => ask(r, button));
    return h("li", { "data-reward-card": r.reward_id },
      h("h3", {}, r.name || t("reward.unnamed")),
      h("p", {}, r.description || ""),
      h("p", { class: "hint" }, t("reward.partner", { partner: r.partner_name || short(r.partner) })),
      h("p", {}, t("reward.cost", { cost: num(r.cost) }), " · ", t("reward.left", { left: num(r.stock) })),
      h("p", { class: "hint" }, r.expired ? t("reward.expired") : t("reward.until", { date: date(r.expiry) })),
      button);
  }));
}

function ask(reward, button) {
  pending = { rewardId: reward.reward_id, key: crypto.randomUUID(), button };
  $("confirm-text").textContent = t("wallet.ask", { reward: reward.name || t("reward.unnamed"), cost: num(reward.cost) });
  $("confirm").hidden = false;
  $("confirm-yes").focus();
}

function cancel() {
  const back = pending && pending.button;
  pending = null;
  $("confirm").hidden = true;
  if (back) back.focus();
}

async function confirmRedeem() {
  if (!pending) return;
  $("confirm-yes").disabled = true;
  try {
    const out = await api("POST", `/api/pilots/${$("pilot").value}/redemptions?wait=indexed`, { reward_id: Number(pending.rewardId) },
      { "Idempotency-Key": pending.key });
    // The receipt is public; the claim code makes the reward this member's: only it is shown.
    const claim = await api("POST", `/api/redemptions/${out.redemption_id}/claim-code`);
    showResult($("result"), t("wallet.redeemedok"), " ", h("a", { id: "receipt-link", href: out.receipt_url }, t("wallet.receiptlink", { id: out.redemption_id })),
      " ", t("wallet.claimcode"), " ", h("strong", { id: "claim-code" }, claim.code), " ", t("wallet.claimprivate"),
      " (", t("maker.recorded", { block: num(out.block_number) }), " ", h("code", {}, short(out.tx_hash)), ")");
    pending = null;
    $("confirm").hidden = true;
    await refresh();
    $("receipt-link").focus();
  } catch (err) {
    showErrors($("result"), err);
  } finally {
    $("confirm-yes").disabled = false;
  }
}

async function signIn() {
  me = await accountPanel(signIn);
  if (me) {
    const mine = Object.keys(me.roles);
    const first = [...$("pilot").options].find((o) => mine.includes(o.value));
    if (first && !new URLSearchParams(location.search).get("pilot")) $("pilot").value = first.value;
  }
  await refresh();
}

async function init() {
  const pilots = await pilotOptions($("pilot"), new URLSearchParams(location.search).get("pilot"));
  const here = pilots.data.find((p) => p.code === $("pilot").value);
  await useLanguage(null, here && here.language);
  $("pilot").addEventListener("change", refresh);
  $("pilot-form").addEventListener("submit", (e) => e.preventDefault());
  $("confirm-yes").addEventListener("click", confirmRedeem);
  $("confirm-no").addEventListener("click", cancel);
  $("confirm").addEventListener("keydown", (e) => { if (e.key === "Escape") cancel(); });
  languageSwitcher(signIn);
  await signIn();
}

init();
