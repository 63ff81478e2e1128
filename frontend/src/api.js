// tandem's public APIs from the browser: POST / with X-Amz-Target and a JSON body, as boto3 does.

import { signHeaders } from "./sigv4.js";

export class ApiError extends Error {
  constructor(code, message, status) {
    super(`${code}: ${message}`);
    this.code = code;
    this.detail = message;
    this.status = status;
  }
}

const SERVICES = {
  sagemaker: { prefix: "SageMaker", type: "application/x-amz-json-1.1", signingName: "sagemaker" },
  cloudwatch: { prefix: "GraniteServiceVersion20100801", type: "application/x-amz-json-1.0", signingName: "monitoring" },
  logs: { prefix: "Logs_20140328", type: "application/x-amz-json-1.1", signingName: "logs" },
  autoscaling: { prefix: "AnyScaleFrontendService", type: "application/x-amz-json-1.1",
    signingName: "application-autoscaling" },
};

// A server started with --auth-file wants every POST signed. The keys live in this tab's
// sessionStorage only (gone when the tab closes), entered in the sign-in form.
const KEYS = "tandem.credentials";
export const AUTH_CODES = new Set(["MissingAuthenticationTokenException", "UnrecognizedClientException",
  "InvalidSignatureException", "IncompleteSignatureException"]);

export function credentials() {
  try {
    return JSON.parse(sessionStorage.getItem(KEYS) || "null");
  } catch {
    return null;
  }
}

export function setCredentials(value) {
  if (value) sessionStorage.setItem(KEYS, JSON.stringify(value));
  else sessionStorage.removeItem(KEYS);
}

export async function call(service, operation, body = {}) {
  const { prefix, type, signingName } = SERVICES[service];
  const payload = JSON.stringify(body);
  const headers = { "X-Amz-Target": `${prefix}.${operation}`, "Content-Type": type };
  const keys = credentials();
  if (keys) {
    Object.assign(headers, signHeaders({ host: location.host, headers, body: payload, service: signingName,
      accessKeyId: keys.accessKeyId, secretAccessKey: keys.secretAccessKey }));
  }
  let resp;
  try {
    resp = await fetch("/", { method: "POST", headers, body: payload });
  } catch (err) {
    throw new ApiError("NetworkError", `tandem did not answer (${err.message})`, 0);
  }
  const text = await resp.text();
  let data = {};
  try {
    data = text ? JSON.parse(text) : {};
  } catch {
    throw new ApiError("SerializationException", text.slice(0, 200), resp.status);
  }
  if (!resp.ok) {
    // CloudWatch's JSON 1.0 names the shape after a '#'.
    const code = String(data.__type || "Error").split("#").pop();
    const error = new ApiError(code, data.message || data.Message || text, resp.status);
    if (AUTH_CODES.has(code)) window.dispatchEvent(new CustomEvent("tandem:auth", { detail: error }));
    throw error;
  }
  return data;
}

export const sagemaker = (op, body) => call("sagemaker", op, body);
export const cloudwatch = (op, body) => call("cloudwatch", op, body);
export const logs = (op, body) => call("logs", op, body);
export const autoscaling = (op, body) => call("autoscaling", op, body);

/** Every page of a paginated call, up to `maxPages`. */
export async function paginate(fn, op, body, listKey, tokenKey = "NextToken", maxPages = 20) {
  const items = [];
  let token;
  for (let page = 0; page < maxPages; page++) {
    const resp = await fn(op, token ? { ...body, [tokenKey]: token } : body);
    items.push(...(resp[listKey] || []));
    token = resp[tokenKey];
    if (!token) break;
  }
  return items;
}

/** GetMetricData for many queries (500 per call), ascending; returns {id: {timestamps, values}}. */
export async function metricData(queries, start, end) {
  const out = {};
  for (let i = 0; i < queries.length; i += 500) {
    const body = {
      MetricDataQueries: queries.slice(i, i + 500),
      StartTime: Math.floor(start),
      EndTime: Math.ceil(end),
      ScanBy: "TimestampAscending",
    };
    let token;
    do {
      const resp = await cloudwatch("GetMetricData", token ? { ...body, NextToken: token } : body);
      for (const r of resp.MetricDataResults || []) {
        const prev = out[r.Id] || (out[r.Id] = { label: r.Label, timestamps: [], values: [] });
        prev.timestamps.push(...r.Timestamps.map(toSeconds));
        prev.values.push(...r.Values);
      }
      token = resp.NextToken;
    } while (token);
  }
  return out;
}

/**
 * The unit a metric was put with over [start, end] ("" when none): GetMetricData does not say,
 * GetMetricStatistics does, so one SampleCount over the whole window asks.
 */
export async function metricUnit(namespace, metric, dimensions, start, end) {
  const period = Math.max(60, Math.ceil((end - start) / 60) * 60);
  const resp = await cloudwatch("GetMetricStatistics", {
    Namespace: namespace, MetricName: metric, Period: period, Statistics: ["SampleCount"],
    Dimensions: Object.entries(dimensions).map(([Name, Value]) => ({ Name, Value })),
    StartTime: Math.floor(start), EndTime: Math.ceil(end),
  });
  const unit = (resp.Datapoints || []).map((d) => d.Unit).find((u) => u && u !== "None");
  return unit || "";
}

export function toSeconds(t) {
  return typeof t === "number" ? t : Date.parse(t) / 1000;
}

/** A MetricDataQuery for one metric statistic. */
export function stat(id, namespace, metric, dimensions, statName, period, label) {
  return {
    Id: id,
    Label: label || metric,
    MetricStat: {
      Metric: {
        Namespace: namespace,
        MetricName: metric,
        Dimensions: Object.entries(dimensions).map(([Name, Value]) => ({ Name, Value })),
      },
      Period: period,
      Stat: statName,
    },
    ReturnData: true,
  };
}
