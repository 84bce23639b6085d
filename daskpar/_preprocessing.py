"""Out-of-core scalers: scikit-learn's StandardScaler, MinMaxScaler and MaxAbsScaler on dask arrays.

Fitting is one pass over the data, in the shape of every daskpar stage::

    blocks ──scaler-block──▶ Weighted[Moments] / Extrema ──scaler-merge (split_every)──▶
           one state ──scaler-final──▶ scikit-learn's fitted attributes

``transform`` and ``inverse_transform`` of a dask array are one lazy blockwise task per block,
running scikit-learn's own method on that block: a model that reads the scaled data (such as
:class:`~daskpar.ParallelIncremental` after the scaler in a ``Pipeline``) gets the scaling fused
into its own tasks, so the scaled data is never stored whole.

In-memory input (numpy, pandas, sparse) goes to scikit-learn: these classes are
scikit-learn's scalers, with a dask path added. Its values are first checked as the dask
path's tasks check theirs (:func:`check_in_memory_fit`), so that both refuse the same input
with the same messages.
"""

from __future__ import annotations

import copy as copy_module
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar, Self, TypeVar

import dask.array as da
import numpy as np
import pandas as pd
from dask.base import is_dask_collection, tokenize
from scipy import sparse
from sklearn import preprocessing
from sklearn.utils.sparsefuncs import min_max_axis
from sklearn.utils.validation import check_is_fitted

from . import audit
from ._columns import (
    check_numeric_columns,
    is_dask_table,
    is_table,
    match_feature_names,
    table_values,
)
from ._graph import SPLIT_EVERY, map_rows, reduce_partitions, stage_name
from ._saving import SaveMixin

# scikit-learn's own rules for near-constant features (scale 1 instead of dividing by ~0).
# Private helpers, imported rather than copied so that the dask path stays identical to the
# in-memory one; tests compare the fitted attributes with scikit-learn's.
from ._sklearn_compat import (
    get_output_config,
    handle_zeros_in_scale,
    is_constant_feature,
    parameter_constraints,
    reset_scaler,
    unwrapped_output,
    validate_estimator_params,
)
from ._states import Extrema, Moments, Weighted
from ._validation import (
    bad_rows_error,
    check_finite_block,
    check_sample_weight,
    check_X,
    is_sparse_array,
    refuse_text,
)
from .errors import InputError

__all__ = [
    "ALL_WEIGHTS_ZERO",
    "MaxAbsScaler",
    "MinMaxScaler",
    "OutOfCoreScaler",
    "StandardScaler",
    "check_in_memory_fit",
    "check_no_infinity_block",
    "extrema_fit_partition",
    "max_abs_scaler_attributes",
    "min_max_scaler_attributes",
    "refuse_sparse_fit",
    "scale_partition",
    "scaler_float_dtype",
    "scaler_fit_plan",
    "set_scaler_fitted",
    "standard_scaler_attributes",
    "standard_scaler_fit_partition",
]

S = TypeVar("S")

#: scikit-learn's message for sample weights that are all zero, and the fix.
ALL_WEIGHTS_ZERO = (
    "Sample weights must contain at least one non-zero number: every sample_weight is zero, "
    "so there is nothing to fit. Give the rows to learn from a positive weight."
)


# --------------------------------------------------------------------------------------------
# task bodies: plain functions of numpy blocks


def check_no_infinity_block(a: Any, name: str, rows: slice, block: int | None) -> None:
    """Raise a :class:`PartitionError` naming the partition if ``a`` holds infinity (for an
    in-memory ``a``, ``block`` None: an :class:`InputError` naming the rows).

    NaN is allowed: the scalers treat it as a missing value, as scikit-learn's do. ``a`` may
    be a scipy sparse matrix (in-memory input), whose stored values are checked.
    """
    bad: np.ndarray
    if sparse.issparse(a):
        coo = a.tocoo()
        if coo.data.dtype.kind not in "fc":
            return
        bad = np.unique(coo.row[np.isinf(coo.data)])
    elif np.issubdtype(a.dtype, np.inexact):
        bad = np.flatnonzero(np.isinf(a).any(axis=tuple(range(1, a.ndim))))
    else:
        return
    if len(bad):
        raise bad_rows_error(
            name,
            "infinity",
            bad,
            rows,
            block,
            "The scalers take NaN as a missing value but need every other value finite: "
            "replace infinity with NaN or drop these rows first.",
        )


def refuse_sparse_fit(scaler: Any) -> None:
    """Raise scikit-learn's error, before any task runs, for a scaler that cannot be fitted on
    sparse X: a centring StandardScaler, and MinMaxScaler."""
    if isinstance(scaler, preprocessing.StandardScaler) and scaler.with_mean:
        raise InputError(
            "Cannot center sparse matrices: pass `with_mean=False` instead. See docstring for "
            "motivation and alternatives."
        )
    if isinstance(scaler, preprocessing.MinMaxScaler):
        raise InputError(
            "MinMaxScaler does not support sparse input. Consider using MaxAbsScaler instead."
        )


