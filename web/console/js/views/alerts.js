// The gate's alerts, newest first: severity, what and where, status, the languages each was delivered
// in (and to whom), and Ack for the open ones (their escalation stops).

import * as api from "../api.js";
import { banner, chip, h, problemText } from "../../../shared/js/dom.js";
import { chosenGate, gateInfo } from "../duty.js";
import { formatDateTime, t, tv } from "../../../shared/js/i18n.js";
import { channelChip, when } from "./common.js";

const EVERY_MS = 15000;
const LANG_NAMES = { vi: "Tiếng Việt", zh: "中文", en: "English" };

function deliveries(alert) {
  if (!alert.deliveries?.length) return h("p", { class: "muted" }, t("alerts.not_delivered"));
  const langs = [...new Set(alert.deliveries.map((d) => d.locale))];
  const roles = [...new Set(alert.deliveries.map((d) => tv("role", d.role)))];
  return h(
    "p",
    { class: "delivered" },
    t("alerts.delivered", { n: alert.deliveries.length, roles: roles.join(", ") }),
    " ",
    langs.map((l) => h("span", { class: "lang-tag", lang: l, title: LANG_NAMES[l] || l }, l.toUpperCase())),
  );
}

function alertCard(a, zone, onAck) {
  const ackButton =
    a.status === "open"
      ? h("button", { type: "button", class: "primary", onclick: (e) => onAck(a, e.currentTarget) }, t("alerts.ack"))
      : null;
  return h(
    "li",
    { class: `card alert sev-${a.severity} st-${a.status}`, dataset: { alert: a.alert_id } },
    h(
      "div",
      { class: "alert-head" },
      chip(tv("severity", a.severity), `sev sev-${a.severity}`),
      h("strong", { class: "grow" }, tv("alert.kind", a.kind)),
      chip(tv("astatus", a.status), `ast-${a.status}`),
    ),
    h(
      "p",
      {},
      a.passage_id
        ? h("a", { class: "plate", href: `#/passage/${encodeURIComponent(a.passage_id)}` }, a.plate_text || a.passage_id)
        : h("span", { class: "plate" }, a.plate_text || "—"),
      a.lane_id ? h("span", { class: "muted" }, ` · ${t("queue.lane", { lane: a.lane_id })}`) : null,
      a.facts?.channel ? [" ", channelChip(a.facts.channel)] : null,
    ),
    h(
      "p",
      { class: "muted" },
      a.level ? t("alerts.for_escalated", { role: tv("role", a.role), level: a.level }) : t("alerts.for", { role: tv("role", a.role) }),
      " · ",
      h("time", { datetime: a.created_at }, formatDateTime(a.created_at, zone)),
      " (",
      when(a.created_at, zone),
      ")",
    ),
    a.status === "open" && a.ack_due_at ? h("p", { class: "due" }, t("alerts.due", { when: formatDateTime(a.ack_due_at, zone) })) : null,
    a.acked_by ? h("p", { class: "muted" }, t("alerts.acked_by", { who: a.acked_by, when: a.acked_at ? formatDateTime(a.acked_at, zone) : "" })) : null,
    deliveries(a),
    ackButton ? h("div", { class: "actions" }, ackButton) : null,
  );
}

export async function alertsView(root) {
  const gateId = chosenGate();
  const gate = await gateInfo(gateId).catch(() => ({ name: gateId, timezone: "UTC" }));
  const zone = gate.timezone;
  const list = h("ul", { class: "list" });
  const more = h("button", { type: "button", hidden: true }, t("alerts.more"));
  const status = h("p", { class: "muted updated" });
  let shown = [];
  let cursor = null;

  const draw = () => {
    list.replaceChildren(...(shown.length ? shown.map((a) => alertCard(a, zone, ack)) : [h("li", { class: "empty" }, t("alerts.none"))]));
  };
  async function ack(alert, button) {
    button.disabled = true;
    try {
      const done = await api.ack(alert.alert_id);
      shown = shown.map((a) => (a.alert_id === done.alert_id ? done : a));
      banner("alerts.acked", "ok", { what: tv("alert.kind", done.kind), plate: done.plate_text || "" });
      draw();
    } catch (err) {
      button.disabled = false;
      banner("alerts.ack_failed", "warn", { why: problemText(err) });
    }
  }
  const first = async () => {
    try {
      const page = await api.alerts(gateId);
      shown = page.items;
      cursor = page.next;
      more.hidden = !cursor;
      status.textContent = "";
      draw();
    } catch (err) {
      status.textContent = problemText(err);
    }
  };
  more.addEventListener("click", async () => {
    try {
      const page = await api.alerts(gateId, cursor);
      shown = [...shown, ...page.items];
      cursor = page.next;
      more.hidden = !cursor;
      draw();
    } catch (err) {
      banner("alerts.ack_failed", "warn", { why: problemText(err) });
    }
  });
  root.append(h("div", { class: "title-row" }, h("h1", {}, t("alerts.title")), h("p", { class: "muted" }, gate.name)), status, list, more);
  await first();
  const timer = setInterval(() => {
    if (!more.hidden && shown.length > 20) return; // paged further: leave the list as the officer has it
    first();
  }, EVERY_MS);
  return () => clearInterval(timer);
}
