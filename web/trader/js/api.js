// The trader app's calls of the Smart Gate REST API (the client: ../shared/js/api.js). The session is kept on
// this device (localStorage): a trader's phone is their own.

import { call, keepSessionIn, startSession } from "../../shared/js/api.js";

export { ApiError, Offline, configure, gates, session, signOut } from "../../shared/js/api.js";

keepSessionIn(localStorage, "smartgate.session");

export async function signIn(username, password, newPassword) {
  await startSession(username, password, newPassword);
  return me();
}

export const me = () => call("GET", "/me");
export const drivers = () => call("GET", "/drivers", { query: { limit: 100 } });
export const driver = (id) => call("GET", `/drivers/${encodeURIComponent(id)}`);
export const faceStatus = (id) => call("GET", `/drivers/${encodeURIComponent(id)}/face`);
export const enrolFace = (id, body) =>
  call("PUT", `/drivers/${encodeURIComponent(id)}/face`, { body, idempotent: true });
export const withdrawFace = (id) => call("DELETE", `/drivers/${encodeURIComponent(id)}/face`);
export const addDriver = (driver) => call("POST", "/drivers", { body: driver, idempotent: true });
export const checkDeclaration = (body) => call("POST", "/consignments/check", { body });
export const declare = (body, key) => call("POST", "/consignments", { body, idempotent: key });
export const consignments = (cursor) => call("GET", "/consignments", { query: { limit: 50, cursor } });
export const consignment = (id) => call("GET", `/consignments/${encodeURIComponent(id)}`);
export const slots = (gateId, direction, date) =>
  call("GET", "/slots", { query: { gate_id: gateId, direction, date } });
export const waits = (gateId, direction, hours) =>
  call("GET", `/gates/${encodeURIComponent(gateId)}/waits`, { query: { direction, hours } });
export const book = (consignmentId, windowStart, key) =>
  call("POST", "/bookings", { body: { consignment_id: consignmentId, window_start: windowStart }, idempotent: key });
export const bookings = (cursor) => call("GET", "/bookings", { query: { limit: 50, cursor } });
export const booking = (id) => call("GET", `/bookings/${encodeURIComponent(id)}`);
export const reschedule = (id, windowStart) =>
  call("POST", `/bookings/${encodeURIComponent(id)}/reschedule`, { body: { window_start: windowStart } });
export const cancel = (id) => call("POST", `/bookings/${encodeURIComponent(id)}/cancel`);
export const pass = (id) => call("GET", `/bookings/${encodeURIComponent(id)}/pass`);
export const passImage = (id, kind) => call("GET", `/bookings/${encodeURIComponent(id)}/pass.${kind}`, { raw: true });
export const notifications = () => call("GET", "/notifications", { query: { limit: 50 } });
