// One passage, as an officer decides on it: plate, channel, the rules that fired and why, the evidence
// images, the booking and goods, the actions the officer's role allows (each with a mandatory reason,
// sent with the version shown and an Idempotency-Key), and the passage's audit trail.

import * as api from "../api.js";
import { banner, chip, field, h, problemText, showFieldErrors } from "../../../shared/js/dom.js";
import { ACTIONS, chosenGate, gateInfo, may } from "../duty.js";
import { formatDateTime, formatNumber, has, t, tv } from "../../../shared/js/i18n.js";
import { actor, channelChip, direction, perishable, statusChip, when } from "./common.js";

const CLOSED = new Set(["DEPARTED", "REFUSED"]);
const ALREADY = { release: "RELEASED", hold: "HELD", inspect: "IN_INSPECTION" };
const LAB_TESTS = ["phytosanitary", "food_safety", "quality", "veterinary"];
const MIN_REASON = 3;

function facts(pairs) {
  return h(
    "dl",
    { class: "facts" },
    pairs.filter(([, v]) => v !== null && v !== undefined && v !== "").map(([k, v]) => [h("dt", {}, t(k)), h("dd", {}, v)]),
  );
}

function rulesSection(decision, zone) {
  if (!decision) return h("section", { class: "card why" }, h("h2", {}, t("passage.why")), h("p", { class: "empty" }, t("passage.undecided")));
  return h(
    "section",
    { class: "card why", "aria-labelledby": "why-h" },
    h("h2", { id: "why-h" }, t("passage.why")),
    h(
      "p",
      { class: "muted" },
      t("passage.decided", {
        score: formatNumber(decision.risk_score),
        ruleset: `${decision.ruleset_id} ${decision.ruleset_version}`,
        when: formatDateTime(decision.decided_at, zone),
      }),
    ),
    decision.rules_fired.length
      ? h(
          "ul",
          { class: "rules" },
          decision.rules_fired.map((r) =>
            h(
              "li",
              { class: `rule ch-${(r.channel || "none").toLowerCase()}` },
              h(
                "div",
                { class: "rule-head" },
                has(`rule.${r.rule_id}`) ? h("strong", { class: "rule-title" }, t(`rule.${r.rule_id}`)) : null,
                r.channel ? channelChip(r.channel) : null,
                r.score ? h("span", { class: "score" }, t("passage.points", { n: formatNumber(r.score) })) : null,
                h("code", { class: "rule-id" }, r.rule_id),
              ),
              h("p", { class: "explanation", lang: "en" }, r.explanation),
            ),
          ),
        )
      : h("p", { class: "empty" }, t("passage.no_rules")),
    decision.settled ? h("p", { class: "hint" }, t("passage.settled")) : null,
  );
}

function evidenceSection(images, zone) {
  const body = images === null
    ? h("p", { class: "error" }, t("evidence.failed"))
    : images.length
      ? h(
          "ul",
          { class: "evidence" },
          images.map((img) => {
            const caption = h(
              "figcaption",
              {},
              h("strong", {}, img.text || "—"),
              " ",
              h("span", { class: "muted" }, [tv("evidence", img.kind), img.camera ? tv("camera", img.camera) : null, formatDateTime(img.captured_at, zone)].filter(Boolean).join(" · ")),
            );
            const pic = h("img", {
              src: img.url,
              alt: t("evidence.alt", { kind: tv("evidence", img.kind), text: img.text || "—" }),
              decoding: "async",
              onerror: (e) => {
                e.target.replaceWith(h("p", { class: "noimage" }, t("evidence.unavailable")));
              },
            });
            return h("li", {}, h("figure", {}, h("a", { href: img.url, target: "_blank", rel: "noopener" }, pic), caption));
          }),
        )
      : h("p", { class: "empty" }, t("evidence.none"));
  return h("section", { class: "card evidence-card", "aria-labelledby": "ev-h" }, h("h2", { id: "ev-h" }, t("evidence.title")), body);
}

