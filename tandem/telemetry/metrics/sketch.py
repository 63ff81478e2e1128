"""A mergeable, log-bucketed percentile sketch (DDSketch-style), and its vectorised queries.

A positive value v falls in bin ``ceil(log(v) / log(gamma))`` with
``gamma = (1 + a) / (1 - a)``; the bin's representative value
``2 * gamma**k / (gamma + 1)`` is within ``a`` (relative) of every value in it,
whatever the unit, for any positive double. Zero has its own bin. Negative values
are not sketched: CloudWatch makes percentiles unavailable when any value is
negative, so the bucket only remembers that it saw one.

Bins are plain ``dict[int, float]`` while recording (O(1) per value) and packed
into ``bytes`` (little-endian int32 key, float64 count, sorted by key) for the
store, so many sketches are merged with one ``numpy.frombuffer``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import numpy as np

__all__ = [
    "RELATIVE_ACCURACY",
    "ZERO_KEY",
    "bin_key",
    "bin_value",
    "encode_bins",
    "decode_bins",
    "merge_encoded",
    "grouped_quantiles",
]

# 0.5% leaves room under the 1% promise for the gap between the sketch's rank rule
# and whatever "exact" percentile definition a caller compares with.
RELATIVE_ACCURACY = 0.005
_GAMMA = (1.0 + RELATIVE_ACCURACY) / (1.0 - RELATIVE_ACCURACY)
_INV_LOG_GAMMA = 1.0 / math.log(_GAMMA)
ZERO_KEY = -(2**31)  # the bin of 0.0; below every real key (log of the tiniest double ~ -74000)

ENTRY = np.dtype([("k", "<i4"), ("c", "<f8")])


def bin_key(value: float) -> int:
    """The bin of a value >= 0 (the hot path inlines this expression)."""
    if value == 0.0:
        return ZERO_KEY
    return math.ceil(math.log(value) * _INV_LOG_GAMMA)


def bin_value(keys: np.ndarray) -> np.ndarray:
    """Representative values of bins (vectorised)."""
    out = 2.0 * np.power(_GAMMA, keys.astype(np.float64)) / (_GAMMA + 1.0)
    return np.where(keys == ZERO_KEY, 0.0, out)


def encode_bins(bins: dict[int, float]) -> bytes:
    """Pack bins sorted by key."""
    if not bins:
        return b""
    arr = np.empty(len(bins), dtype=ENTRY)
    keys = sorted(bins)
    arr["k"] = keys
    arr["c"] = [bins[k] for k in keys]
    return arr.tobytes()


def decode_bins(blob: bytes) -> dict[int, float]:
    arr = np.frombuffer(blob, dtype=ENTRY)
    return dict(zip(arr["k"].tolist(), arr["c"].tolist(), strict=True))


def merge_encoded(blobs: Iterable[bytes]) -> bytes:
    """Merge packed sketches into one packed sketch (for rollups)."""
    arr = np.frombuffer(b"".join(blobs), dtype=ENTRY)
    if len(arr) == 0:
        return b""
    keys, inverse = np.unique(arr["k"], return_inverse=True)
    counts = np.bincount(inverse, weights=arr["c"], minlength=len(keys))
    out = np.empty(len(keys), dtype=ENTRY)
    out["k"] = keys
    out["c"] = counts
    return out.tobytes()


def grouped_quantiles(
    blobs: Sequence[bytes], groups: np.ndarray, n_groups: int, quantiles: Sequence[float]
) -> np.ndarray:
    """Quantiles (0..1) of the merged sketch of each group, shape (len(quantiles), n_groups).

    ``groups[i]`` is the group of ``blobs[i]``. A group with no sketched values is NaN.
    The q-quantile is the bin holding the nearest rank ``ceil(q * n)`` (1-based), so p50 of
    0..9 is 4 and p99 of 0..9 is 9.
    """
    result = np.full((len(quantiles), n_groups), np.nan)
    lengths = np.fromiter(
        (len(b) // ENTRY.itemsize for b in blobs), dtype=np.int64, count=len(blobs)
    )
    arr = np.frombuffer(b"".join(blobs), dtype=ENTRY)
    if len(arr) == 0:
        return result
    groups = np.asarray(groups, dtype=np.int64)
    nonempty = lengths > 0
    row_groups, row_lengths = groups[nonempty], lengths[nonempty]
    counts = arr["c"]
    if np.all(row_groups[1:] > row_groups[:-1]):
        # One sketch per group (a period of one minute, one writer): entries are already
        # in (group, key) order, so no merge is needed.
        keys = arr["k"]
        first = np.cumsum(row_lengths) - row_lengths
        last = first + row_lengths - 1
        cum = np.cumsum(counts)
        totals = np.add.reduceat(counts, first)
        bases = cum[first] - counts[first]
        wanted = row_groups
    else:
        g = np.repeat(row_groups, row_lengths)
        keys = arr["k"].astype(np.int64)
        # Each blob is sorted, so this sorts a few sorted runs (timsort is near-linear here).
        order = np.argsort((g << 33) + (keys + 2**31), kind="stable")
        g, keys, counts = g[order], keys[order], counts[order]
        cum = np.cumsum(counts)
        all_totals = np.bincount(g, weights=counts, minlength=n_groups)
        wanted = np.flatnonzero(all_totals > 0)
        totals = all_totals[wanted]
        bases = (np.cumsum(all_totals) - all_totals)[wanted]
        # Entry ranges of each group, to keep float rounding from stepping into a neighbour.
        first = np.searchsorted(g, wanted, side="left")
        last = np.searchsorted(g, wanted, side="right") - 1
    for qi, q in enumerate(quantiles):
        # 0-based nearest rank; the small slack keeps 0.29 * 100 from landing on rank 30.
        rank = bases + np.maximum(np.ceil(q * totals - 1e-9) - 1.0, 0.0)
        idx = np.clip(np.searchsorted(cum, rank, side="right"), first, last)
        result[qi, wanted] = bin_value(keys[idx])
    return result
