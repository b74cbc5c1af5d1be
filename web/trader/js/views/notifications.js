// What the company was told (the outbox; by e-mail / SMS too when deployed), newest first.

import * as api from "../api.js";
import { h, problemText } from "../../../shared/js/dom.js";
import { formatDateTime, has, t } from "../../../shared/js/i18n.js";

export async function notificationsView(root) {
  root.append(h("h1", {}, t("notifications.title")));
  let page;
  try {
    page = await api.notifications();
  } catch (err) {
    root.append(h("p", { class: "error", role: "alert" }, problemText(err)));
    return;
  }
  if (!page.items.length) {
    root.append(h("p", { class: "empty" }, t("notifications.none")));
    return;
  }
  const zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
  root.append(
    h(
      "ul",
      { class: "list" },
      page.items.map((n) =>
        h(
          "li",
          { class: "card" },
          h("p", { class: "what" }, has(`timeline.${n.kind}`) ? t(`timeline.${n.kind}`) : t("notifications.other")),
          n.booking_id
            ? h("a", { href: `#/booking/${encodeURIComponent(n.booking_id)}` }, t("booking.id", { id: n.booking_id }))
            : null,
          h("p", { class: "muted" }, h("time", { datetime: n.at }, formatDateTime(n.at, zone))),
        ),
      ),
    ),
  );
}
