"""daskpar's own linear learner: vectorized float32 mini-batches with normalized adaptive steps.

scikit-learn's ``SGDClassifier.partial_fit`` updates the model one sample at a time in a
compiled loop, about eight times the cost of a matrix-vector product over the same rows, and
needs standardized features. The learners here take the rows ``batch_size`` at a time, with
four BLAS products per mini-batch, in the dtype of ``X`` (float32 stays float32, with no
float64 copy), and give every coordinate a step of its own scale, so that features in any
units, with any offsets, need no scaler.

The update is Vowpal Wabbit's default (``--adaptive --normalized``): the normalized adaptive
gradient (NAG) of Ross, Mineiro and Langford, "Normalized Online Learning" (UAI 2013), which is
AdaGrad (Duchi, Hazan and Singer, JMLR 2011) with a per-feature scale. For each mini-batch of
rows ``x_j`` with weights ``w_j`` (sample weight times class weight), centred on the running
mean ``m`` of the features (below), and the loss's derivative ``r_j`` in the prediction:

1. **scale**: ``s_i = max |x_i - m_i|`` over every row seen (``scale_``). When a batch raises
   ``s_i``, the weight is multiplied by ``s_old / s_new``, as VW does, so that the weight of
   the normalized feature ``(x_i - m_i) / s_i`` stays what it was;
2. **normalizer**: ``t += sum_j w_j`` and ``N += sum_j w_j (||(x_j - m) / s||^2 + 1)`` (the
   ``1`` is the intercept's constant feature): ``N / t`` is the mean squared norm of a
   normalized row (``sum_weight_``, ``sum_norm_``);
3. **gradient**: ``g_i = sum_j w_j r_j (x_ji - m_i) + alpha sum_j w_j s_i^2 coef_i``, the L2
   penalty on the normalized weights ``s_i coef_i`` (on unscaled features a penalty on the raw
   weights would silence the features measured in small units);
4. **AdaGrad**: ``G_i += sum_j (w_j r_j (x_ji - m_i))^2``, the squares of the *rows'*
   gradients, as VW's per-example updates accumulate them, so that the step does not depend
   on the batch size (``squared_gradients_``); the step is ``learning_rate sqrt(t / N) g_i /
   (s_i sqrt(G_i))``, and the intercept's the same with ``s = 1``;
5. **safe step**: every row of the batch moves by one step computed from the same weights. The
   loss's curvature along it gives the step at which the batch's own loss stops falling; where
   that is less than the full step, it is taken instead (a one-dimensional Newton step capped
   at 1): the mini-batch counterpart of VW's importance-aware updates, which keep an example
   from overshooting its label. (``hinge`` has no curvature and always takes full steps.)

Two additions to VW's rule. **Centring**: the features are centred on their running weighted
mean (``mean_``), the intercept re-expressed so that moving the centre leaves every prediction
as it was; ``coef_`` and ``intercept_`` are those of the plain ``X @ coef_.T + intercept_``.
A diagonal step cannot undo the coupling of an intercept with features whose offset is large
against their spread; with centring the learner does not depend on offsets at all. **Target
scale**: the regressors multiply the step by the running standard deviation of the target and
start the intercept at the first mini-batch's mean target (AdaGrad's steps do not grow with
the gradient, so a target in large units would otherwise take many epochs to reach).

Classes: binary problems have one output (``coef_`` of shape ``(1, n_features)``, as
scikit-learn's linear classifiers). With more classes, ``log_loss`` is the **multinomial**
(softmax) model, whose ``predict_proba`` is a proper distribution (scikit-learn's
``SGDClassifier`` is one-vs-rest for every loss); ``hinge`` and ``modified_huber`` are
**one-vs-rest**: one output per class, updated side by side in the same matrix products.

Mini-batches: the block's rows are cut into runs of consecutive rows, and each batch takes
runs from all over the block (see :func:`_batches`), so that sorted rows still give mixed
batches while the reads stay sequential; with ``shuffle`` the order of the batches is drawn
from ``random_state``. Rows of weight zero are dropped before the batches are cut: they change
nothing, not even ``scale_``. ``fit`` makes passes until the training loss settles (``tol``,
as scikit-learn's SGD); ``partial_fit`` makes one.

The mergeable state (:class:`AdaptiveState`) that ``ParallelIncremental`` reduces over the
partitions is defined here too; the family that builds and finalizes it is
``daskpar._families.AdaptiveFamily``.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from numbers import Integral, Real
from typing import Any, ClassVar

import numpy as np
from scipy.special import expit
from sklearn import get_config
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state
from sklearn.utils.class_weight import compute_class_weight
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from ._saving import SaveMixin
from ._sklearn_compat import Interval, StrOptions, validate_estimator_params
from ._states import SumState

__all__ = ["AdaptiveSGDClassifier", "AdaptiveSGDRegressor", "AdaptiveState"]


# --------------------------------------------------------------------------------------------
# The mergeable state


@dataclass(frozen=True, eq=False)
class AdaptiveState:
    """One partition's adaptive learner: weighted sums, and the largest ``|x|`` of each feature.

    ``sums`` holds what averages or adds across partitions (see
    ``daskpar._families.AdaptiveFamily``); ``scale`` is the per-feature maximum of ``|x|``,
    which merges exactly, by maximum.
    """

    sums: SumState
    scale: np.ndarray  # (n_features,)

    def combine(self, other: AdaptiveState, /) -> AdaptiveState:
        return AdaptiveState(self.sums.combine(other.sums), np.fmax(self.scale, other.scale))


# --------------------------------------------------------------------------------------------
# Losses, for a mini-batch: the derivative in the prediction of every row and output; the
# weighted sum of the rows' losses (given weights ``w``; 0.0 for None); and the curvature: for
# a change ``dP`` of the predictions, each row's ``dP^T H dP`` (H, the loss's Hessian in p)


Loss = tuple[np.ndarray, float, Callable[[np.ndarray], np.ndarray]]


def _diagonal(h: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
    """The curvature of a loss whose Hessian is diagonal, ``h`` per row and output."""

    def curvature(dP: np.ndarray) -> np.ndarray:
        out: np.ndarray = (h * dP * dP).sum(axis=1)
        return out

    return curvature


def _log_loss_binary(p: np.ndarray, y: np.ndarray, w: np.ndarray | None, epsilon: float) -> Loss:
    """``sigmoid(p) - y`` for ``y`` in {0, 1}; the loss ``log(1 + e^p) - y p``."""
    loss = 0.0 if w is None else float(w @ (np.logaddexp(0.0, p) - y * p)[:, 0])
    s = expit(p)
    return s - y, loss, _diagonal(s * (1.0 - s))


def _log_loss_multinomial(
    p: np.ndarray, y: np.ndarray, w: np.ndarray | None, epsilon: float
) -> Loss:
    """``softmax(p) - y`` for one-hot ``y``; the loss ``logsumexp(p) - y . p``."""
    top = p.max(axis=1, keepdims=True)
    s = np.exp(p - top)
    total = s.sum(axis=1, keepdims=True)
    loss = 0.0
    if w is not None:
        loss = float(w @ (np.log(total) + top - (y * p).sum(axis=1, keepdims=True))[:, 0])
    s /= total

    def curvature(dP: np.ndarray) -> np.ndarray:
        # The softmax Hessian diag(s) - s s^T.
        sd = s * dP
        out: np.ndarray = (sd * dP).sum(axis=1) - sd.sum(axis=1) ** 2
        return out

    return s - y, loss, curvature


def _hinge(p: np.ndarray, y: np.ndarray, w: np.ndarray | None, epsilon: float) -> Loss:
    """``-y`` where the margin ``z = y p`` is below 1, for ``y`` in {-1, +1}; ``max(0, 1 - z)``
    (no curvature: piecewise linear)."""
    z = y * p
    loss = 0.0 if w is None else float(w @ np.maximum(1.0 - z, 0.0).sum(axis=1))
    return np.where(z < 1.0, -y, 0.0).astype(p.dtype, copy=False), loss, _diagonal(0.0 * z)


def _modified_huber(p: np.ndarray, y: np.ndarray, w: np.ndarray | None, epsilon: float) -> Loss:
    """scikit-learn's modified Huber: ``max(0, 1 - z)^2`` for margins ``z >= -1``, ``-4 z``
    below."""
    z = y * p
    quadratic = (z >= -1.0) & (z < 1.0)
    loss = 0.0
    if w is not None:
        rows = np.where(z >= -1.0, np.maximum(1.0 - z, 0.0) ** 2, -4.0 * z)
        loss = float(w @ rows.sum(axis=1))
    r = np.where(z >= -1.0, -2.0 * y * (1.0 - z), -4.0 * y)
    derivative = np.where(z >= 1.0, 0.0, r).astype(p.dtype, copy=False)
    return derivative, loss, _diagonal(2.0 * quadratic)


def _squared_error(p: np.ndarray, y: np.ndarray, w: np.ndarray | None, epsilon: float) -> Loss:
    """``p - y``; the loss ``(p - y)^2 / 2``."""
    r = p - y
    loss = 0.0 if w is None else 0.5 * float(w @ (r * r)[:, 0])
    return r, loss, _diagonal(np.ones_like(r))


def _huber(p: np.ndarray, y: np.ndarray, w: np.ndarray | None, epsilon: float) -> Loss:
    """The residual clipped to ``[-epsilon, epsilon]``; quadratic, then linear beyond."""
    r = p - y
    a = np.abs(r)
    loss = 0.0
    if w is not None:
        rows = np.where(a <= epsilon, 0.5 * r * r, epsilon * a - 0.5 * epsilon**2)
        loss = float(w @ rows[:, 0])
    return np.clip(r, -epsilon, epsilon), loss, _diagonal((a <= epsilon).astype(r.dtype))


_CLASSIFIER_LOSSES = ("log_loss", "hinge", "modified_huber")
_REGRESSOR_LOSSES = ("squared_error", "huber")


# --------------------------------------------------------------------------------------------
# One pass over a block


@dataclass(eq=False)
class _Model:
    """A learner's arrays and counters, updated in place by :func:`_train_pass`.

    ``coef`` is (outputs, features); ``squared`` is (outputs, features + 1), the intercept's
    squared gradients in the last column; ``mean`` (float64) is the running mean of the rows
    when the model has an intercept (None without). The counters are Python floats.
    """

    coef: np.ndarray
    intercept: np.ndarray
    squared: np.ndarray
    scale: np.ndarray
    sum_weight: float
    sum_norm: float
    target_sums: np.ndarray | None  # regressors: sums of w y and of w y^2
    mean: np.ndarray | None


#: Consecutive rows a mini-batch takes from one place of the block (at most).
_RUN = 64
#: Fewest mini-batches a pass makes, if it has the rows.
_MIN_BATCHES = 16


def _batches(
    n: int, batch_size: int, rng: np.random.RandomState | None
) -> tuple[int, int, list[int]]:
    """How a pass over ``n`` rows is cut into mini-batches: ``(run, per_batch, order)``.

    Batches hold ``batch_size`` rows, fewer when that would make fewer than ``_MIN_BATCHES``
    of them: a pass over a small block still takes several steps. The first ``m * per_batch *
    run`` rows are cut into runs of ``run`` consecutive rows (an eighth of a batch, at most
    ``_RUN``), and batch ``k`` of ``m`` takes runs ``k, k + m, k + 2m, ...``: every batch holds
    rows from all over the block, so that sorted rows still give mixed batches, while each run
    is read sequentially (the batch is a strided view, not a gather). The rows left over (fewer
    than a batch) are batch ``m``. ``order`` lists the batches in the order of the pass,
    shuffled by ``rng``.
    """
    batch_size = min(batch_size, max(1, n // _MIN_BATCHES))
    run = max(1, min(_RUN, batch_size // 8))
    per_batch = max(1, batch_size // run)
    m = n // (run * per_batch)
    count = m + (n > m * run * per_batch)
    order = list(range(count)) if rng is None else [int(k) for k in rng.permutation(count)]
    return run, per_batch, order


def _train_pass(
    model: _Model,
    X: np.ndarray,
    Y: np.ndarray,
    w: np.ndarray,
    *,
    loss: str,
    alpha: float,
    learning_rate: float,
    epsilon: float,
    batch_size: int,
    rng: np.random.RandomState | None,
    with_loss: bool = False,
) -> float:
    """One pass of normalized AdaGrad over the rows of ``X``, in mini-batches.

    ``Y`` is the encoded target, shape (rows, outputs), and ``w`` the rows' (positive)
    weights, both in ``X``'s dtype; ``rng`` shuffles the order of the mini-batches. Returns
    the weighted sum of the rows' losses, each taken before the step of its batch
    (``with_loss``; else 0.0).

    Per batch the rows are read once (centred into a buffer), squared once, and go through
    four BLAS products: the predictions, ``[w r, w]^T X`` (the gradient and the shift of the
    mean), ``[(w r)^2, w]^T X^2`` (the squared gradients and the normalizer) and ``X step``
    (how far the step moves the predictions, for the safe step).
    """
    dloss = _LOSSES[loss]
    n, d = X.shape
    total_loss = 0.0
    if n == 0:
        return total_loss
    run, per_batch, order = _batches(n, batch_size, rng)
    m = n // (run * per_batch)
    main = m * run * per_batch
    k_out = Y.shape[1]
    # Batch j < m is [:, j] of these views: per_batch runs of run rows.
    X4 = X[:main].reshape(per_batch, m, run, d)
    Y4 = Y[:main].reshape(per_batch, m, run, k_out)
    w3 = w[:main].reshape(per_batch, m, run)
    coef = model.coef
    coef_sq, intercept_sq = model.squared[:, :-1], model.squared[:, -1]
    dtype = coef.dtype
    tiny = np.finfo(dtype).tiny
    scale2 = (model.scale * model.scale).astype(dtype)
    inv_scale2, inv_scale = _inverse_scales(scale2)
    centred = model.mean is not None
    mean = np.zeros(d) if model.mean is None else model.mean
    # The model is p = coef (x - mean) + c while it trains: centred rows, centred intercept.
    mean_x = mean.astype(dtype)
    # The mean repeated over a run of rows: subtracting it from a batch's runs is then one
    # contiguous loop per run, not one per row.
    mean_run = np.tile(mean_x, (run, 1))
    c = model.intercept + coef @ mean_x
    # Buffers reused by every batch: on distributed's workers (MALLOC_TRIM_THRESHOLD_ set by
    # the nanny) a fresh temporary of this size would be a new mmap and its page faults.
    buffer = np.empty((per_batch, run, d), dtype)
    squared = np.empty((per_batch * run, d), dtype)
    scratch = np.empty((per_batch * run // 2 + 1, d), dtype)
    for j in order:
        if j < m:
            Xb = np.subtract(X4[:, j], mean_run, out=buffer).reshape(-1, d)
            Yb, wb = Y4[:, j].reshape(-1, k_out), w3[:, j].reshape(-1)
        else:
            Xb = np.subtract(X[main:], mean_x, out=buffer.reshape(-1, d)[: n - main])
            Yb, wb = Y[main:], w[main:]
        batch_weight = float(wb.sum())
        first = model.sum_weight == 0.0
        model.sum_weight += batch_weight
        if centred and first:
            # The very first rows: centre them on their own mean.
            shift = np.asarray(wb @ Xb, np.float64) / batch_weight
            mean, shift_x = mean + shift, shift.astype(dtype)
            mean_x, mean_run[:] = mean.astype(dtype), mean.astype(dtype)
            Xb -= shift_x
            c += coef @ shift_x
        sq = np.multiply(Xb, Xb, out=squared[: len(Xb)])
        top = _column_max(sq, scratch)
        if (top > scale2).any():
            # A new largest |x|: VW's rescaling keeps the normalized weight s_i coef_i.
            new = np.maximum(scale2, top)
            coef *= np.sqrt(np.divide(scale2, new, out=np.ones_like(new), where=scale2 > 0))
            scale2 = new
            inv_scale2, inv_scale = _inverse_scales(scale2)
        if model.target_sums is not None:
            yb = Yb[:, 0].astype(np.float64)
            model.target_sums += (float(wb @ yb), float(wb @ (yb * yb)))
            if first and centred:
                c[:] = model.target_sums[0] / model.sum_weight
        # The per-row derivatives times the weights, and the weights, side by side.
        rw = np.empty((len(wb), k_out + 1), dtype)
        P = Xb @ coef.T
        if centred:
            P += c
        R = rw[:, :k_out]
        derivative, batch_loss, curvature = dloss(P, Yb, wb if with_loss else None, epsilon)
        np.multiply(derivative, wb[:, None], out=R)
        total_loss += batch_loss
        rw[:, k_out] = wb
        moments = rw.T @ Xb  # the gradient, and the sum of the weighted rows
        g, gi = moments[:k_out], R.sum(axis=0)
        rw2 = rw * rw
        rw2[:, k_out] = wb
        # The squared gradients sum the rows' squares, as VW's per-example updates would:
        # the steps then do not depend on the batch size.
        squares = rw2.T @ sq
        coef_sq += squares[:k_out]
        model.sum_norm += float(squares[k_out] @ inv_scale2)
        if centred:
            model.sum_norm += batch_weight  # the intercept's constant feature
        rate = learning_rate * math.sqrt(model.sum_weight / model.sum_norm)
        if model.target_sums is not None:
            rate *= _target_scale(model.target_sums, model.sum_weight)
        if alpha:
            penalty = (alpha * batch_weight) * (scale2 * coef)
            g += penalty
            coef_sq += penalty * penalty
        # The AdaGrad step, and how much it lowers the predictions of the batch.
        g *= inv_scale
        g /= np.sqrt(coef_sq + tiny)
        g *= rate
        dP = Xb @ g.T
        if centred:
            intercept_sq += rw2[:, :k_out].sum(axis=0)
            gi *= rate / np.sqrt(intercept_sq + tiny)
            dP += gi
        # Every row of the batch moves by the same stale step: where the loss's curvature
        # says the batch's own optimum along it is nearer, take that (a one-dimensional
        # Newton step, capped at 1), as VW's importance-aware updates keep one example from
        # overshooting its label.
        slope = float(np.vdot(R, dP))
        bend = float(wb @ curvature(dP))
        fraction = slope / bend if 0.0 < slope < bend else 1.0
        coef -= fraction * g
        if centred:
            c -= fraction * gi
            if not first:
                # Move the centre to the running mean; c keeps the predictions as they are.
                shift = moments[k_out].astype(np.float64) / model.sum_weight
                mean, shift_x = mean + shift, shift.astype(dtype)
                mean_x, mean_run[:] = mean.astype(dtype), mean.astype(dtype)
                c += coef @ shift_x
    model.scale[:] = np.sqrt(scale2)
    model.intercept[:] = c - coef @ mean_x
    if centred:
        model.mean = mean
    return total_loss


def _column_max(a: np.ndarray, scratch: np.ndarray) -> np.ndarray:
    """``a.max(axis=0)`` by halving the rows: a few contiguous calls, not one per row.

    ``scratch`` holds at least ``len(a) // 2 + 1`` rows; ``a`` is left as it was.
    """
    n = a.shape[0]
    if n == 1:
        return a[0].copy()
    half = n // 2
    top = scratch[: half + (n % 2)]
    np.maximum(a[:half], a[half : 2 * half], out=top[:half])
    if n % 2:
        top[half] = a[n - 1]
    n = len(top)
    while n > 1:
        half = n // 2
        np.maximum(top[:half], top[half : 2 * half], out=top[:half])
        if n % 2:
            top[half] = top[n - 1]
            n = half + 1
        else:
            n = half
    return top[0].copy()


def _inverse_scales(scale2: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``1 / s^2`` and ``1 / s``, zero for features never seen non-zero."""
    inv2 = np.divide(1.0, scale2, out=np.zeros_like(scale2), where=scale2 > 0)
    return inv2, np.sqrt(inv2)


