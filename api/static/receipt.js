// A redemption receipt, read from the index: what the reward partner checks before handing over.
"use strict";

async function verify(id) {
  try {
    const r = await api("GET", "/api/redemptions/" + encodeURIComponent(id));
    $("receipt").className = "result ok";
    $("receipt").innerHTML = `<p><strong>Valid redemption ${esc(r.redemption_id)}</strong> of reward ${esc(r.reward_id)}
      for ${esc(r.cost)} points by <code>${esc(r.member)}</code>, ${esc(when(r.ts))} UTC.</p>
      <p>On chain: block ${esc(r.block_number)}, transaction <code>${esc(r.tx_hash)}</code>, log ${esc(r.log_index)}.</p>
      <p id="fulfilment">${r.fulfilled ? "Already handed over (transaction <code>" + esc(r.fulfilment_tx) + "</code>)." : "Not yet handed over."}</p>`;
  } catch (err) {
    showErrors($("receipt"), err);
  }
}

const wanted = new URLSearchParams(location.search).get("id");
if (wanted) { $("rid").value = wanted; verify(wanted); }
$("lookup").addEventListener("submit", (e) => { e.preventDefault(); verify($("rid").value.trim()); });
