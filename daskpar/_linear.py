"""Exact one-pass linear least squares: ``LinearRegression`` and ``Ridge``.

One task per partition computes the weight, the mean and the triangular QR factor of the
centred ``[X, y]`` (whose square is the co-moment matrix); the tree merges them exactly (Chan's
pairwise update in factored form, so centring needs no second pass), and the root solves the
triangular system::

    blocks --least_squares_partition--> LeastSquaresState --combine--> one state --solve--> coef_

Keeping the factor instead of forming ``X^T X`` loses digits with the condition number of X, as
``lstsq`` does, not with its square, as the normal equations do. The ``(d + 1) x (d + 1)``
factor is the only thing that travels; only the coefficients reach the client.
"""

from __future__ import annotations

from functools import partial
from numbers import Real
from typing import Any, ClassVar, Self

import dask.array as da
import numpy as np
from dask.base import tokenize
from scipy import linalg
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.utils.validation import check_is_fitted, validate_data

from . import audit, metrics
from ._columns import column_names, frame_predictions, is_dask_table, match_feature_names
from ._graph import SPLIT_EVERY, reduce_partitions, stage_name
from ._saving import SaveMixin
from ._sklearn_compat import Interval, validate_estimator_params
from ._states import LeastSquaresState, r_factor
from ._validation import (
    check_aligned_rows,
    check_finite_block,
    check_sample_weight,
    check_sparse_support,
    check_weights_block,
    check_X,
    check_X_y,
    refuse_text,
)
from .errors import InputError

__all__ = ["LinearRegression", "Ridge"]


# --------------------------------------------------------------------------------------------
# Task bodies: one block's state, and the solve at the root


def least_squares_partition(
    X: np.ndarray,
    y: np.ndarray,
    sample_weight: np.ndarray | None,
    rows: tuple[slice, ...],
    block_id: tuple[int, ...],
) -> LeastSquaresState | None:
    """The weight, mean and centred R factor of ``[X, y]`` on one block."""
    rows_, block = rows[0], block_id[0]
    check_aligned_rows(X, rows_, block, y=y, sample_weight=sample_weight)
    if X.shape[0] == 0:
        return None
    check_finite_block(X, "X", rows_, block)
    check_finite_block(y, "y", rows_, block)
    if sample_weight is not None:
        check_weights_block(sample_weight, rows_, block)
    return LeastSquaresState.of(X, y, sample_weight)


def _check_full_rank(
    r_xx: np.ndarray, *, tol: float, centred: bool, weight: float, mean: np.ndarray
) -> int:
    """X's rank from its triangular factor, decided on unit-norm columns, so unit-free.

    The columns of ``r_xx`` have the norms of X's (centred, weighted) columns: dividing by them
    gives the factor of X with every feature rescaled to norm one, whose singular values do not
    change when a feature is measured in other units. Raises an :class:`InputError` naming the
    constant and the collinear features when the rank is below the number of features.
    """
    d = r_xx.shape[1]
    norms = np.linalg.norm(r_xx, axis=0)
    # A centred constant column is zero up to the rounding of its mean (a standard deviation
    # of about 1e-16 of the value); rescaled to unit norm, that noise would look like a
    # feature. So a spread below 1e-10 of the column's mean counts as none.
    spread = norms / np.sqrt(weight)
    constant = np.flatnonzero(spread <= (1e-10 * np.abs(mean) if centred else 0.0))
    scaled = r_xx / np.where(norms > 0.0, norms, 1.0)
    scaled[:, constant] = 0.0
    _, singular, vt = linalg.svd(scaled)
    rank = int(np.sum(singular > tol * singular[0])) if singular[0] > 0 else 0
    if rank == d:
        return rank
    problems = []
    if len(constant):
        kind = "constant" if centred else "all zero"
        problems.append(f"feature(s) {_columns(constant)} are {kind}")
    # The null space of the scaled factor: the combinations of columns that vanish.
    null = vt[rank:]
    involved = np.flatnonzero((np.abs(null) > 1e-3).any(axis=0))
    collinear = np.setdiff1d(involved, constant)
    if len(collinear):
        problems.append(
            f"feature(s) {_columns(collinear)} are (nearly) linear combinations of each other"
        )
    centring = " after centring" if centred else ""
    raise InputError(
        f"X has {d} features but rank {rank}{centring}, with every feature scaled to unit "
        f"norm (singular values below {tol:g} times the largest count as zero): "
        f"{'; '.join(problems)} (0-based column indices). Least squares has no unique "
        "solution: drop those features, or use daskpar.Ridge with alpha > 0."
    )


