"""The data fingerprint: the rows of an array, hashed where they live, as a mergeable state.

::

    blocks --fingerprint_partition--> ContentHash of X (and y)
        --combine (tree, in block order)--> one ContentHash --hexdigest--> 32 digits

One task per block hashes its rows into a :class:`ContentHash` (the dashboard's
``data-hash-block``), and the hashes merge through the tree of
:func:`~daskpar._graph.reduce_partitions` (``data-hash-merge``, ``data-hash-final``); only
40 bytes per block travel. The hash depends on the rows' bytes and order, not on how they are
chunked. The audit log records :func:`fingerprint` of the data of each operation (and
re-exports these names as ``daskpar.audit.fingerprint`` and ``daskpar.audit.ContentHash``);
the pass digests each block with :class:`ContentHash` for its checkpoints.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

import dask.array as da
import numpy as np
from scipy import sparse

from ._graph import SPLIT_EVERY, reduce_partitions
from ._sklearn_compat import validate_params
from ._states import StateTuple

__all__ = [
    "CONTENT_HASH",
    "ContentHash",
    "fingerprint",
    "fingerprint_partition",
    "row_hashes",
]

#: The name of the content hash's algorithm, recorded next to it.
CONTENT_HASH: Final[str] = "daskpar-rows-v1"

_MASK64 = (1 << 64) - 1
#: Four primes below 2**31: the moduli of the four lanes of the polynomial row hash. Their
#: products with residues fit in uint64, so numpy computes them exactly.
_PRIMES: Final[tuple[int, ...]] = (2147483647, 2147483629, 2147483587, 2147483579)
_BASES: Final[tuple[int, ...]] = (1103515245, 1664525013, 1013904223, 1597334677)
#: uint64 words per slab when a block's rows are hashed (64 KiB, in cache).
_SLAB_WORDS = 1 << 13


def _mix(z: np.ndarray) -> np.ndarray:
    """The splitmix64 finalizer, element-wise on uint64 (wrapping arithmetic)."""
    z = z ^ (z >> 30)
    z *= 0xBF58476D1CE4E5B9
    z ^= z >> 27
    z *= 0x94D049BB133111EB
    z ^= z >> 31
    return z


def _sparse_row_hashes(block: Any) -> np.ndarray:
    """:func:`row_hashes` of a scipy.sparse block, as of its rows densified to 8-byte values
    (float64, or int64 for integers and booleans), without densifying them.

    A dense row's hash sums ``mix(word_j ^ key_j)`` over its columns; a zero word contributes
    ``mix(key_j)``. So the hash is the sum of ``mix(key_j)`` over all columns plus, for each
    stored value, ``mix(word ^ key_j) - mix(key_j)``: O(stored values + columns). Explicit
    zeros, duplicates (summed first) and the order of the stored values change nothing.
    """
    csr = sparse.csr_matrix(block)
    wide = np.float64 if csr.dtype.kind in "fc" else np.int64
    csr = sparse.csr_matrix(csr, dtype=wide, copy=True)
    csr.sum_duplicates()
    n, d = csr.shape
    keys = _mix(np.arange(1, d + 1, dtype=np.uint64) * 0x9E3779B97F4A7C15)
    base = _mix(keys.copy()).sum(dtype=np.uint64) if d else np.uint64(0)
    words = np.ascontiguousarray(csr.data.astype(np.dtype(wide).newbyteorder("<"))).view("<u8")
    key = keys[csr.indices]
    delta = _mix(words.astype(np.uint64) ^ key) - _mix(key.copy())
    out = np.full(n, base, dtype=np.uint64)
    rows = np.repeat(np.arange(n), np.diff(csr.indptr))
    np.add.at(out, rows, delta)
    return out


def row_hashes(block: np.ndarray) -> np.ndarray:
    """A 64-bit hash of each row's bytes (little-endian), shape ``(n_rows,)``, uint64.

    Each row is cut into 64-bit words (zero-padded); the row's hash is the sum, modulo
    2**64, of the splitmix64 mix of each word keyed by its position in the row. Vectorized
    over rows, in slabs that stay in cache. A scipy.sparse block hashes as its rows
    densified to 8-byte values would (:func:`_sparse_row_hashes`).
    """
    if sparse.issparse(block):
        return _sparse_row_hashes(block)
    a = np.asarray(block)
    n, per_row = a.shape[0], math.prod(a.shape[1:])
    a = a.reshape(n, per_row)
    if a.dtype == object:
        # Python objects (strings from a table): hash each one's text to 8 bytes.
        text = [hashlib.blake2b(str(v).encode(), digest_size=8).digest() for v in a.ravel()]
        a = np.frombuffer(b"".join(text), dtype="<u8").reshape(n, per_row)
    little = a.dtype.newbyteorder("<")
    if a.dtype != little:
        a = a.astype(little)  # the same hash on a big-endian machine
    width = per_row * a.dtype.itemsize
    raw = np.ascontiguousarray(a).view(np.uint8).reshape(n, width)
    if width % 8:
        padded = np.zeros((n, width + 8 - width % 8), dtype=np.uint8)
        padded[:, :width] = raw
        raw = padded
    words = raw.view("<u8").astype(np.uint64, copy=False)
    keys = _mix(np.arange(1, words.shape[1] + 1, dtype=np.uint64) * 0x9E3779B97F4A7C15)
    out = np.zeros(n, dtype=np.uint64)
    step = max(16, _SLAB_WORDS // max(words.shape[1], 1))
    for start in range(0, n, step):
        out[start : start + step] = _mix(words[start : start + step] ^ keys).sum(
            axis=1, dtype=np.uint64
        )
    return out


def _powers(base: int, prime: int, n: int) -> np.ndarray:
    """``base ** k mod prime`` for ``k`` in ``0..n-1``, by doubling (log2(n) vector steps)."""
    out = np.ones(max(n, 1), dtype=np.uint64)
    filled = 1
    while filled < n:
        step = min(filled, n - filled)
        out[filled : filled + step] = out[:step] * np.uint64(pow(base, filled, prime)) % prime
        filled += step
    return out[:n]


@dataclass(frozen=True, eq=False)
class ContentHash:
    """The rows of an array, in order, as a polynomial hash of their row hashes.

    For rows with hashes ``h_0 .. h_{n-1}``, lane ``k`` holds
    ``sum_i d_i * b_k ** (n - 1 - i) mod p_k`` with ``d_i = h_i mod (p_k - 1) + 1`` (never
    0), for four primes ``p_k`` near 2**31:
    a Rabin-Karp hash of the sequence of rows. ``a.combine(b)`` is the hash of ``a``'s rows
    followed by ``b``'s (``a * b_k ** n_b + b``), so the merged hash depends on the rows and
    their order but not on where the blocks were cut, and the combine is associative (not
    commutative: the tree keeps the blocks in order). An empty block is the identity.

    It detects accidental change: any edited value, added, removed or moved row. It is not
    a cryptographic hash: someone choosing the data can make two arrays collide.
    """

    n_rows: int
    lanes: tuple[int, ...]

    @classmethod
    def of(cls, block: np.ndarray) -> ContentHash:
        """The hash of the rows of ``block`` (any shape; its first axis is the rows)."""
        h = row_hashes(block)
        n = h.shape[0]
        lanes = []
        for prime, base in zip(_PRIMES, _BASES, strict=True):
            # Digits in [1, p - 1], never 0, so that leading rows always count.
            digits = h % np.uint64(prime - 1) + np.uint64(1)
            terms = digits * _powers(base, prime, n)[::-1] % np.uint64(prime)
            lanes.append(int(terms.sum(dtype=np.uint64)) % prime)
        return cls(n, tuple(lanes))

    def combine(self, other: ContentHash, /) -> ContentHash:
        lanes = tuple(
            (a * pow(base, other.n_rows, prime) + b) % prime
            for a, b, prime, base in zip(self.lanes, other.lanes, _PRIMES, _BASES, strict=True)
        )
        return ContentHash(self.n_rows + other.n_rows, lanes)

    def hexdigest(self) -> str:
        """The four lanes as 32 hexadecimal digits."""
        return "".join(f"{lane:08x}" for lane in self.lanes)


def fingerprint_partition(
    X: np.ndarray, y: np.ndarray | None, rows: Any, block_id: Any
) -> StateTuple:
    """The content hashes of one block of ``X`` (and of ``y``): the fingerprint's task body."""
    return StateTuple((ContentHash.of(X), None if y is None else ContentHash.of(y)))


