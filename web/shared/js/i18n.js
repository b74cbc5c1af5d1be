// Message catalogues and Intl formatting in the user's language and the gate's zone, for every app.
// The catalogues stay the app's own (i18n/<lang>.json next to its page: fetched relative to the page);
// this module only loads and applies them. The language chosen is kept per app (keepLanguageAs).

export const LANGUAGES = ["vi", "zh", "en"];
const LOCALES = { vi: "vi-VN", zh: "zh-CN", en: "en-GB" };

let stored = "smartgate.lang";
let language = "vi";
let messages = {};

/** The localStorage key this app keeps the chosen language under (the trader app: smartgate.lang). */
export function keepLanguageAs(key) {
  stored = key;
}

/** The language chosen on this device, if any (it wins over a profile's). */
export function chosenLanguage() {
  const found = localStorage.getItem(stored);
  return LANGUAGES.includes(found) ? found : null;
}

export function initialLanguage() {
  const wanted = (navigator.languages || [navigator.language || "vi"]).map((l) => l.slice(0, 2));
  return chosenLanguage() || wanted.find((l) => LANGUAGES.includes(l)) || "vi";
}

/** Load and apply a catalogue; `remember`: kept on this device as the chosen language. */
export async function setLanguage(lang, remember = false) {
  const reply = await fetch(`i18n/${lang}.json`);
  if (!reply.ok) throw new Error(`no catalogue for ${lang}`);
  messages = await reply.json();
  language = lang;
  if (remember) localStorage.setItem(stored, lang);
  document.documentElement.lang = LOCALES[lang];
  translate(document);
  const select = document.getElementById("lang");
  if (select) select.value = lang;
}

export const currentLanguage = () => language;
export const locale = () => LOCALES[language];

/** The message for `key`, with {name} placeholders filled; a missing key shows itself (and tests catch it). */
export function t(key, vars = {}) {
  const text = messages[key];
  if (text === undefined) {
    console.warn(`missing message ${key} (${language})`);
    return key;
  }
  return text.replace(/\{(\w+)\}/g, (_, name) => (name in vars ? String(vars[name]) : `{${name}}`));
}

export const has = (key) => key in messages;

/** `prefix.value` when the catalogue has it, else the value itself (a new enum value stays readable). */
export const tv = (prefix, value) => (has(`${prefix}.${value}`) ? t(`${prefix}.${value}`) : String(value));

/** Fill elements that name their message: data-i18n (text) and data-i18n-attr="attr:key;attr:key". */
export function translate(root) {
  for (const el of root.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
  for (const el of root.querySelectorAll("[data-i18n-attr]")) {
    for (const pair of el.dataset.i18nAttr.split(";")) {
      const [attr, key] = pair.split(":");
      el.setAttribute(attr, t(key));
    }
  }
}

/** 14:30, or 14:30:05 with `seconds` (an "updated at" line). */
export function formatTime(iso, timeZone, { seconds = false } = {}) {
  return new Intl.DateTimeFormat(locale(), {
    timeZone, hour: "2-digit", minute: "2-digit", second: seconds ? "2-digit" : undefined, hourCycle: "h23",
  }).format(new Date(iso));
}

export function formatDate(iso, timeZone) {
  return new Intl.DateTimeFormat(locale(), { timeZone, weekday: "short", day: "numeric", month: "short" }).format(
    new Date(iso),
  );
}

export function formatDateTime(iso, timeZone) {
  return new Intl.DateTimeFormat(locale(), {
    timeZone, day: "numeric", month: "short", hour: "2-digit", minute: "2-digit", hourCycle: "h23",
  }).format(new Date(iso));
}

/** A date with its year, in words ("2 December 2027"): for what lasts longer than this year (a retention). */
export function formatLongDate(iso) {
  return new Intl.DateTimeFormat(locale(), { day: "numeric", month: "long", year: "numeric" }).format(new Date(iso));
}

/** A calendar day (YYYY-MM-DD) shown in words, e.g. "Thứ Tư, 2 thg 12". */
export function formatDay(day) {
  const [y, m, d] = day.split("-").map(Number);
  return new Intl.DateTimeFormat(locale(), { timeZone: "UTC", weekday: "long", day: "numeric", month: "long" }).format(
    new Date(Date.UTC(y, m - 1, d)),
  );
}

/** How long ago, in words: "3 minutes ago", "3 phút trước", "3分钟前". */
export function formatAgo(iso, now = Date.now()) {
  const seconds = Math.round((new Date(iso).getTime() - now) / 1000);
  const rtf = new Intl.RelativeTimeFormat(locale(), { numeric: "auto", style: "short" });
  const abs = Math.abs(seconds);
  if (abs < 60) return rtf.format(seconds, "second");
  if (abs < 3600) return rtf.format(Math.round(seconds / 60), "minute");
  if (abs < 86400) return rtf.format(Math.round(seconds / 3600), "hour");
  return rtf.format(Math.round(seconds / 86400), "day");
}

/** A count or measure; `digits` fraction digits at most (none by default: counts). */
export const formatNumber = (n, digits = 0) =>
  new Intl.NumberFormat(locale(), { maximumFractionDigits: digits }).format(n);
