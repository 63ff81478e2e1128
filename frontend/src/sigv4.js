// Signature Version 4 for the page's own API calls, for servers started with --auth-file.
// Pure JS hashing (@noble/hashes), so it also works where WebCrypto is unavailable (plain http
// on a non-localhost address). Signs host, x-amz-date, x-amz-target and content-type, and
// the body's SHA-256, as botocore does for these JSON services.

import { sha256 } from "@noble/hashes/sha2";
import { hmac } from "@noble/hashes/hmac";
import { bytesToHex, utf8ToBytes } from "@noble/hashes/utils";

const hex = (data) => bytesToHex(sha256(typeof data === "string" ? utf8ToBytes(data) : data));
const mac = (key, text) => hmac(sha256, key, utf8ToBytes(text));

/** `amzDate` like 20261125T131500Z. */
export function amzDate(now = new Date()) {
  return now.toISOString().replace(/[-:]/g, "").replace(/\.\d{3}/, "");
}

/**
 * Headers to add to a POST to `path` on `host`: {Authorization, X-Amz-Date}.
 * `headers` are the request's own (names any case); all of them are signed.
 */
export function signHeaders({ host, path = "/", headers, body, service, region = "us-east-1",
  accessKeyId, secretAccessKey, now = new Date() }) {
  const date = amzDate(now);
  const all = { ...Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), String(v)])),
    host, "x-amz-date": date };
  const names = Object.keys(all).sort();
  const canonical = [
    "POST",
    path,
    "",
    names.map((n) => `${n}:${all[n].trim().replace(/\s+/g, " ")}\n`).join(""),
    names.join(";"),
    hex(body),
  ].join("\n");
  const scope = `${date.slice(0, 8)}/${region}/${service}/aws4_request`;
  const toSign = ["AWS4-HMAC-SHA256", date, scope, hex(canonical)].join("\n");
  let key = utf8ToBytes(`AWS4${secretAccessKey}`);
  for (const part of [date.slice(0, 8), region, service, "aws4_request"]) key = mac(key, part);
  const signature = bytesToHex(mac(key, toSign));
  return {
    "X-Amz-Date": date,
    Authorization: `AWS4-HMAC-SHA256 Credential=${accessKeyId}/${scope}, SignedHeaders=${names.join(";")}, Signature=${signature}`,
  };
}