def _finalize_fingerprint(state: StateTuple | None) -> tuple[str | None, ...]:
    if state is None:  # no blocks
        empty = ContentHash.of(np.zeros((0, 0)))
        return (empty.hexdigest(), empty.hexdigest())
    return tuple(None if s is None else s.hexdigest() for s in state.items)


def _run_lengths(chunks: Sequence[int]) -> list[list[int]]:
    """``(100, 100, 100, 50)`` -> ``[[100, 3], [50, 1]]``: chunk sizes and repeat counts."""
    out: list[list[int]] = []
    for size in chunks:
        if out and out[-1][0] == size:
            out[-1][1] += 1
        else:
            out.append([int(size), 1])
    return out


def _describe_array(a: Any) -> dict[str, Any]:
    shape = [int(s) for s in np.shape(a)]
    chunks = getattr(a, "chunks", None)
    if isinstance(a, da.Array):
        runs = [_run_lengths(c) for c in a.chunks]
    elif chunks is None:
        runs = [[[s, 1]] for s in shape]
    else:
        runs = None
    dtype = getattr(a, "dtype", None)
    return {
        "type": f"{type(a).__module__.split('.')[0]}.{type(a).__name__}",
        "shape": shape,
        "chunks": runs,
        "dtype": None if dtype is None else str(dtype),
    }


