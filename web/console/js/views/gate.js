// The gate on duty, live: who waits (inspection, lab; perishables first) and each lane now (its newest
// vehicle, channel, barrier, online or not, health), refreshed every few seconds.

import * as api from "../api.js";
import { h, problemText } from "../../../shared/js/dom.js";
import { chosenGate, gateInfo } from "../duty.js";
import { formatNumber, formatTime, t, tv } from "../../../shared/js/i18n.js";
import { channelChip, direction, perishable, statusChip, when } from "./common.js";

const EVERY_MS = 5000;
const WAITING = new Set(["HELD", "IN_INSPECTION", "SAMPLED", "OPEN"]);

function queueRow(row, zone) {
  return h(
    "li",
    {},
    h(
      "a",
      {
        class: `qrow${row.perishable_deadline ? " perish" : ""} ch-${(row.channel || "none").toLowerCase()}`,
        href: `#/passage/${encodeURIComponent(row.passage_id)}`,
        dataset: { passage: row.passage_id },
      },
      h(
        "span",
        { class: "qmain" },
        h("span", { class: "plate" }, row.plate_text || t("lane.no_plate")),
        h("span", { class: "muted" }, t("queue.lane", { lane: row.lane_id })),
      ),
      h("span", { class: "qchips" }, channelChip(row.channel), statusChip(row.status)),
      h(
        "span",
        { class: "qmeta" },
        perishable(row.perishable_deadline, zone),
        row.lab_tests?.length ? h("span", {}, row.lab_tests.map((x) => tv("test", x)).join(", ")) : null,
        h("span", { class: "muted" }, when(row.since, zone)),
      ),
    ),
  );
}

function queueSection(name, rows, zone) {
  return h(
    "section",
    { class: "queue", "aria-labelledby": `q-${name}` },
    h("h2", { id: `q-${name}` }, t(`queue.${name}`), " ", h("span", { class: "count" }, formatNumber(rows.length))),
    rows.length ? h("ul", { class: "list" }, rows.map((r) => queueRow(r, zone))) : h("p", { class: "empty" }, t("queue.empty")),
  );
}

function healthLine(lane) {
  const hl = lane.health;
  if (!hl) return h("p", { class: "health muted" }, t("lane.no_heartbeat"));
  const bits = [
    ...(hl.degraded ? [t("lane.degraded")] : []),
    hl.camera_ok ? t("lane.camera_ok") : t("lane.camera_fault"),
    t("lane.fps", { n: formatNumber(hl.fps, 1) }),
    t("lane.inference", { n: formatNumber(hl.inference_ms) }),
    t("lane.queue_depth", { n: formatNumber(hl.queue_depth || 0) }),
  ];
  return h("p", { class: `health${hl.camera_ok && !hl.degraded ? "" : " bad"}` }, bits.join(" · "));
}

function laneCard(lane, zone) {
  const barrierOpen = lane.barrier === "open";
  const body = [
    h(
      "div",
      { class: "lane-head" },
      h("span", { class: "lane-id" }, lane.lane_id),
      h("span", { class: "muted" }, direction(lane.direction)),
      h(
        "span",
        { class: `online ${lane.online ? "on" : "off"}` },
        h("span", { class: "dot", "aria-hidden": "true" }),
        t(lane.online ? "lane.online" : "lane.offline"),
      ),
    ),
    lane.passage_id
      ? h(
          "div",
          { class: "lane-vehicle" },
          h("span", { class: "plate" }, lane.plate_text || t("lane.no_plate")),
          channelChip(lane.channel),
        )
      : h("p", { class: "muted lane-vehicle" }, t("lane.empty")),
    h(
      "div",
      { class: "lane-state" },
      h(
        "span",
        { class: `barrier ${barrierOpen ? "open" : "closed"}` },
        h("span", { class: "bar-icon", "aria-hidden": "true" }),
        t(barrierOpen ? "lane.barrier_open" : "lane.barrier_closed"),
      ),
      lane.status ? h("span", {}, statusChip(lane.status), " ", when(lane.since, zone)) : null,
    ),
    healthLine(lane),
  ];
  const cls = `lane ch-${(lane.channel || "none").toLowerCase()}${lane.online ? "" : " is-offline"}`;
  return lane.passage_id
    ? h("a", { class: cls, href: `#/passage/${encodeURIComponent(lane.passage_id)}`, dataset: { lane: lane.lane_id } }, body)
    : h("div", { class: cls, dataset: { lane: lane.lane_id } }, body);
}

