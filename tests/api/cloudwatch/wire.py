"""Raw HTTP to tandem's CloudWatch protocols (no botocore): build, send, read the error shape."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode
from xml.etree import ElementTree

import cbor2
import urllib3

PREFIX = "GraniteServiceVersion20100801"
XMLNS = "{http://monitoring.amazonaws.com/doc/2010-08-01/}"
_http = urllib3.PoolManager(retries=False, timeout=urllib3.Timeout(total=30))


def send(
    url: str, protocol: str, operation: str, body: bytes, headers: dict[str, str] | None = None
) -> urllib3.BaseHTTPResponse:
    """``body`` is already encoded for ``protocol`` ('json', 'cbor' or 'query'; for query it
    is the whole form, Action included)."""
    h = {"x-amzn-query-mode": "true"} if protocol != "query" else {}
    if protocol == "json":
        h |= {"X-Amz-Target": f"{PREFIX}.{operation}", "Content-Type": "application/x-amz-json-1.0"}
        path = "/"
    elif protocol == "cbor":
        h |= {"Smithy-Protocol": "rpc-v2-cbor", "Content-Type": "application/cbor"}
        path = f"/service/{PREFIX}/operation/{operation}"
    else:
        h |= {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}
        path = "/"
    h |= headers or {}
    return _http.request("POST", url + path, body=body, headers=h)


def form(operation: str, **params: Any) -> bytes:
    return urlencode({"Action": operation, "Version": "2010-08-01", **params}).encode()


def error_of(protocol: str, response: urllib3.BaseHTTPResponse) -> tuple[str, str]:
    """(code botocore would report, message), checking the protocol's error shape on the way."""
    if protocol == "query":
        assert response.headers["Content-Type"] == "text/xml"
        root = ElementTree.fromstring(response.data)
        assert root.tag == XMLNS + "ErrorResponse"
        err = root.find(XMLNS + "Error")
        assert err is not None and err.findtext(XMLNS + "Type") in ("Sender", "Receiver")
        return err.findtext(XMLNS + "Code") or "", err.findtext(XMLNS + "Message") or ""
    if protocol == "json":
        assert response.headers["Content-Type"] == "application/x-amz-json-1.0"
        body = json.loads(response.data)
    else:
        assert response.headers["Smithy-Protocol"] == "rpc-v2-cbor"
        assert response.headers["Content-Type"] == "application/cbor"
        body = cbor2.loads(response.data)
    # AWS sends validation failures in coral's namespace (the model has no such shape).
    assert body["__type"].startswith("com.amazonaws.cloudwatch.v2010_08_01#") or body[
        "__type"] == "com.amazon.coral.validate#ValidationException"  # fmt: skip
    code, _, fault = response.headers["x-amzn-query-error"].partition(";")
    assert fault in ("Sender", "Receiver")
    return code, body["message"]


def encode(protocol: str, operation: str, members: dict[str, Any]) -> bytes:
    if protocol == "json":
        return json.dumps(members).encode()
    if protocol == "cbor":
        return cbor2.dumps(members)
    return form(operation, **members)
