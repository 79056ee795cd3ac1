/*
 * hallboard live screens dashboard (docs/dashboard.md). No framework, no build step.
 *
 * The rows come from the management API (session auth), which computes each
 * screen's status and reason on the server (hallboard.screens.status): this
 * page never decides a status itself, it shows what the server says.
 *
 * Live: the page gets a ticket (GET /staff/ws-ticket/), opens the staff
 * socket on the gateway and, on each frame, re-reads the rows it concerns.
 * It reconnects with backoff and a fresh ticket, and re-reads every row every
 * refresh_s seconds, so purely time-based changes (a screen going offline when
 * its heartbeats stop) show even when no frame arrives.
 */
(function () {
  "use strict";

  var config = JSON.parse(document.getElementById("dashboard-config").textContent);
  var REQUEST_TIMEOUT_MS = 15000;
  var FLUSH_MS = 150;          // frames arriving together are read back together
  var SCHOOL_READ_AFTER = 5;   // more dirty rows than this in a school: read its whole list
  var PING_MS = 25000;         // app-level ping, to notice a dead socket
  var PONG_WAIT_MS = 10000;
  var COMMAND_ORDER = { pending: 0, expired: 0, delivered: 1, acknowledged: 2, hidden: 3 };

  // Words in the user's language (the page's lang; hallboard/i18n.js, docs/translations.md).
  var i18n = window.hallboardI18n.forLanguage(function () { return document.documentElement.lang; });
  var gettext = i18n.gettext;
  var ngettext = i18n.ngettext;
  var interpolate = i18n.interpolate;
  function gettext_noop(msgid) { return msgid; } // marks a msgid translated where it is used

  var COMMAND_LABEL = { reload: gettext_noop("Reload"), identify: gettext_noop("Identify"), message: gettext_noop("Message") };
  var STATUS_LABEL = { online: gettext_noop("online"), stale: gettext_noop("stale"), offline: gettext_noop("offline") };
  var COMMAND_STATUS_LABEL = {
    pending: gettext_noop("pending"),
    delivered: gettext_noop("delivered"),
    acknowledged: gettext_noop("acknowledged"),
    expired: gettext_noop("expired"),
    hidden: gettext_noop("hidden behind the alert")
  };
  function label(map, key) { return map[key] ? gettext(map[key]) : key; }
  // Every time is in its school's zone; where the page spans zones, each names its zone.
  var spansZones = !config.timezone;

  var state = {
    rows: {},          // screen id → the API's row
    els: {},           // screen id → <tr>
    schools: {},       // school id → {id, slug, name, timezone, revision}
    bySlug: {},        // slug → school id
    commandFrames: {}, // command id → {status, at} heard before the API answered
    filter: "all",
    ws: null,
    live: false,
    attempt: 0,
    reconnectTimer: null,
    pingTimer: null,
    pongTimer: null,
    dirty: {},         // school id → {screen id: true}
    flushTimer: null,
    loadedAt: 0,
    loading: null,
    frames: 0          // frames received (support and tests)
  };

  config.schools.forEach(function (school) {
    state.schools[school.id] = school;
    state.bySlug[school.slug] = school.id;
  });

  function $(id) { return document.getElementById(id); }

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  // --- formatting (display only: every decision comes from the server) ---------
  function fmtTime(iso, timezone) {
    if (!iso) return "";
    return fmtWith(new Date(iso), timezone, { hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false });
  }

  // A moment today as its time; another day with its date, short.
  function fmtDateTime(iso, timezone) {
    if (!iso) return "";
    var date = new Date(iso);
    var day = { year: "numeric", month: "2-digit", day: "2-digit" };
    var sameDay = fmtWith(date, timezone, day) === fmtWith(new Date(), timezone, day);
    var options = sameDay
      ? { hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false }
      : { day: "numeric", month: "short", hour: "2-digit", minute: "2-digit", hour12: false };
    return fmtWith(date, timezone, options);
  }

  function fmtWith(date, timezone, options) {
    var o = Object.assign({}, options);
    if (spansZones) o.timeZoneName = "short";
    try {
      return new Intl.DateTimeFormat(i18n.language(), Object.assign({ timeZone: timezone }, o)).format(date);
    } catch (e) {
      return new Intl.DateTimeFormat(i18n.language(), o).format(date);
    }
  }

  // "5 minutes ago", "vor 5 Minuten": the browser's words for the page's language.
  function ago(iso) {
    if (!iso) return gettext("never");
    var seconds = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
    var relative = new Intl.RelativeTimeFormat(i18n.language(), { numeric: "auto" });
    if (seconds < 5) return relative.format(0, "second");
    if (seconds < 90) return relative.format(-seconds, "second");
    var minutes = Math.round(seconds / 60);
    if (minutes < 90) return relative.format(-minutes, "minute");
    var hours = Math.round(minutes / 60);
    if (hours < 48) return relative.format(-hours, "hour");
    return relative.format(-Math.round(hours / 24), "day");
  }

  function duration(seconds) {
    if (seconds === null || seconds === undefined) return "";
    seconds = Math.round(seconds);
    if (seconds < 120) return interpolate(gettext("%(seconds)s s"), { seconds: seconds });
    var minutes = Math.floor(seconds / 60);
    if (minutes < 120) return interpolate(gettext("%(minutes)s min"), { minutes: minutes });
    var hours = Math.floor(minutes / 60);
    if (hours < 48) return interpolate(gettext("%(hours)s h %(minutes)s min"), { hours: hours, minutes: minutes % 60 });
    return interpolate(gettext("%(days)s d %(hours)s h"), { days: Math.floor(hours / 24), hours: hours % 24 });
  }

  // --- HTTP ------------------------------------------------------------------------
  function request(method, url, body) {
    var controller = new AbortController();
    var timer = setTimeout(function () { controller.abort(); }, REQUEST_TIMEOUT_MS);
    var headers = { "Accept": "application/json" };
    if (method !== "GET") {
      headers["Content-Type"] = "application/json";
      headers["X-CSRFToken"] = config.csrf;
    }
    return fetch(url, {
      method: method,
      headers: headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "same-origin",
      cache: "no-store",
      signal: controller.signal
    }).then(function (response) {
      if (response.status === 401) signedOut();
      if (response.status === 204) return { status: 204, data: null };
      return response.json().then(
        function (data) { return { status: response.status, data: data }; },
        function () { return { status: response.status, data: null }; }
      );
    }).finally(function () { clearTimeout(timer); });
  }

  function api(method, path, body) { return request(method, config.api + path, body); }

  function problem(result) {
    var data = result.data || {};
    if (Array.isArray(data.detail)) return data.detail.map(function (d) { return d.msg; }).join(" ");
    return data.detail || data.error || interpolate(gettext("HTTP %(status)s"), { status: result.status });
  }

  function signedOut() {
    showNotice(gettext("Your session has ended. Sign in again to keep this page current."), true);
  }

  function showNotice(text, withLogin) {
    var box = $("notice");
    box.textContent = text + " ";
    if (withLogin) {
      var link = el("a", null, gettext("Sign in"));
      link.href = "/admin/login/?next=" + encodeURIComponent(location.pathname);
      box.appendChild(link);
    }
    box.hidden = false;
  }

  function clearNotice() { $("notice").hidden = true; }

  var flashTimer = null;
  function flash(text, isError) {
    var box = $("flash");
    box.textContent = text;
    box.className = "flash" + (isError ? " error" : "");
    box.hidden = false;
    clearTimeout(flashTimer);
    flashTimer = setTimeout(function () { box.hidden = true; }, isError ? 12000 : 5000);
  }

  // --- reading rows ------------------------------------------------------------------
  function loadAll() {
    if (state.loading) return state.loading;
    state.loading = request("GET", config.list_url).then(function (result) {
      if (result.status !== 200) {
        if (result.status !== 401) flash(interpolate(gettext("Could not load the screens: %(problem)s"), { problem: problem(result) }), true);
        return;
      }
      clearNotice();
      replaceRows(result.data, null);
      state.loadedAt = Date.now();
      renderUpdated();
    }).catch(function () {
      flash(gettext("Could not reach hallboard; retrying."), true);
    }).finally(function () { state.loading = null; });
    return state.loading;
  }

  function loadSchool(schoolId) {
    var school = state.schools[schoolId];
    return api("GET", "schools/" + school.slug + "/screens").then(function (result) {
      if (result.status === 200) replaceRows(result.data, schoolId);
      else if (result.status === 403 || result.status === 404) replaceRows([], schoolId);
    }).catch(function () { /* the next refresh reads it again */ });
  }

  function loadRow(schoolId, screenId) {
    var school = state.schools[schoolId];
    if (!school) return Promise.resolve();
    return api("GET", "schools/" + school.slug + "/screens/" + screenId).then(function (result) {
      if (result.status === 200) upsert(result.data, true);
      else if (result.status === 404) removeRow(screenId);
    }).catch(function () { /* the next refresh reads it again */ });
  }

  // Rows of every school (schoolId null) or of one school, replaced by ``rows``.
  function replaceRows(rows, schoolId) {
    var seen = {};
    rows.forEach(function (row) {
      seen[row.id] = true;
      upsert(row, false);
    });
    Object.keys(state.rows).forEach(function (id) {
      var row = state.rows[id];
      if (seen[id]) return;
      if (schoolId === null || state.bySlug[row.school] === schoolId) removeRow(id);
    });
    renderSummary();
  }

  function markDirty(schoolId, screenId) {
    if (!state.schools[schoolId]) return;
    (state.dirty[schoolId] = state.dirty[schoolId] || {})[screenId] = true;
    if (!state.flushTimer) state.flushTimer = setTimeout(flush, FLUSH_MS);
  }

  function flush() {
    state.flushTimer = null;
    var dirty = state.dirty;
    state.dirty = {};
    Object.keys(dirty).forEach(function (schoolId) {
      var ids = Object.keys(dirty[schoolId]);
      if (ids.length > SCHOOL_READ_AFTER) { loadSchool(Number(schoolId)); return; }
      ids.forEach(function (id) { loadRow(Number(schoolId), Number(id)); });
    });
  }

  // --- frames ----------------------------------------------------------------------------
  function onFrame(frame) {
    state.frames++;
    if (frame.type === "hello") {
      state.live = true;
      state.attempt = 0;
      renderLink();
      loadAll(); // catch up with whatever happened while not connected
    } else if (frame.type === "pong") {
      clearTimeout(state.pongTimer);
    } else if (frame.type === "screen") {
      if (frame.event === "deleted") { removeRow(frame.screen); renderSummary(); }
      else markDirty(frame.school, frame.screen);
    } else if (frame.type === "revision") {
      onRevision(frame.school, frame.rev);
    } else if (frame.type === "command") {
      onCommandFrame(frame);
    }
  }

  function onRevision(schoolId, rev) {
    var school = state.schools[schoolId];
    if (!school || rev <= school.revision) return;
    school.revision = rev;
    Object.keys(state.rows).forEach(function (id) {
      var row = state.rows[id];
      if (state.bySlug[row.school] === schoolId && row.school_revision < rev) {
        row.school_revision = rev;
        render(row, false);
      }
    });
  }

  function newer(status, than) {
    return (COMMAND_ORDER[status] || 0) >= (COMMAND_ORDER[than] || 0);
  }

  function applyCommandFrame(command, frame) {
    if (!newer(frame.status, command.status)) return false;
    command.status = frame.status;
    if (frame.status === "delivered") command.delivered_at = frame.at;
    if (frame.status === "acknowledged") command.acknowledged_at = frame.at;
    return true;
  }

  function onCommandFrame(frame) {
    var known = state.commandFrames[frame.id];
    if (!known || newer(frame.status, known.status)) state.commandFrames[frame.id] = frame;
    var row = state.rows[frame.screen];
    if (!row) return;
    var command = row.last_command;
    if (command && command.id === frame.id) {
      // Over an emergency alert an identify or message is not seen: the server tells
      // (status "hidden"), so such a command's delivery is read back, not assumed.
      if (command.name !== "reload" && frame.status !== "pending" && command.status !== "hidden") {
        markDirty(frame.school, frame.screen);
        return;
      }
      if (applyCommandFrame(command, frame)) render(row, true);
    } else if (!command || frame.id > command.id) {
      markDirty(frame.school, frame.screen); // a command this page has not seen yet
    }
  }

  // A command the API just answered with: fold in frames that overtook the answer.
  function withFrames(command) {
    var frame = state.commandFrames[command.id];
    if (frame) applyCommandFrame(command, frame);
    return command;
  }

  // --- the staff socket --------------------------------------------------------------------
  function connect() {
    state.reconnectTimer = null;
    request("GET", config.ticket_url).then(function (result) {
      if (result.status !== 200) {
        if (result.status === 403) showNotice(gettext("You no longer look after these screens."), false);
        retry(null);
        return;
      }
      openSocket(result.data.url);
    }).catch(function () { retry(null); });
  }

  function openSocket(url) {
    var ws;
    try { ws = new WebSocket(url); } catch (e) { retry(null); return; }
    state.ws = ws;
    ws.onmessage = function (event) {
      var frame;
      try { frame = JSON.parse(event.data); } catch (e) { return; }
      if (frame && typeof frame === "object") onFrame(frame);
    };
    ws.onopen = function () { schedulePing(); };
    ws.onclose = function (event) {
      state.ws = null;
      state.live = false;
      clearTimeout(state.pingTimer);
      clearTimeout(state.pongTimer);
      renderLink();
      retry(event.code);
    };
  }

  function schedulePing() {
    clearTimeout(state.pingTimer);
    state.pingTimer = setTimeout(function () {
      var ws = state.ws;
      if (!ws || ws.readyState !== WebSocket.OPEN) return;
      try { ws.send('{"type":"ping"}'); } catch (e) { return; }
      state.pongTimer = setTimeout(function () { ws.close(); }, PONG_WAIT_MS);
      schedulePing();
    }, PING_MS);
  }

  // 1001 (the gateway restarts, or the ticket's 15 minutes are up): back soon, with
  // jitter. Anything else (4401 included: a fresh ticket is fetched each time):
  // exponential backoff with full jitter, 1 s to 30 s.
  function retry(code) {
    if (state.reconnectTimer) return;
    var delay;
    if (code === 1001) {
      delay = 300 + Math.random() * 1700;
    } else {
      state.attempt++;
      var cap = Math.min(30000, 1000 * Math.pow(2, state.attempt));
      delay = 1000 + Math.random() * (cap - 1000);
    }
    renderLink();
    state.reconnectTimer = setTimeout(connect, delay);
  }

  // --- rendering -----------------------------------------------------------------------------
  function renderLink() {
    var link = $("link");
    if (state.live) {
      link.className = "link live";
      link.textContent = gettext("Live");
      link.title = gettext("Updates arrive as they happen");
    } else {
      link.className = "link reconnecting";
      link.textContent = gettext("Reconnecting…");
      link.title = interpolate(gettext("Live updates are interrupted; the page still refreshes every %(seconds)s s"),
        { seconds: config.refresh_s });
    }
  }

  function renderUpdated() {
    if (!state.loadedAt) return;
    $("updated").textContent = interpolate(gettext("Checked %(time)s · refreshed every %(seconds)s s"), {
      time: fmtTime(new Date(state.loadedAt).toISOString(), config.timezone || undefined),
      seconds: config.refresh_s
    });
  }

  function schoolOf(row) { return state.schools[state.bySlug[row.school]] || {}; }

  function upsert(row, highlight) {
    var school = schoolOf(row);
    if (!school.id) return;
    if (row.last_command) withFrames(row.last_command);
    if (row.school_revision > school.revision) school.revision = row.school_revision;
    else if (row.school_revision < school.revision) row.school_revision = school.revision;
    var before = state.rows[row.id];
    state.rows[row.id] = row;
    // Periodic re-reads mostly bring nothing new: leave those rows (and an open menu) alone.
    if (before && state.els[row.id] && JSON.stringify(before) === JSON.stringify(row)) return;
    render(row, highlight);
    if (highlight) renderSummary();
  }

  function removeRow(id) {
    var tr = state.els[id];
    if (tr && tr.parentNode) tr.parentNode.removeChild(tr);
    delete state.els[id];
    delete state.rows[id];
  }

  function render(row, highlight) {
    var school = schoolOf(row);
    var tbody = $("rows-" + school.id);
    var tr = state.els[row.id];
    var fresh = !tr;
    if (fresh) {
      tr = el("tr");
      tr.dataset.screen = row.id;
      state.els[row.id] = tr;
    }
    tr.dataset.status = row.status;
    var menuOpen = tr.querySelector("details.more[open]") !== null;
    while (tr.firstChild) tr.removeChild(tr.firstChild);
    tr.appendChild(screenCell(row));
    tr.appendChild(statusCell(row));
    tr.appendChild(connectionCell(row, school));
    tr.appendChild(revisionCell(row));
    tr.appendChild(clientCell(row, school));
    tr.appendChild(bindingCell(row, school));
    tr.appendChild(commandCell(row, school));
    tr.appendChild(actionsCell(row));
    if (menuOpen) tr.querySelector("details.more").open = true;
    if (fresh) insertSorted(tbody, tr, row);
    tr.hidden = state.filter !== "all" && row.status !== state.filter;
    if (highlight) {
      tr.classList.remove("flash-row");
      void tr.offsetWidth; // restart the animation
      tr.classList.add("flash-row");
    }
  }

  function insertSorted(tbody, tr, row) {
    var key = row.name.toLowerCase();
    var children = tbody.children;
    for (var i = 0; i < children.length; i++) {
      var other = state.rows[children[i].dataset.screen];
      if (other && (other.name.toLowerCase() > key || (other.name.toLowerCase() === key && other.id > row.id))) {
        tbody.insertBefore(tr, children[i]);
        return;
      }
    }
    tbody.appendChild(tr);
  }

  function screenCell(row) {
    var td = el("td", "col-screen");
    td.appendChild(el("div", "name", row.name));
    var details = [];
    if (row.location) details.push(row.location);
    details.push(row.view === "school" ? gettext("whole school") : row.view === "classes"
      ? interpolate(gettext("classes %(list)s"), { list: row.classes.join(", ") })
      : interpolate(gettext("grades %(list)s"), { list: row.grades.join(", ") }));
    if (row.orientation === "portrait") details.push(gettext("portrait"));
    td.appendChild(el("div", "sub", details.join(" · ")));
    return td;
  }

  function statusCell(row) {
    var td = el("td", "col-status");
    td.appendChild(el("span", "badge " + row.status, label(STATUS_LABEL, row.status)));
    td.appendChild(el("span", "reason", row.status_reason));
    return td;
  }

  function connectionCell(row, school) {
    var td = el("td", "col-connection");
    var mode = { ws: gettext("Push"), poll: gettext("Polling") }[row.connection_mode] || "—";
    td.appendChild(el("div", null, mode));
    var beatFormat = gettext("heartbeat %(ago)s");
    var beat = el("div", "sub", row.last_heartbeat_at
      ? interpolate(beatFormat, { ago: ago(row.last_heartbeat_at) }) : gettext("no heartbeat yet"));
    if (row.last_heartbeat_at) {
      beat.dataset.ago = row.last_heartbeat_at;
      beat.dataset.format = beatFormat;
      beat.title = fmtDateTime(row.last_heartbeat_at, school.timezone);
    }
    td.appendChild(beat);
    return td;
  }

  function revisionCell(row) {
    var td = el("td", "col-revision num");
    var shown = row.revision_shown === null ? "–" : row.revision_shown;
    var behind = row.revision_shown === null || row.revision_shown < row.school_revision;
    td.appendChild(el("span", behind ? "behind" : null, shown));
    td.appendChild(document.createTextNode(" / " + row.school_revision));
    td.title = interpolate(gettext("Shown %(shown)s, current %(current)s"), { shown: shown, current: row.school_revision });
    return td;
  }

  function clientCell(row, school) {
    var td = el("td", "col-client figures");
    var info = row.client_info || {};
    var health = info.health || {};
    var parts = [];
    if (info.uptime_s !== null && info.uptime_s !== undefined) parts.push(interpolate(gettext("up %(duration)s"), { duration: duration(info.uptime_s) }));
    if (health.viewport) parts.push(health.viewport);
    if (health.errors) {
      parts.push(interpolate(ngettext("%(count)s error", "%(count)s errors", health.errors), { count: health.errors }));
    }
    if (health.network) parts.push(health.network);
    if (health.js_heap_mb) parts.push(interpolate(gettext("%(mb)s MB heap"), { mb: health.js_heap_mb }));
    if (health.dom_nodes) parts.push(interpolate(gettext("%(count)s nodes"), { count: health.dom_nodes }));
    if (health.online === false) parts.push(gettext("browser offline"));
    if (health.offline_shell === "unsupported" || health.offline_shell === "failed") {
      parts.push(gettext("no offline start"));
    }
    td.appendChild(el("div", null, parts.length ? parts.join(" · ") : "—"));
    var trend = health.trend;
    if (trend && typeof trend === "object") {
      var lines = el("div", "trend");
      lines.appendChild(trendLine(trend.heap_mb, gettext("heap"), gettext("MB"), trend.every_s));
      lines.appendChild(trendLine(trend.dom_nodes, gettext("nodes"), "", trend.every_s));
      lines.appendChild(trendLine(trend.uptime_h, gettext("uptime"), gettext("h"), trend.every_s));
      td.appendChild(lines);
    }
    var reload = health.last_reload;
    if (reload && typeof reload === "object" && reload.at) {
      td.appendChild(el("div", "sub reloaded", interpolate(gettext("reloaded itself (%(reason)s) %(time)s"), {
        reason: label(RELOAD_REASON, reload.reason),
        time: fmtDateTime(reload.at, school.timezone)
      })));
    }
    var all = Object.keys(health).filter(function (k) { return k !== "trend"; }).map(function (k) {
      var value = health[k];
      return k + ": " + (value && typeof value === "object" ? JSON.stringify(value) : value);
    });
    if (all.length) td.title = all.join("\n");
    return td;
  }

  // --- trends: the last figures a display kept (one point every every_s seconds) ----
  var RELOAD_REASON = {
    nightly: gettext_noop("nightly"),
    update: gettext_noop("new version"),
    heap: gettext_noop("heap over its bound"),
    dom_nodes: gettext_noop("page too large"),
    uptime: gettext_noop("running too long")
  };
  var SVG_NS = "http://www.w3.org/2000/svg";
  var SPARK_W = 64;
  var SPARK_H = 16;

  // One figure's trend: a small line, the latest value, its range in the tooltip.
  function trendLine(values, label, unit, everyS) {
    var line = el("span", "spark");
    var numbers = (Array.isArray(values) ? values : []).filter(function (v) {
      return typeof v === "number" && isFinite(v);
    });
    if (!numbers.length) return line;
    var min = Math.min.apply(null, numbers);
    var max = Math.max.apply(null, numbers);
    var floor = Math.min(0, min); // drawn from zero: growth shows in proportion, noise stays flat
    var svg = document.createElementNS(SVG_NS, "svg");
    svg.setAttribute("width", SPARK_W);
    svg.setAttribute("height", SPARK_H);
    svg.setAttribute("viewBox", "0 0 " + SPARK_W + " " + SPARK_H);
    svg.setAttribute("aria-hidden", "true");
    var step = numbers.length > 1 ? (SPARK_W - 2) / (numbers.length - 1) : 0;
    var points = numbers.map(function (v, i) {
      var y = max === floor ? SPARK_H - 1 : SPARK_H - 1 - (v - floor) / (max - floor) * (SPARK_H - 2);
      return (1 + i * step).toFixed(1) + "," + y.toFixed(1);
    });
    var polyline = document.createElementNS(SVG_NS, "polyline");
    polyline.setAttribute("points", points.join(" "));
    polyline.setAttribute("fill", "none");
    polyline.setAttribute("stroke", "currentColor");
    polyline.setAttribute("stroke-width", "1.5");
    svg.appendChild(polyline);
    line.appendChild(el("span", "spark-label", label));
    line.appendChild(svg);
    var last = numbers[numbers.length - 1];
    line.appendChild(el("span", "spark-value", last + (unit ? " " + unit : "")));
    line.dataset.points = numbers.length;
    var values = {
      label: label, count: numbers.length, every: everyS ? duration(everyS) : "",
      min: min, max: max, unit: unit ? " " + unit : ""
    };
    line.title = interpolate(everyS
      ? gettext("%(label)s, last %(count)s points (one every %(every)s): %(min)s–%(max)s%(unit)s")
      : gettext("%(label)s, last %(count)s points: %(min)s–%(max)s%(unit)s"), values);
    return line;
  }

  function bindingCell(row, school) {
    var td = el("td", "col-binding");
    if (!row.has_token) {
      td.appendChild(el("div", "behind", gettext("No token")));
      td.appendChild(el("div", "sub", gettext("rotate to issue one, or pair")));
    } else if (row.bound) {
      td.appendChild(el("div", null, gettext("Bound")));
      td.appendChild(el("div", "sub", interpolate(gettext("since %(time)s"), { time: fmtDateTime(row.bound_at, school.timezone) })));
    } else {
      td.appendChild(el("div", null, gettext("Not bound")));
      td.appendChild(el("div", "sub", gettext("next device binds")));
    }
    return td;
  }

  function commandCell(row, school) {
    var td = el("td", "col-command");
    var c = row.last_command;
    if (!c) { td.textContent = "—"; return td; }
    td.appendChild(el("span", null, label(COMMAND_LABEL, c.name) + " "));
    td.appendChild(el("span", "cmd-status " + c.status, label(COMMAND_STATUS_LABEL, c.status)));
    var at = fmtTime(c.acknowledged_at || c.delivered_at || c.created_at, school.timezone);
    var sub = el("div", "sub", c.status === "pending" ? interpolate(gettext("sent %(time)s"), { time: at }) : at);
    td.appendChild(sub);
    var lines = [interpolate(gettext("Sent %(time)s"), { time: fmtDateTime(c.created_at, school.timezone) })];
    if (c.delivered_at) lines.push(interpolate(gettext("Delivered %(time)s"), { time: fmtDateTime(c.delivered_at, school.timezone) }));
    if (c.acknowledged_at) lines.push(interpolate(gettext("Acknowledged %(time)s"), { time: fmtDateTime(c.acknowledged_at, school.timezone) }));
    if (c.status === "hidden") lines.push(gettext("The screen showed an emergency alert over it: not seen."));
    if (c.name === "message" && c.payload.text) lines.push(interpolate(gettext("“%(text)s”"), { text: c.payload.text }));
    td.title = lines.join("\n");
    return td;
  }

  function actionButton(label, action, id, className) {
    var button = el("button", className || null, label);
    button.type = "button";
    button.dataset.action = action;
    button.dataset.screen = id;
    return button;
  }

  function actionsCell(row) {
    var td = el("td", "actions");
    td.appendChild(actionButton(gettext("Identify"), "identify", row.id));
    td.appendChild(actionButton(gettext("Reload"), "reload", row.id));
    td.appendChild(actionButton(gettext("Message…"), "message", row.id));
    var more = el("details", "more");
    more.appendChild(el("summary", null, gettext("More")));
    var menu = el("div", "menu");
    menu.appendChild(actionButton(gettext("Reset binding…"), "reset-binding", row.id));
    menu.appendChild(actionButton(gettext("Rotate token…"), "rotate-token", row.id, "danger"));
    more.appendChild(menu);
    td.appendChild(more);
    return td;
  }

  function renderSummary() {
    var total = { all: 0, online: 0, stale: 0, offline: 0 };
    var perSchool = {};
    Object.keys(state.rows).forEach(function (id) {
      var row = state.rows[id];
      var sid = state.bySlug[row.school];
      var counts = perSchool[sid] = perSchool[sid] || { all: 0, online: 0, stale: 0, offline: 0 };
      total.all++; total[row.status]++;
      counts.all++; counts[row.status]++;
    });
    ["all", "online", "stale", "offline"].forEach(function (key) { $("count-" + key).textContent = total[key]; });
    Object.keys(state.schools).forEach(function (sid) {
      var counts = perSchool[sid] || { all: 0, online: 0, stale: 0, offline: 0 };
      $("counts-" + sid).textContent = counts.all
        ? interpolate(gettext("%(online)s online · %(stale)s stale · %(offline)s offline"), counts)
        : "";
      $("empty-" + sid).hidden = counts.all > 0;
    });
    document.title = total.offline
      ? interpolate(gettext("%(offline)s offline · %(title)s · live screens"), { offline: total.offline, title: config.title })
      : interpolate(gettext("%(title)s · live screens"), { title: config.title });
  }

  function applyFilter(filter) {
    state.filter = filter;
    Array.prototype.forEach.call(document.querySelectorAll(".tile"), function (tile) {
      tile.classList.toggle("active", tile.dataset.filter === filter);
    });
    Object.keys(state.els).forEach(function (id) {
      state.els[id].hidden = filter !== "all" && state.rows[id].status !== filter;
    });
  }

  function tickAgo() {
    Array.prototype.forEach.call(document.querySelectorAll("[data-ago]"), function (node) {
      node.textContent = interpolate(node.dataset.format || "%(ago)s", { ago: ago(node.dataset.ago) });
    });
  }

  // --- actions ---------------------------------------------------------------------------------
  function rowPath(row) { return "schools/" + row.school + "/screens/" + row.id; }

  // One whole sentence per command (no sentence put together from pieces).
  function sentToScreen(name, screen) {
    var text = name === "identify" ? gettext("Identify sent to %(screen)s.")
      : name === "reload" ? gettext("Reload sent to %(screen)s.")
        : gettext("Message sent to %(screen)s.");
    return interpolate(text, { screen: screen });
  }

  function sentToSchool(name, count, school) {
    var text = name === "identify"
      ? ngettext("Identify sent to %(count)s screen of %(school)s.", "Identify sent to %(count)s screens of %(school)s.", count)
      : name === "reload"
        ? ngettext("Reload sent to %(count)s screen of %(school)s.", "Reload sent to %(count)s screens of %(school)s.", count)
        : ngettext("Message sent to %(count)s screen of %(school)s.", "Message sent to %(count)s screens of %(school)s.", count);
    return interpolate(text, { count: count, school: school });
  }

  function sent(row, result, name) {
    if (result.status === 201) {
      row.last_command = withFrames(result.data);
      render(row, true);
      flash(sentToScreen(name, row.name));
    } else {
      flash(interpolate(gettext("Could not send to %(screen)s: %(problem)s"), { screen: row.name, problem: problem(result) }), true);
    }
  }

  function sendCommand(row, name, payload) {
    return api("POST", rowPath(row) + "/commands", { name: name, payload: payload })
      .then(function (result) { sent(row, result, name); })
      .catch(function () { flash(gettext("Could not reach hallboard."), true); });
  }

  function sendToSchool(school, name, payload) {
    return api("POST", "schools/" + school.slug + "/commands", { name: name, payload: payload })
      .then(function (result) {
        if (result.status !== 201) { flash(interpolate(gettext("Could not send: %(problem)s"), { problem: problem(result) }), true); return; }
        result.data.forEach(function (command) {
          var row = state.rows[command.screen];
          if (row) { row.last_command = withFrames(command); render(row, true); }
        });
        flash(sentToSchool(name, result.data.length, school.name));
      })
      .catch(function () { flash(gettext("Could not reach hallboard."), true); });
  }

  function askMessage(target, then) {
    var dialog = $("dlg-message");
    $("message-target").textContent = target;
    $("message-text").value = "";
    dialog.returnValue = "";
    dialog.onclose = function () {
      var text = $("message-text").value.trim();
      if (dialog.returnValue !== "send" || !text) return;
      then({ text: text, seconds: parseInt($("message-seconds").value, 10) });
    };
    dialog.showModal();
    $("message-text").focus();
  }

  function confirmThen(title, text, ok, then) {
    var dialog = $("dlg-confirm");
    $("confirm-title").textContent = title;
    $("confirm-text").textContent = text;
    $("confirm-ok").textContent = ok;
    dialog.returnValue = "";
    dialog.onclose = function () { if (dialog.returnValue === "ok") then(); };
    dialog.showModal();
  }

  function showToken(row, url) {
    var dialog = $("dlg-token");
    $("token-target").textContent = interpolate(gettext("Screen “%(screen)s”"), { screen: row.name });
    $("token-url").value = url;
    $("token-copied").hidden = true;
    dialog.onclose = function () { $("token-url").value = ""; }; // shown once
    dialog.showModal();
    $("token-url").select();
  }

  function copyToken() {
    var input = $("token-url");
    var done = function () { $("token-copied").hidden = false; };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(input.value).then(done, function () { input.select(); });
    } else {
      input.select();
      try { if (document.execCommand("copy")) done(); } catch (e) { /* selected: copy by hand */ }
    }
  }

  function onRowAction(action, row) {
    if (action === "identify") {
      sendCommand(row, "identify", { seconds: 10 });
    } else if (action === "reload") {
      sendCommand(row, "reload", {});
    } else if (action === "message") {
      askMessage(interpolate(gettext("Screen “%(screen)s”"), { screen: row.name }), function (payload) {
        sendCommand(row, "message", payload);
      });
    } else if (action === "reset-binding") {
      confirmThen(interpolate(gettext("Reset the binding of “%(screen)s”?"), { screen: row.name }),
        gettext("The next device that opens this screen's URL binds it. Do this when a display was replaced."),
        gettext("Reset binding"), function () {
          api("POST", rowPath(row) + "/reset-binding").then(function (result) {
            if (result.status === 200) { upsert(result.data, true); flash(interpolate(gettext("Binding of %(screen)s reset."), { screen: row.name })); }
            else flash(interpolate(gettext("Could not reset: %(problem)s"), { problem: problem(result) }), true);
          });
        });
    } else if (action === "rotate-token") {
      confirmThen(interpolate(gettext("Rotate the token of “%(screen)s”?"), { screen: row.name }),
        gettext("The current display URL stops working at once; the screen shows nothing until it opens the new URL."),
        gettext("Rotate token"), function () {
          api("POST", rowPath(row) + "/rotate-token").then(function (result) {
            if (result.status !== 200) { flash(interpolate(gettext("Could not rotate: %(problem)s"), { problem: problem(result) }), true); return; }
            showToken(row, result.data.display_url);
            loadRow(state.bySlug[row.school], row.id);
          });
        });
    }
  }

  function onSchoolAction(action, school) {
    if (action === "identify") {
      sendToSchool(school, "identify", { seconds: 10 });
    } else if (action === "reload") {
      confirmThen(interpolate(gettext("Reload every screen of %(school)s?"), { school: school.name }),
        gettext("Each screen reloads its page; it shows its data again within seconds."),
        gettext("Reload all"), function () { sendToSchool(school, "reload", {}); });
    } else if (action === "message") {
      askMessage(interpolate(gettext("Every screen of %(school)s"), { school: school.name }), function (payload) {
        sendToSchool(school, "message", payload);
      });
    }
  }

  document.addEventListener("click", function (event) {
    var target = event.target.closest("button, [data-filter]");
    if (!target) return;
    if (target.dataset.filter) { applyFilter(target.dataset.filter); return; }
    if (target.hasAttribute("data-close")) { target.closest("dialog").close(); return; }
    if (target.id === "token-copy") { copyToken(); return; }
    if (target.dataset.action) {
      var details = target.closest("details");
      if (details) details.open = false;
      var row = state.rows[target.dataset.screen];
      if (row) onRowAction(target.dataset.action, row);
      return;
    }
    if (target.dataset.schoolAction) {
      var section = target.closest("[data-school]");
      var school = state.schools[section.dataset.school];
      if (school) onSchoolAction(target.dataset.schoolAction, school);
    }
  });

  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "visible" && Date.now() - state.loadedAt > config.refresh_s * 1000) loadAll();
  });

  // --- start -------------------------------------------------------------------------------------
  window.hallboardDashboard = state; // for support: inspect the page's state in the console
  renderLink();
  $("link").className = "link connecting";
  $("link").textContent = gettext("Connecting…");
  loadAll();
  connect();
  setInterval(loadAll, config.refresh_s * 1000);
  setInterval(tickAgo, 1000);
})();
