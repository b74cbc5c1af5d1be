// The trader app: its views on the shared frame (../shared/js/router.js), the service worker.

import * as api from "./api.js";
import { startApp } from "../../shared/js/router.js";
import { signInView } from "../../shared/js/signin.js";
import { bookingView } from "./views/booking.js";
import { bookingsView } from "./views/bookings.js";
import { declareView } from "./views/declare.js";
import { driversView, faceView } from "./views/drivers.js";
import { notificationsView } from "./views/notifications.js";
import { slotsView } from "./views/slots.js";

startApp({
  routes: [
    [/^#\/sign-in$/, signInView({ signIn: api.signIn, after: () => "#/bookings" }), false],
    [/^#\/bookings$/, bookingsView, true],
    [/^#\/declare$/, declareView, true],
    [/^#\/slots\/([^/]+)$/, slotsView, true],
    [/^#\/slots\/([^/]+)\/move\/([^/]+)$/, slotsView, true],
    [/^#\/booking\/([^/]+)$/, bookingView, true],
    [/^#\/notifications$/, notificationsView, true],
    [/^#\/drivers$/, driversView, true],
    [/^#\/drivers\/([^/]+)\/face$/, faceView, true],
  ],
  home: "#/bookings",
  // a saved pass opens without a session (offline, token expired): the pass is what a driver needs at the gate
  redirect: (show, { needsSession, signedIn }) =>
    needsSession && !signedIn && show !== bookingView ? "#/sign-in" : null,
  languageKey: "smartgate.lang",
  keepFirstLanguage: true,
  serviceWorker: "sw.js",
});
