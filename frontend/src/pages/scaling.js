// An endpoint's autoscaling on the page's time axis: each scaling activity (Application Auto
// Scaling's DescribeScalingActivities) as a marker where it started, coloured by status,
// and a table of the activities in the range with their causes. Text from the server is
// set with textContent only.

import { autoscaling, paginate } from "../api.js";
import { h, fmtTime } from "../dom.js";

const NAMESPACE = "sagemaker";

/** The scaling activities of the endpoint's variants that started in [start, end]. */
export async function loadScaling(endpointName, variants, [start, end]) {
  const targets = await autoscaling("DescribeScalableTargets", {
    ServiceNamespace: NAMESPACE,
    ResourceIds: variants.map((v) => `endpoint/${endpointName}/variant/${v.VariantName}`),
  }).catch(() => ({ ScalableTargets: [] }));
  const activities = [];
  for (const target of targets.ScalableTargets || []) {
    const items = await paginate(autoscaling, "DescribeScalingActivities", {
      ServiceNamespace: NAMESPACE, ResourceId: target.ResourceId,
      ScalableDimension: target.ScalableDimension,
    }, "ScalingActivities", "NextToken", 5);
    activities.push(...items.filter((a) => a.StartTime >= start && a.StartTime <= end));
  }
  activities.sort((a, b) => a.StartTime - b.StartTime);
  return { targets: targets.ScalableTargets || [], activities };
}

/** The section: nothing when no variant of the endpoint is a scalable target. */
export function scalingSection({ targets, activities }, [start, end]) {
  if (!targets.length) return null;
  const span = Math.max(1, end - start);
  // The same layout as the alarm timelines (timeline.js), so markers line up with them.
  const axis = h("div", { class: "timeline-track scaling-axis", "data-testid": "scaling-axis" },
    activities.map((a) => h("span", {
      class: `scaling-mark ${String(a.StatusCode).toLowerCase()}`,
      style: `left:${(100 * (a.StartTime - start)) / span}%`,
      title: `${fmtTime(a.StartTime * 1000)} ${a.Description} (${a.StatusCode})`,
      dataset: { status: a.StatusCode },
    })));
  const limits = targets.map((t) => `${t.ResourceId.split("/").pop()}: ${t.MinCapacity}–${t.MaxCapacity} instances`);
  return h("section", { class: "scaling", "data-testid": "scaling" },
    h("h2", { text: "Autoscaling" }),
    h("p", { class: "muted", text: limits.join(", ") }),
    h("div", { class: "timeline" },
      h("div", { class: "timeline-row" },
        h("div", { class: "timeline-label", text: "Scaling activities" }), axis),
      h("div", { class: "timeline-axis" },
        h("span", { text: fmtTime(start * 1000).slice(0, 16) }),
        h("span", { text: fmtTime(end * 1000).slice(0, 16) }))),
    activities.length
      ? h("table", { class: "grid compact", "data-testid": "scaling-activities" },
        h("thead", {}, h("tr", {}, ["Started", "Status", "Description", "Cause", "Message"].map((t) => h("th", { text: t })))),
        h("tbody", {}, [...activities].reverse().map((a) => h("tr", { dataset: { activity: a.ActivityId } },
          h("td", { text: fmtTime(a.StartTime * 1000) }),
          h("td", {}, h("span", { class: `status ${String(a.StatusCode).toLowerCase()}`, text: a.StatusCode })),
          h("td", { text: a.Description }), h("td", { text: a.Cause }), h("td", { text: a.StatusMessage || "" })))))
      : h("p", { class: "muted", text: "No scaling activity in this range." }));
}
