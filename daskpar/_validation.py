"""Checks of input: of the dask arrays on the client, before any graph runs, and of the values
inside one block, on a worker.

Every check names what is wrong and how to fix it. Values inside the blocks (NaN, labels) can
only be seen by the tasks; the block checks here raise a :class:`PartitionError` naming the
partition and its rows, and :func:`check_blocks` runs them over all of a data set in one pass.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from typing import Any

import dask.array as da
import numpy as np
import scipy.sparse as sp
from dask.array import PerformanceWarning
from sklearn.utils import check_array, column_or_1d, get_tags

from ._columns import (
    check_numeric_columns,
    is_dask_table,
    is_table,
    match_feature_names,
    table_to_dask,
)
from ._dask_compat import known_partition_lengths
from ._graph import frame_lengths, reduce_partitions
from .errors import DaskparError, InputError, PartitionError

__all__ = [
    "LABEL_DTYPE_KINDS",
    "MANY_BLOCKS",
    "MERGE_PARTITIONS",
    "MIN_BLOCK_ROWS",
    "as_dask_array",
    "bad_rows_error",
    "check_label_dtype",
    "label_types",
    "warn_if_tiny_partitions",
    "check_X",
    "check_blocks",
    "check_discrete_labels",
    "check_aligned_rows",
    "check_finite_block",
    "check_weights_block",
    "describe_partition",
    "check_X_y",
    "check_row_chunks",
    "check_sample_weight",
    "refuse_text",
    "check_training_block",
    "check_scorer_applies",
    "check_sparse_support",
    "is_sparse_array",
    "sparse_rows_per_block",
]


def as_dask_array(a: Any, *, name: str, lengths: tuple[int, ...] | None = None) -> da.Array:
    """Return ``a`` as a dask array; in-memory input is checked as scikit-learn checks it.

    A dask array of sparse blocks keeps them, as scipy CSR (pydata sparse, CSC and COO blocks
    are converted in the tasks that read them); in-memory scipy.sparse input becomes CSR
    blocks of about 64 MiB. Other in-memory input (numpy, lists, pandas) goes through
    scikit-learn's ``check_array`` (dense,
    numeric, at least one sample; values are checked later, per partition) and becomes one
    partition per ~128 MiB of rows. A dask DataFrame's partitions become its blocks, with
    row counts ``lengths`` where a pass learned them (see :func:`table_to_dask`).
    """
    if isinstance(a, da.Array):
        meta = a._meta
        if is_sparse_array(a) and not (sp.issparse(meta) and meta.format == "csr"):
            # One sparse format in the tasks: scipy CSR, what scikit-learn's models take.
            a = da.map_blocks(_to_csr, a, meta=sp.csr_matrix((0, 0), dtype=a.dtype), dtype=a.dtype)
        return a
    if is_dask_table(a):
        return table_to_dask(a, name=name, lengths=lengths)
    if sp.issparse(a):
        csr = sp.csr_matrix(a)
        _check_numeric(csr, name)
        return da.from_array(csr, chunks=(sparse_rows_per_block(csr), -1), asarray=False)
    refuse_text(a, name)
    arr = check_array(
        a,
        accept_sparse=False,
        dtype="numeric",
        ensure_all_finite=False,
        ensure_2d=False,
        allow_nd=True,
        input_name=name,
    )
    chunks: Any = ("auto",) + (-1,) * (arr.ndim - 1) if arr.ndim else ()
    return da.from_array(arr, chunks=chunks)


def is_sparse_array(a: Any) -> bool:
    """Whether dask array ``a``'s blocks are sparse matrices (scipy.sparse, or pydata
    sparse arrays before :func:`as_dask_array` converts them)."""
    if not isinstance(a, da.Array):
        return False
    meta = getattr(a, "_meta", None)
    return sp.issparse(meta) or type(meta).__module__.split(".")[0] == "sparse"


def _to_csr(block: Any) -> Any:
    """One sparse block as scipy CSR (pydata sparse, CSC and COO blocks arrive here)."""
    if sp.issparse(block):
        return sp.csr_matrix(block)
    return sp.csr_matrix(block.to_scipy_sparse())


def sparse_rows_per_block(X: Any) -> int:
    """Rows per block for in-memory sparse ``X``: about 64 MiB of stored values and indices."""
    per_row = 12 * X.nnz / max(X.shape[0], 1) + 8
    return max(1, int(64 * 2**20 // per_row))


def check_sparse_support(estimator: Any, X: da.Array, *, owner: str | None = None) -> None:
    """Refuse sparse ``X`` before any task runs when ``estimator`` cannot take it (its
    scikit-learn tags say so: ``GaussianNB``, least squares)."""
    if not is_sparse_array(X) or get_tags(estimator).input_tags.sparse:
        return
    name = type(estimator).__name__
    where = f"{owner}({name}())" if owner else name
    raise InputError(
        f"{where} cannot train on sparse X: {name} needs dense blocks. Use a model that takes "
        "sparse input (MultinomialNB, BernoulliNB, SGDClassifier, SGDRegressor, Perceptron, "
        "AdaptiveSGDClassifier), or, for a narrow X, densify its blocks first: "
        "X.map_blocks(lambda b: b.toarray())."
    )


def refuse_text(a: Any, name: str) -> None:
    """Raise an :class:`InputError` if in-memory ``a`` holds strings where numbers belong.

    scikit-learn converts an object array of numeric strings (``"1.5"``) to floats; a
    column read as text is more often a parsing problem (a thousands separator, a unit, a
    header row in the data) than numbers, so daskpar refuses it instead of guessing, as it
    refuses a dask array of dtype object.
    """
    try:
        arr = np.asarray(a)
    except (TypeError, ValueError):  # ragged lists and the like: check_array says what is wrong
        return
    if arr.dtype.kind in "US":
        first = arr.reshape(-1)[0].item() if arr.size else None
    elif arr.dtype.kind == "O":
        first = next((v for v in arr.reshape(-1) if isinstance(v, str | bytes)), None)
    else:
        return
    if first is not None:
        raise InputError(
            f"{name} holds strings (such as {first!r}) where numbers are needed. daskpar does "
            f"not convert text to numbers, not even text that reads as one: convert {name} "
            f"first (for numeric strings, {name}.astype(np.float64); for categories, an "
            "encoder)."
        )


def check_known_chunks(a: da.Array, name: str) -> None:
    if any(math.isnan(c) for c in a.chunks[0]) or any(
        math.isnan(s) for s in a.shape if isinstance(s, float)
    ):
        raise InputError(
            f"{name} has unknown chunk sizes (NaN), as after boolean indexing or "
            f"to_dask_array() without lengths. Call {name}.compute_chunk_sizes() first "
            "(or pass lengths=True to to_dask_array())."
        )


def _check_numeric(a: da.Array, name: str) -> None:
    if not (np.issubdtype(a.dtype, np.number) or np.issubdtype(a.dtype, np.bool_)):
        raise InputError(
            f"{name} must have a numeric dtype; got dtype {a.dtype}. Encode categorical or "
            f"text columns as numbers first, or select the numeric ones."
        )
    if np.issubdtype(a.dtype, np.complexfloating):
        raise InputError(f"{name} has complex dtype {a.dtype}; daskpar needs real numbers.")


#: numpy dtype kinds of class labels: booleans, integers, floats, fixed-width strings (``U``,
#: ``S``) and Python objects, which is how pandas, Parquet and CSV readers give strings.
LABEL_DTYPE_KINDS = "biufUSO"


def check_label_dtype(y: Any, name: str = "y") -> None:
    """Refuse a dtype that cannot hold class labels (dates, complex numbers, ...).

    Object arrays are accepted here: their values can only be seen by the tasks, which check
    them with :func:`label_types` (all strings or all numbers, as scikit-learn requires).
    """
    if y.dtype.kind not in LABEL_DTYPE_KINDS:
        raise InputError(
            f"{name} must hold class labels (numbers, booleans or strings); got dtype "
            f"{y.dtype}. Convert it to strings or integers first."
        )


def label_types(y: np.ndarray, name: str, where: str = "") -> str:
    """``"string"`` or ``"number"``: what one block's labels are, checked in object arrays.

    The label policy of every fit, score, metric and search: labels are numbers (booleans,
    integers, floats) or strings (numpy ``U`` / ``S``, or Python ``str`` objects as pandas and
    the Parquet and CSV readers give them), never a mix, and never missing. Raises a
    :class:`PartitionError` (with ``where``, the partition) for a mix or a missing value.
    """
    if y.dtype.kind in "US":
        return "string"
    if y.dtype.kind != "O":
        return "number"
    kinds = set()
    for value in y.tolist():
        if isinstance(value, str | bytes):
            kinds.add("string")
        elif value is None or (isinstance(value, float) and value != value):
            raise PartitionError(
                f"{name} holds a missing label (None or NaN){where}. Drop or fill those rows first."
            )
        else:
            kinds.add("number")
        if len(kinds) > 1:
            raise PartitionError(
                f"{name} holds both strings and numbers{where} (Mix of label input types). "
                f"Make every label a string (e.g. {name}.astype(str)) or every label a number."
            )
    return kinds.pop() if kinds else "number"


def describe_partition(rows: slice, block: int) -> str:
    return f"partition {block} (rows {rows.start} to {rows.stop - 1})"


def bad_rows_error(
    name: str, what: str, bad: np.ndarray, rows: slice, block: int | None, fix: str
) -> DaskparError:
    """The error for rows ``bad`` (positions in the block) of ``name`` that hold ``what``.

    A :class:`PartitionError` naming partition ``block`` and its rows, or, for an in-memory
    array (``block`` None, seen on the client before anything runs), an :class:`InputError`
    naming the rows alone.
    """
    first = rows.start + int(bad[0])
    if block is None:
        return InputError(f"{name} holds {what}, first at row {first} ({len(bad)} bad rows). {fix}")
    return PartitionError(
        f"{name} holds {what} in {describe_partition(rows, block)}, first at row {first} "
        f"({len(bad)} bad rows in this partition). {fix}"
    )


def check_finite_block(a: Any, name: str, rows: slice, block: int | None) -> None:
    """Raise a :class:`PartitionError` naming the partition if ``a`` holds NaN or infinity
    (for an in-memory ``a``, ``block`` None: an :class:`InputError` naming the rows).

    A scipy.sparse block is checked on its stored values (``.data``): its implicit zeros
    are finite, and it is never densified.
    """
    if sp.issparse(a):
        csr = sp.csr_array(a)
        if np.issubdtype(csr.dtype, np.inexact) and not np.isfinite(csr.data).all():
            stored = ~np.isfinite(csr.data)
            row_of = np.repeat(np.arange(csr.shape[0]), np.diff(csr.indptr))
            bad = np.unique(row_of[stored])
            kind = "NaN" if np.isnan(csr.data).any() else "infinity"
            fix = "daskpar's models need finite values: impute or drop these rows first."
            raise bad_rows_error(name, kind, bad, rows, block, fix)
        return
    if np.issubdtype(a.dtype, np.inexact) and not np.isfinite(a).all():
        bad = np.flatnonzero(~np.isfinite(a).reshape(a.shape[0], -1).all(axis=1))
        kind = "NaN" if np.isnan(a).any() else "infinity"
        fix = "daskpar's models need finite values: impute or drop these rows first."
        raise bad_rows_error(name, kind, bad, rows, block, fix)


#: Fewest rows a reader puts in a block when it chooses; below this, per-task overhead
#: (scheduling, a Python call per block) costs more than the block's data.
MIN_BLOCK_ROWS = 1000
#: More blocks than this, with a median under ``MIN_BLOCK_ROWS`` rows, gets a warning.
MANY_BLOCKS = 100
#: How to fix partitions of an array too small to be worth a task each.
MERGE_PARTITIONS = (
    "Fits merge adjacent small blocks up to the dask setting 'daskpar.target-block-bytes' "
    "(default 32 MiB) unless it is 0; or merge them yourself: "
    "X, y = X.rechunk({0: 100_000}), y.rechunk(100_000)."
)


def warn_if_tiny_partitions(
    rows: Sequence[int], what: str, fix: str, *, stacklevel: int = 3
) -> None:
    """Warn (dask's ``PerformanceWarning``) when per-task overhead would dominate.

    1,000 partitions of 200 rows take about 25 times as long per epoch as 10 of 20,000
    rows: the time goes to scheduling tasks, not to the data. ``stacklevel`` is
    ``warnings.warn``'s, counted from here: 3 is the caller of the function calling this one,
    4 the caller of a function decorated with ``validate_params`` (a reader).
    """
    if len(rows) <= MANY_BLOCKS:
        return
    median = float(np.median(rows))
    if median < MIN_BLOCK_ROWS:
        warnings.warn(
            f"{what}: {len(rows)} blocks of {median:g} rows (median); with more than "
            f"{MANY_BLOCKS} blocks under {MIN_BLOCK_ROWS} rows, scheduling the tasks costs more "
            f"time than processing their data. {fix}",
            PerformanceWarning,
            stacklevel=stacklevel,
        )


def check_X(
    X: Any,
    *,
    n_features: int | None = None,
    name: str = "X",
    estimator: Any = None,
    reset: bool = False,
    lengths: tuple[int, ...] | None = None,
) -> da.Array:
    """Validate a 2-D feature array partitioned along rows only.

    Parameters
    ----------
    X : dask or numpy array, or pandas or dask DataFrame, of shape (n_samples, n_features)
    n_features : int, optional
        The number of features the fitted model expects.
    name : str
        What to call the array in messages.
    estimator : estimator, optional
        Whose feature names to record (``reset=True``, in ``fit``) or to take a table's
        columns by (``reset=False``; arrays pass unchecked, as daskpar's own calls give
        them): see :func:`~daskpar._columns.match_feature_names`.
    reset : bool, default=False
        Whether this is a fit.
    lengths : tuple of int, optional
        A dask DataFrame's partition row counts, where a pass already learned them.
    """
    if estimator is not None and (reset or is_table(X)):
        X = match_feature_names(estimator, X, reset=reset, name=name)
    X = as_dask_array(X, name=name, lengths=lengths)
    if X.ndim != 2:
        hint = (
            f" Reshape with {name}.reshape(-1, 1) if it is a single feature." if X.ndim == 1 else ""
        )
        raise InputError(f"Expected a 2-D {name}; got a {X.ndim}-D array of shape {X.shape}.{hint}")
    check_known_chunks(X, name)
    if len(X.chunks[1]) != 1:
        raise InputError(
            f"{name} is chunked along columns (column chunks {X.chunks[1]}); daskpar partitions "
            f"rows only, so each task sees whole samples. Rechunk with "
            f"{name}.rechunk({{1: -1}})."
        )
    _check_numeric(X, name)
    if n_features is not None and X.shape[1] != n_features:
        raise InputError(
            f"{name} has {X.shape[1]} features, but the model was fitted with {n_features} "
            "features."
        )
    return X


def check_row_chunks(X: da.Array, y: da.Array, *, x_name: str = "X", y_name: str = "y") -> None:
    """Check that ``y`` has one entry per row of ``X``, in blocks aligned with X's."""
    check_known_chunks(y, y_name)
    if y.shape[0] != X.shape[0]:
        raise InputError(
            f"{x_name} and {y_name} have different numbers of rows: {X.shape[0]} and {y.shape[0]}."
        )
    if y.chunks[0] != X.chunks[0]:
        raise InputError(
            f"{y_name}'s row chunks do not match {x_name}'s ({_short(y.chunks[0])} vs "
            f"{_short(X.chunks[0])}), so a task would see rows of {x_name} without their "
            f"labels. Rechunk with {y_name} = {y_name}.rechunk({{0: {x_name}.chunks[0]}})."
        )


def check_X_y(
    X: Any,
    y: Any,
    *,
    n_features: int | None = None,
    y_numeric: bool = False,
    estimator: Any = None,
    reset: bool = False,
    lengths: tuple[int, ...] | None = None,
) -> tuple[da.Array, da.Array]:
    """Validate ``X`` (see :func:`check_X`) and a 1-D ``y`` aligned with it.

    ``lengths`` are a dask DataFrame ``X``'s partition row counts where a pass learned them
    (:func:`~daskpar._incremental.frame_classes_and_lengths`); ``y`` then takes them too.
    """
    X_is_dask = isinstance(X, da.Array)
    if y is None:
        raise InputError("requires y to be passed, but the target y is None.")
    if (
        lengths is None
        and is_dask_table(X)
        and is_dask_table(y)
        and getattr(y, "ndim", None) == 1
        and X.npartitions == y.npartitions
        and known_partition_lengths(X) is None
    ):
        if estimator is not None and (reset or is_table(X)):
            X = match_feature_names(estimator, X, reset=reset)  # refused before any task
        check_numeric_columns(X, name="X")
        # Count the label column's rows, not the features': X takes them, as its tasks check.
        lengths = frame_lengths(y)
    X = check_X(X, n_features=n_features, estimator=estimator, reset=reset, lengths=lengths)
    if is_dask_table(y):
        y = table_to_dask(y, name="y", like=X)
    y_is_dask = isinstance(y, da.Array)
    if not y_is_dask:
        y = np.asarray(y)
        if y_numeric and y.dtype == object:
            refuse_text(y, "y")
            # As scikit-learn's check_X_y(y_numeric=True) does for object targets of numbers.
            y = y.astype(np.float64)
        if y.ndim == 2 and y.shape[1] == 1:
            # scikit-learn's own DataConversionWarning for a column vector.
            y = column_or_1d(y, warn=True)
        if y.ndim == 1 and y.shape[0] == X.shape[0]:
            # numpy y next to dask X (or both numpy): give it X's row partitioning.
            y = da.from_array(y, chunks=(X.chunks[0],))
        else:
            y = da.from_array(y)
    elif X_is_dask is False and y.ndim == 1:
        X = X.rechunk({0: y.chunks[0]})
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1:
        raise InputError(
            f"y must be 1-D (one target per row); got shape {y.shape}. daskpar's models "
            "take a single target."
        )
    check_row_chunks(X, y)
    if y_numeric:
        _check_numeric(y, "y")
    else:
        check_label_dtype(y)
    return X, y


def _short(chunks: tuple[Any, ...]) -> str:
    if len(chunks) <= 6:
        return str(chunks)
    return f"({', '.join(map(str, chunks[:3]))}, ..., {', '.join(map(str, chunks[-2:]))})"


def check_sample_weight(sample_weight: Any, X: da.Array) -> da.Array | None:
    """``sample_weight`` as a 1-D dask array with X's row chunks (``None`` stays ``None``).

    Negative weights can only be seen by the tasks; they are checked per partition.
    """
    if sample_weight is None:
        return None
    if is_dask_table(sample_weight):
        sample_weight = table_to_dask(sample_weight, name="sample_weight", like=X)
    if not isinstance(sample_weight, da.Array):
        refuse_text(sample_weight, "sample_weight")
        sw = np.asarray(sample_weight)
        if sw.dtype == object:
            # Numbers in an object array (a pandas object column) are numbers, as in X.
            try:
                sw = sw.astype(np.float64)
            except (TypeError, ValueError):
                raise InputError(
                    "sample_weight holds values that are not numbers (such as None); pass one "
                    "non-negative number per row."
                ) from None
        if sw.ndim == 0:
            sw = np.full(X.shape[0], float(sw))
        if sw.ndim == 1 and sw.shape[0] == X.shape[0]:
            sample_weight = da.from_array(sw, chunks=(X.chunks[0],))
        else:
            sample_weight = da.from_array(sw)
    if sample_weight.ndim != 1:
        raise InputError(
            f"sample_weight must be 1-D (one weight per row); got shape {sample_weight.shape}."
        )
    _check_numeric(sample_weight, "sample_weight")
    check_row_chunks(X, sample_weight, y_name="sample_weight")
    return sample_weight


def check_scorer_applies(scorer: Any, estimator: Any) -> None:
    """Raise if ``estimator`` lacks the response ``scorer`` needs, before any training runs."""
    methods = (
        (scorer.response_method,)
        if isinstance(scorer.response_method, str)
        else tuple(scorer.response_method)
    )
    if not any(hasattr(estimator, m) for m in methods):
        raise InputError(
            f"scoring={scorer.name!r} needs {' or '.join(methods)}, which {estimator!r} does "
            "not have. Choose another scorer, or an estimator that has it (for SGDClassifier, "
            "loss='log_loss' or 'modified_huber' give predict_proba)."
        )


def check_weights_block(w: np.ndarray, rows: slice, block: int) -> None:
    """Raise a :class:`PartitionError` if ``w`` holds negative or non-finite weights."""
    check_finite_block(w, "sample_weight", rows, block)
    if (w < 0).any():
        first = rows.start + int(np.flatnonzero(w < 0)[0])
        raise PartitionError(
            f"sample_weight holds negative values in {describe_partition(rows, block)}, first "
            f"at row {first}. Weights must be non-negative."
        )


def check_discrete_labels(y: np.ndarray, rows: slice, block: int) -> None:
    """Refuse float class labels that are not whole numbers, as scikit-learn's classifiers do.

    scikit-learn calls such a target continuous, and every classifier refuses it ("Unknown
    label type"); naive Bayes, whose state daskpar merges itself, would otherwise take each
    distinct float for a class. Whole floats (``0.0``, ``1.0``) are labels, as there.
    """
    if y.dtype.kind != "f":
        return
    fractional = np.flatnonzero(y != np.floor(y))
    if len(fractional):
        first = int(fractional[0])
        raise PartitionError(
            f"y holds labels that are not whole numbers in {describe_partition(rows, block)}, "
            f"first {y[first].item()!r} at row {rows.start + first} (Unknown label type: "
            "continuous). A classifier needs discrete labels: integers or strings; for a "
            "numeric target, fit a regressor."
        )


def check_aligned_rows(
    X: Any, rows: slice, block: int, *, of: str = "X", **aligned: np.ndarray | None
) -> None:
    """Refuse row-aligned blocks (labels, weights, predictions) whose row count is not that
    of ``X`` (called ``of`` in the message).

    A dask DataFrame's labels take its features' partition lengths on trust (see
    :func:`check_X_y`); each task holds the true blocks and checks them here.
    """
    for name, a in aligned.items():
        if a is not None and a.shape[0] != X.shape[0]:
            raise PartitionError(
                f"{describe_partition(rows, block)} of {of} has {X.shape[0]} rows, but the "
                f"same partition of {name} has {a.shape[0]}: they do not hold the same rows. "
                f"Give {of} and {name} the same partitions (for example columns of one dask "
                "DataFrame, or predictions made from its partitions)."
            )


def check_training_block(
    X: np.ndarray,
    y: np.ndarray | None,
    sample_weight: np.ndarray | None,
    rows: slice,
    block: int,
    *,
    classes: np.ndarray | None = None,
    labels: bool = False,
) -> None:
    """Everything a model needs of one block, or a :class:`PartitionError` naming it.

    Finite features; finite targets; with ``labels`` (or ``classes``) labels that are all
    strings or all numbers (:func:`label_types`), whole numbers if floats
    (:func:`check_discrete_labels`), and with ``classes`` among them; usable weights.
    """
    check_aligned_rows(X, rows, block, y=y, sample_weight=sample_weight)
    check_finite_block(X, "X", rows, block)
    if y is not None:
        check_finite_block(y, "y", rows, block)
        if labels or classes is not None:
            label_types(y, "y", f" in {describe_partition(rows, block)}")
            check_discrete_labels(y, rows, block)
        if classes is not None:
            unknown = np.setdiff1d(np.unique(y), classes)
            if len(unknown):
                raise PartitionError(
                    f"y holds labels {unknown[:10].tolist()} in "
                    f"{describe_partition(rows, block)} that are not in "
                    f"classes={classes.tolist()}. Pass every label to classes=, or leave "
                    "classes unset to find them from the data."
                )
    if sample_weight is not None:
        check_weights_block(sample_weight, rows, block)


def check_data_partition(
    X: np.ndarray,
    y: np.ndarray | None,
    rows: tuple[slice, ...],
    block_id: tuple[int, ...],
    *,
    labels: bool,
) -> None:
    """Finite features, and finite targets or clean labels, in one block: the task body of
    :func:`check_blocks`."""
    check_training_block(X, y, None, rows[0], block_id[0], labels=labels)


def check_blocks(
    X: Any, y: Any = None, *, labels: bool = False, split_every: int | None = None
) -> None:
    """Read every block once and refuse values no model can use, before any training.

    The training tasks check their blocks too, but they see the rows of the array they are
    given: after a train/test split, "row 6404" counts training rows. Run on the data as read,
    this names the rows of the file (counted from 0, header excluded).

    Parameters
    ----------
    X : dask array of shape (n_samples, n_features)
    y : dask array of shape (n_samples,), optional
    labels : bool, default=False
        ``y`` holds class labels (checked with :func:`label_types`) rather than numbers.
    split_every : int or None, default=None
        Fan-in of the tree that gathers the (empty) results; None uses dask's
        ``split_every`` setting if set, else 8.

    Raises
    ------
    PartitionError
        Naming the partition and the first bad row.
    """
    X = check_X(X)
    if y is not None:
        X, y = check_X_y(X, y)
    reduce_partitions(
        check_data_partition,
        X,
        y,
        finalize=_nothing,
        combine=_nothing,
        stage="check",
        split_every=split_every,
        task_kwargs={"labels": labels},
    )


def _nothing(*_: Any) -> None:
    """Combine and finalize of checks, whose blocks give nothing but errors."""
