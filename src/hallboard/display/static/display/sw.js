/*
 * hallboard display service worker (docs/kiosk.md, docs/protocol.md "Offline start").
 *
 * Served as /display/sw.js (scope /display/) by hallboard.display.page, which puts
 * `var SHELL = {version, page, assets}` in front of this file: the display shell
 * (the page and the scripts and styles it loads) and a version derived from their
 * contents. A new version on the server makes this file differ byte for byte, so
 * the browser installs the new worker, which fetches the new shell and drops the
 * old caches.
 *
 * Only the shell is kept here: network first (so a running server always serves
 * the current files), the cached copy when the network fails, hangs or the server
 * answers 5xx. So a screen rebooted while the server or the network is down still
 * starts; display.js then shows the last snapshot from local storage with the stale
 * banner. The display API is never answered from a cache: a cached answer would
 * tell the page its data is current.
 */
/* global SHELL */
(function () {
  "use strict";

  var PREFIX = "hallboard-shell-";
  var CACHE = PREFIX + SHELL.version;
  var NETWORK_TIMEOUT_MS = 4000;

  self.addEventListener("install", function (event) {
    event.waitUntil(
      caches.open(CACHE).then(function (cache) {
        var urls = [SHELL.page].concat(SHELL.assets);
        return cache.addAll(urls.map(function (url) { return new Request(url, { cache: "reload" }); }));
      }).then(function () { return self.skipWaiting(); })
    );
  });

  self.addEventListener("activate", function (event) {
    event.waitUntil(
      caches.keys().then(function (keys) {
        return Promise.all(keys.filter(function (key) {
          return key.indexOf(PREFIX) === 0 && key !== CACHE;
        }).map(function (key) { return caches.delete(key); }));
      }).then(function () { return self.clients.claim(); })
    );
  });

  // The cache key of a shell request, or null for anything else. The page is one
  // entry whatever its query (?token=…&dk=…): its HTML is the same for every screen,
  // and no secret becomes a cache key.
  function shellKey(request) {
    if (request.method !== "GET") return null;
    var url = new URL(request.url);
    if (url.origin !== self.location.origin) return null;
    if (request.mode === "navigate") return url.pathname === SHELL.page ? SHELL.page : null;
    return SHELL.assets.indexOf(url.pathname) >= 0 ? url.pathname : null;
  }

  self.addEventListener("fetch", function (event) {
    var key = shellKey(event.request);
    if (key) event.respondWith(networkFirst(event.request, key));
    // Everything else (the display API, the socket, other pages) goes to the network as usual.
  });

  function networkFirst(request, key) {
    return caches.open(CACHE).then(function (cache) {
      return new Promise(function (resolve, reject) {
        var settled = false;
        var networkFailed = null;
        function finish(response) {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          resolve(response);
        }
        function fromCache(orElse) {
          return cache.match(key).then(function (hit) {
            if (hit) finish(hit);
            else orElse();
          });
        }
        // A server that does not answer in time: the cached copy now, if there is one.
        var timer = setTimeout(function () { fromCache(function () {}); }, NETWORK_TIMEOUT_MS);
        fetch(request).then(function (response) {
          if (response.ok && response.type === "basic" && !response.redirected) {
            cache.put(key, response.clone());
            finish(response);
          } else if (response.status >= 500) {
            // e.g. a proxy's 502 while the application is down: the shell still starts.
            fromCache(function () { finish(response); });
          } else {
            finish(response);
          }
        }, function (error) {
          networkFailed = error;
          fromCache(function () {
            if (!settled) { settled = true; clearTimeout(timer); reject(networkFailed); }
          });
        });
      });
    });
  }
})();
