"""What the adaptive classifier and regressor share: the parameters, the checks, the passes.

:class:`BaseAdaptiveSGD` checks the parameters and the input, holds the model in the fitted
attributes (``coef_``, ``scale_``, ``squared_gradients_``...) and makes the passes of
:func:`daskpar._adaptive._kernel.train_pass` over the rows, stopping at ``tol`` as
scikit-learn's SGD does.
"""

from __future__ import annotations

import warnings
from numbers import Integral, Real
from typing import Any, ClassVar

import numpy as np
import scipy.sparse as sp
from dask import config
from dask.base import is_dask_collection
from sklearn import get_config
from sklearn.base import BaseEstimator
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils.validation import check_is_fitted, validate_data

from .._columns import is_table, match_feature_names
from .._saving import SaveMixin
from .._sklearn_compat import Interval, validate_estimator_params
from ..errors import InputError
from ._compiled import train_pass_compiled, train_pass_sparse_compiled
from ._kernel import Model, train_pass
from ._sparse import as_csr, train_pass_sparse

__all__ = ["BaseAdaptiveSGD", "adaptive_kernel", "nonzero_rows"]

#: The dask setting that picks the passes' kernel: "compiled" (numba, the default) or "numpy"
#: (the reference the compiled kernels are tested against, to float rounding). It is read
#: where the passes run: on a distributed cluster, set it in the workers' dask configuration
#: (e.g. the environment variable ``DASK_DASKPAR__ADAPTIVE_KERNEL=numpy``).
KERNEL_KEY = "daskpar.adaptive-kernel"
#: Its default.
DEFAULT_KERNEL = "compiled"
_KERNELS = ("compiled", "numpy")


def adaptive_kernel() -> str:
    """The kernel of the passes: the ``daskpar.adaptive-kernel`` setting."""
    kernel = config.get(KERNEL_KEY, DEFAULT_KERNEL)
    if kernel not in _KERNELS:
        raise ValueError(
            f"The dask setting {KERNEL_KEY!r} must be one of {', '.join(map(repr, _KERNELS))}. "
            f"Got {kernel!r} instead."
        )
    return str(kernel)


def _check_weights(sample_weight: Any, n_samples: int) -> np.ndarray | None:
    """``sample_weight`` as a float64 vector of ``n_samples`` finite, non-negative weights."""
    if sample_weight is None:
        return None
    w = np.asarray(sample_weight, dtype=np.float64)
    if w.ndim == 0:
        w = np.full(n_samples, float(w))
    if w.shape != (n_samples,):
        raise ValueError(f"sample_weight.shape == {w.shape}, expected ({n_samples},)!")
    if not np.isfinite(w).all():
        raise ValueError("sample_weight holds NaN or infinity; weights must be finite.")
    if (w < 0).any():
        raise ValueError("sample_weight holds negative values; weights must be non-negative.")
    return w


def nonzero_rows(X: Any, Y: np.ndarray, w: np.ndarray) -> tuple[Any, np.ndarray, np.ndarray]:
    """The rows of non-zero weight (all of them, uncopied, when none weighs zero): rows of
    weight zero teach nothing."""
    if bool(np.all(w > 0)):
        return X, Y, w
    keep = np.flatnonzero(w)
    return X[keep], Y[keep], w[keep]


def _scipy_sparse(X: Any) -> Any:
    """A pydata ``sparse`` array as scipy CSR (what the kernel reads); anything else as is."""
    if type(X).__module__.split(".")[0] == "sparse" and hasattr(X, "to_scipy_sparse"):
        return sp.csr_matrix(X.to_scipy_sparse())
    return X


