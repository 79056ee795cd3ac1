/*
 * Adding a substitution in the admin: the lessons offered are those of the chosen school
 * on the chosen date's weekday (the server filters them). When the school or the date
 * changes before anything else is filled in, the page is opened again for them.
 */
(function () {
  "use strict";

  function reopen() {
    var school = document.getElementById("id_school");
    var date = document.getElementById("id_date");
    if (!school || !date || !school.value || !date.value) return;
    var params = new URLSearchParams(window.location.search);
    if (params.get("school") === school.value && params.get("date") === date.value) return;
    params.set("school", school.value);
    params.set("date", date.value);
    window.location.search = params.toString();
  }

  document.addEventListener("DOMContentLoaded", function () {
    // Only on the add page: an existing substitution is checked when saved.
    if (!/\/add\/$/.test(window.location.pathname)) return;
    ["id_school", "id_date"].forEach(function (id) {
      var input = document.getElementById(id);
      if (input) input.addEventListener("change", reopen);
    });
    // The calendar and "Today" shortcuts set the date without a change event.
    var date = document.getElementById("id_date");
    var last = date ? date.value : "";
    if (date) {
      setInterval(function () {
        if (date.value !== last && document.activeElement !== date) { last = date.value; reopen(); }
      }, 500);
    }
  });
})();
