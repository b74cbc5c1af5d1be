// Message catalogues (i18n/<lang>.json) and Intl formatting in the user's language and the gate's zone.

export const LANGUAGES = ["vi", "zh", "en"];
const LOCALES = { vi: "vi-VN", zh: "zh-CN", en: "en-GB" };
const STORED = "smartgate.lang";

let language = "vi";
let messages = {};

export function initialLanguage() {
  const stored = localStorage.getItem(STORED);
  if (LANGUAGES.includes(stored)) return stored;
  const wanted = (navigator.languages || [navigator.language || "vi"]).map((l) => l.slice(0, 2));
  return wanted.find((l) => LANGUAGES.includes(l)) || "vi";
}

export async function setLanguage(lang) {
  const reply = await fetch(`i18n/${lang}.json`);
  if (!reply.ok) throw new Error(`no catalogue for ${lang}`);
  messages = await reply.json();
  language = lang;
  localStorage.setItem(STORED, lang);
  document.documentElement.lang = LOCALES[lang];
  translate(document);
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

export function formatTime(iso, timeZone) {
  return new Intl.DateTimeFormat(locale(), { timeZone, hour: "2-digit", minute: "2-digit", hourCycle: "h23" }).format(
    new Date(iso),
  );
}

export function formatDate(iso, timeZone) {
  return new Intl.DateTimeFormat(locale(), { timeZone, weekday: "short", day: "numeric", month: "short" }).format(
    new Date(iso),
  );
}

export function formatDateTime(iso, timeZone) {
  return new Intl.DateTimeFormat(locale(), {
    timeZone,
    day: "numeric",
    month: "short",
    hour: "2-digit",
    minute: "2-digit",
    hourCycle: "h23",
  }).format(new Date(iso));
}

/** A calendar day (YYYY-MM-DD) shown in words, e.g. "Thứ Tư, 2 thg 12". */
export function formatDay(day) {
  const [y, m, d] = day.split("-").map(Number);
  return new Intl.DateTimeFormat(locale(), { timeZone: "UTC", weekday: "long", day: "numeric", month: "long" }).format(
    new Date(Date.UTC(y, m - 1, d)),
  );
}

export const formatNumber = (n) => new Intl.NumberFormat(locale()).format(n);
