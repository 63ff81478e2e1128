"""The per-request ``context`` handed to handler functions that take one.

A handler function receives it when it declares one parameter more than the contract's
(``input_fn(input_data, content_type, context)``), as in the inference toolkit.

Custom attributes: the request's ``X-Amzn-SageMaker-Custom-Attributes`` header (what a client
passes as ``CustomAttributes`` to InvokeEndpoint) is ``context.custom_attributes`` (None when
absent). A handler answers with its own by setting ``context.response_custom_attributes = "..."``
(or ``context.set_response_header(0, "X-Amzn-SageMaker-Custom-Attributes", "...")``); the
runtime sends it as the response header of the same name, which InvokeEndpoint returns to the
client as ``CustomAttributes``. The MMS-style accessors (``system_properties``,
``request_processor[0].get_request_properties()``, ``get_request_header``,
``set_response_header``) are there so handlers written for the toolkit keep working.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["Context", "CUSTOM_ATTRIBUTES"]

CUSTOM_ATTRIBUTES = "X-Amzn-SageMaker-Custom-Attributes"
_EMPTY: Mapping[str, str] = {}


class Context:
    """What one request's handler functions may read about the request and set on the response."""

    __slots__ = ("model_dir", "request_headers", "response_headers")

    def __init__(self, model_dir: str, request_headers: Mapping[str, str] = _EMPTY) -> None:
        self.model_dir = model_dir
        # The server hands a case-insensitive mapping; lookups below rely on that.
        self.request_headers = request_headers
        self.response_headers: dict[str, str] = {}

    @property
    def custom_attributes(self) -> str | None:
        return self.request_headers.get(CUSTOM_ATTRIBUTES)

    @property
    def response_custom_attributes(self) -> str | None:
        return self.response_headers.get(CUSTOM_ATTRIBUTES)

    @response_custom_attributes.setter
    def response_custom_attributes(self, value: str) -> None:
        self.set_response_header(0, CUSTOM_ATTRIBUTES, value)

    # MMS-compatible surface -------------------------------------------------------------
    @property
    def system_properties(self) -> dict[str, Any]:
        return {"model_dir": self.model_dir, "gpu_id": None, "batch_size": 1}

    @property
    def request_processor(self) -> list[Context]:
        return [self]

    def get_request_properties(self) -> dict[str, str]:
        return dict(self.request_headers)

    def get_request_header(self, idx: int, key: str) -> str | None:
        return self.request_headers.get(key)

    def set_response_header(self, idx: int, key: str, value: str) -> None:
        value = str(value)
        # A header value with a line break would split the response; refuse it here, where
        # the handler's traceback points at the culprit.
        if "\r" in value or "\n" in value:
            raise ValueError(f"response header {key} may not contain a line break")
        self.response_headers[key] = value