def _weight_dtype(float_dtype: np.dtype[Any]) -> np.dtype[Any]:
    """scikit-learn's dtype for the sample weights of ``X``: X's own, float64 for float16."""
    return float_dtype if float_dtype in (np.float32, np.float64) else np.dtype(np.float64)


def standard_scaler_fit_partition(
    X: np.ndarray,
    sample_weight: np.ndarray | None,
    rows: tuple[slice, ...],
    block_id: tuple[int, ...],
    *,
    float_dtype: np.dtype[Any],
    weigh_moments: bool,
) -> Weighted[Moments] | None:
    """The NaN-aware (weighted) moments of one block of ``X``; ``None`` for an empty block.

    As scikit-learn does, ``X`` is first converted to ``float_dtype`` and the weights to
    ``X``'s dtype (float64 for float16 ``X``); the sums run in float64. With
    ``weigh_moments=False`` (a scaler that neither centres nor scales) the weights are only
    checked, and the counts are of samples.
    """
    if X.shape[0] == 0:
        return None
    # A sparse block (scikit-learn's StandardScaler(with_mean=False)) stays sparse.
    moments_of = Moments.of_sparse if sparse.issparse(X) else Moments.of
    X = X.astype(float_dtype) if sparse.issparse(X) else np.asarray(X, dtype=float_dtype)
    check_no_infinity_block(X, "X", rows[0], block_id[0])
    if sample_weight is None:
        return Weighted(moments_of(X), any_weight=True)
    w = np.asarray(sample_weight, dtype=_weight_dtype(float_dtype))
    check_finite_block(w, "sample_weight", rows[0], block_id[0])
    moments = moments_of(X, w if weigh_moments else None)
    return Weighted(moments, any_weight=bool(np.any(w != 0)))


def check_in_memory_fit(X: Any, sample_weight: Any = None) -> None:
    """Check in-memory input to a scaler's ``fit`` as the dask path's tasks check theirs,
    before scikit-learn sees it: no infinity in ``X``; one finite weight per row, not all
    zero. The errors are :class:`InputError` with the dask path's messages, naming the rows.

    What these checks cannot read as numbers is left to scikit-learn's own validation.
    """
    if not sparse.issparse(X):
        try:
            X = np.asarray(X)
            if X.dtype == object:
                X = X.astype(np.float64)  # numbers in an object array are numbers
        except (TypeError, ValueError):
            return
        if X.ndim != 2:
            return
    rows = slice(0, X.shape[0])
    check_no_infinity_block(X, "X", rows, None)
    if sample_weight is None:
        return
    try:
        w = np.asarray(sample_weight, dtype=_weight_dtype(scaler_float_dtype(X.dtype)))
    except (TypeError, ValueError):
        return
    if w.ndim == 0:
        w = np.full(X.shape[0], w)
    if w.shape != (X.shape[0],):
        raise InputError(
            f"sample_weight must hold one weight per row of X ({X.shape[0]} rows); got shape "
            f"{w.shape}. Pass a 1-D array of {X.shape[0]} non-negative numbers, or one number."
        )
    check_finite_block(w, "sample_weight", rows, None)
    if not np.any(w != 0):
        raise InputError(ALL_WEIGHTS_ZERO)


def extrema_fit_partition(
    X: np.ndarray,
    rows: tuple[slice, ...],
    block_id: tuple[int, ...],
    *,
    float_dtype: np.dtype[Any],
) -> Extrema | None:
    """The per-feature minimum and maximum of one block, ignoring NaN; ``None`` if empty."""
    if X.shape[0] == 0:
        return None
    if sparse.issparse(X):
        # MaxAbsScaler on a sparse block: the implicit zeros count, nothing is densified.
        X = sparse.csr_matrix(X, dtype=float_dtype)
        check_no_infinity_block(X, "X", rows[0], block_id[0])
        low, high = min_max_axis(X, axis=0, ignore_nan=True)
        return Extrema(X.shape[0], np.asarray(low), np.asarray(high))
    X = np.asarray(X, dtype=float_dtype)
    check_no_infinity_block(X, "X", rows[0], block_id[0])
    # fmin / fmax skip NaN without numpy's "All-NaN slice" warning on the workers.
    return Extrema(X.shape[0], np.fmin.reduce(X, axis=0), np.fmax.reduce(X, axis=0))


def _fitted_state(state: S | None) -> S:
    # The client refuses empty X before any task runs; this guards direct use of the tasks.
    if state is None:
        raise InputError("Every partition of X is empty; there is nothing to fit.")
    return state