def _target_scale(target_sums: np.ndarray, weight: float) -> float:
    """The standard deviation of the targets seen (1 before two distinct targets)."""
    mean = target_sums[0] / weight
    var = max(target_sums[1] / weight - mean * mean, 0.0)
    return math.sqrt(var) if var > 0 else 1.0


_LOSSES: dict[str, Callable[[np.ndarray, np.ndarray, np.ndarray | None, float], Loss]] = {
    "log_loss": _log_loss_binary,
    "multinomial": _log_loss_multinomial,
    "hinge": _hinge,
    "modified_huber": _modified_huber,
    "squared_error": _squared_error,
    "huber": _huber,
}


# --------------------------------------------------------------------------------------------
# The estimators


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


class _AdaptiveSGD(SaveMixin, BaseEstimator):
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

        With ``tol``, stop once the mean training loss of ``n_iter_no_change`` passes in a
        row has not improved on the best by ``tol`` (scikit-learn's SGD rule). Returns the
        number of passes made.
        """
        if not bool(np.all(w > 0)):
            # Rows of weight zero teach nothing: train on a copy of the others.
            keep = np.flatnonzero(w)
            X, Y, w = X[keep], Y[keep], w[keep]
        # Copies: the arrays of a model from an earlier epoch or a merge stay as they were.
        state = _Model(
            self.coef_.reshape(self._n_outputs(), -1).copy(),
            self.intercept_.copy(),
            self.squared_gradients_.copy(),
            self.scale_.copy(),
            self.sum_weight_,
            self.sum_norm_,
            self.target_sums_.copy() if self._regression else None,
            self.mean_.copy() if self.fit_intercept else None,
        )
        weight = float(w.sum(dtype=np.float64))
        best, no_change, done = np.inf, 0, 0
        while done < passes:
            total = _train_pass(
                state,
                X,
                Y,
                w,
                loss=self._internal_loss(),
                alpha=float(self.alpha),
                learning_rate=float(self.learning_rate),
                epsilon=self._epsilon(),
                batch_size=int(self.batch_size),
                rng=rng if self.shuffle else None,
                with_loss=tol is not None,
            )
            done += 1
            if tol is None or weight == 0.0:
                continue
            mean_loss = total / weight
            no_change = no_change + 1 if mean_loss > best - tol else 0
            best = min(best, mean_loss)
            if no_change >= self.n_iter_no_change:
                break
        self.coef_ = state.coef.reshape(self.coef_.shape)
        self.intercept_, self.squared_gradients_ = state.intercept, state.squared
        self.scale_ = state.scale
        self.sum_weight_, self.sum_norm_ = state.sum_weight, state.sum_norm
        if state.target_sums is not None:
            self.target_sums_ = state.target_sums
        if state.mean is not None:
            self.mean_ = state.mean
        if tol is not None and done == passes and no_change < self.n_iter_no_change:
            warnings.warn(
                f"{type(self).__name__} made max_iter={passes} passes without the training "
                f"loss settling within tol={tol}. Consider increasing max_iter to improve the "
                "fit.",
                ConvergenceWarning,
                stacklevel=4,
            )
        return done

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
        first = not partial or not hasattr(self, "coef_")
        X, y = validate_data(
            self,
            X,
            y,
            reset=first,
            accept_sparse=False,
            dtype=[np.float64, np.float32] if first else self.coef_.dtype,
            y_numeric=self._regression,
        )
        sample_weight = _check_weights(sample_weight, X.shape[0])
        if not partial and sample_weight is not None and not sample_weight.any():
            raise ValueError("Sample weights must contain at least one non-zero number.")
        return X, y, sample_weight, first

    def _linear(self, X: Any) -> np.ndarray:
        """``X @ coef_.T + intercept_``, one column per output, in the dtype of ``X``."""
        check_is_fitted(self, "coef_")
        X = validate_data(self, X, reset=False, accept_sparse=False, dtype=[np.float64, np.float32])
        coef = self.coef_.reshape(self._n_outputs(), -1)
        scores: np.ndarray = X @ coef.T.astype(X.dtype, copy=False)
        if self.fit_intercept:
            scores += self.intercept_.astype(X.dtype, copy=False)
        return scores

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = False
        tags.input_tags.allow_nan = False
        return tags


class AdaptiveSGDClassifier(ClassifierMixin, _AdaptiveSGD):
    """Linear classifier trained by vectorized mini-batches with normalized adaptive steps.

    Vowpal Wabbit's default update (normalized AdaGrad, see :mod:`daskpar._adaptive`) in
    the dtype of ``X``: float32 data train a float32 model without a float64 copy. Features
    need no scaling. Binary problems have one output; with more classes ``log_loss`` is the
    multinomial (softmax) model and the other losses are one-vs-rest.

    Train it in parallel on a dask array with ``daskpar.ParallelIncremental``.

    Parameters
    ----------
    loss : {"log_loss", "hinge", "modified_huber"}, default="log_loss"
        The loss: logistic regression, a linear SVM, or scikit-learn's modified Huber loss
        (whose ``predict_proba`` is ``(clip(decision, -1, 1) + 1) / 2``).
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
    class_weight : dict, "balanced" or None, default=None
        Weights of the classes, multiplied into the sample weights. "balanced" uses
        ``n_samples / (n_classes * np.bincount(y))`` and is refused by ``partial_fit``, as
        by scikit-learn's ``SGDClassifier``.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        The class labels.
    coef_ : ndarray of shape (1, n_features) or (n_classes, n_features)
        Weights, in the dtype of the training data (float32 or float64).
    intercept_ : ndarray of shape (1,) or (n_classes,)
        Intercepts.
    scale_ : ndarray of shape (n_features,)
        The largest ``|x - mean_|`` of each feature seen, with the mean of the time (0 for a
        feature that never varied).
    mean_ : ndarray of shape (n_features,)
        The weighted mean of the rows seen, on which they are centred while training (zeros
        with ``fit_intercept=False``, which trains on the rows as they are).
    squared_gradients_ : ndarray of shape (n_outputs, n_features + 1)
        AdaGrad's sums of the rows' squared gradients, the intercept's in the last column.
    sum_weight_ : float
        The total sample weight seen (Vowpal Wabbit's ``t``).
    sum_norm_ : float
        The weighted sum of the squared norms of the normalized rows, plus one per row for
        the intercept (Vowpal Wabbit's ``N``).
    n_iter_ : int
        Passes over the data :meth:`fit` made; one more with each ``partial_fit``.
    n_features_in_ : int
        Number of features seen during fit.

    Examples
    --------
    >>> import numpy as np
    >>> from daskpar import AdaptiveSGDClassifier
    >>> rng = np.random.default_rng(0)
    >>> X = (rng.normal(size=(2000, 3)) * [1e-3, 1.0, 1e3]).astype(np.float32)
    >>> y = (X[:, 0] * 1e3 + X[:, 2] * 1e-3 > 0).astype(int)
    >>> clf = AdaptiveSGDClassifier(random_state=0).fit(X, y)
    >>> clf.coef_.dtype
    dtype('float32')
    >>> bool(clf.score(X, y) > 0.95)
    True
    """

    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        **_AdaptiveSGD._parameter_constraints,
        "loss": [StrOptions(set(_CLASSIFIER_LOSSES))],
        "class_weight": [StrOptions({"balanced"}), dict, None],
    }
    _regression = False

    def __init__(
        self,
        loss: str = "log_loss",
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
        class_weight: Any = None,
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
        self.class_weight = class_weight

    def _n_outputs(self) -> int:
        return 1 if len(self.classes_) == 2 else len(self.classes_)

    def _internal_loss(self) -> str:
        return "multinomial" if self.loss == "log_loss" and len(self.classes_) > 2 else self.loss

    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> AdaptiveSGDClassifier:
        """Fit the model from scratch: passes over ``X``, ``y`` until ``tol`` or ``max_iter``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Dense training data; float32 stays float32.
        y : array-like of shape (n_samples,)
            Class labels.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weight of each sample; rows of weight zero are left out.

        Returns
        -------
        self : AdaptiveSGDClassifier
            The fitted classifier.
        """
        X, y, sample_weight, _ = self._fit(X, y, sample_weight, partial=False)
        check_classification_targets(y)
        self.classes_ = self._checked_classes(np.unique(y))
        self._allocate(X.shape[1], X.dtype)
        self.n_iter_ = self._train(X, y, sample_weight, passes=int(self.max_iter), tol=self.tol)
        return self

    def partial_fit(
        self, X: Any, y: Any, classes: Any = None, sample_weight: Any = None
    ) -> AdaptiveSGDClassifier:
        """One pass over ``X``, ``y``, going on from the current model.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Dense data; the first call fixes the model's dtype (float32 or float64).
        y : array-like of shape (n_samples,)
            Class labels, all in ``classes``.
        classes : array-like of shape (n_classes,), default=None
            Every class label; required in the first call, and if given later, the same.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weight of each sample; rows of weight zero are left out.

        Returns
        -------
        self : AdaptiveSGDClassifier
            The updated classifier.
        """
        if self.class_weight == "balanced":
            raise ValueError(
                "class_weight 'balanced' is not supported for partial_fit. In order to use "
                "'balanced' weights, use compute_class_weight('balanced', classes=classes, "
                "y=y). In place of y you can use a large enough sample of the full training "
                "set target to properly estimate the class frequency distributions. Pass the "
                "resulting weights as the class_weight parameter."
            )
        X, y, sample_weight, first = self._fit(X, y, sample_weight, partial=True)
        if first:
            if classes is None:
                raise ValueError("classes must be passed on the first call to partial_fit.")
            # The labels of y are checked against these (not scanned for their type).
            classes = np.unique(np.asarray(classes))
            check_classification_targets(classes)
            self.classes_ = self._checked_classes(classes)
            self._allocate(X.shape[1], X.dtype)
            self.n_iter_ = 0
        elif classes is not None and not np.array_equal(np.unique(classes), self.classes_):
            raise ValueError(
                f"classes={np.unique(classes).tolist()} is not the same as on the first call "
                f"to partial_fit, which was {self.classes_.tolist()}."
            )
        self._train(X, y, sample_weight, passes=1)
        self.n_iter_ += 1
        return self

    def _checked_classes(self, classes: np.ndarray) -> np.ndarray:
        if len(classes) < 2:
            raise ValueError(
                f"{type(self).__name__} needs samples of at least 2 classes in the data, but "
                f"the data contain only one class: {classes.tolist()}."
            )
        return classes

    def _class_index(self, y: np.ndarray) -> np.ndarray:
        """The index in ``classes_`` of each label, or an error naming the unknown ones."""
        classes = self.classes_
        if len(classes) == 2:
            # Two comparisons cost a tenth of a binary search.
            positive = y == classes[1]
            index, known = positive.astype(np.intp), positive | (y == classes[0])
        else:
            index = np.minimum(np.searchsorted(classes, y), len(classes) - 1)
            known = classes[index] == y
        if not bool(np.all(known)):
            unknown = np.setdiff1d(np.unique(y), classes)
            raise ValueError(
                f"y holds labels {unknown.tolist()} that are not in classes {classes.tolist()}."
            )
        return index

    def _train(
        self,
        X: np.ndarray,
        y: np.ndarray,
        sample_weight: np.ndarray | None,
        *,
        passes: int,
        tol: float | None = None,
    ) -> int:
        dtype = self.coef_.dtype
        index = self._class_index(y)
        k = self._n_outputs()
        if k == 1:
            Y = (index == 1).astype(dtype)[:, None]
        else:
            Y = np.zeros((len(y), k), dtype=dtype)
            Y[np.arange(len(y)), index] = 1.0
        if self.loss != "log_loss":
            Y = 2.0 * Y - 1.0  # margin losses: labels -1, +1 (one-vs-rest)
        w = self._row_weights(y, sample_weight)
        if self.class_weight is not None:
            per_class = compute_class_weight(self.class_weight, classes=self.classes_, y=y)
            w = w * per_class[index].astype(dtype)
        rng = check_random_state(self.random_state)
        return self._run_passes(X, Y, w, passes=passes, rng=rng, tol=tol)

    def decision_function(self, X: Any) -> np.ndarray:
        """The linear predictions ``X @ coef_.T + intercept_``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples,) or (n_samples, n_classes)
            The score of ``classes_[1]`` (binary), or one column per class.
        """
        scores = self._linear(X)
        out: np.ndarray = scores[:, 0] if scores.shape[1] == 1 else scores
        return out

    def predict(self, X: Any) -> np.ndarray:
        """The most likely class of each row.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples,)
        """
        scores = self.decision_function(X)
        index = (scores > 0).astype(int) if scores.ndim == 1 else scores.argmax(axis=1)
        out: np.ndarray = self.classes_[index]
        return out

    def _has_proba(self) -> bool:
        return self.loss in ("log_loss", "modified_huber")

    @available_if(_has_proba)
    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities (``log_loss`` and ``modified_huber`` only).

        ``log_loss``: the logistic function (binary) or the softmax (multiclass).
        ``modified_huber``: ``(clip(decision, -1, 1) + 1) / 2`` per class, normalized over
        the classes (uniform where all are zero), as scikit-learn's ``SGDClassifier``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples, n_classes)
        """
        scores = self.decision_function(X)
        if self.loss == "log_loss":
            if scores.ndim == 1:
                p1 = expit(scores)
                return np.column_stack([1.0 - p1, p1])
            e = np.exp(scores - scores.max(axis=1, keepdims=True))
            out: np.ndarray = e / e.sum(axis=1, keepdims=True)
            return out
        proba = (np.clip(scores, -1.0, 1.0) + 1.0) / 2.0
        if proba.ndim == 1:
            return np.column_stack([1.0 - proba, proba])
        total = proba.sum(axis=1, keepdims=True)
        uniform = total == 0
        proba = np.where(uniform, 1.0, proba)
        return proba / np.where(uniform, proba.shape[1], total)

    @available_if(_has_proba)
    def predict_log_proba(self, X: Any) -> np.ndarray:
        """The logarithm of :meth:`predict_proba`.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples, n_classes)
        """
        with np.errstate(divide="ignore"):
            return np.log(self.predict_proba(X))

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_class = True
        return tags


class AdaptiveSGDRegressor(RegressorMixin, _AdaptiveSGD):
    """Linear regressor trained by vectorized mini-batches with normalized adaptive steps.

    Vowpal Wabbit's default update (normalized AdaGrad, see :mod:`daskpar._adaptive`) in
    the dtype of ``X``: float32 data train a float32 model without a float64 copy. Features
    need no scaling; the step also follows the running standard deviation of the target, and
    the intercept starts at the first mini-batch's mean target, so targets in any units
    train alike.

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
        The weighted mean of the rows seen, on which they are centred while training (zeros
        with ``fit_intercept=False``, which trains on the rows as they are).
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

    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        **_AdaptiveSGD._parameter_constraints,
        "loss": [StrOptions(set(_REGRESSOR_LOSSES))],
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
        X : array-like of shape (n_samples, n_features)
            Dense training data; float32 stays float32.
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
        X : array-like of shape (n_samples, n_features)
            Dense data; the first call fixes the model's dtype (float32 or float64).
        y : array-like of shape (n_samples,)
            Targets.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weight of each sample; rows of weight zero are left out.

        Returns
        -------
        self : AdaptiveSGDRegressor
            The updated regressor.
        """
        X, y, sample_weight, first = self._fit(X, y, sample_weight, partial=True)
        if first:
            self._allocate(X.shape[1], X.dtype)
            self.n_iter_ = 0
        self._train(X, y, sample_weight, passes=1)
        self.n_iter_ += 1
        return self

    def _train(
        self,
        X: np.ndarray,
        y: np.ndarray,
        sample_weight: np.ndarray | None,
        *,
        passes: int,
        tol: float | None = None,
    ) -> int:
        Y = np.asarray(y, dtype=self.coef_.dtype)[:, None]
        w = self._row_weights(y, sample_weight)
        rng = check_random_state(self.random_state)
        return self._run_passes(X, Y, w, passes=passes, rng=rng, tol=tol)

    def predict(self, X: Any) -> np.ndarray:
        """The predicted target of each row.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples,)
        """
        out: np.ndarray = self._linear(X)[:, 0]
        return out
