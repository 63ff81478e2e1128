// One endpoint: invocations, errors, latencies (average, p50, p99), the per-container breakdown
// in pipeline order, every instance's CPU, memory, GPU and disk (Host dimension), and the
// alarms on its metrics with their states on the time axis.

import { sagemaker, cloudwatch, paginate, metricData, stat } from "../api.js";
import { h, clear, errorBox, fmtNumber } from "../dom.js";
import { timeChart, destroyCharts } from "../chart.js";
import { autoPeriod, window_ } from "../time.js";
import { endpointAlarms, alarmPanel } from "../alarms.js";
import { loadScaling, scalingSection } from "./scaling.js";

const NS = "AWS/SageMaker";
const USAGE_NS = "/aws/sagemaker/Endpoints";
const USAGE = [
  ["CPUUtilization", "CPU (% of one CPU × CPUs)"],
  ["MemoryUtilization", "Memory (%)"],
  ["GPUUtilization", "GPU (% × GPUs)"],
  ["GPUMemoryUtilization", "GPU memory (% × GPUs)"],
  ["DiskUtilization", "Disk (%)"],
];

export async function mount(root, ctx) {
  const name = ctx.params[0];
  const head = h("div", { class: "page-head" });
  const body = h("div", { class: "charts" });
  root.append(h("p", { class: "crumbs" }, h("a", { href: "#/endpoints", text: "Endpoints" }), " / ", name),
    head, body);
  let live = body;
  let mounted = true;
  const refresh = async () => {
    try {
      const shape = await describe(name);
      const data = await loadMetrics(shape, ctx.range);
      if (!mounted) return;
      // Build the new charts off to the side, then swap, so a refresh does not flicker.
      const next = h("div", { class: "charts" });
      clear(head).append(header(shape));
      const old = live;
      old.replaceWith(next);
      destroyCharts(old);
      live = next;
      render(next, shape, data);
      document.body.dataset.loaded = String(Date.now());
    } catch (err) {
      clear(live).append(errorBox(err));
    }
  };
  await refresh();
  return { refresh, unmount: () => { mounted = false; } };
}

/** The endpoint, its variants' containers in pipeline order, and its hosts. */
async function describe(name) {
  const endpoint = await sagemaker("DescribeEndpoint", { EndpointName: name });
  const config = await sagemaker("DescribeEndpointConfig", { EndpointConfigName: endpoint.EndpointConfigName })
    .catch(() => ({ ProductionVariants: [] }));
  const variants = endpoint.ProductionVariants ||
    config.ProductionVariants.map((v) => ({ VariantName: v.VariantName }));
  const models = {};
  for (const v of config.ProductionVariants || []) {
    if (!(v.ModelName in models)) {
      models[v.ModelName] = await sagemaker("DescribeModel", { ModelName: v.ModelName }).catch(() => null);
    }
  }
  const listed = await paginate(cloudwatch, "ListMetrics", {
    Namespace: NS, MetricName: "ContainerLatency",
    Dimensions: [{ Name: "EndpointName", Value: name }],
  }, "Metrics");
  const hosts = (await paginate(cloudwatch, "ListMetrics", {
    Namespace: USAGE_NS, MetricName: "CPUUtilization", Dimensions: [{ Name: "Host" }],
  }, "Metrics"))
    .map((m) => m.Dimensions.find((d) => d.Name === "Host").Value)
    .filter((host) => host.startsWith(`${name}/`))
    .sort();
  for (const v of variants) {
    const cfg = (config.ProductionVariants || []).find((c) => c.VariantName === v.VariantName) || {};
    const model = models[cfg.ModelName];
    v.ModelName = cfg.ModelName;
    v.InstanceType = cfg.InstanceType;
    v.Mode = model?.InferenceExecutionConfig?.Mode || "Serial";
    const containers = model ? (model.Containers || (model.PrimaryContainer ? [model.PrimaryContainer] : [])) : [];
    const fromMetrics = listed
      .filter((m) => m.Dimensions.some((d) => d.Name === "VariantName" && d.Value === v.VariantName))
      .map((m) => m.Dimensions.find((d) => d.Name === "ContainerName").Value);
    v.containers = containers.map((c, i) => c.ContainerHostname || fromMetrics[i] || `container-${i + 1}`);
    for (const extra of fromMetrics.sort()) if (!v.containers.includes(extra)) v.containers.push(extra);
    v.hosts = hosts.filter((host) => host.startsWith(`${name}/${v.VariantName}/`));
  }
  return { endpoint, variants };
}

async function loadMetrics(shape, range) {
  const period = autoPeriod(range);
  const { start, end } = window_(range);
  const name = shape.endpoint.EndpointName;
  const queries = [];
  shape.variants.forEach((v, vi) => {
    const dims = { EndpointName: name, VariantName: v.VariantName };
    const q = (id, metric, st, d = dims) => queries.push(stat(`${id}_${vi}`, NS, metric, d, st, period));
    q("inv", "Invocations", "Sum");
    q("ipi", "InvocationsPerInstance", "Sum");
    q("e4", "Invocation4XXErrors", "Sum");
    q("e5", "Invocation5XXErrors", "Sum");
    for (const [m, p] of [["ModelLatency", "ml"], ["OverheadLatency", "ol"]]) {
      q(`${p}avg`, m, "Average");
      q(`${p}p50`, m, "p50");
      q(`${p}p99`, m, "p99");
    }
    v.containers.forEach((c, ci) => q(`cl${ci}`, "ContainerLatency", "Average", { ...dims, ContainerName: c }));
    v.hosts.forEach((host, hi) => USAGE.forEach(([metric], ui) => queries.push(
      stat(`u${ui}_${vi}_${hi}`, USAGE_NS, metric, { Host: host }, "Average", period))));
  });
  const [data, alarms, scaling] = await Promise.all([
    metricData(queries, start, end),
    endpointAlarms(name, start, end).catch(() => []),
    loadScaling(name, shape.variants, [start, end]),
  ]);
  return { period, range: [start, end], data, alarms, scaling };
}