def standard_scaler_attributes(
    state: Weighted[Moments] | None,
    *,
    with_mean: bool,
    with_std: bool,
    weighted: bool,
    float_dtype: np.dtype[Any],
) -> dict[str, Any]:
    """``StandardScaler``'s fitted attributes from the merged moments, as scikit-learn sets them.

    ``n_samples_seen_`` is per feature where features have different counts (missing values)
    and a scalar otherwise. Like scikit-learn's, its dtype is float64 whenever the moments are
    computed, and int64 (or ``X``'s float dtype, with sample weights) when the scaler
    neither centres nor scales.
    """
    state = _fitted_state(state)
    if weighted and not state.any_weight:
        raise InputError(ALL_WEIGHTS_ZERO)
    m = state.state
    count = np.broadcast_to(m.count[0], m.mean.shape[1:]).astype(np.float64)
    mean: np.ndarray | None = None
    var: np.ndarray | None = None
    scale: np.ndarray | None = None
    if with_mean or with_std:
        n_seen = count
        # scikit-learn computes 0 / 0 = NaN for a feature without any value; so do we.
        mean = np.where(count > 0, m.mean[0], np.nan)
        with np.errstate(invalid="ignore", divide="ignore"):
            var = np.where(count > 0, m.m2[0] / count, np.nan) if with_std else None
    else:
        n_seen = count.astype(float_dtype if weighted else np.int64)
    # scikit-learn keeps one count (a scalar) unless features have different ones.
    n_samples_seen: Any = n_seen[0] if n_seen.max() == n_seen.min() else n_seen
    if var is not None:
        constant = is_constant_feature(var, mean, n_samples_seen)
        scale = handle_zeros_in_scale(np.sqrt(var), copy=False, constant_mask=constant)
    return {"n_samples_seen_": n_samples_seen, "mean_": mean, "var_": var, "scale_": scale}


def min_max_scaler_attributes(
    state: Extrema | None, *, feature_range: tuple[float, float]
) -> dict[str, Any]:
    """``MinMaxScaler``'s fitted attributes from the merged extrema, as scikit-learn sets them."""
    state = _fitted_state(state)
    data_min, data_max = state.data_min, state.data_max
    low = np.asarray(feature_range[0], dtype=data_min.dtype)
    high = np.asarray(feature_range[1], dtype=data_min.dtype)
    data_range = data_max - data_min
    scale = (high - low) / handle_zeros_in_scale(data_range, copy=True)
    return {
        "n_samples_seen_": int(state.n_samples),
        "scale_": scale,
        "min_": low - data_min * scale,
        "data_min_": data_min,
        "data_max_": data_max,
        "data_range_": data_range,
    }


def max_abs_scaler_attributes(state: Extrema | None) -> dict[str, Any]:
    """``MaxAbsScaler``'s fitted attributes from the merged extrema, as scikit-learn sets them."""
    state = _fitted_state(state)
    # The largest absolute value is the absolute value of the minimum or of the maximum.
    max_abs = np.fmax(np.abs(state.data_min), np.abs(state.data_max))
    return {
        "n_samples_seen_": int(state.n_samples),
        "max_abs_": max_abs,
        "scale_": handle_zeros_in_scale(max_abs, copy=True),
    }


def scale_partition(
    X: np.ndarray,
    rows: tuple[slice, ...],
    block_id: tuple[int, ...],
    *,
    scaler: Any,
    method: str,
) -> np.ndarray:
    """``scaler.<method>(X)`` (scikit-learn's own) on one block; empty in, empty out."""
    check_no_infinity_block(X, "X", rows[0], block_id[0])
    func = getattr(scaler, method)
    if sparse.issparse(X):
        # Sparse in, CSR out (scikit-learn's sparse scaling keeps the zeros zero).
        if X.shape[0] == 0:
            return sparse.csr_matrix(func(sparse.csr_matrix((1, X.shape[1]), dtype=X.dtype)))[:0]
        return sparse.csr_matrix(func(X))
    if X.shape[0] == 0:
        # scikit-learn refuses zero rows; one probe row gives the output's dtype.
        return np.asarray(func(np.zeros((1, X.shape[1]), dtype=X.dtype)))[:0]
    return np.asarray(func(X))


def scale_frame_partition(part: pd.DataFrame, *, scaler: Any) -> pd.DataFrame:
    """scikit-learn's pandas ``transform`` output for one partition of a dask DataFrame."""
    values = np.asarray(table_values(part), dtype=np.float64)
    check_no_infinity_block(values, "X", slice(0, len(part)), None)
    if len(part) == 0:
        return pd.DataFrame(
            np.zeros((0, len(scaler.get_feature_names_out()))),
            columns=scaler.get_feature_names_out(),
            index=part.index,
        )
    return scaler.transform(part)


# --------------------------------------------------------------------------------------------
# graph wiring, shared by the three scalers


def scaler_float_dtype(dtype: np.dtype[Any]) -> np.dtype[Any]:
    """The dtype scikit-learn's scalers convert ``X`` to: its own if float, else float64."""
    if dtype in (np.float64, np.float32, np.float16):
        return np.dtype(dtype)
    return np.dtype(np.float64)


