"""A small HTTP client for the CLI: awsJson calls and InvokeEndpoint against a tandem server.

The CLI talks to the server only over HTTP (``--url``), so every command works
against a remote server too. Errors come back as ``ApiError`` with the wire
code and message the server sent.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any

__all__ = ["ApiError", "Client", "InvokeResponse", "DEFAULT_URL"]

DEFAULT_URL = "http://127.0.0.1:8080"

_TARGETS = {
    "sagemaker": ("SageMaker", "application/x-amz-json-1.1"),
    "logs": ("Logs_20140328", "application/x-amz-json-1.1"),
    "cloudwatch": ("GraniteServiceVersion20100801", "application/x-amz-json-1.0"),
    "autoscaling": ("AnyScaleFrontendService", "application/x-amz-json-1.1"),
}


class ApiError(Exception):
    def __init__(self, code: str, message: str, status: int) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = status


@dataclass
class InvokeResponse:
    status: int
    body: bytes
    content_type: str | None
    variant: str | None
    custom_attributes: str | None


class Client:
    def __init__(self, url: str = DEFAULT_URL, timeout: float = 70.0) -> None:
        self.url = url.rstrip("/")
        self.timeout = timeout

    def call(
        self, service: str, operation: str, body: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        prefix, content_type = _TARGETS[service]
        data = json.dumps(body or {}).encode()
        request = urllib.request.Request(
            self.url + "/",
            data=data,
            method="POST",
            headers={"Content-Type": content_type, "X-Amz-Target": f"{prefix}.{operation}"},
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                raw = response.read()
        except urllib.error.HTTPError as exc:
            raw = exc.read()
            try:
                payload = json.loads(raw)
                code = str(payload.get("__type", exc.code)).rpartition("#")[2]
                message = payload.get("message") or payload.get("Message") or ""
            except ValueError:
                code, message = str(exc.code), raw.decode("utf-8", "replace")
            raise ApiError(code, message, exc.code) from None
        except urllib.error.URLError as exc:
            raise ApiError("ConnectionError", f"cannot reach {self.url}: {exc.reason}", 0) from None
        return json.loads(raw) if raw else {}

    def invoke(
        self,
        endpoint: str,
        body: bytes,
        *,
        content_type: str | None = None,
        accept: str | None = None,
        target_variant: str | None = None,
        target_container: str | None = None,
        custom_attributes: str | None = None,
    ) -> InvokeResponse:
        headers = {}
        for header, value in (
            ("Content-Type", content_type),
            ("Accept", accept),
            ("X-Amzn-SageMaker-Target-Variant", target_variant),
            ("X-Amzn-SageMaker-Target-Container-Hostname", target_container),
            ("X-Amzn-SageMaker-Custom-Attributes", custom_attributes),
        ):
            if value is not None:
                headers[header] = value
        request = urllib.request.Request(
            f"{self.url}/endpoints/{urllib.parse.quote(endpoint, safe='')}/invocations",
            data=body,
            method="POST",
            headers=headers,
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return InvokeResponse(
                    response.status,
                    response.read(),
                    response.headers.get("Content-Type"),
                    response.headers.get("x-Amzn-Invoked-Production-Variant"),
                    response.headers.get("X-Amzn-SageMaker-Custom-Attributes"),
                )
        except urllib.error.HTTPError as exc:
            raw = exc.read()
            code = exc.headers.get("x-amzn-ErrorType", str(exc.code))
            try:
                message = json.loads(raw).get("Message") or json.loads(raw).get("message", "")
            except ValueError:
                message = raw.decode("utf-8", "replace")
            raise ApiError(code, message, exc.code) from None
        except urllib.error.URLError as exc:
            raise ApiError("ConnectionError", f"cannot reach {self.url}: {exc.reason}", 0) from None
