"""Regression metrics: R², MSE and MAE from merged residual sums, out of core.

::

    blocks --metric_partition--> ResidualState --combine (tree)--> one state
        --finalize_metric--> the metric

Every regression metric reads a :class:`~daskpar.metrics._states.ResidualState` (weighted
moments of ``y_true`` and the residual sums) and shares the stage ``residuals``. The public
functions check their input on the client (:mod:`daskpar.metrics._checks`) and run one metric
through the tree (:mod:`daskpar.metrics._reduce`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
from sklearn.exceptions import UndefinedMetricWarning

from .._graph import SPLIT_EVERY
from .._sklearn_compat import validate_params
from ._base import MetricBase, Notes, check_finite_values, zero_weight_sum_error
from ._checks import prepare_inputs
from ._reduce import evaluate_metric
from ._states import ResidualState

__all__ = [
    "R2",
    "MeanAbsoluteError",
    "MeanSquaredError",
    "mean_absolute_error",
    "mean_squared_error",
    "r2_score",
]


class _ResidualMetric(MetricBase[float]):
    stage = "residuals"

    def _state(
        self, y_true: np.ndarray, y_pred: np.ndarray, w: np.ndarray, y_true_name: str
    ) -> ResidualState:
        check_finite_values(y_true, y_true_name)
        check_finite_values(y_pred, "y_pred")
        return ResidualState.of(y_true, y_pred, w)

    def _mean(self, total: float, s: ResidualState) -> float:
        if s.weight == 0.0:
            raise zero_weight_sum_error(self.name)
        return total / s.weight


@dataclass(frozen=True)
class R2(_ResidualMetric):
    """The coefficient of determination, with scikit-learn's conventions for constant targets."""

    function: ClassVar[str] = "r2_score"

    def _compute(self, s: ResidualState, notes: Notes) -> float:
        if s.n_samples < 2:
            message = "R^2 score is not well-defined with less than two samples."
            notes.warn(message, UndefinedMetricWarning)
            return math.nan
        if s.weight == 0.0:
            raise zero_weight_sum_error(self.name)
        # A constant target has SST = 0 exactly, though its rounded mean may leave m2 > 0.
        total = 0.0 if s.y_min >= s.y_max else s.m2
        if s.sse == 0.0:
            return 1.0
        return 0.0 if total == 0.0 else 1.0 - s.sse / total


@dataclass(frozen=True)
class MeanSquaredError(_ResidualMetric):
    """The (weighted) mean squared error, or its square root with ``root=True``."""

    root: bool = False
    function: ClassVar[str] = "mean_squared_error"

    @property
    def name(self) -> str:
        return "root_mean_squared_error" if self.root else "mean_squared_error"

    def _compute(self, s: ResidualState, notes: Notes) -> float:
        mse = self._mean(s.sse, s)
        return math.sqrt(mse) if self.root else mse


@dataclass(frozen=True)
class MeanAbsoluteError(_ResidualMetric):
    """The (weighted) mean absolute error."""

    function: ClassVar[str] = "mean_absolute_error"

    def _compute(self, s: ResidualState, notes: Notes) -> float:
        return self._mean(s.sae, s)


# --------------------------------------------------------------------------------------------
# Functions

#: The parameter constraints of every regression metric function.
_CONSTRAINTS: dict[str, list[Any]] = {"split_every": SPLIT_EVERY}


def _regression(
    metric: R2 | MeanSquaredError | MeanAbsoluteError,
    y_true: Any,
    y_pred: Any,
    sample_weight: Any,
    split_every: int | None,
) -> float:
    arrays = prepare_inputs(y_true, y_pred, sample_weight, true_kind="numbers", pred_kind="numbers")
    return float(evaluate_metric(metric, *arrays, split_every, stacklevel=5))


@validate_params(_CONSTRAINTS, prefer_skip_nested_validation=True)
def r2_score(
    y_true: Any, y_pred: Any, *, sample_weight: Any = None, split_every: int | None = None
) -> float:
    """R², the coefficient of determination, as scikit-learn's (``force_finite=True``).

    A constant ``y_true`` scores 1.0 for perfect predictions and 0.0 otherwise; fewer than two
    samples give NaN with an ``UndefinedMetricWarning``.

    Parameters
    ----------
    y_true, y_pred : dask or numpy arrays of shape (n_samples,)
        True and predicted targets, in equal row chunks (one target only).
    sample_weight : dask or numpy array of shape (n_samples,), optional
        Weights, in the same row chunks.
    split_every : int or None, default=None
        Fan-in of the tree that merges the partitions' sums; None uses dask's
        ``split_every`` setting if set, else 8.

    Returns
    -------
    score : float

    Examples
    --------
    >>> import dask.array as da
    >>> from daskpar.metrics import r2_score
    >>> y_true = da.from_array([3, -0.5, 2, 7], chunks=2)
    >>> y_pred = da.from_array([2.5, 0.0, 2, 8], chunks=2)
    >>> round(r2_score(y_true, y_pred), 4)
    0.9486
    """
    return _regression(R2(), y_true, y_pred, sample_weight, split_every)


@validate_params(_CONSTRAINTS, prefer_skip_nested_validation=True)
def mean_squared_error(
    y_true: Any, y_pred: Any, *, sample_weight: Any = None, split_every: int | None = None
) -> float:
    """The (weighted) mean squared error, as scikit-learn's.

    Parameters
    ----------
    y_true, y_pred : dask or numpy arrays of shape (n_samples,)
        True and predicted targets, in equal row chunks (one target only).
    sample_weight : dask or numpy array of shape (n_samples,), optional
        Weights, in the same row chunks.
    split_every : int or None, default=None
        Fan-in of the tree that merges the partitions' sums; None uses dask's
        ``split_every`` setting if set, else 8.

    Returns
    -------
    loss : float

    Examples
    --------
    >>> import dask.array as da
    >>> from daskpar.metrics import mean_squared_error
    >>> y_true = da.from_array([3, -0.5, 2, 7], chunks=2)
    >>> y_pred = da.from_array([2.5, 0.0, 2, 8], chunks=2)
    >>> round(mean_squared_error(y_true, y_pred), 4)
    0.375
    """
    return _regression(MeanSquaredError(), y_true, y_pred, sample_weight, split_every)


@validate_params(_CONSTRAINTS, prefer_skip_nested_validation=True)
def mean_absolute_error(
    y_true: Any, y_pred: Any, *, sample_weight: Any = None, split_every: int | None = None
) -> float:
    """The (weighted) mean absolute error, as scikit-learn's.

    Parameters
    ----------
    y_true, y_pred : dask or numpy arrays of shape (n_samples,)
        True and predicted targets, in equal row chunks (one target only).
    sample_weight : dask or numpy array of shape (n_samples,), optional
        Weights, in the same row chunks.
    split_every : int or None, default=None
        Fan-in of the tree that merges the partitions' sums; None uses dask's
        ``split_every`` setting if set, else 8.

    Returns
    -------
    loss : float

    Examples
    --------
    >>> import dask.array as da
    >>> from daskpar.metrics import mean_absolute_error
    >>> y_true = da.from_array([3, -0.5, 2, 7], chunks=2)
    >>> y_pred = da.from_array([2.5, 0.0, 2, 8], chunks=2)
    >>> round(mean_absolute_error(y_true, y_pred), 4)
    0.5
    """
    return _regression(MeanAbsoluteError(), y_true, y_pred, sample_weight, split_every)
