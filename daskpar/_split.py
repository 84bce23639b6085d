"""Lazy, block-wise :func:`train_test_split` of row-aligned dask arrays.

Each block is split on its own: the number of train and test rows of every block is fixed on
the client from the chunk sizes alone (no data read), so the outputs have known chunks; which
rows go where is drawn inside the tasks from ``SeedSequence(seed, spawn_key=(stream, block))``.
Every array is split by the same rule, so rows stay aligned across ``X``, ``y`` and any other
array, and the split depends on ``random_state`` and the row chunks only, not on the scheduler.
"""

from __future__ import annotations

import math
from numbers import Integral
from typing import Any

import dask.array as da
import numpy as np
from dask.base import tokenize
from numpy.typing import NDArray

from ._generate import (
    RANDOM_STATE,
    STREAM_TRAIN_TEST_SPLIT,
    RandomStateLike,
    resolve_seed,
    seed_sequence,
)
from ._graph import stage_name
from ._sklearn_compat import Interval, InvalidParameterError, RealNotInt, validate_params
from ._validation import as_dask_array, check_row_chunks
from .errors import InputError

__all__ = ["apportion", "select_split_rows", "split_sizes", "train_test_split"]

_DEFAULT_TEST_SIZE = 0.25


def split_sizes(
    n_samples: int, test_size: float | int | None, train_size: float | int | None
) -> tuple[int, int]:
    """Total train and test rows, with scikit-learn's rules and messages.

    ``test_size`` (float) rounds up, ``train_size`` (float) rounds down; a missing one is the
    complement of the other; neither means ``test_size=0.25``.
    """
    if test_size is None and train_size is None:
        test_size = _DEFAULT_TEST_SIZE
    for name, size in (("test_size", test_size), ("train_size", train_size)):
        if size is None:
            continue
        if isinstance(size, Integral) and not 0 < size < n_samples:
            raise InvalidParameterError(
                f"{name}={size} should be either positive and smaller than the number of "
                f"samples {n_samples} or a float in the (0, 1) range"
            )
    if (
        isinstance(test_size, float)
        and isinstance(train_size, float)
        and test_size + train_size > 1
    ):
        raise InvalidParameterError(
            f"The sum of test_size and train_size = {test_size + train_size}, should be in the "
            "(0, 1) range. Reduce test_size and/or train_size."
        )
    n_test = math.ceil(test_size * n_samples) if isinstance(test_size, float) else test_size
    n_train = math.floor(train_size * n_samples) if isinstance(train_size, float) else train_size
    if n_test is None:
        n_test = n_samples - int(n_train or 0)
    if n_train is None:
        n_train = n_samples - n_test
    n_train, n_test = int(n_train), int(n_test)
    if n_train + n_test > n_samples:
        raise InvalidParameterError(
            f"The sum of train_size and test_size = {n_train + n_test}, should be smaller than "
            f"the number of samples {n_samples}. Reduce test_size and/or train_size."
        )
    if n_train == 0:
        raise InvalidParameterError(
            f"With n_samples={n_samples}, test_size={test_size} and train_size={train_size}, "
            "the resulting train set will be empty. Adjust any of the aforementioned "
            "parameters."
        )
    return n_train, n_test


def apportion(total: int, sizes: tuple[int, ...], caps: tuple[int, ...]) -> tuple[int, ...]:
    """Share ``total`` rows among blocks in proportion to ``sizes``, at most ``caps[i]`` each.

    Largest-remainder rounding: every block gets ``floor`` of its exact share, and the rows
    left go one each to the blocks with the largest remainders (ties to the earlier block).
    Each block is within one row of its exact share unless capped, and the sum is ``total``.
    """
    n = sum(sizes)
    exact = [total * s / n if n else 0.0 for s in sizes]
    out = [min(math.floor(e), c) for e, c in zip(exact, caps, strict=True)]
    left = total - sum(out)
    order = sorted(range(len(sizes)), key=lambda i: (out[i] - exact[i], i))
    while left > 0:
        progressed = False
        for i in order:
            if left == 0:
                break
            if out[i] < caps[i]:
                out[i] += 1
                left -= 1
                progressed = True
        if not progressed:  # total > sum(caps): cannot happen for sizes from split_sizes
            raise ValueError(f"cannot share {total} rows among blocks of capacity {caps}")
    return tuple(out)


def select_split_rows(
    block: NDArray[Any],
    counts: NDArray[np.int64],
    seed: int,
    shuffle: bool,
    part: int,
    block_id: tuple[int, ...],
) -> NDArray[Any]:
    """The train (``part=0``) or test (``part=1``) rows of one block: the task body.

    ``counts[i]`` is ``(n_train, n_test)`` of block ``i``. With ``shuffle`` the rows are a
    random permutation of the block: test first, then train; else train are the first rows
    and test the rows right after them, in order.
    """
    i = block_id[0]
    n_train, n_test = int(counts[i, 0]), int(counts[i, 1])
    if shuffle:
        rng = np.random.default_rng(seed_sequence(seed, STREAM_TRAIN_TEST_SPLIT, i))
        order = rng.permutation(block.shape[0])
        rows = order[n_test : n_test + n_train] if part == 0 else order[:n_test]
        return block[rows]
    return block[:n_train] if part == 0 else block[n_train : n_train + n_test]