def _columns(index: np.ndarray, limit: int = 10) -> str:
    shown = ", ".join(str(int(i)) for i in index[:limit])
    return f"[{shown}{', ...' if len(index) > limit else ''}]"


def solve_least_squares(
    state: LeastSquaresState | None, *, alpha: float, fit_intercept: bool, tol: float
) -> dict[str, Any]:
    """Coefficients minimising ``sum w (y - X b - c)^2 + alpha |b|^2`` from the merged factor.

    Returns ``coef``, ``intercept``, ``rank`` and ``singular`` (the singular values of the
    centred, weight-scaled X; only computed when ``alpha == 0``). Raises an :class:`InputError`
    when ``alpha == 0`` and X's rank is below its number of features, to the tolerance ``tol``
    on singular values that scikit-learn's LinearRegression gives ``lstsq``.
    """
    if state is None:
        raise InputError("Every partition of the training data is empty; there is nothing to fit.")
    if state.weight == 0.0:
        raise InputError("The sample weights sum to zero: there is nothing to fit.")
    d = state.mean.shape[0] - 1
    r = state.r
    x_mean, y_mean = state.mean[:d], state.mean[d]
    if not fit_intercept:
        # Undo the centring: R^T R + w m m^T is the raw [X, y]^T W [X, y].
        r = r_factor(np.vstack([r, np.sqrt(state.weight) * state.mean]))
    if alpha > 0.0:
        # Ridge is least squares on X stacked over sqrt(alpha) I, with zeros for y.
        penalty = np.hstack([np.sqrt(alpha) * np.eye(d), np.zeros((d, 1))])
        r = r_factor(np.vstack([r, penalty]))
    if r.shape[0] < d:
        r = np.vstack([r, np.zeros((d - r.shape[0], d + 1))])
    r_xx, r_xy = r[:d, :d], r[:d, d]
    out: dict[str, Any] = {"rank": d, "singular": None}
    if alpha == 0.0:
        out["rank"] = _check_full_rank(
            r_xx, tol=tol, centred=fit_intercept, weight=state.weight, mean=x_mean
        )
        out["singular"] = linalg.svdvals(r_xx)
    coef = linalg.solve_triangular(r_xx, r_xy)
    out["coef"] = coef
    out["intercept"] = float(y_mean - x_mean @ coef) if fit_intercept else 0.0
    return out


def _linear_predict_block(X: np.ndarray, *, coef: np.ndarray, intercept: float) -> np.ndarray:
    return X @ coef + intercept


