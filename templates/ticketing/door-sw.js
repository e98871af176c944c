// EventTix's door, offline: this service worker keeps the door pages and their scripts, so a
// phone that opened a check-in list online keeps scanning when the network goes. Served at
// /door/sw.js, so its scope is /door/. Scans themselves never go through it: the page keeps
// them (IndexedDB) and uploads them when it is back online.
const CACHE = "eventtix-door-{{ version }}";
const ASSETS = [{% for url in assets %}"{{ url|escapejs }}",{% endfor %}];

self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(CACHE).then((cache) => cache.addAll(ASSETS)));
  self.skipWaiting();
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches
      .keys()
      .then((keys) => Promise.all(keys.filter((key) => key !== CACHE).map((key) => caches.delete(key))))
      .then(() => self.clients.claim()),
  );
});

self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET") return; // check-ins go to the network; the page handles failures
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  // A door page: the list chooser or one list's scanning page (opened, or fetched by the page
  // itself once this worker controls it, so that its first visit is kept too).
  if (/^\/door\/(\d+\/)?$/.test(url.pathname)) {
    // The network first, so the page is fresh when it can be; this page's last copy otherwise.
    event.respondWith(
      fetch(request)
        .then((response) => {
          if (response.ok) {
            const copy = response.clone();
            caches.open(CACHE).then((cache) => cache.put(request, copy));
          }
          return response;
        })
        .catch(() => caches.match(request, { ignoreVary: true }).then((hit) => hit || Response.error())),
    );
    return;
  }
  if (ASSETS.includes(url.pathname)) {
    event.respondWith(caches.match(request, { ignoreVary: true }).then((hit) => hit || fetch(request)));
  }
});
