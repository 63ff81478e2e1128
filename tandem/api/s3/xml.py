"""S3's XML: the result documents tandem renders and the request bodies it parses (pure)."""

from __future__ import annotations

import datetime as dt
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping, Sequence
from email.utils import formatdate
from urllib.parse import quote
from xml.sax.saxutils import escape

from ...objects import BucketInfo, ListPage, ObjectInfo, PartInfo
from .errors import MalformedXML

__all__ = [
    "http_date",
    "iso_time",
    "document",
    "el",
    "quoted",
    "list_buckets",
    "list_objects",
    "parse_complete",
    "parse_delete",
    "parse_location",
]

_NS = "http://s3.amazonaws.com/doc/2006-03-01/"
_HEAD = '<?xml version="1.0" encoding="UTF-8"?>\n'


def http_date(epoch: float) -> str:
    return formatdate(epoch, usegmt=True)


def iso_time(epoch: float) -> str:
    when = dt.datetime.fromtimestamp(epoch, dt.UTC)
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"


def el(name: str, value: object) -> str:
    return f"<{name}>{escape(str(value))}</{name}>"


def document(root: str, children: Iterable[str]) -> bytes:
    return (f'{_HEAD}<{root} xmlns="{_NS}">' + "".join(children) + f"</{root}>").encode()


def quoted(etag: str) -> str:
    return f'"{etag}"'


def list_buckets(buckets: Sequence[BucketInfo], owner: str) -> bytes:
    items = "".join(
        f"<Bucket>{el('Name', b.name)}{el('CreationDate', iso_time(b.created))}"
        f"{el('BucketRegion', b.region)}</Bucket>"
        for b in buckets
    )
    return document(
        "ListAllMyBucketsResult",
        [
            f"<Owner>{el('ID', owner)}{el('DisplayName', owner)}</Owner>",
            f"<Buckets>{items}</Buckets>",
        ],
    )


def _contents(info: ObjectInfo, encode: bool, owner: str | None) -> str:
    key = quote(info.key, safe="/") if encode else info.key
    parts = [
        el("Key", key),
        el("LastModified", iso_time(info.last_modified)),
        el("ETag", quoted(info.etag)),
        el("Size", info.size),
        el("StorageClass", "STANDARD"),
    ]
    parts += [el("ChecksumAlgorithm", alg) for alg in info.attributes.checksum]
    if owner is not None:
        parts.append(f"<Owner>{el('ID', owner)}{el('DisplayName', owner)}</Owner>")
    return "<Contents>" + "".join(parts) + "</Contents>"


def list_objects(
    page: ListPage,
    *,
    bucket: str,
    params: Mapping[str, str | None],
    encode: bool,
    owner: str | None,
) -> bytes:
    """``ListBucketResult`` of either version; ``params`` are the echoed members in order
    (None leaves one out): Prefix, Delimiter, Marker/ContinuationToken, MaxKeys..."""

    def text(value: str) -> str:
        return quote(value, safe="/") if encode else value

    children = [el("Name", bucket)]
    for name, value in params.items():
        if value is None:
            continue
        encoded = name in ("Prefix", "Delimiter", "StartAfter", "Marker", "NextMarker")
        children.append(el(name, text(value) if encoded else value))
    if encode:
        children.append(el("EncodingType", "url"))
    children.append(el("IsTruncated", "true" if page.truncated else "false"))
    children += [_contents(info, encode, owner) for info in page.contents]
    children += [
        f"<CommonPrefixes>{el('Prefix', text(p))}</CommonPrefixes>" for p in page.common_prefixes
    ]
    return document("ListBucketResult", children)


def list_parts(bucket: str, key: str, upload_id: str, parts: Sequence[PartInfo]) -> bytes:
    items = []
    for part in parts:
        fields = [
            el("PartNumber", part.number),
            el("LastModified", iso_time(part.last_modified)),
            el("ETag", quoted(part.etag)),
            el("Size", part.size),
        ]
        fields += [el(f"Checksum{alg}", value) for alg, value in part.checksum.items()]
        items.append("<Part>" + "".join(fields) + "</Part>")
    return document(
        "ListPartsResult",
        [
            el("Bucket", bucket),
            el("Key", key),
            el("UploadId", upload_id),
            el("IsTruncated", "false"),
            *items,
        ],
    )


def _parse(body: bytes) -> ET.Element:
    try:
        return ET.fromstring(body)
    except ET.ParseError:
        raise MalformedXML(
            "The XML you provided was not well-formed or did not validate against our "
            "published schema"
        ) from None


def _local(tag: str) -> str:
    return tag.rpartition("}")[2]


def _children(element: ET.Element, name: str) -> list[ET.Element]:
    return [child for child in element if _local(child.tag) == name]


def _text(element: ET.Element, name: str) -> str | None:
    found = _children(element, name)
    return (found[0].text or "") if found else None


def parse_complete(body: bytes) -> list[tuple[int, str]]:
    """``CompleteMultipartUpload``'s parts as (PartNumber, ETag)."""
    root = _parse(body)
    parts = []
    for part in _children(root, "Part"):
        number, etag = _text(part, "PartNumber"), _text(part, "ETag")
        if number is None or etag is None or not number.strip().isdigit():
            raise MalformedXML("Each Part needs a PartNumber and an ETag.")
        parts.append((int(number), etag.strip()))
    if _local(root.tag) != "CompleteMultipartUpload" or not parts:
        raise MalformedXML(
            "The XML you provided was not well-formed or did not validate against our "
            "published schema"
        )
    return parts


def parse_delete(body: bytes) -> tuple[list[str], bool]:
    """DeleteObjects' keys and its Quiet flag."""
    root = _parse(body)
    keys = []
    for item in _children(root, "Object"):
        key = _text(item, "Key")
        if key is None:
            raise MalformedXML("Each Object needs a Key.")
        keys.append(key)
    if _local(root.tag) != "Delete" or not keys or len(keys) > 1000:
        raise MalformedXML(
            "The XML you provided was not well-formed or did not validate against our "
            "published schema"
        )
    return keys, (_text(root, "Quiet") or "").strip().lower() == "true"


def parse_location(body: bytes) -> str | None:
    """CreateBucketConfiguration's LocationConstraint (None without a body)."""
    if not body.strip():
        return None
    root = _parse(body)
    location = _text(root, "LocationConstraint")
    return location or None
