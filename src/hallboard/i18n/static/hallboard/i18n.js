/*
 * hallboard's translations in the browser (docs/translations.md): the page carries its
 * catalogs as JSON (<script type="application/json" id="i18n">, hallboard.i18n.jscatalog),
 * read here. The functions are named as Django's JavaScript catalog names them, so that
 * `django-admin makemessages -d djangojs` finds the strings:
 *
 *   var t = hallboardI18n.forLanguage(function () { return "de"; });
 *   t.gettext("Substitutions"); t.ngettext("%(n)s screen", "%(n)s screens", n);
 *   t.interpolate(t.gettext("As of %(time)s"), { time: "07:42" });
 *
 * A message without a translation reads as its English msgid.
 */
(function () {
  "use strict";

  var data = { default: "en", catalogs: {} };
  var node = document.getElementById("i18n");
  if (node) {
    try {
      var parsed = JSON.parse(node.textContent);
      if (parsed && parsed.catalogs) data = parsed;
    } catch (e) { /* English it is */ }
  }

  function catalogOf(language) {
    return data.catalogs[language] || data.catalogs[String(language || "").split("-")[0]] || null;
  }

  function pluralIndex(catalog, n) {
    var table = (catalog && catalog.plural) || [];
    n = Math.abs(Math.floor(Number(n) || 0));
    var i = n < table.length ? table[n] : table[100 + (n % 100)];
    return i === undefined ? (n === 1 ? 0 : 1) : i;
  }

  // %(name)s placeholders, as in Python's catalogs; %% is a percent sign.
  function interpolate(format, values) {
    return String(format).replace(/%\((\w+)\)s|%%/g, function (match, name) {
      if (!name) return "%";
      var value = values ? values[name] : undefined;
      return value === undefined || value === null ? "" : String(value);
    });
  }

  // Translation functions for the language ``languageOf()`` names at each call.
  function forLanguage(languageOf) {
    function language() { var l = languageOf(); return catalogOf(l) ? l : data.default; }
    function current() { return catalogOf(language()); }
    return {
      language: language,
      gettext: function (msgid) {
        var catalog = current();
        var text = catalog && catalog.messages[msgid];
        return typeof text === "string" && text ? text : msgid;
      },
      ngettext: function (singular, plural, n) {
        var catalog = current();
        var forms = catalog && catalog.messages[singular];
        var i = pluralIndex(catalog, n);
        if (Array.isArray(forms) && forms[i]) return forms[i];
        return i === 0 ? singular : plural;
      },
      pgettext: function (context, msgid) {
        var catalog = current();
        var text = catalog && catalog.messages[context + "\u0004" + msgid];
        return typeof text === "string" && text ? text : msgid;
      },
      interpolate: interpolate
    };
  }

  window.hallboardI18n = {
    defaultLanguage: data.default,
    languages: Object.keys(data.catalogs),
    forLanguage: forLanguage,
    interpolate: interpolate
  };
})();
