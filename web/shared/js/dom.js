// Small DOM helpers for every app: build elements, show field errors from the API next to their inputs, a
// status banner, what went wrong in the user's words. The words come from the app's catalogue (t()).

import { has, t } from "./i18n.js";

/** h("button", { class: "primary", onclick }, "text", child...) */
export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
    else if (key === "class") el.className = value;
    else if (key === "dataset") Object.assign(el.dataset, value);
    else if (value === true) el.setAttribute(key, "");
    else el.setAttribute(key, value);
  }
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

/** A chip: `kind` names the colour class, the text is already translated. */
export const chip = (text, kind = "") => h("span", { class: `chip ${kind}` }, text);

let fieldSeq = 0;

/** A labelled input with a hint and a slot for its error; `name` is the API's field path (goods.0.hs_code). */
export function field(labelKey, input, { hint, optional } = {}) {
  const id = input.id || `f${++fieldSeq}`;
  input.id = id;
  const error = h("p", { class: "error", id: `${id}-error`, hidden: true });
  const described = [hint ? `${id}-hint` : null, `${id}-error`].filter(Boolean).join(" ");
  input.setAttribute("aria-describedby", described);
  return h(
    "div",
    { class: "field", dataset: { field: input.name || "" } },
    h("label", { for: id }, t(labelKey), optional ? h("span", { class: "optional" }, ` ${t("form.optional")}`) : null),
    input,
    hint ? h("p", { class: "hint", id: `${id}-hint` }, t(hint)) : null,
    error,
  );
}

const MISSING = /^Field required$|at least 1 (character|item)/;

/** The catalogue's words for an API field error: "required" when it is empty, else by field
 * (goods.0.hs_code -> error.goods.hs_code), else general. */
export function fieldMessage(name, apiMessage = "") {
  if (MISSING.test(apiMessage)) return t("error.required");
  const generic = name.replace(/\.\d+(?=\.|$)/g, "");
  return has(`error.${generic}`) ? t(`error.${generic}`) : t("error.field");
}

/** Show field errors on a form's inputs: the API's ({name, message}) or the page's own ({name, text});
 * only those in `only` (touched) when given, the others cleared. Returns how many shown. */
export function showFieldErrors(form, errors, only) {
  let shown = 0;
  for (const box of form.querySelectorAll(".field")) {
    const input = box.querySelector("input, select, textarea");
    const err = box.querySelector(".error");
    if (!input || !err) continue;
    const found = errors.find((e) => e.name === input.name || e.name.startsWith(`${input.name}.`));
    const visible = found && (!only || only.has(input.name));
    err.hidden = !visible;
    err.textContent = visible ? found.text || fieldMessage(found.name, found.message) : "";
    input.setAttribute("aria-invalid", visible ? "true" : "false");
    if (visible) shown += 1;
  }
  return shown;
}

let bannerTimer = null;

/** The message line under the header; a confirmation ("ok") goes away by itself. */
export function banner(key, kind = "info", vars = {}) {
  const el = document.getElementById("banner");
  clearTimeout(bannerTimer);
  if (!key) {
    el.hidden = true;
    el.textContent = "";
    return;
  }
  el.hidden = false;
  el.className = `banner ${kind}`;
  el.textContent = t(key, vars);
  if (kind === "ok") bannerTimer = setTimeout(() => banner(navigator.onLine ? null : "app.offline", "warn"), 8000);
}

let explainMore = () => null;

/** An app's own words for more refusals (the console: not allowed, not found), asked after offline and
 * signed out: `explain(err)` returns the text, or null for the usual words. */
export function explainProblems(explain) {
  explainMore = explain;
}

/** What went wrong, in the user's words: offline, signed out, the app's own cases, or the API's refusal by field. */
export function problemText(err) {
  if (err?.name === "Offline" || err?.constructor?.name === "Offline") return t("error.offline");
  if (err?.status === 401) return t("error.signed_out");
  const own = explainMore(err);
  if (own) return own;
  if (err?.fields?.length) return [...new Set(err.fields.map((f) => fieldMessage(f.name, f.message)))].join(" ");
  if (err?.status === 429) return t("error.rate_limited");
  if (err?.status >= 500) return t("error.server");
  return t("error.unknown");
}
