"""Small row blocks coalesced into blocks of a target size, before a fit builds its graph.

Every block of a training pass is a task, and every task costs the scheduler about the same,
whatever its size: 1,000 blocks of 2,000 rows take several times as long per epoch as 100
blocks of 20,000 rows of the same data. So a fit first merges runs of adjacent small blocks
into blocks of at most ``daskpar.target-block-bytes`` (dask's setting; see
:func:`target_block_bytes`)::

    blocks of  2k 2k 2k 2k 2k 2k 2k 1k        (rows; 8 blocks)
    coalesced  [ 8k      ][ 7k      ]         (2 blocks, each at most the target)

The grouping is greedy from the first block, and depends only on the blocks' row counts, the
bytes per row and the setting: never on the workers, the scheduler or timing, so the model is
the same on any cluster. A block is never split, and a block larger than the target stays as
it is. The result is exactly the fit of the same data rechunked by hand to those blocks
(``X.rechunk({0: chunks})``). Each merged block is one ``coalesce`` task that stacks
the blocks of its run, and the training task of the merged block follows it. The readers
coalesce stored chunks as they read (one task reads a run of chunks), so that data read by
them need no merging here.

The bytes of a row are counted as dense (``itemsize * n_columns`` for every row-aligned
array), which for sparse blocks overcounts: sparse input is coalesced less, never more than
the target. Arrays with unknown row counts (NaN chunks) are left as they are.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import dask.array as da
import numpy as np
from dask import config
from dask.utils import format_bytes, parse_bytes

from ._graph import merge_row_blocks

__all__ = [
    "TARGET_KEY",
    "coalesce_blocks",
    "coalesced_groups",
    "coalesced_rows",
    "describe",
    "target_block_bytes",
]

#: The dask setting: the most bytes a coalesced block holds (an int, or a string such as
#: ``"32 MiB"``); 0 or None keeps the blocks as they are given. Read in the client process.
TARGET_KEY = "daskpar.target-block-bytes"
#: Its default, chosen by measurement (``benchmarks/RESULTS.md``, partitions).
DEFAULT_TARGET = "32 MiB"
#: Data of more blocks than this is never coalesced into fewer: so that several workers have
#: something to do, as the readers that choose their blocks make at least this many
#: (``daskpar._io._common.DEFAULT_MIN_PARTITIONS``).
MIN_BLOCKS = 8


def target_block_bytes() -> int:
    """The ``daskpar.target-block-bytes`` setting in bytes; 0 when coalescing is off."""
    value = config.get(TARGET_KEY, DEFAULT_TARGET)
    if value is None or value is False:
        return 0
    try:
        target = value if isinstance(value, int) and not isinstance(value, bool) else None
        if target is None and isinstance(value, str):
            target = 0 if value.strip().lower() in {"0", "none", "off"} else parse_bytes(value)
    except ValueError:
        target = None
    if target is None or target < 0:
        raise ValueError(
            f"The dask setting {TARGET_KEY!r} must be a number of bytes (such as 33554432 or "
            f"'32 MiB'), or 0 to keep the blocks as given. Got {value!r} instead."
        )
    return int(target)


def coalesced_groups(block_bytes: Sequence[int], target: int) -> tuple[int, ...]:
    """How many adjacent blocks each coalesced block takes: greedy, in order, each group at
    most ``target`` bytes (a block larger than the target alone).

    >>> coalesced_groups([200, 200, 200, 200, 200, 200, 200, 100], target=800)
    (4, 4)
    >>> coalesced_groups([500, 100, 100], target=300)  # the first exceeds it: alone
    (1, 2)
    """
    if target <= 0:
        return (1,) * len(block_bytes)
    groups: list[int] = []
    size = count = 0
    for nbytes in block_bytes:
        if count and size + nbytes > target:
            groups.append(count)
            size = count = 0
        size, count = size + nbytes, count + 1
    if count or not groups:
        groups.append(count)
    return tuple(groups)


def coalesced_rows(
    rows: Sequence[int], row_bytes: int, target: int | None = None, min_blocks: int = MIN_BLOCKS
) -> tuple[int, ...]:
    """The row counts of ``rows``' blocks merged in :func:`coalesced_groups` of ``row_bytes``
    per row (the setting's target when ``target`` is None): what a reader gives for stored
    chunks of ``rows`` rows.

    >>> coalesced_rows([250, 250, 250, 250], row_bytes=48, target=30_000, min_blocks=1)
    (500, 500)
    >>> coalesced_rows([100] * 20, row_bytes=48, target=30_000)  # at least MIN_BLOCKS
    (200, 200, 200, 200, 200, 200, 200, 200, 200, 200)
    """
    target = target_block_bytes() if target is None else target
    block_bytes = [n * row_bytes for n in rows]
    at_least = min(len(rows), min_blocks)
    if target > 0 and at_least > 1:
        target = min(target, -(-sum(block_bytes) // at_least))
    groups = coalesced_groups(block_bytes, target)
    if len(groups) < at_least:
        return tuple(rows)
    ends = np.cumsum(groups)
    return tuple(int(sum(rows[end - n : end])) for n, end in zip(groups, ends, strict=True))


def _row_bytes(a: da.Array) -> int:
    return int(a.dtype.itemsize * np.prod(a.shape[1:], dtype=np.int64))


def coalesce_blocks(
    *arrays: Any, target: int | None = None, min_blocks: int = MIN_BLOCKS
) -> tuple[Any, ...]:
    """``arrays`` (dask arrays with as many row blocks as the first, or None), their blocks
    merged in the same groups: runs of adjacent blocks of at most ``target`` bytes in all
    (the setting when None). Block ``i`` of every array is read by the same task, so all
    count towards the target.

    ``min_blocks``: the fewest blocks to leave (:data:`MIN_BLOCKS` by default, so that
    several workers have something to do; more for a fit that needs them, such as a search's
    ``K`` folds of whole blocks). The target is then lowered to the bytes of an even share,
    ``ceil(total / min_blocks)``, so that small data are not merged into fewer blocks than
    that; data that has no more blocks than that to begin with is left as it is.

    Returned unchanged when nothing would merge, when coalescing is off, or when a row count
    is unknown. An array with another number of row blocks than the first is left as it is.
    """
    first = next((a for a in arrays if isinstance(a, da.Array)), None)
    if first is None or first.ndim == 0:
        return arrays
    target = target_block_bytes() if target is None else target
    n_blocks = first.numblocks[0]
    aligned = [isinstance(a, da.Array) and a.numblocks[0] == n_blocks for a in arrays]
    if target <= 0 or any(
        np.isnan(n) for a, same in zip(arrays, aligned, strict=True) if same for n in a.chunks[0]
    ):
        return arrays
    block_bytes = np.zeros(n_blocks, dtype=np.int64)
    for a, same in zip(arrays, aligned, strict=True):
        if same:
            block_bytes += np.asarray(a.chunks[0], dtype=np.int64) * _row_bytes(a)
    if n_blocks <= min_blocks:
        return arrays
    if min_blocks > 1:
        target = min(target, -(-int(block_bytes.sum()) // min_blocks))
    groups = coalesced_groups(block_bytes.tolist(), target)
    if len(groups) == n_blocks or len(groups) < min_blocks:
        return arrays
    return tuple(
        merge_row_blocks(a, groups) if same else a for a, same in zip(arrays, aligned, strict=True)
    )


def describe(before: int, after: int, target: int) -> str:
    """What coalescing did, for progress lines: ``"1,000 blocks coalesced into 100 of at most
    32 MiB"``."""
    return f"{before:,} blocks coalesced into {after:,} of at most {format_bytes(target)}"
