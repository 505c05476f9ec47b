// A redemption receipt, read from the index: what the reward partner checks before handing over.
"use strict";

async function verify(id) {
  try {
    const r = await api("GET", "/api/redemptions/" + encodeURIComponent(id));
    showResult($("receipt"),
      h("p", {}, h("strong", {}, t("receipt.valid", { id: r.redemption_id })), " ",
        t("receipt.detail", { reward: r.reward_name || "#" + r.reward_id, cost: num(r.cost), when: dateTime(r.ts) }), " ", h("code", {}, r.member)),
      h("p", {}, t("receipt.onchain", { block: num(r.block_number), log: r.log_index }), " ", h("code", {}, r.tx_hash)),
      h("p", { id: "fulfilment" }, r.fulfilled ? [t("receipt.fulfilled"), " ", h("code", {}, r.fulfilment_tx)] : t("receipt.open")));
  } catch (err) {
    showErrors($("receipt"), err);
  }
}

async function init() {
  await useLanguage(null, null);
  const wanted = new URLSearchParams(location.search).get("id");
  $("lookup").addEventListener("submit", (e) => { e.preventDefault(); verify($("rid").value.trim()); });
  languageSwitcher(async () => { if ($("rid").value) await verify($("rid").value.trim()); });
  if (wanted) { $("rid").value = wanted; await verify(wanted); }
}

init();
