// Declare a consignment: vehicle, containers, driver, goods. The API checks as you type (POST
// /consignments/check stores nothing) and its field errors show, in the user's language, under the
// fields the user has touched; the same checks refuse a wrong declaration when it is sent.

import * as api from "../api.js";
import { banner, field, h, problemText, showFieldErrors } from "../../../shared/js/dom.js";
import { gates } from "../gates.js";
import { t } from "../../../shared/js/i18n.js";

const UNITS = ["carton", "bag", "pallet", "piece", "box", "kg", "tonne"];
const CURRENCIES = ["USD", "VND", "CNY"];
const MAX_CONTAINERS = 4;
const CHECK_AFTER_MS = 350;

const options = (values, label, selected) =>
  values.map((v) => h("option", { value: v, selected: v === selected }, label ? label(v) : v));

function goodsLine(n) {
  const name = (f) => `goods.${n}.${f}`;
  const input = (f, props = {}) => h("input", { name: name(f), ...props });
  return h(
    "fieldset",
    { class: "goods", dataset: { line: n } },
    h("legend", {}, t("declare.goods_line", { n: n + 1 })),
    h(
      "div",
      { class: "grid" },
      field("declare.hs_code", input("hs_code", { inputmode: "numeric", autocomplete: "off", placeholder: "4001.22" }), {
        hint: "declare.hs_code_hint",
      }),
      field("declare.description", input("description", { maxlength: 300 })),
      field("declare.quantity", input("quantity", { type: "number", min: 0, step: "any", inputmode: "decimal" })),
      field("declare.unit", h("select", { name: name("unit") }, options(UNITS, (u) => t(`unit.${u}`), "pallet"))),
      field("declare.net_kg", input("net_kg", { type: "number", min: 0, step: "any", inputmode: "decimal" })),
      field("declare.gross_kg", input("gross_kg", { type: "number", min: 0, step: "any", inputmode: "decimal" })),
      field("declare.value", input("value", { type: "number", min: 0, step: "any", inputmode: "decimal" })),
      field("declare.currency", h("select", { name: name("currency") }, options(CURRENCIES, null, "USD"))),
      field("declare.origin", input("origin", { maxlength: 2, autocapitalize: "characters", placeholder: "VN", value: "VN" }), {
        hint: "declare.origin_hint",
      }),
    ),
    h(
      "label",
      { class: "check" },
      h("input", { type: "checkbox", name: name("perishable") }),
      h("span", {}, t("declare.perishable")),
    ),
  );
}

function containerInput(n) {
  return field(
    n === 0 ? "declare.container" : "declare.container_more",
    h("input", {
      name: `container_nos.${n}`,
      autocomplete: "off",
      autocapitalize: "characters",
      spellcheck: "false",
      maxlength: 16,
      placeholder: "MSCU1234566",
    }),
    { hint: n === 0 ? "declare.container_hint" : undefined, optional: true },
  );
}

/** The form as the API's ConsignmentIn: empty optional fields left out, numbers as numbers. */
function body(form) {
  const value = (n) => form.elements.namedItem(n)?.value?.trim() ?? "";
  const number = (n) => (value(n) === "" ? undefined : Number(value(n)));
  const out = {
    gate_id: value("gate_id"),
    direction: value("direction"),
    country: value("country"),
    plate_text: value("plate_text"),
    container_nos: [],
    goods: [],
  };
  if (value("trailer_plate")) out.trailer_plate = value("trailer_plate");
  if (value("driver_id")) out.driver_id = value("driver_id");
  for (const input of form.querySelectorAll("input[name^='container_nos.']")) {
    if (input.value.trim()) out.container_nos.push(input.value.trim().toUpperCase());
  }
  for (const line of form.querySelectorAll("fieldset.goods")) {
    const n = line.dataset.line;
    const g = (f) => `goods.${n}.${f}`;
    out.goods.push({
      hs_code: value(g("hs_code")),
      description: value(g("description")),
      quantity: number(g("quantity")),
      unit: value(g("unit")),
      net_kg: number(g("net_kg")),
      gross_kg: number(g("gross_kg")),
      value: number(g("value")),
      currency: value(g("currency")),
      origin: value(g("origin")).toUpperCase(),
      perishable: form.elements.namedItem(g("perishable")).checked,
    });
  }
  return out;
}

async function driverField() {
  const select = h("select", { name: "driver_id" }, h("option", { value: "" }, t("declare.driver_none")));
  try {
    const page = await api.drivers();
    for (const d of page.items) select.append(h("option", { value: d.driver_id }, `${d.full_name} · ${d.document_number}`));
  } catch {
    /* the list is a convenience; the declaration works without a driver */
  }
  return select;
}

function newDriverForm(select, onAdded) {
  const fullName = h("input", { name: "full_name", autocomplete: "off", maxlength: 200 });
  const documentNo = h("input", { name: "document_number", autocomplete: "off", maxlength: 32 });
  const country = h("select", { name: "driver_country" }, options(["VN", "CN"], (c) => t(`country.${c}`), "VN"));
  const message = h("p", { class: "error", role: "alert", hidden: true });
  const box = h(
    "div",
    { class: "subform", hidden: true },
    field("declare.driver_name", fullName),
    field("declare.driver_document", documentNo),
    field("declare.driver_country", country),
    message,
  );
  const add = h("button", { type: "button" }, t("declare.driver_save"));
  add.addEventListener("click", async () => {
    message.hidden = true;
    try {
      const d = await api.addDriver({
        full_name: fullName.value.trim(),
        document_number: documentNo.value.trim(),
        country: country.value,
      });
      select.append(h("option", { value: d.driver_id, selected: true }, `${d.full_name} · ${d.document_number}`));
      box.hidden = true;
      onAdded();
    } catch (err) {
      message.textContent = problemText(err);
      message.hidden = false;
    }
  });
  box.append(add);
  return box;
}

