// The officers' console: a hash router over a few views, the language switch, who is signed in.

import * as api from "./api.js";
import { banner } from "./dom.js";
import { chosenGate, currentOfficer, forget, loadOfficer } from "./duty.js";
import { chosenLanguage, initialLanguage, setLanguage, t, translate } from "./i18n.js";
import { alertsView } from "./views/alerts.js";
import { gateView } from "./views/gate.js";
import { gatesView } from "./views/gates.js";
import { passageView } from "./views/passage.js";
import { signInView } from "./views/signin.js";

const ROUTES = [
  [/^#\/sign-in$/, signInView, false],
  [/^#\/gates$/, gatesView, true],
  [/^#\/gate$/, gateView, true],
  [/^#\/passage\/([^/]+)$/, passageView, true],
  [/^#\/alerts$/, alertsView, true],
];

const view = document.getElementById("view");
let leave = null; // the current view's clean-up (timers)

export function go(hash) {
  if (location.hash === hash) render();
  else location.hash = hash;
}

function showWho() {
  const who = document.getElementById("who");
  const me = currentOfficer();
  document.getElementById("session").hidden = !me || !api.session();
  who.textContent = me ? `${me.username} · ${me.roles.map((r) => t(`role.${r}`)).join(", ")}` : "";
}

async function render() {
  if (leave) leave();
  leave = null;
  const hash = location.hash || "#/gate";
  const [, show, needsSession, match] = ROUTES.map(([re, fn, s]) => [re, fn, s, hash.match(re)]).find(
    ([, , , m]) => m,
  ) || [null, gateView, true, [hash]];
  const signedIn = api.session() !== null;
  if (needsSession && !signedIn) {
    forget();
    location.hash = "#/sign-in";
    return;
  }
  if (needsSession && show !== gatesView && !chosenGate()) {
    location.hash = "#/gates";
    return;
  }
  document.getElementById("nav").hidden = !signedIn;
  for (const a of document.querySelectorAll("#nav a")) {
    const here = hash.startsWith(a.getAttribute("href")) || (a.getAttribute("href") === "#/gate" && hash.startsWith("#/passage"));
    a.setAttribute("aria-current", here ? "page" : "false");
  }
  if (signedIn) await loadOfficer().catch(() => null);
  showWho();
  view.replaceChildren();
  const cleanup = await show(view, { go, params: match.slice(1).map(decodeURIComponent) });
  leave = typeof cleanup === "function" ? cleanup : null;
  translate(view);
  view.focus({ preventScroll: true });
}

async function start() {
  const select = document.getElementById("lang");
  await Promise.all([setLanguage(initialLanguage()), api.configure()]);
  if (api.session() && !chosenLanguage()) {
    const me = await loadOfficer().catch(() => null);
    if (me) await setLanguage(me.locale);
  }
  select.addEventListener("change", async () => {
    await setLanguage(select.value, true);
    banner(navigator.onLine ? null : "app.offline", "warn"); // a message shown was in the other language
    render();
  });
  document.getElementById("sign-out").addEventListener("click", () => {
    api.signOut();
    forget();
    go("#/sign-in");
  });
  window.addEventListener("hashchange", render);
  const showOnline = () => banner(navigator.onLine ? null : "app.offline", "warn");
  window.addEventListener("online", showOnline);
  window.addEventListener("offline", showOnline);
  showOnline();
  await render();
  document.body.dataset.ready = "1";
}

start();
