/* Interlingua Bench leaderboard: draws the charts from the numbers each page carries.

   Every chart is a <figure> holding an empty, labelled <svg> and a
   <script type="application/json" class="chartdata"> written by leaderboard/charts.py, which
   decides everything but the pixels: the series, their colours, the scale and its ticks, a
   heatmap's colour domain (shared by every model). Labels are set with textContent, never as
   markup. Runs before board.js (both deferred, in order), so the legends find the series.

   curve:   box [width, height, left, top, plot width, plot height, y-title x], y [low, high],
            yt [[tick, label]], m measure, d detail (bands and nulls), pts point markers,
            ax [[depths], [layer names]], s [{id, lb label, c colour, a axis, on, ctl control,
            p: [v, ci_low, ci_high, null_mean, null_q95] per point when on and detailed, else v}],
            hubs [{d depth, c colour, t title}] (the findings page)
   heatmap: box [cell, label width, label height], y [low, high], text (print values), rows,
            cols, v [[value]], levels (colour steps: classes cs0..cs<levels>, csna, in hues.css)
   grid:    (a language x layer grid, leaderboard/languages.py) box [cell, left, top], y, rows,
            cols (short layer names), v, levels, main (the main layer's column or null),
            mainlayer (its name) */
(function () {
  "use strict";
  var NS = "http://www.w3.org/2000/svg";

  function el(parent, name, attrs, text) {
    var node = document.createElementNS(NS, name);
    for (var k in attrs) if (Object.prototype.hasOwnProperty.call(attrs, k)) node.setAttribute(k, attrs[k]);
    if (text !== undefined) node.textContent = text;
    parent.appendChild(node);
    return node;
  }

  function ok(x) { return x !== null && x !== undefined; }

  function round(x) {  // Python's round(): exact halves to even (Math.round takes them up)
    var r = Math.round(x);
    return r - x === 0.5 && r % 2 !== 0 ? r - 1 : r;
  }

  function fixed(x, f) {  // Python's f"{x:.{f}f}": toFixed, but an exact tie goes to the even digit
    var s = x.toFixed(f), exact = Math.abs(x).toFixed(100), cut = exact.indexOf(".") + 1 + f;
    if (/^50*$/.test(exact.slice(cut)) && +exact.charAt(cut - 1 - (f ? 0 : 1)) % 2 === 0) {
      s = (x < 0 ? "-" : "") + exact.slice(0, f ? cut : cut - 1);
    }
    return Object.is(x, -0) ? "-" + s : s;
  }

  function label(x) {  // charts.tick_label: 3 decimals, trailing zeros dropped
    return x === 0 ? "0" : fixed(x, 3).replace(/0+$/, "").replace(/\.$/, "");
  }

  function path(points) {  // [[x, y] | null]: a gap lifts the pen
    var out = "", down = false;
    points.forEach(function (pt) {
      if (!pt) { down = false; return; }
      out += (down ? "L" : "M") + pt[0] + "," + pt[1];
      down = true;
    });
    return out;
  }

  function curve(svg, d) {
    var b = d.box, left = b[2], top = b[3], pw = b[4], ph = b[5];
    var low = d.y[0], high = d.y[1], scale = ph / (high - low);
    var sx = function (depth) { return round(left + Math.min(Math.max(depth, 0), 1) * pw); };
    var sy = function (v) { return round(top + (high - v) * scale); };
    var xt = [0, 0.25, 0.5, 0.75, 1];

    var axis = el(svg, "g", { "class": "axis" });
    el(axis, "path", { "class": "grid", d: d.yt.map(function (t) { return "M" + left + "," + sy(t[0]) + "h" + pw; }).join("") +
      xt.map(function (x) { return "M" + sx(x) + "," + top + "v" + ph; }).join("") });
    var yl = el(axis, "g", { "text-anchor": "end" });
    d.yt.forEach(function (t) { el(yl, "text", { x: left - 8, y: sy(t[0]) + 4 }, t[1]); });
    var xl = el(axis, "g", { "text-anchor": "middle" });
    xt.forEach(function (x) { el(xl, "text", { x: sx(x), y: top + ph + 16 }, label(x)); });
    el(axis, "text", { x: left + pw / 2, y: b[1] - 4, "text-anchor": "middle", "class": "label" },
      "relative depth (0 = embeddings, 1 = last layer)");
    el(axis, "text", { transform: "translate(" + b[6] + " " + (top + ph / 2) + ") rotate(-90)", "text-anchor": "middle", "class": "label" }, d.m);

    (d.hubs || []).forEach(function (h, i) {  // at a tenth of a pixel: a depth, not a point
      var g = el(svg, "g", { "class": "hub" }), x = round((left + Math.min(Math.max(h.d, 0), 1) * pw) * 10) / 10;
      el(g, "title", {}, h.t);
      el(g, "line", { x1: x, x2: x, y1: top, y2: top + ph, stroke: h.c });
      el(g, "text", { x: round((x + 3) * 10) / 10, y: top + 10 + i * 12 }, "hub");
    });

    d.s.forEach(function (s) {
      var axisOf = d.ax[s.a || 0], depths = axisOf[0], layers = axisOf[1];
      var full = s.on && d.d, at = function (i, k) { return full ? s.p[i][k] : (k === 0 ? s.p[i] : null); };
      var g = el(svg, "g", { "class": "series" + (s.on ? " on" : "") + (s.ctl ? " control" : ""), "data-row": s.id });
      el(g, "title", {}, s.lb);
      if (full) {
        var runs = [], run = [];  // the band: through ci_high, back along ci_low, per unbroken run
        s.p.forEach(function (p, i) {
          if (ok(p[1]) && ok(p[2])) run.push(i);
          else if (run.length) { runs.push(run); run = []; }
        });
        if (run.length) runs.push(run);
        var band = runs.map(function (r) {
          var up = r.map(function (i) { return sx(depths[i]) + "," + sy(s.p[i][2]); });
          var down = r.slice().reverse().map(function (i) { return sx(depths[i]) + "," + sy(s.p[i][1]); });
          return "M" + up.concat(down).join("L") + "Z";
        }).join("");
        if (band) el(g, "path", { "class": "band", d: band, fill: s.c });
        var nul = path(s.p.map(function (p, i) { return ok(p[3]) ? [sx(depths[i]), sy(p[3])] : null; }));
        if (nul) el(g, "path", { "class": "nullline", d: nul, stroke: s.c });
      }
      el(g, "path", { "class": "line", stroke: s.c,
        d: path(s.p.map(function (_, i) { return ok(at(i, 0)) ? [sx(depths[i]), sy(at(i, 0))] : null; })) });
      if (full && d.pts) {
        var dots = "", lines = [s.lb];
        s.p.forEach(function (p, i) {
          if (!ok(p[0])) return;
          dots += "M" + sx(depths[i]) + "," + sy(p[0]) + "h0";
          var text = layers[i] + ": " + fixed(p[0], 3);  // charts.py's hover line
          if (ok(p[1]) && ok(p[2])) text += " [" + label(p[1]) + ", " + label(p[2]) + "]";
          if (ok(p[3])) text += " null " + label(p[3]) + (ok(p[4]) ? " q95 " + label(p[4]) : "");
          lines.push(text);
        });
        if (dots) el(el(g, "path", { "class": "dots", d: dots, stroke: s.c }), "title", {}, lines.join("\n"));
      }
    });
  }

  function cells(svg, d, x0, y0, digits, gap, text) {
    // coloured cells (one path per colour step), their values printed (`text`), a hover title per row
    var cell = d.box[0], half = cell / 2, low = d.y[0], span = (d.y[1] - low) || 1, levels = d.levels;
    var step = function (v) { return round(Math.min(Math.max((v - low) / span, 0), 1) * levels); };
    var paths = {}, order = [], printed = { light: [], dark: [] };
    d.v.forEach(function (row, i) {
      row.forEach(function (v, j) {
        var x = x0 + j * cell, y = y0 + i * cell, k = ok(v) ? "cs" + step(v) : "csna";
        if (!paths[k]) { paths[k] = ""; order.push(k); }
        paths[k] += "M" + x + " " + y + "h" + (cell - 1) + "v" + (cell - 1) + "h-" + (cell - 1) + "z";
        if (text && ok(v)) printed[step(v) / levels > 0.6 ? "dark" : "light"].push([x + half, y + half + 3, fixed(v, 2)]);
      });
    });
    order.forEach(function (k) { el(svg, "path", { "class": k, d: paths[k] }); });
    ["light", "dark"].forEach(function (which) {
      if (!printed[which].length) return;
      var g = el(svg, "g", { "class": which === "dark" ? "celltext dark" : "celltext", "text-anchor": "middle" });
      printed[which].forEach(function (t) { el(g, "text", { x: t[0], y: t[1] }, t[2]); });
    });
    d.v.forEach(function (row, i) {  // hovering a row lists its values
      var listing = d.cols.slice(0, row.length).map(function (c, j) { return c + " " + (ok(row[j]) ? fixed(row[j], digits) : gap); });
      el(el(svg, "rect", { "class": "rowhit", x: x0, y: y0 + i * cell, width: cell * row.length, height: cell }),
        "title", {}, d.rows[i] + ": " + listing.join(", "));
    });
  }

  function legend(svg, d, x, y, lowAt) {  // nine colour steps, high at the top, the ends' values
    for (var k = 0; k < 9; k++) el(svg, "rect", { "class": "cs" + round((8 - k) / 8 * d.levels), x: x, y: y + k * 10, width: 10, height: 10 });
    el(svg, "text", { x: x + 14, y: y + 8 }, fixed(d.y[1], 2));
    el(svg, "text", { x: x + 14, y: y + lowAt }, fixed(d.y[0], 2));
  }

  function heatmap(svg, d) {  // a matrix: column labels slanted above, values in the cells
    var cell = d.box[0], lw = d.box[1], lh = d.box[2], half = cell / 2;
    d.cols.forEach(function (c, j) {
      el(svg, "text", { "class": "collabel", transform: "translate(" + (lw + j * cell + half + 4) + " " + (lh - 4) + ") rotate(-50)" }, c);
    });
    d.rows.forEach(function (r, i) { el(svg, "text", { x: lw - 6, y: lh + i * cell + half + 4, "text-anchor": "end" }, r); });
    cells(svg, d, lw, lh, 4, "-", d.text);
    legend(svg, d, lw + cell * d.cols.length + 12, lh, 90);
  }

  function grid(svg, d) {  // languages x layers: layer names below, the main score's layer outlined
    var cell = d.box[0], left = d.box[1], top = d.box[2], half = cell / 2;
    var pw = cell * d.cols.length, ph = cell * d.rows.length;
    d.rows.forEach(function (r, i) { el(svg, "text", { x: left - 6, y: top + i * cell + half + 4, "text-anchor": "end" }, r); });
    cells(svg, d, left, top, 3, "\u2013", false);
    if (ok(d.main)) {
      el(el(svg, "rect", { "class": "mainlayer", x: left + d.main * cell - 1, y: top - 2, width: cell + 1, height: ph + 3 }),
        "title", {}, "the main score's layer: " + d.mainlayer);
    }
    d.cols.forEach(function (c, j) {
      var attrs = { x: left + j * cell + half, y: top + ph + 13, "text-anchor": "middle" };
      if (j === d.main) attrs["class"] = "strong";
      el(svg, "text", attrs, c);
    });
    el(svg, "text", { "class": "label", x: left + pw / 2, y: top + ph + 30, "text-anchor": "middle" },
      "layer (emb = embeddings; outlined: the main score's)");
    el(svg, "text", { "class": "label", transform: "translate(11 " + (top + ph / 2) + ") rotate(-90)", "text-anchor": "middle" }, "language");
    legend(svg, d, left + pw + 10, top, 88);
  }

  var DRAW = { curve: curve, heatmap: heatmap, grid: grid };
  Array.prototype.forEach.call(document.querySelectorAll("script.chartdata"), function (script) {
    var svg = script.previousElementSibling, d = JSON.parse(script.textContent);
    if (svg && svg.tagName.toLowerCase() === "svg" && DRAW[d.kind]) DRAW[d.kind](svg, d);
  });
})();
