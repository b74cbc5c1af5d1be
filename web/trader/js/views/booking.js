// A booking: the crossing pass (QR to show at the lane, download, share), its status timeline, followed
// live (polling). The service worker keeps the pass and the booking, so this page opens offline too.

import * as api from "../api.js";
import { h, problemText } from "../../../shared/js/dom.js";
import { gate } from "../gates.js";
import { formatDate, formatDateTime, formatTime, t } from "../../../shared/js/i18n.js";
import { statusChip } from "./bookings.js";

const POLL_MS = 15_000;
const QR_SCALE = 8; // the API's SVG: 8 units per module
const MAX_QR_PX = 360;
const MIN_MODULE_PX = 3;
const FINAL = new Set(["CROSSED", "CANCELLED", "NO_SHOW", "REFUSED"]);

function timelineList(entries, timeZone) {
  return h(
    "ol",
    { class: "timeline" },
    entries.map((e) =>
      h(
        "li",
        { class: `t-${e.status}` },
        h("span", { class: "dot", "aria-hidden": "true" }),
        h("span", { class: "what" }, t(`timeline.${e.status}`)),
        h("time", { datetime: e.at }, formatDateTime(e.at, timeZone)),
      ),
    ),
  );
}

async function passCard(b, g) {
  const card = h("section", { class: "card pass", "aria-labelledby": "pass-title" }, h("h2", { id: "pass-title" }, t("pass.title")));
  let p, svg;
  try {
    [p, svg] = await Promise.all([api.pass(b.booking_id), api.passImage(b.booking_id, "svg")]);
  } catch (err) {
    card.append(h("p", { class: "error" }, err.status === 409 ? t("pass.not_now") : problemText(err)));
    return card;
  }
  const url = URL.createObjectURL(svg.blob);
  const image = h("img", { class: "qr", src: url, alt: t("pass.qr_alt", { plate: b.plate_text }), width: 300, height: 300 });
  // whole screen pixels per module: a scanner reads sharp, even squares (the SVG is 8 units per module)
  image.addEventListener("load", () => {
    const modules = image.naturalWidth / QR_SCALE;
    const room = Math.min(card.clientWidth - 24, MAX_QR_PX);
    const size = Math.max(MIN_MODULE_PX, Math.floor(room / modules)) * modules;
    image.style.width = image.style.height = `${size}px`;
  });
  const download = h("button", { type: "button" }, t("pass.download"));
  download.addEventListener("click", async () => {
    const png = await api.passImage(b.booking_id, "png");
    const a = h("a", { href: URL.createObjectURL(png.blob), download: `smartgate-pass-${b.booking_id}.png` });
    document.body.append(a);
    a.click();
    a.remove();
  });
  const share = h("button", { type: "button" }, t("pass.share"));
  const shared = h("p", { class: "muted", "aria-live": "polite" });
  share.addEventListener("click", async () => {
    try {
      const png = await api.passImage(b.booking_id, "png");
      const file = new File([png.blob], `smartgate-pass-${b.booking_id}.png`, { type: "image/png" });
      const text = t("pass.share_text", { plate: b.plate_text, gate: g.name, time: formatTime(b.slot_start, g.timezone) });
      if (navigator.canShare?.({ files: [file] })) await navigator.share({ files: [file], title: t("pass.title"), text });
      else {
        await navigator.clipboard.writeText(p.token);
        shared.textContent = t("pass.copied");
      }
    } catch (err) {
      if (err?.name !== "AbortError") shared.textContent = t("pass.share_failed");
    }
  });
  const parts = [
    image,
    h("p", { class: "plate center" }, b.plate_text),
    h(
      "p",
      { class: "center" },
      t("pass.valid", {
        from: formatDateTime(p.valid_from, g.timezone),
        to: formatDateTime(p.valid_to, g.timezone),
      }),
    ),
    p.fromCache ? h("p", { class: "banner warn" }, t("pass.saved_copy")) : null,
    h("div", { class: "actions wide" }, download, share),
    shared,
    h("details", {}, h("summary", {}, t("pass.token")), h("code", { class: "token" }, p.token)),
  ];
  card.append(...parts.filter(Boolean));
  return card;
}

export async function bookingView(root, { go, params: [bookingId] }) {
  let view;
  try {
    view = await api.booking(bookingId);
  } catch (err) {
    root.append(h("h1", {}, t("booking.title")), h("p", { class: "error", role: "alert" }, problemText(err)));
    if (err.status === 401) root.append(h("a", { class: "button primary", href: "#/sign-in" }, t("signin.submit")));
    return undefined;
  }
  const b = view.booking;
  const g = await gate(b.gate_id);
  const chip = h("span", {}, statusChip(b.status));
  const timeline = h("div", {}, timelineList(view.timeline || [], g.timezone));
  const updated = h("p", { class: "muted", "aria-live": "polite" });
  const cancel = h("button", { type: "button", class: "danger" }, t("booking.cancel"));
  cancel.hidden = b.status !== "BOOKED";
  const move = h(
    "a",
    { class: "button", href: `#/slots/${encodeURIComponent(b.consignment_id)}/move/${encodeURIComponent(b.booking_id)}` },
    t("booking.move"),
  );
  move.hidden = b.status !== "BOOKED" || !b.consignment_id;
  cancel.addEventListener("click", async () => {
    if (!confirm(t("booking.cancel_confirm"))) return;
    try {
      await api.cancel(b.booking_id);
      go("#/bookings");
    } catch (err) {
      updated.textContent = problemText(err);
    }
  });
  root.append(
    h("h1", {}, t("booking.title")),
    h(
      "div",
      { class: "card summary-card" },
      h("div", { class: "row" }, h("p", { class: "plate grow" }, b.plate_text), chip),
      h("p", {}, `${g.name} · ${t(`direction.${b.direction}`)}`),
      h(
        "p",
        { class: "when" },
        `${formatDate(b.slot_start, g.timezone)} ${formatTime(b.slot_start, g.timezone)}–${formatTime(b.slot_end, g.timezone)}`,
      ),
      h("p", { class: "muted" }, t("booking.id", { id: b.booking_id })),
    ),
  );
  if (b.status === "BOOKED" || b.status === "ARRIVED") root.append(await passCard(b, g));
  root.append(
    h("section", { class: "card" }, h("h2", {}, t("booking.timeline")), timeline, updated),
    h("div", { class: "actions" }, h("a", { class: "button", href: "#/bookings" }, t("booking.back")), move, cancel),
  );

  let status = b.status;
  const poll = setInterval(async () => {
    if (document.hidden || FINAL.has(status)) return;
    try {
      const fresh = await api.booking(bookingId);
      status = fresh.booking.status;
      chip.replaceChildren(statusChip(status));
      timeline.replaceChildren(timelineList(fresh.timeline || [], g.timezone));
      cancel.hidden = move.hidden = status !== "BOOKED";
      updated.textContent = t("booking.updated", { time: formatTime(new Date().toISOString(), g.timezone) });
    } catch {
      updated.textContent = t("booking.stale");
    }
  }, POLL_MS);
  return () => clearInterval(poll);
}
