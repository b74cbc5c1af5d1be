// The console's client of the Smart Gate REST API: the officer's token on every call (kept for this tab
// only: consoles are shared), problem+json errors as ApiError naming their fields.

const TOKEN = "smartgate.console.session";
let base = "";

export class ApiError extends Error {
  constructor(status, problem) {
    super(problem.detail || problem.message || `HTTP ${status}`);
    this.status = status;
    this.problem = problem;
    // field paths without the "body."/"query." prefix, as the forms name their inputs: reason, plate
    this.fields = (problem.errors || []).map((e) => ({ ...e, name: e.field.replace(/^(body|query|path)\./, "") }));
  }
}

export class Offline extends Error {}

export async function configure() {
  try {
    const reply = await fetch("config.json", { cache: "no-cache" });
    if (reply.ok) base = ((await reply.json()).api_url || "").replace(/\/$/, "");
  } catch {
    /* the same origin, as locally */
  }
}

export function session() {
  try {
    const s = JSON.parse(sessionStorage.getItem(TOKEN) || "null");
    return s && s.expires_at > Date.now() ? s : null;
  } catch {
    return null;
  }
}

export function signOut() {
  sessionStorage.removeItem(TOKEN);
}

/** A fresh Idempotency-Key (8–128 characters of [A-Za-z0-9_.:-]). */
export const newKey = () => `console-${crypto.randomUUID()}`;

async function call(method, path, { body, query, key } = {}) {
  const url = new URL(base + path, location.href);
  for (const [k, v] of Object.entries(query || {})) if (v !== undefined && v !== null) url.searchParams.set(k, v);
  const headers = { Accept: "application/json" };
  const s = session();
  if (s) headers.Authorization = s.id_token;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (key) headers["Idempotency-Key"] = key;
  let reply;
  try {
    reply = await fetch(url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  } catch (err) {
    throw new Offline(String(err));
  }
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
  return reply.status === 204 ? null : reply.json();
}

export async function signIn(username, password, newPassword) {
  const body = { username, password };
  if (newPassword) body.new_password = newPassword;
  const tokens = await call("POST", "/sessions", { body });
  sessionStorage.setItem(
    TOKEN,
    JSON.stringify({ id_token: tokens.id_token, expires_at: Date.now() + (tokens.expires_in - 60) * 1000 }),
  );
  return officer();
}

const p = encodeURIComponent;
export const officer = () => call("GET", "/officers/me");
export const gates = () => call("GET", "/gates");
export const lanes = (gateId) => call("GET", `/gates/${p(gateId)}/lanes`);
export const queues = (gateId) => call("GET", `/gates/${p(gateId)}/queues`);
export const passage = (id) => call("GET", `/passages/${p(id)}`);
export const evidence = (id) => call("GET", `/passages/${p(id)}/evidence`);
export const audit = (id) => call("GET", `/passages/${p(id)}/audit`);
export const act = (id, body, key) => call("POST", `/passages/${p(id)}/actions`, { body, key });
export const alerts = (gateId, cursor) => call("GET", "/alerts", { query: { gate_id: gateId, limit: 20, cursor } });
export const ack = (alertId) => call("POST", `/alerts/${p(alertId)}/ack`);
