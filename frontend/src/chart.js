// Time-series charts on uPlot (canvas; fast with 7 days of 1-minute points).
//
// Each chart's figure carries data-chart and data-series (label, metric, points) so tests
// and users can see what it holds without reading the canvas, and data-axes: each axis's
// widest tick label and the room it has (labels are drawn on the canvas, not as elements).

import uPlot from "uplot";
import { h, fmtNumber } from "./dom.js";

export const COLORS = [
  "#2f6fdf", "#e4572e", "#29a36a", "#a05fd0", "#f0a202", "#17a2b8", "#d6336c",
  "#6c757d", "#8c564b", "#1f3a93", "#7cb518", "#ff7f0e", "#9467bd", "#2ca02c", "#bcbd22",
];

const charts = new Set();
let resizeHooked = false;

// uPlot's defaults for the tick length and the gap between a tick and its label (CSS px).
const TICK = 10;
const GAP = 5;
const measurer = document.createElement("canvas").getContext("2d");

/** A label's width in CSS px in the axis font (a label may hold several lines). */
function labelWidth(axis, text) {
  measurer.font = axis.font[0]; // uPlot scales the font by the pixel ratio
  return Math.max(...String(text).split("\n").map((line) => measurer.measureText(line).width)) / uPlot.pxRatio;
}

/**
 * A y axis as wide as its widest tick label needs: a fixed width cut six- and seven-digit
 * values at the chart's left edge ("120,000" read ".20,000").
 */
function yAxisSize(u, values, axisIdx, cycleNum) {
  const axis = u.axes[axisIdx];
  const widest = Math.max(0, ...(values || []).filter((v) => v != null).map((v) => labelWidth(axis, v)));
  const size = Math.ceil(TICK + GAP + widest + 4);
  // A later layout cycle may bring other ticks ("0.25" where there was "0.5"): it may widen the
  // axis, never narrow it, so the cycles settle instead of flipping between two layouts.
  return cycleNum > 1 && axis._size ? Math.max(axis._size, size) : size;
}

/**
 * Room beside the plot for the time axis's end labels, which are centred on their ticks: half
 * the widest label (at least a "10:00pm", the widest of an hours-and-minutes range), less what
 * the y axis already gives on the left. Without it a tick at the right edge cut "10:00pm".
 */
function timeLabelPadding(side) {
  return (u) => {
    const axis = u.axes[0];
    const shown = (axis._values || []).filter((v) => v != null).map((v) => labelWidth(axis, v));
    const half = Math.ceil(Math.max(labelWidth(axis, "10:00pm"), ...shown) / 2) + 2;
    return side === "left" ? Math.max(0, half - (u.axes[1]._size || 0)) : half;
  };
}

/** Each shown axis's widest label (or, for the time axis, the tightest one) and its room. */
function axesFit(u) {
  const out = [];
  u.axes.forEach((axis, i) => {
    if (!axis._show || !axis._values) return;
    const labels = axis._values.map((v, j) => (v == null ? null : { text: String(v), split: axis._splits[j] }))
      .filter((l) => l !== null);
    if (!labels.length) return;
    if (axis.side === 1 || axis.side === 3) {
      const widths = labels.map((l) => labelWidth(axis, l.text));
      const k = widths.indexOf(Math.max(...widths));
      const room = axis.side === 3 ? axis._pos - TICK - GAP : u.width - (axis._pos + TICK + GAP);
      out.push({ side: axis.side === 3 ? "left" : "right", label: labels[k].text, widest: widths[k], room });
      return;
    }
    // A time label is centred on its tick: it fits when both halves stay inside the canvas.
    const left = u.bbox.left / uPlot.pxRatio;
    let worst = null;
    for (const l of labels) {
      const width = labelWidth(axis, l.text);
      const centre = left + u.valToPos(l.split, axis.scale || "x");
      const room = 2 * Math.min(centre, u.width - centre);
      if (!worst || room - width < worst.room - worst.widest) worst = { side: "bottom", label: l.text, widest: width, room };
    }
    out.push(worst);
  });
  return out;
}

