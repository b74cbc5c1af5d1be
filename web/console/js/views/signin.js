// Sign in with the account the gate's administrator created; a first sign-in sets a new password.

import * as api from "../api.js";
import { field, h, problemText, showFieldErrors } from "../dom.js";
import { forget, loadOfficer } from "../duty.js";
import { chosenLanguage, setLanguage, t } from "../i18n.js";

export function signInView(root, { go }) {
  const username = h("input", { name: "username", autocomplete: "username", required: true, autocapitalize: "none" });
  const password = h("input", { name: "password", type: "password", autocomplete: "current-password", required: true });
  const newPassword = h("input", { name: "new_password", type: "password", autocomplete: "new-password", minlength: 12 });
  const newBox = field("signin.new_password", newPassword, { hint: "signin.new_password_hint" });
  newBox.hidden = true;
  const message = h("p", { class: "error", role: "alert", hidden: true });
  const submit = h("button", { type: "submit", class: "primary" }, t("signin.submit"));
  const form = h(
    "form",
    { class: "card narrow", novalidate: true },
    h("h1", {}, t("signin.title")),
    h("p", { class: "lead" }, t("signin.lead")),
    field("signin.username", username),
    field("signin.password", password),
    newBox,
    message,
    submit,
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    message.hidden = true;
    submit.disabled = true;
    submit.textContent = t("signin.busy");
    try {
      forget();
      await api.signIn(username.value.trim(), password.value, newBox.hidden ? null : newPassword.value);
      let officer;
      try {
        officer = await loadOfficer(true);
      } catch (err) {
        api.signOut();
        throw err.status === 403 ? Object.assign(new Error("not an officer"), { notOfficer: true }) : err;
      }
      if (!chosenLanguage() && officer.locale) await setLanguage(officer.locale);
      go("#/gates");
    } catch (err) {
      const needsNew = err.fields?.some((f) => f.name === "new_password");
      if (needsNew && newBox.hidden) {
        newBox.hidden = false;
        newPassword.focus();
        message.textContent = t("signin.choose_password");
      } else if (err.notOfficer) {
        message.textContent = t("signin.not_officer");
      } else if (err.status === 401 || err.fields?.some((f) => f.name === "password")) {
        message.textContent = t("signin.wrong");
      } else {
        message.textContent = problemText(err);
      }
      showFieldErrors(form, (err.fields || []).filter((f) => f.name === "new_password"));
      message.hidden = false;
    } finally {
      submit.disabled = false;
      submit.textContent = t("signin.submit");
    }
  });
  root.append(form);
  username.focus();
}
