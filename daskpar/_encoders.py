"""Out-of-core encoders: scikit-learn's OneHotEncoder and OrdinalEncoder on dask collections.

Fitting is one pass over the data, in the shape of every daskpar stage::

    partitions ──encoder-block──▶ CategoryCounts ──encoder-merge (split_every)──▶
               one state ──encoder-final──▶ scikit-learn's fitted attributes

A partition's state is, per column, its distinct values (as scikit-learn's ``_unique`` sorts
them, NaN and None kept as categories) and how often each occurs; states merge exactly, so
the result depends neither on the partitioning nor on ``split_every``. The final task runs
scikit-learn's own ``fit`` on a small table holding each column's distinct values, with the
merged counts handed to its infrequent-category step: ``categories_``,
``infrequent_categories_``, ``drop_idx_`` and every check of the parameters against the data
are scikit-learn's (:func:`~daskpar._sklearn_compat.fit_encoder_with_counts`).

``transform`` and ``inverse_transform`` of dask input are one lazy task per partition, running
scikit-learn's own method with the fitted encoder on that partition (``encode`` / ``decode``
on the dashboard). In-memory input (numpy, pandas, sparse) goes to scikit-learn unchanged:
these classes are scikit-learn's encoders, with a dask path added.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar, Self

import dask.array as da
import numpy as np
import pandas as pd
from dask import config
from dask.base import is_dask_collection, tokenize
from scipy import sparse
from sklearn import preprocessing
from sklearn.utils.validation import check_is_fitted

from . import audit
from ._columns import is_dask_table, is_table, match_feature_names
from ._graph import (
    SPLIT_EVERY,
    broadcast,
    frame_lengths,
    map_frame_partitions,
    map_rows,
    reduce_frame_partitions,
    reduce_partitions,
    stage_name,
)
from ._preprocessing import FitPlan
from ._saving import SaveMixin
from ._sklearn_compat import (
    InvalidParameterError,
    align_sparse_interface,
    check_encoder_parameters,
    count_known_categories,
    encoder_fitted_attributes,
    encoder_input_columns,
    encoder_output_config,
    fit_encoder_with_counts,
    get_output_config,
    merge_category_counts,
    parameter_constraints,
    set_encoder_output_config,
    transformed_categories,
    unique_values,
    validate_estimator_params,
)
from ._validation import check_known_chunks
from .errors import DaskparError, InputError, PartitionError

__all__ = [
    "CategoryCounts",
    "DEFAULT_MAX_CATEGORIES",
    "MAX_CATEGORIES_KEY",
    "MAX_DENSE_BLOCK_BYTES",
    "OneHotEncoder",
    "OrdinalEncoder",
    "OutOfCoreEncoder",
    "as_encoder_input",
    "count_partition_categories",
    "decode_partition",
    "encode_block",
    "encode_partition",
    "encoder_attributes",
    "max_categories_per_column",
]

#: The dask setting that caps the distinct values per column an encoder's fit keeps.
MAX_CATEGORIES_KEY = "daskpar.encoder-max-categories"
#: Its default. A column's state is about ``k * (16 + value size)`` bytes for ``k`` distinct
#: values, ~10 MB for 100 000 short strings, held once per partition task and per merge; a
#: one-hot encoding that wide is past what a linear model on the output can use, and a
#: column with more distinct values is an identifier or free text, not a category.
DEFAULT_MAX_CATEGORIES = 100_000
#: The largest block of dense one-hot output (``sparse_output=False``) a task may build.
MAX_DENSE_BLOCK_BYTES = 2**30


def max_categories_per_column() -> int:
    """The cap on distinct values per column: the ``daskpar.encoder-max-categories`` setting."""
    return int(config.get(MAX_CATEGORIES_KEY, DEFAULT_MAX_CATEGORIES))


# --------------------------------------------------------------------------------------------
# the state: per column, each distinct value and its count


def _column_label(columns: tuple[Any, ...] | None, j: int) -> str:
    return f"column {columns[j]!r}" if columns is not None else f"column {j}"


def _too_many_categories(label: str, n: int, cap: int, where: str) -> InputError:
    return InputError(
        f"{label} has {n} distinct values {where}, more than the {cap} an encoder counts per "
        f"column (dask setting {MAX_CATEGORIES_KEY!r}). A column with that many values is an "
        "identifier or free text rather than a category: encode it by hashing (FeatureHasher, "
        "coming to daskpar), drop it, or group its values first. If the counts fit in memory "
        f"(about {cap} x (16 + value size) bytes per column and task), raise the cap with "
        f"dask.config.set({{{MAX_CATEGORIES_KEY!r}: n}}) and let OrdinalEncoder(min_frequency="
        "..., max_categories=...) group the rare ones."
    )


@dataclass(frozen=True, eq=False)
class CategoryCounts:
    """Per column, the distinct values of some rows and how often each occurs.

    ``uniques[j]`` are sorted as scikit-learn's ``_unique`` sorts them (missing values last,
    None before NaN) in the dtype scikit-learn's encoders convert the column to;
    ``counts[j]`` are their counts, int64. ``columns`` are a DataFrame's column labels (None
    for array blocks). ``cap`` bounds the distinct values per column.

    Its size does not depend on the rows: ``sum_j k_j * (8 + b_j)`` bytes for ``k_j``
    distinct values of byte size ``b_j`` (the itemsize for numbers and numpy strings; for
    Python objects 8 for the pointer plus the object, ~50 + length for a str), see
    :attr:`nbytes`.
    """

    n_samples: int
    columns: tuple[Any, ...] | None
    uniques: tuple[np.ndarray, ...]
    counts: tuple[np.ndarray, ...]
    cap: int

    def combine(self, other: CategoryCounts, /) -> CategoryCounts:
        if len(self.uniques) != len(other.uniques) or self.columns != other.columns:
            raise InputError(
                f"Partitions of X have different columns ({self.columns or len(self.uniques)} "
                f"and {other.columns or len(other.uniques)}); every partition must have the "
                "same columns."
            )
        uniques, counts = [], []
        for j, pair in enumerate(
            zip(self.uniques, self.counts, other.uniques, other.counts, strict=False)
        ):
            a, ca, b, cb = pair
            try:
                u, c = merge_category_counts([(a, ca), (b, cb)])
            except TypeError as error:
                raise InputError(f"{_column_label(self.columns, j)}: {error}") from error
            if len(u) > self.cap:
                raise _too_many_categories(
                    _column_label(self.columns, j), len(u), self.cap, "in the partitions merged"
                )
            uniques.append(u)
            counts.append(c)
        return CategoryCounts(
            self.n_samples + other.n_samples, self.columns, tuple(uniques), tuple(counts), self.cap
        )

    @property
    def nbytes(self) -> int:
        """The state's size by its formula: values (and the objects they point to) and
        counts, independent of the number of rows."""
        total = 0
        for u, c in zip(self.uniques, self.counts, strict=True):
            total += u.nbytes + c.nbytes
            if u.dtype == object:
                total += sum(sys.getsizeof(v) for v in u)
        return total


def as_encoder_input(X: Any) -> Any:
    """``X`` with text columns whose missing value is ``pd.NA`` read as pandas' default text
    dtype (``str``, missing values NaN); anything else unchanged.

    dask converts text columns to ``string[pyarrow]``, whose missing values are ``pd.NA``,
    which scikit-learn's encoders refuse ("uniformly strings or numbers"); pandas' own
    default text dtype holds NaN, which they take as a category. Fit and transform both read
    partitions through this, so a category that is missing is NaN in both.
    """
    if not isinstance(X, pd.DataFrame):
        return X
    text = {
        c: pd.StringDtype(storage=t.storage, na_value=np.nan)
        for c, t in X.dtypes.items()
        if isinstance(t, pd.StringDtype) and t.na_value is pd.NA
    }
    return X.astype(text) if text else X


def _where(block_id: tuple[int, ...]) -> str:
    return f"in partition {block_id[0]}"


def count_partition_categories(
    X: Any, rows: Any, block_id: tuple[int, ...], *, cap: int
) -> CategoryCounts | None:
    """The :class:`CategoryCounts` of one partition (pandas DataFrame or 2-D array); ``None``
    if it is empty. The ``encoder-block`` task.

    The columns are converted as scikit-learn's encoders convert them in ``fit``, one by one
    for a DataFrame so that each keeps its own dtype. A column with more than ``cap`` distinct
    values raises an :class:`InputError` here, in its partition's task, before the others run.
    """
    if X.shape[0] == 0:
        return None
    columns = tuple(X.columns) if isinstance(X, pd.DataFrame) else None
    try:
        values = encoder_input_columns(as_encoder_input(X))
    except (TypeError, ValueError) as error:
        raise PartitionError(f"X {_where(block_id)}: {error}") from error
    uniques, counts = [], []
    for j, column in enumerate(values):
        try:
            u, c = unique_values(column)
        except TypeError as error:
            label = _column_label(columns, j)
            raise PartitionError(f"{label} of X {_where(block_id)}: {error}") from error
        if len(u) > cap:
            label = _column_label(columns, j)
            raise _too_many_categories(label, len(u), cap, _where(block_id))
        uniques.append(u)
        counts.append(c)
    return CategoryCounts(int(X.shape[0]), columns, tuple(uniques), tuple(counts), cap)


def _padded(u: np.ndarray, n: int) -> np.ndarray:
    """``u`` repeated at its first value up to ``n`` values: the same distinct values."""
    return np.concatenate([u, np.repeat(u[:1], n - len(u))]) if len(u) < n else u


def _distinct_values_table(state: CategoryCounts) -> Any:
    """A table whose columns hold exactly each column's distinct values, in the dtypes
    scikit-learn converts the data to: a DataFrame for DataFrame input, else an array."""
    n = max(len(u) for u in state.uniques)
    columns = [_padded(u, n) for u in state.uniques]
    if state.columns is None:
        table = np.empty((n, len(columns)), dtype=np.result_type(*(c.dtype for c in columns)))
        for j, column in enumerate(columns):
            table[:, j] = column
        return table
    frame = pd.DataFrame(
        {j: pd.Series(c, dtype=c.dtype, copy=False) for j, c in enumerate(columns)}
    )
    frame.columns = pd.Index(list(state.columns), dtype=object)
    return frame


def encoder_attributes(state: CategoryCounts | None, *, encoder: Any) -> dict[str, Any]:
    """The fitted attributes scikit-learn's ``encoder`` gets from the merged state: the
    ``encoder-final`` task.

    scikit-learn's own ``fit`` runs on the distinct values of each column
    (:func:`_distinct_values_table`), which give it the same categories, dtypes and checks as
    the whole data, while its infrequent categories come from the merged counts. Its errors
    become :class:`InputError` with its message.
    """
    if state is None:
        raise InputError(
            "Found array with 0 sample(s) while a minimum of 1 is required by "
            f"{type(encoder).__name__}: every partition of X is empty."
        )

    def counts(i: int, categories: np.ndarray) -> np.ndarray:
        return count_known_categories(categories, state.uniques[i], state.counts[i])

    try:
        fit_encoder_with_counts(
            encoder, _distinct_values_table(state), n_samples=state.n_samples, counts=counts
        )
    except InvalidParameterError:
        raise
    except (TypeError, ValueError, AttributeError, IndexError) as error:
        # AttributeError: scikit-learn 1.9's message for dropping an infrequent category of
        # an object column fails to build (``str.item``); its error all the same.
        raise InputError(f"{error}") from error
    attributes = encoder_fitted_attributes(encoder)
    # The names are the client's to record (match_feature_names), as for every daskpar model.
    attributes.pop("feature_names_in_", None)
    return attributes


# --------------------------------------------------------------------------------------------
# transform task bodies


def _run(encoder: Any, method: str, X: Any, empty: Any, where: str) -> Any:
    """``encoder.<method>(X)``, scikit-learn's; ``empty`` for zero rows (which it refuses)."""
    if X.shape[0] == 0:
        return empty
    try:
        out = getattr(encoder, method)(as_encoder_input(X))
    except DaskparError:
        raise
    except (TypeError, ValueError, IndexError) as error:
        # IndexError: scikit-learn's inverse_transform indexing its categories with codes
        # that are not theirs.
        raise PartitionError(f"{type(encoder).__name__}.{method} {where}: {error}") from error
    if isinstance(empty, np.ndarray) and isinstance(out, np.ndarray) and out.dtype != empty.dtype:
        # The lazy output declares one dtype for every block (object where a block may
        # hold None for an unknown category).
        out = out.astype(empty.dtype)
    return out


