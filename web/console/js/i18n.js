// Message catalogues (i18n/<lang>.json) and Intl formatting in the officer's language and the gate's zone.

export const LANGUAGES = ["vi", "zh", "en"];
const LOCALES = { vi: "vi-VN", zh: "zh-CN", en: "en-GB" };
const STORED = "smartgate.console.lang";

let language = "vi";
let messages = {};

/** The language chosen on this device, if any (it wins over the officer's profile). */
export function chosenLanguage() {
  const stored = localStorage.getItem(STORED);
  return LANGUAGES.includes(stored) ? stored : null;
}

export function initialLanguage() {
  const wanted = (navigator.languages || [navigator.language || "vi"]).map((l) => l.slice(0, 2));
  return chosenLanguage() || wanted.find((l) => LANGUAGES.includes(l)) || "vi";
}

/** Load and apply a catalogue; `remember`: the officer picked it (kept on this device). */
export async function setLanguage(lang, remember = false) {
  const reply = await fetch(`i18n/${lang}.json`);
  if (!reply.ok) throw new Error(`no catalogue for ${lang}`);
  messages = await reply.json();
  language = lang;
  if (remember) localStorage.setItem(STORED, lang);
  document.documentElement.lang = LOCALES[lang];
  const select = document.getElementById("lang");
  if (select) select.value = lang;
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

export function formatTime(iso, timeZone) {
  return new Intl.DateTimeFormat(locale(), {
    timeZone, hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23",
  }).format(new Date(iso));
}

export function formatDateTime(iso, timeZone) {
  return new Intl.DateTimeFormat(locale(), {
    timeZone, day: "numeric", month: "short", hour: "2-digit", minute: "2-digit", hourCycle: "h23",
  }).format(new Date(iso));
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

export const formatNumber = (n, digits = 0) =>
  new Intl.NumberFormat(locale(), { maximumFractionDigits: digits }).format(n);
