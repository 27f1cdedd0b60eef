/* Interlingua Bench: the two-model comparison (compare.html). The pair is the URL's hash
   (#a=<row id>&b=<row id>): read on load, on Back and on a typed link; the selects write it.
   Scores come from the page's own escaped attributes (#cmp-data li[data-s]); everything is
   written with textContent, never as HTML. Without this script the page shows its default pair. */
(function () {
  "use strict";
  var each = function (list, fn) { Array.prototype.forEach.call(list, fn); };
  var rows = {}, order = [], defaults = null;

  function parse(text) {  // "v lo hi;;v lo hi" -> [[v, lo, hi] | null, ...]
    return text.split(";").map(function (part) {
      if (!part) return null;
      return part.split(" ").map(function (x) { return x === "-" ? null : parseFloat(x); });
    });
  }

  function readPair() {  // a stale or hand-edited id falls back to the default pair
    var params = new URLSearchParams(location.hash.replace(/^#/, ""));
    var a = params.get("a"), b = params.get("b");
    if (!rows[a]) a = defaults.a;
    if (!rows[b] || b === a) b = a === defaults.b ? defaults.a : defaults.b;
    if (b === a) b = order.filter(function (id) { return id !== a; })[0];
    return { a: a, b: b };
  }

  function fmt(x) { return x.toFixed(3); }

  function fill(cell, t) {
    cell.textContent = "";
    if (!t) {
      var na = document.createElement("span"); na.className = "na"; na.textContent = "–";
      cell.appendChild(na); return;
    }
    var v = document.createElement("span"); v.className = "v"; v.textContent = fmt(t[0]);
    cell.appendChild(v);
    if (t[1] !== null && t[2] !== null) {
      var ci = document.createElement("span"); ci.className = "ci";
      ci.textContent = "[" + fmt(t[1]) + ", " + fmt(t[2]) + "]";
      cell.appendChild(document.createTextNode(" ")); cell.appendChild(ci);
    }
  }

  function outside(v, t) { return t[1] !== null && t[2] !== null && !(t[1] <= v && v <= t[2]); }

  function judge(a, b, hib, ranked) {  // the same rule as leaderboard/compare_page.py judge()
    if (!a || !b) return { state: "missing", diff: null, text: "not both scored" };
    var diff = a[0] - b[0];
    if ([a[1], a[2], b[1], b[2]].indexOf(null) >= 0) return { state: "nointerval", diff: diff, text: "no interval to judge by" };
    if (!(outside(a[0], b) && outside(b[0], a))) return { state: "within", diff: diff, text: "within the intervals" };
    if (!ranked) return { state: "outside", diff: diff, text: "differs (descriptive)" };
    var aAhead = (diff > 0) === hib;
    return { state: aAhead ? "a" : "b", diff: diff, text: (aAhead ? "A" : "B") + " better, outside both intervals" };
  }

  function head(th, letter, id) {
    var li = rows[id].el;
    th.textContent = letter + ": ";
    var a = document.createElement("a");
    a.href = li.getAttribute("data-page"); a.textContent = li.textContent;
    th.appendChild(a);
  }

  function apply() {
    var pair = readPair(), table = document.getElementById("cmptable");
    document.getElementById("cmp-a").value = pair.a;
    document.getElementById("cmp-b").value = pair.b;
    head(document.getElementById("cmp-head-a"), "A", pair.a);
    head(document.getElementById("cmp-head-b"), "B", pair.b);
    var sa = rows[pair.a].scores, sb = rows[pair.b].scores, marked = 0;
    each(table.tBodies[0].rows, function (tr, i) {
      var j = judge(sa[i], sb[i], tr.getAttribute("data-hib") === "true", tr.getAttribute("data-ranked") === "true");
      tr.className = "state-" + j.state;
      fill(tr.querySelector(".cmp-a"), sa[i]);
      fill(tr.querySelector(".cmp-b"), sb[i]);
      var d = tr.querySelector(".cmp-d");
      d.textContent = j.diff === null ? "–" : (j.diff >= 0 ? "+" : "-") + fmt(Math.abs(j.diff));
      tr.querySelector(".cmp-j .cmpmark").textContent = j.text;
      if (j.state === "a" || j.state === "b" || j.state === "outside") marked++;
    });
    document.getElementById("cmp-count").textContent = marked + " of " + table.tBodies[0].rows.length + " columns outside both intervals";
    table.setAttribute("data-a", pair.a);
    table.setAttribute("data-b", pair.b);
  }

  function go(a, b) {
    var hash = "#a=" + encodeURIComponent(a) + "&b=" + encodeURIComponent(b);
    if (hash === location.hash) apply(); else location.hash = hash;
  }

  document.addEventListener("DOMContentLoaded", function () {
    var table = document.getElementById("cmptable");
    if (!table) return;
    each(document.querySelectorAll("#cmp-data li"), function (li) {
      var id = li.getAttribute("data-row");
      rows[id] = { el: li, scores: parse(li.getAttribute("data-s") || "") };
      order.push(id);
    });
    defaults = { a: document.getElementById("cmp-a").value, b: document.getElementById("cmp-b").value };
    var pick = function () { go(document.getElementById("cmp-a").value, document.getElementById("cmp-b").value); };
    document.getElementById("cmp-a").addEventListener("change", pick);
    document.getElementById("cmp-b").addEventListener("change", pick);
    document.getElementById("cmp-swap").addEventListener("click", function () {
      var p = readPair(); go(p.b, p.a);
    });
    window.addEventListener("hashchange", apply);
    window.addEventListener("pageshow", apply);
    apply();
  });
})();
