// The console's sign-in (../../../shared/js/signin.js): an account the gate's administrator created, which
// must be an officer's; the officer's language from their profile unless one was chosen on this device.

import * as api from "../api.js";
import { forget, loadOfficer } from "../duty.js";
import { chosenLanguage, setLanguage, t } from "../../../shared/js/i18n.js";
import { signInView as sharedSignIn } from "../../../shared/js/signin.js";

export const signInView = sharedSignIn({
  signIn: api.signIn,
  before: forget,
  async after() {
    let officer;
    try {
      officer = await loadOfficer(true);
    } catch (err) {
      api.signOut();
      throw err.status === 403 ? Object.assign(new Error("not an officer"), { notOfficer: true }) : err;
    }
    if (!chosenLanguage() && officer.locale) await setLanguage(officer.locale);
    return "#/gates";
  },
  refusal: (err) => (err.notOfficer ? t("signin.not_officer") : null),
});