function header({ endpoint, variants }) {
  return h("div", {},
    h("h1", {}, endpoint.EndpointName, " ",
      h("span", { class: `status ${String(endpoint.EndpointStatus).toLowerCase()}`, text: endpoint.EndpointStatus })),
    endpoint.FailureReason ? h("div", { class: "error", text: endpoint.FailureReason }) : null,
    h("table", { class: "grid compact" },
      h("thead", {}, h("tr", {}, ["Variant", "Model", "Mode", "Instance type", "Instances", "Weight", "Containers"]
        .map((t) => h("th", { text: t })))),
      h("tbody", {}, variants.map((v) => h("tr", {},
        h("td", { text: v.VariantName }), h("td", { text: v.ModelName || "–" }), h("td", { text: v.Mode }),
        h("td", { text: v.InstanceType || "–" }),
        h("td", { text: `${v.CurrentInstanceCount ?? "?"} / ${v.DesiredInstanceCount ?? "?"}` }),
        h("td", { text: v.CurrentWeight ?? "–" }),
        h("td", { text: v.containers.join(" → ") }))))));
}

function series(data, id, label, metric, scale) {
  const d = data[id] || { timestamps: [], values: [] };
  return { label, metric, timestamps: d.timestamps, values: d.values, scale };
}

function render(parent, shape, { period, range, data, alarms, scaling }) {
  const multi = shape.variants.length > 1;
  const pre = (v) => (multi ? `${v.VariantName}: ` : "");
  const ms = 1 / 1000;
  parent.append(h("p", { class: "muted", text: `Period ${period} s. Latencies in milliseconds.` }));
  const grid = h("div", { class: "chart-grid" });
  parent.append(grid);
  grid.append(alarmPanel(range, alarms));
  const scaled = scalingSection(scaling, range);
  if (scaled) grid.append(scaled);
  const all = (fn) => shape.variants.flatMap((v, vi) => fn(v, vi));
  timeChart(grid, { range, id: "Invocations", title: "Invocations", unit: "requests / period",
    series: all((v, vi) => [series(data, `inv_${vi}`, `${pre(v)}Invocations`, "Invocations"),
      { ...series(data, `ipi_${vi}`, `${pre(v)}InvocationsPerInstance`, "InvocationsPerInstance"), dash: [6, 4] }]) });
  timeChart(grid, { range, id: "Errors", title: "Errors", unit: "requests / period",
    series: all((v, vi) => [series(data, `e4_${vi}`, `${pre(v)}4XX`, "Invocation4XXErrors"),
      series(data, `e5_${vi}`, `${pre(v)}5XX`, "Invocation5XXErrors")]) });
  for (const [metric, p] of [["ModelLatency", "ml"], ["OverheadLatency", "ol"]]) {
    timeChart(grid, { range, id: metric, title: metric, unit: "ms",
      series: all((v, vi) => ["avg", "p50", "p99"].map((st) =>
        series(data, `${p}${st}_${vi}`, `${pre(v)}${st === "avg" ? "average" : st}`, metric, ms))) });
  }
  shape.variants.forEach((v, vi) => {
    if (!v.containers.length) return;
    const box = h("section", { class: "breakdown" },
      h("h2", { text: `Where the time goes${multi ? ` (${v.VariantName})` : ""}` }));
    grid.append(box);
    timeChart(box, { range, id: "ContainerLatency", title: "ContainerLatency, stacked in pipeline order (average)",
      unit: "ms", stacked: true,
      series: v.containers.map((c, ci) => series(data, `cl${ci}_${vi}`, c, "ContainerLatency", ms)) });
    box.append(breakdownTable(v, vi, data));
  });
  USAGE.forEach(([metric, title], ui) => {
    timeChart(grid, { range, id: metric, title: `${title} per instance`, unit: "%",
      series: all((v, vi) => v.hosts.map((host, hi) =>
        series(data, `u${ui}_${vi}_${hi}`, host.split("/").slice(multi ? 1 : 2).join("/"), metric))) });
  });
}

/** Each container's average latency over the range and its share, in pipeline order. */
function breakdownTable(v, vi, data) {
  const means = v.containers.map((c, ci) => {
    const d = data[`cl${ci}_${vi}`];
    if (!d || !d.values.length) return null;
    return d.values.reduce((a, b) => a + b, 0) / d.values.length;
  });
  const total = means.reduce((a, b) => a + (b || 0), 0);
  return h("table", { class: "grid compact", "data-testid": "container-breakdown" },
    h("thead", {}, h("tr", {}, ["#", "Container", "Average (ms)", "Share"].map((t) => h("th", { text: t })))),
    h("tbody", {}, v.containers.map((c, ci) => h("tr", { dataset: { container: c } },
      h("td", { text: ci + 1 }), h("td", { class: "container-name", text: c }),
      h("td", { class: "num", text: means[ci] === null ? "–" : fmtNumber(means[ci] / 1000, 3) }),
      h("td", {}, h("div", { class: "share" },
        h("div", { class: "bar", style: `width:${total && means[ci] ? (100 * means[ci]) / total : 0}%` }),
        h("span", { text: total && means[ci] ? `${fmtNumber((100 * means[ci]) / total, 1)} %` : "–" })))))));
}