function tradeSection(p, zone) {
  const c = p.consignment;
  const b = p.booking;
  return h(
    "section",
    { class: "card trade-card", "aria-labelledby": "trade-h" },
    h("h2", { id: "trade-h" }, t("passage.trade")),
    b || c
      ? [
          facts([
            ["passage.booking", b?.booking_id],
            ["passage.slot", b ? `${formatDateTime(b.slot_start, zone)} – ${formatDateTime(b.slot_end, zone)}` : null],
            ["passage.consignment", c?.consignment_id],
            ["passage.trader", c?.trader_id || b?.trader_id],
            ["passage.containers", c?.container_nos?.join(", ")],
          ]),
          c?.goods?.length
            ? h(
                "ul",
                { class: "goods" },
                c.goods.map((g) =>
                  h(
                    "li",
                    {},
                    h("code", {}, g.hs_code),
                    " ",
                    g.description,
                    h("span", { class: "muted" }, ` · ${formatNumber(g.net_kg)} kg`),
                    g.perishable ? [" ", perishable(g.shelf_life_deadline, zone)] : null,
                  ),
                ),
              )
            : null,
        ]
      : h("p", { class: "empty" }, t("passage.no_booking")),
  );
}

function earliestDeadline(c) {
  const found = (c?.goods || []).filter((g) => g.perishable && g.shelf_life_deadline).map((g) => g.shelf_life_deadline);
  return found.sort()[0] || null;
}

function readings(p, zone) {
  const d = p.detections || {};
  const rows = [];
  for (const r of d.plates || []) {
    rows.push(
      h("li", {}, h("strong", {}, r.plate_text), " ", h("span", { class: "muted" }, `${tv("camera", r.camera)} · ${formatNumber(r.confidence * 100)} % · ${formatDateTime(r.captured_at, zone)}`)),
    );
  }
  for (const c of d.containers || []) rows.push(h("li", {}, h("strong", {}, c.container_no), " ", h("span", { class: "muted" }, t(c.check_digit_ok ? "passage.check_ok" : "passage.check_bad"))));
  for (const w of d.weights || []) rows.push(h("li", {}, t("passage.weight", { kg: formatNumber(w.gross_kg) })));
  if ((d.passes || []).length) rows.push(h("li", {}, t("passage.pass_shown")));
  for (const f of d.faces || []) rows.push(faceRow(f));
  return rows.length ? h("ul", { class: "readings" }, rows) : null;
}

function faceRow(f) {
  // the lane's 1:1 check with the booked driver's enrolled face: the score and the quality, never an image
  const compared = f.score !== null && f.score !== undefined;
  const q = f.quality;
  const refused = Object.entries((q && q.rejected) || {}).map(([why, n]) => `${n} ${tv("face.rejected", why)}`);
  const quality = q
    ? t("passage.face_quality", { px: formatNumber(q.face_px), sharpness: formatNumber(Math.round(q.sharpness)), frames: formatNumber(q.frames) }) +
      (refused.length ? ` (${refused.join(", ")})` : "")
    : t("passage.face_no_frame");
  return h(
    "li",
    { class: `face face-${f.decision}` },
    h("strong", {}, t("passage.face"), " ", chip(tv("face.decision", f.decision), `f-${f.decision}`)),
    " ",
    compared
      ? h("span", {}, t("passage.face_score", { score: formatNumber(f.score, 2), line: formatNumber(1 - f.threshold, 2) }))
      : null,
    " ",
    h("span", { class: "muted" }, quality),
  );
}

function auditDetail(e) {
  const d = e.detail || {};
  switch (e.kind) {
    case "officer_action":
      return [
        h("span", { class: "what" }, tv("action", d.action), " ", chip(tv("outcome", d.outcome), `o-${d.outcome}`)),
        d.reason ? h("q", { class: "reason" }, d.reason) : null,
        d.to_status && d.from_status !== d.to_status ? h("span", { class: "muted" }, `${tv("pstatus", d.from_status)} → ${tv("pstatus", d.to_status)}`) : null,
        d.refusal ? h("span", { class: "refusal" }, d.refusal) : null,
      ];
    case "state":
      return [h("span", { class: "what" }, d.from ? `${tv("pstatus", d.from)} → ${tv("pstatus", d.to)}` : tv("pstatus", d.to)), d.reason ? h("span", { class: "muted" }, d.reason) : null];
    case "decision": {
      const dec = d.decision || {};
      return [h("span", { class: "what" }, channelChip(dec.channel), " ", t("audit.score", { n: formatNumber(dec.risk_score || 0) })), h("span", { class: "muted" }, (dec.rules_fired || []).map((r) => r.rule_id).join(", "))];
    }
    case "lab_sample":
      return [h("span", { class: "what" }, d.sample?.sample_id), h("span", { class: "muted" }, (d.sample?.tests || []).map((x) => tv("test", x)).join(", "))];
    case "lab_result":
      return [h("span", { class: "what" }, d.sample_id, " ", chip(tv("lab", d.result?.outcome), `o-${d.result?.outcome === "pass" ? "accepted" : "refused"}`))];
    default:
      return [];
  }
}

