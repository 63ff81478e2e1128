"""The default decoders and encoders of the inference toolkit: JSON, CSV and NPY <-> numpy.

Media types match by exact string equality, as in the toolkit: ``text/csv; charset=utf-8``
is not ``text/csv`` (trap 11 of the contract reference).
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from typing import Any

import numpy as np

from .errors import UnsupportedFormatError

__all__ = [
    "JSON", "CSV", "NPY", "ANY", "UTF8_TYPES", "SUPPORTED", "decode", "encode", "parse_accept",
]

JSON = "application/json"
CSV = "text/csv"
NPY = "application/x-npy"
ANY = "*/*"
# Bodies of these types reach input_fn as str; all others stay bytes.
UTF8_TYPES = frozenset((JSON, CSV))


def _json_to_numpy(data: str | bytes) -> np.ndarray:
    return np.array(json.loads(data))


def _csv_to_numpy(data: str | bytes) -> np.ndarray:
    text = data.decode("utf-8") if isinstance(data, bytes) else data
    return np.genfromtxt(io.StringIO(text), delimiter=",")


def _npy_to_numpy(data: str | bytes) -> np.ndarray:
    raw = data.encode("utf-8") if isinstance(data, str) else data
    # The toolkit allows pickles; a request body is untrusted input, and unpickling it runs
    # arbitrary code in the container, so object arrays are refused here.
    array: np.ndarray = np.load(io.BytesIO(raw), allow_pickle=False)
    return array


def _json_default(value: Any) -> Any:
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def _array_to_json(value: Any) -> str:
    if isinstance(value, np.ndarray):
        # One conversion for the whole array beats a default() call per element.
        value = value.tolist()
    return json.dumps(value, default=_json_default)


def _array_to_csv(value: Any) -> str:
    stream = io.StringIO()
    np.savetxt(stream, value, delimiter=",", fmt="%s")
    return stream.getvalue()


def _array_to_npy(value: Any) -> bytes:
    stream = io.BytesIO()
    np.save(stream, value)
    return stream.getvalue()


_DECODERS: dict[str, Callable[[str | bytes], Any]] = {
    JSON: _json_to_numpy,
    CSV: _csv_to_numpy,
    NPY: _npy_to_numpy,
}
_ENCODERS: dict[str, Callable[[Any], str | bytes]] = {
    JSON: _array_to_json,
    CSV: _array_to_csv,
    NPY: _array_to_npy,
}


def decode(data: str | bytes, content_type: str) -> Any:
    """Decode a request body of ``content_type`` into a numpy array."""
    decoder = _DECODERS.get(content_type)
    if decoder is None:
        raise UnsupportedFormatError(content_type)
    return decoder(data)


def encode(value: Any, content_type: str) -> str | bytes:
    """Encode an array-like value as ``content_type``."""
    encoder = _ENCODERS.get(content_type)
    if encoder is None:
        raise UnsupportedFormatError(content_type)
    return encoder(value)


def parse_accept(accept: str) -> list[str]:
    """The media types of an Accept header, in order (the toolkit drops spaces, splits on ',')."""
    return accept.replace(" ", "").split(",")


SUPPORTED = frozenset(_ENCODERS)
