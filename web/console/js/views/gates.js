// Pick the gate on duty, among those the officer serves; with only one, it is picked at once.

import { h, problemText } from "../../../shared/js/dom.js";
import { chooseGate, chosenGate, servedGates } from "../duty.js";
import { t } from "../../../shared/js/i18n.js";

export async function gatesView(root, { go }) {
  root.append(h("h1", {}, t("gates.title")), h("p", { class: "loading" }, t("app.loading")));
  let gates;
  try {
    gates = await servedGates();
  } catch (err) {
    root.replaceChildren(h("h1", {}, t("gates.title")), h("p", { class: "error", role: "alert" }, problemText(err)));
    return;
  }
  if (gates.length === 1 && !chosenGate()) {
    chooseGate(gates[0].gate_id);
    go("#/gate");
    return;
  }
  const pick = (gateId) => () => {
    chooseGate(gateId);
    go("#/gate");
  };
  root.replaceChildren(
    h("h1", {}, t("gates.title")),
    h("p", { class: "lead" }, t("gates.lead")),
    gates.length
      ? h(
          "ul",
          { class: "list" },
          gates.map((g) =>
            h(
              "li",
              {},
              h(
                "button",
                { type: "button", class: `gate-pick${g.gate_id === chosenGate() ? " current" : ""}`, onclick: pick(g.gate_id) },
                h("span", { class: "grow" }, h("strong", {}, g.name), h("span", { class: "muted" }, ` · ${g.gate_id}`)),
                g.gate_id === chosenGate() ? h("span", { class: "chip" }, t("gates.current")) : null,
              ),
            ),
          ),
        )
      : h("p", { class: "empty" }, t("gates.none")),
  );
}