function auditSection(entries, zone) {
  return h(
    "section",
    { class: "card audit-card", "aria-labelledby": "audit-h" },
    h("h2", { id: "audit-h" }, t("audit.title")),
    entries === null
      ? h("p", { class: "error" }, t("audit.failed"))
      : entries.length
        ? h(
            "ol",
            { class: "audit" },
            entries.map((e) =>
              h(
                "li",
                { class: `a-${e.kind}`, dataset: { kind: e.kind } },
                h("span", { class: "a-kind" }, tv("audit.kind", e.kind)),
                h("span", { class: "a-body" }, auditDetail(e)),
                h("span", { class: "a-who muted" }, actor(e.actor), " · ", h("time", { datetime: e.at }, formatDateTime(e.at, zone))),
              ),
            ),
          )
        : h("p", { class: "empty" }, t("audit.none")),
  );
}

/** The small form of one action: extra fields, the mandatory reason, send and cancel. */
function actionForm(p, action, { done, cancel }) {
  let key = api.newKey(); // one per decision: a retry after a lost answer is the same request
  const reason = h("textarea", { name: "reason", rows: 3, maxlength: 500, required: true });
  const extra = [];
  const inputs = {};
  if (action === "correct_plate") {
    inputs.plate = h("input", { name: "plate", autocomplete: "off", autocapitalize: "characters", maxlength: 16, value: p.plate_text || "" });
    inputs.country = h("select", { name: "country" }, ["VN", "CN"].map((c) => h("option", { value: c, selected: c === p.country }, tv("country", c))));
    extra.push(field("action.plate", inputs.plate, { hint: "action.plate_hint" }), field("action.country", inputs.country));
  }
  if (action === "sample") {
    inputs.sample_id = h("input", { name: "sample_id", autocomplete: "off", maxlength: 128 });
    const wanted = new Set(p.decision?.lab_tests || []);
    const boxes = LAB_TESTS.map((x) => h("label", { class: "check" }, h("input", { type: "checkbox", name: "tests", value: x, checked: wanted.has(x) }), tv("test", x)));
    extra.push(
      field("action.sample_id", inputs.sample_id),
      h("fieldset", { class: "field tests" }, h("legend", {}, t("action.tests")), boxes, h("p", { class: "error", hidden: true })),
    );
  }
  const message = h("p", { class: "error summary", role: "alert", hidden: true });
  const submit = h("button", { type: "submit", class: action === "release" ? "primary" : "primary dark" }, t(`action.${action}.submit`));
  const form = h(
    "form",
    { class: "card action-form", novalidate: true, dataset: { action } },
    h("h2", {}, t(`action.${action}.title`)),
    h("p", { class: "muted" }, t("action.for", { plate: p.plate_text || p.passage_id, version: p.version })),
    extra,
    field("action.reason", reason, { hint: "action.reason_hint" }),
    message,
    h("div", { class: "actions" }, submit, h("button", { type: "button", onclick: cancel }, t("action.cancel"))),
  );

  const local = () => {
    const errors = [];
    if (reason.value.trim().length < MIN_REASON) errors.push({ name: "reason", text: t("error.reason") });
    if (inputs.plate && !inputs.plate.value.trim()) errors.push({ name: "plate", text: t("error.required") });
    if (inputs.sample_id && !inputs.sample_id.value.trim()) errors.push({ name: "sample_id", text: t("error.required") });
    if (action === "sample" && !form.querySelector("input[name=tests]:checked")) errors.push({ name: "tests", text: t("error.tests") });
    return errors;
  };

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    message.hidden = true;
    const errors = local();
    showFieldErrors(form, errors);
    if (errors.length) {
      form.querySelector("[aria-invalid=true]")?.focus();
      return;
    }
    const body = { action, reason: reason.value.trim(), version: p.version };
    if (inputs.plate) Object.assign(body, { plate: inputs.plate.value.trim(), country: inputs.country.value });
    if (inputs.sample_id) {
      body.sample_id = inputs.sample_id.value.trim();
      body.tests = [...form.querySelectorAll("input[name=tests]:checked")].map((i) => i.value);
    }
    submit.disabled = true;
    submit.textContent = t("action.busy");
    try {
      const out = await api.act(p.passage_id, body, key);
      done(out);
    } catch (err) {
      if (err.status && err.status < 500) key = api.newKey(); // refused: a changed request is a new one
      if (err.status === 409) {
        done(null, err);
        return;
      }
      const mine = (err.fields || []).filter((f) => form.querySelector(`[name="${f.name}"]`));
      showFieldErrors(form, mine);
      if (!mine.length || err.status === 403) {
        message.replaceChildren(
          h("span", {}, err.status === 403 ? t("action.forbidden") : problemText(err)),
          err.problem?.detail ? h("span", { class: "detail" }, err.problem.detail) : null,
        );
        message.hidden = false;
      }
    } finally {
      submit.disabled = false;
      submit.textContent = t(`action.${action}.submit`);
    }
  });
  return { form, focus: () => (extra.length ? form.querySelector("input") : reason).focus() };
}