class BaseAdaptiveSGD(SaveMixin, BaseEstimator):
    """What the classifier and the regressor share: the parameters, the passes, the model."""

    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "alpha": [Interval(Real, 0, None, closed="left")],
        "fit_intercept": ["boolean"],
        "learning_rate": [Interval(Real, 0, None, closed="neither")],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, None, None, closed="neither"), None],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
        "shuffle": ["boolean"],
        "random_state": ["random_state"],
    }

    loss: str
    alpha: float
    fit_intercept: bool
    learning_rate: float
    batch_size: int
    max_iter: int
    tol: float | None
    n_iter_no_change: int
    shuffle: bool
    random_state: Any

    # Set by the subclasses.
    _regression: ClassVar[bool]

    def _n_outputs(self) -> int:
        raise NotImplementedError

    def _internal_loss(self) -> str:
        return self.loss

    def _epsilon(self) -> float:
        return 0.0

    def _validate_params_unless_told(self) -> None:
        # ParallelIncremental checks once and then sets skip_parameter_validation, as
        # scikit-learn's own fit contexts do for nested calls.
        if not get_config()["skip_parameter_validation"]:
            validate_estimator_params(self)

    def _allocate(self, n_features: int, dtype: np.dtype[Any]) -> None:
        """A model that predicts zero, with nothing seen."""
        k = self._n_outputs()
        self.coef_ = np.zeros((k, n_features), dtype=dtype)
        self.intercept_ = np.zeros(k, dtype=dtype)
        self.scale_ = np.zeros(n_features, dtype=dtype)
        self.squared_gradients_ = np.zeros((k, n_features + 1), dtype=dtype)
        self.sum_weight_ = 0.0
        self.sum_norm_ = 0.0
        if self._regression:
            self.target_sums_ = np.zeros(2)
            self.coef_ = self.coef_.reshape(n_features)
        self.mean_ = np.zeros(n_features)

    def _run_passes(
        self,
        X: np.ndarray,
        Y: np.ndarray,
        w: np.ndarray,
        *,
        passes: int,
        rng: np.random.RandomState,
        tol: float | None = None,
    ) -> int:
        """Up to ``passes`` passes over the rows of non-zero weight, in mini-batches.

        Dense ``X`` goes through :func:`~daskpar._adaptive._compiled.train_pass_compiled`,
        CSR ``X`` through :func:`~daskpar._adaptive._compiled.train_pass_sparse_compiled`
        (uncentred, in O(nnz)); with the dask setting ``daskpar.adaptive-kernel`` at
        ``"numpy"``, through their numpy references,
        :func:`~daskpar._adaptive._kernel.train_pass` and
        :func:`~daskpar._adaptive._sparse.train_pass_sparse`.

        With ``tol``, stop once the mean training loss of ``n_iter_no_change`` passes in a
        row has not improved on the best by ``tol`` (scikit-learn's SGD rule). Returns the
        number of passes made.
        """
        X, Y, w = nonzero_rows(X, Y, w)
        sparse = sp.issparse(X)
        if sparse:
            X = as_csr(X)
        state = self._model(sparse=sparse)
        compiled = adaptive_kernel() == "compiled"
        dense_pass = train_pass_compiled if compiled else train_pass
        sparse_pass = train_pass_sparse_compiled if compiled else train_pass_sparse
        weight = float(w.sum(dtype=np.float64))
        best, no_change, done = np.inf, 0, 0
        while done < passes:
            options: dict[str, Any] = {
                "loss": self._internal_loss(),
                "alpha": float(self.alpha),
                "learning_rate": float(self.learning_rate),
                "epsilon": self._epsilon(),
                "batch_size": int(self.batch_size),
                "rng": rng if self.shuffle else None,
                "with_loss": tol is not None,
            }
            if sparse:
                total = sparse_pass(state, X, Y, w, intercept=bool(self.fit_intercept), **options)
            else:
                total = dense_pass(state, X, Y, w, **options)
            done += 1
            if tol is None or weight == 0.0:
                continue
            mean_loss = total / weight
            no_change = no_change + 1 if mean_loss > best - tol else 0
            best = min(best, mean_loss)
            if no_change >= self.n_iter_no_change:
                break
        self._set_model(state)
        if tol is not None and done == passes and no_change < self.n_iter_no_change:
            warnings.warn(
                f"{type(self).__name__} made max_iter={passes} passes without the training "
                f"loss settling within tol={tol}. Consider increasing max_iter to improve the "
                "fit.",
                ConvergenceWarning,
                stacklevel=4,
            )
        return done

    def _model(self, *, sparse: bool) -> Model:
        """The fitted arrays as the kernels' :class:`~daskpar._adaptive._kernel.Model`.

        Copies: the arrays of a model from an earlier epoch or a merge stay as they were.
        """
        return Model(
            self.coef_.reshape(self._n_outputs(), -1).copy(),
            self.intercept_.copy(),
            self.squared_gradients_.copy(),
            self.scale_.copy(),
            self.sum_weight_,
            self.sum_norm_,
            self.target_sums_.copy() if self._regression else None,
            self.mean_.copy() if self.fit_intercept and not sparse else None,
        )

    def _set_model(self, state: Model) -> None:
        """The fitted attributes from a kernel's :class:`~daskpar._adaptive._kernel.Model`."""
        self.coef_ = state.coef.reshape(self.coef_.shape)
        self.intercept_, self.squared_gradients_ = state.intercept, state.squared
        self.scale_ = state.scale
        self.sum_weight_, self.sum_norm_ = state.sum_weight, state.sum_norm
        if state.target_sums is not None:
            self.target_sums_ = state.target_sums
        if state.mean is not None:
            self.mean_ = state.mean

    def _start_partial_fit(
        self, X: Any, y: Any, classes: Any, sample_weight: Any
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """What ``partial_fit`` does before its pass: the checks, and on the first call the
        fitted attributes of a model that has seen nothing. Returns the checked input."""
        raise NotImplementedError

    def _targets(
        self, y: np.ndarray, sample_weight: np.ndarray | None
    ) -> tuple[np.ndarray, np.ndarray]:
        """The encoded target ``Y`` (rows, outputs) and the rows' weights, in the model's
        dtype, as the kernels take them."""
        raise NotImplementedError

    def _row_weights(self, y: np.ndarray, sample_weight: np.ndarray | None) -> np.ndarray:
        """Each row's weight in the loss, in the model's dtype."""
        dtype = self.coef_.dtype
        w = np.ones(y.shape[0], dtype=dtype) if sample_weight is None else sample_weight
        return np.asarray(w, dtype=dtype)

    def _fit(
        self, X: Any, y: Any, sample_weight: Any, *, partial: bool
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, bool]:
        """Checked parameters and input, and whether this call starts a new model."""
        self._validate_params_unless_told()
        self._refuse_dask(X, "partial_fit" if partial else "fit")
        first = not partial or not hasattr(self, "coef_")
        if not first and is_table(X):  # a later batch's columns, by name
            X = match_feature_names(self, X, reset=False)
        X, y = validate_data(
            self,
            _scipy_sparse(X),
            y,
            reset=first,
            accept_sparse="csr",
            dtype=[np.float64, np.float32] if first else self.coef_.dtype,
            y_numeric=self._regression,
        )
        sample_weight = _check_weights(sample_weight, X.shape[0])
        if not partial and sample_weight is not None and not sample_weight.any():
            raise ValueError("Sample weights must contain at least one non-zero number.")
        return X, y, sample_weight, first

    def _refuse_dask(self, X: Any, method: str) -> None:
        """Refuse a dask collection, which this in-memory learner would load whole."""
        if is_dask_collection(X):
            name = type(self).__name__
            raise InputError(
                f"{name}.{method} works in memory and would load the whole dask "
                f"{type(X).__name__} into this process. For dask input, wrap it: "
                f"daskpar.ParallelIncremental({name}(...)) trains on the workers, and its "
                "predictions are lazy."
            )

    def _linear(self, X: Any) -> np.ndarray:
        """``X @ coef_.T + intercept_``, one column per output, in the dtype of ``X``.

        A copy made by :func:`daskpar._adaptive._stacked.scored_together` answers for the
        ``X`` it was given from the scores worked out there, for several models at once.
        """
        known = self.__dict__.get("_known_scores")
        if known is not None and known[0] is X:
            scores_of_X: np.ndarray = known[1]
            return scores_of_X
        return self._scores(self._checked_rows(X))

    def _scores(self, X: Any) -> np.ndarray:
        """:meth:`_linear` of rows already checked (:meth:`_checked_rows`)."""
        coef = self.coef_.reshape(self._n_outputs(), -1)
        # CSR times a dense matrix: O(nnz * outputs), a dense (rows, outputs) result.
        scores: np.ndarray = np.asarray(X @ coef.T.astype(X.dtype, copy=False))
        if self.fit_intercept:
            scores += self.intercept_.astype(X.dtype, copy=False)
        return scores

    def _checked_rows(self, X: Any) -> Any:
        """``X`` checked as the predictions take it: the fitted features, a float dtype."""
        check_is_fitted(self, "coef_")
        self._refuse_dask(X, "predict")
        if is_table(X):  # its columns by name, in the fitted order
            X = match_feature_names(self, X, reset=False)
        return validate_data(
            self,
            _scipy_sparse(X),
            reset=False,
            accept_sparse="csr",
            dtype=[np.float64, np.float32],
        )

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        tags.input_tags.allow_nan = False
        return tags