def _identity(estimator: Any) -> tuple[Any, ...]:
    """What a fitted scaler's transform depends on: its class, parameters and fitted
    attributes. Not the object itself: scikit-learn sets private attributes on a pipeline's
    steps (its callback context) that differ from one fit to the next, and would give the
    same transform other task names in every fit, so that a checkpoint made from the
    transformed data could never be resumed."""
    fitted = {k: v for k, v in vars(estimator).items() if k.endswith("_") and not k.startswith("_")}
    return type(estimator).__name__, estimator.get_params(deep=False), fitted


def _is_dask_input(X: Any, method: str, estimator: Any) -> bool:
    """True for a dask array; an error for other dask collections (which have no row blocks)
    and for in-memory text (:func:`~daskpar._validation.refuse_text`)."""
    if isinstance(X, da.Array) or is_dask_table(X):
        return True
    if is_dask_collection(X):
        raise InputError(
            f"{type(estimator).__name__}.{method} takes a dask array or DataFrame, not a "
            f"{type(X).__name__}."
        )
    refuse_text(X, "X")
    return False


def _refuse_dask_partial_fit(X: Any, estimator: Any) -> None:
    if _is_dask_input(X, "partial_fit", estimator):
        raise InputError(
            f"{type(estimator).__name__}.partial_fit takes in-memory batches; it would load a "
            "whole dask array into memory. Call fit(X) to fit on a dask array in one "
            "parallel pass."
        )


@dataclass(frozen=True)
class FitPlan:
    """A scaler's one-pass fit as a task per block and a task on the merged state.

    ``fit_task(X, *others, rows, block_id, **fit_kwargs)`` gives one block's state (``others``
    are ``n_others`` row-aligned arrays such as ``sample_weight``) and
    ``attributes_task(state, **attributes_kwargs)`` the fitted attributes. The scalers' own
    ``fit`` and the searches (one state per scaler setting and fold) both run it.
    """

    fit_task: Callable[..., Any]
    attributes_task: Callable[..., dict[str, Any]]
    fit_kwargs: dict[str, Any]
    attributes_kwargs: dict[str, Any]
    n_others: int = 0

    def partition_state(
        self, X: np.ndarray, rows: tuple[slice, ...], block_id: tuple[int, ...]
    ) -> Any:
        """One block's state, with the optional arrays left out."""
        return self.fit_task(X, *(None,) * self.n_others, rows, block_id, **self.fit_kwargs)

    def attributes(self, state: Any) -> dict[str, Any]:
        return self.attributes_task(state, **self.attributes_kwargs)


