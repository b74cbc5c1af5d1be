// The console's calls of the Smart Gate REST API (the client: ../shared/js/api.js). The officer's token is
// kept for this tab only (sessionStorage): consoles are shared.

import { call, keepSessionIn, startSession } from "../../shared/js/api.js";

export { ApiError, Offline, configure, gates, session, signOut } from "../../shared/js/api.js";

keepSessionIn(sessionStorage, "smartgate.console.session");

/** A fresh Idempotency-Key (8–128 characters of [A-Za-z0-9_.:-]). */
export const newKey = () => `console-${crypto.randomUUID()}`;

/** Sign in; whether the account is an officer's is the sign-in view's check (GET /officers/me, once). */
export const signIn = (username, password, newPassword) => startSession(username, password, newPassword);

const p = encodeURIComponent;
export const officer = () => call("GET", "/officers/me");
export const lanes = (gateId) => call("GET", `/gates/${p(gateId)}/lanes`);
export const queues = (gateId) => call("GET", `/gates/${p(gateId)}/queues`);
export const waits = (gateId, direction, hours) => call("GET", `/gates/${p(gateId)}/waits`, { query: { direction, hours } });
export const passage = (id) => call("GET", `/passages/${p(id)}`);
export const evidence = (id) => call("GET", `/passages/${p(id)}/evidence`);
export const audit = (id) => call("GET", `/passages/${p(id)}/audit`);
export const act = (id, body, key) => call("POST", `/passages/${p(id)}/actions`, { body, idempotent: key });
export const alerts = (gateId, cursor) => call("GET", "/alerts", { query: { gate_id: gateId, limit: 20, cursor } });
export const ack = (alertId) => call("POST", `/alerts/${p(alertId)}/ack`);
