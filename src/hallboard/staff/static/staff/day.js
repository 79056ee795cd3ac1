/*
 * hallboard "Today's changes" (docs/staff.md). No framework, no build step.
 *
 * The grid shows the effective timetable the server computes
 * (hallboard.timetable.day via /staff/schools/<slug>/day/<date>/data); this page
 * decides nothing about what takes place, it shows it and sends actions.
 *
 * Keys on a chosen lesson: C cancel, S substitute, R room change, N note,
 * Delete/Backspace back to the plan, arrows move. Each write sends the tag of
 * the lesson's change as this page saw it: when someone else changed it
 * meanwhile the server refuses (409) and the page says so; nothing is lost.
 * The page asks every poll_s seconds whether the day changed (304 if not),
 * so two people editing the same day see each other's changes.
 */
(function () {
  "use strict";

  var config = JSON.parse(document.getElementById("day-config").textContent);
  var i18n = window.hallboardI18n.forLanguage(function () { return document.documentElement.lang; });
  var gettext = i18n.gettext;
  var ngettext = i18n.ngettext;
  var pgettext = i18n.pgettext;
  var interpolate = i18n.interpolate;
  function gettext_noop(msgid) { return msgid; }

  var KEYS = { c: "cancel", s: "substitute", r: "room", n: "note" };
  var ACTION_LABEL = {
    cancel: gettext_noop("Cancel lesson"),
    substitute: gettext_noop("Substitute"),
    room: gettext_noop("Room change"),
    note: gettext_noop("Note"),
    clear: gettext_noop("Back to plan")
  };
  // The key's name as printed on keyboards of the user's language ("Entf" in German).
  var ACTION_KEY = { cancel: "C", substitute: "S", room: "R", note: "N", clear: pgettext("keyboard key", "Del") };
  var KIND_LABEL = {
    cancelled: gettext_noop("Cancelled"),
    substitute: gettext_noop("Substitute teacher"),
    room_change: gettext_noop("Room change"),
    moved: gettext_noop("Moved"),
    swapped: gettext_noop("Swapped"),
    extra: gettext_noop("Extra lesson"),
    exam: gettext_noop("Exam"),
    supervision: gettext_noop("Supervision"),
    note: gettext_noop("Note")
  };
  var REASON_LABEL = {
    closure: gettext_noop("No lessons: the school is closed."),
    outside_term: gettext_noop("No lessons: this day is outside the terms."),
    no_lessons: gettext_noop("No lessons on this day.")
  };
  var STATUS_LABEL = { online: gettext_noop("online"), stale: gettext_noop("stale"), offline: gettext_noop("offline") };

  var state = {
    data: null,
    etag: null,
    revision: null,
    mine: {},          // revisions this page made
    selected: null,    // slot key
    cells: [],         // [row][col] → [slot keys]
    slots: {},         // key → slot
    editor: null,      // {action, key}
    suggestions: [],
    active: 0,
    retry: null,       // the last refused request, to send again
    screen: "",
    polls: 0,
    loadedAt: null
  };

  function $(id) { return document.getElementById(id); }
  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }
  function kindLabel(kind) { return KIND_LABEL[kind] ? gettext(KIND_LABEL[kind]) : kind; }

  function nowInSchool() {
    try {
      return new Intl.DateTimeFormat(document.documentElement.lang || undefined, {
        hour: "2-digit", minute: "2-digit", second: "2-digit", timeZone: config.timezone
      }).format(new Date());
    } catch (e) { return new Date().toISOString().slice(11, 19); }
  }

  // --- talking to the server ----------------------------------------------------
  function request(method, url, body, headers) {
    var options = { method: method, credentials: "same-origin", headers: headers || {} };
    if (body !== undefined) {
      options.body = JSON.stringify(body);
      options.headers["Content-Type"] = "application/json";
      options.headers["X-CSRFToken"] = config.csrf;
    }
    return fetch(url, options).then(function (response) {
      if (response.status === 304) return { status: 304, body: null };
      return response.json().catch(function () { return {}; }).then(function (json) {
        return { status: response.status, body: json };
      });
    });
  }

  function setLink(live) {
    var link = $("day-link");
    link.className = "link " + (live ? "live" : "reconnecting");
    link.textContent = live ? gettext("Live") : gettext("Reconnecting…");
  }

  function load(quiet) {
    var headers = {};
    if (state.etag) headers["If-None-Match"] = state.etag;
    return fetch(config.data_url, { credentials: "same-origin", headers: headers }).then(function (response) {
      state.polls += 1;
      setLink(true);
      if (response.status === 304) { showUpdated(); return false; }
      if (!response.ok) {
        return response.json().catch(function () { return {}; }).then(function (json) {
          notice(json.detail || gettext("The day could not be loaded."));
          return false;
        });
      }
      state.etag = response.headers.get("ETag");
      return response.json().then(function (data) {
        var before = state.revision;
        state.data = data;
        state.revision = data.revision;
        render();
        showUpdated();
        if (quiet && before !== null && data.revision !== before && !state.mine[data.revision]) {
          flash(interpolate(gettext("Someone else changed the day (revision %(rev)s)."), { rev: data.revision }));
        }
        return true;
      });
    }).catch(function () { setLink(false); return false; });
  }

  function showUpdated() {
    state.loadedAt = nowInSchool();
    $("day-updated").textContent = interpolate(gettext("Revision %(rev)s · checked %(time)s"), {
      rev: state.revision, time: state.loadedAt
    });
  }

  // --- messages -------------------------------------------------------------------
  var flashTimer = null;
  function flash(text, error) {
    var node = $("day-flash");
    node.textContent = text;
    node.className = "flash" + (error ? " error" : "");
    node.hidden = false;
    clearTimeout(flashTimer);
    flashTimer = setTimeout(function () { node.hidden = true; }, 4000);
  }
  function notice(text, retry) {
    $("day-notice-text").textContent = text;
    $("day-notice").hidden = false;
    state.retry = retry || null;
    $("day-retry").hidden = !retry;
  }
  function clearNotice() { $("day-notice").hidden = true; state.retry = null; }

  // --- the grid ---------------------------------------------------------------------
  function slotText(slot) {
    var values = slot.now || slot.regular || { subject: "", teachers: [], rooms: [] };
    return {
      subject: values.subject || "",
      teachers: (values.teachers || []).join(", "),
      rooms: (values.rooms || []).join(", ")
    };
  }

  function describeSlot(slot) {
    var regular = slot.regular || slot.now || {};
    var parts = [
      interpolate(gettext("Period %(period)s"), { period: slot.period }),
      slot.classes.join(", "),
      [regular.subject, slot.group].filter(Boolean).join(" "),
      (regular.teachers || []).join(", "),
      (regular.rooms || []).join(", ")
    ].filter(Boolean);
    var text = parts.join(" · ");
    if (slot.change) text += " — " + kindLabel(slot.change.kind);
    if (slot.substitute) text += " " + slot.substitute;
    if (slot.change && slot.change.note) text += " “" + slot.change.note + "”";
    return text;
  }

  function slotButton(slot) {
    var button = el("button", "slot");
    button.type = "button";
    button.setAttribute("data-key", slot.key);
    button.tabIndex = -1;
    if (slot.change) button.classList.add("kind-" + slot.change.kind);
    if (slot.needs_cover) button.classList.add("needs-cover");
    if (!slot.editable) button.classList.add("readonly");
    var text = slotText(slot);
    var top = el("span", "slot-subject", text.subject + (slot.group ? " " + slot.group : ""));
    button.appendChild(top);
    var who = el("span", "slot-teachers", text.teachers);
    if (slot.changed.indexOf("teachers") >= 0) who.classList.add("changed");
    button.appendChild(who);
    var where = el("span", "slot-rooms", text.rooms);
    if (slot.changed.indexOf("rooms") >= 0) where.classList.add("changed");
    button.appendChild(where);
    if (slot.change) {
      button.appendChild(el("span", "slot-kind", kindLabel(slot.change.kind)));
      if (slot.change.note) button.appendChild(el("span", "slot-note", slot.change.note));
    } else if (slot.needs_cover) {
      button.appendChild(el("span", "slot-kind", interpolate(gettext("%(teachers)s absent"), { teachers: slot.absent.join(", ") })));
    }
    button.title = describeSlot(slot);
    button.setAttribute("aria-label", describeSlot(slot));
    return button;
  }

  function render() {
    var data = state.data;
    $("day-title").textContent = data.date_label;
    var table = $("day-grid");
    var hadFocus = table.contains(document.activeElement);
    table.textContent = "";
    state.slots = {};
    state.cells = [];
    var empty = $("day-empty");
    if (!data.school_day || !data.slots.length) {
      empty.textContent = data.reason ? gettext(REASON_LABEL[data.reason] || REASON_LABEL.no_lessons)
        + (data.closure ? " (" + data.closure + ")" : "") : gettext("No lessons on this day.");
      empty.hidden = false;
      table.hidden = true;
    } else {
      empty.hidden = true;
      table.hidden = false;
    }
    var head = el("thead");
    var hr = el("tr");
    hr.appendChild(el("th", "corner", gettext("Class")));
    data.periods.forEach(function (p) {
      var th = el("th", null);
      th.scope = "col";
      th.appendChild(el("b", null, p.label));
      th.appendChild(el("span", "sub", p.start + "–" + p.end));
      hr.appendChild(th);
    });
    head.appendChild(hr);
    table.appendChild(head);
    var col = {};
    data.periods.forEach(function (p, i) { col[p.number] = i; });
    var row = {};
    data.classes.forEach(function (c, i) { row[c.id] = i; state.cells.push(data.periods.map(function () { return []; })); });
    data.slots.forEach(function (slot) {
      state.slots[slot.key] = slot;
      slot.class_ids.forEach(function (cid) {
        if (row[cid] !== undefined && col[slot.period] !== undefined) state.cells[row[cid]][col[slot.period]].push(slot.key);
      });
    });
    var body = el("tbody");
    data.classes.forEach(function (c, r) {
      var tr = el("tr");
      var th = el("th", "class-name", c.name);
      th.scope = "row";
      tr.appendChild(th);
      data.periods.forEach(function (p, k) {
        var td = el("td");
        state.cells[r][k].forEach(function (key) {
          var button = slotButton(state.slots[key]);
          button.setAttribute("data-row", r);
          button.setAttribute("data-col", k);
          td.appendChild(button);
        });
        tr.appendChild(td);
      });
      body.appendChild(tr);
    });
    table.appendChild(body);
    if (state.selected && !state.slots[state.selected]) state.selected = null;
    var first = table.querySelector(".slot");
    if (first && !state.selected) first.tabIndex = 0;
    markSelected(hadFocus);
    renderCover();
    renderAbsences();
  }

  function buttonFor(key, r, k) {
    var selector = '.slot[data-key="' + key + '"]';
    if (r !== undefined) selector += '[data-row="' + r + '"]';
    return $("day-grid").querySelector(selector);
  }

  function markSelected(focus) {
    var grid = $("day-grid");
    Array.prototype.forEach.call(grid.querySelectorAll(".slot.selected"), function (b) {
      b.classList.remove("selected");
      b.removeAttribute("aria-selected");
      b.tabIndex = -1;
    });
    var slot = state.selected ? state.slots[state.selected] : null;
    var buttons = document.querySelectorAll("#day-actions [data-action]");
    Array.prototype.forEach.call(buttons, function (b) {
      var action = b.getAttribute("data-action");
      b.textContent = "";
      b.appendChild(document.createTextNode(gettext(ACTION_LABEL[action]) + " "));
      b.appendChild(el("kbd", null, ACTION_KEY[action]));
      b.disabled = !slot || !slot.editable || (action === "clear" && !slot.change);
    });
    if (!slot) {
      $("day-selected").textContent = gettext("No lesson chosen.");
      var first = grid.querySelector(".slot");
      if (first) first.tabIndex = 0;
      return;
    }
    var node = buttonFor(slot.key, state.selectedRow) || buttonFor(slot.key);
    if (node) {
      node.classList.add("selected");
      node.setAttribute("aria-selected", "true");
      node.tabIndex = 0;
      if (focus) node.focus();
    }
    $("day-selected").textContent = slot.editable ? describeSlot(slot)
      : describeSlot(slot) + " — " + gettext("change this one in the admin.");
  }

  function select(key, row, focus) {
    state.selected = key;
    state.selectedRow = row;
    markSelected(focus !== false);
  }

  function move(dr, dc) {
    var r = state.selectedRow, k;
    var current = state.selected ? buttonFor(state.selected, r) : null;
    if (!current) {
      var first = $("day-grid").querySelector(".slot");
      if (first) select(first.getAttribute("data-key"), +first.getAttribute("data-row"));
      return;
    }
    r = +current.getAttribute("data-row");
    k = +current.getAttribute("data-col");
    var inCell = state.cells[r][k];
    var index = inCell.indexOf(state.selected);
    if (dr && inCell.length > 1 && index + dr >= 0 && index + dr < inCell.length) {
      select(inCell[index + dr], r);
      return;
    }
    var rows = state.cells.length, cols = rows ? state.cells[0].length : 0;
    for (var step = 1; step < Math.max(rows, cols) + 1; step++) {
      var nr = r + dr * step, nk = k + dc * step;
      if (nr < 0 || nr >= rows || nk < 0 || nk >= cols) return;
      var keys = state.cells[nr][nk];
      if (keys.length) {
        select(dr < 0 ? keys[keys.length - 1] : keys[0], nr);
        return;
      }
    }
  }

  // --- actions ------------------------------------------------------------------------
  function send(slot, action, value, replaces, expect) {
    var body = {
      lesson: slot.lesson,
      action: action,
      value: value || "",
      expect: expect || slot.tag,
      replaces: replaces || ""
    };
    return request("POST", config.change_url, body).then(function (result) {
      if (result.status === 200) {
        clearNotice();
        state.mine[result.body.revision] = true;
        flash(result.body.change ? interpolate(gettext("Saved: %(change)s."), { change: result.body.change })
          : gettext("Back to the plan."));
        return load(false).then(function () { return true; });
      }
      var detail = (result.body && result.body.detail) || gettext("That did not work.");
      if (result.status === 409) {
        notice(detail, { slot: slot, action: action, value: value, replaces: replaces, tag: result.body.tag });
        return load(false).then(function () { return false; });
      }
      notice(detail);
      return false;
    }).catch(function () {
      notice(gettext("The server did not answer; nothing was saved. Try again."));
      return false;
    });
  }

  function act(action) {
    var slot = state.selected ? state.slots[state.selected] : null;
    if (!slot || !slot.editable) return;
    if (action === "cancel" || action === "clear") {
      if (action === "clear" && !slot.change) return;
      send(slot, action, "").then(function () { markSelected(true); });
      return;
    }
    openEditor(action, slot);
  }

  function periodOf(slot) {
    for (var i = 0; i < state.data.periods.length; i++) {
      if (state.data.periods[i].number === slot.period) return state.data.periods[i];
    }
    return null;
  }

  function choices(action, slot) {
    var period = periodOf(slot) || { free_teachers: [], free_rooms: [], absent: [] };
    if (action === "substitute") {
      var free = {};
      period.free_teachers.forEach(function (c) { free[c] = true; });
      var names = {};
      state.data.teachers.forEach(function (t) { names[t.code] = t.name; });
      var list = period.free_teachers.map(function (code) { return { value: code, label: names[code] || "", free: true }; });
      state.data.teachers.forEach(function (t) {
        if (!free[t.code]) {
          var why = period.absent.indexOf(t.code) >= 0 ? gettext("absent") : gettext("teaching then");
          list.push({ value: t.code, label: (t.name ? t.name + " · " : "") + why, free: false });
        }
      });
      return list;
    }
    if (action === "room") {
      var freeRooms = {};
      period.free_rooms.forEach(function (r) { freeRooms[r] = true; });
      var rooms = period.free_rooms.map(function (r) { return { value: r, label: gettext("free"), free: true }; });
      state.data.rooms.forEach(function (r) {
        if (!freeRooms[r]) rooms.push({ value: r, label: gettext("in use then"), free: false });
      });
      return rooms;
    }
    return [];
  }

  var EDITOR_LABEL = {
    substitute: gettext_noop("Substitute teacher (type a code; free teachers first)"),
    room: gettext_noop("New room (type a name; free rooms first)"),
    note: gettext_noop("Note shown on the screens")
  };

  function openEditor(action, slot) {
    state.editor = { action: action, key: slot.key };
    var form = $("day-editor");
    form.hidden = false;
    $("day-value-label").textContent = gettext(EDITOR_LABEL[action]);
    var input = $("day-value");
    input.value = action === "note" && slot.change ? slot.change.note : "";
    input.maxLength = action === "note" ? 200 : 40;
    input.setAttribute("role", action === "note" ? "textbox" : "combobox");
    state.all = choices(action, slot);
    filter();
    input.focus();
  }

  function closeEditor(focusGrid) {
    state.editor = null;
    $("day-editor").hidden = true;
    $("day-suggest").textContent = "";
    $("day-value").setAttribute("aria-expanded", "false");
    if (focusGrid) markSelected(true);
  }

  function filter() {
    var text = $("day-value").value.trim().toUpperCase();
    var all = state.all || [];
    var starts = [], contains = [];
    all.forEach(function (c) {
      var value = c.value.toUpperCase();
      if (!text || value.indexOf(text) === 0) starts.push(c);
      else if (c.label && c.label.toUpperCase().indexOf(text) >= 0) contains.push(c);
    });
    // Typed codes complete to the first free match; an exact code wins.
    starts.sort(function (a, b) {
      var ea = a.value.toUpperCase() === text, eb = b.value.toUpperCase() === text;
      if (ea !== eb) return ea ? -1 : 1;
      if (a.free !== b.free) return a.free ? -1 : 1;
      return 0;
    });
    state.suggestions = starts.concat(contains).slice(0, 12);
    state.active = 0;
    drawSuggestions();
  }

  function drawSuggestions() {
    var list = $("day-suggest");
    list.textContent = "";
    state.suggestions.forEach(function (c, i) {
      var item = el("li", "suggestion" + (c.free ? " free" : " busy") + (i === state.active ? " active" : ""));
      item.id = "day-suggest-" + i;
      item.setAttribute("role", "option");
      item.setAttribute("data-value", c.value);
      item.setAttribute("aria-selected", i === state.active ? "true" : "false");
      item.appendChild(el("b", null, c.value));
      if (c.label) item.appendChild(el("span", "sub", c.label));
      list.appendChild(item);
    });
    var input = $("day-value");
    input.setAttribute("aria-expanded", state.suggestions.length ? "true" : "false");
    if (state.suggestions.length) input.setAttribute("aria-activedescendant", "day-suggest-" + state.active);
    else input.removeAttribute("aria-activedescendant");
  }

  function commit(value) {
    var editor = state.editor;
    if (!editor) return;
    var slot = state.slots[editor.key];
    if (!slot) { closeEditor(false); return; }
    var typed = value !== undefined ? value : $("day-value").value.trim();
    if (editor.action !== "note") {
      var exact = (state.all || []).filter(function (c) { return c.value.toUpperCase() === typed.toUpperCase(); })[0];
      if (value === undefined && !exact && state.suggestions.length) typed = state.suggestions[state.active].value;
      else if (exact) typed = exact.value;
    }
    var replaces = slot.absent && slot.absent.length ? slot.absent[0] : "";
    send(slot, editor.action, typed, replaces).then(function (ok) {
      if (ok) closeEditor(true);
    });
  }

  // --- needs cover and absences ---------------------------------------------------------
  function renderCover() {
    var list = $("day-cover-list");
    list.textContent = "";
    var count = 0;
    state.data.slots.forEach(function (slot) {
      if (!slot.needs_cover) return;
      count += 1;
      var item = el("li", "cover-item");
      item.setAttribute("data-key", slot.key);
      item.appendChild(el("span", "cover-what", describeSlot(slot) + " — " +
        interpolate(gettext("%(teachers)s absent"), { teachers: slot.absent.join(", ") })));
      var buttons = el("span", "cover-buttons");
      var cancel = el("button", "cover-cancel", gettext("Cancel lesson"));
      cancel.type = "button";
      cancel.addEventListener("click", function () { send(slot, "cancel", ""); });
      buttons.appendChild(cancel);
      var period = periodOf(slot);
      var candidate = period && period.free_teachers.length ? period.free_teachers[0] : null;
      if (candidate) {
        var cover = el("button", "cover-by primary", interpolate(gettext("Cover: %(teacher)s"), { teacher: candidate }));
        cover.type = "button";
        cover.setAttribute("data-teacher", candidate);
        cover.addEventListener("click", function () { send(slot, "substitute", candidate, slot.absent[0]); });
        buttons.appendChild(cover);
      }
      var other = el("button", "subtle cover-other", gettext("Other…"));
      other.type = "button";
      other.addEventListener("click", function () {
        var node = buttonFor(slot.key);
        select(slot.key, node ? +node.getAttribute("data-row") : undefined);
        openEditor("substitute", slot);
      });
      buttons.appendChild(other);
      item.appendChild(buttons);
      list.appendChild(item);
    });
    $("day-cover-empty").hidden = count > 0;
    $("day-cover-title").textContent = count ? interpolate(gettext("Needs cover (%(n)s)"), { n: count })
      : gettext("Needs cover");
  }

  function periodRange(absence) {
    if (absence.first_period === null && absence.last_period === null) return gettext("all day");
    if (absence.last_period === null) return interpolate(gettext("from period %(first)s"), { first: absence.first_period });
    if (absence.first_period === null) return interpolate(gettext("until period %(last)s"), { last: absence.last_period });
    return interpolate(gettext("periods %(first)s–%(last)s"), { first: absence.first_period, last: absence.last_period });
  }

  function renderAbsences() {
    var data = state.data;
    var list = $("day-absent-list");
    list.textContent = "";
    data.absences.forEach(function (absence) {
      var item = el("li", "absent-item");
      item.appendChild(el("b", null, absence.teacher));
      item.appendChild(el("span", "sub", " " + (absence.name ? absence.name + " · " : "") + periodRange(absence)));
      var remove = el("button", "subtle", gettext("Not absent"));
      remove.type = "button";
      remove.setAttribute("aria-label", interpolate(gettext("%(teacher)s is not absent"), { teacher: absence.teacher }));
      remove.addEventListener("click", function () {
        request("POST", config.absence_url, { remove: absence.id }).then(afterWrite);
      });
      item.appendChild(remove);
      list.appendChild(item);
    });
    var datalist = $("day-teachers");
    if (datalist.childElementCount !== data.teachers.length) {
      datalist.textContent = "";
      data.teachers.forEach(function (t) {
        var option = el("option");
        option.value = t.code;
        option.label = t.name || t.code;
        datalist.appendChild(option);
      });
    }
    ["day-absent-from", "day-absent-to"].forEach(function (id) {
      var select = $(id);
      if (select.options.length === data.periods.length + 1) return;
      while (select.options.length > 1) select.remove(1);
      data.periods.forEach(function (p) {
        var option = el("option", null, p.label + " (" + p.start + ")");
        option.value = p.number;
        select.appendChild(option);
      });
    });
  }

  function afterWrite(result) {
    if (result.status === 200) {
      clearNotice();
      state.mine[result.body.revision] = true;
      return load(false);
    }
    notice((result.body && result.body.detail) || gettext("That did not work."));
    return null;
  }

  // --- what the screens show ---------------------------------------------------------------
  function loadScreens() {
    var url = config.screens_url + (state.screen ? "?preview=" + encodeURIComponent(state.screen) : "");
    return request("GET", url).then(function (result) {
      if (result.status !== 200) return;
      renderScreens(result.body);
    }).catch(function () { /* the next poll */ });
  }

  function renderScreens(body) {
    var list = $("day-screens-list");
    list.textContent = "";
    var current = 0;
    body.screens.forEach(function (s) {
      if (s.current) current += 1;
      var item = el("li", "screen-item " + s.status);
      item.appendChild(el("b", null, s.name));
      item.appendChild(el("span", "badge " + s.status, gettext(STATUS_LABEL[s.status] || s.status)));
      var shown = s.revision_shown === null ? gettext("shows nothing yet")
        : (s.current ? interpolate(gettext("shows revision %(rev)s, the current one"), { rev: s.revision_shown })
          : interpolate(gettext("shows revision %(rev)s, behind"), { rev: s.revision_shown }));
      if (s.heard_at) shown += " · " + interpolate(gettext("said so at %(time)s"), { time: s.heard_at });
      item.appendChild(el("span", "sub", shown));
      list.appendChild(item);
    });
    $("day-screens-summary").textContent = body.screens.length
      ? interpolate(ngettext("%(n)s of %(m)s screen shows revision %(rev)s.", "%(n)s of %(m)s screens show revision %(rev)s.", body.screens.length),
        { n: current, m: body.screens.length, rev: body.revision })
      : gettext("This school has no screens yet.");
    var select = $("day-screen");
    if (select.options.length !== body.screens.length + 1) {
      while (select.options.length > 1) select.remove(1);
      body.screens.forEach(function (s) {
        var option = el("option", null, s.name);
        option.value = s.id;
        select.appendChild(option);
      });
      select.value = state.screen;
    }
    renderPreview(body.preview);
  }

  function previewDay(title, day, box) {
    box.appendChild(el("h3", null, title));
    if (!day.school_day) {
      box.appendChild(el("p", "sub", gettext(REASON_LABEL[day.reason] || REASON_LABEL.no_lessons)));
      return;
    }
    var table = el("table", "preview-table");
    day.slots.forEach(function (slot) {
      var tr = el("tr", slot.change ? "changed kind-" + slot.change.kind : null);
      var values = slot.now || slot.regular || {};
      tr.appendChild(el("td", "num", slot.period));
      tr.appendChild(el("td", null, slot.classes.join(", ")));
      tr.appendChild(el("td", null, values.subject || ""));
      tr.appendChild(el("td", null, (values.teachers || []).join(", ")));
      tr.appendChild(el("td", null, (values.rooms || []).join(", ")));
      tr.appendChild(el("td", "preview-change", slot.change ? kindLabel(slot.change.kind) + (slot.change.note ? " · " + slot.change.note : "") : ""));
      table.appendChild(tr);
    });
    box.appendChild(table);
  }

  function renderPreview(preview) {
    var box = $("day-preview");
    box.textContent = "";
    if (!preview) return;
    box.appendChild(el("p", "sub", interpolate(gettext("“%(screen)s” shows, at revision %(rev)s:"), { screen: preview.screen.name, rev: preview.rev })));
    if (preview.alert) box.appendChild(el("p", "warning", gettext("An alert covers this screen now.")));
    previewDay(interpolate(gettext("Today (%(date)s)"), { date: preview.day.date }), preview.day, box);
    if (preview.next) previewDay(interpolate(gettext("Next school day (%(date)s)"), { date: preview.next.date }), preview.next, box);
  }

  // --- paste -------------------------------------------------------------------------------------
  function paste(apply) {
    var text = $("day-paste-text").value;
    return request("POST", config.paste_url, { text: text, apply: apply }).then(function (result) {
      var body = result.body || {};
      if (result.status === 200 && apply) {
        state.mine[body.revision] = true;
        flash(interpolate(ngettext("%(n)s change applied.", "%(n)s changes applied.", body.applied), { n: body.applied }));
        $("day-paste-text").value = "";
        drawPaste([]);
        $("day-paste-summary").textContent = interpolate(ngettext("%(n)s change applied.", "%(n)s changes applied.", body.applied), { n: body.applied });
        return load(false);
      }
      if (body.rows) drawPaste(body.rows);
      if (result.status === 200) {
        var bad = body.errors;
        $("day-paste-summary").textContent = bad
          ? interpolate(ngettext("%(n)s row has an error: nothing can be applied yet.", "%(n)s rows have errors: nothing can be applied yet.", bad), { n: bad })
          : interpolate(ngettext("%(n)s row ready to apply.", "%(n)s rows ready to apply.", body.rows.length), { n: body.rows.length });
        $("day-paste-apply").disabled = bad > 0 || !body.rows.length;
      } else {
        $("day-paste-summary").textContent = body.detail || gettext("That did not work.");
        $("day-paste-apply").disabled = true;
        if (result.status === 409) load(false);
      }
      return null;
    });
  }

  function drawPaste(rows) {
    var table = $("day-paste-rows");
    var body = table.querySelector("tbody");
    body.textContent = "";
    table.hidden = !rows.length;
    rows.forEach(function (row) {
      var tr = el("tr", row.errors.length ? "bad" : "ok");
      [row.line, row["class"], row.period, kindLabel(row.kind), row.teacher, row.room, row.note].forEach(function (v) {
        tr.appendChild(el("td", null, v));
      });
      tr.appendChild(el("td", "check", row.errors.length ? row.errors.join(" ") : gettext("OK")));
      body.appendChild(tr);
    });
  }

  // --- wiring -------------------------------------------------------------------------------------
  $("day-grid").addEventListener("click", function (event) {
    var button = event.target.closest(".slot");
    if (!button) return;
    if (state.editor) closeEditor(false);
    select(button.getAttribute("data-key"), +button.getAttribute("data-row"));
  });

  $("day-grid").addEventListener("keydown", function (event) {
    if (event.altKey || event.ctrlKey || event.metaKey) return;
    var arrows = { ArrowUp: [-1, 0], ArrowDown: [1, 0], ArrowLeft: [0, -1], ArrowRight: [0, 1] };
    if (arrows[event.key]) {
      event.preventDefault();
      move(arrows[event.key][0], arrows[event.key][1]);
      return;
    }
    var key = event.key.toLowerCase();
    if (KEYS[key]) { event.preventDefault(); act(KEYS[key]); return; }
    if (event.key === "Delete" || event.key === "Backspace") { event.preventDefault(); act("clear"); return; }
    if (event.key === "Enter") {
      var button = event.target.closest(".slot");
      if (button) { event.preventDefault(); select(button.getAttribute("data-key"), +button.getAttribute("data-row")); }
    }
  });

  $("day-grid").addEventListener("focusin", function (event) {
    var button = event.target.closest(".slot");
    if (button && button.getAttribute("data-key") !== state.selected) {
      select(button.getAttribute("data-key"), +button.getAttribute("data-row"), false);
    }
  });

  Array.prototype.forEach.call(document.querySelectorAll("#day-actions [data-action]"), function (b) {
    b.addEventListener("click", function () { act(b.getAttribute("data-action")); });
  });

  $("day-value").addEventListener("input", function () { if (state.editor && state.editor.action !== "note") filter(); });
  $("day-value").addEventListener("keydown", function (event) {
    if (event.key === "Escape") { event.preventDefault(); closeEditor(true); return; }
    if (!state.suggestions.length) return;
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      event.preventDefault();
      var n = state.suggestions.length;
      state.active = (state.active + (event.key === "ArrowDown" ? 1 : n - 1)) % n;
      drawSuggestions();
    }
  });
  $("day-suggest").addEventListener("mousedown", function (event) {
    var item = event.target.closest(".suggestion");
    if (!item) return;
    event.preventDefault();
    commit(item.getAttribute("data-value"));
  });
  $("day-editor").addEventListener("submit", function (event) { event.preventDefault(); commit(); });
  $("day-editor-close").addEventListener("click", function () { closeEditor(true); });

  $("day-notice-close").addEventListener("click", clearNotice);
  $("day-retry").addEventListener("click", function () {
    var retry = state.retry;
    if (!retry) return;
    var slot = state.slots[retry.slot.key] || retry.slot;
    send(slot, retry.action, retry.value, retry.replaces, retry.tag);
  });

  $("day-absent-form").addEventListener("submit", function (event) {
    event.preventDefault();
    var from = $("day-absent-from").value, to = $("day-absent-to").value;
    request("POST", config.absence_url, {
      teacher: $("day-absent-teacher").value.trim(),
      first_period: from ? +from : null,
      last_period: to ? +to : null
    }).then(function (result) {
      if (result.status === 200) $("day-absent-teacher").value = "";
      return afterWrite(result);
    });
  });

  $("day-paste-preview").addEventListener("click", function () { paste(false); });
  $("day-paste-apply").addEventListener("click", function () { paste(true); });
  $("day-paste-text").addEventListener("input", function () { $("day-paste-apply").disabled = true; });

  $("day-screen").addEventListener("change", function () {
    state.screen = $("day-screen").value;
    loadScreens();
  });

  $("day-pick").addEventListener("submit", function (event) {
    event.preventDefault();
    var value = $("day-date").value;
    if (value) window.location.href = config.data_url.replace(/[^/]+\/data$/, value + "/");
  });

  // Tests and the action counter read this; it is not an API.
  window.hallboardDay = { state: state, reload: load };

  load(false).then(function () { markSelected(false); });
  loadScreens();
  setInterval(function () { if (!document.hidden) load(true); }, config.poll_s * 1000);
  setInterval(function () { if (!document.hidden) loadScreens(); }, config.screens_poll_s * 1000);
}());
