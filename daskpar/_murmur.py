"""scikit-learn's feature hash of many strings at once: :func:`murmur_strings`.

``sklearn.utils.murmurhash3_32(s, seed=0)`` hashes one Python string per call (its UTF-8
bytes, MurmurHash3 x86 32-bit, signed). Hashing a table's ``name=value`` features calls it
once per distinct value of a partition, hundreds of thousands of times for click-log
fields; here the same hash runs compiled over the values' UTF-8 bytes as Arrow lays them
out (one buffer and its offsets), with the ``name=`` prefix read in front of each value
rather than copied. The tests compare it with scikit-learn's on every kind of string.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numba
import numpy as np
import pyarrow as pa
from sklearn.utils import murmurhash3_32

__all__ = ["murmur_strings"]


@numba.njit(cache=True, nogil=True)
def _hash_all(
    prefix: np.ndarray, data: np.ndarray, offsets: np.ndarray, out: np.ndarray
) -> None:  # pragma: no cover - compiled (tested against scikit-learn's)
    """MurmurHash3 x86 32 (seed 0) of ``prefix + data[offsets[j]:offsets[j + 1]]`` into
    ``out[j]``, signed: each string is copied behind the prefix in a scratch buffer, then
    hashed in 4-byte little-endian blocks, its tail, and the final mix."""
    mask = np.uint32(0xFFFFFFFF)
    c1, c2 = np.uint32(0xCC9E2D51), np.uint32(0x1B873593)
    n = prefix.shape[0]
    longest = 0
    for j in range(out.shape[0]):
        longest = max(longest, offsets[j + 1] - offsets[j])
    scratch = np.empty(n + longest + 4, dtype=np.uint8)
    scratch[:n] = prefix
    for j in range(out.shape[0]):
        start, stop = offsets[j], offsets[j + 1]
        length = n + stop - start
        scratch[n:length] = data[start:stop]
        h = np.uint32(0)
        blocks = length // 4
        for b in range(blocks):
            i = 4 * b
            k = (
                np.uint32(scratch[i])
                | (np.uint32(scratch[i + 1]) << np.uint32(8))
                | (np.uint32(scratch[i + 2]) << np.uint32(16))
                | (np.uint32(scratch[i + 3]) << np.uint32(24))
            )
            k = np.uint32(k * c1)
            k = np.uint32((k << np.uint32(15)) | (k >> np.uint32(17)))
            k = np.uint32(k * c2)
            h ^= k
            h = np.uint32((h << np.uint32(13)) | (h >> np.uint32(19)))
            h = np.uint32(h * np.uint32(5) + np.uint32(0xE6546B64))
        tail = length & 3
        if tail:
            i = 4 * blocks
            k = np.uint32(0)
            if tail == 3:
                k ^= np.uint32(scratch[i + 2]) << np.uint32(16)
            if tail >= 2:
                k ^= np.uint32(scratch[i + 1]) << np.uint32(8)
            k ^= np.uint32(scratch[i])
            k = np.uint32(k * c1)
            k = np.uint32((k << np.uint32(15)) | (k >> np.uint32(17)))
            k = np.uint32(k * c2)
            h ^= k
        h ^= np.uint32(length & mask)
        h ^= h >> np.uint32(16)
        h = np.uint32(h * np.uint32(0x85EBCA6B))
        h ^= h >> np.uint32(13)
        h = np.uint32(h * np.uint32(0xC2B2AE35))
        h ^= h >> np.uint32(16)
        out[j] = np.int64(np.int32(h))


def _as_arrow(values: Any) -> pa.LargeStringArray | None:
    """The values as one Arrow large-string array (their ``str``), or None if Arrow cannot
    hold them (a lone surrogate, which has no UTF-8 bytes; scikit-learn's own hash then
    decides)."""
    try:
        values = getattr(values, "array", values)  # a pandas Index's values
        if hasattr(values, "__arrow_array__"):  # pandas' Arrow-backed arrays
            values = pa.array(values)
        if isinstance(values, pa.ChunkedArray):
            values = values.combine_chunks()
        text = (pa.types.is_string, pa.types.is_large_string)
        if not (isinstance(values, pa.Array) and any(is_type(values.type) for is_type in text)):
            values = pa.array([str(v) for v in values], type=pa.large_string())
        arr: pa.LargeStringArray = values.cast(pa.large_string())
        return arr
    except (pa.ArrowException, UnicodeError):
        return None


def murmur_strings(prefix: str, values: Sequence[Any] | pa.Array) -> np.ndarray:
    """``murmurhash3_32(prefix + str(v), seed=0)`` for every value ``v``, as int64.

    ``values`` may be a sequence of any objects (each taken as ``str(v)``) or an Arrow string
    array (no nulls). The result equals scikit-learn's signed hash, value for value.
    """
    arr = _as_arrow(values)
    if arr is None:
        return np.fromiter(
            (murmurhash3_32(f"{prefix}{v!s}", seed=0) for v in values), dtype=np.int64
        )
    _, offsets_buffer, data_buffer = arr.buffers()
    n = len(arr)
    offsets = np.frombuffer(offsets_buffer, dtype=np.int64)[arr.offset : arr.offset + n + 1]
    data = (
        np.frombuffer(data_buffer, dtype=np.uint8)
        if data_buffer is not None
        else np.zeros(0, np.uint8)
    )
    out = np.empty(n, dtype=np.int64)
    _hash_all(np.frombuffer(prefix.encode("utf-8"), dtype=np.uint8), data, offsets, out)
    return out
