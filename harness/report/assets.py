"""The page's inline style and script. Inline on purpose: report.html is one file that opens
offline, from a CI artifact or an e-mail, with nothing fetched."""

STYLE = """
:root { --pass: #047857; --fail: #b91c1c; --warn: #b45309; --error: #7f1d1d; --ink: #1f2937;
        --muted: #6b7280; --line: #e5e7eb; --panel: #f9fafb; }
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif;
       color: var(--ink); margin: 0 auto; padding: 24px; max-width: 1240px; }
h1 { font-size: 26px; margin: 0 0 4px; }
h2 { font-size: 19px; margin: 32px 0 10px; border-bottom: 1px solid var(--line); padding-bottom: 4px; }
h3 { font-size: 15px; margin: 0; }
code { font: 13px/1.3 ui-monospace, "DejaVu Sans Mono", monospace; }
.headline { border-radius: 8px; padding: 16px 20px; color: #fff; }
.headline.pass { background: var(--pass); } .headline.fail { background: var(--fail); }
.headline.inconclusive { background: var(--warn); } .headline.error { background: var(--error); }
.headline .facts { opacity: .92; }
.headline code { color: #fff; }
ul.reasons li { margin: 2px 0; }
table { border-collapse: collapse; width: 100%; margin: 6px 0; }
th, td { border-bottom: 1px solid var(--line); padding: 4px 8px; text-align: left; vertical-align: top; }
th { background: var(--panel); font-weight: 600; }
td.n, th.n { text-align: right; font-variant-numeric: tabular-nums; }
.status { font-weight: 600; white-space: nowrap; }
.status.pass { color: var(--pass); } .status.fail { color: var(--fail); }
.status.not-judged { color: var(--warn); } .status.none { color: var(--muted); }
tr.fail td { background: #fef2f2; }
.charts { display: flex; flex-wrap: wrap; gap: 8px 16px; }
.endpoint { border: 1px solid var(--line); border-radius: 8px; padding: 10px 12px; margin: 12px 0; }
.endpoint.fail { border-color: #fca5a5; }
.endpoint .meta { color: var(--muted); margin: 2px 0 6px; }
svg.chart { background: #fff; overflow: visible; }
svg.chart .title { font-size: 13px; font-weight: 600; fill: var(--ink); }
svg.chart .tick, svg.chart .unit { font-size: 10px; fill: var(--muted); }
svg.chart .legend { font-size: 10px; }
svg.chart .grid { stroke: var(--line); stroke-width: 1; }
svg.chart .frame { fill: none; stroke: #d1d5db; }
svg.chart .warmup { fill: #f3f4f6; }
svg.chart .series { fill: none; stroke-width: 1.8; stroke-linejoin: round; }
svg.chart .threshold { stroke: var(--fail); stroke-width: 1.4; stroke-dasharray: 5 3; }
svg.chart .threshold-label { font-size: 10px; fill: var(--fail); }
svg.chart .mark { stroke: var(--fail); stroke-width: 2; }
svg.chart .mark-window { fill: #fee2e2; opacity: .7; }
svg.chart .empty { font-size: 12px; fill: var(--muted); }
.legend { color: var(--muted); font-size: 12px; }
.legend .swatch { display: inline-block; width: 14px; height: 10px; background: #f3f4f6;
                  border: 1px solid #d1d5db; vertical-align: middle; }
.legend .swatch.abort-window { background: #fee2e2; }
.legend .abort-line { display: inline-block; width: 2px; height: 12px; background: var(--fail); vertical-align: middle; }
.legend .dash { display: inline-block; width: 18px; border-top: 2px dashed var(--fail); vertical-align: middle; }
details { margin: 6px 0; }
footer { color: var(--muted); margin-top: 32px; font-size: 12px; }
@media print { .endpoint { break-inside: avoid; } }
"""

# Marks the page as drawn only when every chart that has data laid out a visible line: a test
# (or a person with devtools) can tell "rendered" from "empty boxes".
SCRIPT = """
(function () {
  var charts = document.querySelectorAll('svg.chart');
  var drawn = 0, expected = 0;
  charts.forEach(function (svg) {
    if (Number(svg.getAttribute('data-points')) === 0) return;
    expected += 1;
    var marks = svg.querySelectorAll('path.series, circle.point');
    for (var i = 0; i < marks.length; i++) {
      var box = marks[i].getBBox();
      if (box.width > 0 || box.height > 0) { drawn += 1; return; }
    }
  });
  document.body.setAttribute('data-charts-drawn', String(drawn));
  document.body.setAttribute('data-render-ok', drawn === expected && expected > 0 ? 'true' : 'false');
})();
"""
