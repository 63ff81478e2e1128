// Training and transform jobs: status and progress, their instance and algorithm metrics, logs.
// Until the server answers the jobs operations, the page says there are no jobs.

import { sagemaker, cloudwatch, logs, paginate, metricData, stat } from "../api.js";
import { h, clear, errorBox, fmtNumber } from "../dom.js";
import { timeChart, destroyCharts } from "../chart.js";
import { LogView } from "../logview.js";
import { autoPeriod, window_ } from "../time.js";

const KINDS = {
  training: { list: "ListTrainingJobs", key: "TrainingJobSummaries", name: "TrainingJobName",
    status: "TrainingJobStatus", describe: "DescribeTrainingJob", ns: "/aws/sagemaker/TrainingJobs",
    group: "/aws/sagemaker/TrainingJobs", title: "Training jobs" },
  transform: { list: "ListTransformJobs", key: "TransformJobSummaries", name: "TransformJobName",
    status: "TransformJobStatus", describe: "DescribeTransformJob", ns: "/aws/sagemaker/TransformJobs",
    group: "/aws/sagemaker/TransformJobs", title: "Transform jobs" },
};
const USAGE = ["CPUUtilization", "MemoryUtilization", "GPUUtilization", "GPUMemoryUtilization", "DiskUtilization"];

const missing = (err) => err && (err.code === "UnknownOperationException" || err.code === "UnknownOperation");

export async function mount(root, ctx) {
  const [kind, name] = ctx.params;
  const body = h("div");
  root.append(body);
  const refresh = async () => {
    const next = h("div");
    try {
      if (kind && name && KINDS[kind]) await detail(next, KINDS[kind], name, ctx.range);
      else await list(next);
    } catch (err) {
      next.append(errorBox(err));
    }
    if (!mounted) return;
    destroyCharts(body);
    clear(body).append(next);
  };
  let mounted = true;
  await refresh();
  return { refresh, unmount: () => { mounted = false; } };
}

async function list(parent) {
  parent.append(h("h1", { text: "Jobs" }));
  let unsupported = 0;
  const sections = [];
  for (const [kind, k] of Object.entries(KINDS)) {
    let jobs;
    try {
      jobs = await paginate(sagemaker, k.list, { MaxResults: 100, SortBy: "CreationTime", SortOrder: "Descending" }, k.key);
    } catch (err) {
      if (missing(err)) { unsupported++; continue; }
      throw err;
    }
    sections.push([kind, k, jobs]);
  }
  const any = sections.some(([, , jobs]) => jobs.length);
  for (const [kind, k, jobs] of any ? sections : []) {
    parent.append(h("h2", { text: k.title }));
    if (!jobs.length) {
      parent.append(h("p", { class: "muted", text: "None yet." }));
      continue;
    }
    parent.append(h("table", { class: "grid", "data-testid": `${kind}-jobs` },
      h("thead", {}, h("tr", {}, ["Name", "Status", "Created", "Ended"].map((t) => h("th", { text: t })))),
      h("tbody", {}, jobs.map((j) => h("tr", {},
        h("td", {}, h("a", { href: `#/jobs/${kind}/${encodeURIComponent(j[k.name])}`, text: j[k.name] })),
        h("td", {}, h("span", { class: `status ${String(j[k.status]).toLowerCase()}`, text: j[k.status] })),
        h("td", { text: when(j.CreationTime) }),
        h("td", { text: when(j.TrainingEndTime || j.TransformEndTime) }))))));
  }
  if (!any) {
    parent.append(h("p", { class: "muted", "data-testid": "no-jobs",
      text: unsupported === Object.keys(KINDS).length
        ? "No jobs: this server does not run training or transform jobs yet."
        : "No training or transform jobs yet." }));
  }
}

function when(t) {
  return t ? new Date((typeof t === "number" ? t * 1000 : Date.parse(t))).toLocaleString() : "–";
}