#: A split's size: a fraction of the rows in (0, 1), a number of rows, or None.
_SIZE: list[Any] = [
    Interval(RealNotInt, 0, 1, closed="neither"),
    Interval(Integral, 1, None, closed="left"),
    None,
]


@validate_params(
    {
        "test_size": _SIZE,
        "train_size": _SIZE,
        "random_state": RANDOM_STATE,
        "shuffle": ["boolean"],
    },
    prefer_skip_nested_validation=True,
)
def train_test_split(
    *arrays: Any,
    test_size: float | int | None = None,
    train_size: float | int | None = None,
    random_state: RandomStateLike = None,
    shuffle: bool = True,
) -> list[da.Array]:
    """Split row-aligned dask arrays into random train and test subsets, block by block.

    Like :func:`sklearn.model_selection.train_test_split`, but lazy and without moving rows
    between blocks: block ``i`` of ``n_i`` rows gives about ``test_size * n_i`` rows to the
    test set and the rest to the train set. The totals are exactly scikit-learn's (``ceil``
    of ``test_size * n_samples`` test rows); they are shared among blocks in proportion to
    their sizes (largest remainder, so each block is within one row of its exact share). An
    int ``test_size`` or ``train_size`` is shared the same way.

    Parameters
    ----------
    *arrays : dask arrays (or numpy arrays) with the same rows
        1-D or 2-D, with the same row chunks (numpy arrays get the first dask array's).
    test_size : float or int, default=None
        A fraction of the rows in (0, 1), or a number of rows. None means the complement of
        ``train_size``, or 0.25 if that is None too.
    train_size : float or int, default=None
        A fraction or number of rows; None means the complement of ``test_size``.
    random_state : int, RandomState, Generator or None, default=None
        Seed of the split; the same seed and row chunks give the same split on any scheduler.
        None draws a fresh seed once, at call time.
    shuffle : bool, default=True
        If True, a random subset of each block is the test set and the rows of each part
        are in random order. If False, the first rows of each block are the train set and
        the rows after them the test set, in order.

    Returns
    -------
    splitting : list of dask arrays, length 2 * len(arrays)
        ``[a_train, a_test, b_train, b_test, ...]``, with known row chunks.

    Examples
    --------
    >>> import dask.array as da
    >>> from daskpar.data import train_test_split
    >>> X = da.ones((1000, 3), chunks=(250, 3))
    >>> y = da.zeros(1000, chunks=250)
    >>> X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, random_state=0)
    >>> X_test.chunks[0], y_train.chunks[0]
    ((50, 50, 50, 50), (200, 200, 200, 200))
    """
    if not arrays:
        raise InputError("train_test_split needs at least one array to split.")
    dask_arrays = _aligned(arrays)
    sizes = tuple(int(c) for c in dask_arrays[0].chunks[0])
    n_train, n_test = split_sizes(
        sum(sizes),
        float(test_size) if isinstance(test_size, float) else test_size,
        float(train_size) if isinstance(train_size, float) else train_size,
    )
    test_counts = apportion(n_test, sizes, sizes)
    train_counts = apportion(
        n_train, sizes, tuple(s - t for s, t in zip(sizes, test_counts, strict=True))
    )
    counts = np.array([train_counts, test_counts], dtype=np.int64).T.reshape(-1, 2)
    seed = resolve_seed(random_state) if shuffle else 0
    out: list[da.Array] = []
    for a in dask_arrays:
        token = tokenize(a.name, seed, counts, shuffle)
        for part, part_counts, label in ((0, train_counts, "train"), (1, test_counts, "test")):
            out.append(
                da.map_blocks(
                    select_split_rows,
                    a,
                    counts,
                    seed,
                    shuffle,
                    part,
                    chunks=(part_counts, *a.chunks[1:]),
                    dtype=a.dtype,
                    meta=a._meta,
                    name=f"{stage_name('split', label)}-{token}",
                )
            )
    return out


def _aligned(arrays: tuple[Any, ...]) -> list[da.Array]:
    """The arrays as dask arrays with one set of row chunks; numpy ones take the first's."""
    first = next((a for a in arrays if isinstance(a, da.Array)), None)
    ref = first if first is not None else as_dask_array(arrays[0], name="arrays[0]")
    out: list[da.Array] = []
    for k, a in enumerate(arrays):
        name = f"arrays[{k}]"
        if not isinstance(a, da.Array):
            a = np.asarray(a)
            if a.ndim == 0 or a.shape[0] != ref.shape[0]:
                raise InputError(
                    f"{name} has shape {a.shape}; every array must have the same "
                    f"{ref.shape[0]} rows as arrays[0]."
                )
            chunks = (ref.chunks[0], *((-1,) * (a.ndim - 1)))
            a = da.from_array(a, chunks=chunks)
        if a.ndim not in (1, 2):
            raise InputError(f"train_test_split splits 1-D or 2-D arrays; {name} is {a.ndim}-D.")
        if len(a.chunks) == 2 and len(a.chunks[1]) != 1:
            a = a.rechunk({1: -1})
        check_row_chunks(ref, a, x_name="arrays[0]", y_name=name)
        out.append(a)
    return out
