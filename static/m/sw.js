// Service worker of the courier app (scope /m/): keeps the app shell, Leaflet and the UI
// strings on the phone so the app opens with no network. The stations around the last
// positions are stored by the page in Cache Storage ("courier-stations-<dataset tag>"),
// which this worker leaves alone.
//   shell + strings: answered from the cache at once, refreshed from the network behind
//                    (stale-while-revalidate), so a new version shows on the next visit;
//   Leaflet:         cache first (versioned, immutable path);
//   other API calls: network only (the page falls back to its station cache).
const VERSION = "courier-shell-v1";
const SHELL = [
  "./",
  "app.css",
  "app.js",
  "core.js",
  "map.js",
  "manifest.webmanifest",
  "icons/icon-192.png",
  "icons/icon-512.png",
  "vendor/leaflet/1.9.3/leaflet.js",
  "vendor/leaflet/1.9.3/leaflet.css",
  "/api/v1/strings?lang=zh",
  "/api/v1/strings?lang=en",
];

self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(VERSION).then((c) => c.addAll(SHELL)).then(() => self.skipWaiting()));
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches
      .keys()
      .then((names) => Promise.all(names.filter((n) => n.startsWith("courier-shell-") && n !== VERSION).map((n) => caches.delete(n))))
      .then(() => self.clients.claim()),
  );
});

function staleWhileRevalidate(event, key) {
  return caches.open(VERSION).then((cache) =>
    cache.match(key).then((hit) => {
      const refresh = fetch(event.request)
        .then((res) => {
          if (res.ok) cache.put(key, res.clone());
          return res;
        })
        .catch(() => hit || Response.error());
      if (hit) {
        event.waitUntil(refresh.then(() => undefined));
        return hit;
      }
      return refresh;
    }),
  );
}

self.addEventListener("fetch", (event) => {
  const req = event.request;
  if (req.method !== "GET") return;
  const url = new URL(req.url);
  if (url.origin !== self.location.origin) return;
  const scope = new URL(self.registration.scope);
  if (req.mode === "navigate" && url.pathname.startsWith(scope.pathname)) {
    // every /m/?… page is the same shell; the query is read by app.js
    event.respondWith(staleWhileRevalidate(event, new URL("./", scope).href));
  } else if (url.pathname.startsWith(scope.pathname + "vendor/")) {
    event.respondWith(caches.match(req).then((hit) => hit || fetch(req)));
  } else if (url.pathname.startsWith(scope.pathname)) {
    event.respondWith(staleWhileRevalidate(event, url.origin + url.pathname));
  } else if (url.pathname === "/api/v1/strings") {
    event.respondWith(staleWhileRevalidate(event, req.url));
  }
});