class OutOfCoreScaler(SaveMixin):
    """The dask paths the three scalers share, in front of scikit-learn's scaler in the MRO.

    ``fit``, ``partial_fit``, ``transform`` and ``inverse_transform`` here take ``X`` only, as
    MinMaxScaler's and MaxAbsScaler's do; StandardScaler adds its own parameters. The
    dashboard shows a fit as ``scaler-block``, ``scaler-merge`` and ``scaler-final``, and
    ``transform`` / ``inverse_transform`` tasks (when not fused into the tasks that use their
    blocks) as ``scale`` / ``unscale``.
    """

    _stage: ClassVar[str] = "scaler"
    _method_stages: ClassVar[dict[str, str]] = {
        "transform": "scale",
        "inverse_transform": "unscale",
    }
    n_features_in_: int
    split_every: int | None

    def _sklearn(self) -> Any:
        """The scikit-learn scaler's methods: the class after this one in the MRO."""
        return super()

    def _check_fit_X(self, X: da.Array) -> da.Array:
        """Reset the scaler and validate dask ``X``: row partitions only, numeric, not empty."""
        reset_scaler(self._sklearn())
        X = check_X(X, estimator=self, reset=True)
        name = type(self).__name__
        if is_sparse_array(X):
            refuse_sparse_fit(self)
        # scikit-learn's messages for the same problems.
        for axis, what in enumerate(("sample", "feature")):
            if X.shape[axis] == 0:
                raise InputError(
                    f"Found array with 0 {what}(s) (shape={X.shape}) while a minimum of 1 is "
                    f"required by {name}."
                )
        return X

    def _fit_plan(self, dtype: np.dtype[Any], *, weighted: bool = False) -> FitPlan:
        """The one-pass fit of this scaler's parameters on data of ``dtype``."""
        raise NotImplementedError

    def _fit_dask(self, X: da.Array, others: tuple[da.Array | None, ...] = ()) -> Self:
        """Fit in one pass: the plan's task per block of ``X`` (and ``others``), then the tree.

        The merged state's attributes are set on the scaler.
        """
        plan = self._fit_plan(X.dtype, weighted=any(o is not None for o in others))
        attributes = reduce_partitions(
            plan.fit_task,
            X,
            *others,
            finalize=plan.attributes_task,
            stage=self._stage,
            split_every=self.split_every,
            task_kwargs=plan.fit_kwargs,
            finalize_kwargs=plan.attributes_kwargs,
        )
        self._set_fitted(attributes, X)
        return self

    def _set_fitted(self, attributes: dict[str, Any], X: da.Array) -> None:
        for name, value in attributes.items():
            setattr(self, name, value)
        self.n_features_in_ = int(X.shape[1])

    def _map_blocks(self, X: da.Array, method: str) -> da.Array:
        """``method`` applied lazily to every block of ``X``: one task per block."""
        check_is_fitted(self)
        output = get_output_config("transform", self)["dense"]
        if method == "transform" and output == "pandas" and is_dask_table(X):
            return self._map_frame(X)
        if method == "transform" and output != "default":
            raise InputError(
                f"{type(self).__name__} returns a dask array for a dask array; "
                f'set_output(transform="pandas") gives a dask DataFrame for a dask DataFrame, '
                "and other containers (polars) apply to in-memory input only."
            )
        X = check_X(
            X, n_features=self.n_features_in_, estimator=self if method == "transform" else None
        )
        # The blocks are never scaled in place: with copy=False they could be the user's own
        # arrays (da.from_array) or blocks dask reuses.
        scaler = copy_module.copy(self)
        scaler.copy = True  # type: ignore[attr-defined]
        # The blocks have no column names: a table's were matched by name here.
        scaler.__dict__.pop("feature_names_in_", None)
        empty: Any = np.zeros((0, X.shape[1]), dtype=X.dtype)
        if is_sparse_array(X):
            empty = sparse.csr_matrix((0, X.shape[1]), dtype=X.dtype)
        probe = scale_partition(empty, (slice(0, 0),), (0,), scaler=scaler, method=method)
        return map_rows(
            scale_partition,
            X,
            stage=self._method_stages[method],
            meta=probe,
            token=(_identity(scaler), method),
            scaler=scaler,
            method=method,
        )

    def _map_frame(self, X: Any) -> Any:
        """``transform`` of a dask DataFrame as a lazy dask DataFrame (``set_output`` pandas):
        scikit-learn's pandas output of each partition, with its index; one task each."""
        check_numeric_columns(X, name="X")
        if X.shape[1] != self.n_features_in_:
            raise InputError(
                f"X has {X.shape[1]} features, but {type(self).__name__} is expecting "
                f"{self.n_features_in_} features as input."
            )
        scaler = copy_module.copy(self)
        scaler.copy = True  # type: ignore[attr-defined]
        meta = pd.DataFrame(
            {n: pd.Series(dtype=np.float64) for n in self.get_feature_names_out()},  # type: ignore[attr-defined]
            index=X._meta.index[:0],
        )
        return X.map_partitions(
            scale_frame_partition,
            scaler=scaler,
            meta=meta,
            token=f"{stage_name(self._method_stages['transform'])}-{tokenize(_identity(scaler))}",
        )

    def fit(self, X: Any, y: Any = None) -> Self:
        """Compute the statistics used for later scaling: the minimum and maximum
        (MinMaxScaler), the maximum absolute value (MaxAbsScaler).

        Parameters
        ----------
        X : dask array or array-like of shape (n_samples, n_features)
            The data. A dask array is read once, in parallel; it must be partitioned along
            rows only, with known chunk sizes, and hold no infinity (NaN is a missing value).
        y : None
            Ignored.

        Returns
        -------
        self : object
            The fitted scaler.
        """
        if not _is_dask_input(X, "fit", self):
            check_in_memory_fit(X)
            return self._sklearn().fit(X, y)
        with audit.operation("fit", estimator=self, X=X):
            validate_estimator_params(self)
            X = self._check_fit_X(X)
            return self._fit_dask(X)

    def fit_transform(self, X: Any, y: Any = None, **fit_params: Any) -> Any:
        """Fit, then transform ``X``: lazily, block by block, for dask input.

        Parameters
        ----------
        X : dask array or DataFrame, or array-like of shape (n_samples, n_features)
        y : None
            Ignored.
        **fit_params : dict
            Passed to ``fit`` (``sample_weight`` for StandardScaler).

        Returns
        -------
        X_new : dask array or DataFrame, ndarray or sparse matrix
        """
        if _is_dask_input(X, "fit_transform", self):
            return self.fit(X, y, **fit_params).transform(X)
        return super().fit_transform(X, y, **fit_params)  # type: ignore[misc]

    def partial_fit(self, X: Any, y: Any = None) -> Self:
        """Update the statistics with one in-memory batch (scikit-learn's ``partial_fit``).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The batch; not a dask array (use ``fit`` for those).
        y : None
            Ignored.

        Returns
        -------
        self : object
            The fitted scaler.
        """
        _refuse_dask_partial_fit(X, self)
        check_in_memory_fit(X)
        return self._sklearn().partial_fit(X, y)

    def transform(self, X: Any) -> Any:
        """Scale ``X``: lazily, block by block, for a dask array.

        Parameters
        ----------
        X : dask array or array-like of shape (n_samples, n_features)
            The data to scale.

        Returns
        -------
        Xt : dask array, ndarray or sparse matrix of shape (n_samples, n_features)
            The scaled data; a lazy dask array for dask input.
        """
        if is_table(X):  # its columns by name; scikit-learn's checks see them in the fitted order
            X = match_feature_names(self, X, reset=False)
        if _is_dask_input(X, "transform", self):
            return self._map_blocks(X, "transform")
        return self._sklearn().transform(X)

    def inverse_transform(self, X: Any) -> Any:
        """Undo the scaling of ``X``: lazily, block by block, for a dask array.

        Parameters
        ----------
        X : dask array or array-like of shape (n_samples, n_features)
            Scaled data.

        Returns
        -------
        X_original : dask array, ndarray or sparse matrix of shape (n_samples, n_features)
            The data in its original scale; a lazy dask array for dask input.
        """
        if _is_dask_input(X, "inverse_transform", self):
            return self._map_blocks(X, "inverse_transform")
        return self._sklearn().inverse_transform(X)


