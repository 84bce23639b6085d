"""scikit-learn's ColumnTransformer on dask DataFrames: every column transformer fitted in one
pass, and the transform inside the tasks that use it.

scikit-learn's ``ColumnTransformer`` selects columns with its own indexing, which knows pandas
(and polars) but not dask DataFrames, and it fits its transformers one after the other on
in-memory data. :class:`ColumnTransformer` here is that class with a dask path added:

- **fit**: every daskpar transformer (the scalers and encoders, which fit out of core) maps
  each partition to its state; the states of all of them travel together through one tree
  (``columns-block``, ``columns-merge``, ``columns-final``), so the data is read once,
  whatever the number of transformers. The same pass counts each partition's rows, so that
  the output's row chunks are known without another read.
- **bookkeeping**: scikit-learn's own ``fit_transform`` runs on two made-up rows of the
  frame's columns and dtypes (no data read) with the fitted transformers standing in, so
  column selection (names, lists, masks, ``make_column_selector``), ``remainder``,
  ``transformers_``, ``output_indices_`` and feature names are scikit-learn's.
- **transform**: one lazy task per partition, running scikit-learn's own ``transform`` of the
  fitted ColumnTransformer on that pandas partition; a model fitted after it in a Pipeline
  reads the transformed blocks inside its own tasks.

In-memory input goes to scikit-learn unchanged.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from numbers import Integral
from typing import Any, ClassVar, Self

import numpy as np
import pandas as pd
from dask.base import tokenize
from sklearn import compose
from sklearn.base import clone
from sklearn.utils import get_tags
from sklearn.utils.validation import check_is_fitted

from . import audit
from ._columns import is_dask_table, table_values
from ._dask_compat import sample_rows
from ._encoders import as_encoder_input
from ._graph import broadcast, frame_lengths, map_frame_partitions, reduce_frame_partitions
from ._preprocessing import OutOfCoreScaler, scaler_float_dtype
from ._saving import SaveMixin
from ._sklearn_compat import (
    Interval,
    column_transformer_input_indices,
    get_output_config,
    parameter_constraints,
    unwrapped_output,
    validate_estimator_params,
)
from ._states import StateTuple, combine_all
from .errors import InputError

__all__ = ["ColumnTransformer", "fit_per_fold", "make_column_transformer"]


def _fits_out_of_core(transformer: Any) -> bool:
    """Whether ``transformer`` is a daskpar transformer with a one-pass fit plan."""
    return hasattr(transformer, "_fit_plan") and hasattr(transformer, "_set_fitted")


class _Recorder:
    """Stands in for a daskpar transformer in the first sample fit: records the columns
    scikit-learn selects for it (its names, in order)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.columns: list[Any] | None = None

    def __sklearn_clone__(self) -> Self:
        return self

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        return {}

    def fit(self, X: Any, y: Any = None) -> Self:
        self.fit_transform(X, y)
        return self

    def fit_transform(self, X: Any, y: Any = None) -> np.ndarray:
        if not isinstance(X, pd.DataFrame):
            raise InputError(
                f"ColumnTransformer step {self.name!r} selects a single column as a scalar, "
                "which gives its transformer a 1-D column; select it in a list ([name]) to "
                "give a 2-D table."
            )
        self.columns = list(X.columns)
        return np.ones((X.shape[0], 1))

    def transform(self, X: Any) -> np.ndarray:
        return np.ones((X.shape[0], 1))


class _Fitted:
    """Stands in for a daskpar transformer fitted out of core, in the second sample fit:
    scikit-learn's ColumnTransformer keeps it (no clone, no refit) and learns its output's
    width and feature names from it."""

    def __init__(self, fitted: Any) -> None:
        self.fitted = fitted

    def __sklearn_clone__(self) -> Self:
        return self

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        return {}

    def set_output(self, *, transform: Any = None) -> Self:
        return self

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        return np.asarray(self.fitted.get_feature_names_out(input_features), dtype=object)

    def fit(self, X: Any, y: Any = None) -> Self:
        return self

    def transform(self, X: Any) -> Any:
        return self.fit_transform(X)

    def fit_transform(self, X: Any, y: Any = None) -> Any:
        names = self.get_feature_names_out()
        if get_output_config("transform", self.fitted)["dense"] == "pandas":
            return pd.DataFrame(np.ones((X.shape[0], len(names))), columns=names, index=X.index)
        return np.ones((X.shape[0], len(names)))