def encode_block(
    X: np.ndarray,
    rows: tuple[slice, ...],
    block_id: tuple[int, ...],
    *,
    encoder: Any,
    method: str,
    empty: Any,
) -> Any:
    """scikit-learn's ``encoder.<method>`` on one block of a dask array (``encode`` /
    ``decode`` tasks)."""
    start, stop = rows[0].start, rows[0].stop
    where = f"in partition {block_id[0]} (rows {start} to {stop - 1})"
    return _run(encoder, method, X, empty, where)


def encode_partition(partition: pd.DataFrame, index: int, *, encoder: Any, empty: Any) -> Any:
    """scikit-learn's ``encoder.transform`` on one partition of a dask DataFrame."""
    return _run(encoder, "transform", partition, empty, f"in partition {index}")


def decode_partition(partition: Any, index: int, *, encoder: Any, empty: Any) -> Any:
    """scikit-learn's ``encoder.inverse_transform`` on one partition of a dask DataFrame."""
    return _run(encoder, "inverse_transform", partition, empty, f"in partition {index}")


def encode_partition_as_frame(partition: pd.DataFrame, *, encoder: Any, empty: Any) -> Any:
    """scikit-learn's ``encoder.transform`` of one partition as a pandas DataFrame (the
    encoder's ``set_output(transform="pandas")``), the partition's index kept."""
    if len(partition) == 0:
        return empty.set_axis(partition.index[:0], axis=0)
    try:
        return encoder.transform(as_encoder_input(partition))
    except DaskparError:
        raise
    except (TypeError, ValueError) as error:
        raise PartitionError(f"{type(encoder).__name__}.transform: {error}") from error


