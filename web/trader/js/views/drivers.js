// The company's drivers, and each driver's face check at the gate: what it is, the driver's consent, the
// enrolment photo (scaled down on this device, sent once, never kept by Smart Gate), the record of every use
// of the face data, and withdrawal (the face data is deleted at once).

import * as api from "../api.js";
import { banner, field, h, problemText } from "../../../shared/js/dom.js";
import { formatDateTime, formatLongDate, t } from "../../../shared/js/i18n.js";

const CONSENT_VERSION = "face-1to1-2026-12";
const MAX_SIDE = 1280; // the photo is scaled to this longest side before it is sent (the API takes 2 MB at most)

export async function driversView(root) {
  root.append(h("h1", {}, t("drivers.title")), h("p", { class: "loading" }, t("app.loading")));
  let drivers;
  try {
    drivers = (await api.drivers()).items;
  } catch (err) {
    root.replaceChildren(h("h1", {}, t("drivers.title")), h("p", { class: "error", role: "alert" }, problemText(err)));
    return;
  }
  const list = h("ul", { class: "list" });
  for (const d of drivers) {
    list.append(
      h(
        "li",
        { class: "card row" },
        h(
          "div",
          { class: "grow" },
          h("p", { class: "name" }, d.full_name),
          h("p", { class: "muted" }, `${d.driver_id} · ${d.country}`),
        ),
        h("a", { class: "button", href: `#/drivers/${encodeURIComponent(d.driver_id)}/face` }, t("drivers.face")),
      ),
    );
  }
  root.replaceChildren(
    h("h1", {}, t("drivers.title")),
    h("p", { class: "muted" }, t("drivers.intro")),
    drivers.length ? list : h("p", { class: "empty" }, t("drivers.none")),
  );
}

/** The photo as base64 JPEG, scaled down to MAX_SIDE (a phone's 12 MP photo becomes a few hundred KB). */
async function photoBase64(file) {
  const bitmap = await createImageBitmap(file);
  const scale = Math.min(1, MAX_SIDE / Math.max(bitmap.width, bitmap.height));
  const canvas = document.createElement("canvas");
  canvas.width = Math.round(bitmap.width * scale);
  canvas.height = Math.round(bitmap.height * scale);
  canvas.getContext("2d").drawImage(bitmap, 0, 0, canvas.width, canvas.height);
  bitmap.close();
  const blob = await new Promise((resolve) => canvas.toBlob(resolve, "image/jpeg", 0.9));
  canvas.width = canvas.height = 0;
  const bytes = new Uint8Array(await blob.arrayBuffer());
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(binary);
}

/** The API's reason for refusing a photo, in the user's words. */
function photoProblem(err) {
  const detail = err?.problem?.detail || "";
  const reasons = [
    [/no face found/, "face.photo.no_face"],
    [/more than one face/, "face.photo.several_faces"],
    [/too small/, "face.photo.too_small"],
    [/blurred/, "face.photo.blurred"],
    [/JPEG or PNG|does not decode|not base64/, "face.photo.not_image"],
    [/at most/, "face.photo.too_big"],
  ];
  for (const [pattern, key] of reasons) if (pattern.test(detail)) return t(key);
  return problemText(err);
}

/** A use of the face data, in the user's words (the record keeps it in English). */
function useText(what) {
  let m;
  if (/^face enrolled/.test(what)) return t("face.use.enrolled");
  if ((m = what.match(/^face sent for a 1:1 check at gate (\S+) lane (\S+) \(booking ([^)]+)\)/)))
    return t("face.use.sent", { gate: m[1], lane: m[2], booking: m[3] });
  if (/^consent withdrawn: face data deleted/.test(what)) return t("face.use.withdrawn");
  if ((m = what.match(/^consent withdrawn: lanes told to drop the face \(([^)]+)\)/)))
    return t("face.use.lanes_told", { lanes: m[1] });
  if (/^consent withdrawn: no face data/.test(what)) return t("face.use.withdrawn_none");
  if (/^record of face data uses read/.test(what)) return t("face.use.record_read");
  if (/^face record read/.test(what)) return t("face.use.record_read");
  if (/^face used/.test(what)) return t("face.use.used");
  return what;
}

