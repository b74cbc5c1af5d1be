// Sign in with the user name and password an administrator gave; a first sign-in sets a new password.
// Every app's sign-in page, parameterised: what happens before and after, and the app's own refusals.

import { field, h, problemText, showFieldErrors } from "./dom.js";
import { t } from "./i18n.js";

/** The view for #/sign-in. `signIn(username, password, newPassword)`: the app's api.signIn; `before()`: forget the
 * last user; `after()`: what to do once signed in, returning where to go; `refusal(err)`: the app's words for a
 * refusal of its own, or null. */
export function signInView({ signIn, before = () => {}, after, refusal = () => null }) {
  return function show(root, { go }) {
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
        before();
        await signIn(username.value.trim(), password.value, newBox.hidden ? null : newPassword.value);
        go(await after());
      } catch (err) {
        const needsNew = err.fields?.some((f) => f.name === "new_password");
        const own = refusal(err);
        if (needsNew && newBox.hidden) {
          newBox.hidden = false;
          newPassword.focus();
          message.textContent = t("signin.choose_password");
        } else if (own) {
          message.textContent = own;
        } else if (err.status === 401 || err.fields?.some((f) => f.name === "password")) {
          message.textContent = t("signin.wrong");
        } else {
          message.textContent = problemText(err);
        }
        showFieldErrors(form, err.fields || [], new Set(["new_password"]));
        message.hidden = false;
      } finally {
        submit.disabled = false;
        submit.textContent = t("signin.submit");
      }
    });
    root.append(form);
    username.focus();
  };
}