def _block_states(
    part: pd.DataFrame,
    rows: slice,
    block_id: tuple[int, ...],
    *,
    plans: Sequence[tuple[list[Any], np.dtype[Any] | None, Any]],
) -> StateTuple:
    """Every daskpar transformer's state of one partition (a ``columns-block`` task);
    ``rows`` are the partition's own."""
    states = []
    for columns, dtype, plan in plans:
        block = part[columns]
        if dtype is not None:  # a scaler: its numeric block
            block = np.asarray(table_values(block), dtype=dtype)
        states.append(plan.partition_state(block, (rows,), block_id))
    return StateTuple(tuple(states))


def _attributes(state: StateTuple, *, plans: Sequence[tuple[list[Any], Any, Any]]) -> list[Any]:
    """Every transformer's fitted attributes from the merged states (``columns-final``)."""
    return [plan.attributes(s) for (_, _, plan), s in zip(plans, state.items, strict=True)]


def _transform_partition(part: pd.DataFrame, *, transformer: Any, dtype: Any) -> Any:
    """scikit-learn's ColumnTransformer transform of one partition (a ``columns`` task)."""
    # Text columns' missing values as the encoders read them in their fit (NaN, not pd.NA).
    out = compose.ColumnTransformer.transform(transformer, as_encoder_input(part))
    if dtype is None:
        return out
    try:
        return np.asarray(out, dtype=dtype)
    except (TypeError, ValueError):
        raise InputError(
            "ColumnTransformer's output holds values that are not numbers (a 'passthrough' "
            "text column?), so it cannot be a numeric dask array. Encode those columns (for "
            "example with daskpar.OneHotEncoder or OrdinalEncoder) or drop them."
        ) from None


@dataclass(frozen=True)
class ColumnPlans:
    """A ColumnTransformer's one-pass fit over a dask DataFrame: the frame's schema and a
    two-row sample of it, the daskpar transformers (unfitted, by step name) and, for each,
    its columns, the dtype a scaler reads them as, and its plan."""

    meta: pd.DataFrame
    sample: pd.DataFrame
    templates: dict[str, Any]
    plans: list[tuple[list[Any], np.dtype[Any] | None, Any]]