_SPLIT_EVERY = {"split_every": SPLIT_EVERY}


def scaler_fit_plan(scaler: OutOfCoreScaler, dtype: np.dtype[Any]) -> FitPlan:
    """How ``scaler`` fits a block of ``dtype`` and finalizes the merged state (for a search,
    which fits every scaler setting on every fold in one pass)."""
    return scaler._fit_plan(dtype)


def set_scaler_fitted(scaler: OutOfCoreScaler, attributes: dict[str, Any], X: Any) -> None:
    """Give ``scaler`` the fitted attributes a :func:`scaler_fit_plan` pass computed on ``X``
    (an array of its width)."""
    scaler._set_fitted(attributes, X)


# --------------------------------------------------------------------------------------------
# the scalers


@unwrapped_output
class StandardScaler(OutOfCoreScaler, preprocessing.StandardScaler):
    """Standardize features by removing the mean and scaling to unit variance, out of core.

    A subclass of scikit-learn's :class:`~sklearn.preprocessing.StandardScaler` that adds a
    dask path: ``fit`` on a dask array reads every block once, in parallel, and merges per-block
    means and sums of squared deviations through a tree (Chan et al.'s pairwise update, with
    a compensated mean), giving scikit-learn's fitted attributes to float rounding for any
    partitioning and ``split_every``. ``transform`` and ``inverse_transform`` of a dask array
    are lazy, one task per block. In-memory input behaves exactly as in scikit-learn.

    NaNs are treated as missing values: disregarded in fit, and maintained in transform.

    Parameters
    ----------
    copy : bool, default=True
        If False, try to avoid a copy and scale in place (in-memory input only: blocks of a
        dask array are never modified).
    with_mean : bool, default=True
        If True, center the data before scaling.
    with_std : bool, default=True
        If True, scale the data to unit variance.
    split_every : int or None, default=None
        Fan-in of the tree that merges the per-partition statistics of a dask ``X`` (at
        least 2; None uses dask's ``split_every`` setting if set, else 8). It changes the
        grouping, not the result beyond float rounding.

    Attributes
    ----------
    scale_ : ndarray of shape (n_features,) or None
        Per-feature scaling, ``np.sqrt(var_)``, with 1 for (near-)constant features;
        ``None`` when ``with_std=False``.
    mean_ : ndarray of shape (n_features,) or None
        Per-feature mean; ``None`` when ``with_mean=False`` and ``with_std=False``.
    var_ : ndarray of shape (n_features,) or None
        Per-feature (biased) variance; ``None`` when ``with_std=False``.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of features seen during fit, for in-memory input with string column names.
    n_samples_seen_ : int, float or ndarray of shape (n_features,)
        Samples (or the sum of sample weights) seen per feature; a scalar when every
        feature saw the same number.

    See Also
    --------
    sklearn.preprocessing.StandardScaler : The in-memory scaler this one extends.

    Examples
    --------
    >>> import dask.array as da, numpy as np
    >>> import daskpar as dp
    >>> X = da.from_array(np.array([[0.0, 1], [2, 1], [4, 1], [6, 1]]), chunks=(2, -1))
    >>> scaler = dp.StandardScaler().fit(X)
    >>> scaler.mean_
    array([3., 1.])
    >>> scaler.scale_
    array([2.23606798, 1.        ])
    >>> Xt = scaler.transform(X)  # lazy: one task per block, run when computed
    >>> Xt.name.startswith("scale-")
    True
    >>> Xt.compute()[:, 0]
    array([-1.34164079, -0.4472136 ,  0.4472136 ,  1.34164079])
    """

    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        **parameter_constraints(preprocessing.StandardScaler),
        **_SPLIT_EVERY,
    }

    def __init__(
        self,
        *,
        copy: bool = True,
        with_mean: bool = True,
        with_std: bool = True,
        split_every: int | None = None,
    ) -> None:
        super().__init__(copy=copy, with_mean=with_mean, with_std=with_std)
        self.split_every = split_every

    def fit(self, X: Any, y: Any = None, sample_weight: Any = None) -> StandardScaler:
        """Compute the mean and standard deviation used for later scaling.

        Parameters
        ----------
        X : dask array or array-like of shape (n_samples, n_features)
            The data. A dask array is read once, in parallel; it must be partitioned along
            rows only, with known chunk sizes, and hold no infinity (NaN is a missing value).
        y : None
            Ignored.
        sample_weight : dask array, array-like of shape (n_samples,) or float, default=None
            Individual weights for each sample. With dask ``X``, a dask ``sample_weight``
            must have ``X``'s row chunks.

        Returns
        -------
        self : StandardScaler
            The fitted scaler.
        """
        if not _is_dask_input(X, "fit", self):
            check_in_memory_fit(X, sample_weight)
            return self._sklearn().fit(X, y, sample_weight)
        with audit.operation("fit", estimator=self, X=X):
            validate_estimator_params(self)
            X = self._check_fit_X(X)
            return self._fit_dask(X, (check_sample_weight(sample_weight, X),))

    def _fit_plan(self, dtype: np.dtype[Any], *, weighted: bool = False) -> FitPlan:
        float_dtype = scaler_float_dtype(dtype)
        return FitPlan(
            standard_scaler_fit_partition,
            standard_scaler_attributes,
            fit_kwargs={
                "float_dtype": float_dtype,
                "weigh_moments": self.with_mean or self.with_std,
            },
            attributes_kwargs={
                "with_mean": self.with_mean,
                "with_std": self.with_std,
                "weighted": weighted,
                "float_dtype": float_dtype,
            },
            n_others=1,
        )

    def partial_fit(self, X: Any, y: Any = None, sample_weight: Any = None) -> StandardScaler:
        """Update the mean and standard deviation with one in-memory batch (scikit-learn's).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The batch; not a dask array (use ``fit`` for those).
        y : None
            Ignored.
        sample_weight : array-like of shape (n_samples,), default=None
            Individual weights for each sample.

        Returns
        -------
        self : StandardScaler
            The fitted scaler.
        """
        _refuse_dask_partial_fit(X, self)
        check_in_memory_fit(X, sample_weight)
        return self._sklearn().partial_fit(X, y, sample_weight)

    def transform(self, X: Any, copy: bool | None = None) -> Any:
        """Center and scale ``X``: lazily, block by block, for a dask array.

        Parameters
        ----------
        X : dask array or array-like of shape (n_samples, n_features)
            The data to scale.
        copy : bool, default=None
            Copy in-memory ``X`` or not (``None``: the ``copy`` parameter). Ignored for
            dask input, whose blocks are never modified.

        Returns
        -------
        X_tr : dask array or ndarray of shape (n_samples, n_features)
            The scaled data; a lazy dask array for dask input.
        """
        if is_table(X):  # its columns by name; scikit-learn's checks see them in the fitted order
            X = match_feature_names(self, X, reset=False)
        if _is_dask_input(X, "transform", self):
            return self._map_blocks(X, "transform")
        return self._sklearn().transform(X, copy=copy)

    def inverse_transform(self, X: Any, copy: bool | None = None) -> Any:
        """Scale ``X`` back to the original representation; lazily for a dask array.

        Parameters
        ----------
        X : dask array or array-like of shape (n_samples, n_features)
            Scaled data.
        copy : bool, default=None
            Copy in-memory ``X`` or not (``None``: the ``copy`` parameter). Ignored for
            dask input.

        Returns
        -------
        X_original : dask array or ndarray of shape (n_samples, n_features)
            The data in its original scale; a lazy dask array for dask input.
        """
        if _is_dask_input(X, "inverse_transform", self):
            return self._map_blocks(X, "inverse_transform")
        return self._sklearn().inverse_transform(X, copy=copy)


