/*
 * Hold-to-confirm buttons (docs/staff.md): an action that must not happen by accident
 * happens only after the button is held down for `ms` milliseconds — by mouse, finger,
 * or the space or enter key. Letting go early, sliding off or a second finger cancels.
 *
 *   window.hallboardHold(button, ms, onConfirm)
 */
(function () {
  "use strict";

  window.hallboardHold = function (button, ms, onConfirm) {
    var timer = null;
    var fill = button.querySelector(".hold-fill");

    function reset() {
      clearTimeout(timer);
      timer = null;
      button.classList.remove("holding");
      if (fill) { fill.style.transitionDuration = "0ms"; fill.style.width = "0"; }
    }

    function start(event) {
      if (timer || button.disabled) return;
      if (event && event.cancelable) event.preventDefault();
      button.classList.add("holding");
      if (fill) {
        fill.style.transitionDuration = ms + "ms";
        void fill.offsetWidth; // the transition runs from empty to full
        fill.style.width = "100%";
      }
      timer = setTimeout(function () {
        timer = null;
        button.classList.remove("holding");
        if (fill) { fill.style.transitionDuration = "0ms"; fill.style.width = "0"; }
        onConfirm();
      }, ms);
    }

    button.addEventListener("pointerdown", function (event) {
      if (event.button !== 0) return;
      try { button.setPointerCapture(event.pointerId); } catch (e) { /* not capturable */ }
      start(event);
    });
    ["pointerup", "pointercancel", "lostpointercapture"].forEach(function (name) {
      button.addEventListener(name, reset);
    });
    button.addEventListener("pointerleave", reset);
    button.addEventListener("keydown", function (event) {
      if ((event.key === " " || event.key === "Enter") && !event.repeat) start(event);
      else if (event.key === " " || event.key === "Enter") event.preventDefault();
    });
    button.addEventListener("keyup", function (event) {
      if (event.key === " " || event.key === "Enter") reset();
    });
    button.addEventListener("blur", reset);
    button.addEventListener("contextmenu", function (event) { event.preventDefault(); });
    button.addEventListener("click", function (event) { event.preventDefault(); }); // a click is not a hold
    return { reset: reset };
  };
})();