@unwrapped_output
class ColumnTransformer(SaveMixin, compose.ColumnTransformer):
    """scikit-learn's ColumnTransformer, with dask DataFrames fitted in one pass.

    Same parameters and attributes as :class:`sklearn.compose.ColumnTransformer`, plus
    ``split_every``. For a dask DataFrame:

    - ``fit`` reads the data once: every daskpar transformer in it (``StandardScaler``,
      ``MinMaxScaler``, ``MaxAbsScaler``, ``OneHotEncoder``, ``OrdinalEncoder``) is fitted
      from per-partition states merged through a tree; stateless scikit-learn transformers
      (``FunctionTransformer``, ``"passthrough"``, ``"drop"``) need no data. A stateful
      scikit-learn transformer would have to see the whole table in memory, so it is
      refused with the daskpar class to use instead.
    - ``transform`` and ``fit_transform`` give a lazy dask array with a block per partition
      (a lazy dask DataFrame with ``set_output(transform="pandas")``): each block is
      scikit-learn's ``transform`` of that partition. The stacked output is dense (float64)
      for dask input; sparse blocks come with sparse training.

    Columns are selected by name on the frame's schema, as scikit-learn selects them on a
    pandas DataFrame; ``transform`` takes the fitted columns by name, whatever their order.

    Parameters
    ----------
    transformers, remainder, sparse_threshold, n_jobs, transformer_weights, verbose, \
verbose_feature_names_out
        As in :class:`sklearn.compose.ColumnTransformer`.
    split_every : int or None, default=None
        Fan-in of the tree that merges the partitions' states; None uses dask's
        ``split_every`` setting if set, else 8.
    """

    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        **parameter_constraints(compose.ColumnTransformer),
        "split_every": [Interval(Integral, 2, None, closed="left"), None],
    }

    def __init__(
        self,
        transformers: Any,
        *,
        remainder: Any = "drop",
        sparse_threshold: float = 0.3,
        n_jobs: int | None = None,
        transformer_weights: dict[str, float] | None = None,
        verbose: bool = False,
        verbose_feature_names_out: Any = True,
        split_every: int | None = None,
    ) -> None:
        super().__init__(
            transformers,
            remainder=remainder,
            sparse_threshold=sparse_threshold,
            n_jobs=n_jobs,
            transformer_weights=transformer_weights,
            verbose=verbose,
            verbose_feature_names_out=verbose_feature_names_out,
        )
        self.split_every = split_every

    # ----------------------------------------------------------------------------------------
    # fit

    def _steps(self) -> list[tuple[str, Any]]:
        """(name, transformer) of every step, the remainder included as ``"remainder"``."""
        return [(name, t) for name, t, _ in self.transformers] + [("remainder", self.remainder)]

    def _refuse_stateful(self) -> None:
        for name, t in self._steps():
            if isinstance(t, str) or _fits_out_of_core(t):
                continue
            if get_tags(t).requires_fit:
                raise InputError(
                    f"ColumnTransformer step {name!r} ({type(t).__name__}) learns from the "
                    "data, and scikit-learn's fit would need the whole table in memory. Use "
                    "daskpar's out-of-core transformer instead (daskpar.StandardScaler, "
                    "MinMaxScaler, MaxAbsScaler, OneHotEncoder, OrdinalEncoder), or a "
                    "stateless one (FunctionTransformer, 'passthrough', 'drop')."
                )

    def _with_steps(self, stand_ins: dict[str, Any], sample: pd.DataFrame) -> Any:
        """scikit-learn's fit_transform of ``sample``, with ``stand_ins`` (by step name) in
        place of the steps' transformers; the user's parameters are left as they were."""
        transformers: Any = self.transformers  # type: ignore[has-type]
        remainder: Any = self.remainder  # type: ignore[has-type]
        try:
            self.transformers = [
                (name, stand_ins.get(name, t), cols) for name, t, cols in transformers
            ]
            self.remainder = stand_ins.get("remainder", remainder)
            return compose.ColumnTransformer.fit_transform(self, sample)
        except (KeyError, TypeError, ValueError) as exc:
            if isinstance(exc, InputError):
                raise
            # scikit-learn's own message (a column that is not there, a bad selector).
            raise InputError(f"ColumnTransformer: {exc}") from exc
        finally:
            self.transformers, self.remainder = transformers, remainder

    def _column_plans(self, X: Any) -> ColumnPlans:
        """What fitting on dask DataFrame ``X`` takes: each daskpar transformer's columns
        (as scikit-learn selects them) and one-pass plan. Checks the steps first."""
        validate_estimator_params(self)
        self._refuse_stateful()
        # Two rows of the frame's dtypes, with a value where dask leaves NA (which
        # scikit-learn refuses to stack into arrays).
        sample = sample_rows(X).ffill().bfill()
        # Which columns scikit-learn gives each daskpar transformer (names, in order).
        recorders = {name: _Recorder(name) for name, t in self._steps() if _fits_out_of_core(t)}
        self._with_steps(dict(recorders), sample)
        templates: dict[str, Any] = {}
        plans: list[tuple[list[Any], np.dtype[Any] | None, Any]] = []
        steps = dict(self._steps())
        for name, recorder in recorders.items():
            if recorder.columns is None:  # no columns selected: scikit-learn skips it
                continue
            transformer = copy.deepcopy(steps[name])
            columns = recorder.columns
            meta = X._meta[columns]
            dtype = None
            if _is_scaler(transformer):
                numeric = table_values(meta)
                if numeric.dtype.kind not in "biuf":
                    raise InputError(
                        f"ColumnTransformer step {name!r} ({type(transformer).__name__}) "
                        f"selects columns that are not numbers: {_text_columns(meta)}. Encode "
                        "them (daskpar.OneHotEncoder, OrdinalEncoder) in their own step."
                    )
                dtype = scaler_float_dtype(numeric.dtype)
                plan = transformer._fit_plan(dtype)
            else:
                plan = transformer._fit_plan(meta)
            templates[name] = transformer
            plans.append((columns, dtype, plan))
        return ColumnPlans(X._meta, sample, templates, plans)

    def _fitted_from(self, plans: ColumnPlans, attributes: Sequence[Any]) -> None:
        """Become fitted: the transformers from their merged states' ``attributes``, then
        scikit-learn's bookkeeping on the sample with them standing in."""
        fitted = {name: copy.deepcopy(t) for name, t in plans.templates.items()}
        for transformer, (columns, _, _), attrs in zip(
            fitted.values(), plans.plans, attributes, strict=True
        ):
            transformer._set_fitted(attrs, plans.meta[columns])
            _record_names(transformer, plans.meta[columns])
        stand_ins = {name: _Fitted(t) for name, t in fitted.items()}
        self._with_steps(dict(stand_ins), plans.sample)
        bookkept: list[tuple[str, Any, Any]] = self.transformers_  # type: ignore[has-type]
        self.transformers_ = [
            (name, t.fitted if isinstance(t, _Fitted) else t, cols) for name, t, cols in bookkept
        ]

    def _fit_dask(self, X: Any) -> tuple[int, ...]:
        """Fit on dask DataFrame ``X`` in one pass; the partitions' row counts it saw."""
        plans = self._column_plans(X)
        attributes: list[Any] = []
        if plans.plans:
            attributes, lengths = reduce_frame_partitions(
                _block_states,
                X,
                finalize=_attributes,
                stage="columns",
                split_every=self.split_every,
                task_kwargs={"plans": plans.plans},
                finalize_kwargs={"plans": plans.plans},
            )
        else:
            lengths = frame_lengths(X)
        self._fitted_from(plans, attributes)
        self._lengths = (tokenize(X), lengths)
        return lengths

    def fit(self, X: Any, y: Any = None, **params: Any) -> Self:
        """Fit every transformer on its columns; one pass over a dask DataFrame.

        Parameters
        ----------
        X : dask or pandas DataFrame, or array-like of shape (n_samples, n_features)
        y : None
            Ignored.
        **params : dict
            As in scikit-learn (metadata routing); in-memory input only.

        Returns
        -------
        self : ColumnTransformer
        """
        if not is_dask_table(X):
            return super().fit(X, y, **params)
        _refuse_params(params)
        with audit.operation("fit", estimator=self, X=X):
            self._fit_dask(X)
        return self

    def fit_transform(self, X: Any, y: Any = None, **params: Any) -> Any:
        """Fit, then transform ``X`` (lazily, for a dask DataFrame).

        Parameters
        ----------
        X : dask or pandas DataFrame, or array-like of shape (n_samples, n_features)
        y : None
            Ignored.
        **params : dict
            As in scikit-learn (metadata routing); in-memory input only.

        Returns
        -------
        X_t : dask array or DataFrame, ndarray or sparse matrix
            A lazy dask array (or dask DataFrame) for a dask DataFrame.
        """
        if not is_dask_table(X):
            return super().fit_transform(X, y, **params)
        self.fit(X, y, **params)
        return self.transform(X)

    # ----------------------------------------------------------------------------------------
    # transform

    def _in_memory(self) -> Any:
        """This fitted ColumnTransformer as the tasks use it (no dask-specific state)."""
        inner = copy.copy(self)
        inner.__dict__.pop("_lengths", None)
        return inner

    def transform(self, X: Any, **params: Any) -> Any:
        """Transform ``X`` by each transformer and stack the results.

        Parameters
        ----------
        X : dask or pandas DataFrame, or array-like of shape (n_samples, n_features)
            Columns are taken by name when the transformer was fitted on a table.
        **params : dict
            As in scikit-learn (metadata routing); in-memory input only.

        Returns
        -------
        X_t : dask array or DataFrame, ndarray or sparse matrix
            For a dask DataFrame, a lazy dask array with one block per partition, or a lazy
            dask DataFrame with ``set_output(transform="pandas")``.
        """
        if not is_dask_table(X):
            return super().transform(X, **params)
        _refuse_params(params)
        check_is_fitted(self)
        self._check_columns(X)
        inner = self._in_memory()
        if get_output_config("transform", self)["dense"] == "pandas":
            sparse = [
                name
                for name, est, _ in self.transformers_
                if getattr(est, "sparse_output", False) is True
            ]
            if sparse:
                # scikit-learn's refusal, raised by each task otherwise: here, before any.
                raise InputError(
                    f"Pandas output does not support sparse data: transformer {sparse[0]!r} has "
                    "sparse_output=True. Set sparse_output=False on it to output DataFrames, or "
                    'disable pandas output with set_output(transform="default").'
                )
            names = self.get_feature_names_out()
            meta = pd.DataFrame(
                {n: pd.Series(dtype=np.float64) for n in names}, index=X._meta.index[:0]
            )
            return X.map_partitions(_transform_partition, transformer=inner, dtype=None, meta=meta)
        saved = getattr(self, "_lengths", None)
        lengths = saved[1] if saved is not None and saved[0] == tokenize(X) else None
        return map_frame_partitions(
            partial(_transform_partition, dtype=np.float64),
            X,
            width=max((s.stop for s in self.output_indices_.values()), default=0),
            lengths=lengths or frame_lengths(X),
            stage="columns",
            token=tokenize(inner.transformers_),
            transformer=broadcast(inner, "columns"),
        )

    def _check_columns(self, X: Any) -> None:
        """scikit-learn's check that the fitted columns are all there, before any task."""
        fitted = getattr(self, "feature_names_in_", None)
        if fitted is None:
            raise InputError(
                "This ColumnTransformer was fitted on an array without column names; give "
                "transform an array too, or refit it on the DataFrame."
            )
        used = {
            str(c)
            for name, t, cols in self.transformers_
            if not (isinstance(t, str) and t == "drop")
            for c in fitted[column_transformer_input_indices(self)[name]]
        }
        missing = sorted(used - {str(c) for c in X._meta.columns})
        if missing:
            raise InputError(
                f"columns are missing: {missing}. The ColumnTransformer was fitted with "
                f"columns {list(fitted)}; pass a table that has them (by name, any order)."
            )


