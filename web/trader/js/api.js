// The one client of the Smart Gate REST API: the user's token on every call, problem+json errors as ApiError.

const TOKEN = "smartgate.session";
let base = "";

export class ApiError extends Error {
  constructor(status, problem) {
    super(problem.detail || problem.message || `HTTP ${status}`);
    this.status = status;
    this.problem = problem;
    // field paths without the "body."/"query." prefix, as the form names its inputs: goods.0.hs_code
    this.fields = (problem.errors || []).map((e) => ({ ...e, name: e.field.replace(/^(body|query|path)\./, "") }));
  }
}

export class Offline extends Error {}

export async function configure() {
  try {
    const reply = await fetch("config.json", { cache: "no-cache" });
    if (reply.ok) base = ((await reply.json()).api_url || "").replace(/\/$/, "");
  } catch {
    /* offline on the first paint: the same origin, as locally */
  }
}

export function session() {
  try {
    const s = JSON.parse(localStorage.getItem(TOKEN) || "null");
    return s && s.expires_at > Date.now() ? s : null;
  } catch {
    return null;
  }
}

export function signOut() {
  localStorage.removeItem(TOKEN);
}

async function call(method, path, { body, query, idempotent = false, raw = false } = {}) {
  const url = new URL(base + path, location.href);
  for (const [k, v] of Object.entries(query || {})) if (v !== undefined && v !== null) url.searchParams.set(k, v);
  const headers = { Accept: raw ? "*/*" : "application/json" };
  const s = session();
  if (s) headers.Authorization = s.id_token;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (idempotent) headers["Idempotency-Key"] = idempotent === true ? crypto.randomUUID() : idempotent;
  let reply;
  try {
    reply = await fetch(url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  } catch (err) {
    throw new Offline(String(err));
  }
  const fromCache = reply.headers.get("X-Smartgate-Saved") === "1";
  if (!reply.ok) {
    let problem = {};
    try {
      problem = await reply.json();
    } catch {
      problem = { detail: reply.statusText };
    }
    if (reply.status === 401) signOut();
    throw new ApiError(reply.status, problem);
  }
  if (raw) return { blob: await reply.blob(), fromCache };
  const data = reply.status === 204 ? null : await reply.json();
  if (data && typeof data === "object" && fromCache) Object.defineProperty(data, "fromCache", { value: true });
  return data;
}

export async function signIn(username, password, newPassword) {
  const body = { username, password };
  if (newPassword) body.new_password = newPassword;
  const tokens = await call("POST", "/sessions", { body });
  localStorage.setItem(
    TOKEN,
    JSON.stringify({ id_token: tokens.id_token, expires_at: Date.now() + (tokens.expires_in - 60) * 1000 }),
  );
  return me();
}

export const me = () => call("GET", "/me");
export const gates = () => call("GET", "/gates");
export const drivers = () => call("GET", "/drivers", { query: { limit: 100 } });
export const addDriver = (driver) => call("POST", "/drivers", { body: driver, idempotent: true });
export const checkDeclaration = (body) => call("POST", "/consignments/check", { body });
export const declare = (body, key) => call("POST", "/consignments", { body, idempotent: key });
export const consignments = (cursor) => call("GET", "/consignments", { query: { limit: 50, cursor } });
export const consignment = (id) => call("GET", `/consignments/${encodeURIComponent(id)}`);
export const slots = (gateId, direction, date) =>
  call("GET", "/slots", { query: { gate_id: gateId, direction, date } });
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
