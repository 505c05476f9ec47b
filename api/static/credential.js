// Public check of a skill credential by its id: who holds it, which pilot issued it, when.
"use strict";

async function verify(id) {
  try {
    const c = await api("GET", "/api/credentials/" + encodeURIComponent(id));
    showResult($("credential"),
      h("p", {}, h("strong", {}, t("credential.valid", { id: c.credential_id })), " ",
        t("credential.skill", { skill: c.skill, level: c.level }), " ", h("code", {}, c.holder)),
      h("p", {}, t("credential.issued", { pilot: c.pilot, when: dateTime(c.issued_at), event: c.event_id, block: num(c.block_number) })),
      h("p", { class: "hint" }, t("credential.everywhere")));
  } catch (err) {
    showErrors($("credential"), err);
  }
}

async function init() {
  await useLanguage(null, null);
  $("lookup").addEventListener("submit", (e) => {
    e.preventDefault();
    history.replaceState(null, "", "?id=" + encodeURIComponent($("cid").value));
    verify($("cid").value);
  });
  languageSwitcher(async () => { if ($("cid").value) await verify($("cid").value); });
  const id = new URLSearchParams(location.search).get("id");
  if (id) { $("cid").value = id; await verify(id); }
}

init();
