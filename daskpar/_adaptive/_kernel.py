"""The adaptive learner's numeric kernel: one pass of normalized AdaGrad over a block's rows.

The losses, the cut into mini-batches and :func:`train_pass`, on numpy arrays: what runs on
the rows, apart from the estimators that check the input and drive the passes
(``daskpar._adaptive._base``), as scikit-learn keeps ``_sgd_fast`` apart from
``_stochastic_gradient``.

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

Mini-batches: the block's rows are cut into runs of consecutive rows, and each batch takes
runs from all over the block (see :func:`mini_batches`), so that sorted rows still give mixed
batches while the reads stay sequential; with ``shuffle`` the order of the batches is drawn
from ``random_state``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy.special import expit

__all__ = [
    "CLASSIFIER_LOSSES",
    "LOSSES",
    "REGRESSOR_LOSSES",
    "Loss",
    "Model",
    "mini_batches",
    "normalized_rate",
    "target_scale",
    "train_pass",
    "train_pass_stacked",
]


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


CLASSIFIER_LOSSES = ("log_loss", "hinge", "modified_huber")
REGRESSOR_LOSSES = ("squared_error", "huber")


# --------------------------------------------------------------------------------------------
# One pass over a block


@dataclass(eq=False)
class Model:
    """A learner's arrays and counters, updated in place by :func:`train_pass`.

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


