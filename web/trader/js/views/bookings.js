// Home: the company's bookings (latest slot first) and the declarations still waiting for a slot.

import * as api from "../api.js";
import { h, problemText } from "../../../shared/js/dom.js";
import { gate } from "../gates.js";
import { formatDate, formatTime, t } from "../../../shared/js/i18n.js";

const OPEN = new Set(["BOOKED", "ARRIVED"]);

export function statusChip(status) {
  return h("span", { class: `chip s-${status.toLowerCase()}` }, t(`status.${status}`));
}

export async function bookingCard(b) {
  const g = await gate(b.gate_id);
  return h(
    "li",
    { class: "card row" },
    h(
      "div",
      { class: "grow" },
      h("p", { class: "plate" }, b.plate_text),
      h("p", {}, `${g.name} · ${t(`direction.${b.direction}`)}`),
      h("p", { class: "when" }, `${formatDate(b.slot_start, g.timezone)} ${formatTime(b.slot_start, g.timezone)}–${formatTime(b.slot_end, g.timezone)}`),
    ),
    h("div", { class: "actions" }, statusChip(b.status), h("a", { class: "button", href: `#/booking/${encodeURIComponent(b.booking_id)}` }, t("bookings.open"))),
  );
}

export async function bookingsView(root) {
  root.append(h("h1", {}, t("bookings.title")), h("p", { class: "loading" }, t("app.loading")));
  let booked, declared;
  try {
    [booked, declared] = await Promise.all([api.bookings(), api.consignments()]);
  } catch (err) {
    root.replaceChildren(h("h1", {}, t("bookings.title")), h("p", { class: "error", role: "alert" }, problemText(err)));
    return;
  }
  const withSlot = new Set(booked.items.filter((b) => OPEN.has(b.status)).map((b) => b.consignment_id));
  const waiting = declared.items.filter((c) => !withSlot.has(c.consignment_id));
  const sections = [h("h1", {}, t("bookings.title"))];
  sections.push(
    h("div", { class: "toolbar" }, h("a", { class: "button primary", href: "#/declare" }, t("bookings.new"))),
  );
  if (waiting.length) {
    sections.push(h("h2", {}, t("bookings.waiting")));
    const list = h("ul", { class: "list" });
    for (const c of waiting) {
      const g = await gate(c.gate_id);
      list.append(
        h(
          "li",
          { class: "card row" },
          h(
            "div",
            { class: "grow" },
            h("p", { class: "plate" }, c.plate_text),
            h("p", {}, `${g.name} · ${t(`direction.${c.direction}`)}`),
            h("p", { class: "muted" }, t("bookings.goods", { n: c.goods.length, id: c.consignment_id })),
          ),
          h("a", { class: "button primary", href: `#/slots/${encodeURIComponent(c.consignment_id)}` }, t("bookings.pick_slot")),
        ),
      );
    }
    sections.push(list);
  }
  sections.push(h("h2", {}, t("bookings.booked")));
  if (!booked.items.length) sections.push(h("p", { class: "empty" }, t("bookings.none")));
  else sections.push(h("ul", { class: "list" }, await Promise.all(booked.items.map(bookingCard))));
  root.replaceChildren(...sections);
}