export async function declareView(root, { go }) {
  let gateList;
  try {
    gateList = await gates();
  } catch (err) {
    root.append(h("h1", {}, t("declare.title")), h("p", { class: "error", role: "alert" }, problemText(err)));
    return undefined;
  }
  const touched = new Set();
  const summary = h("div", { class: "error summary", role: "alert", hidden: true });
  const verdict = h("p", { class: "verdict", "aria-live": "polite" });
  const gateSelect = h(
    "select",
    { name: "gate_id" },
    gateList.map((g) => h("option", { value: g.gate_id }, g.name)),
  );
  const direction = h("select", { name: "direction" });
  const fillDirections = () => {
    const g = gateList.find((x) => x.gate_id === gateSelect.value);
    direction.replaceChildren(...options(g?.directions || [], (d) => t(`direction.${d}`)));
  };
  fillDirections();
  gateSelect.addEventListener("change", fillDirections);
  const country = h("select", { name: "country" }, options(["VN", "CN"], (c) => t(`country.${c}`), "VN"));
  const plate = h("input", { name: "plate_text", autocomplete: "off", autocapitalize: "characters", maxlength: 20, placeholder: "24C-123.45" });
  const containers = h("div", { class: "containers" }, containerInput(0));
  const addContainer = h("button", { type: "button", class: "link" }, t("declare.add_container"));
  addContainer.addEventListener("click", () => {
    const n = containers.children.length;
    if (n < MAX_CONTAINERS) containers.append(containerInput(n));
    addContainer.hidden = containers.children.length >= MAX_CONTAINERS;
    containers.lastElementChild.querySelector("input").focus();
  });
  const driverSelect = await driverField();
  const lines = h("div", { class: "lines" }, goodsLine(0));
  const addLine = h("button", { type: "button", class: "link" }, t("declare.add_line"));
  addLine.addEventListener("click", () => lines.append(goodsLine(lines.children.length)));
  const submit = h("button", { type: "submit", class: "primary" }, t("declare.submit"));
  const form = h(
    "form",
    { class: "card", novalidate: true },
    h("h1", {}, t("declare.title")),
    h("p", { class: "lead" }, t("declare.lead")),
    h(
      "fieldset",
      {},
      h("legend", {}, t("declare.vehicle")),
      h(
        "div",
        { class: "grid" },
        field("declare.gate", gateSelect),
        field("declare.direction", direction),
        field("declare.country", country),
        field("declare.plate", plate, { hint: "declare.plate_hint" }),
        field(
          "declare.trailer_plate",
          h("input", { name: "trailer_plate", autocomplete: "off", autocapitalize: "characters", maxlength: 20 }),
          { optional: true },
        ),
      ),
      containers,
      addContainer,
    ),
    h("fieldset", {}, h("legend", {}, t("declare.driver")), field("declare.driver", driverSelect, { optional: true })),
    lines,
    addLine,
    verdict,
    summary,
    submit,
  );
  const newDriver = newDriverForm(driverSelect, () => check());
  const addDriverButton = h("button", { type: "button", class: "link" }, t("declare.driver_add"));
  addDriverButton.addEventListener("click", () => {
    newDriver.hidden = !newDriver.hidden;
  });
  driverSelect.closest("fieldset").append(addDriverButton, newDriver);

  let timer = null;
  let asked = 0;
  async function check() {
    const mine = ++asked;
    try {
      await api.checkDeclaration(body(form));
      if (mine !== asked) return;
      showFieldErrors(form, [], touched);
      verdict.textContent = t("declare.looks_right");
      verdict.className = "verdict ok";
    } catch (err) {
      if (mine !== asked) return;
      if (err.fields) {
        showFieldErrors(form, err.fields, touched);
        verdict.textContent = "";
      }
    }
  }
  form.addEventListener("input", (event) => {
    if (event.target.name) touched.add(event.target.name);
    clearTimeout(timer);
    timer = setTimeout(check, CHECK_AFTER_MS);
  });
  form.addEventListener("change", (event) => {
    if (event.target.name) touched.add(event.target.name);
  });

  const key = crypto.randomUUID(); // one declaration, however often the button is pressed
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearTimeout(timer);
    summary.hidden = true;
    submit.disabled = true;
    try {
      const c = await api.declare(body(form), key);
      banner("declare.done", "ok", { id: c.consignment_id });
      go(`#/slots/${encodeURIComponent(c.consignment_id)}`);
    } catch (err) {
      const fields = err.fields || [];
      showFieldErrors(form, fields);
      summary.replaceChildren(h("p", {}, t("declare.fix")), h("p", {}, problemText(err)));
      summary.hidden = false;
      form.querySelector("[aria-invalid='true']")?.focus();
    } finally {
      submit.disabled = false;
    }
  });
  root.append(form);
  return () => clearTimeout(timer);
}
