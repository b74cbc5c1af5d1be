// The officers' console: its views on the shared frame (../shared/js/router.js), who is signed in, the gate.

import * as api from "./api.js";
import { startApp } from "../../shared/js/router.js";
import { chosenGate, currentOfficer, forget, loadOfficer } from "./duty.js";
import { chosenLanguage, setLanguage, t } from "../../shared/js/i18n.js";
import { alertsView } from "./views/alerts.js";
import { gateView } from "./views/gate.js";
import { gatesView } from "./views/gates.js";
import { passageView } from "./views/passage.js";
import { signInView } from "./views/signin.js";

function showWho() {
  const who = document.getElementById("who");
  const me = currentOfficer();
  document.getElementById("session").hidden = !me || !api.session();
  who.textContent = me ? `${me.username} · ${me.roles.map((r) => t(`role.${r}`)).join(", ")}` : "";
}

startApp({
  routes: [
    [/^#\/sign-in$/, signInView, false],
    [/^#\/gates$/, gatesView, true],
    [/^#\/gate$/, gateView, true],
    [/^#\/passage\/([^/]+)$/, passageView, true],
    [/^#\/alerts$/, alertsView, true],
  ],
  home: "#/gate",
  redirect(show, { needsSession, signedIn }) {
    if (needsSession && !signedIn) {
      forget();
      return "#/sign-in";
    }
    return needsSession && show !== gatesView && !chosenGate() ? "#/gates" : null;
  },
  // a passage is opened from the lanes and queue
  current: (hash, href) => hash.startsWith(href) || (href === "#/gate" && hash.startsWith("#/passage")),
  async beforeShow(signedIn) {
    if (signedIn) await loadOfficer().catch(() => null);
    showWho();
  },
  async afterStart() {
    if (api.session() && !chosenLanguage()) {
      const me = await loadOfficer().catch(() => null);
      if (me) await setLanguage(me.locale);
    }
  },
  languageKey: "smartgate.console.lang",
  sayOfflineAgain: true,
  explainProblem(err) {
    if (err?.status === 403) return t("error.forbidden");
    if (err?.status === 404) return t("error.not_found");
    return null;
  },
  onSignOut: forget,
});
