// The trader app: a hash router over a few views, the language switch, the service worker.

import * as api from "./api.js";
import { banner } from "./dom.js";
import { initialLanguage, setLanguage, translate } from "./i18n.js";
import { bookingView } from "./views/booking.js";
import { bookingsView } from "./views/bookings.js";
import { declareView } from "./views/declare.js";
import { notificationsView } from "./views/notifications.js";
import { signInView } from "./views/signin.js";
import { slotsView } from "./views/slots.js";

const ROUTES = [
  [/^#\/sign-in$/, signInView, false],
  [/^#\/bookings$/, bookingsView, true],
  [/^#\/declare$/, declareView, true],
  [/^#\/slots\/([^/]+)$/, slotsView, true],
  [/^#\/slots\/([^/]+)\/move\/([^/]+)$/, slotsView, true],
  [/^#\/booking\/([^/]+)$/, bookingView, true],
  [/^#\/notifications$/, notificationsView, true],
];

const view = document.getElementById("view");
let leave = null; // the current view's clean-up (timers)

export function go(hash) {
  if (location.hash === hash) render();
  else location.hash = hash;
}

async function render() {
  if (leave) leave();
  leave = null;
  const hash = location.hash || "#/bookings";
  const [, show, needsSession, match] = ROUTES.map(([re, fn, s]) => [re, fn, s, hash.match(re)]).find(
    ([, , , m]) => m,
  ) || [null, bookingsView, true, [hash]];
  const signedIn = api.session() !== null;
  // a saved pass opens without a session (offline, token expired): the pass is what a driver needs at the gate
  if (needsSession && !signedIn && show !== bookingView) {
    location.hash = "#/sign-in";
    return;
  }
  document.getElementById("nav").hidden = !signedIn;
  for (const a of document.querySelectorAll("#nav a")) {
    a.setAttribute("aria-current", hash.startsWith(a.getAttribute("href")) ? "page" : "false");
  }
  view.replaceChildren();
  const cleanup = await show(view, { go, params: match.slice(1).map(decodeURIComponent) });
  leave = typeof cleanup === "function" ? cleanup : null;
  translate(view);
  view.focus({ preventScroll: true });
}

async function start() {
  const lang = initialLanguage();
  const select = document.getElementById("lang");
  select.value = lang;
  await Promise.all([setLanguage(lang), api.configure()]);
  select.addEventListener("change", async () => {
    await setLanguage(select.value);
    render();
  });
  document.getElementById("sign-out").addEventListener("click", () => {
    api.signOut();
    go("#/sign-in");
  });
  window.addEventListener("hashchange", render);
  const showOnline = () => banner(navigator.onLine ? null : "app.offline", "warn");
  window.addEventListener("online", showOnline);
  window.addEventListener("offline", showOnline);
  showOnline();
  if ("serviceWorker" in navigator) {
    navigator.serviceWorker.register("sw.js").catch((err) => console.warn("no offline copy:", err));
  }
  await render();
  document.body.dataset.ready = "1";
}

start();
