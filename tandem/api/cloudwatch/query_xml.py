"""XML responses of CloudWatch's query protocol: pure ``(operation, result) -> bytes``.

Lists are ``<member>`` elements, maps ``<entry><key/><value/></entry>``,
timestamps ISO 8601 UTC (``2024-01-02T03:04:00Z``, a fraction only when there
is one). ``None`` members are omitted: an empty ``<NextToken/>`` would parse as
``''`` and make a paginator loop.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any
from xml.sax.saxutils import escape

from .errors import WireError
from .shapes import OUTPUTS, Shape

__all__ = ["XMLNS", "CONTENT_TYPE", "render", "render_error", "iso_time"]

XMLNS = "http://monitoring.amazonaws.com/doc/2010-08-01/"
CONTENT_TYPE = "text/xml"


# Characters XML 1.0 cannot carry at all, even escaped; shown as \\xNN instead.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _text(value: str) -> str:
    return escape(_NOT_XML.sub(lambda m: f"\\x{ord(m.group()):02x}", value))


def iso_time(seconds: float) -> str:
    moment = dt.datetime.fromtimestamp(seconds, dt.UTC)
    if moment.microsecond:
        return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _scalar(value: Any, shape: Shape) -> str:
    if shape.kind == "timestamp":
        return iso_time(value)
    if shape.kind == "boolean":
        return "true" if value else "false"
    if shape.kind == "double":
        return repr(float(value))
    return _text(str(value))


def _element(name: str, value: Any, shape: Shape, out: list[str]) -> None:
    if shape.kind in ("structure", "list", "map"):
        if not value and value is not None:
            out.append(f"<{name}/>")
            return
        out.append(f"<{name}>")
        _children(value, shape, out)
        out.append(f"</{name}>")
    else:
        out.append(f"<{name}>{_scalar(value, shape)}</{name}>")


def _children(value: Any, shape: Shape, out: list[str]) -> None:
    if shape.kind == "structure":
        for member, member_shape in shape.members.items():
            item = value.get(member)
            if item is not None:
                _element(member, item, member_shape, out)
    elif shape.kind == "list":
        assert shape.member is not None
        for item in value:
            _element("member", item, shape.member, out)
    elif shape.kind == "map":
        assert shape.member is not None
        for key, item in value.items():
            out.append(f"<entry><key>{_text(key)}</key>")
            _element("value", item, shape.member, out)
            out.append("</entry>")


def render(operation: str, result: dict[str, Any] | None, request_id: str) -> bytes:
    out = [f'<{operation}Response xmlns="{XMLNS}">']
    shape = OUTPUTS[operation]
    if shape is not None and result is not None:
        out.append(f"<{operation}Result>")
        _children(result, shape, out)
        out.append(f"</{operation}Result>")
    out.append(f"<ResponseMetadata><RequestId>{request_id}</RequestId></ResponseMetadata>")
    out.append(f"</{operation}Response>")
    return "".join(out).encode()


def render_error(error: WireError, message: str, request_id: str) -> bytes:
    return (
        f'<ErrorResponse xmlns="{XMLNS}"><Error><Type>{error.fault}</Type>'
        f"<Code>{_text(error.query_code)}</Code><Message>{_text(message)}</Message></Error>"
        f"<RequestId>{request_id}</RequestId></ErrorResponse>"
    ).encode()
