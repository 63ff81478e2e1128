// Metrics explorer: namespace -> metric -> dimension set, a statistic or percentile, a period;
// the chart, and the same query as boto3 and AWS CLI calls to copy.

import { cloudwatch, paginate, metricData, metricUnit, stat } from "../api.js";
import { h, clear, errorBox, select } from "../dom.js";
import { timeChart, destroyCharts } from "../chart.js";
import { autoPeriod, window_ } from "../time.js";

const STATS = ["Average", "Sum", "SampleCount", "Minimum", "Maximum", "p50", "p90", "p95", "p99", "p99.9"];
const PERIODS = [["auto", "auto"], [60, "1 min"], [300, "5 min"], [900, "15 min"], [3600, "1 hour"], [86400, "1 day"]];

export async function mount(root, ctx) {
  const q = ctx.query;
  const state = {
    namespace: q.get("namespace") || "", metric: q.get("metric") || "", dims: q.get("dims") || "",
    stat: q.get("stat") || "Average", period: q.get("period") || "auto",
  };
  const form = h("div", { class: "form-row" });
  const out = h("div");
  root.append(h("h1", { text: "Metrics" }), form, out);
  let metrics = [];

  const keyOf = (m) => JSON.stringify(m.Dimensions.map((d) => [d.Name, d.Value])
    .sort((a, b) => (a[0] < b[0] ? -1 : 1)));
  const dimsLabel = (m) => m.Dimensions.length
    ? m.Dimensions.slice().sort((a, b) => (a.Name < b.Name ? -1 : 1)).map((d) => `${d.Name}=${d.Value}`).join(", ")
    : "(no dimensions)";

  function drawForm() {
    const namespaces = [...new Set(metrics.map((m) => m.Namespace))].sort();
    if (!namespaces.includes(state.namespace)) state.namespace = namespaces[0] || "";
    const names = [...new Set(metrics.filter((m) => m.Namespace === state.namespace).map((m) => m.MetricName))].sort();
    if (!names.includes(state.metric)) state.metric = names[0] || "";
    const sets = metrics.filter((m) => m.Namespace === state.namespace && m.MetricName === state.metric)
      .sort((a, b) => (dimsLabel(a) < dimsLabel(b) ? -1 : 1));
    if (!sets.some((m) => keyOf(m) === state.dims)) state.dims = sets[0] ? keyOf(sets[0]) : "";
    const change = (field) => (value) => { state[field] = value; drawForm(); draw(); };
    clear(form).append(
      h("label", {}, "Namespace", select(namespaces, state.namespace, change("namespace"), { "data-testid": "namespace" })),
      h("label", {}, "Metric", select(names, state.metric, change("metric"), { "data-testid": "metric" })),
      h("label", { class: "wide" }, "Dimensions",
        select(sets.map((m) => [keyOf(m), dimsLabel(m)]), state.dims, change("dims"), { "data-testid": "dimensions" })),
      h("label", {}, "Statistic",
        h("input", { list: "stats", value: state.stat, size: 10, "data-testid": "stat",
          onchange: (e) => { state.stat = e.target.value.trim(); draw(); } }),
        h("datalist", { id: "stats" }, STATS.map((s) => h("option", { value: s })))),
      h("label", {}, "Period", select(PERIODS, state.period, change("period"), { "data-testid": "period" })));
  }

  let mounted = true;
  async function draw() {
    if (!mounted) return;
    destroyCharts(out);
    clear(out);
    if (!state.metric) {
      out.append(h("p", { class: "muted", text: "No metrics yet." }));
      return;
    }
    const dimensions = Object.fromEntries(JSON.parse(state.dims || "[]"));
    const period = state.period === "auto" ? autoPeriod(ctx.range) : Number(state.period);
    const { start, end } = window_(ctx.range);
    const query = stat("m1", state.namespace, state.metric, dimensions, state.stat, period);
    // Only while the address is still this page's: a navigation away may have changed it
    // before its hashchange (which unmounts this page) has run; writing over it would send
    // the router back here.
    if (location.hash.startsWith("#/metrics")) {
      history.replaceState(null, "", `#/metrics?${new URLSearchParams({ namespace: state.namespace,
        metric: state.metric, dims: state.dims, stat: state.stat, period: state.period })}`);
    }
    try {
      const [data, unit] = await Promise.all([metricData([query], start, end),
        // The title's unit is a nicety: a failed lookup leaves the chart as it is.
        metricUnit(state.namespace, state.metric, dimensions, start, end).catch(() => "")]);
      if (!mounted) return;
      const d = data.m1 || { timestamps: [], values: [] };
      timeChart(out, { range: [start, end], id: state.metric, title: `${state.metric} (${state.stat}, ${period} s)`,
        unit: state.stat === "SampleCount" ? "Count" : unit || "no unit", height: 320,
        series: [{ label: state.stat, metric: state.metric, timestamps: d.timestamps, values: d.values }] });
    } catch (err) {
      out.append(errorBox(err, { "data-testid": "metrics-error" }));
    }
    out.append(codeBlocks(query, start, end));
  }

  const refresh = async () => {
    try {
      metrics = await paginate(cloudwatch, "ListMetrics", {}, "Metrics", "NextToken", 50);
    } catch (err) {
      clear(out).append(errorBox(err));
      return;
    }
    drawForm();
    await draw();
  };
  await refresh();
  return { refresh, unmount: () => { mounted = false; } };
}

function iso(seconds) {
  return new Date(seconds * 1000).toISOString().replace(".000Z", "Z");
}

function codeBlocks(query, start, end) {
  const q = { Id: query.Id, MetricStat: query.MetricStat };
  const py = [
    "import boto3",
    "from datetime import datetime, timezone",
    "",
    'cloudwatch = boto3.client("cloudwatch", endpoint_url=' + JSON.stringify(location.origin) + ")",
    "response = cloudwatch.get_metric_data(",
    `    MetricDataQueries=[${JSON.stringify(q, null, 4).split("\n").join("\n    ")}],`,
    `    StartTime=datetime.fromtimestamp(${start}, timezone.utc),`,
    `    EndTime=datetime.fromtimestamp(${end}, timezone.utc),`,
    '    ScanBy="TimestampAscending",',
    ")",
  ].join("\n").replace(/\btrue\b/g, "True");
  const shellQuote = (s) => `'${s.replace(/'/g, "'\\''")}'`;
  const cli = [
    `aws cloudwatch get-metric-data --endpoint-url ${location.origin} \\`,
    `  --metric-data-queries ${shellQuote(JSON.stringify([q]))} \\`,
    `  --start-time ${iso(start)} --end-time ${iso(end)} --scan-by TimestampAscending`,
  ].join("\n");
  const block = (title, text, id) => h("div", { class: "code" },
    h("div", { class: "code-head" }, h("span", { text: title }),
      h("button", { type: "button", onclick: (e) => copy(text, e.target), text: "Copy" })),
    h("pre", { "data-testid": id, text }));
  return h("div", { class: "code-pair" }, block("boto3", py, "boto3"), block("AWS CLI", cli, "awscli"));
}

async function copy(text, button) {
  try {
    await navigator.clipboard.writeText(text);
    button.textContent = "Copied";
  } catch {
    button.textContent = "Select and copy";
  }
  setTimeout(() => { button.textContent = "Copy"; }, 1500);
}
