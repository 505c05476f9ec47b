// Opened from the venue's QR code: the signed-in member checks in with the code's token.
"use strict";

const token = new URLSearchParams(location.search).get("t");

async function checkIn() {
  const me = await whoAmI($("who"));
  if (!token) { showErrors($("result"), new ApiError(400, { message: "no check-in code in the link: scan the QR code at the venue" })); return; }
  if (!me) { $("result").className = "result"; $("result").textContent = "Sign in to check in."; return; }
  try {
    const out = await api("POST", "/api/checkins", { token });
    $("result").className = "result ok";
    $("result").innerHTML = `Checked in to event ${out.event_id}: <strong id="points">${out.points}</strong> points ` +
      `(block ${out.block_number}, transaction <code>${esc(short(out.tx_hash))}</code>).`;
  } catch (err) {
    showErrors($("result"), err);
  }
}

$("signin").addEventListener("submit", (e) => { e.preventDefault(); setKey($("key").value.trim()); checkIn(); });
checkIn();
