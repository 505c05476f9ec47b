// Enrolment: the one-time code from pilot staff makes a passkey on this device, then signs in.
"use strict";

async function enrol(event) {
  event.preventDefault();
  const button = $("enrol-form").querySelector("button");
  button.disabled = true;
  try {
    const made = await createPasskey($("code").value.trim(), $("device").value.trim() || navigator.platform || "passkey");
    await signInWithPasskey();
    showResult($("enrol-result"), t("enrol.done", { address: made.address }), " ",
      h("a", { href: "/wallet" }, t("nav.wallet")), " · ", h("a", { href: "/maker" }, t("nav.maker")));
  } catch (err) {
    showErrors($("enrol-result"), err);
  } finally {
    button.disabled = false;
  }
}

async function init() {
  const params = new URLSearchParams(location.search);
  const code = params.get("code");
  if (code) {
    $("code").value = code;
    params.delete("code"); // the code stays out of the address bar and the history
    history.replaceState(null, "", location.pathname + (params.size ? "?" + params : ""));
  }
  // Before the catalogue loads: a submit that comes earlier must not reload the page with the code.
  $("enrol-form").addEventListener("submit", enrol);
  await useLanguage(null, null);
  languageSwitcher(async () => {});
}

init();
