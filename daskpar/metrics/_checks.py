"""The metric functions' input checks, all on the client before any task runs.

Before the map step of::

    blocks --*-partition--> state --combine (tree)--> one state --*-result--> metric

the arrays are checked once, on the client: dtypes that fit labels, numbers or
probabilities, one value per sample, row chunks that match (in-memory arrays are split to
match). What needs the data itself (NaN, fractional labels) is checked per block by the task
bodies. The functions' other parameters are checked before this, by their
``validate_params`` constraints, with scikit-learn's messages.
"""

from __future__ import annotations

from typing import Any, Literal

import dask.array as da
import numpy as np

from .._columns import is_dask_table, table_to_dask
from .._dask_compat import normalize_chunks
from .._validation import check_known_chunks, check_label_dtype, check_row_chunks
from ..errors import InputError

Kind = Literal["labels", "numbers", "probabilities"]


def _in_memory(a: Any, name: str, kind: Kind) -> np.ndarray:
    arr = np.asarray(a)
    if arr.dtype != object:
        return arr
    # pandas and lists of Python objects: strings stay labels, the rest must be numbers.
    if kind == "labels" and all(isinstance(v, str) for v in arr.ravel().tolist()):
        return arr.astype(str)
    try:
        return arr.astype(np.float64)
    except (TypeError, ValueError):
        raise InputError(
            f"{name} holds values that are neither numbers nor strings; convert it to a "
            "numeric (or, for labels, string) array first."
        ) from None


def _checked(a: Any, name: str, kind: Kind) -> da.Array | np.ndarray:
    """``a`` as a dask or numpy array of a dtype and shape that fit ``kind``."""
    if a is None:
        raise InputError(f"{name} is None; pass an array with one entry per sample.")
    if not isinstance(a, da.Array):
        a = _in_memory(a, name, kind)
    if kind == "labels":
        check_label_dtype(a, name)
    elif a.dtype.kind not in "biuf":
        raise InputError(
            f"{name} must have a numeric dtype; got dtype {a.dtype}. Encode it as numbers first."
        )
    if kind == "probabilities":
        if a.ndim not in (1, 2):
            raise InputError(
                f"{name} must be 1-D (the probability of the greater label) or 2-D (one column "
                f"per class); got shape {a.shape}."
            )
        if a.ndim == 2 and isinstance(a, da.Array) and len(a.chunks[1]) != 1:
            raise InputError(
                f"{name} is chunked along columns (column chunks {a.chunks[1]}); each task "
                f"needs all of a row's probabilities. Rechunk with {name}.rechunk({{1: -1}})."
            )
        return a
    if a.ndim == 2 and a.shape[1] == 1:
        a = a[:, 0]
    if a.ndim != 1:
        hint = " Multilabel and multioutput targets are not supported." if a.ndim == 2 else ""
        raise InputError(f"{name} must be 1-D (one value per sample); got shape {a.shape}.{hint}")
    return a


def aligned_inputs(
    specs: list[tuple[Any, str, Kind]],
    sample_weight: Any,
    *,
    reference: tuple[da.Array, str] | None = None,
) -> tuple[list[da.Array], da.Array | None]:
    """The arrays of ``specs`` and ``sample_weight`` (if given) checked, in common row chunks.

    The row chunks are ``reference``'s, else those of the first dask array among the arrays;
    with no dask array at all, ~128 MiB of float64 rows per chunk. Every array is then checked
    to have the row chunks of ``reference`` (or of the first array).
    """
    if sample_weight is not None:
        specs = [*specs, (sample_weight, "sample_weight", "numbers")]
    # dask Series and DataFrames become dask arrays of their partitions, never gathered; the
    # first one's row counts (known, or counted) are the others', as their tasks check.
    like = reference[0] if reference is not None else None
    as_arrays = []
    for a, name, kind in specs:
        if is_dask_table(a):
            a = table_to_dask(a, name=name, like=like)
            like = a if like is None else like
        as_arrays.append((a, name, kind))
    specs = as_arrays
    named = [(_checked(a, name, kind), name) for a, name, kind in specs]
    candidates = ([reference] if reference is not None else []) + named
    on_dask = [(a, name) for a, name in candidates if isinstance(a, da.Array)]
    if on_dask:
        check_known_chunks(*on_dask[0])
        rows = on_dask[0][0].chunks[0]
    else:
        rows = normalize_chunks("auto", shape=(named[0][0].shape[0],), dtype=np.float64)[0]
    arrays = []
    for a, _ in named:
        if not isinstance(a, da.Array):
            # An array of another length stays one block, for check_row_chunks to refuse.
            fits = a.shape[0] == sum(rows)
            a = da.from_array(a, chunks=(rows,) + (-1,) * (a.ndim - 1) if fits else -1)
        arrays.append(a)
    base, base_name = reference if reference is not None else (arrays[0], named[0][1])
    for a, (_, name) in zip(arrays, named, strict=True):
        if a is not base:
            check_row_chunks(base, a, x_name=base_name, y_name=name)
    weight = arrays.pop() if sample_weight is not None else None
    return arrays, weight


def prepare_inputs(
    y_true: Any,
    y_pred: Any,
    sample_weight: Any,
    *,
    true_kind: Kind,
    pred_kind: Kind,
    pred_name: str = "y_pred",
) -> tuple[da.Array, da.Array, da.Array | None]:
    """``y_true``, ``y_pred`` and ``sample_weight`` checked and in common row chunks."""
    (true, pred), weight = aligned_inputs(
        [(y_true, "y_true", true_kind), (y_pred, pred_name, pred_kind)], sample_weight
    )
    # Object arrays may hold either; their tasks check them (label_types).
    strings = {a.dtype.kind in "US" for a in (true, pred) if a.dtype.kind != "O"}
    if true_kind == "labels" and pred_kind == "labels" and len(strings) > 1:
        raise InputError("Mix of label input types (string and number)")
    if true.shape[0] == 0:
        raise InputError(
            "Found empty input array (e.g., `y_true` or `y_pred`) while a minimum of 1 sample "
            "is required."
        )
    return true, pred, weight