/** Lanes worth a look first: a vehicle waiting, then any vehicle, then online ones; idle offline ones last. */
function rank(lane) {
  if (lane.passage_id && WAITING.has(lane.status)) return 0;
  if (lane.passage_id) return 1;
  if (lane.online) return 2;
  return 3;
}

export async function gateView(root) {
  const gateId = chosenGate();
  const gate = await gateInfo(gateId).catch(() => ({ gate_id: gateId, name: gateId, timezone: "UTC" }));
  const zone = gate.timezone;
  const updated = h("p", { class: "updated muted" }, t("app.loading"));
  const filter = h("input", { type: "search", name: "lane_filter", autocomplete: "off", placeholder: t("lanes.filter_hint") });
  const showAll = h("input", { type: "checkbox", name: "all_lanes" });
  const queues = h("div", { class: "queues" });
  const lanes = h("div", { class: "lanes-grid" });
  const idle = h("p", { class: "muted idle" });
  let last = null;

  const drawLanes = () => {
    if (!last) return;
    const q = filter.value.trim().toLowerCase();
    const sorted = [...last.lanes].sort((a, b) => rank(a) - rank(b));
    const matching = sorted.filter(
      (l) => !q || l.lane_id.toLowerCase().includes(q) || (l.plate_text || "").toLowerCase().includes(q),
    );
    const shown = matching.filter((l) => showAll.checked || q || rank(l) < 3);
    lanes.replaceChildren(...shown.map((l) => laneCard(l, zone)));
    const hidden = matching.length - shown.length;
    idle.hidden = hidden === 0;
    idle.textContent = hidden ? t("lanes.hidden", { n: formatNumber(hidden) }) : "";
    if (!shown.length) lanes.replaceChildren(h("p", { class: "empty" }, t(last.lanes.length ? "lanes.none" : "lanes.no_lanes")));
  };
  filter.addEventListener("input", drawLanes);
  showAll.addEventListener("change", drawLanes);

  const refresh = async () => {
    try {
      const [laneList, waiting] = await Promise.all([api.lanes(gateId), api.queues(gateId)]);
      last = { lanes: laneList, waiting };
      queues.replaceChildren(
        queueSection("inspection", waiting.inspection || [], zone),
        queueSection("lab", waiting.lab || [], zone),
      );
      drawLanes();
      const online = laneList.filter((l) => l.online).length;
      updated.textContent = t("gate.updated", {
        time: formatTime(new Date().toISOString(), zone, { seconds: true }),
        online: formatNumber(online),
        lanes: formatNumber(laneList.length),
      });
      updated.classList.remove("stale");
    } catch (err) {
      updated.textContent = `${t("gate.stale")} ${problemText(err)}`;
      updated.classList.add("stale");
    }
  };

  root.append(
    h("div", { class: "title-row" }, h("h1", {}, gate.name), updated),
    h(
      "div",
      { class: "gate-layout" },
      h("div", { class: "col-queue" }, queues),
      h(
        "section",
        { class: "col-lanes", "aria-labelledby": "lanes-h" },
        h("h2", { id: "lanes-h" }, t("lanes.title")),
        h(
          "div",
          { class: "lane-tools" },
          h("label", { class: "search" }, h("span", { class: "visually-hidden" }, t("lanes.filter")), filter),
          h("label", { class: "check" }, showAll, t("lanes.show_all")),
        ),
        lanes,
        idle,
      ),
    ),
  );
  await refresh();
  const timer = setInterval(refresh, EVERY_MS);
  return () => clearInterval(timer);
}