class _LeastSquares(SaveMixin, RegressorMixin, BaseEstimator):
    """Shared fit / predict of the exact least-squares models."""

    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "fit_intercept": ["boolean"],
        "split_every": SPLIT_EVERY,
    }

    fit_intercept: bool
    split_every: int | None

    def _alpha(self) -> float:
        raise NotImplementedError

    def _tol(self) -> float:
        return 0.0

    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> Self:
        """Fit from the tree-merged factor of the centred ``[X, y]``, in one pass over the data.

        Parameters
        ----------
        X : dask array of shape (n_samples, n_features), or array-like
            Partitioned along rows only, with known chunk sizes.
        y : dask array of shape (n_samples,), or array-like
            Row chunks equal to ``X``'s.
        sample_weight : dask array or array-like of shape (n_samples,), default=None
            Non-negative weight of each sample, with ``X``'s row chunks if a dask array.

        Returns
        -------
        self : object
            The fitted estimator.
        """
        with audit.operation("fit", estimator=self, X=X, y=y):
            validate_estimator_params(self)
            X, y = check_X_y(X, y, y_numeric=True, estimator=self, reset=True)
            check_sparse_support(self, X)
            self._check_n_samples(X)
            sample_weight = check_sample_weight(sample_weight, X)
            solution = reduce_partitions(
                least_squares_partition,
                X,
                y,
                sample_weight,
                finalize=solve_least_squares,
                stage="lstsq",
                split_every=self.split_every,
                finalize_kwargs={
                    "alpha": self._alpha(),
                    "fit_intercept": self.fit_intercept,
                    "tol": self._tol(),
                },
            )
            # Keep scikit-learn's dtype rule: float32 features give float32 coefficients.
            dtype = X.dtype if X.dtype == np.float32 else np.float64
            self.coef_ = solution["coef"].astype(dtype, copy=False)
            self.intercept_ = solution["intercept"]
            self.n_features_in_ = int(X.shape[1])
            self._set_solution(solution)
            return self

    def _set_solution(self, solution: dict[str, Any]) -> None:
        """Fitted attributes beyond ``coef_`` and ``intercept_`` (from the root task)."""

    def _check_n_samples(self, X: da.Array) -> None:
        """Least squares without a penalty needs at least as many samples as unknowns."""

    def predict(self, X: Any) -> Any:
        """``X @ coef_ + intercept_``: a lazy dask array for dask input, else numpy."""
        check_is_fitted(self)
        X = match_feature_names(self, X, reset=False)
        if is_dask_table(X) and column_names(X) is not None:
            return frame_predictions(
                X,
                partial(_linear_predict_block, coef=self.coef_, intercept=self.intercept_),
                n_features=self.n_features_in_,
                name=f"{stage_name('predict')}-{tokenize(self.coef_, self.intercept_, X)}",
            )
        if isinstance(X, da.Array) or is_dask_table(X):
            X = check_X(X, n_features=self.n_features_in_)
            dtype = np.result_type(X.dtype, self.coef_.dtype)
            return X.map_blocks(
                _linear_predict_block,
                coef=self.coef_,
                intercept=self.intercept_,
                drop_axis=1,
                dtype=dtype,
                meta=np.empty((0,), dtype=dtype),
                name=f"{stage_name('predict')}-{tokenize(self.coef_, self.intercept_, X)}",
            )
        refuse_text(X, "X")
        X = validate_data(self, X, reset=False)
        return _linear_predict_block(X, coef=self.coef_, intercept=self.intercept_)

    def score(self, X: Any, y: Any, sample_weight: Any = None) -> float:
        """R² of the predictions, reduced on the workers for dask input."""
        X = match_feature_names(self, X, reset=False)
        if not any(isinstance(a, da.Array) or is_dask_table(a) for a in (X, y)):
            refuse_text(X, "X")
            return float(super().score(X, y, sample_weight=sample_weight))
        X, y = check_X_y(X, y, n_features=self.n_features_in_, y_numeric=True)
        return metrics.score(
            self, X, y, "r2", sample_weight=sample_weight, split_every=self.split_every
        )

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = False
        tags.input_tags.allow_nan = False
        return tags