/** The width inside an element's padding: a canvas as wide as clientWidth overflows it. */
function innerWidth(el) {
  const style = getComputedStyle(el);
  return el.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
}

/** Align several (timestamps, values) series on the union of their timestamps. */
export function align(seriesList) {
  const xs = new Set();
  for (const s of seriesList) for (const t of s.timestamps) xs.add(t);
  const x = [...xs].sort((a, b) => a - b);
  const index = new Map(x.map((t, i) => [t, i]));
  const ys = seriesList.map((s) => {
    const y = new Array(x.length).fill(null);
    s.timestamps.forEach((t, i) => { y[index.get(t)] = s.values[i]; });
    return y;
  });
  return [x, ...ys];
}

/**
 * A chart in `parent`: series = [{label, metric, timestamps, values, scale?}].
 * `stacked`: each series drawn on top of the previous ones (in the given order).
 * `range`: [start, end] in epoch seconds for the x axis.
 */
export function timeChart(parent, { id, title, unit = "", series, stacked = false, height = 220, range = null }) {
  const figure = h("figure", { class: "chart", dataset: { chart: id } });
  figure.append(h("figcaption", {}, h("span", { class: "title", text: title }),
    unit ? h("span", { class: "unit", text: unit }) : null));
  parent.append(figure);
  const summary = series.map((s) => ({
    label: s.label, metric: s.metric || id,
    points: s.values.filter((v) => v !== null && !Number.isNaN(v)).length,
  }));
  figure.dataset.series = JSON.stringify(summary);
  if (!series.length || summary.every((s) => s.points === 0)) {
    figure.classList.add("empty");
    figure.append(h("div", { class: "nodata", text: "No data in this range." }));
    return null;
  }
  const data = align(series.map((s) => ({
    timestamps: s.timestamps, values: s.values.map((v) => (s.scale ? v * s.scale : v)),
  })));
  const opts = {
    width: Math.max(280, innerWidth(figure) || innerWidth(parent) || 600),
    height,
    cursor: { drag: { x: true, y: false } },
    legend: { live: true },
    // The x axis spans the chosen time range, however little data there is.
    scales: {
      x: range ? { time: true, range: () => range } : { time: true },
      // Every metric here is >= 0: start the y axis at zero so small wobbles look small.
      y: { range: (u, min, max) => [Math.min(0, min), max > 0 ? max * 1.1 : 1] },
    },
    axes: [{}, { size: yAxisSize }],
    padding: [null, timeLabelPadding("right"), null, timeLabelPadding("left")],
    series: [{}],
    hooks: { draw: [(u) => { figure.dataset.axes = JSON.stringify(axesFit(u)); }] },
  };
  let plotData = data;
  if (stacked) {
    plotData = [data[0]];
    const sums = new Array(data[0].length).fill(0);
    for (let i = 1; i < data.length; i++) {
      plotData.push(data[i].map((v, j) => (sums[j] += v ?? 0)));
    }
    opts.bands = [];
    for (let i = 2; i < plotData.length; i++) opts.bands.push({ series: [i, i - 1] });
  }
  series.forEach((s, i) => {
    const color = COLORS[i % COLORS.length];
    const raw = data[i + 1];
    opts.series.push({
      label: s.label,
      stroke: color,
      width: 1.5,
      dash: s.dash,
      fill: stacked ? color + "55" : undefined,
      spanGaps: false,
      points: { show: data[0].length < 60 },
      // The legend shows each series' own value even when stacked.
      value: (u, v, si, idx) => (idx === null || idx === undefined ? "–" : fmtNumber(raw[idx])),
    });
  });
  const plot = new uPlot(opts, plotData, figure);
  charts.add(plot);
  if (!resizeHooked) {
    resizeHooked = true;
    window.addEventListener("resize", () => {
      for (const c of charts) {
        if (!c.root.isConnected) { charts.delete(c); continue; }
        c.setSize({ width: Math.max(280, innerWidth(c.root.parentElement)), height: c.height });
      }
    });
  }
  return plot;
}

export function destroyCharts(root) {
  for (const c of [...charts]) {
    if (!c.root.isConnected || root.contains(c.root)) {
      c.destroy();
      charts.delete(c);
    }
  }
}
