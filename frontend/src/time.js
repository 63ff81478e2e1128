// Time ranges and the period that keeps a chart near 1,440 points (1-minute data up to a day).

export const RANGES = [
  [900, "15 min"], [3600, "1 hour"], [3 * 3600, "3 hours"], [12 * 3600, "12 hours"],
  [86400, "1 day"], [3 * 86400, "3 days"], [7 * 86400, "7 days"],
];

export const REFRESH = [[0, "off"], [5, "5 s"], [10, "10 s"], [30, "30 s"], [60, "1 min"]];

export function autoPeriod(rangeSeconds) {
  return Math.max(60, Math.ceil(rangeSeconds / 1440 / 60) * 60);
}

export function window_(rangeSeconds) {
  const end = Math.ceil(Date.now() / 1000 / 60) * 60;
  return { start: end - rangeSeconds, end };
}