class LinearRegression(_LeastSquares):
    """Ordinary least squares, fitted exactly in one pass over partitioned data.

    Each partition contributes the weight, means and the triangular QR factor of the centred
    ``[X, y]``; these merge exactly through a tree of fan-in ``split_every`` (Chan's pairwise
    update in factored form), and the root solves the triangular system. The result
    equals scikit-learn's ``LinearRegression`` on the same data to float rounding, whatever the
    partitioning. The ``(n_features + 1)^2`` matrix lives on the workers; only the coefficients
    reach the client.

    Unlike scikit-learn, a rank-deficient X (constant or collinear features) is an error rather
    than a minimum-norm solution: the data cannot tell the solutions apart, and a
    silent arbitrary answer is worse than a clear message. Use :class:`Ridge` there.

    Parameters
    ----------
    fit_intercept : bool, default=True
        Fit an intercept (by centring with the merged means).
    tol : float, default=1e-6
        Singular values of the centred X, with every feature scaled to unit norm, below
        ``tol`` times the largest count as zero; a rank below ``n_features`` is an error
        that names the constant and the collinear features. Scaling first makes the rank
        independent of the features' units (scikit-learn's ``lstsq`` cut works on unscaled
        X, and can zero the coefficient of a feature measured in small units).
    split_every : int or None, default=None
        Fan-in of the tree that merges the partition statistics; None uses dask's
        ``split_every`` setting if set, else 8.

    Attributes
    ----------
    coef_ : ndarray of shape (n_features,)
    intercept_ : float
    rank_ : int
        Rank of the centred X.
    singular_ : ndarray of shape (n_features,)
        Singular values of the centred (weight-scaled) X, from the merged R
        factor's triangle.
    n_features_in_ : int

    Examples
    --------
    >>> import daskpar as dp
    >>> X, y = dp.make_regression(n_samples=1000, n_features=3, noise=0.0, chunks=250,
    ...                           random_state=0)
    >>> model = dp.LinearRegression().fit(X, y)
    >>> round(model.score(X, y), 6)
    1.0
    """

    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        **_LeastSquares._parameter_constraints,
        "tol": [Interval(Real, 0, None, closed="left")],
    }

    def __init__(
        self, *, fit_intercept: bool = True, tol: float = 1e-6, split_every: int | None = None
    ):
        self.fit_intercept = fit_intercept
        self.tol = tol
        self.split_every = split_every

    def _alpha(self) -> float:
        return 0.0

    def _check_n_samples(self, X: da.Array) -> None:
        unknowns = X.shape[1] + int(self.fit_intercept)
        if X.shape[0] < unknowns:
            raise InputError(
                f"X has n_samples = {X.shape[0]}, but LinearRegression needs at least as many "
                f"samples as unknowns ({X.shape[1]} coefficients"
                f"{' and an intercept' if self.fit_intercept else ''}), so the least-squares "
                "solution is not unique. Use daskpar.Ridge with alpha > 0, or more samples."
            )

    def _tol(self) -> float:
        return float(self.tol)

    def _set_solution(self, solution: dict[str, Any]) -> None:
        self.rank_ = solution["rank"]
        self.singular_ = solution["singular"]


class Ridge(_LeastSquares):
    """Least squares with an L2 penalty, fitted exactly in one pass over partitioned data.

    Minimises ``sum_i w_i (y_i - x_i b - c)^2 + alpha |b|^2`` from the tree-merged QR factor
    of the centred ``[X, y]`` (as least squares on X stacked over ``sqrt(alpha) I``); equal to
    scikit-learn's
    ``Ridge`` on the same data to float rounding. The intercept is not penalised.

    Parameters
    ----------
    alpha : float, default=1.0
        Strength of the L2 penalty; 0 gives ordinary least squares (see
        :class:`LinearRegression`).
    fit_intercept : bool, default=True
        Fit an intercept (by centring with the merged means).
    split_every : int or None, default=None
        Fan-in of the tree that merges the partition statistics; None uses dask's
        ``split_every`` setting if set, else 8.

    Attributes
    ----------
    coef_ : ndarray of shape (n_features,)
    intercept_ : float
    n_features_in_ : int

    Examples
    --------
    >>> import daskpar as dp
    >>> X, y = dp.make_regression(n_samples=1000, n_features=3, chunks=250, random_state=0)
    >>> dp.Ridge(alpha=10.0).fit(X, y).coef_.shape
    (3,)
    """

    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        **_LeastSquares._parameter_constraints,
        "alpha": [Interval(Real, 0, None, closed="left")],
    }

    def __init__(
        self, alpha: float = 1.0, *, fit_intercept: bool = True, split_every: int | None = None
    ):
        self.alpha = alpha
        self.fit_intercept = fit_intercept
        self.split_every = split_every

    def _alpha(self) -> float:
        return float(self.alpha)