# --------------------------------------------------------------------------------------------
# the dask path shared by both encoders


def _is_dask_input(X: Any, method: str, estimator: Any) -> bool:
    if isinstance(X, da.Array) or is_dask_table(X):
        return True
    if is_dask_collection(X):
        raise InputError(
            f"{type(estimator).__name__}.{method} takes a dask array or DataFrame, not a "
            f"{type(X).__name__}."
        )
    return False


class OutOfCoreEncoder(SaveMixin):
    """The dask paths the two encoders share, in front of scikit-learn's encoder in the MRO.

    The dashboard shows a fit as ``encoder-block``, ``encoder-merge`` and ``encoder-final``
    (:func:`count_partition_categories`, :meth:`CategoryCounts.combine`,
    :func:`encoder_attributes`), and ``transform`` / ``inverse_transform`` tasks as
    ``encode`` / ``decode``.
    """

    _stage: ClassVar[str] = "encoder"
    _method_stages: ClassVar[dict[str, str]] = {
        "transform": "encode",
        "inverse_transform": "decode",
    }
    _sklearn_class: ClassVar[type[Any]]
    n_features_in_: int
    split_every: int | None
    categories: Any
    dtype: Any
    handle_unknown: str

    def _sklearn(self) -> Any:
        """The scikit-learn encoder's methods: the class after this one in the MRO."""
        return super()

    def _twin(self, *, fitted: bool, names: bool = True) -> Any:
        """A plain scikit-learn encoder with this one's parameters (and fitted attributes,
        and ``set_output`` configuration): what the tasks run."""
        params = self.get_params(deep=False)  # type: ignore[attr-defined]
        params.pop("split_every")
        twin = self._sklearn_class(**params)
        if fitted:
            for name, value in encoder_fitted_attributes(self).items():
                setattr(twin, name, value)
            if not names:
                twin.__dict__.pop("feature_names_in_", None)
            set_encoder_output_config(twin, encoder_output_config(self))
        return twin

    def _fit_plan(self, dtype: Any = None, *, weighted: bool = False) -> FitPlan:
        """The one-pass fit of this encoder: a :class:`CategoryCounts` per block (a pandas
        DataFrame partition or an array block), the attributes from the merged state.

        ``dtype`` is accepted for the scalers' shape and not needed: each block says its own.
        """
        if weighted:
            raise InputError(f"{type(self).__name__}.fit takes no sample weights.")
        self._check_parameters()  # before any task runs, wherever the plan is run
        return FitPlan(
            count_partition_categories,
            encoder_attributes,
            fit_kwargs={"cap": max_categories_per_column()},
            attributes_kwargs={"encoder": self._twin(fitted=False)},
        )

    def _set_fitted(self, attributes: dict[str, Any], X: Any) -> None:
        """Give this encoder the attributes a :meth:`_fit_plan` pass computed on ``X``."""
        for name, value in attributes.items():
            setattr(self, name, value)
        if is_table(X):
            match_feature_names(self, X, reset=True)
        else:
            self.__dict__.pop("feature_names_in_", None)

    def _check_parameters(self) -> None:
        """scikit-learn's checks of the parameters alone, before any task runs."""
        validate_estimator_params(self)
        try:
            check_encoder_parameters(self._twin(fitted=False))
        except InvalidParameterError:
            raise
        except (TypeError, ValueError) as error:
            raise InputError(f"{error}") from error

    def _check_fit_input(self, X: Any) -> Any:
        """Check dask ``X`` on the client: 2-D, rows-only partitions, not empty."""
        name = type(self).__name__
        if is_dask_table(X):
            if X.ndim != 2:
                raise InputError(
                    f"{name} expects a 2-D X; got a dask Series. Select a DataFrame "
                    "(X[['column']]) or call X.to_frame()."
                )
            n_features = len(X.columns)
            match_feature_names(self, X, reset=True)
        else:
            if X.ndim != 2:
                raise InputError(
                    f"Expected 2D array, got {X.ndim}D array instead (shape {X.shape}). "
                    "Reshape with X.reshape(-1, 1) if it is a single feature."
                )
            check_known_chunks(X, "X")
            if len(X.chunks[1]) != 1:
                raise InputError(
                    f"X is chunked along columns (column chunks {X.chunks[1]}); daskpar "
                    "partitions rows only. Rechunk with X.rechunk({1: -1})."
                )
            if X.shape[0] == 0:
                raise InputError(
                    f"Found array with 0 sample(s) (shape={X.shape}) while a minimum of 1 is "
                    f"required by {name}."
                )
            n_features = X.shape[1]
            match_feature_names(self, X, reset=True)
        if n_features == 0:
            raise InputError(
                f"Found array with 0 feature(s) while a minimum of 1 is required by {name}."
            )
        if not isinstance(self.categories, str) and len(self.categories) != n_features:
            raise InputError(
                "Shape mismatch: if categories is an array, it has to be of shape "
                f"(n_features,): X has {n_features} features, categories has "
                f"{len(self.categories)} lists."
            )
        return X

    def _fit_dask(self, X: Any) -> tuple[int, ...]:
        """Fit in one pass; returns the partitions' row counts seen on the way."""
        self._check_parameters()  # scikit-learn checks the parameters before the data
        X = self._check_fit_input(X)
        plan = self._fit_plan()
        lengths: tuple[int, ...]
        if is_dask_table(X):
            attributes, lengths = reduce_frame_partitions(
                plan.fit_task,
                X,
                finalize=plan.attributes_task,
                stage=self._stage,
                split_every=self.split_every,
                task_kwargs=plan.fit_kwargs,
                finalize_kwargs=plan.attributes_kwargs,
            )
        else:
            attributes = reduce_partitions(
                plan.fit_task,
                X,
                finalize=plan.attributes_task,
                stage=self._stage,
                split_every=self.split_every,
                task_kwargs=plan.fit_kwargs,
                finalize_kwargs=plan.attributes_kwargs,
            )
            lengths = tuple(int(n) for n in X.chunks[0])
        self._set_fitted(attributes, X)
        return lengths

    def fit(self, X: Any, y: Any = None) -> Self:
        """Fit the encoder: its categories, and their counts where they are needed.

        Parameters
        ----------
        X : dask DataFrame, dask array or array-like of shape (n_samples, n_features)
            The data. A dask collection is read once, in parallel; a dask array must be
            partitioned along rows only, with known chunk sizes.
        y : None
            Ignored.

        Returns
        -------
        self : object
            The fitted encoder.
        """
        if not _is_dask_input(X, "fit", self):
            return self._sklearn().fit(X, y)
        with audit.operation("fit", estimator=self, X=X):
            self._fit_dask(X)
        return self

    def fit_transform(self, X: Any, y: Any = None, **fit_params: Any) -> Any:
        """Fit the encoder on ``X``, then encode ``X``; lazily for dask input.

        A dask DataFrame's partition lengths, counted by the fit, give the output's row
        chunks: no second pass counts them.

        Parameters
        ----------
        X : dask DataFrame, dask array or array-like of shape (n_samples, n_features)
            The data.
        y : None
            Ignored.
        **fit_params : dict
            Passed to scikit-learn's ``fit_transform`` for in-memory input.

        Returns
        -------
        X_out : dask array, dask DataFrame, ndarray or sparse matrix
            The encoded data.
        """
        if not _is_dask_input(X, "fit_transform", self):
            return self._sklearn().fit_transform(X, y, **fit_params)
        with audit.operation("fit", estimator=self, X=X):
            lengths = self._fit_dask(X)
        return self._dask_method(X, "transform", lengths=lengths)

    def transform(self, X: Any) -> Any:
        """Encode ``X``: lazily, one task per partition, for dask input.

        Parameters
        ----------
        X : dask DataFrame, dask array or array-like of shape (n_samples, n_features)
            The data to encode; a DataFrame's columns are taken by name.

        Returns
        -------
        X_out : dask array, dask DataFrame, ndarray or sparse matrix
            The encoded data: for dask input, a dask array with ``X``'s row partitions (of
            scipy CSR blocks for ``OneHotEncoder(sparse_output=True)``), or a dask DataFrame
            under ``set_output(transform="pandas")`` for a dask DataFrame.
        """
        if is_table(X):  # its columns by name; scikit-learn's checks see them in the fitted order
            X = match_feature_names(self, X, reset=False)
        if _is_dask_input(X, "transform", self):
            return self._dask_method(X, "transform")
        return self._sklearn().transform(X)

    def inverse_transform(self, X: Any) -> Any:
        """Convert encoded data back to categories; lazily for dask input.

        Parameters
        ----------
        X : dask array or array-like of shape (n_samples, n_encoded_features)
            The encoded data (a dask array of dense or CSR blocks).

        Returns
        -------
        X_original : dask array or ndarray of shape (n_samples, n_features)
            The categories.
        """
        if _is_dask_input(X, "inverse_transform", self):
            return self._dask_method(X, "inverse_transform")
        return self._sklearn().inverse_transform(X)

    # ---------------------------------------------------------------------------------------
    # the lazy methods

    def _n_outputs(self) -> int:
        return self.n_features_in_

    def _transform_meta(self) -> Any:
        return np.empty((0, self._n_outputs()), dtype=self.dtype)

    def _inverse_dtype(self) -> np.dtype[Any]:
        raise NotImplementedError

    def _check_output_config(self, X: Any) -> str:
        dense = str(get_output_config("transform", self)["dense"])
        if dense != "default" and not (dense == "pandas" and is_dask_table(X)):
            raise InputError(
                f"{type(self).__name__} returns a dask array for a dask array; "
                f'set_output(transform="{dense}") applies to in-memory input, and "pandas" to '
                "a dask DataFrame as well (a lazy dask DataFrame)."
            )
        if dense == "pandas" and getattr(self, "sparse_output", False) is True:
            raise InputError(
                f"Pandas output does not support sparse data. Set sparse_output=False on "
                f'{type(self).__name__} to output DataFrames, or set_output(transform="default").'
            )
        return dense

    def _dask_method(self, X: Any, method: str, *, lengths: tuple[int, ...] | None = None) -> Any:
        """``method`` lazily on every partition of dask ``X``: one task per partition."""
        check_is_fitted(self)
        name = type(self).__name__
        frame = is_dask_table(X)
        dense = self._check_output_config(X) if method == "transform" else "default"
        if method == "transform":
            if frame:
                X = match_feature_names(self, X, reset=False)
                n_in = len(X.columns)
            else:
                n_in = X.shape[1] if X.ndim == 2 else -1
            if n_in != self.n_features_in_:
                raise InputError(
                    f"X has {n_in} features, but {name} is expecting {self.n_features_in_} "
                    "features as input."
                )
            width, meta = self._n_outputs(), self._transform_meta()
        else:
            width = self.n_features_in_
            meta = np.empty((0, width), dtype=self._inverse_dtype())
            n_in = len(X.columns) if frame else (X.shape[1] if X.ndim == 2 else -1)
            expected = self._n_outputs()
            if n_in != expected:
                raise InputError(
                    "Shape of the passed X data is not correct. Expected "
                    f"{expected} columns, got {n_in}."
                )
        if not frame:
            check_known_chunks(X, "X")
            if len(X.chunks[1]) != 1:
                raise InputError(
                    f"X is chunked along columns (column chunks {X.chunks[1]}); daskpar "
                    "partitions rows only. Rechunk with X.rechunk({1: -1})."
                )
        twin = self._twin(fitted=True, names=frame)
        token = (tokenize(type(twin).__name__, twin.get_params(), vars(twin)), method)
        stage = self._method_stages[method]
        if dense == "pandas":
            return self._as_frame(X, twin, width, token)
        if not frame:
            lengths = tuple(int(n) for n in X.chunks[0])
        elif lengths is None:
            lengths = frame_lengths(X)
        self._check_dense_size(meta, lengths)
        if not frame:
            out: da.Array = map_rows(
                encode_block,
                X,
                stage=stage,
                meta=meta,
                token=token,
                adjust_chunks={"j": width},
                encoder=twin,
                method=method,
                empty=meta,
            )
            return out
        task = encode_partition if method == "transform" else decode_partition
        return map_frame_partitions(
            task,
            X,
            width=width,
            lengths=lengths,
            stage=stage,
            token=token,
            meta=meta,
            with_index=True,
            encoder=broadcast(twin, self._stage),
            empty=meta,
        )

    def _check_dense_size(self, meta: Any, lengths: tuple[int, ...]) -> None:
        if sparse.issparse(meta) or not lengths:
            return
        per_row = meta.shape[1] * max(np.dtype(meta.dtype).itemsize, 8)
        worst = max(lengths) * per_row
        if worst > MAX_DENSE_BLOCK_BYTES:
            raise InputError(
                f"{type(self).__name__} would build dense blocks of up to {max(lengths)} rows "
                f"x {meta.shape[1]} columns ({worst / 2**30:.1f} GiB), more than "
                f"{MAX_DENSE_BLOCK_BYTES / 2**30:.0f} GiB per block. Use sparse_output=True "
                "(the default: CSR blocks), smaller partitions (X.repartition(...) / "
                "X.rechunk(...)), or fewer output columns (min_frequency, max_categories)."
            )

    def _as_frame(self, X: Any, twin: Any, width: int, token: Any) -> Any:
        """The pandas output of a dask DataFrame: a lazy dask DataFrame, one task per
        partition, its index kept."""
        names = [str(n) for n in self.get_feature_names_out()]  # type: ignore[attr-defined]
        meta = pd.DataFrame(
            np.empty((0, width), dtype=self.dtype), columns=names, index=X._meta.index[:0]
        )
        return X.map_partitions(
            encode_partition_as_frame,
            encoder=twin,
            empty=meta,
            meta=meta,
            token=f"{stage_name(self._method_stages['transform'])}-{tokenize(token)}",
            enforce_metadata=False,
            align_dataframes=False,
        )


