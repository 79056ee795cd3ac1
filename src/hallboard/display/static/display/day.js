/*
 * hallboard display: the school day, rendered (docs/protocol.md, "The day").
 *
 * The server computes the effective timetable (hallboard.timetable.day): each
 * slot carries its regular values ("regular"), the values now ("now": null when
 * it does not take place) and the change applied. This file only renders that,
 * and reconciles nothing: a change is shown in place, the regular value struck
 * out and the new one highlighted; a cancelled lesson is struck out with a red
 * "Cancelled" badge.
 *
 *   var day = window.hallboardDay(words);   // words: gettext, interpolate, date, periodLabel
 *   day.changes(snap, now)    -> HTML of the changes list (today, then the next school day)
 *   day.timetable(snap, now)  -> {title, html}: the grid for a few classes, else now/next
 *   day.headline(snap)        -> {week, closure}: "Week A", and the no-school message
 *
 * Every word comes from gettext (the school's language; hallboard/i18n.js).
 */
(function () {
  "use strict";

  window.hallboardDay = function (words) {
    var gettext = words.gettext;
    var interpolate = words.interpolate;
    function gettext_noop(msgid) { return msgid; }

    var KIND = {
      cancelled: gettext_noop("Cancelled"),
      substitute: gettext_noop("Substitute"),
      room_change: gettext_noop("Room change"),
      moved: gettext_noop("Moved"),
      swapped: gettext_noop("Swapped"),
      extra: gettext_noop("Extra lesson"),
      exam: gettext_noop("Exam"),
      supervision: gettext_noop("Supervision"),
      note: gettext_noop("Note")
    };
    var CLOSURE = {
      holiday: gettext_noop("Holidays"),
      public_holiday: gettext_noop("Public holiday"),
      closure: gettext_noop("School closed")
    };

    function esc(text) {
      return String(text == null ? "" : text).replace(/[&<>"']/g, function (c) {
        return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c];
      });
    }

    function toMinutes(hm) {
      var parts = String(hm).split(":");
      return parseInt(parts[0], 10) * 60 + parseInt(parts[1], 10);
    }

    function periodOf(snap, number) {
      for (var i = 0; i < snap.periods.length; i++) {
        if (snap.periods[i].number === number) return snap.periods[i];
      }
      return null;
    }

    function natural(a, b) { return a.localeCompare(b, undefined, { numeric: true }); }

    // "period 5", or "Tue 24 Nov, period 5" when it is another day.
    function where(snap, target, day) {
      var p = periodOf(snap, target.period);
      var label = p ? p.label : String(target.period);
      var period = /^\d+$/.test(label) ? interpolate(gettext("period %(number)s"), { number: label }) : label;
      if (target.date === day) return period;
      return interpolate(gettext("%(day)s, %(period)s"), {
        day: words.date(target.date, { weekday: "short", day: "numeric", month: "short" }),
        period: period
      });
    }

    function badge(slot, snap, day) {
      var change = slot.change;
      if (!change) return "";
      var text = gettext(KIND[change.kind] || KIND.note);
      if (change.moved_to) {
        text = interpolate(gettext("Moved to %(where)s"), { where: where(snap, change.moved_to, day) });
      } else if (change.moved_from) {
        text = interpolate(gettext("Moved from %(where)s"), { where: where(snap, change.moved_from, day) });
      }
      return '<span class="badge">' + esc(text) + "</span>";
    }

    // One of subject / rooms / teachers, in place: unchanged, struck out and new, or gone.
    function field(slot, name, cls) {
      var join = function (v) { return Array.isArray(v) ? v.join(", ") : (v || ""); };
      var regular = slot.regular ? join(slot.regular[name]) : "";
      var now = slot.now ? join(slot.now[name]) : "";
      if (!slot.now) {
        return regular ? '<s class="' + cls + ' old">' + esc(regular) + "</s>" : "";
      }
      if (!slot.regular) {
        return now ? '<b class="' + cls + ' new">' + esc(now) + "</b>" : "";
      }
      if (slot.changed.indexOf(name) >= 0) {
        return (regular ? '<s class="' + cls + ' old">' + esc(regular) + "</s> " : "") +
          '<b class="' + cls + ' new">' + esc(now || "—") + "</b>";
      }
      return now ? '<span class="' + cls + '">' + esc(now) + "</span>" : "";
    }

    function values(slot) {
      var parts = [field(slot, "subject", "subject"), field(slot, "rooms", "room"), field(slot, "teachers", "who")];
      if (slot.group) parts.splice(1, 0, '<span class="group">' + esc(slot.group) + "</span>");
      return parts.filter(Boolean).join(" ");
    }

    function kindClass(slot) {
      if (!slot.change) return "";
      var kind = slot.change.kind;
      if (slot.change.moved_to) kind = "moved-away";
      return " kind-" + esc(kind) + (slot.now ? "" : " gone");
    }

    function classLabel(slot) { return slot.classes.join(", "); }

    function isPast(snap, slot, now) {
      var p = periodOf(snap, slot.period);
      return !!p && toMinutes(p.end) <= words.minutes(now);
    }

    // --- the changes list ---------------------------------------------------------
    function changeRows(snap, day, slots) {
      var groups = {};
      var order = [];
      slots.forEach(function (slot) {
        var name = classLabel(slot);
        if (!groups[name]) { groups[name] = []; order.push(name); }
        groups[name].push(slot);
      });
      order.sort(natural);
      return order.map(function (name) {
        var rows = groups[name].map(function (slot) {
          var note = slot.change && slot.change.note;
          return '<div class="sub-row' + kindClass(slot) + '">' +
            '<span class="p">' + esc(periodLabelShort(snap, slot.period)) + "</span>" +
            badge(slot, snap, day.date) + '<span class="values">' + values(slot) + "</span>" +
            (note ? '<span class="note">' + esc(note) + "</span>" : "") +
            "</div>";
        }).join("");
        return '<div class="sub-class"><div class="class-name">' + esc(name) + "</div>" + rows + "</div>";
      }).join("");
    }

    function periodLabelShort(snap, number) {
      var p = periodOf(snap, number);
      return p ? p.label : String(number);
    }

    function changedSlots(day) {
      return day.slots.filter(function (slot) { return !!slot.change; });
    }

    function dayTitle(day) {
      return words.date(day.date, { weekday: "long", day: "numeric", month: "long" }) +
        (day.week_label ? " · " + interpolate(gettext("Week %(label)s"), { label: day.week_label }) : "");
    }

    function changes(snap, now) {
      var today = snap.day;
      var html = "";
      var empty = true;
      if (today && today.school_day) {
        var slots = changedSlots(today);
        var shown = snap.screen.hide_past_periods
          ? slots.filter(function (slot) { return !isPast(snap, slot, now); })
          : slots;
        if (shown.length) {
          html += changeRows(snap, today, shown);
          empty = false;
        } else {
          html += '<p class="empty">' + esc(slots.length ? gettext("No more changes today.") : gettext("No changes today.")) + "</p>";
        }
      }
      var next = snap.next;
      if (next) {
        var nextSlots = changedSlots(next);
        html += '<h3 class="day-head">' + esc(dayTitle(next)) + "</h3>";
        if (nextSlots.length) {
          html += changeRows(snap, next, nextSlots);
          empty = false;
        } else {
          html += '<p class="empty">' + esc(gettext("No changes.")) + "</p>";
        }
      }
      return { html: html, empty: empty };
    }

    // --- the timetable: grid for a few classes, else the current or next period --------
    function classesOf(day) {
      var seen = [];
      day.slots.forEach(function (slot) {
        slot.classes.forEach(function (c) { if (seen.indexOf(c) < 0) seen.push(c); });
      });
      return seen.sort(natural);
    }

    function cell(snap, slot, day) {
      return '<div class="cell' + kindClass(slot) + '">' + values(slot) +
        (slot.change && slot.change.kind !== "note" ? " " + badge(slot, snap, day.date) : "") +
        (slot.change && slot.change.note ? '<span class="note">' + esc(slot.change.note) + "</span>" : "") +
        "</div>";
    }

    function grid(snap, day, classes, periods) {
      var head = "<tr><th></th>" + classes.map(function (c) { return "<th>" + esc(c) + "</th>"; }).join("") + "</tr>";
      var body = (periods || snap.periods).map(function (p) {
        var cells = classes.map(function (c) {
          var here = day.slots.filter(function (s) { return s.period === p.number && s.classes.indexOf(c) >= 0; });
          return "<td>" + here.map(function (s) { return cell(snap, s, day); }).join("") + "</td>";
        }).join("");
        return '<tr><th class="p">' + esc(p.label) + "</th>" + cells + "</tr>";
      }).join("");
      return '<table class="grid">' + head + body + "</table>";
    }

    function periodRows(snap, day, number) {
      return day.slots.filter(function (s) { return s.period === number; }).map(function (slot) {
        return '<div class="lesson-row' + kindClass(slot) + '"><span class="class-name">' + esc(classLabel(slot)) +
          "</span>" + '<span class="values">' + values(slot) + "</span>" +
          (slot.change && slot.change.kind !== "note" ? badge(slot, snap, day.date) : "") + "</div>";
      }).join("");
    }

    function timetable(snap, now) {
      var today = snap.day;
      if (!today || !today.school_day) {
        var next = snap.next;
        if (!next || !next.slots.length) return { title: gettext("Timetable"), html: "" };
        var nextClasses = classesOf(next);
        var first = snap.periods.length ? snap.periods[0] : null;
        if (nextClasses.length <= 4 || !first) {
          return { title: dayTitle(next), html: grid(snap, next, nextClasses) };
        }
        return {
          title: interpolate(gettext("%(day)s: %(period)s"), { day: dayTitle(next), period: words.periodLabel(first) }),
          html: periodRows(snap, next, first.number)
        };
      }
      var classes = classesOf(today);
      if (!today.slots.length) {
        return { title: gettext("Timetable"), html: '<p class="empty">' + esc(gettext("No lessons today.")) + "</p>" };
      }
      var minutes = words.minutes(now);
      if (classes.length <= 4) {
        // A screen that hides past periods starts its grid at the first one not yet over.
        var left = snap.screen.hide_past_periods
          ? snap.periods.filter(function (p) { return toMinutes(p.end) > minutes; })
          : snap.periods;
        if (!left.length) {
          return { title: gettext("Today"), html: '<p class="empty">' + esc(gettext("No more lessons today.")) + "</p>" };
        }
        return { title: gettext("Today"), html: grid(snap, today, classes, left) };
      }
      var current = null;
      var upcoming = null;
      snap.periods.forEach(function (p) {
        if (toMinutes(p.start) <= minutes && minutes < toMinutes(p.end)) current = p;
        else if (toMinutes(p.start) > minutes && !upcoming) upcoming = p;
      });
      var slot = current || upcoming;
      if (!slot) {
        return { title: gettext("Timetable"), html: '<p class="empty">' + esc(gettext("No more lessons today.")) + "</p>" };
      }
      var title = interpolate(current ? gettext("Now: %(period)s") : gettext("Next: %(period)s"),
        { period: words.periodLabel(slot) });
      return { title: title, html: periodRows(snap, today, slot.number) };
    }

    // --- the header: week label; a day without school says so ----------------------------
    function headline(snap) {
      var today = snap.day;
      var week = today && today.week_label ? interpolate(gettext("Week %(label)s"), { label: today.week_label }) : "";
      var closure = "";
      if (today && !today.school_day) {
        var title;
        if (today.closure) {
          title = today.closure.name || gettext(CLOSURE[today.closure.kind] || CLOSURE.closure);
        } else {
          title = gettext("No lessons today");
        }
        var until = today.closure && today.closure.ends_on !== today.date
          ? interpolate(gettext("until %(day)s"), {
            day: words.date(today.closure.ends_on, { weekday: "long", day: "numeric", month: "long" })
          })
          : "";
        var nextText = snap.next
          ? interpolate(gettext("Next school day: %(day)s"), { day: dayTitle(snap.next) })
          : "";
        closure = '<div class="closure-title">' + esc(title) + (until ? ' <span class="until">' + esc(until) + "</span>" : "") +
          "</div>" + (nextText ? '<div class="closure-next">' + esc(nextText) + "</div>" : "");
      }
      return { week: week, closure: closure };
    }

    return { changes: changes, timetable: timetable, headline: headline };
  };
})();