@unwrapped_output
class MinMaxScaler(OutOfCoreScaler, preprocessing.MinMaxScaler):
    """Scale each feature to a given range, out of core.

    A subclass of scikit-learn's :class:`~sklearn.preprocessing.MinMaxScaler` that adds a
    dask path: ``fit`` on a dask array reads every block once, in parallel, and merges per-block
    minima and maxima through a tree, giving exactly scikit-learn's fitted attributes.
    ``transform`` and ``inverse_transform`` of a dask array are lazy, one task per block.
    In-memory input behaves exactly as in scikit-learn.

    NaNs are treated as missing values: disregarded in fit, and maintained in transform.

    Parameters
    ----------
    feature_range : tuple (min, max), default=(0, 1)
        Desired range of transformed data.
    copy : bool, default=True
        Set to False to scale in-memory input in place (blocks of a dask array are never
        modified).
    clip : bool, default=False
        Set to True to clip transformed values of held-out data to ``feature_range``.
    split_every : int or None, default=None
        Fan-in of the tree that merges the per-partition minima and maxima of a dask ``X``
        (at least 2; None uses dask's ``split_every`` setting if set, else 8).

    Attributes
    ----------
    min_ : ndarray of shape (n_features,)
        Per-feature adjustment for minimum, ``min - data_min_ * scale_``.
    scale_ : ndarray of shape (n_features,)
        Per-feature relative scaling, ``(max - min) / data_range_`` (1 for a constant feature).
    data_min_ : ndarray of shape (n_features,)
        Per-feature minimum seen in the data.
    data_max_ : ndarray of shape (n_features,)
        Per-feature maximum seen in the data.
    data_range_ : ndarray of shape (n_features,)
        Per-feature range ``data_max_ - data_min_``.
    n_features_in_ : int
        Number of features seen during fit.
    n_samples_seen_ : int
        The number of samples processed.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of features seen during fit, for in-memory input with string column names.

    See Also
    --------
    sklearn.preprocessing.MinMaxScaler : The in-memory scaler this one extends.

    Examples
    --------
    >>> import dask.array as da, numpy as np
    >>> import daskpar as dp
    >>> X = da.from_array(np.array([[-1, 2], [-0.5, 6], [0, 10], [1, 18]]), chunks=(2, -1))
    >>> scaler = dp.MinMaxScaler().fit(X)
    >>> scaler.data_max_
    array([ 1., 18.])
    >>> scaler.transform(X).compute()
    array([[0.  , 0.  ],
           [0.25, 0.25],
           [0.5 , 0.5 ],
           [1.  , 1.  ]])
    """

    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        **parameter_constraints(preprocessing.MinMaxScaler),
        **_SPLIT_EVERY,
    }

    def __init__(
        self,
        feature_range: tuple[float, float] = (0, 1),
        *,
        copy: bool = True,
        clip: bool = False,
        split_every: int | None = None,
    ) -> None:
        super().__init__(feature_range, copy=copy, clip=clip)
        self.split_every = split_every

    def _fit_plan(self, dtype: np.dtype[Any], *, weighted: bool = False) -> FitPlan:
        if self.feature_range[0] >= self.feature_range[1]:
            # scikit-learn's check and message (made in its partial_fit).
            raise ValueError(
                "Minimum of desired feature range must be smaller than maximum. Got "
                f"{self.feature_range}."
            )
        return FitPlan(
            extrema_fit_partition,
            min_max_scaler_attributes,
            fit_kwargs={"float_dtype": scaler_float_dtype(dtype)},
            attributes_kwargs={"feature_range": self.feature_range},
        )