def _rows_first(a: Any) -> Any:
    """A dask array with one chunk along every axis but the first; else a numpy array."""
    if not isinstance(a, da.Array):
        return np.asarray(a)
    if a.ndim > 1 and any(len(c) > 1 for c in a.chunks[1:]):
        a = a.rechunk({axis: -1 for axis in range(1, a.ndim)})
    return a.reshape(a.shape[0], -1) if a.ndim > 2 else a


def _content_hashes(X: Any, y: Any, split_every: int | None) -> tuple[str | None, ...]:
    """The content hashes of ``X`` and ``y``: in one pass when both are aligned dask arrays."""
    Xr = _rows_first(X)
    yr = None if y is None else _rows_first(y)

    def reduce(a: da.Array, b: da.Array | None) -> tuple[str | None, ...]:
        hashes: tuple[str | None, ...] = reduce_partitions(
            fingerprint_partition,
            a,
            b,
            finalize=_finalize_fingerprint,
            stage="data-hash",
            split_every=split_every,
        )
        return hashes

    if isinstance(Xr, da.Array) and isinstance(yr, da.Array) and Xr.shape[0] == yr.shape[0]:
        return reduce(Xr, yr if yr.chunks[0] == Xr.chunks[0] else yr.rechunk({0: Xr.chunks[0]}))

    def one(a: Any) -> str | None:
        # Numpy arrays are hashed here, where they are; dask arrays where their blocks are.
        if a is None:
            return None
        if isinstance(a, da.Array):
            return reduce(a, None)[0]
        return ContentHash.of(a).hexdigest()

    return one(Xr), one(yr)


@validate_params(
    {"content": ["boolean"], "split_every": SPLIT_EVERY}, prefer_skip_nested_validation=True
)
def fingerprint(
    X: Any, y: Any = None, *, content: bool = True, split_every: int | None = None
) -> dict[str, Any]:
    """Shape, chunks, dtype and content hash of ``X`` (and ``y``), hashed where the data is.

    One task per block computes the :class:`ContentHash` of its rows of ``X`` and ``y`` (one
    read of each block); the hashes merge through a tree of fan-in ``split_every`` and only
    the 32-digit result reaches the client. The dashboard shows the stages as
    ``data-hash-block``, ``data-hash-merge`` and ``data-hash-final``. The same rows give the
    same hash however they are chunked, and as a numpy array; a changed value, or two rows
    swapped, give another.

    Parameters
    ----------
    X : dask array or array-like of shape (n_samples, ...)
    y : dask array or array-like of shape (n_samples, ...), default=None
    content : bool, default=True
        Hash the content (a pass over the data); False records shape, chunks and dtype only.
    split_every : int or None, default=None
        Fan-in of the tree that merges the block hashes; None uses dask's ``split_every``
        setting if set, else 8.

    Returns
    -------
    dict
        ``{"X": {...}, "y": {...}}`` (``y`` only when given), each with ``type``, ``shape``,
        ``chunks`` (per axis, ``[size, count]`` runs), ``dtype``, and, with ``content``,
        ``content`` (32 hexadecimal digits) and ``algorithm``.

    Examples
    --------
    >>> import dask.array as da, numpy as np
    >>> from daskpar.audit import fingerprint
    >>> X = np.arange(12.0).reshape(6, 2)
    >>> a = fingerprint(da.from_array(X, chunks=(2, 2)))["X"]
    >>> a["chunks"], a["content"] == fingerprint(X)["X"]["content"]
    ([[[2, 3]], [[2, 1]]], True)
    """
    arrays = {"X": X} if y is None else {"X": X, "y": y}
    out = {name: _describe_array(a) for name, a in arrays.items()}
    if not content:
        return out
    hashes = _content_hashes(X, y, split_every)
    for name, digest in zip(arrays, hashes, strict=False):
        out[name].update(content=digest, algorithm=CONTENT_HASH)
    return out