def mini_batches(
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


def train_pass(
    model: Model,
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
    dloss = LOSSES[loss]
    n, d = X.shape
    total_loss = 0.0
    if n == 0:
        return total_loss
    run, per_batch, order = mini_batches(n, batch_size, rng)
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
        rate = normalized_rate(learning_rate, model.sum_weight, model.sum_norm)
        if model.target_sums is not None:
            rate *= target_scale(model.target_sums, model.sum_weight)
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


def train_pass_stacked(
    models: Sequence[Model],
    X: np.ndarray,
    Y: np.ndarray,
    w: np.ndarray,
    *,
    loss: str,
    alphas: Sequence[float],
    learning_rates: Sequence[float],
    epsilon: float,
    batch_size: int,
    rng: np.random.RandomState | None,
) -> None:
    """:func:`train_pass` of several models at once, over the same mini-batches.

    The models differ only in their weights, intercepts and squared gradients, and in the
    scalars ``alphas`` and ``learning_rates`` (one per model): their scales, means, counters
    and target sums, which depend on the rows alone, must be equal (they are taken from
    ``models[0]`` and written to every model). Their weights are stacked into one
    ``(models x outputs, features)`` matrix, so that a mini-batch takes one product
    ``(batch x d) @ (d x C)`` where :func:`train_pass` takes one per model; the centring,
    squares, scales, counters and the rows' weights are worked out once for all models.

    Every model ends as :func:`train_pass` leaves it, to float rounding (the sums of a matrix
    product may be taken in another order than a matrix-vector product's). The training loss
    is not computed (``train_pass``'s ``with_loss``): ``partial_fit`` does not use it.
    """
    dloss = LOSSES[loss]
    n, d = X.shape
    if n == 0 or not models:
        return
    lead, n_models = models[0], len(models)
    run, per_batch, order = mini_batches(n, batch_size, rng)
    m = n // (run * per_batch)
    main = m * run * per_batch
    k_out = Y.shape[1]
    width = n_models * k_out  # the stacked outputs: model c's are columns c*k .. c*k + k - 1
    X4 = X[:main].reshape(per_batch, m, run, d)
    Y4 = Y[:main].reshape(per_batch, m, run, k_out)
    w3 = w[:main].reshape(per_batch, m, run)
    coef = np.concatenate([model.coef for model in models])
    squared_sums = np.concatenate([model.squared for model in models])
    coef_sq, intercept_sq = squared_sums[:, :-1], squared_sums[:, -1]
    dtype = coef.dtype
    tiny = np.finfo(dtype).tiny
    # Per stacked output: its model's rate and penalty; cast to the dtype as train_pass's
    # Python floats are (numpy casts a Python scalar to the array's dtype).
    learning_rates = [float(r) for r in learning_rates]
    alphas = [float(a) for a in alphas]
    any_alpha = any(alphas)
    sum_weight, sum_norm = lead.sum_weight, lead.sum_norm
    target_sums = None if lead.target_sums is None else lead.target_sums.copy()
    scale2 = (lead.scale * lead.scale).astype(dtype)
    inv_scale2, inv_scale = _inverse_scales(scale2)
    centred = lead.mean is not None
    mean = np.zeros(d) if lead.mean is None else lead.mean
    mean_x = mean.astype(dtype)
    mean_run = np.tile(mean_x, (run, 1))
    c = np.concatenate([model.intercept for model in models]) + coef @ mean_x
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
        nb = len(wb)
        batch_weight = float(wb.sum())
        first = sum_weight == 0.0
        sum_weight += batch_weight
        if centred and first:
            shift = np.asarray(wb @ Xb, np.float64) / batch_weight
            mean, shift_x = mean + shift, shift.astype(dtype)
            mean_x, mean_run[:] = mean.astype(dtype), mean.astype(dtype)
            Xb -= shift_x
            c += coef @ shift_x
        sq = np.multiply(Xb, Xb, out=squared[:nb])
        top = _column_max(sq, scratch)
        if (top > scale2).any():
            new = np.maximum(scale2, top)
            coef *= np.sqrt(np.divide(scale2, new, out=np.ones_like(new), where=scale2 > 0))
            scale2 = new
            inv_scale2, inv_scale = _inverse_scales(scale2)
        if target_sums is not None:
            yb = Yb[:, 0].astype(np.float64)
            target_sums += (float(wb @ yb), float(wb @ (yb * yb)))
            if first and centred:
                c[:] = target_sums[0] / sum_weight
        rw = np.empty((nb, width + 1), dtype)
        P = Xb @ coef.T  # one product for every model
        if centred:
            P += c
        # The losses take (rows, outputs): the models' predictions one under the other.
        P_rows = P.reshape(nb, n_models, k_out).transpose(1, 0, 2).reshape(-1, k_out)
        Y_rows = np.broadcast_to(Yb, (n_models, nb, k_out)).reshape(-1, k_out)
        derivative, _, curvature = dloss(P_rows, Y_rows, None, epsilon)
        R3 = np.empty((n_models, nb, k_out), dtype)
        np.multiply(derivative.reshape(n_models, nb, k_out), wb[:, None], out=R3)
        rw[:, :width] = R3.transpose(1, 0, 2).reshape(nb, width)
        rw[:, width] = wb
        moments = rw.T @ Xb
        g, gi = moments[:width], rw[:, :width].sum(axis=0)
        rw2 = rw * rw
        rw2[:, width] = wb
        squares = rw2.T @ sq
        coef_sq += squares[:width]
        sum_norm += float(squares[width] @ inv_scale2)
        if centred:
            sum_norm += batch_weight
        rates = [normalized_rate(r, sum_weight, sum_norm) for r in learning_rates]
        if target_sums is not None:
            spread = target_scale(target_sums, sum_weight)
            rates = [r * spread for r in rates]
        rate = np.repeat(np.asarray(rates, dtype=dtype), k_out)
        if any_alpha:
            strength = np.repeat(np.asarray([a * batch_weight for a in alphas], dtype), k_out)
            penalty = strength[:, None] * (scale2 * coef)
            g += penalty
            coef_sq += penalty * penalty
        g *= inv_scale
        g /= np.sqrt(coef_sq + tiny)
        g *= rate[:, None]
        dP = Xb @ g.T  # one product for every model
        if centred:
            intercept_sq += rw2[:, :width].sum(axis=0)
            gi *= rate / np.sqrt(intercept_sq + tiny)
            dP += gi
        dP_rows = np.ascontiguousarray(dP.reshape(nb, n_models, k_out).transpose(1, 0, 2))
        bends = curvature(dP_rows.reshape(-1, k_out)).reshape(n_models, nb)
        fractions = []
        for i in range(n_models):
            slope = float(np.vdot(R3[i], dP_rows[i]))
            bend = float(wb @ bends[i])
            fractions.append(slope / bend if 0.0 < slope < bend else 1.0)
        fraction = np.repeat(np.asarray(fractions, dtype=dtype), k_out)
        coef -= fraction[:, None] * g
        if centred:
            c -= fraction * gi
            if not first:
                shift = moments[width].astype(np.float64) / sum_weight
                mean, shift_x = mean + shift, shift.astype(dtype)
                mean_x, mean_run[:] = mean.astype(dtype), mean.astype(dtype)
                c += coef @ shift_x
    intercept = c - coef @ mean_x
    scale = np.sqrt(scale2)
    for i, model in enumerate(models):
        outputs = slice(i * k_out, (i + 1) * k_out)
        model.coef[:] = coef[outputs]
        model.squared[:] = squared_sums[outputs]
        model.intercept[:] = intercept[outputs]
        model.scale[:] = scale
        model.sum_weight, model.sum_norm = sum_weight, sum_norm
        if target_sums is not None:
            model.target_sums = target_sums.copy()
        if centred:
            model.mean = mean.copy()


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


def normalized_rate(learning_rate: float, sum_weight: float, sum_norm: float) -> float:
    """The normalized rate ``learning_rate sqrt(t / N)``; 0 while every row seen was zero
    (without an intercept): such rows have no gradient, and ``N`` is 0."""
    return learning_rate * math.sqrt(sum_weight / sum_norm) if sum_norm > 0.0 else 0.0


def target_scale(target_sums: np.ndarray, weight: float) -> float:
    """The standard deviation of the targets seen (1 before two distinct targets)."""
    mean = target_sums[0] / weight
    var = max(target_sums[1] / weight - mean * mean, 0.0)
    return math.sqrt(var) if var > 0 else 1.0


LOSSES: dict[str, Callable[[np.ndarray, np.ndarray, np.ndarray | None, float], Loss]] = {
    "log_loss": _log_loss_binary,
    "multinomial": _log_loss_multinomial,
    "hinge": _hinge,
    "modified_huber": _modified_huber,
    "squared_error": _squared_error,
    "huber": _huber,
}
