/*
 * hallboard display client (docs/protocol.md). No framework, no build step.
 *
 * Dual-run: polling never stops (status first, adaptive between the server's
 * poll bounds, back to the minimum after a change); WebSocket push, when the
 * snapshot allows it, only makes changes arrive sooner. The last good snapshot
 * lives in localStorage and is shown at start when the server cannot be
 * reached. The screen always says how fresh its data is.
 *
 * Emergency alerts: shown at once when pushed, otherwise from the snapshot
 * (which is authoritative); every alert shown, and its end, is acknowledged
 * once (over the socket when the server's hello says it understands alert
 * acks, else POST /api/display/ack/), so the sender knows which screens
 * showed it.
 */
(function () {
  "use strict";

  var API = "/api/display/";
  var KEYS = {
    token: "hallboard.token",
    dk: "hallboard.dk",
    snapshot: "hallboard.snapshot",
    etag: "hallboard.etag",
    confirmed: "hallboard.confirmed",
    reloadedFor: "hallboard.reloadedFor"
  };
  var HEARTBEAT_MS = 30000;
  var SEVERITIES = ["extreme", "severe", "moderate", "minor"]; // most severe first
  var REQUEST_TIMEOUT_MS = 10000;
  var PAGE_MS = 8000; // how long each page of a long list is shown

  // --- words: the school's language (hallboard/i18n.js, docs/translations.md) ----
  // Every word on the screen comes from gettext; before the screen knows its school
  // (pairing), the browser's language. Dates and times are formatted for it too.
  var i18n = window.hallboardI18n.forLanguage(function () {
    return state.snap && state.snap.school && state.snap.school.language;
  });
  var gettext = i18n.gettext;
  var ngettext = i18n.ngettext;
  var interpolate = i18n.interpolate;
  function gettext_noop(msgid) { return msgid; } // marks a msgid translated where it is used

  var ALERT_KIND_LABEL = {
    lockdown: gettext_noop("Lockdown"),
    evacuation: gettext_noop("Evacuation"),
    fire: gettext_noop("Fire"),
    shelter: gettext_noop("Shelter in place"),
    weather: gettext_noop("Severe weather"),
    other: gettext_noop("Alert")
  };
  var SCHEMA = 2; // the snapshot schema this page renders (docs/protocol.md)

  // What to do when the server closes the socket: the server's policy
  // (hallboard/realtime/core/close_codes.py, docs/protocol.md "Close codes"), from the
  // snapshot's meta.close_codes, else from this page's own data (the same function
  // wrote both; the page's is there before any snapshot, and on an offline start).
  var PAGE_CLOSE_CODES = JSON.parse(document.getElementById("close-codes").textContent);

  var state = {
    token: null,
    dk: null,
    snap: null,
    etag: null,
    statusEtag: null,
    confirmedAt: 0,
    unreachable: false,
    pollDelay: 8,
    pollTimer: null,
    fetchTimer: null,
    validTimer: null,
    ws: null,
    wsAttempt: 0,
    pushRefused: null, // the credentials push was refused for for good (a "never" close code)
    wsTimer: null,
    wsOpen: false,
    halted: null, // "unpaired" or "bound": polling continues slowly, nothing is shown
    startedAt: Date.now(),
    errors: 0,
    overlayTimer: null,
    alert: null, // the alert on screen (its display payload), or null
    shownAlerts: {}, // id -> payload: alerts this screen showed whose end it has not acknowledged
    acks: {}, // "id:state" -> true once sent (or being sent)
    wsAlertAcks: false, // the socket's hello carried "alert": the server takes alert acks there
    alertPushes: 0, // alert messages pushed so far: a snapshot asked for before one is older
    heartbeatRev: null // the revision the last heartbeat reported
  };

  function $(id) { return document.getElementById(id); }

  function store(key, value) {
    try {
      if (value === null || value === undefined) localStorage.removeItem(key);
      else localStorage.setItem(key, value);
    } catch (e) { /* storage full or disabled: keep running from memory */ }
  }

  function load(key) {
    try { return localStorage.getItem(key); } catch (e) { return null; }
  }

  // The device key: the display URL's (?dk=…: a kiosk set up with a fixed one keeps its
  // binding even if its storage is lost, and its scripts can ask as the same device),
  // else the one this browser made on its first start.
  function deviceKey() {
    var valid = /^[A-Za-z0-9_-]{8,128}$/;
    var fromUrl = new URLSearchParams(location.search).get("dk");
    if (fromUrl && valid.test(fromUrl)) {
      if (fromUrl !== load(KEYS.dk)) store(KEYS.dk, fromUrl);
      return fromUrl;
    }
    var dk = load(KEYS.dk);
    if (!dk || !valid.test(dk)) {
      var bytes = new Uint8Array(16);
      crypto.getRandomValues(bytes);
      dk = "d";
      for (var i = 0; i < bytes.length; i++) dk += ("0" + bytes[i].toString(16)).slice(-2);
      store(KEYS.dk, dk);
    }
    return dk;
  }

  function escapeHtml(text) {
    return String(text == null ? "" : text).replace(/[&<>"']/g, function (c) {
      return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c];
    });
  }

  function meta() { return state.snap ? state.snap.meta : null; }
  function pollMin() { return (meta() && meta().poll_min_seconds) || 8; }
  function pollMax() { return (meta() && meta().poll_max_seconds) || 45; }
  function tz() { return state.snap ? state.snap.school.timezone : undefined; }

  function fmt(date, options) {
    try {
      return new Intl.DateTimeFormat(i18n.language(), Object.assign({ timeZone: tz() }, options)).format(date);
    } catch (e) {
      return new Intl.DateTimeFormat(i18n.language(), options).format(date);
    }
  }

  function hhmm(date) { return fmt(date, { hour: "2-digit", minute: "2-digit", hour12: false }); }

  // --- HTTP ------------------------------------------------------------------
  function request(path, options) {
    options = options || {};
    var headers = Object.assign(
      { "Authorization": "Bearer " + state.token, "X-Device-Key": state.dk },
      options.headers || {}
    );
    var controller = new AbortController();
    var timer = setTimeout(function () { controller.abort(); }, REQUEST_TIMEOUT_MS);
    return fetch(API + path, {
      method: options.method || "GET",
      headers: headers,
      body: options.body,
      cache: "no-store",
      signal: controller.signal
    }).finally(function () { clearTimeout(timer); });
  }

  // A refusal from the server: what to do about it. Returns seconds to wait, if any.
  function refused(response) {
    if (response.status === 401) { halt("unpaired"); return null; }
    if (response.status === 403) { halt("bound"); return null; }
    if (response.status === 429) {
      return parseInt(response.headers.get("Retry-After") || "5", 10) || 5;
    }
    state.errors++;
    return null;
  }

  // The server answered a poll or a snapshot request (200 or 304): the data shown is
  // current. Push is (re)connected from here, whatever the status: a screen started from
  // its cached snapshot only ever hears 304 until something changes, and must not stay on
  // polling (connectPush does nothing while a socket is open or waiting to retry, or when
  // push is off for the screen).
  function confirmed() {
    state.confirmedAt = Date.now();
    state.unreachable = false;
    store(KEYS.confirmed, String(state.confirmedAt));
    renderFreshness();
    connectPush();
  }

  function unreachable() {
    state.unreachable = true;
    state.errors++;
    renderFreshness();
  }

  function fetchSnapshot() {
    clearTimeout(state.fetchTimer);
    state.fetchTimer = null;
    var pushesBefore = state.alertPushes;
    var headers = state.etag && state.snap ? { "If-None-Match": state.etag } : {};
    return request("snapshot/", { headers: headers }).then(function (response) {
      if (response.status === 304) { confirmed(); return; }
      if (response.status !== 200) { refused(response); return; }
      var etag = response.headers.get("ETag");
      return response.json().then(function (snapshot) {
        if (snapshot.meta && snapshot.meta.schema > SCHEMA && load(KEYS.reloadedFor) !== String(snapshot.meta.schema)) {
          // The server speaks a newer schema than this page: load the newer page, once.
          store(KEYS.reloadedFor, String(snapshot.meta.schema));
          location.reload();
          return;
        }
        state.snap = snapshot;
        state.etag = etag;
        store(KEYS.snapshot, JSON.stringify(snapshot));
        store(KEYS.etag, etag);
        confirmed();
        // A snapshot asked for before an alert was pushed must not undo what the push showed
        // or ended; the fetch that push started brings the newer one.
        render(pushesBefore < state.alertPushes);
        // A new revision on screen: say so at once, so dashboards see it within a second.
        if (snapshot.meta.rev !== state.heartbeatRev) heartbeat();
        scheduleValidUntil();
        connectPush();
      });
    }).catch(unreachable);
  }

  // Push said something changed: fetch within half a second (spread a little,
  // so a whole school's screens do not ask in the same millisecond).
  function soon() {
    if (state.fetchTimer) return;
    state.fetchTimer = setTimeout(fetchSnapshot, 50 + Math.random() * 350);
  }

  function scheduleValidUntil() {
    clearTimeout(state.validTimer);
    var until = meta() && Date.parse(meta().valid_until);
    if (!until) return;
    var wait = Math.max(1000, until - Date.now() + 500);
    state.validTimer = setTimeout(fetchSnapshot, Math.min(wait, 6 * 3600 * 1000));
  }

  function schedulePoll(seconds) {
    clearTimeout(state.pollTimer);
    state.pollTimer = setTimeout(poll, seconds * 1000);
  }

  // Status first: the cheap request. Never stops, whatever happens.
  function poll() {
    var changed = false;
    var wait = null;
    var headers = state.statusEtag ? { "If-None-Match": state.statusEtag } : {};
    request("status/", { headers: headers }).then(function (response) {
      if (response.status === 304) { confirmed(); return; }
      if (response.status !== 200) { wait = refused(response); return; }
      state.statusEtag = response.headers.get("ETag");
      return response.json().then(function (status) {
        if (state.halted) { resume(); }
        var m = meta();
        if (!m || status.rev > m.rev || status.date !== m.date) {
          changed = true;
          return fetchSnapshot();
        }
        confirmed();
      });
    }).catch(unreachable).then(function () {
      var m = meta();
      if (m && m.valid_until && Date.now() >= Date.parse(m.valid_until)) {
        changed = true;
        return fetchSnapshot();
      }
    }).finally(function () {
      if (wait) { schedulePoll(wait); return; }
      if (state.halted) { schedulePoll(60); return; }
      state.pollDelay = changed ? pollMin() : Math.min(pollMax(), Math.max(pollMin(), state.pollDelay * 1.5));
      schedulePoll(state.pollDelay);
    });
  }

  // --- push ------------------------------------------------------------------
  // The credentials a refusal was for: a "never" code stops push until they change.
  function credentials() { return state.token + "\n" + state.dk; }

  function connectPush() {
    var m = meta();
    if (!m || !m.ws_enabled || !m.ws_url || !window.WebSocket || state.halted) return;
    if (state.ws || state.wsTimer) return;
    if (state.pushRefused !== null && state.pushRefused === credentials()) return;
    var url = m.ws_url + "?token=" + encodeURIComponent(state.token) + "&dk=" + encodeURIComponent(state.dk);
    var ws;
    try { ws = new WebSocket(url); } catch (e) { retryPush(1006); return; }
    state.ws = ws;
    ws.onopen = function () { state.wsAttempt = 0; state.wsOpen = true; renderFreshness(); };
    ws.onmessage = function (event) {
      var message;
      try { message = JSON.parse(event.data); } catch (e) { return; }
      onPush(message);
    };
    ws.onclose = function (event) {
      state.ws = null;
      state.wsOpen = false;
      state.wsAlertAcks = false;
      renderFreshness();
      retryPush(event.code);
    };
  }

  function onPush(message) {
    var m = meta();
    if (message.type === "hello" && "alert" in message) {
      // This server sends alerts in the hello and takes alert acks on the socket.
      state.wsAlertAcks = true;
      if (message.alert) pushedAlert(message.alert);
      else if (state.alert) soon(); // we show one it no longer has: confirm by snapshot
    }
    if (message.type === "hello" || message.type === "invalidate") {
      if (!m || message.rev > m.rev) soon();
      else confirmed(); // the server says our revision is current
    } else if (message.type === "alert") {
      // What ended first, then what to show now (an all-clear of one alert may leave
      // another active: the server sends both in one message).
      if (message.cleared !== undefined && message.cleared !== null) pushedEnd(message.cleared);
      if (message.alert) pushedAlert(message.alert);
      fetchSnapshot(); // never delayed; the snapshot is authoritative
    } else if (message.type === "command") {
      runCommand(message);
    }
  }

  function closePolicy() {
    var m = meta();
    return (m && m.close_codes) || PAGE_CLOSE_CODES;
  }

  function between(bounds) {
    return (bounds[0] + Math.random() * (bounds[1] - bounds[0])) * 1000;
  }

  // Close codes, by the server's policy: "never" reconnects with these credentials (and
  // shows the screen state the code names, as its HTTP twin would), "slow" while push is
  // off, "jitter" when the server goes away, else "backoff" (exponential, full jitter).
  function retryPush(code) {
    var policy = closePolicy();
    var rule = policy.codes[String(code)] || { retry: policy["default"] };
    if (rule.retry === "never") {
      if (rule.halt) { halt(rule.halt); return; }
      state.pushRefused = credentials(); // polling goes on and reports the problem
      return;
    }
    var delay;
    if (rule.retry === "slow") {
      delay = between(policy.slow_seconds);
    } else if (rule.retry === "jitter") {
      state.wsAttempt = 0;
      delay = between(policy.jitter_seconds);
    } else {
      state.wsAttempt++;
      var low = policy.backoff_seconds[0];
      var cap = Math.min(policy.backoff_seconds[1], low * Math.pow(2, state.wsAttempt));
      delay = between([low, cap]); // full jitter, never below the lower bound
    }
    clearTimeout(state.wsTimer);
    state.wsTimer = setTimeout(function () { state.wsTimer = null; connectPush(); }, delay);
  }

  function sendPush(message) {
    if (state.ws && state.wsOpen) {
      try { state.ws.send(JSON.stringify(message)); return true; } catch (e) { return false; }
    }
    return false;
  }

  function runCommand(command) {
    var ack = function () { sendPush({ type: "ack", id: command.id }); };
    if (command.name === "reload") {
      ack();
      setTimeout(function () { location.reload(); }, 300);
    } else if (command.name === "identify") {
      showOverlay("identify", state.snap ? state.snap.screen.name : "", command.seconds || 10);
      ack();
    } else if (command.name === "message") {
      showOverlay("message", command.text || "", command.seconds || 10);
      ack();
    }
  }

  function showOverlay(kind, text, seconds) {
    var overlay = $("overlay");
    overlay.className = "overlay " + kind;
    $("overlay-text").textContent = text;
    overlay.hidden = false;
    clearTimeout(state.overlayTimer);
    state.overlayTimer = setTimeout(function () { overlay.hidden = true; }, seconds * 1000);
  }

  // --- heartbeat ---------------------------------------------------------------
  function health() {
    var figures = {
      viewport: window.innerWidth + "x" + window.innerHeight,
      errors: state.errors,
      online: navigator.onLine
    };
    if (performance && performance.memory) {
      figures.js_heap_mb = Math.round(performance.memory.usedJSHeapSize / 1048576);
    }
    if (navigator.deviceMemory) figures.device_memory_gb = navigator.deviceMemory;
    if (navigator.connection && navigator.connection.effectiveType) {
      figures.network = navigator.connection.effectiveType;
    }
    return fitHealth(Object.assign(figures, kioskHealth()));
  }

  function heartbeat() {
    if (!state.token || state.halted) return;
    state.heartbeatRev = meta() ? meta().rev : null;
    var body = {
      rev: meta() ? meta().rev : null,
      mode: state.wsOpen ? "ws" : "poll",
      uptime_s: Math.round((Date.now() - state.startedAt) / 1000),
      health: health()
    };
    if (sendPush(Object.assign({ type: "heartbeat" }, body))) return;
    request("heartbeat/", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body)
    }).catch(function () { state.errors++; });
  }

  // --- rendering ---------------------------------------------------------------
  function localMinutes(date) {
    var parts = fmt(date, { hour: "2-digit", minute: "2-digit", hour12: false }).split(":");
    return parseInt(parts[0], 10) % 24 * 60 + parseInt(parts[1], 10);
  }

  function toMinutes(hm) {
    var parts = hm.split(":");
    return parseInt(parts[0], 10) * 60 + parseInt(parts[1], 10);
  }

  function currentAndNext(periods, now) {
    var minutes = localMinutes(now);
    var current = null;
    var next = null;
    for (var i = 0; i < periods.length; i++) {
      var p = periods[i];
      if (toMinutes(p.start) <= minutes && minutes < toMinutes(p.end)) current = p;
      else if (toMinutes(p.start) > minutes && !next) next = p;
    }
    return { current: current, next: next };
  }

  function periodLabel(p) {
    return /^\d+$/.test(p.label) ? interpolate(gettext("Period %(number)s"), { number: p.label }) : p.label;
  }

  function renderNowNext(now) {
    var snap = state.snap;
    var box = $("now-next");
    // No periods to count on a day without school (the closure message says so).
    if (!snap || (snap.day && !snap.day.school_day)) { box.innerHTML = ""; return; }
    var cn = currentAndNext(snap.periods, now);
    var html = "";
    if (cn.current) {
      html += '<div class="slot now"><span class="tag">' + escapeHtml(gettext("Now")) + "</span><b>" + escapeHtml(periodLabel(cn.current)) +
        "</b> " + escapeHtml(cn.current.start) + "–" + escapeHtml(cn.current.end) + "</div>";
    }
    if (cn.next) {
      html += '<div class="slot next"><span class="tag">' + escapeHtml(gettext("Next")) + "</span><b>" + escapeHtml(periodLabel(cn.next)) +
        "</b> " + escapeHtml(cn.next.start) + "–" + escapeHtml(cn.next.end) + "</div>";
    }
    if (!html) html = '<div class="slot">' + escapeHtml(gettext("No more lessons today")) + "</div>";
    box.innerHTML = html;
  }

  // --- the day: rendered by day.js from the server's effective timetable -------------
  // Words come from the translation functions when the page has them (hallboard/i18n.js).
  function identity(text) { return text; }
  function fill(format, values) {
    return String(format).replace(/%\((\w+)\)s/g, function (m, name) { return values[name] == null ? "" : values[name]; });
  }
  var day = window.hallboardDay({
    gettext: typeof gettext === "function" ? gettext : identity,
    interpolate: typeof interpolate === "function" ? interpolate : fill,
    // A calendar date ("2026-11-30") in words; dates have no time zone, so UTC formats them.
    date: function (iso, options) {
      var date = new Date(iso + "T12:00:00Z");
      try {
        return new Intl.DateTimeFormat(pageLanguage(), Object.assign({ timeZone: "UTC" }, options)).format(date);
      } catch (e) { return iso; }
    },
    minutes: function (now) { return localMinutes(now); },
    periodLabel: function (p) { return periodLabel(p); }
  });

  function pageLanguage() {
    return document.documentElement.lang || undefined;
  }

  // A long name is set smaller until it fits its line (down to 60 %), never wrapped.
  function fitOneLine(el) {
    el.style.fontSize = "";
    var size = parseFloat(getComputedStyle(el).fontSize);
    var smallest = size * 0.6;
    while (el.scrollWidth > el.clientWidth && size > smallest) {
      size *= 0.95;
      el.style.fontSize = size + "px";
    }
  }

  function renderDay(snap, now) {
    var head = day.headline(snap);
    $("week").textContent = head.week;
    $("week").hidden = !head.week;
    $("closure").innerHTML = head.closure;
    $("closure").hidden = !head.closure;
    var changes = day.changes(snap, now);
    $("subs").innerHTML = changes.html;
    var table = day.timetable(snap, now);
    $("lessons-title").textContent = table.title;
    $("lessons").innerHTML = table.html;
    // A column with nothing to show gives its room to the others.
    var panels = $("panels");
    panels.classList.toggle("subs-empty", changes.empty);
    panels.classList.toggle("lessons-empty", !table.html);
    panels.classList.toggle("news-empty", !snap.announcements.length);
  }

  function renderNews(snap) {
    if (!snap.announcements.length) return '<p class="empty">' + escapeHtml(gettext("No announcements.")) + "</p>";
    return snap.announcements.map(function (a) {
      return '<article class="news-item priority-' + escapeHtml(a.priority) + '"><h3>' + escapeHtml(a.title) +
        "</h3>" + (a.body ? "<p>" + escapeHtml(a.body) + "</p>" : "") + "</article>";
    }).join("");
  }

  // --- emergency alerts ----------------------------------------------------------
  function severityRank(alert) {
    var i = SEVERITIES.indexOf(alert.severity);
    return i < 0 ? SEVERITIES.length : i;
  }

  // The server's rule for which active alert a school shows: the most severe, then the
  // newest start, then the newest id. True when a would be shown rather than b.
  function outranks(a, b) {
    if (severityRank(a) !== severityRank(b)) return severityRank(a) < severityRank(b);
    var startA = Date.parse(a.starts_at) || 0;
    var startB = Date.parse(b.starts_at) || 0;
    if (startA !== startB) return startA > startB;
    return a.id > b.id;
  }

  function showAlert(alert) {
    var box = $("alert");
    box.className = "alert severity-" + alert.severity;
    $("alert-kind").textContent = gettext(ALERT_KIND_LABEL[alert.kind] || ALERT_KIND_LABEL.other);
    $("alert-headline").textContent = alert.headline;
    $("alert-instructions").textContent = alert.instructions || "";
    $("alert-since").textContent = interpolate(gettext("Since %(time)s"), { time: hhmm(new Date(alert.starts_at)) });
    box.hidden = false;
    document.body.classList.add("alerting");
    state.alert = alert;
    state.shownAlerts[alert.id] = alert;
    afterPaint(function () { ackAlert(alert.id, "shown"); });
  }

  function hideAlert() {
    $("alert").hidden = true;
    document.body.classList.remove("alerting");
    state.alert = null;
  }

  function alertEnded(id) {
    delete state.shownAlerts[id];
    ackAlert(id, "cleared");
  }

  // The snapshot decides: show its alert (or none), and acknowledge the end of every alert
  // this screen showed that can no longer be active. The snapshot holds the top active
  // alert, so one that outranks it has ended; one it outranks may still be active behind
  // it, and its end is acknowledged when a later snapshot shows that.
  function syncAlert(next) {
    if (next) showAlert(next);
    else if (state.alert) hideAlert();
    Object.keys(state.shownAlerts).forEach(function (id) {
      var shown = state.shownAlerts[id];
      if (next && shown.id === next.id) return;
      if (!next || outranks(shown, next)) alertEnded(shown.id);
    });
  }

  // Pushed: show at once unless a more severe alert is on screen (the same alert: update).
  function pushedAlert(alert) {
    state.alertPushes++;
    var current = state.alert;
    if (current && current.id !== alert.id && severityRank(current) < severityRank(alert)) return;
    showAlert(alert);
  }

  // Pushed: alert ``id`` ended (all-clear, cancel): off the screen at once.
  function pushedEnd(id) {
    state.alertPushes++;
    if (state.alert && state.alert.id === id) hideAlert();
    if (state.shownAlerts[id]) alertEnded(id);
  }

  function afterPaint(callback) {
    if (window.requestAnimationFrame) {
      requestAnimationFrame(function () { setTimeout(callback, 0); });
    } else {
      setTimeout(callback, 0);
    }
  }

  // Each (alert, state) once. Over the socket when the server takes alert acks there, else
  // over HTTP; a failed HTTP ack is retried until the server has it.
  function ackAlert(id, ackState) {
    var key = id + ":" + ackState;
    if (state.acks[key] || !state.token || state.halted) return;
    state.acks[key] = true;
    if (state.wsAlertAcks && sendPush({ type: "ack", alert: id, state: ackState })) return;
    var retry = function (seconds) {
      delete state.acks[key];
      setTimeout(function () { ackAlert(id, ackState); }, (seconds + Math.random() * 10) * 1000);
    };
    request("ack/", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ alert: id, state: ackState })
    }).then(function (response) {
      // 204 stored; 400/404: this screen cannot acknowledge it (wrong alert): nothing to retry.
      if (response.status === 204 || response.status === 400 || response.status === 404) return;
      var wait = refused(response);
      if (!state.halted) retry(wait || 5);
    }).catch(function () { state.errors++; retry(5); });
  }

  function render(keepAlert) {
    var snap = state.snap;
    if (!snap) return;
    var now = new Date();
    translatePage();
    document.body.classList.remove("booting");
    document.body.classList.toggle("portrait", snap.screen.orientation === "portrait");
    document.body.classList.toggle("landscape", snap.screen.orientation !== "portrait");
    $("school-name").textContent = snap.school.name;
    fitOneLine($("school-name"));
    $("screen-name").textContent = snap.screen.name;
    document.body.classList.toggle("large-text", !!snap.screen.large_text);
    renderDay(snap, now);
    state.dayPhase = dayPhase(now);
    $("news").innerHTML = renderNews(snap);
    if (!keepAlert) syncAlert(snap.alert);
    tick();
    resetPaging();
  }

  function renderFreshness() {
    if (!state.snap) return;
    var asOf = state.confirmedAt ? new Date(state.confirmedAt) : null;
    $("asof").textContent = asOf ? interpolate(gettext("As of %(time)s"), { time: hhmm(asOf) }) : gettext("Not yet confirmed");
    $("link").textContent = state.wsOpen ? "● " + gettext("live") : "○ " + gettext("polling");
    var staleAfter = (pollMax() + 15) * 1000;
    var stale = state.unreachable || !asOf || Date.now() - state.confirmedAt > staleAfter;
    var banner = $("stale");
    if (stale) {
      banner.textContent = asOf
        ? interpolate(gettext("Not updated since %(time)s — showing the last known information"), { time: hhmm(asOf) })
        : gettext("Cannot reach the server — showing the last known information");
      banner.hidden = false;
    } else {
      banner.hidden = true;
    }
    document.body.classList.toggle("is-stale", stale);
  }

  function tick() {
    var now = new Date();
    if (state.snap) {
      $("clock").textContent = hhmm(now);
      var date = fmt(now, { weekday: "long", day: "numeric", month: "long" });
      if ($("date").textContent !== date || $("date").dataset.fitted !== document.body.className) {
        $("date").textContent = date;
        fitOneLine($("date")); // "Donnerstag, 24. September" beside "Woche A" in portrait
        $("date").dataset.fitted = document.body.className;
      }
      renderNowNext(now);
      var phase = dayPhase(now);
      if (phase !== state.dayPhase) {
        state.dayPhase = phase;
        renderDay(state.snap, now);
        resetPaging();
      }
    }
    renderFreshness();
  }

  // Long lists page automatically: one screenful at a time, then back to the top. A page
  // starts at a whole item and shows only the items that fit whole (a row cut in half at
  // the bottom waits for the next page); a class's name moves with its first row, and the
  // grid's row of class names stays on every page.
  var paging = {};
  var UNITS = ".class-name, .sub-row, .day-head, .empty, .grid tr, .lesson-row, .news-item";

  function stickyHeight(el) {
    var head = el.querySelector(".grid tr:first-child");
    return head ? head.getBoundingClientRect().height : 0;
  }

  // Where each page begins (content offsets), measured from the items' boxes.
  function pageStarts(el) {
    var height = el.clientHeight;
    var origin = el.getBoundingClientRect().top - el.scrollTop;
    var sticky = stickyHeight(el);
    var units = el.querySelectorAll(UNITS);
    var starts = [0];
    var top = 0; // the content offset at the top of the page being laid out
    var heading = null; // a class name whose rows have not started yet
    for (var i = 0; i < units.length; i++) {
      var unit = units[i];
      if (sticky && unit.parentNode.firstElementChild === unit && unit.matches(".grid tr")) continue;
      var box = unit.getBoundingClientRect();
      var start = box.top - origin;
      var end = box.bottom - origin;
      var isHeading = unit.matches(".sub-class > .class-name");
      if (end - top > height + 0.5) {
        var next = heading !== null ? heading : start;
        if (next - (starts.length > 1 ? sticky : 0) > top + 0.5) {
          starts.push(next);
          top = next - sticky;
        }
      }
      heading = isHeading ? start : null;
    }
    // Room below the last item, so that every page can be scrolled to the top.
    el.style.paddingBottom = starts.length > 1 ? height + "px" : "";
    return starts;
  }

  // Show page n of a list: scroll to it and hide what does not fit whole.
  function showPage(el, starts, n) {
    var sticky = n > 0 ? stickyHeight(el) : 0;
    var top = starts[n] - sticky;
    var origin = el.getBoundingClientRect().top - el.scrollTop;
    var units = el.querySelectorAll(UNITS);
    var end = n + 1 < starts.length ? starts[n + 1] : Infinity; // where the next page begins
    for (var i = 0; i < units.length; i++) {
      var box = units[i].getBoundingClientRect();
      var beyond = starts.length > 1 && !(sticky && units[i].matches(".grid tr:first-child")) &&
        (box.bottom - origin > top + el.clientHeight + 0.5 || box.top - origin >= end - 0.5 ||
          box.top - origin < starts[n] - 0.5);
      units[i].classList.toggle("beyond", beyond);
    }
    el.scrollTop = top;
  }

  function resetPaging() {
    ["subs", "lessons", "news"].forEach(function (id) {
      var el = $(id);
      paging[id] = 0;
      el.style.scrollBehavior = "auto";
      el.scrollTop = 0;
      var starts = pageStarts(el);
      paging[id + "Pages"] = starts.length;
      showPage(el, starts, 0);
      el.style.scrollBehavior = "";
    });
    updatePageNumbers();
  }

  // The page being shown, counted (not read back from scrollTop, which lags while a
  // smooth scroll is still on its way).
  function updatePageNumbers() {
    var pages = paging.subsPages || 1;
    $("subs-page").textContent = pages > 1 ? ((paging.subs || 0) + 1) + "/" + pages : "";
  }

  function page() {
    ["subs", "lessons", "news"].forEach(function (id) {
      var el = $(id);
      var starts = pageStarts(el);
      paging[id + "Pages"] = starts.length;
      paging[id] = starts.length > 1 ? ((paging[id] || 0) + 1) % starts.length : 0;
      showPage(el, starts, paging[id]);
    });
    updatePageNumbers();
  }

  // Periods that have started or ended by now: when this changes, the day is drawn again
  // (past periods leave the list, the timetable moves on to the current period).
  function dayPhase(now) {
    if (!state.snap) return 0;
    var minutes = localMinutes(now);
    var phase = 0;
    state.snap.periods.forEach(function (p) {
      if (toMinutes(p.start) <= minutes) phase++;
      if (toMinutes(p.end) <= minutes) phase++;
    });
    return phase;
  }

  // --- halted states and pairing -------------------------------------------------
  function halt(reason) {
    if (state.halted === reason) return;
    state.halted = reason;
    if (state.ws) { try { state.ws.close(); } catch (e) { /* closing anyway */ } }
    if (reason === "unpaired") {
      store(KEYS.token, null);
      store(KEYS.snapshot, null);
      state.token = null;
      startPairing();
    } else {
      $("notice-text").textContent = gettext(
        "This screen is bound to another device. Ask your IT admin to reset its binding in hallboard.");
      $("notice").hidden = false;
    }
  }

  function resume() {
    state.halted = null;
    $("notice").hidden = true;
    connectPush();
  }

  var pairing = null;
  function startPairing() {
    clearTimeout(state.pollTimer);
    translatePage();
    $("board").hidden = true;
    $("pairing").hidden = false;
    fetch(API + "pair/", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ dk: state.dk }),
      cache: "no-store"
    }).then(function (response) {
      if (response.status === 429) {
        var wait = parseInt(response.headers.get("Retry-After") || "30", 10);
        setTimeout(startPairing, wait * 1000);
        return;
      }
      if (response.status !== 201) throw new Error("pairing refused");
      return response.json().then(function (p) {
        pairing = p;
        $("pairing-code").textContent = p.code.slice(0, 3) + " " + p.code.slice(3);
        $("pairing-qr").innerHTML = p.qr_svg;
        $("pairing-url").textContent = p.claim_url;
        pollPairing();
      });
    }).catch(function () { setTimeout(startPairing, 5000 + Math.random() * 5000); });
  }

  function pollPairing() {
    if (!pairing) return;
    var left = Math.max(0, Math.round((Date.parse(pairing.expires_at) - Date.now()) / 60000));
    $("pairing-expiry").textContent = interpolate(ngettext(
      "The code is valid for %(minutes)s more minute.",
      "The code is valid for %(minutes)s more minutes.", left), { minutes: left });
    fetch(API + "pair/" + pairing.code + "/", {
      headers: { "X-Pairing-Secret": pairing.secret },
      cache: "no-store"
    }).then(function (response) {
      if (response.status === 200) {
        return response.json().then(function (result) {
          if (result.status === "paired") { paired(result.token); return; }
          setTimeout(pollPairing, 3000);
        });
      }
      if (response.status === 429) { setTimeout(pollPairing, 5000); return; }
      pairing = null;
      startPairing(); // expired or gone: a new code
    }).catch(function () { setTimeout(pollPairing, 5000); });
  }

  function paired(token) {
    pairing = null;
    state.token = token;
    state.halted = null;
    store(KEYS.token, token);
    $("pairing").hidden = true;
    $("board").hidden = false;
    fetchSnapshot().then(function () { schedulePoll(pollMin()); });
  }

  // The page's own words, in the language of the moment (the school's, once known).
  function translatePage() {
    document.documentElement.lang = i18n.language();
    $("subs-title").textContent = gettext("Substitutions");
    $("news-title").textContent = gettext("Announcements");
    if (!$("lessons-title").textContent) $("lessons-title").textContent = gettext("Timetable");
    if (!state.snap) $("asof").textContent = gettext("Waiting for data…");
    $("pairing-title").textContent = gettext("Pair this screen");
    // The menu path is set apart in bold: placed into the translated sentence, escaped.
    $("pairing-help").innerHTML = escapeHtml(gettext(
      "In the hallboard admin choose %(menu)s and enter this code, or scan the QR code."
    )).replace("%(menu)s", "<b>" + escapeHtml(gettext("Screens → Pair a display")) + "</b>");
  }

  // --- kiosk: offline start -------------------------------------------------------
  // A service worker (/display/sw.js) keeps the page, script and styles, so that a screen
  // rebooted while the server or the network is down still starts; the snapshot itself
  // stays in local storage. Both survive only in a persistent browser profile (never
  // incognito: docs/kiosk.md), and the browser is asked not to evict them.
  var SW_URL = "/display/sw.js";
  var SW_SCOPE = "/display/";
  var SW_UPDATE_MS = 3600 * 1000; // look for a new version of the shell this often
  var kiosk = {
    shell: "unsupported", // the service worker: unsupported, registering, active, failed
    persisted: null, // whether the browser keeps this site's storage under pressure
    updated: false // a new version of the shell took over: reload at a quiet moment
  };

  function offlineShell() {
    if (navigator.storage && navigator.storage.persist) {
      navigator.storage.persisted().then(function (already) {
        return already || navigator.storage.persist();
      }).then(function (granted) { kiosk.persisted = granted; }, function () { kiosk.persisted = false; });
    }
    // Service workers need a secure context: https, or the server on this machine.
    if (!("serviceWorker" in navigator)) return;
    var container = navigator.serviceWorker;
    var hadController = !!container.controller;
    kiosk.shell = hadController ? "active" : "registering";
    container.addEventListener("controllerchange", function () {
      kiosk.shell = "active";
      if (hadController) kiosk.updated = true; // not on the first install: that is no update
      hadController = true;
    });
    container.register(SW_URL, { scope: SW_SCOPE, updateViaCache: "none" }).then(function (registration) {
      setInterval(function () { registration.update().catch(function () { /* offline: later */ }); }, SW_UPDATE_MS);
    }, function () { kiosk.shell = "failed"; });
  }

  // --- kiosk: watchdog --------------------------------------------------------------
  // A kiosk runs for days. The page measures itself (uptime, JS heap where the browser
  // exposes it, DOM nodes), reports that with every heartbeat along with a trend kept
  // across reloads, and reloads itself (bounds and times from meta.watchdog):
  //   - when a figure stays over its bound (at most once an hour, so that a bound set
  //     too low cannot make a reload loop);
  //   - once a night at the school's (or screen's) time, in the school's time zone, with
  //     jitter, if the page has been running since before that moment;
  //   - after a new version of the offline shell took over.
  // Only at a quiet moment: no alert on screen, and the server confirmed the data
  // lately (a reload then cannot leave the screen blank).
  var WATCHDOG = {
    strikes: 3, // checks in a row over a bound before it counts
    minUptimeChecks: 10, // a bound never reloads a page younger than this many checks
    boundGapMs: 3600 * 1000, // at most one reload for a bound per hour
    nightlyWindowMin: 240, // a nightly reload missed for this long waits for the next night
    trendPoints: 48,
    defaultCheckS: 60,
    defaultTrendS: 1800
  };
  var TREND_KEY = "hallboard.trend";
  var RELOAD_KEY = "hallboard.reload";
  var watch = {
    timer: null,
    strikes: 0,
    jitter: deviceJitter(), // this device's share of the configured jitter, kept across reloads
    lastReload: loadJson(RELOAD_KEY), // {reason, at, uptime_s}: the last reload the watchdog made
    trend: loadJson(TREND_KEY),
    nightlyAt: null // when tonight's reload is due (ms), for support
  };
  kiosk.watchdog = watch;
  state.kiosk = kiosk; // for support: window.hallboard.kiosk

  function loadJson(key) {
    try { return JSON.parse(load(key) || "null"); } catch (e) { return null; }
  }

  // A fraction in [0, 1) chosen once per device: the screens of a school spread their
  // nightly reloads over the jitter, each at its own time every night.
  function deviceJitter() {
    var jitter = parseFloat(load("hallboard.jitter"));
    if (!(jitter >= 0 && jitter < 1)) {
      jitter = Math.random();
      store("hallboard.jitter", String(jitter));
    }
    return jitter;
  }

  function watchdogConfig() { return (meta() && meta().watchdog) || {}; }

  function measure() {
    var figures = {
      uptime_s: Math.round((Date.now() - state.startedAt) / 1000),
      dom_nodes: document.getElementsByTagName("*").length,
      heap_mb: null
    };
    if (window.performance && performance.memory) {
      figures.heap_mb = Math.round(performance.memory.usedJSHeapSize / 1048576);
    }
    return figures;
  }

  // Which bound the figures pass, if any.
  function overBound(figures, config) {
    if (config.max_heap_mb && figures.heap_mb !== null && figures.heap_mb > config.max_heap_mb) return "heap";
    if (config.max_dom_nodes && figures.dom_nodes > config.max_dom_nodes) return "dom_nodes";
    if (config.max_uptime_hours && figures.uptime_s > config.max_uptime_hours * 3600) return "uptime";
    return null;
  }

  // Minutes since midnight of a moment on the school's wall clock.
  function schoolMinutes(date, zone) {
    var options = { hour: "2-digit", minute: "2-digit", hourCycle: "h23" };
    var parts;
    try {
      parts = new Intl.DateTimeFormat("en-GB", Object.assign({ timeZone: zone }, options)).formatToParts(date);
    } catch (e) {
      parts = new Intl.DateTimeFormat("en-GB", options).formatToParts(date);
    }
    var value = function (type) {
      return parseInt(parts.filter(function (p) { return p.type === type; })[0].value, 10);
    };
    return value("hour") % 24 * 60 + value("minute");
  }

  // The latest moment (ms, not after now) at which the nightly reload was due, or null.
  function lastNightlyMoment(now, config, zone) {
    var at = /^(\d\d):(\d\d)$/.exec(config.nightly_reload_at || "");
    if (!at) return null;
    var jitter = Math.floor(watch.jitter * (config.nightly_jitter_minutes || 0));
    var target = (parseInt(at[1], 10) * 60 + parseInt(at[2], 10) + jitter) % 1440;
    var since = (schoolMinutes(now, zone) - target + 1440) % 1440;
    return now.getTime() - since * 60000 - now.getSeconds() * 1000 - now.getMilliseconds();
  }

  function quiet() {
    if (state.alert || state.unreachable || !state.confirmedAt) return false;
    return Date.now() - state.confirmedAt <= (pollMax() + 15) * 1000; // not stale
  }

  function watchdogReload(reason, figures) {
    watch.lastReload = { reason: reason, at: Date.now(), uptime_s: figures.uptime_s };
    store(RELOAD_KEY, JSON.stringify(watch.lastReload));
    location.reload();
  }

  function sampleTrend(figures, config) {
    var every = config.trend_seconds || WATCHDOG.defaultTrendS;
    var trend = watch.trend;
    if (!trend || !trend.heap_mb || trend.every_s !== every) {
      trend = { every_s: every, at: 0, heap_mb: [], dom_nodes: [], uptime_h: [] };
    }
    if (Date.now() - trend.at < every * 1000) return;
    trend.at = Date.now();
    trend.heap_mb.push(figures.heap_mb);
    trend.dom_nodes.push(figures.dom_nodes);
    trend.uptime_h.push(Math.round(figures.uptime_s / 360) / 10);
    ["heap_mb", "dom_nodes", "uptime_h"].forEach(function (k) { trend[k] = trend[k].slice(-WATCHDOG.trendPoints); });
    watch.trend = trend;
    store(TREND_KEY, JSON.stringify(trend));
  }

  function watchdogCheck() {
    var config = watchdogConfig();
    var checkS = config.check_seconds || WATCHDOG.defaultCheckS;
    watch.timer = setTimeout(watchdogCheck, checkS * 1000);
    var figures = measure();
    sampleTrend(figures, config);
    var bound = overBound(figures, config);
    watch.strikes = bound ? watch.strikes + 1 : 0;
    var now = new Date();
    var nightly = state.snap ? lastNightlyMoment(now, config, tz()) : null;
    watch.nightlyAt = nightly;
    if (!quiet()) return;
    if (kiosk.updated) { watchdogReload("update", figures); return; }
    var last = watch.lastReload;
    var sinceNightly = nightly === null ? Infinity : now.getTime() - nightly;
    var reloadedTonight = last && last.reason === "nightly" && now.getTime() - last.at < 12 * 3600 * 1000;
    if (state.startedAt < nightly && sinceNightly < WATCHDOG.nightlyWindowMin * 60000 && !reloadedTonight) {
      watchdogReload("nightly", figures);
      return;
    }
    var recentBoundReload = last && last.reason !== "nightly" && last.reason !== "update" &&
      Date.now() - last.at < WATCHDOG.boundGapMs;
    if (bound && watch.strikes >= WATCHDOG.strikes && !recentBoundReload &&
        figures.uptime_s >= WATCHDOG.minUptimeChecks * checkS) {
      watchdogReload(bound, figures);
    }
  }

  // What the heartbeat's health carries from the kiosk part.
  function kioskHealth() {
    var figures = measure();
    var out = {
      dom_nodes: figures.dom_nodes,
      offline_shell: kiosk.shell,
      storage_persisted: kiosk.persisted
    };
    if (watch.lastReload) {
      out.last_reload = {
        reason: watch.lastReload.reason,
        at: new Date(watch.lastReload.at).toISOString(),
        uptime_s: watch.lastReload.uptime_s
      };
    }
    var trend = watch.trend;
    if (trend && trend.at && Array.isArray(trend.heap_mb)) {
      var last = function (values) {
        return (Array.isArray(values) ? values : []).slice(-WATCHDOG.trendPoints).map(function (v) {
          return typeof v === "number" && isFinite(v) ? v : null;
        });
      };
      out.trend = {
        every_s: trend.every_s,
        at: new Date(trend.at).toISOString(),
        heap_mb: last(trend.heap_mb),
        dom_nodes: last(trend.dom_nodes),
        uptime_h: last(trend.uptime_h)
      };
    }
    return out;
  }

  // A heartbeat over the server's size limit would be refused whole, and the screen
  // reported offline: the trend, then the last reload, give way first.
  var CLIENT_INFO_MAX_BYTES = 2048; // hallboard.realtime.core.validation.MAX_CLIENT_INFO_BYTES
  function fitHealth(figures) {
    var size = function () {
      return new Blob([JSON.stringify({ uptime_s: 1e9, health: figures })]).size * 1.1; // margin: spaces
    };
    if (size() > CLIENT_INFO_MAX_BYTES) delete figures.trend;
    if (size() > CLIENT_INFO_MAX_BYTES) delete figures.last_reload;
    return figures;
  }

  // --- start ---------------------------------------------------------------------
  function boot() {
    translatePage();
    state.dk = deviceKey();
    var fromUrl = new URLSearchParams(location.search).get("token");
    if (fromUrl && fromUrl !== load(KEYS.token)) {
      store(KEYS.token, fromUrl);
      store(KEYS.snapshot, null); // another screen's data must not show
    }
    state.token = fromUrl || load(KEYS.token);
    setInterval(tick, 1000);
    setInterval(page, PAGE_MS);
    setInterval(heartbeat, HEARTBEAT_MS);
    offlineShell();
    watch.timer = setTimeout(watchdogCheck, 1000);
    if (!state.token) { startPairing(); return; }
    var cached = load(KEYS.snapshot);
    if (cached) {
      try {
        state.snap = JSON.parse(cached);
        if (!state.snap || !state.snap.meta || state.snap.meta.schema !== SCHEMA) throw new Error("schema");
        state.etag = load(KEYS.etag);
        state.confirmedAt = parseInt(load(KEYS.confirmed) || "0", 10);
        render();
      } catch (e) { state.snap = null; }
    }
    fetchSnapshot().then(function () {
      schedulePoll(pollMin());
      // Shown from the cache and confirmed unchanged (304): report it all the same.
      if (state.heartbeatRev === null) setTimeout(heartbeat, 2000);
    });
  }

  window.hallboard = state; // for support: inspect the display's state in the console
  boot();
})();
