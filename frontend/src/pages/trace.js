// One trace, from the span data tandem keeps for recent requests (GET /tandem/traces/{id}):
// the request's hops with their timings as a waterfall, and a link back to every log line of
// the trace across all of its containers' streams (a FilterLogEvents search for the trace id).

import { h, errorBox, fmtNumber } from "../dom.js";

const KIND = { 1: "internal", 2: "server", 3: "client" };

export async function fetchTrace(id) {
  const resp = await fetch(`/tandem/traces/${encodeURIComponent(id)}`);
  const data = await resp.json().catch(() => ({}));
  if (!resp.ok) throw new Error(data.message || `HTTP ${resp.status}`);
  return data;
}

/** The log group a trace's lines are in, from its root span's attributes. */
export function logGroupOf(spans) {
  for (const s of spans) {
    const a = s.attributes || {};
    if (a["tandem.endpoint.name"]) return `/aws/sagemaker/Endpoints/${a["tandem.endpoint.name"]}`;
    if (a["tandem.transform_job.name"]) return "/aws/sagemaker/TransformJobs";
    if (a["tandem.training_job.name"]) return "/aws/sagemaker/TrainingJobs";
  }
  return "";
}

export function logsLink(group, traceId) {
  const params = new URLSearchParams();
  if (group) params.set("group", group);
  params.set("pattern", `"${traceId}"`);
  return `#/logs?${params}`;
}

export async function mount(root, ctx) {
  const id = ctx.params[0];
  root.append(h("p", { class: "crumbs" }, h("a", { href: "#/logs", text: "Logs" }), " / trace ", id));
  let data;
  try {
    data = await fetchTrace(id);
  } catch (err) {
    root.append(h("h1", { text: `Trace ${id}` }), errorBox(err, { "data-testid": "trace-error" }));
    return {};
  }
  const spans = data.spans;
  const group = ctx.query.get("group") || logGroupOf(spans);
  const t0 = Math.min(...spans.map((s) => Number(s.startTimeUnixNano)));
  const t1 = Math.max(...spans.map((s) => Number(s.endTimeUnixNano)));
  const total = Math.max(t1 - t0, 1);
  const root_ = spans.find((s) => !s.parentSpanId) || spans[0];
  const a = root_.attributes || {};
  const facts = [
    ["Endpoint", a["tandem.endpoint.name"]], ["Variant", a["tandem.variant.name"]],
    ["Instance", a["tandem.instance.id"]], ["Inference id", a["tandem.inference_id"]],
    ["Job", a["tandem.transform_job.name"] || a["tandem.training_job.name"]],
    ["Status", a["http.response.status_code"] ?? a["tandem.transform_job.status"] ?? a["tandem.training_job.status"]],
    ["Duration", `${fmtNumber(total / 1e6, 3)} ms`],
  ].filter(([, v]) => v !== undefined && v !== null && v !== "");
  const rows = spans.map((s) => {
    const sa = s.attributes || {};
    const start = (Number(s.startTimeUnixNano) - t0) / 1e6;
    const left = ((Number(s.startTimeUnixNano) - t0) / total) * 100;
    const width = Math.max((s.durationMs * 1e6 / total) * 100, 0.5);
    const error = s.status && s.status.code === 2;
    return h("tr", { "data-testid": "trace-span", class: error ? "span-error" : "" },
      h("td", { text: s.name }),
      h("td", { text: KIND[s.kind] || String(s.kind) }),
      h("td", { "data-testid": "span-container", text: sa["tandem.container.name"] || sa["tandem.secondary_status"] || "" }),
      h("td", { class: "num", text: fmtNumber(start, 3) }),
      h("td", { class: "num", "data-testid": "span-duration", text: fmtNumber(s.durationMs, 3) }),
      h("td", { text: error ? (sa["error.type"] || "error") : String(sa["http.response.status_code"] ?? "") }),
      h("td", { class: "waterfall" }, h("div", { class: "wf-bar", style: `margin-left:${left}%;width:${width}%` })));
  });
  root.append(
    h("h1", { text: `Trace ${id}` }),
    h("dl", { class: "facts" }, facts.map(([k, v]) => [h("dt", { text: k }), h("dd", { text: String(v) })])),
    h("p", {}, h("a", { href: logsLink(group, id), "data-testid": "trace-logs-link",
      text: "Log lines of this trace, all streams" })),
    h("table", { class: "grid compact", "data-testid": "trace-spans" },
      h("thead", {}, h("tr", {}, ["Span", "Kind", "Container", "Start (ms)", "Duration (ms)", "Status", ""]
        .map((t) => h("th", { text: t })))),
      h("tbody", {}, rows)));
  document.body.dataset.traceLoaded = id;
  return {};
}
