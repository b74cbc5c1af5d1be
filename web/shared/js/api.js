// The client core of the Smart Gate REST API for every app: the user's token on every call, problem+json
// errors as ApiError naming their fields. Each app's js/api.js names its calls and where its session is kept.

let base = "";
let store = localStorage;
let TOKEN = "smartgate.session";

/** Where this app keeps its session: localStorage (a trader's phone) or sessionStorage (a shared console). */
export function keepSessionIn(storage, key) {
  store = storage;
  TOKEN = key;
}

export class ApiError extends Error {
  constructor(status, problem) {
    super(problem.detail || problem.message || `HTTP ${status}`);
    this.status = status;
    this.problem = problem;
    // field paths without the "body."/"query." prefix, as the forms name their inputs: goods.0.hs_code
    this.fields = (problem.errors || []).map((e) => ({ ...e, name: e.field.replace(/^(body|query|path)\./, "") }));
  }
}

export class Offline extends Error {}

/** The API's base from the app's config.json (deployed); offline on the first paint, or locally: the same origin. */
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
    const s = JSON.parse(store.getItem(TOKEN) || "null");
    return s && s.expires_at > Date.now() ? s : null;
  } catch {
    return null;
  }
}

export function signOut() {
  store.removeItem(TOKEN);
}

/** One call. `idempotent`: an Idempotency-Key (true: a fresh one); `raw`: the body as a blob. An answer the
 * service worker kept (X-Smartgate-Saved: 1) is marked `fromCache`. */
export async function call(method, path, { body, query, idempotent = false, raw = false } = {}) {
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

/** POST /sessions and keep the token; the app then asks who signed in. */
export async function startSession(username, password, newPassword) {
  const body = { username, password };
  if (newPassword) body.new_password = newPassword;
  const tokens = await call("POST", "/sessions", { body });
  store.setItem(
    TOKEN,
    JSON.stringify({ id_token: tokens.id_token, expires_at: Date.now() + (tokens.expires_in - 60) * 1000 }),
  );
}

export const gates = () => call("GET", "/gates");