_SPLIT_EVERY = {"split_every": SPLIT_EVERY}


# --------------------------------------------------------------------------------------------
# the encoders


class OneHotEncoder(OutOfCoreEncoder, preprocessing.OneHotEncoder):
    """Encode categorical features as a one-hot numeric array, out of core.

    A subclass of scikit-learn's :class:`~sklearn.preprocessing.OneHotEncoder` that adds a
    dask path: ``fit`` on a dask DataFrame or array reads every partition once, in parallel,
    counts each column's distinct values there and merges the counts through a tree, then
    lets scikit-learn's own ``fit`` set the attributes from them: ``categories_``,
    ``infrequent_categories_`` and ``drop_idx_`` are scikit-learn's for the same rows, for
    any partitioning and ``split_every``. ``transform`` of dask input is lazy, one task per
    partition; with ``sparse_output=True`` (the default) a dask array of scipy CSR blocks.
    In-memory input behaves exactly as in scikit-learn.

    Each partition's state is, per column ``j`` with ``k_j`` distinct values in it,
    ``k_j * (8 + b_j)`` bytes (``b_j``: the itemsize of a number or numpy string, or 8 plus
    the size of a Python object, ~50 + length for a str), whatever the number of rows; a
    column with more distinct values than the ``daskpar.encoder-max-categories`` setting
    (default 100 000) stops the fit in the first partition that has them.

    Parameters
    ----------
    categories : 'auto' or a list of array-like, default='auto'
        Categories per feature: found in the data (``'auto'``) or given.
    drop : {'first', 'if_binary'} or array-like of shape (n_features,), default=None
        A category to drop per feature.
    sparse_output : bool, default=True
        Return CSR matrices (CSR blocks for dask input); False returns dense arrays.
    dtype : number type, default=np.float64
        Desired dtype of output.
    handle_unknown : {'error', 'ignore', 'infrequent_if_exist', 'warn'}, default='error'
        What ``transform`` does with categories not seen in ``fit``.
    min_frequency : int or float, default=None
        Categories rarer than this are grouped as infrequent.
    max_categories : int, default=None
        Upper limit of output features per input feature, the infrequent one included.
    feature_name_combiner : "concat" or callable, default="concat"
        How ``get_feature_names_out`` names an output feature.
    split_every : int or None, default=None
        Fan-in of the tree that merges the per-partition counts of dask ``X`` (at least 2;
        None uses dask's ``split_every`` setting if set, else 8). It does not change the
        result.

    Attributes
    ----------
    categories_ : list of arrays
        The categories of each feature, as scikit-learn finds them.
    drop_idx_ : array of shape (n_features,) or None
        The index in ``categories_[i]`` of the category dropped for feature ``i``.
    infrequent_categories_ : list of ndarray
        The infrequent categories of each feature (with ``min_frequency`` or
        ``max_categories``).
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of features seen during fit, for a DataFrame with string column names.

    Notes
    -----
    Two differences from scikit-learn on a dask DataFrame: text columns whose missing value
    is ``pd.NA`` (dask's ``string[pyarrow]``, which scikit-learn refuses) are read with NaN
    for it, as pandas' default ``str`` dtype has them; and ``inverse_transform`` of dask input
    is of dtype object wherever a row of zeros could decode to None (``handle_unknown`` not
    ``'error'``), since a lazy array declares its dtype before any block is seen.

    See Also
    --------
    sklearn.preprocessing.OneHotEncoder : The in-memory encoder this one extends.

    Examples
    --------
    >>> import dask.dataframe as dd, pandas as pd
    >>> import daskpar as dp
    >>> df = pd.DataFrame({"city": ["Oslo", "Lima", "Oslo", "Pune"], "n": [1, 2, 1, 3]})
    >>> X = dd.from_pandas(df, npartitions=2)
    >>> enc = dp.OneHotEncoder(sparse_output=False).fit(X)
    >>> enc.categories_
    [array(['Lima', 'Oslo', 'Pune'], dtype=object), array([1, 2, 3])]
    >>> Xt = enc.transform(X)  # lazy: one task per partition
    >>> Xt.compute()[:2]
    array([[0., 1., 0., 1., 0., 0.],
           [1., 0., 0., 0., 1., 0.]])
    """

    _sklearn_class: ClassVar[type[Any]] = preprocessing.OneHotEncoder
    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        **parameter_constraints(preprocessing.OneHotEncoder),
        **_SPLIT_EVERY,
    }

    def __init__(
        self,
        *,
        categories: Any = "auto",
        drop: Any = None,
        sparse_output: bool = True,
        dtype: Any = np.float64,
        handle_unknown: str = "error",
        min_frequency: int | float | None = None,
        max_categories: int | None = None,
        feature_name_combiner: str | Callable[[Any, Any], str] = "concat",
        split_every: int | None = None,
    ) -> None:
        super().__init__(
            categories=categories,
            drop=drop,
            sparse_output=sparse_output,
            dtype=dtype,
            handle_unknown=handle_unknown,
            min_frequency=min_frequency,
            max_categories=max_categories,
            feature_name_combiner=feature_name_combiner,
        )
        self.split_every = split_every

    def _n_outputs(self) -> int:
        return len(self.get_feature_names_out())

    def _check_output_config(self, X: Any) -> str:
        dense = super()._check_output_config(X)
        if dense != "default" and self.sparse_output:
            # scikit-learn's message.
            raise InputError(
                f"{dense.capitalize()} output does not support sparse data. Set "
                f"sparse_output=False to output {dense} dataframes or disable "
                f'{dense.capitalize()} output via` ohe.set_output(transform="default").'
            )
        return dense

    def _transform_meta(self) -> Any:
        width = self._n_outputs()
        if self.sparse_output:
            return align_sparse_interface(sparse.csr_matrix((0, width), dtype=self.dtype))
        return np.empty((0, width), dtype=self.dtype)

    def _inverse_dtype(self) -> np.dtype[Any]:
        n = self.n_features_in_
        categories = [transformed_categories(self, i) for i in range(n)]
        dtype = np.result_type(*(c.dtype for c in categories))
        infrequent = getattr(self, "infrequent_categories_", None) or [None] * n
        drop = self.drop_idx_ if self.drop_idx_ is not None else [None] * n
        # Rows of all zeros decode to None where scikit-learn takes them for unknown
        # categories: the lazy output is then object, whichever blocks have such rows.
        unknown_possible = any(
            (
                self.handle_unknown == "ignore"
                or (
                    self.handle_unknown in ("infrequent_if_exist", "warn") and infrequent[i] is None
                )
            )
            and drop[i] is None
            for i in range(n)
        )
        return np.dtype(object) if unknown_possible else np.dtype(dtype)