async function detail(parent, k, name, range) {
  const job = await sagemaker(k.describe, { [k.name]: name });
  const transitions = job.SecondaryStatusTransitions || [];
  const last = transitions[transitions.length - 1];
  parent.append(
    h("p", { class: "crumbs" }, h("a", { href: "#/jobs", text: "Jobs" }), " / ", name),
    h("h1", {}, name, " ", h("span", { class: `status ${String(job[k.status]).toLowerCase()}`, text: job[k.status] })),
    job.FailureReason ? h("div", { class: "error", text: job.FailureReason }) : null,
    h("dl", { class: "facts" },
      fact("Progress", job.SecondaryStatus ? `${job.SecondaryStatus}${last && last.StatusMessage ? ` — ${last.StatusMessage}` : ""}` : job[k.status]),
      fact("Created", when(job.CreationTime)),
      fact("Started", when(job.TrainingStartTime || job.TransformStartTime)),
      fact("Ended", when(job.TrainingEndTime || job.TransformEndTime)),
      fact("Instances", (job.ResourceConfig || job.TransformResources || {}).InstanceCount ?? "–")));
  if (transitions.length) {
    parent.append(h("h2", { text: "Progress" }), h("ol", { class: "steps" }, transitions.map((t) =>
      h("li", {}, h("b", { text: t.Status }), ` ${when(t.StartTime)} `, h("span", { class: "muted", text: t.StatusMessage || "" })))));
  }
  if ((job.FinalMetricDataList || []).length) {
    parent.append(h("h2", { text: "Final metrics" }), h("table", { class: "grid compact" },
      h("tbody", {}, job.FinalMetricDataList.map((m) => h("tr", {}, h("td", { text: m.MetricName }),
        h("td", { class: "num", text: fmtNumber(m.Value, 4) }))))));
  }
  // Instance metrics by Host, and algorithm metrics (MetricDefinitions) by job name.
  const listed = await paginate(cloudwatch, "ListMetrics", { Namespace: k.ns }, "Metrics").catch(() => []);
  const mine = listed.filter((m) => m.Dimensions.some((d) =>
    (d.Name === "Host" && d.Value.startsWith(`${name}/`)) || (d.Name.endsWith("JobName") && d.Value === name)));
  const period = autoPeriod(range);
  const { start, end } = window_(range);
  const queries = mine.map((m, i) => stat(`j${i}`, k.ns, m.MetricName,
    Object.fromEntries(m.Dimensions.map((d) => [d.Name, d.Value])), "Average", period));
  const data = queries.length ? await metricData(queries, start, end) : {};
  const byMetric = new Map();
  mine.forEach((m, i) => {
    const label = (m.Dimensions.find((d) => d.Name === "Host") || { Value: m.MetricName }).Value;
    const d = data[`j${i}`] || { timestamps: [], values: [] };
    if (!byMetric.has(m.MetricName)) byMetric.set(m.MetricName, []);
    byMetric.get(m.MetricName).push({ label, metric: m.MetricName, timestamps: d.timestamps, values: d.values });
  });
  parent.append(h("h2", { text: "Metrics" }));
  const grid = h("div", { class: "chart-grid" });
  parent.append(grid);
  const order = [...byMetric.keys()].sort((a, b) => (USAGE.indexOf(a) + 1 || 99) - (USAGE.indexOf(b) + 1 || 99) || (a < b ? -1 : 1));
  if (!order.length) grid.append(h("p", { class: "muted", text: "No metrics recorded." }));
  for (const metric of order) timeChart(grid, { range: [start, end], id: metric, title: metric, series: byMetric.get(metric) });
  parent.append(h("h2", { text: "Logs" }));
  const view = new LogView({ max: 2000 });
  parent.append(view.el);
  try {
    const resp = await logs("FilterLogEvents", { logGroupName: k.group, logStreamNamePrefix: `${name}/`, limit: 2000 });
    view.append(resp.events || []);
  } catch (err) {
    if (err.code !== "ResourceNotFoundException") parent.append(errorBox(err));
  }
}

function fact(label, value) {
  return [h("dt", { text: label }), h("dd", { text: String(value) })];
}
