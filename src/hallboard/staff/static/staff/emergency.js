/*
 * hallboard emergency panel (docs/staff.md "Emergency panel"). No framework, no build step.
 *
 * A template button opens the send sheet with the template's words (editable); holding
 * "Hold to send" triggers the alert. The active alerts, each with its reach (which
 * screens showed it, with their status) and an all-clear button held like the send
 * button, come from the server's state endpoint, read again every poll_s seconds while
 * an alert is on. Every figure is the server's: this page only shows it.
 */
(function () {
  "use strict";

  var config = JSON.parse(document.getElementById("emergency-config").textContent);
  var i18n = window.hallboardI18n.forLanguage(function () { return document.documentElement.lang; });
  var gettext = i18n.gettext;
  var ngettext = i18n.ngettext;
  var interpolate = i18n.interpolate;
  function gettext_noop(msgid) { return msgid; }

  var STATUS_LABEL = { online: gettext_noop("online"), stale: gettext_noop("stale"), offline: gettext_noop("offline") };
  var templates = {};
  config.templates.forEach(function (t) { templates[t.id] = t; });
  var state = { current: null, alerts: config.state.alerts, timer: null, sending: false, reads: 0 };

  function $(id) { return document.getElementById(id); }
  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function fmtTime(iso) {
    if (!iso) return "";
    return new Intl.DateTimeFormat(i18n.language(), {
      timeZone: config.school.timezone, hour: "2-digit", minute: "2-digit", hour12: false
    }).format(new Date(iso));
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

  function showNotice(text) {
    $("notice").textContent = text || "";
    $("notice").hidden = !text;
  }

  // --- the active alerts ---------------------------------------------------------------
  function screenItem(screen) {
    var li = el("li", "reach-screen " + (screen.shown ? "shown" : "not-shown"));
    li.dataset.screen = screen.id;
    li.appendChild(el("span", "reach-mark", screen.shown ? "✓" : "–"));
    var name = el("span", "reach-name", screen.name);
    if (screen.school !== config.school.slug) name.appendChild(el("span", "sub", " · " + screen.school));
    li.appendChild(name);
    li.appendChild(el("span", "status " + screen.status, STATUS_LABEL[screen.status] ? gettext(STATUS_LABEL[screen.status]) : screen.status));
    li.appendChild(el("span", "reach-when", screen.shown
      ? interpolate(gettext("showed it at %(time)s"), { time: fmtTime(screen.shown_at) })
      : screen.status_reason));
    return li;
  }

  function alertCard(alert) {
    var card = el("article", "alert-card severity-" + alert.severity);
    card.dataset.alert = alert.id;
    var head = el("div", "alert-card-head");
    head.appendChild(el("span", "alert-kind", alert.kind_label));
    head.appendChild(el("span", "alert-since", interpolate(gettext("since %(time)s"), { time: fmtTime(alert.starts_at) })));
    card.appendChild(head);
    card.appendChild(el("h2", "alert-headline", alert.headline));
    if (alert.instructions) card.appendChild(el("p", "alert-instructions", alert.instructions));
    card.appendChild(el("p", "alert-scope", alert.scope_label));

    var reach = alert.reach;
    var figure = el("p", "reach-figure");
    figure.appendChild(el("b", "reach-count", interpolate(gettext("Shown on %(shown)s of %(total)s screens"), { shown: reach.shown, total: reach.in_scope })));
    figure.appendChild(el("span", "sub", interpolate(ngettext("%(count)s online now", "%(count)s online now", reach.online), { count: reach.online })));
    card.appendChild(figure);
    var meter = el("div", "reach-meter");
    var bar = el("span", "reach-bar");
    bar.style.width = (reach.in_scope ? Math.round(100 * reach.shown / reach.in_scope) : 0) + "%";
    meter.appendChild(bar);
    card.appendChild(meter);

    var list = el("ul", "reach-list");
    var screens = reach.screens.slice().sort(function (a, b) { return (a.shown - b.shown) || a.name.localeCompare(b.name); });
    screens.forEach(function (screen) { list.appendChild(screenItem(screen)); });
    card.appendChild(list);
    if (reach.elsewhere) {
      card.appendChild(el("p", "sub", interpolate(ngettext("%(count)s more screen in schools where you lack the alert right.",
        "%(count)s more screens in schools where you lack the alert right.", reach.elsewhere), { count: reach.elsewhere })));
    }
    if (alert.can_clear) {
      var button = el("button", "hold hold-clear");
      button.type = "button";
      button.dataset.clear = alert.id;
      button.appendChild(el("span", "hold-fill"));
      button.appendChild(el("span", "hold-text", gettext("Hold for all-clear")));
      card.appendChild(button);
      window.hallboardHold(button, config.hold_ms, function () { allClear(alert, button); });
    } else {
      card.appendChild(el("p", "sub", gettext("An organisation role ends an alert of every school.")));
    }
    return card;
  }

  function render() {
    var box = $("active");
    // Keep a card that is being held: replacing it would cancel the hold.
    var holding = box.querySelector(".holding");
    if (holding) return;
    box.textContent = "";
    state.alerts.forEach(function (alert) { box.appendChild(alertCard(alert)); });
    $("none-active").hidden = state.alerts.length > 0;
    document.body.classList.toggle("alert-on", state.alerts.length > 0);
  }

  function schedule() {
    clearTimeout(state.timer);
    var seconds = state.alerts.length ? config.poll_s : config.idle_poll_s;
    state.timer = setTimeout(load, seconds * 1000);
  }

  function load() {
    return request("GET", config.state_url).then(function (result) {
      if (result.status === 200) {
        state.alerts = result.data.alerts;
        state.reads++;
        showNotice("");
        render();
      } else {
        showNotice(result.data.detail || gettext("Could not read the alerts."));
      }
    }, function () {
      showNotice(gettext("Could not reach hallboard."));
    }).then(schedule, schedule);
  }

  function allClear(alert, button) {
    button.disabled = true;
    request("POST", config.clear_url.replace("{id}", alert.id), {}).then(function (result) {
      if (result.status === 200) {
        state.alerts = result.data.alerts;
        showNotice("");
        render();
        schedule();
      } else {
        button.disabled = false;
        showNotice(result.data.detail || gettext("Could not send the all-clear."));
      }
    }, function () {
      button.disabled = false;
      showNotice(gettext("Could not reach hallboard."));
    });
  }

  // --- sending -------------------------------------------------------------------------
  function openSend(template) {
    state.current = template;
    $("send-title").textContent = template.label;
    $("send-headline").value = template.headline;
    $("send-instructions").value = template.instructions;
    $("send-problem").hidden = true;
    var school = document.querySelector('input[name=scope][value=school]');
    if (school) school.checked = true;
    $("dlg-send").showModal();
    $("send-hold").focus();
  }

  function send() {
    var template = state.current;
    var headline = $("send-headline").value.trim();
    if (!template || state.sending) return;
    if (!headline) {
      $("send-problem").textContent = gettext("The headline may not be empty.");
      $("send-problem").hidden = false;
      return;
    }
    var scope = document.querySelector("input[name=scope]:checked");
    state.sending = true;
    $("send-hold").disabled = true;
    request("POST", config.trigger_url, {
      template: template.id,
      headline: headline,
      instructions: $("send-instructions").value,
      scope: scope ? scope.value : "school"
    }).then(function (result) {
      state.sending = false;
      $("send-hold").disabled = false;
      if (result.status === 201) {
        $("dlg-send").close();
        state.alerts = [result.data].concat(state.alerts.filter(function (a) { return a.id !== result.data.id; }));
        render();
        schedule();
        window.scrollTo(0, 0);
      } else {
        $("send-problem").textContent = result.data.detail || gettext("Could not send the alert.");
        $("send-problem").hidden = false;
      }
    }, function () {
      state.sending = false;
      $("send-hold").disabled = false;
      $("send-problem").textContent = gettext("Could not reach hallboard.");
      $("send-problem").hidden = false;
    });
  }

  window.hallboardHold($("send-hold"), config.hold_ms, send);

  document.addEventListener("click", function (event) {
    var target = event.target.closest("button");
    if (!target) return;
    if (target.dataset.template) { openSend(templates[target.dataset.template]); return; }
    if (target.hasAttribute("data-close")) target.closest("dialog").close();
  });

  window.hallboardEmergency = state; // for support and tests: the page's state
  render();
  schedule();
})();