@unwrapped_output
class MaxAbsScaler(OutOfCoreScaler, preprocessing.MaxAbsScaler):
    """Scale each feature by its maximum absolute value, out of core.

    A subclass of scikit-learn's :class:`~sklearn.preprocessing.MaxAbsScaler` that adds a
    dask path: ``fit`` on a dask array reads every block once, in parallel, and merges per-block
    minima and maxima through a tree, giving exactly scikit-learn's fitted attributes.
    ``transform`` and ``inverse_transform`` of a dask array are lazy, one task per block.
    In-memory input (dense or sparse) behaves exactly as in scikit-learn.

    NaNs are treated as missing values: disregarded in fit, and maintained in transform.

    Parameters
    ----------
    copy : bool, default=True
        Set to False to scale in-memory input in place (blocks of a dask array are never
        modified).
    clip : bool, default=False
        Set to True to clip transformed values of held-out data to [-1, 1].
    split_every : int or None, default=None
        Fan-in of the tree that merges the per-partition statistics of a dask ``X`` (at
        least 2; None uses dask's ``split_every`` setting if set, else 8).

    Attributes
    ----------
    scale_ : ndarray of shape (n_features,)
        Per-feature scaling, ``max_abs_`` with 1 for features that are all zero.
    max_abs_ : ndarray of shape (n_features,)
        Per-feature maximum absolute value.
    n_features_in_ : int
        Number of features seen during fit.
    n_samples_seen_ : int
        The number of samples processed.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of features seen during fit, for in-memory input with string column names.

    See Also
    --------
    sklearn.preprocessing.MaxAbsScaler : The in-memory scaler this one extends.

    Examples
    --------
    >>> import dask.array as da, numpy as np
    >>> import daskpar as dp
    >>> X = da.from_array(np.array([[1.0, -1, 2], [2, 0, 0], [0, 1, -1]]), chunks=(2, -1))
    >>> scaler = dp.MaxAbsScaler().fit(X)
    >>> scaler.max_abs_
    array([2., 1., 2.])
    >>> scaler.transform(X).compute()
    array([[ 0.5, -1. ,  1. ],
           [ 1. ,  0. ,  0. ],
           [ 0. ,  1. , -0.5]])
    """

    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        **parameter_constraints(preprocessing.MaxAbsScaler),
        **_SPLIT_EVERY,
    }

    def __init__(
        self, *, copy: bool = True, clip: bool = False, split_every: int | None = None
    ) -> None:
        super().__init__(copy=copy, clip=clip)
        self.split_every = split_every

    def _fit_plan(self, dtype: np.dtype[Any], *, weighted: bool = False) -> FitPlan:
        return FitPlan(
            extrema_fit_partition,
            max_abs_scaler_attributes,
            fit_kwargs={"float_dtype": scaler_float_dtype(dtype)},
            attributes_kwargs={},
        )
