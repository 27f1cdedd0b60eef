/* Interlingua Bench leaderboard: the main table's tabs, sorting, filters, search and view, all kept
   in the URL's hash (so a view can be linked, survives a reload and comes back on Back), and the
   charts' highlighting. Written for this site (no library); pages read fine without it. */
(function () {
  "use strict";
  document.documentElement.classList.add("js");

  var DEFAULTS = { tab: "overview", sort: "", dir: "", q: "", mod: "", lang: "", ctl: "1", ref: "1", view: "score" };
  var KEYS = Object.keys(DEFAULTS);
  var each = function (list, fn) { Array.prototype.forEach.call(list, fn); };

  // --- the state <-> the URL hash ----------------------------------------------------------------

  var applied = null;  // the state last shown

  function isStateHash(hash) {  // "#tab=gaps&q=e5" or "#" (defaults); "#main" is an anchor, not a state
    var text = hash.replace(/^#/, "");
    return text === "" || text.indexOf("=") >= 0;
  }

  function readState() {
    var state = {};
    if (!isStateHash(location.hash) && applied) {  // an anchor: the view stays as it is
      KEYS.forEach(function (k) { state[k] = applied[k]; });
      return state;
    }
    var params = new URLSearchParams(isStateHash(location.hash) ? location.hash.replace(/^#/, "") : "");
    KEYS.forEach(function (k) { state[k] = params.has(k) ? params.get(k) : DEFAULTS[k]; });
    return clean(state);
  }

  function clean(state) {  // a hand-edited or stale link: values the page does not offer fall back to the defaults
    var has = function (selector) { return !!document.querySelector(selector); };
    var option = function (id, value) {
      var el = document.getElementById(id);
      return !el || Array.prototype.some.call(el.options, function (o) { return o.value === value; });
    };
    if (!option("f-modality", state.mod)) state.mod = DEFAULTS.mod;
    if (!option("f-langgroup", state.lang)) state.lang = DEFAULTS.lang;
    if (state.sort && !has('#board thead th[data-key="' + CSS.escape(state.sort) + '"]')) state.sort = DEFAULTS.sort;
    if (["", "asc", "desc"].indexOf(state.dir) < 0) state.dir = DEFAULTS.dir;
    if (["score", "margin"].indexOf(state.view) < 0) state.view = DEFAULTS.view;
    if (state.ctl !== "0") state.ctl = "1";
    if (state.ref !== "0") state.ref = "1";
    return state;
  }

  function hashOf(state) {
    var params = new URLSearchParams();
    KEYS.forEach(function (k) { if (state[k] !== DEFAULTS[k] && state[k] !== "") params.set(k, state[k]); });
    var text = params.toString();
    return text ? "#" + text : "#";
  }

  function go(state, replace) {  // a new history entry (or the current one replaced); hashchange applies it
    var hash = hashOf(state);
    if (hash === (location.hash || "#")) { apply(state); return; }
    if (replace) location.replace(hash); else location.hash = hash;
  }

  // --- the table ---------------------------------------------------------------------------------

  var columnIndex = {};  // a header's data-key -> its position (every row has a cell per column)

  function sortValue(tbody, key, numeric, margin) {
    var row = tbody.rows[0], cell = row ? row.cells[columnIndex[key]] : null;
    var raw = cell ? cell.getAttribute(margin && cell.hasAttribute("data-margin") ? "data-margin" : "data-value") : "";
    if (!numeric) return raw === null || raw === "" ? null : raw.toLowerCase();
    var value = parseFloat(raw);
    return isNaN(value) ? null : value;
  }

  function defaultSort(table, state) {
    if (state.sort) return state.sort;
    return table.querySelector('thead th[data-key="rank-' + state.tab + '"]') ? "rank-" + state.tab : "";
  }

  function sortTable(table, state) {
    var key = defaultSort(table, state);
    var th = key ? table.querySelector('thead th[data-key="' + key + '"]') : null;
    each(table.tHead.rows[0].cells, function (h) { if (h.hasAttribute("aria-sort")) h.setAttribute("aria-sort", "none"); });
    var bodies = Array.prototype.slice.call(table.tBodies);
    var groups = [bodies.filter(function (b) { return b.classList.contains("pair"); }),
                  bodies.filter(function (b) { return b.classList.contains("ref"); })];
    var numeric = th && th.getAttribute("data-sort") === "number";
    var best = th && th.getAttribute("data-higher-is-better") !== "false" && numeric;
    var descending = state.dir ? state.dir === "desc" : !!best;
    if (th) th.setAttribute("aria-sort", descending ? "descending" : "ascending");
    var margin = state.view === "margin";
    groups = groups.map(function (list) {
      var keyed = list.map(function (b) { return { body: b, value: th ? sortValue(b, key, numeric, margin) : null }; });
      keyed.sort(function (a, b) {
        var order = a.body._order - b.body._order;
        var x = a.value, y = b.value;
        if (x === null) return y === null ? order : 1;  // empty cells last, either direction
        if (y === null) return -1;
        var c = x < y ? -1 : x > y ? 1 : 0;
        return (descending ? -c : c) || order;
      });
      return keyed.map(function (k) { return k.body; });
    });
    var band = bodies.filter(function (b) { return b.classList.contains("band"); });
    var wanted = groups[0].concat(band, groups[1]);
    if (wanted.every(function (b, i) { return bodies[i] === b; })) return;  // already in order
    var fragment = document.createDocumentFragment();
    wanted.forEach(function (b) { fragment.appendChild(b); });
    table.appendChild(fragment);
  }

  function rowMatches(row, state) {
    var has = (row.getAttribute("data-modalities") || "").split(" ").filter(Boolean);
    if (state.mod) {
      var parts = state.mod.split(":"), how = parts[0], want = (parts[1] || "").split("+");
      if (how === "only" && !(has.length === 1 && has[0] === want[0])) return false;
      if (how === "has" && has.indexOf(want[0]) < 0) return false;
      if (how === "all" && !want.every(function (m) { return has.indexOf(m) >= 0; })) return false;
    }
    if (state.lang && row.getAttribute("data-langgroup") !== state.lang) return false;
    if (state.ctl === "0" && row.getAttribute("data-control") === "true") return false;
    if (state.ref === "0" && row.getAttribute("data-reference") === "true") return false;
    var q = state.q.trim().toLowerCase();
    return !q || (row.getAttribute("data-name") || "").indexOf(q) >= 0;
  }

  function filterTable(table, state) {
    var shown = 0, total = 0, refs = 0;
    each(table.tBodies, function (body) {
      if (body.classList.contains("band")) return;
      var visible = 0;
      each(body.rows, function (row) {
        var ok = rowMatches(row, state);
        row.hidden = !ok;
        total++;
        if (ok) { shown++; visible++; }
      });
      body.hidden = visible === 0;
      if (body.classList.contains("ref")) refs += visible;
    });
    each(table.querySelectorAll("tbody.band"), function (b) { b.hidden = refs === 0; });
    var count = document.getElementById("f-count");
    if (count) count.textContent = shown === total ? total + " rows" : shown + " of " + total + " rows";
  }

  function syncForm(state) {
    var set = function (id, prop, value) { var el = document.getElementById(id); if (el) el[prop] = value; };
    set("f-q", "value", state.q);
    set("f-modality", "value", state.mod);
    set("f-langgroup", "value", state.lang);
    set("f-controls", "checked", state.ctl !== "0");
    set("f-refs", "checked", state.ref !== "0");
    set("f-view-score", "checked", state.view !== "margin");
    set("f-view-margin", "checked", state.view === "margin");
    var pick = document.getElementById("f-sort");
    if (pick) {
      each(pick.options, function (o) {
        var tabs = o.getAttribute("data-tabs");
        o.hidden = !!tabs && tabs.split(" ").indexOf(state.tab) < 0;
      });
      pick.value = state.sort;
    }
    each(document.querySelectorAll("#tabs a[data-tab]"), function (a) {
      if (a.getAttribute("data-tab") === state.tab) a.setAttribute("aria-current", "true");
      else a.removeAttribute("aria-current");
    });
    each(document.querySelectorAll(".tabnote"), function (n) {
      n.classList.toggle("on", n.getAttribute("data-note") === state.tab);
    });
  }

  function apply(state) {
    var table = document.getElementById("board");
    if (!table) return;
    if (!document.querySelector('#tabs a[data-tab="' + CSS.escape(state.tab) + '"]')) state.tab = DEFAULTS.tab;
    applied = state;
    table.setAttribute("data-tab", state.tab);
    table.setAttribute("data-view", state.view === "margin" ? "margin" : "score");
    document.body.classList.toggle("view-margin", state.view === "margin");
    syncForm(state);
    sortTable(table, state);
    filterTable(table, state);
  }

  function label(th) {  // a header's name and direction, for the card view's cells
    var button = th.querySelector("button");
    return (button ? button.textContent : th.textContent).replace(/\s+/g, " ").trim();
  }

  function span(cls, text) {
    var el = document.createElement("span");
    el.className = cls;
    el.textContent = text;
    return el;
  }

  function fillDetail(table) {  // data/index.js: each score's interval and null, each empty cell's reason
    var d = window.BOARD_DETAIL;
    if (!d) return;
    var fix = function (x) { return x === null ? null : x.toFixed(3); };
    each(table.querySelectorAll("tbody tr[data-row]"), function (row) {
      var id = row.getAttribute("data-row"), cells = d.rows[id] || [], groups = d.groups[id] || [];
      cells.forEach(function (x, i) {
        var cell = row.cells[columnIndex[d.cols[i]]];
        if (!cell || !x) return;
        if (typeof x === "number") {  // why the cell is empty, on hover
          var na = cell.querySelector(".na");
          if (na) na.title = d.why[x];
          return;
        }
        var v = cell.querySelector(".v");
        if (!v) return;
        var after = v.nextSibling, add = function (el) { cell.insertBefore(document.createTextNode(" "), after); cell.insertBefore(el, after); };
        if (x[0] !== null && x[1] !== null) add(span("ci", "[" + fix(x[0]) + ", " + fix(x[1]) + "]"));
        if (x[2] !== null) add(span("null", "null " + fix(x[2])));
      });
      groups.forEach(function (w, i) {
        var cell = row.cells[columnIndex["rank-" + d.tabs[i]]];
        if (cell && w) cell.title = d.why[w];
      });
    });
  }

  function wireTable(table) {
    each(table.tBodies, function (b, i) { b._order = i; });
    var labels = [];
    each(table.tHead.rows[0].cells, function (th, i) {
      columnIndex[th.getAttribute("data-key")] = i;
      labels.push(th.classList.contains("a") ? label(th).replace(/ ↑$/, "") + " (group score · rank)" : label(th));
    });
    fillDetail(table);
    each(table.tBodies, function (body) {
      if (body.classList.contains("band")) return;
      each(body.rows, function (row) {
        each(row.cells, function (cell, i) { if (i > 0) cell.setAttribute("data-label", labels[i]); });
      });
    });
    each(table.tHead.rows[0].cells, function (th) {
      if (!th.hasAttribute("data-sort")) return;
      th.addEventListener("click", function (e) {
        if (e.target.closest("a")) return;  // the task links under a column's name
        var state = readState(), key = th.getAttribute("data-key");
        var current = th.getAttribute("aria-sort");
        if (current === "descending" || current === "ascending") {
          state.sort = key;
          state.dir = current === "descending" ? "asc" : "desc";
        } else {
          state.sort = key;
          state.dir = "";
        }
        go(state);
      });
    });
    var change = function (id, field, read, replace) {
      var el = document.getElementById(id);
      if (!el) return;
      el.addEventListener(replace ? "input" : "change", function () {
        var state = readState();
        state[field] = read(el);
        go(state, replace);
      });
    };
    change("f-q", "q", function (el) { return el.value; }, true);
    change("f-modality", "mod", function (el) { return el.value; });
    change("f-langgroup", "lang", function (el) { return el.value; });
    change("f-controls", "ctl", function (el) { return el.checked ? "1" : "0"; });
    change("f-refs", "ref", function (el) { return el.checked ? "1" : "0"; });
    change("f-view-score", "view", function () { return "score"; });
    change("f-view-margin", "view", function () { return "margin"; });
    change("f-sort", "sort", function (el) { return el.value; });
    var reset = document.getElementById("f-reset");
    if (reset) reset.addEventListener("click", function () {
      var state = readState();
      state.sort = ""; state.dir = "";
      go(state);
    });
    each(document.querySelectorAll("#tabs a[data-tab]"), function (a) {
      a.addEventListener("click", function (e) {
        e.preventDefault();
        var state = readState();
        state.tab = a.getAttribute("data-tab");
        state.sort = ""; state.dir = "";  // a tab opens on its own rank
        go(state);
      });
    });
    var form = document.getElementById("filters");
    if (form) form.addEventListener("submit", function (e) { e.preventDefault(); });
    window.addEventListener("hashchange", function () { if (isStateHash(location.hash)) apply(readState()); });
    window.addEventListener("popstate", function () { apply(readState()); });
    window.addEventListener("pageshow", function () { apply(readState()); });
    apply(readState());
  }

  // --- other pages -------------------------------------------------------------------------------

  function openTarget() {  // a link to a task's section on a model page opens its <details>
    var id = decodeURIComponent(location.hash.replace(/^#/, ""));
    var el = id && document.getElementById(id);
    if (el && el.tagName === "DETAILS") el.open = true;
    else if (el && el.closest) { var d = el.closest("details"); if (d) d.open = true; }
  }

  function seriesFor(id) {
    var all = document.querySelectorAll("g.series"), out = [];
    for (var i = 0; i < all.length; i++) if (all[i].getAttribute("data-row") === id) out.push(all[i]);
    return out;
  }

  function wireLegends() {
    each(document.querySelectorAll("input[data-series]"), function (box) {
      var id = box.getAttribute("data-series");
      var scope = box.closest("section, details") || document;
      function inScope() {
        return seriesFor(id).filter(function (g) { return scope === document || scope.contains(g); });
      }
      box.addEventListener("change", function () {
        inScope().forEach(function (g) { g.classList.toggle("on", box.checked); });
      });
      var label = box.closest("label");
      label.addEventListener("mouseenter", function () { inScope().forEach(function (g) { g.classList.add("hover"); }); });
      label.addEventListener("mouseleave", function () { inScope().forEach(function (g) { g.classList.remove("hover"); }); });
    });
  }

  function wireSkip() {  // the skip link moves the focus without writing "#main" over the table's state
    var skip = document.querySelector("a.skip"), main = document.getElementById("main");
    if (skip && main) skip.addEventListener("click", function (e) {
      e.preventDefault();
      main.focus();
      main.scrollIntoView();
    });
  }

  function wireNav() {
    var menu = document.querySelector("details.tasksmenu");
    if (menu) document.addEventListener("click", function (e) {  // a click elsewhere closes it
      if (menu.open && !menu.contains(e.target)) menu.open = false;
    });
    var button = document.getElementById("navtoggle"), nav = document.getElementById("sitenav");
    if (!button || !nav) return;
    button.addEventListener("click", function () {
      var open = nav.classList.toggle("open");
      button.setAttribute("aria-expanded", open ? "true" : "false");
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    wireSkip();
    wireNav();
    var table = document.getElementById("board");
    if (table) wireTable(table);
    else {
      openTarget();
      window.addEventListener("hashchange", openTarget);
    }
    wireLegends();
  });
})();
