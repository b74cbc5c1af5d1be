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

/** The wait to expect at the barrier, per direction, over the next two hours (a forecast: GET .../waits). */
function waitsSection(forecasts, zone) {
  const shown = forecasts.filter((f) => f && f.windows.length);
  if (!shown.length) return null;
  const starts = [...new Set(shown.flatMap((f) => f.windows.map((w) => w.start)))].sort().slice(0, 8);
  const cell = (f, start) => {
    const w = f.windows.find((x) => x.start === start);
    if (!w || w.level === "closed") return h("td", { class: "muted" }, "–");
    const minutes = Math.round(w.wait_minutes);
    const text = minutes < 1 ? t("waits.none") : minutes >= 720 ? t("waits.long") : t("waits.minutes", { minutes: formatNumber(minutes) });
    return h("td", {}, h("span", { class: `wait level-${w.level}` }, text));
  };
  const serving = shown.map((f) => t("waits.serving", { direction: direction(f.direction), serving: formatNumber(f.lanes_serving), lanes: formatNumber(f.lanes) }));
  return h(
    "section",
    { class: "queue waits", "aria-labelledby": "q-waits" },
    h("h2", { id: "q-waits" }, t("waits.title")),
    h(
      "div",
      { class: "scroll" },
      h(
        "table",
        { class: "waits-table" },
        h("thead", {}, h("tr", {}, h("th", { scope: "col" }, t("waits.window")), ...shown.map((f) => h("th", { scope: "col" }, direction(f.direction))))),
        h("tbody", {}, ...starts.map((start) => h("tr", {}, h("th", { scope: "row" }, formatTime(start, zone)), ...shown.map((f) => cell(f, start))))),
      ),
    ),
    h("p", { class: "muted small" }, `${serving.join(" · ")}. ${t("waits.basis")}`),
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
  const waits = h("div", { class: "waits-box" });
  let forecastAt = 0;
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
      if (Date.now() - forecastAt > 60_000) {
        // the wait forecast changes with bookings and lanes: once a minute is enough, and the lanes do not
        // wait for it
        forecastAt = Date.now();
        const directions = [...new Set(laneList.map((l) => l.direction))].sort();
        Promise.all(directions.map((d) => api.waits(gateId, d, 2).catch(() => null))).then((forecasts) => {
          if (forecasts.some((f) => f === null)) forecastAt = 0; // try again at the next refresh
          waits.replaceChildren(...[waitsSection(forecasts, zone)].filter(Boolean));
        });
      }
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
      h("div", { class: "col-queue" }, waits, queues),
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
