// Opened from the venue's QR code: the member, signed in with a passkey, checks in with the
// code's token.
"use strict";

const token = new URLSearchParams(location.search).get("t");
let done = false;

async function checkIn() {
  const me = await accountPanel(checkIn);
  if (!token) { showErrors($("result"), new ApiError(400, { message: t("checkin.notoken") })); return; }
  if (!me) { $("result").className = "result"; $("result").textContent = t("checkin.signin"); return; }
  if (done) return;
  try {
    const out = await api("POST", "/api/checkins", { token });
    done = true;
    showResult($("result"), t("checkin.done", { event: out.event_id }), " ", h("strong", { id: "points" }, num(out.points)), " ",
      t("checkin.points"), " (", t("maker.recorded", { block: num(out.block_number) }), " ", h("code", {}, short(out.tx_hash)), ")");
  } catch (err) {
    showErrors($("result"), err);
  }
}

async function init() {
  await useLanguage(null, null);
  languageSwitcher(async () => { await accountPanel(checkIn); });
  await checkIn();
}

init();
