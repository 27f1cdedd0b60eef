/* Interlingua Bench leaderboard: sorting and filtering the main table, highlighting curves.
   Written for this site (no library); everything works without it except these interactions. */
(function () {
  "use strict";

  function cellValue(row, index, numeric) {
    var cell = row.cells[index];
    var raw = cell ? cell.getAttribute("data-value") : null;
    if (raw === null) raw = cell ? cell.textContent.trim() : "";
    if (!numeric) return raw.toLowerCase();
    var value = parseFloat(raw);
    return isNaN(value) ? null : value;
  }

  function sortBy(table, th) {
    var headers = Array.prototype.slice.call(th.parentNode.children);
    var index = headers.indexOf(th);
    var numeric = th.getAttribute("data-sort") === "number";
    var current = th.getAttribute("aria-sort");
    var firstDescending = numeric && th.getAttribute("data-higher-is-better") !== "false";
    var descending = current === "none" || !current ? firstDescending : current === "ascending";
    headers.forEach(function (h) { if (h.hasAttribute("aria-sort")) h.setAttribute("aria-sort", "none"); });
    th.setAttribute("aria-sort", descending ? "descending" : "ascending");
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    rows.forEach(function (row, i) { row._order = i; });
    rows.sort(function (a, b) {
      var x = cellValue(a, index, numeric), y = cellValue(b, index, numeric);
      if (x === null || x === "") return (y === null || y === "") ? a._order - b._order : 1;
      if (y === null || y === "") return -1;
      var c = x < y ? -1 : x > y ? 1 : 0;
      return (descending ? -c : c) || a._order - b._order;
    });
    rows.forEach(function (row) { body.appendChild(row); });
  }

  function filterRows(table) {
    var modality = document.getElementById("f-modality").value;
    var group = document.getElementById("f-langgroup").value;
    var controls = document.getElementById("f-controls").checked;
    var shown = 0, rows = table.tBodies[0].rows;
    for (var i = 0; i < rows.length; i++) {
      var row = rows[i];
      var has = (row.getAttribute("data-modalities") || "").split(" ");
      var want = modality ? modality.split("+") : [];
      var ok = want.every(function (m) { return has.indexOf(m) >= 0; });
      ok = ok && (!group || row.getAttribute("data-langgroup") === group);
      ok = ok && (controls || row.getAttribute("data-control") !== "true");
      row.hidden = !ok;
      if (ok) shown++;
    }
    var count = document.getElementById("f-count");
    if (count) count.textContent = shown + " of " + rows.length + " rows";
  }

  function seriesFor(id) {
    var all = document.querySelectorAll("g.series"), out = [];
    for (var i = 0; i < all.length; i++) if (all[i].getAttribute("data-row") === id) out.push(all[i]);
    return out;
  }

  document.addEventListener("DOMContentLoaded", function () {
    var table = document.getElementById("board");
    if (table) {
      Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th) {
        if (!th.hasAttribute("data-sort")) return;
        th.addEventListener("click", function () { sortBy(table, th); });
      });
      ["f-modality", "f-langgroup", "f-controls"].forEach(function (id) {
        var el = document.getElementById(id);
        if (el) el.addEventListener("change", function () { filterRows(table); });
      });
      var form = document.getElementById("filters");
      if (form) form.addEventListener("submit", function (e) { e.preventDefault(); });
    }
    Array.prototype.forEach.call(document.querySelectorAll("input[data-series]"), function (box) {
      var id = box.getAttribute("data-series");
      var scope = box.closest("section") || document;
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
  });
})();
