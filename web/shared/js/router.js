// Every app's frame: a hash router over its views, the language switch, sign-out, the offline line.
// What differs between the apps comes in as options to startApp.

import { configure, session, signOut } from "./api.js";
import { banner, explainProblems } from "./dom.js";
import { initialLanguage, keepLanguageAs, setLanguage, translate } from "./i18n.js";

/** Start an app on its page (#view, #nav, #lang, #sign-out, #banner).
 * - routes: [hash pattern, view(root, { go, params }), needs a session]; home: the hash shown for "" (and its
 *   view for an unknown hash)
 * - redirect(view, { needsSession, signedIn }): a hash to go to instead, or null (sign-in, a gate to choose)
 * - current(hash, href): whether a tab is the page shown (default: the hash starts with its href)
 * - beforeShow(signedIn): awaited before each view (who is signed in); afterStart(): after the language and
 *   config.json, before the first view
 * - languageKey: where the chosen language is kept; keepFirstLanguage: keep the first one too, not only one
 *   picked; sayOfflineAgain: repeat the offline line after a language switch (it was in the other language)
 * - explainProblem(err): the app's own words for refusals (dom.problemText); onSignOut(): forget the user
 * - serviceWorker: the script to register (relative to the page), if any */
export function startApp({
  routes,
  home,
  redirect,
  current = (hash, href) => hash.startsWith(href),
  beforeShow = async () => {},
  afterStart = async () => {},
  languageKey,
  keepFirstLanguage = false,
  sayOfflineAgain = false,
  explainProblem,
  onSignOut = () => {},
  serviceWorker = null,
}) {
  const view = document.getElementById("view");
  const [, homeView] = routes.find(([re]) => re.test(home));
  let leave = null; // the current view's clean-up (timers)
  if (languageKey) keepLanguageAs(languageKey);
  if (explainProblem) explainProblems(explainProblem);

  function go(hash) {
    if (location.hash === hash) render();
    else location.hash = hash;
  }

  async function render() {
    if (leave) leave();
    leave = null;
    const hash = location.hash || home;
    const [, show, needsSession, match] = routes.map(([re, fn, s]) => [re, fn, s, hash.match(re)]).find(
      ([, , , m]) => m,
    ) || [null, homeView, true, [hash]];
    const signedIn = session() !== null;
    const elsewhere = redirect(show, { needsSession, signedIn });
    if (elsewhere) {
      location.hash = elsewhere;
      return;
    }
    document.getElementById("nav").hidden = !signedIn;
    for (const a of document.querySelectorAll("#nav a")) {
      a.setAttribute("aria-current", current(hash, a.getAttribute("href")) ? "page" : "false");
    }
    await beforeShow(signedIn);
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
    await Promise.all([setLanguage(lang, keepFirstLanguage), configure()]);
    await afterStart();
    const showOnline = () => banner(navigator.onLine ? null : "app.offline", "warn");
    select.addEventListener("change", async () => {
      delete document.body.dataset.lang; // set again once the view is drawn in the new language
      const typed = keptInputs(); // the view is drawn again in the new language: what was typed stays
      await setLanguage(select.value, true);
      if (sayOfflineAgain) showOnline();
      await render();
      restoreInputs(typed);
      document.body.dataset.lang = select.value;
    });
    document.getElementById("sign-out").addEventListener("click", () => {
      signOut();
      onSignOut();
      go("#/sign-in");
    });
    window.addEventListener("hashchange", render);
    window.addEventListener("online", showOnline);
    window.addEventListener("offline", showOnline);
    showOnline();
    if (serviceWorker && "serviceWorker" in navigator) {
      navigator.serviceWorker.register(serviceWorker).catch((err) => console.warn("no offline copy:", err));
    }
    await render();
    document.body.dataset.lang = select.value;
    document.body.dataset.ready = "1";
  }

  start();
  return { go };
}

const KEPT = "#view input[name]:not([type=file]):not([type=checkbox]):not([type=radio]), #view select[name], #view textarea[name]";

/** What the user typed in the view's fields, by field name. */
function keptInputs() {
  return [...document.querySelectorAll(KEPT)].filter((el) => el.value).map((el) => [el.name, el.value]);
}

/** Put typed values back into the redrawn view's fields of the same name that are still empty. */
function restoreInputs(typed) {
  for (const [name, value] of typed) {
    const el = [...document.querySelectorAll(KEPT)].find((f) => f.name === name);
    if (!el) continue;
    if (el.tagName === "SELECT") {
      if ([...el.options].some((o) => o.value === value)) el.value = value;
    } else if (!el.value) el.value = value;
  }
}
