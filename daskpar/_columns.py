"""Feature columns matched by name: tables (pandas and dask DataFrames) into dask arrays.

A model fitted on a table records its column names, as scikit-learn's do
(``feature_names_in_``). Every later call that takes a table (``predict``, ``transform``,
``score``, the search's scoring) takes its columns by name, in the fitted order, before the
table becomes an array: a table with the same columns in another order gives the same
result, and a table with other columns is refused with scikit-learn's message. Positions are
never trusted across a table boundary.

A dask DataFrame becomes a dask array whose blocks are its partitions, without gathering it
on the client.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

import dask.array as da
import numpy as np
import pandas as pd

from ._dask_compat import known_partition_lengths, remember_partition_lengths, sample_rows
from ._graph import frame_lengths
from ._sklearn_compat import check_feature_names
from .errors import InputError

__all__ = [
    "frame_predictions",
    "check_numeric_columns",
    "column_names",
    "is_dask_table",
    "is_table",
    "match_feature_names",
    "numeric_table",
    "table_to_dask",
    "table_values",
    "without_names",
]


def is_dask_table(X: Any) -> bool:
    # A dask DataFrame exists only once dask.dataframe is imported: no need to import it here.
    dd = sys.modules.get("dask.dataframe")
    return dd is not None and isinstance(X, dd.DataFrame | dd.Series)


def is_table(X: Any) -> bool:
    """Whether ``X`` is a pandas or dask DataFrame or Series."""
    return isinstance(X, pd.DataFrame | pd.Series) or is_dask_table(X)


def _names_view(X: Any) -> Any:
    """What scikit-learn's name checks read: a dask DataFrame's empty pandas ``_meta``."""
    return X._meta if is_dask_table(X) else X


def column_names(X: Any) -> list[Any] | None:
    """The column labels of a (pandas or dask) DataFrame; ``None`` for anything else."""
    view = _names_view(X)
    return list(view.columns) if isinstance(view, pd.DataFrame) else None


def match_feature_names(estimator: Any, X: Any, *, reset: bool, name: str = "X") -> Any:
    """Record (``reset=True``) or check ``X``'s column names as scikit-learn does.

    With ``reset=True``, ``estimator.feature_names_in_`` is set from a DataFrame's string
    column names (and removed for input without names). Otherwise a DataFrame whose columns
    are the fitted names in another order is returned with its columns in the fitted order;
    other names (missing, unexpected) raise an :class:`~daskpar.errors.InputError` with
    scikit-learn's message; input without names after a fit with names (or the reverse) gets
    scikit-learn's warning. ``X`` is returned otherwise unchanged.
    """
    names = column_names(X)
    fitted = getattr(estimator, "feature_names_in_", None)
    if (
        not reset
        and names is not None
        and fitted is not None
        and len(names) == len(fitted)
        and set(names) == set(fitted)
        and names != list(fitted)
    ):
        X = X[list(fitted)]
    try:
        check_feature_names(estimator, _names_view(X), reset=reset)
    except (TypeError, ValueError) as exc:
        text = str(exc).strip()
        if name != "X":
            text = f"{name}: {text}"
        raise InputError(
            f"{text}\nSelect the columns the model was fitted with by name "
            f"({name}[list(model.feature_names_in_)]); daskpar matches table columns by "
            "name, never by position."
            if fitted is not None and names is not None
            else text
        ) from None
    return X


def without_names(estimator: Any, X: Any) -> Any:
    """``X``'s columns taken by name for ``estimator``, then as an array (numpy or dask).

    For a meta-estimator whose inner model was fitted on arrays (a search's best estimator).
    """
    X = match_feature_names(estimator, X, reset=False)
    return table_to_dask(X, name="X") if is_dask_table(X) else table_values(X)


def table_values(X: Any) -> Any:
    """A pandas DataFrame's values as a numpy array (nullable numbers' NA as NaN); else ``X``.

    For the scikit-learn model inside a daskpar estimator, which was fitted on arrays: the
    columns were matched by name already.
    """
    if not isinstance(X, pd.DataFrame):
        return X
    numeric = all(
        pd.api.types.is_numeric_dtype(t) or pd.api.types.is_bool_dtype(t) for t in X.dtypes
    )
    return X.to_numpy(dtype=np.float64, na_value=np.nan) if numeric else X.to_numpy()


def check_numeric_columns(X: Any, *, name: str) -> None:
    """Refuse a (pandas or dask) DataFrame with columns of text or categories, saying what to
    do; anything else passes."""
    view = _names_view(X)
    if not isinstance(view, pd.DataFrame):
        return
    text = [
        str(col)
        for col, t in view.dtypes.items()
        if not (pd.api.types.is_numeric_dtype(t) or pd.api.types.is_bool_dtype(t))
    ]
    if text:
        raise InputError(
            f"{name} has columns that are not numbers: {', '.join(text[:5])}"
            f"{' …' if len(text) > 5 else ''}. Encode them first (daskpar.OneHotEncoder or "
            "OrdinalEncoder, in a daskpar.ColumnTransformer), or select the numeric columns."
        )


def numeric_table(X: Any, *, name: str) -> Any:
    """A dask (or pandas) DataFrame or Series as it becomes an array: columns of text or
    categories refused with what to do, nullable numbers as float64 (their NA as NaN), a
    Series of text or categories as Python objects (labels, as the readers give them)."""
    view = _names_view(X)
    dtypes = [view.dtype] if isinstance(view, pd.Series) else list(view.dtypes)
    check_numeric_columns(X, name=name)
    nullable = [
        isinstance(t, pd.api.extensions.ExtensionDtype)
        and (pd.api.types.is_numeric_dtype(t) or pd.api.types.is_bool_dtype(t))
        for t in dtypes
    ]
    if isinstance(view, pd.Series) and not nullable[0] and not isinstance(view.dtype, np.dtype):
        return X.astype(object)
    if any(nullable):
        if isinstance(view, pd.Series):
            return X.astype(np.float64)
        return X.astype({c: np.float64 for c, n in zip(view.columns, nullable, strict=True) if n})
    return X


def table_to_dask(
    X: Any,
    *,
    name: str,
    like: da.Array | None = None,
    lengths: tuple[int, ...] | None = None,
) -> da.Array:
    """A dask DataFrame or Series as a dask array: one block per partition, no gather.

    The partitions' row counts are needed to line rows up with the labels and weights. They
    are ``lengths`` where the caller learned them in a pass that read the partitions (the
    labels' pass, :func:`~daskpar._incremental.frame_classes_and_lengths`); else they come
    from the files' metadata where dask knows them unread (parquet); else, for labels or
    weights next to features ``like`` with as many partitions, from ``like``'s row chunks
    (every task then checks that its blocks hold as many rows, see
    :func:`~daskpar._validation.check_aligned_rows`); else they are counted on the workers.
    Columns that hold text or categories are refused with what to do (:func:`numeric_table`).
    """
    table = X
    X = numeric_table(X, name=name)
    if lengths is not None and len(lengths) != X.npartitions:
        lengths = None
    if lengths is None:
        # Known without a pass: learned by an earlier pass over this frame, or from Parquet
        # metadata.
        lengths = known_partition_lengths(table)
    if lengths is None and like is not None and len(like.chunks[0]) == X.npartitions:
        lengths = like.chunks[0]
    if lengths is None:
        lengths = frame_lengths(X)  # one ``count`` pass
    remember_partition_lengths(table, lengths)
    return X.to_dask_array(lengths=lengths)


def _partition_predictions(
    part: pd.DataFrame, *, predict: Callable[[np.ndarray], np.ndarray], columns: Any
) -> Any:
    out = predict(np.asarray(table_values(part)))
    if out.ndim == 1:
        return pd.Series(out, index=part.index)
    return pd.DataFrame(out, index=part.index, columns=columns)


def frame_predictions(
    X: Any,
    predict: Callable[[np.ndarray], np.ndarray],
    *,
    n_features: int,
    name: str,
    columns: Callable[[int], list[Any]] = lambda width: list(range(width)),
) -> Any:
    """``predict`` of each partition of dask DataFrame ``X`` (its columns already in the
    fitted order), lazily: a dask Series (a value per row) or DataFrame (``columns(width)``
    names the columns of a 2-D output), with ``X``'s partitions and index. No row count is
    needed. ``predict`` takes a numeric block (an empty one gives an empty result); ``name``
    is the tasks' name.
    """
    check_numeric_columns(X, name="X")
    if len(X.columns) != n_features:
        raise InputError(
            f"X has {len(X.columns)} features, but the model was fitted with {n_features} features."
        )
    probe = predict(np.zeros((1, n_features)))
    labels = columns(probe.shape[1]) if probe.ndim == 2 else None
    meta = _partition_predictions(sample_rows(X).iloc[:1], predict=predict, columns=labels).iloc[:0]
    return X.map_partitions(
        _partition_predictions, predict=predict, columns=labels, meta=meta, token=name
    )
