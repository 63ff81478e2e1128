// The alarms that watch an endpoint (any metric with its EndpointName dimension): their state
// now and their states over the page's time range, from DescribeAlarms and DescribeAlarmHistory.

import { cloudwatch, paginate, toSeconds } from "./api.js";
import { h } from "./dom.js";
import { segments, stateTimeline } from "./timeline.js";

function watches(alarm, endpointName) {
  const dims = alarm.Metrics
    ? alarm.Metrics.flatMap((m) => m.MetricStat?.Metric?.Dimensions || [])
    : alarm.Dimensions || [];
  return dims.some((d) => d.Name === "EndpointName" && d.Value === endpointName);
}

/** [{alarm, segments}] for the endpoint's alarms over [start, end] (seconds). */
export async function endpointAlarms(endpointName, start, end) {
  const alarms = (await paginate(cloudwatch, "DescribeAlarms", {}, "MetricAlarms"))
    .filter((a) => watches(a, endpointName));
  return Promise.all(alarms.map(async (alarm) => {
    const items = await paginate(cloudwatch, "DescribeAlarmHistory", {
      AlarmName: alarm.AlarmName, StartDate: Math.floor(start), EndDate: Math.ceil(end) + 60,
      ScanBy: "TimestampAscending",
    }, "AlarmHistoryItems", "NextToken", 5);
    const changes = [];
    let initial = null;
    let from = start;
    for (const item of items) {
      let data = {};
      try { data = JSON.parse(item.HistoryData); } catch { /* not JSON: skip */ }
      if (item.HistoryItemType === "ConfigurationUpdate" && data.type === "Create") {
        // Created inside the range: nothing to draw before (a name re-used starts over).
        from = toSeconds(item.Timestamp);
        changes.length = 0;
        initial = "INSUFFICIENT_DATA";
      } else if (item.HistoryItemType === "StateUpdate" && data.newState) {
        if (initial === null) initial = data.oldState?.stateValue || null;
        changes.push({ time: toSeconds(item.Timestamp), state: data.newState.stateValue });
      }
    }
    if (initial === null) initial = alarm.StateValue;
    return { alarm, segments: segments(initial, changes, from, Math.min(end, Date.now() / 1000)) };
  }));
}

/** The panel: a table of states and reasons, then the timeline. */
export function alarmPanel(range, rows) {
  const box = h("section", { class: "alarms", "data-testid": "endpoint-alarms" },
    h("h2", { text: "Alarms" }));
  if (!rows.length) {
    box.append(h("p", { class: "muted", text: "No alarm watches this endpoint." }));
    return box;
  }
  box.append(h("table", { class: "grid compact" },
    h("thead", {}, h("tr", {}, ["Alarm", "State", "Metric", "Reason"].map((t) => h("th", { text: t })))),
    h("tbody", {}, rows.map(({ alarm }) => h("tr", { dataset: { alarm: alarm.AlarmName } },
      h("td", { text: alarm.AlarmName }),
      h("td", {}, h("span", { class: `status alarm-${alarm.StateValue.toLowerCase()}`, text: alarm.StateValue })),
      h("td", { text: alarm.MetricName || "metric math" }),
      h("td", { class: "reason", text: alarm.StateReason }))))));
  box.append(stateTimeline(range, rows.map(({ alarm, segments: segs }) => ({
    label: alarm.AlarmName, title: alarm.StateReason, segments: segs,
  })), { "data-testid": "alarm-timeline" }));
  return box;
}
