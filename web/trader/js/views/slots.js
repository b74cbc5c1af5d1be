// Pick a crossing slot: one day of 15-minute windows at the declaration's gate, in the gate's time, with
// free places shown; a full or past window cannot be picked. Booking is one request with its own key;
// with a booking id (#/slots/<consignment>/move/<booking>) the picked window moves that booking instead.

import * as api from "../api.js";
import { banner, h, problemText } from "../../../shared/js/dom.js";
import { gate } from "../gates.js";
import { formatDay, formatNumber, formatTime, t } from "../../../shared/js/i18n.js";

/** Today's date (YYYY-MM-DD) at the gate, and a date moved by `days`. */
export function gateToday(timeZone) {
  return dayAt(new Date().toISOString(), timeZone);
}

function dayAt(iso, timeZone) {
  return new Intl.DateTimeFormat("en-CA", { timeZone, year: "numeric", month: "2-digit", day: "2-digit" }).format(
    new Date(iso),
  );
}

function shift(day, days) {
  const d = new Date(`${day}T12:00:00Z`);
  d.setUTCDate(d.getUTCDate() + days);
  return d.toISOString().slice(0, 10);
}

/** The expected wait at the gate in a window (the forecast's), or nothing beyond the forecast's hours. */
function waitBadge(w) {
  if (!w || w.level === "closed") return null;
  const minutes = Math.round(w.wait_minutes);
  const text = minutes < 1 ? t("slots.wait_none") : minutes >= 720 ? t("slots.wait_long") : t("slots.wait", { minutes: formatNumber(minutes) });
  return h("span", { class: `wait level-${w.level}` }, text);
}

export async function slotsView(root, { go, params: [consignmentId, movingId] }) {
  let c;
  try {
    c = await api.consignment(consignmentId);
  } catch (err) {
    root.append(h("h1", {}, t("slots.title")), h("p", { class: "error", role: "alert" }, problemText(err)));
    return;
  }
  const g = await gate(c.gate_id);
  const today = gateToday(g.timezone);
  let day = today;
  if (movingId) {
    // a booking being moved: its own day first, where the nearest other windows are
    try {
      const moving = await api.booking(movingId);
      const own = dayAt(moving.booking.slot_start, g.timezone);
      if (own > today) day = own;
    } catch {
      /* today, then */
    }
  }
  const heading = h("h2", { class: "day" });
  const list = h("ul", { class: "slots", "aria-live": "polite" });
  const message = h("p", { class: "error", role: "alert", hidden: true });
  const earlier = h("button", { type: "button" }, t("slots.earlier"));
  const later = h("button", { type: "button" }, t("slots.later"));
  const picker = h("input", { type: "date", name: "date", min: today, value: today });
  const key = crypto.randomUUID();

  let shown = 0; // the newest day asked for: an older answer arriving late must not replace it

  async function show() {
    const asked = ++shown;
    heading.textContent = formatDay(day);
    picker.value = day;
    earlier.disabled = day <= today;
    list.replaceChildren(h("li", { class: "loading" }, t("app.loading")));
    // the day's windows, and the wait to expect at the gate in the next hours (a forecast: without it, the
    // windows alone)
    const [answer, forecast] = await Promise.allSettled([
      api.slots(c.gate_id, c.direction, day),
      api.waits(c.gate_id, c.direction, 12),
    ]);
    if (asked !== shown) return;
    if (answer.status === "rejected") {
      list.replaceChildren(h("li", { class: "error" }, problemText(answer.reason)));
      return;
    }
    const windows = answer.value;
    const now = Date.now();
    const open = windows.filter((w) => new Date(w.start).getTime() > now);
    const expected = new Map();
    for (const w of forecast.status === "fulfilled" ? forecast.value.windows : []) {
      expected.set(new Date(w.start).getTime(), w);
    }
    if (!open.length) {
      list.replaceChildren(h("li", { class: "empty" }, t("slots.none")));
      return;
    }
    list.replaceChildren(
      ...open.map((w) => {
        const time = `${formatTime(w.start, g.timezone)}–${formatTime(w.end, g.timezone)}`;
        const full = w.free <= 0;
        const share = w.capacity ? Math.min(1, w.booked / w.capacity) : 1;
        const button = h(
          "button",
          {
            type: "button",
            class: full ? "slot full" : "slot",
            disabled: full,
            "aria-label": t(full ? "slots.full_label" : "slots.pick_label", { time, free: formatNumber(w.free) }),
          },
          h("span", { class: "time" }, time),
          h(
            "span",
            { class: "meter", "aria-hidden": "true" },
            h("span", { class: "used", style: `width:${Math.round(share * 100)}%` }),
          ),
          h(
            "span",
            { class: "free" },
            full ? t("slots.full") : t("slots.free", { free: formatNumber(w.free), capacity: formatNumber(w.capacity) }),
          ),
          waitBadge(expected.get(new Date(w.start).getTime())),
        );
        button.addEventListener("click", () => pick(w, time, button));
        return h("li", {}, button);
      }),
    );
  }

  async function pick(w, time, button) {
    message.hidden = true;
    button.disabled = true;
    try {
      const b = movingId ? await api.reschedule(movingId, w.start) : await api.book(c.consignment_id, w.start, key);
      banner(movingId ? "slots.moved" : "slots.booked", "ok", { time });
      go(`#/booking/${encodeURIComponent(b.booking_id)}`);
    } catch (err) {
      message.textContent = problemText(err);
      message.hidden = false;
      message.scrollIntoView({ block: "nearest" });
      await show();
    }
  }

  earlier.addEventListener("click", () => {
    day = shift(day, -1);
    show();
  });
  later.addEventListener("click", () => {
    day = shift(day, 1);
    show();
  });
  picker.addEventListener("change", () => {
    if (picker.value) {
      day = picker.value < today ? today : picker.value;
      show();
    }
  });
  root.append(
    h("h1", {}, t(movingId ? "slots.move_title" : "slots.title")),
    h(
      "div",
      { class: "card" },
      h("p", { class: "plate" }, c.plate_text),
      h("p", {}, `${g.name} · ${t(`direction.${c.direction}`)}`),
      h("p", { class: "muted" }, t("slots.times_at", { zone: g.timezone, opening: g.opening })),
    ),
    h(
      "div",
      { class: "daybar" },
      earlier,
      h("label", { class: "date" }, h("span", { class: "visually-hidden" }, t("slots.date")), picker),
      later,
    ),
    heading,
    message,
    list,
  );
  await show();
}