def _one_partition(
    part: pd.DataFrame, rows: slice, block_id: tuple[int, ...], **kwargs: Any
) -> tuple[Any]:
    """One partition's states, kept apart: a tuple that the tree concatenates."""
    return (_block_states(part, rows, block_id, **kwargs),)


def _concatenated(items: list[tuple[Any, ...]]) -> tuple[Any, ...]:
    """Neighbouring partitions' kept states, in partition order."""
    return tuple(state for item in items for state in item)


def _kept(states: tuple[Any, ...]) -> tuple[Any, ...]:
    return states


def fit_per_fold(
    transformer: ColumnTransformer,
    X: Any,
    train_blocks: Callable[[tuple[int, ...]], Sequence[frozenset[int]]],
) -> tuple[list[ColumnTransformer], tuple[int, ...]]:
    """``transformer`` fitted on the training partitions of each fold, from one pass.

    The pass keeps every partition's state (bounded per partition, as in ``fit``) and counts
    the partitions' rows; ``train_blocks(lengths)`` gives each fold's training partitions,
    whose states are merged on the client. The clones are returned in fold order, with the
    row counts.
    """
    # A clone: the bookkeeping sample fit would leave its stand-ins on the search's estimator.
    plans = clone(transformer)._column_plans(X)
    if plans.plans:
        states, lengths = reduce_frame_partitions(
            _one_partition,
            X,
            finalize=_kept,
            stage="columns",
            split_every=transformer.split_every,
            task_kwargs={"plans": plans.plans},
            combine=_concatenated,
        )
    else:
        states, lengths = (), frame_lengths(X)
    out = []
    for blocks in train_blocks(lengths):
        fold = clone(transformer)
        merged = combine_all([states[i] for i in sorted(blocks)]) if plans.plans else None
        attributes = _attributes(merged, plans=plans.plans) if merged is not None else []
        fold._fitted_from(plans, attributes)
        fold._lengths = (tokenize(X), lengths)
        out.append(fold)
    return out, lengths