export async function faceView(root, { params: [id] }) {
  root.append(h("h1", {}, t("face.title")), h("p", { class: "loading" }, t("app.loading")));
  let driver, status;
  try {
    [driver, status] = await Promise.all([api.driver(id), api.faceStatus(id)]);
  } catch (err) {
    root.replaceChildren(h("h1", {}, t("face.title")), h("p", { class: "error", role: "alert" }, problemText(err)));
    return;
  }
  const reload = () => {
    root.replaceChildren();
    return faceView(root, { params: [id] });
  };

  const state = status.enrolled
    ? h(
        "div",
        { class: "card state ok" },
        h("p", { class: "verdict ok" }, t("face.enrolled")),
        h("p", {}, t("face.kept_until", { date: formatLongDate(status.expires_at) })),
        h(
          "p",
          { class: "muted" },
          t("face.consent_given", {
            date: formatDateTime(status.consent.given_at),
            method: t(`face.method.${status.consent.method}`),
            version: status.consent.text_version,
          }),
        ),
        h(
          "button",
          {
            type: "button",
            class: "danger",
            onclick: async (event) => {
              if (!confirm(t("face.withdraw_confirm", { name: driver.full_name }))) return;
              event.target.disabled = true;
              try {
                await api.withdrawFace(id);
                banner("face.withdrawn", "ok");
                await reload();
              } catch (err) {
                event.target.disabled = false;
                banner(null);
                alert(problemText(err));
              }
            },
          },
          t("face.withdraw"),
        ),
      )
    : h("div", { class: "card state" }, h("p", { class: "verdict" }, t("face.not_enrolled")));

  // the browser's own file button speaks the browser's language: a button in the page's words instead
  const photo = h("input", {
    type: "file",
    name: "photo",
    class: "visually-hidden",
    accept: "image/jpeg,image/png",
    capture: "user",
  });
  const chosen = h("span", { class: "muted" }, t("face.photo_none"));
  const pick = h("label", { class: "button", for: "face-photo" }, t("face.photo_pick"));
  photo.id = "face-photo";
  const preview = h("img", { class: "face-preview", alt: t("face.preview"), hidden: true });
  photo.addEventListener("change", () => {
    const file = photo.files[0];
    if (preview.src) URL.revokeObjectURL(preview.src);
    preview.hidden = !file;
    chosen.textContent = file ? file.name : t("face.photo_none");
    if (file) preview.src = URL.createObjectURL(file);
  });
  const agreed = h("input", { type: "checkbox", name: "consent.given", required: true });
  const method = h(
    "select",
    { name: "consent.method" },
    h("option", { value: "app" }, t("face.method.app")),
    h("option", { value: "paper" }, t("face.method.paper")),
  );
  const problem = h("p", { class: "error", role: "alert", hidden: true });
  const submit = h("button", { type: "submit", class: "primary" }, t(status.enrolled ? "face.enrol_again" : "face.enrol"));
  const form = h(
    "form",
    {
      novalidate: true,
      onsubmit: async (event) => {
        event.preventDefault();
        problem.hidden = true;
        const say = (text) => {
          problem.textContent = text;
          problem.hidden = false;
        };
        if (!photo.files[0]) return say(t("face.photo.missing"));
        if (!agreed.checked) return say(t("face.consent_missing"));
        submit.disabled = true;
        submit.textContent = t("face.enrolling");
        try {
          const body = {
            photo: await photoBase64(photo.files[0]),
            consent: { given: true, text_version: CONSENT_VERSION, method: method.value, given_at: new Date().toISOString() },
          };
          await api.enrolFace(id, body);
          banner("face.done", "ok");
          await reload();
        } catch (err) {
          submit.disabled = false;
          submit.textContent = t(status.enrolled ? "face.enrol_again" : "face.enrol");
          say(photoProblem(err));
        }
      },
    },
    h(
      "section",
      { class: "consent", "aria-labelledby": "consent-title" },
      h("h2", { id: "consent-title" }, t("face.consent_title")),
      h(
        "ul",
        {},
        ["what", "only", "kept", "never", "rights"].map((k) => h("li", {}, t(`face.consent.${k}`))),
      ),
      h("p", { class: "muted" }, t("face.consent_version", { version: CONSENT_VERSION })),
    ),
    field("face.photo", photo, { hint: "face.photo_hint" }),
    h("div", { class: "picker" }, pick, chosen),
    preview,
    field("face.method", method),
    h("label", { class: "check" }, agreed, h("span", {}, t("face.consent_agree", { name: driver.full_name }))),
    problem,
    submit,
  );

  const uses = status.uses;
  const record = uses.length
    ? h(
        "ol",
        { class: "uses" },
        uses.map((u) => h("li", {}, h("time", { datetime: u.at }, formatDateTime(u.at)), " ", useText(u.what))),
      )
    : h("p", { class: "empty" }, t("face.no_uses"));

  root.replaceChildren(
    h("p", {}, h("a", { href: "#/drivers" }, t("face.back"))),
    h("h1", {}, t("face.title")),
    h("p", { class: "name" }, `${driver.full_name} · ${driver.driver_id}`),
    state,
    h("h2", {}, t(status.enrolled ? "face.replace_title" : "face.enrol_title")),
    form,
    h("h2", {}, t("face.record_title")),
    h("p", { class: "muted" }, t("face.record_intro")),
    record,
  );
}
