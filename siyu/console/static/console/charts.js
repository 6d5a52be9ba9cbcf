// Draws the console's charts with the Plotly bundle the page loads ({% chart_scripts %}, siyu/console/chart_bundles.py).
(function () {
  "use strict";
  var config = { displayModeBar: false, responsive: true };
  var font = { family: getComputedStyle(document.body).fontFamily, size: 12 };
  var colors = ["#0f766e", "#f59e0b", "#6366f1", "#ef4444", "#0ea5e9", "#84cc16"];

  function spec(el) {
    if (el.dataset.spec) return JSON.parse(el.dataset.spec);
    var all = JSON.parse(document.getElementById("group-charts").textContent);
    return all[el.dataset.part];
  }

  function layout(extra) {
    var base = { font: font, margin: { l: 40, r: 10, t: 10, b: 30 }, height: 240, showlegend: true,
                 legend: { orientation: "h", y: -0.2 }, paper_bgcolor: "rgba(0,0,0,0)", plot_bgcolor: "rgba(0,0,0,0)" };
    for (var k in extra) base[k] = extra[k];
    return base;
  }

  // A line whose last point is today (not over yet): solid up to yesterday, dotted into today.
  function line(x, y, partial, trace) {
    var solid = Object.assign({ x: x, y: y, type: "scatter", mode: "lines" }, trace);
    if (!partial || x.length < 2) return [solid];
    var n = x.length;
    solid.x = x.slice(0, n - 1); solid.y = y.slice(0, n - 1);
    var dotted = Object.assign({}, trace, { x: x.slice(n - 2), y: y.slice(n - 2), type: "scatter", mode: "lines",
      showlegend: false, line: Object.assign({}, trace.line, { dash: "dot" }), name: trace.name });
    return [solid, dotted];
  }

  var draw = {
    spark: function (el, s) {
      Plotly.newPlot(el, line(s.x, s.y, s.partial, { line: { color: colors[0], width: 1.5 }, connectgaps: false,
        hoverinfo: "x+y" }),
        layout({ height: 40, margin: { l: 0, r: 0, t: 2, b: 2 }, showlegend: false,
                 xaxis: { visible: false }, yaxis: { visible: false } }), { displayModeBar: false, responsive: true, staticPlot: false });
    },
    pie: function (el, s) {
      var total = s.values.reduce(function (a, b) { return a + b; }, 0);
      var text = s.values.map(function (v) { return v && total ? (100 * v / total).toFixed(1) + "%" : ""; });
      Plotly.newPlot(el, [{ labels: s.labels, values: s.values, customdata: s.links, type: "pie", hole: 0.45,
        sort: false, text: text, textinfo: "text", hoverinfo: "label+value+percent", marker: { colors: colors } }],
        layout({ height: 220, margin: { l: 0, r: 0, t: 0, b: 0 }, showlegend: false }), config);
      el.on("plotly_click", function (data) { window.location.href = data.points[0].customdata; });
    },
    funnel: function (el, s) {
      Plotly.newPlot(el, [{ y: s.labels, x: s.values, type: "funnel", textinfo: "value+percent previous",
        marker: { color: colors[0] } }], layout({ height: 260, margin: { l: 10, r: 10, t: 10, b: 10 }, showlegend: false,
        yaxis: { automargin: true } }), config);
    },
    lines: function (el, s) {
      var traces = [];
      s.series.forEach(function (one, i) {
        traces = traces.concat(line(s.x, one[1], s.partial, { name: one[0], line: { color: colors[i] } }));
      });
      Plotly.newPlot(el, traces, layout({}), config);
    },
    bars: function (el, s) {
      Plotly.newPlot(el, s.series.map(function (one, i) {
        // Today's bar, not over yet, is drawn faint.
        var opacity = s.x.map(function (_, j) { return s.partial && j === s.x.length - 1 ? 0.35 : 1; });
        return { x: s.x, y: one[1], name: one[0], type: "bar", marker: { color: colors[i], opacity: opacity } };
      }), layout({ barmode: "group" }), config);
    },
    heatmap: function (el, s) {
      Plotly.newPlot(el, [{ z: s.z, x: s.x, y: s.y, type: "heatmap", colorscale: "Teal", hoverongaps: false }],
        layout({ height: 260, margin: { l: 50, r: 10, t: 10, b: 30 }, showlegend: false,
                 yaxis: { autorange: "reversed" }, xaxis: { dtick: 1 } }), config);
    }
  };

  function render() {
    if (typeof Plotly === "undefined") return;
    document.querySelectorAll("[data-chart]").forEach(function (el) {
      var kind = el.dataset.chart;
      if (draw[kind]) draw[kind](el, spec(el));
    });
    document.body.dataset.chartsReady = "1";
  }

  // The custom start/end fields matter only for a custom period.
  function periodForm() {
    var form = document.getElementById("period-form");
    if (!form) return;
    var select = form.querySelector("select[name=period]");
    var custom = form.querySelector(".custom-days");
    function sync() { custom.style.display = select.value === "custom" ? "" : "none"; }
    select.addEventListener("change", function () { sync(); if (select.value !== "custom") form.submit(); });
    sync();
  }

  document.addEventListener("DOMContentLoaded", function () { periodForm(); render(); });
})();
