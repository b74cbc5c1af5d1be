// Offline copy of the app and of the passes: drivers wait where the signal is poor.
// The app shell: network first (always the newest when online), the cached copy when not.
// A booking, its pass and its QR image: network first as well, and the last good answer is kept;
// offline (or signed out) the kept copy is answered, marked X-Smartgate-Saved: 1 so the page says so.
// The shell includes what the page imports from ../shared/ (outside this worker's scope, same origin).

const SHELL = "smartgate-trader-shell-v3"; // v3: the drivers' face check; v2: the generic modules moved to ../shared/
const PASSES = "smartgate-trader-passes-v1";
const FILES = [
  "./",
  "index.html",
  "styles.css",
  "manifest.webmanifest",
  "icon.svg",
  "config.json",
  "js/app.js",
  "js/api.js",
  "js/gates.js",
  "js/views/booking.js",
  "js/views/bookings.js",
  "js/views/declare.js",
  "js/views/drivers.js",
  "js/views/notifications.js",
  "js/views/slots.js",
  "i18n/vi.json",
  "i18n/zh.json",
  "i18n/en.json",
  "../shared/base.css",
  "../shared/js/api.js",
  "../shared/js/dom.js",
  "../shared/js/i18n.js",
  "../shared/js/router.js",
  "../shared/js/signin.js",
];
const SHELL_PATHS = [new URL("./", self.location).pathname, new URL("../shared/", self.location).pathname];
const KEPT = /\/bookings\/[^/]+(\/pass(\.svg|\.png)?)?$|\/gates$/;

self.addEventListener("install", (event) => {
  event.waitUntil(
    caches
      .open(SHELL)
      .then((cache) => cache.addAll(FILES))
      .then(() => self.skipWaiting()),
  );
});

self.addEventListener("activate", (event) => {
  const current = new Set([SHELL, PASSES]);
  event.waitUntil(
    caches
      .keys()
      .then((names) => Promise.all(names.filter((n) => !current.has(n)).map((n) => caches.delete(n))))
      .then(() => self.clients.claim()),
  );
});

async function saved(cached) {
  const headers = new Headers(cached.headers);
  headers.set("X-Smartgate-Saved", "1");
  return new Response(await cached.blob(), { status: cached.status, statusText: cached.statusText, headers });
}

async function networkFirst(request, cacheName, { fallBackOn401 = false } = {}) {
  const cache = await caches.open(cacheName);
  try {
    const reply = await fetch(request);
    if (reply.ok) {
      await cache.put(request, reply.clone());
      return reply;
    }
    if (fallBackOn401 && reply.status === 401) {
      const cached = await cache.match(request);
      if (cached) return saved(cached);
    }
    return reply;
  } catch (err) {
    const cached = await cache.match(request, { ignoreSearch: cacheName === SHELL });
    if (cached) return cacheName === SHELL ? cached : saved(cached);
    throw err;
  }
}

self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET") return;
  const url = new URL(request.url);
  if (KEPT.test(url.pathname)) {
    event.respondWith(networkFirst(request, PASSES, { fallBackOn401: true }));
  } else if (url.origin === self.location.origin && SHELL_PATHS.some((p) => url.pathname.startsWith(p))) {
    event.respondWith(networkFirst(request, SHELL));
  }
});