class OrdinalEncoder(OutOfCoreEncoder, preprocessing.OrdinalEncoder):
    """Encode categorical features as integers, out of core.

    A subclass of scikit-learn's :class:`~sklearn.preprocessing.OrdinalEncoder` that adds a
    dask path: ``fit`` on a dask DataFrame or array reads every partition once, in parallel,
    counts each column's distinct values there and merges the counts through a tree, then
    lets scikit-learn's own ``fit`` set the attributes from them (``categories_``,
    ``infrequent_categories_``, and its checks of ``unknown_value`` and
    ``encoded_missing_value``), exactly as on the same rows in memory. ``transform`` and
    ``inverse_transform`` of dask input are lazy, one task per partition. In-memory input
    behaves exactly as in scikit-learn.

    Each partition's state is, per column ``j`` with ``k_j`` distinct values in it,
    ``k_j * (8 + b_j)`` bytes (``b_j``: the itemsize of a number or numpy string, or 8 plus
    the size of a Python object, ~50 + length for a str), whatever the number of rows; a
    column with more distinct values than the ``daskpar.encoder-max-categories`` setting
    (default 100 000) stops the fit in the first partition that has them.

    Parameters
    ----------
    categories : 'auto' or a list of array-like, default='auto'
        Categories per feature: found in the data (``'auto'``) or given.
    dtype : number type, default=np.float64
        Desired dtype of output.
    handle_unknown : {'error', 'use_encoded_value'}, default='error'
        What ``transform`` does with categories not seen in ``fit``.
    unknown_value : int or np.nan, default=None
        The code of unknown categories with ``handle_unknown='use_encoded_value'``.
    encoded_missing_value : int or np.nan, default=np.nan
        The code of missing categories.
    min_frequency : int or float, default=None
        Categories rarer than this are grouped as infrequent.
    max_categories : int, default=None
        Upper limit of codes per input feature, the infrequent one included.
    split_every : int or None, default=None
        Fan-in of the tree that merges the per-partition counts of dask ``X`` (at least 2;
        None uses dask's ``split_every`` setting if set, else 8). It does not change the
        result.

    Attributes
    ----------
    categories_ : list of arrays
        The categories of each feature, as scikit-learn finds them.
    infrequent_categories_ : list of ndarray
        The infrequent categories of each feature (with ``min_frequency`` or
        ``max_categories``).
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of features seen during fit, for a DataFrame with string column names.

    Notes
    -----
    On a dask DataFrame, text columns whose missing value is ``pd.NA`` (dask's
    ``string[pyarrow]``, which scikit-learn refuses) are read with NaN for it, as pandas'
    default ``str`` dtype has them.

    See Also
    --------
    sklearn.preprocessing.OrdinalEncoder : The in-memory encoder this one extends.

    Examples
    --------
    >>> import dask.dataframe as dd, pandas as pd
    >>> import daskpar as dp
    >>> df = pd.DataFrame({"size": ["S", "M", "S", None, "L"]})
    >>> X = dd.from_pandas(df, npartitions=2)
    >>> enc = dp.OrdinalEncoder().fit(X)
    >>> enc.categories_
    [array(['L', 'M', 'S', nan], dtype=object)]
    >>> enc.transform(X).compute().ravel()
    array([ 2.,  1.,  2., nan,  0.])
    """

    _sklearn_class: ClassVar[type[Any]] = preprocessing.OrdinalEncoder
    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        **parameter_constraints(preprocessing.OrdinalEncoder),
        **_SPLIT_EVERY,
    }

    def __init__(
        self,
        *,
        categories: Any = "auto",
        dtype: Any = np.float64,
        handle_unknown: str = "error",
        unknown_value: int | float | None = None,
        encoded_missing_value: int | float = np.nan,
        min_frequency: int | float | None = None,
        max_categories: int | None = None,
        split_every: int | None = None,
    ) -> None:
        super().__init__(
            categories=categories,
            dtype=dtype,
            handle_unknown=handle_unknown,
            unknown_value=unknown_value,
            encoded_missing_value=encoded_missing_value,
            min_frequency=min_frequency,
            max_categories=max_categories,
        )
        self.split_every = split_every

    def _inverse_dtype(self) -> np.dtype[Any]:
        dtype = np.result_type(*(c.dtype for c in self.categories_))
        infrequent = getattr(self, "infrequent_categories_", None) or []
        # As scikit-learn's: object where unknown or infrequent codes may be decoded.
        if self.handle_unknown == "use_encoded_value" or any(c is not None for c in infrequent):
            return np.dtype(object)
        return np.dtype(dtype)
