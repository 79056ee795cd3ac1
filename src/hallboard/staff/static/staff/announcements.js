/*
 * hallboard announcements page (docs/staff.md "Announcements"). No framework, no build step.
 *
 * Quick add (defaults from the server: now until the end of the school's day), and the
 * active and upcoming announcements with "Edit" and "End now". Times are typed and
 * shown in the school's zone: the server reads and writes them there.
 */
(function () {
  "use strict";

  var config = JSON.parse(document.getElementById("announcements-config").textContent);
  var i18n = window.hallboardI18n.forLanguage(function () { return document.documentElement.lang; });
  var gettext = i18n.gettext;
  var interpolate = i18n.interpolate;
  var state = { items: config.state.announcements, defaults: config.state.defaults, editing: null, busy: false };

  function $(id) { return document.getElementById(id); }
  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function request(method, url, data) {
    var options = { method: method, credentials: "same-origin", headers: { "Accept": "application/json" } };
    if (data !== undefined) {
      options.headers["Content-Type"] = "application/json";
      options.headers["X-CSRFToken"] = config.csrf;
      options.body = JSON.stringify(data);
    }
    return fetch(url, options).then(function (response) {
      return response.json().then(function (body) { return { status: response.status, data: body }; },
        function () { return { status: response.status, data: {} }; });
    });
  }

  // "14:30" today, "Tue 15 Sep, 14:30" another day: in the school's zone.
  function fmt(iso) {
    if (!iso) return "";
    var zone = config.school.timezone;
    var date = new Date(iso);
    var day = { timeZone: zone, year: "numeric", month: "2-digit", day: "2-digit" };
    var same = new Intl.DateTimeFormat("en", day).format(date) === new Intl.DateTimeFormat("en", day).format(new Date());
    var options = same
      ? { timeZone: zone, hour: "2-digit", minute: "2-digit", hour12: false }
      : { timeZone: zone, weekday: "short", day: "numeric", month: "short", hour: "2-digit", minute: "2-digit", hour12: false };
    return new Intl.DateTimeFormat(i18n.language(), options).format(date);
  }

  function problem(text) {
    $("form-problem").textContent = text || "";
    $("form-problem").hidden = !text;
  }

  function resetForm() {
    state.editing = null;
    $("form-title").textContent = gettext("New announcement");
    $("save").textContent = gettext("Add");
    $("edit-cancel").hidden = true;
    $("a-title").value = "";
    $("a-body").value = "";
    $("a-start").value = state.defaults.starts_at;
    $("a-end").value = state.defaults.ends_at;
    $("a-priority").value = "1";
    setTargets(null);
    problem("");
  }

  function setTargets(screens) {
    var chosen = screens !== null && screens !== undefined;
    document.querySelector("input[name=target][value=" + (chosen ? "chosen" : "all") + "]").checked = true;
    $("screen-choices").hidden = !chosen;
    Array.prototype.forEach.call(document.querySelectorAll("input[name=screen]"), function (box) {
      box.checked = chosen && screens.indexOf(Number(box.value)) !== -1;
    });
  }

  function edit(item) {
    state.editing = item.id;
    $("form-title").textContent = interpolate(gettext("Edit “%(title)s”"), { title: item.title });
    $("save").textContent = gettext("Save");
    $("edit-cancel").hidden = false;
    $("a-title").value = item.title;
    $("a-body").value = item.body;
    $("a-start").value = item.starts_local;
    $("a-end").value = item.ends_local || "";
    $("a-priority").value = String(item.priority);
    setTargets(item.screens);
    problem("");
    $("a-title").focus();
    window.scrollTo(0, 0);
  }

  function render() {
    var list = $("list");
    list.textContent = "";
    state.items.forEach(function (item) {
      var card = el("article", "announcement");
      card.dataset.announcement = item.id;
      var title = el("h3", null, item.title);
      title.appendChild(el("span", "badge " + (item.active ? "now" : "later"), item.active ? gettext("showing now") : gettext("upcoming")));
      if (item.priority === 2) title.appendChild(el("span", "badge high", item.priority_label));
      card.appendChild(title);
      if (item.body) card.appendChild(el("p", "body", item.body));
      card.appendChild(el("div", "when", item.ends_at
        ? interpolate(gettext("%(start)s until %(end)s"), { start: fmt(item.starts_at), end: fmt(item.ends_at) })
        : interpolate(gettext("from %(start)s, until removed"), { start: fmt(item.starts_at) })));
      card.appendChild(el("div", "where", item.screens === null
        ? gettext("Every screen")
        : interpolate(gettext("Screens: %(names)s"), { names: item.screen_names.join(", ") })));
      var buttons = el("div", "buttons");
      var editButton = el("button", null, gettext("Edit"));
      editButton.type = "button";
      editButton.dataset.edit = item.id;
      buttons.appendChild(editButton);
      var end = el("button", "danger", item.active ? gettext("End now") : gettext("Remove"));
      end.type = "button";
      end.dataset.end = item.id;
      buttons.appendChild(end);
      card.appendChild(buttons);
      list.appendChild(card);
    });
    $("list-empty").hidden = state.items.length > 0;
  }

  function apply(result) {
    state.items = result.data.announcements;
    state.defaults = result.data.defaults;
    render();
  }

  function save(event) {
    event.preventDefault();
    if (state.busy) return;
    var chosen = document.querySelector("input[name=target]:checked").value === "chosen";
    var screens = chosen ? Array.prototype.map.call(document.querySelectorAll("input[name=screen]:checked"), function (box) { return Number(box.value); }) : null;
    if (!$("a-title").value.trim()) { problem(gettext("The title may not be empty.")); $("a-title").focus(); return; }
    if (chosen && !screens.length) { problem(gettext("Choose at least one screen, or every screen.")); return; }
    var data = {
      title: $("a-title").value,
      body: $("a-body").value,
      starts_at: $("a-start").value,
      ends_at: $("a-end").value,
      priority: Number($("a-priority").value),
      screens: screens
    };
    if (state.editing !== null) data.id = state.editing;
    state.busy = true;
    request("POST", config.save_url, data).then(function (result) {
      state.busy = false;
      if (result.status === 200 || result.status === 201) { apply(result); resetForm(); }
      else problem(result.data.detail || gettext("Could not save."));
    }, function () { state.busy = false; problem(gettext("Could not reach hallboard.")); });
  }

  function endNow(id) {
    request("POST", config.end_url.replace("{id}", id), {}).then(function (result) {
      if (result.status === 200) {
        apply(result);
        if (state.editing === id) resetForm();
      } else {
        $("notice").textContent = result.data.detail || gettext("Could not end it.");
        $("notice").hidden = false;
      }
    }, function () { $("notice").textContent = gettext("Could not reach hallboard."); $("notice").hidden = false; });
  }

  $("form-add").addEventListener("submit", save);
  $("edit-cancel").addEventListener("click", resetForm);
  Array.prototype.forEach.call(document.querySelectorAll("input[name=target]"), function (radio) {
    radio.addEventListener("change", function () { $("screen-choices").hidden = radio.value !== "chosen" || !radio.checked; });
  });
  document.addEventListener("click", function (event) {
    var target = event.target.closest("button");
    if (!target) return;
    var byId = function (id) { return state.items.filter(function (i) { return i.id === Number(id); })[0]; };
    if (target.dataset.edit) { var item = byId(target.dataset.edit); if (item) edit(item); }
    else if (target.dataset.end) endNow(Number(target.dataset.end));
  });
  // Ended ones leave the list, upcoming ones start: read it again now and then.
  setInterval(function () {
    request("GET", config.list_url).then(function (result) { if (result.status === 200) apply(result); });
  }, 60000);

  window.hallboardAnnouncements = state;
  resetForm();
  render();
})();
