// Public check of a skill credential by its id: who holds it, which pilot issued it, when.
"use strict";

async function verify(id) {
  try {
    const c = await api("GET", `/api/credentials/${id}`);
    $("credential").className = "result ok";
    $("credential").innerHTML = `Valid credential ${c.credential_id}: skill <strong>${esc(c.skill)}</strong> level ${c.level}, ` +
      `held by <code>${esc(c.holder)}</code>, issued by ${esc(c.pilot)} on ${when(c.issued_at)} UTC for training ${c.event_id} ` +
      `(block ${c.block_number}). Valid in every pilot; it cannot be transferred.`;
  } catch (err) {
    showErrors($("credential"), err);
  }
}

$("lookup").addEventListener("submit", (e) => { e.preventDefault(); history.replaceState(null, "", `?id=${$("cid").value}`); verify($("cid").value); });
const id = new URLSearchParams(location.search).get("id");
if (id) { $("cid").value = id; verify(id); }