function actionsSection(p, reload) {
  const section = h("section", { class: "card actions-card", "aria-labelledby": "act-h" }, h("h2", { id: "act-h" }, t("action.title")));
  if (CLOSED.has(p.status)) {
    section.append(h("p", { class: "empty" }, t("action.closed", { status: tv("pstatus", p.status) })));
    return section;
  }
  const allowed = ACTIONS.filter(may);
  if (!allowed.length) {
    section.append(h("p", { class: "empty" }, t("action.none_allowed")));
    return section;
  }
  const slot = h("div", { class: "form-slot" });
  const buttons = allowed.map((a) =>
    h(
      "button",
      {
        type: "button",
        class: `act act-${a}`,
        disabled: ALREADY[a] === p.status,
        title: ALREADY[a] === p.status ? t("action.already", { status: tv("pstatus", p.status) }) : null,
        "aria-expanded": "false",
        onclick: (e) => open(a, e.currentTarget),
      },
      t(`action.${a}`),
    ),
  );
  const open = (a, button) => {
    for (const b of buttons) b.setAttribute("aria-expanded", b === button ? "true" : "false");
    const { form, focus } = actionForm(p, a, {
      cancel: () => {
        slot.replaceChildren();
        button.setAttribute("aria-expanded", "false");
        button.focus();
      },
      done: (out, conflict) => {
        if (conflict) {
          banner("action.conflict", "warn", { detail: conflict.problem?.detail || "" });
        } else {
          banner("action.done", "ok", { action: t(`action.${a}`), plate: p.plate_text || p.passage_id, status: tv("pstatus", out.status) });
        }
        reload();
      },
    });
    slot.replaceChildren(form);
    focus();
  };
  section.append(h("div", { class: "actions wide" }, buttons), slot);
  return section;
}

export async function passageView(root, { params: [passageId] }) {
  const gate = await gateInfo(chosenGate()).catch(() => ({ timezone: "UTC" }));
  const zone = gate.timezone;
  const back = h("p", { class: "back" }, h("a", { href: "#/gate" }, `← ${t("passage.back")}`));

  const load = async () => {
    let p;
    try {
      p = await api.passage(passageId);
    } catch (err) {
      root.replaceChildren(back, h("h1", {}, t("passage.title")), h("p", { class: "error", role: "alert" }, problemText(err)));
      return;
    }
    const [images, entries] = await Promise.all([api.evidence(passageId).catch(() => null), api.audit(passageId).catch(() => null)]);
    const deadline = earliestDeadline(p.consignment);
    const head = h(
      "section",
      { class: `card passage-summary ch-${(p.decision?.channel || "none").toLowerCase()}` },
      h(
        "div",
        { class: "summary-top" },
        h("h1", { class: "plate big" }, p.plate_text || t("lane.no_plate")),
        h("div", { class: "qchips" }, channelChip(p.decision?.channel), statusChip(p.status)),
      ),
      p.status_reason && p.status_by !== "clearance" ? h("p", { class: "status-reason" }, p.status_reason) : null,
      facts([
        ["passage.lane", `${p.lane_id} · ${direction(p.direction)}`],
        ["passage.since", h("span", {}, formatDateTime(p.status_at, zone), " (", when(p.status_at, zone), ")")],
        ["passage.status_by", actor(p.status_by)],
        ["passage.booking", p.booking?.booking_id || t("passage.none")],
        ["passage.consignment", p.consignment?.consignment_id || t("passage.none")],
        ["passage.version", String(p.version)],
        ["passage.id", h("code", {}, p.passage_id)],
      ]),
      deadline ? h("p", {}, perishable(deadline, zone)) : null,
      readings(p, zone),
    );
    root.replaceChildren(
      back,
      h(
        "div",
        { class: "passage-layout" },
        h(
          "div",
          { class: "col-main" },
          head,
          rulesSection(p.decision, zone),
          actionsSection(p, load),
          auditSection(entries, zone),
        ),
        h("div", { class: "col-side" }, evidenceSection(images, zone), tradeSection(p, zone)),
      ),
    );
  };
  await load();
}