def make_column_transformer(
    *transformers: Any,
    remainder: Any = "drop",
    sparse_threshold: float = 0.3,
    n_jobs: int | None = None,
    verbose: bool = False,
    verbose_feature_names_out: Any = True,
    split_every: int | None = None,
) -> ColumnTransformer:
    """:func:`sklearn.compose.make_column_transformer`, giving daskpar's ColumnTransformer."""
    made = compose.make_column_transformer(
        *transformers,
        remainder=remainder,
        sparse_threshold=sparse_threshold,
        n_jobs=n_jobs,
        verbose=verbose,
        verbose_feature_names_out=verbose_feature_names_out,
    )
    return ColumnTransformer(
        made.transformers,
        remainder=remainder,
        sparse_threshold=sparse_threshold,
        n_jobs=n_jobs,
        verbose=verbose,
        verbose_feature_names_out=verbose_feature_names_out,
        split_every=split_every,
    )


# --------------------------------------------------------------------------------------------
# helpers


def _refuse_params(params: dict[str, Any]) -> None:
    if params:
        raise InputError(
            f"ColumnTransformer takes no routed parameters for dask input (got {sorted(params)})."
        )


def _is_scaler(transformer: Any) -> bool:
    return isinstance(transformer, OutOfCoreScaler)


def _text_columns(meta: pd.DataFrame) -> str:
    return ", ".join(
        str(c)
        for c, t in meta.dtypes.items()
        if not (pd.api.types.is_numeric_dtype(t) or pd.api.types.is_bool_dtype(t))
    )


def _record_names(transformer: Any, meta: pd.DataFrame) -> None:
    """A transformer fitted from states knows its columns' names, as a pandas fit does."""
    if all(isinstance(c, str) for c in meta.columns):
        transformer.feature_names_in_ = np.asarray(meta.columns, dtype=object)
    transformer.n_features_in_ = meta.shape[1]
