// Pieces several views show: status and channel chips, a lane's direction, a perishable mark.

import { chip, h } from "../../../shared/js/dom.js";
import { formatAgo, formatDateTime, t, tv } from "../../../shared/js/i18n.js";

export const statusChip = (status) => (status ? chip(tv("pstatus", status), `s-${status.toLowerCase()}`) : null);

export const channelChip = (channel) =>
  channel ? chip(tv("channel", channel), `c-${channel.toLowerCase()}`) : chip(t("channel.none"), "c-none");

export const direction = (d) => tv("direction", d);

/** "Perishable · until 14:30 (in 3 h)", red when past or within 2 hours. */
export function perishable(deadline, zone) {
  if (!deadline) return null;
  const left = new Date(deadline).getTime() - Date.now();
  return h(
    "span",
    { class: `perishable${left < 2 * 3600 * 1000 ? " urgent" : ""}` },
    t("queue.perishable", { when: formatDateTime(deadline, zone), left: formatAgo(deadline) }),
  );
}

export const when = (iso, zone) =>
  iso ? h("time", { datetime: iso, title: formatDateTime(iso, zone) }, formatAgo(iso)) : null;

/** Who did it, in words: the rules, an officer, the lab, the lane. */
export function actor(who) {
  if (!who) return "";
  const [kind, ...rest] = String(who).split(":");
  const name = rest.join(":");
  if (kind === "clearance") return t("by.clearance");
  if (kind === "officer") return t("by.officer", { name });
  if (kind === "lab") return name ? t("by.lab", { name }) : t("by.lab_unnamed");
  if (kind === "lane") return t("by.lane");
  return String(who);
}
