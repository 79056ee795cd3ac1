/* The live dashboard's notice of a failing watched source (hallboard.imports.watch).
   The page renders it; this keeps it current every 30 s from the API, with times in
   the school's zone. The sentence comes translated from the page (data-text). */
(function () {
  "use strict";
  var EVERY_MS = 30000;

  function when(value, tz, withDate) {
    if (!value) { return "–"; }
    var options = { timeZone: tz, hour: "2-digit", minute: "2-digit" };
    if (withDate) { options.day = "2-digit"; options.month = "2-digit"; }
    try {
      return new Intl.DateTimeFormat(undefined, options).format(new Date(value));
    } catch (e) {
      return value;
    }
  }

  function refresh(box) {
    fetch(box.dataset.url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (answer) { return answer.ok ? answer.json() : null; })
      .then(function (state) {
        if (!state) { return; }
        if (!state.failing) { box.hidden = true; return; }
        box.textContent = box.dataset.text
          .replace("{since}", when(state.failing_since, box.dataset.tz, true))
          .replace("{reason}", state.reason || state.error || "")
          .replace("{checked}", when(state.last_checked_at, box.dataset.tz, false));
        box.hidden = false;
      })
      .catch(function () { /* the next round tries again */ });
  }

  function start() {
    var boxes = document.querySelectorAll(".import-source[data-url]");
    Array.prototype.forEach.call(boxes, function (box) {
      refresh(box);
      setInterval(function () { refresh(box); }, EVERY_MS);
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
