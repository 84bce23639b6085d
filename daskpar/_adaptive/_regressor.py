"""The adaptive learner's regressor: the target as one output, with ``squared_error`` or
``huber`` loss; the step also follows the target's running standard deviation (in the
kernel)."""

from __future__ import annotations

from numbers import Real
from typing import Any, ClassVar

import numpy as np
from sklearn.base import RegressorMixin
from sklearn.utils import check_random_state

from .._sklearn_compat import Interval, StrOptions
from ._base import BaseAdaptiveSGD
from ._kernel import REGRESSOR_LOSSES

__all__ = ["AdaptiveSGDRegressor"]


class AdaptiveSGDRegressor(RegressorMixin, BaseAdaptiveSGD):
    """Linear regressor trained by vectorized mini-batches with normalized adaptive steps.

    Vowpal Wabbit's default update (normalized AdaGrad, see :mod:`daskpar._adaptive._kernel`) in
    the dtype of ``X``: float32 data train a float32 model without a float64 copy. Features
    need no scaling; the step also follows the running standard deviation of the target, and
    the intercept starts at the first mini-batch's mean target, so targets in any units
    train alike.

    Sparse input trains in O(nnz) per mini-batch, the rows uncentred and the intercept
    Vowpal Wabbit's constant feature; with ``alpha=0`` that is the dense path's model of the
    same rows without centring, to float rounding (:mod:`daskpar._adaptive._sparse`).

    Train it in parallel on a dask array with ``daskpar.ParallelIncremental``.

    Parameters
    ----------
    loss : {"squared_error", "huber"}, default="squared_error"
        Least squares, or Huber's loss (quadratic for residuals up to ``epsilon``).
    alpha : float, default=1e-6
        L2 penalty on the weights of the normalized features, ``coef_ * scale_``, so that it
        does not depend on the features' units: the objective is the weighted mean loss plus
        ``alpha / 2 * ||coef_ * scale_||^2``. The intercept is not penalized.
    fit_intercept : bool, default=True
        Whether to learn an intercept.
    learning_rate : float, default=0.5
        The base step of the normalized adaptive update.
    batch_size : int, default=1024
        Rows per mini-batch; fewer when a pass would otherwise make fewer than 16 batches
        (a small block still takes 16 steps).
    max_iter : int, default=1000
        The most passes over the data :meth:`fit` makes (``partial_fit`` makes one).
    tol : float or None, default=1e-3
        :meth:`fit` stops when the mean training loss of ``n_iter_no_change`` passes in a
        row is above the best one less ``tol``, as scikit-learn's ``SGDClassifier`` does;
        None makes all ``max_iter`` passes.
    n_iter_no_change : int, default=5
        Passes without improvement before :meth:`fit` stops.
    shuffle : bool, default=True
        Draw the order of the mini-batches of every pass from ``random_state``.
    random_state : int, RandomState instance or None, default=None
        Seeds the order of the mini-batches; an int gives the same order in every
        ``partial_fit`` call and the same model bits on every run.
    epsilon : float, default=0.1
        Where the ``huber`` loss turns linear, in the units of the target.

    Attributes
    ----------
    coef_ : ndarray of shape (n_features,)
        Weights, in the dtype of the training data (float32 or float64).
    intercept_ : ndarray of shape (1,)
        Intercept.
    scale_ : ndarray of shape (n_features,)
        The largest ``|x - mean_|`` of each feature seen, with the mean of the time (0 for a
        feature that never varied).
    mean_ : ndarray of shape (n_features,)
        The weighted mean of the dense rows seen, on which they are centred while training
        (zeros with ``fit_intercept=False``, which trains on the rows as they are). Sparse
        rows are trained as they are, and leave ``mean_`` as it was: centring them would
        make them dense (see :mod:`daskpar._adaptive._sparse`).
    squared_gradients_ : ndarray of shape (1, n_features + 1)
        AdaGrad's sums of the rows' squared gradients, the intercept's in the last column.
    sum_weight_ : float
        The total sample weight seen (Vowpal Wabbit's ``t``).
    sum_norm_ : float
        The weighted sum of the squared norms of the normalized rows, plus one per row for
        the intercept (Vowpal Wabbit's ``N``).
    target_sums_ : ndarray of shape (2,)
        The weighted sums of the target and of its square, for its standard deviation.
    n_iter_ : int
        Passes over the data :meth:`fit` made; one more with each ``partial_fit``.
    n_features_in_ : int
        Number of features seen during fit.

    Examples
    --------
    >>> import numpy as np
    >>> from daskpar import AdaptiveSGDRegressor
    >>> rng = np.random.default_rng(0)
    >>> X = (rng.normal(size=(2000, 3)) * [1e-3, 1.0, 1e3]).astype(np.float32)
    >>> y = 1e3 * X[:, 0] + 2.0 * X[:, 1] - 1e-3 * X[:, 2] + 10.0
    >>> reg = AdaptiveSGDRegressor(random_state=0).fit(X, y)
    >>> reg.coef_.dtype
    dtype('float32')
    >>> bool(reg.score(X, y) > 0.99)
    True
    """

    # Model files name this class by its module, daskpar._adaptive (persist.trusted_types):
    # that name is part of the file format, so it stays the package's, not this file's.
    __module__ = "daskpar._adaptive"

    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        **BaseAdaptiveSGD._parameter_constraints,
        "loss": [StrOptions(set(REGRESSOR_LOSSES))],
        "epsilon": [Interval(Real, 0, None, closed="left")],
    }
    _regression = True

    def __init__(
        self,
        loss: str = "squared_error",
        *,
        alpha: float = 1e-6,
        fit_intercept: bool = True,
        learning_rate: float = 0.5,
        batch_size: int = 1024,
        max_iter: int = 1000,
        tol: float | None = 1e-3,
        n_iter_no_change: int = 5,
        shuffle: bool = True,
        random_state: Any = None,
        epsilon: float = 0.1,
    ) -> None:
        self.loss = loss
        self.alpha = alpha
        self.fit_intercept = fit_intercept
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.max_iter = max_iter
        self.tol = tol
        self.n_iter_no_change = n_iter_no_change
        self.shuffle = shuffle
        self.random_state = random_state
        self.epsilon = epsilon

    def _n_outputs(self) -> int:
        return 1

    def _epsilon(self) -> float:
        return float(self.epsilon)

    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> AdaptiveSGDRegressor:
        """Fit the model from scratch: passes over ``X``, ``y`` until ``tol`` or ``max_iter``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training data; float32 stays float32. Sparse input (CSR, or CSC, COO and pydata
            ``sparse`` arrays, converted to CSR) trains in O(nnz), uncentred.
        y : array-like of shape (n_samples,)
            Targets.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weight of each sample; rows of weight zero are left out.

        Returns
        -------
        self : AdaptiveSGDRegressor
            The fitted regressor.
        """
        X, y, sample_weight, _ = self._fit(X, y, sample_weight, partial=False)
        self._allocate(X.shape[1], X.dtype)
        self.n_iter_ = self._train(X, y, sample_weight, passes=int(self.max_iter), tol=self.tol)
        return self

    def partial_fit(self, X: Any, y: Any, sample_weight: Any = None) -> AdaptiveSGDRegressor:
        """One pass over ``X``, ``y``, going on from the current model.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Data, dense or sparse (trained in O(nnz), uncentred); the first call fixes the
            model's dtype (float32 or float64).
        y : array-like of shape (n_samples,)
            Targets.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weight of each sample; rows of weight zero are left out.

        Returns
        -------
        self : AdaptiveSGDRegressor
            The updated regressor.
        """
        X, y, sample_weight = self._start_partial_fit(X, y, None, sample_weight)
        self._train(X, y, sample_weight, passes=1)
        self.n_iter_ += 1
        return self

    def _start_partial_fit(
        self, X: Any, y: Any, classes: Any, sample_weight: Any
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        X, y, sample_weight, first = self._fit(X, y, sample_weight, partial=True)
        if first:
            self._allocate(X.shape[1], X.dtype)
            self.n_iter_ = 0
        return X, y, sample_weight

    def _train(
        self,
        X: np.ndarray,
        y: np.ndarray,
        sample_weight: np.ndarray | None,
        *,
        passes: int,
        tol: float | None = None,
    ) -> int:
        Y, w = self._targets(y, sample_weight)
        rng = check_random_state(self.random_state)
        return self._run_passes(X, Y, w, passes=passes, rng=rng, tol=tol)

    def _targets(
        self, y: np.ndarray, sample_weight: np.ndarray | None
    ) -> tuple[np.ndarray, np.ndarray]:
        return np.asarray(y, dtype=self.coef_.dtype)[:, None], self._row_weights(y, sample_weight)

    def predict(self, X: Any) -> np.ndarray:
        """The predicted target of each row.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples,)
        """
        out: np.ndarray = self._linear(X)[:, 0]
        return out
