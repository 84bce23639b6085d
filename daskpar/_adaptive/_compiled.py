"""The adaptive learner's passes compiled with numba: each mini-batch read at most 3 times.

:func:`train_pass_compiled` and :func:`train_pass_sparse_compiled` are
:func:`daskpar._adaptive._kernel.train_pass` and
:func:`daskpar._adaptive._sparse.train_pass_sparse`, same contract, same mini-batches in the
same order, same update (see ``_kernel``'s docstring), to float rounding: the numpy passes
stay as the reference the tests compare these with. Where numpy makes a temporary per step
(the centred batch, its squares, the predictions, four BLAS products), these loop over the
batch's rows (the strided view of :func:`~daskpar._adaptive._kernel.mini_batches`, by row
index, never copied) three times:

1. **margins**: centre each row on the running mean, take the column max of the squares
   (the scales) and the predictions ``P`` with the current weights, then the loss's
   derivative, its value and its curvature factors, per row and output;
2. **gradient**: the gradient, the squared gradients, the normalizer's column sums and the
   shift of the mean, in one sweep of each row;
3. **step**: ``dP = X step``, how far the step moves each prediction, for the safe step's
   slope and curvature.

The work between the passes (the AdaGrad step, the rescaling, the penalty, the centre's
move) is ``O(outputs x features)`` per batch, on arrays that stay in cache.

**Rescaling.** VW's rescale multiplies a weight by ``s_old / s_new`` when a batch raises a
feature's largest ``|x|``, before the batch's predictions; pass 1 finds that largest value
while it computes the predictions with the weights as they were. When a scale that was not
0 grows (most batches at the start of the first pass, rarely after: a new largest value), the
predictions are redone with the rescaled weights: pass 1's products once more, on rows that
are still in cache. They are redone, not corrected by ``(coef_new - coef_old) x``: a scale
that grows by orders of magnitude (after a first batch of one row, whose centred values are
rounding residues) shrinks large weights to small ones, and the correction would cancel.

**First batch.** With an intercept, the very first rows are centred on their own weighted
mean: that batch takes one more pass, before pass 1, to find it. (The numpy pass centres them
on ``mean_`` and then on their shift; a fresh model's ``mean_`` is 0, where both agree.)

**Safe step.** Pass 3 gives ``slope = sum_j r_j . dP_j`` and ``bend = sum_j w_j dP_j^T H_j
dP_j`` (``H_j`` the loss's Hessian at row ``j``'s predictions, kept per row and output by
pass 1); the step is scaled by ``slope / bend`` when ``0 < slope < bend``.

**Determinism.** No ``parallel=True``, and ``fastmath`` off but for the dot products
(:func:`_dot`, which allows reassociation alone, so that LLVM vectorizes its sum): every sum
runs in an order fixed by the compiled code, the same on every run, thread and worker of a
machine, as BLAS's are for the numpy pass. ``nogil`` lets dask's threads run passes side by
side. The kernels take the loss as an int code and the options as arguments: one
compilation per dtype (and, on CSR input, index type), cached on disk (``cache=True``).

**Several models.** :func:`train_pass_stacked_compiled` trains models that differ only in
``alpha`` and ``learning_rate`` on the same batches (a search's candidates,
``daskpar._adaptive._stacked``): each row is read once per pass for all of them, the
centring, scales, normalizer and mean's shift are worked out once, and every model's sums
run in the order of :func:`train_pass_compiled`'s, so that each ends with the bits it would
have trained alone.

**CSR.** As in ``_sparse``: uncentred, the intercept VW's constant feature, the penalty on
the features a batch does not touch applied lazily (``_LazyPenalty``'s rule), each feature
caught up when a batch first meets it and all at the end of the pass. Pass 1 renumbers the
features the batch touches and copies their weights, squared gradients and scales into
compact arrays, which the other passes and the step use; the weights go back at the end of
the batch. A batch whose scales grow, for a feature seen before, redoes its predictions
from the compact arrays.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numba
import numpy as np
import scipy.sparse as sp

from ._kernel import Model, mini_batches

__all__ = [
    "LOSS_CODES",
    "train_pass_compiled",
    "train_pass_sparse_compiled",
    "train_pass_stacked_compiled",
]

#: The losses of ``_kernel.LOSSES`` as the kernels' int codes.
LOSS_CODES = {
    "log_loss": 0,
    "multinomial": 1,
    "hinge": 2,
    "modified_huber": 3,
    "squared_error": 4,
    "huber": 5,
}
_MULTINOMIAL = 1

_jit = numba.njit(cache=True, nogil=True, fastmath=False)
#: For the per-row helpers: inlined into the passes (numba IR), not called per row.
_jit_inline = numba.njit(cache=True, nogil=True, fastmath=False, inline="always")


# --------------------------------------------------------------------------------------------
# Row helpers


@numba.njit(cache=True, nogil=True, fastmath={"reassoc"})
def _dot(a: Any, x: Any, m: Any, zero: Any) -> Any:
    """``sum_i a_i (x_i - m_i)`` in ``zero``'s dtype.

    With :func:`_dot_top`, the only functions compiled with a fast-math flag, ``reassoc``
    alone: it lets LLVM split the sum into the vector lanes it chooses (4x faster on
    AVX2/AVX-512 than one serial sum, which nothing else vectorizes). The order is then
    fixed by the compiled code, so the bits stay the same on every run, thread and worker of
    one machine (as BLAS's, which the numpy pass calls, are); no other rewrite (contraction
    into FMA, finite-math assumptions) is allowed.
    """
    s = zero
    for i in range(x.shape[0]):
        s += a[i] * (x[i] - m[i])
    return s


@numba.njit(cache=True, nogil=True, fastmath={"reassoc"})
def _dot_top(a: Any, x: Any, m: Any, top: Any, zero: Any) -> Any:
    """:func:`_dot`, and ``top = max(top, (x - m)^2)`` in the same sweep (pass 1 of one
    output)."""
    s = zero
    for i in range(x.shape[0]):
        v = x[i] - m[i]
        top[i] = max(top[i], v * v)
        s += a[i] * v
    return s


@_jit_inline
def _row_loss(
    code: int,
    P: Any,
    Y: Any,
    jr: int,
    row: int,
    wj: Any,
    epsilon: float,
    R: Any,
    H: Any,
    with_loss: bool,
) -> float:
    """Row ``jr`` of the batch (``row`` of the block): ``R = w r`` (the weighted derivative),
    ``H`` the curvature factors (the softmax for ``multinomial``, the Hessian's diagonal
    otherwise), and the row's loss, unweighted (``with_loss``; else 0.0)."""
    k = P.shape[1]
    loss = 0.0
    if code == _MULTINOMIAL:
        top = P[jr, 0]
        for o in range(1, k):
            top = max(top, P[jr, o])
        total = 0.0
        yp = 0.0
        for o in range(k):
            H[jr, o] = math.exp(np.float64(P[jr, o]) - top)
            total += H[jr, o]
            yp += np.float64(Y[row, o]) * np.float64(P[jr, o])
        if with_loss:
            loss = math.log(total) + top - yp
        for o in range(k):
            H[jr, o] /= total
            R[jr, o] = H[jr, o] - np.float64(Y[row, o])
            R[jr, o] *= wj
        return loss
    for o in range(k):
        # In float64 (numba's float() of a float32 stays float32).
        p: float = np.float64(P[jr, o])
        y: float = np.float64(Y[row, o])
        if code == 0:  # log_loss, y in {0, 1}
            e = math.exp(-abs(p))  # the sigmoid, and log(1 + e^p), without overflow
            s = 1.0 / (1.0 + e) if p >= 0.0 else e / (1.0 + e)
            if with_loss:
                loss += max(p, 0.0) + math.log1p(e) - y * p
            r, h = s - y, s * (1.0 - s)
        elif code == 2:  # hinge, y in {-1, 1}
            z = y * p
            loss += max(1.0 - z, 0.0)
            r, h = (-y if z < 1.0 else 0.0), 0.0
        elif code == 3:  # modified_huber
            z = y * p
            if z >= -1.0:
                loss += max(1.0 - z, 0.0) ** 2
                r = -2.0 * y * (1.0 - z) if z < 1.0 else 0.0
            else:
                loss += -4.0 * z
                r = -4.0 * y
            h = 2.0 if -1.0 <= z < 1.0 else 0.0
        elif code == 4:  # squared_error
            r = p - y
            loss += 0.5 * r * r
            h = 1.0
        else:  # huber
            r = p - y
            a = abs(r)
            if a <= epsilon:
                loss += 0.5 * r * r
                h = 1.0
            else:
                loss += epsilon * a - 0.5 * epsilon * epsilon
                r = epsilon if r > 0 else -epsilon
                h = 0.0
        R[jr, o] = r  # rounded to the dtype, as numpy's derivative is
        R[jr, o] *= wj
        H[jr, o] = h
    return loss


@_jit_inline
def _row_bend(code: int, H: Any, dP: Any, jr: int) -> float:
    """``dP^T H dP`` of row ``jr``: its curvature along the step."""
    k = dP.shape[1]
    if code == _MULTINOMIAL:
        quad = 0.0
        lin = 0.0
        for o in range(k):
            sd = H[jr, o] * np.float64(dP[jr, o])
            quad += sd * np.float64(dP[jr, o])
            lin += sd
        return quad - lin * lin
    out = 0.0
    for o in range(k):
        out += H[jr, o] * np.float64(dP[jr, o]) * np.float64(dP[jr, o])
    return out


@_jit
def _batch_rows(rows: Any, j: int, m: int, run: int, per_batch: int, n: int) -> int:
    """Fill ``rows`` with batch ``j``'s row indices (``mini_batches``' order); their count."""
    if j >= m:
        main = m * run * per_batch
        for t in range(n - main):
            rows[t] = main + t
        return n - main
    t = 0
    for q in range(per_batch):
        start = q * m * run + j * run
        for r in range(run):
            rows[t] = start + r
            t += 1
    return t


@_jit
def _rate(learning_rate: float, counters: Any, regression: bool) -> float:
    """``normalized_rate`` times, for the regressors, ``target_scale`` (``_kernel``'s, which
    numba cannot call), from ``counters``: the sum of weights, the normalizer, the target
    sums."""
    rate = 0.0
    if counters[1] > 0.0:
        rate = learning_rate * math.sqrt(counters[0] / counters[1])
    if regression:
        mean = counters[2] / counters[0]
        var = max(counters[3] / counters[0] - mean * mean, 0.0)
        rate *= math.sqrt(var) if var > 0 else 1.0
    return rate


@_jit
def _fraction(slope: float, bend: float) -> float:
    return slope / bend if 0.0 < slope < bend else 1.0


@_jit
def _target_sums(Y: Any, w: Any, rows: Any, nb: int, counters: Any, c: Any, init: bool) -> None:
    """The regressors' sums of ``w y`` and ``w y^2``; with ``init``, the intercept set to the
    mean target."""
    s1 = 0.0
    s2 = 0.0
    for t in range(nb):
        y = np.float64(Y[rows[t], 0])
        wj = np.float64(w[rows[t]])
        s1 += wj * y
        s2 += wj * (y * y)  # as numpy's w @ y^2: a constant target's variance is then 0
    counters[2] += s1
    counters[3] += s2
    if init:
        for o in range(c.shape[0]):
            c[o] = counters[2] / counters[0]


# --------------------------------------------------------------------------------------------
# Dense


@_jit
def _dense_pass(
    X: Any,
    Y: Any,
    w: Any,
    coef: Any,
    squared: Any,
    scale2: Any,
    mean: Any,
    mean_x: Any,
    c: Any,
    counters: Any,
    order: Any,
    run: int,
    per_batch: int,
    code: int,
    alpha: float,
    learning_rate: float,
    epsilon: float,
    centred: bool,
    regression: bool,
    with_loss: bool,
    tiny: Any,
) -> float:
    """:func:`train_pass_compiled` on arrays, updated in place; ``counters`` holds the sum of
    weights, the normalizer and the target sums. Returns the summed loss."""
    n, d = X.shape
    k = coef.shape[0]
    zero = tiny - tiny
    one = tiny / tiny
    m = n // (run * per_batch)
    size = max(run * per_batch, n - m * run * per_batch)
    rows = np.empty(size, np.int64)
    P = np.empty((size, k), X.dtype)  # the predictions, then how far the step moves them
    R = np.empty((size, k), X.dtype)
    H = np.empty((size, k), np.float64)
    top = np.empty(d, X.dtype)
    inv2 = np.zeros(d, X.dtype)
    inv = np.zeros(d, X.dtype)
    for i in range(d):
        if scale2[i] > 0:
            inv2[i] = one / scale2[i]
            inv[i] = np.sqrt(inv2[i])
    g = np.empty((k, d), X.dtype)
    acc = np.empty((k, d), X.dtype)
    mom = np.empty(d, X.dtype)
    nrm = np.empty(d, X.dtype)
    gi = np.empty(k, X.dtype)
    rsq = np.empty(k, X.dtype)
    shift_x = np.empty(d, X.dtype)
    zeros = np.zeros(d, X.dtype)
    total = 0.0
    for j in order:
        nb = _batch_rows(rows, j, m, run, per_batch, n)
        bw = 0.0
        for t in range(nb):
            bw += np.float64(w[rows[t]])
        first = counters[0] == 0.0
        counters[0] += bw
        if centred and first:
            # The very first rows: centred on their own mean (one more pass, once).
            mom[:] = zero
            for t in range(nb):
                x = X[rows[t]]
                wj = w[rows[t]]
                for i in range(d):
                    mom[i] += wj * (x[i] - mean_x[i])
            _move_centre(mom, bw, mean, mean_x, shift_x, coef, c, zeros)
        if regression:
            _target_sums(Y, w, rows, nb, counters, c, first and centred)
        # Pass 1: the column max of the squares, and the predictions.
        top[:] = zero
        for t in range(nb):
            x = X[rows[t]]
            if k == 1:
                P[t, 0] = _dot_top(coef[0], x, mean_x, top, zero)
            else:
                for i in range(d):
                    v = x[i] - mean_x[i]
                    top[i] = max(top[i], v * v)
                for o in range(k):
                    P[t, o] = _dot(coef[o], x, mean_x, zero)
            if centred:
                for o in range(k):
                    P[t, o] += c[o]
        # VW's rescaling; the predictions, if a weight changed, redone with the new weights
        # (not corrected by the change: a scale that grows by orders of magnitude shrinks
        # large weights to small ones, and the difference of the two would cancel).
        rescaled = False
        for i in range(d):
            if top[i] > scale2[i]:
                if scale2[i] > 0:
                    f = np.sqrt(scale2[i] / top[i])
                    for o in range(k):
                        coef[o, i] *= f
                    rescaled = True
                scale2[i] = top[i]
                inv2[i] = one / scale2[i]
                inv[i] = np.sqrt(inv2[i])
        if rescaled:
            for t in range(nb):
                x = X[rows[t]]
                for o in range(k):
                    P[t, o] = _dot(coef[o], x, mean_x, zero)
                    if centred:
                        P[t, o] += c[o]
        batch_loss = 0.0
        for t in range(nb):
            row = rows[t]
            batch_loss += np.float64(w[row]) * _row_loss(
                code, P, Y, t, row, w[row], epsilon, R, H, with_loss
            )
        total += batch_loss
        # Pass 2: the gradient, its squares, the normalizer's sums and the mean's shift.
        g[:] = zero
        acc[:] = zero
        mom[:] = zero
        nrm[:] = zero
        gi[:] = zero
        rsq[:] = zero
        start = 0
        if k == 1:
            start = _gradient_by_4(X, rows, nb, mean_x, R, w, g[0], acc[0], mom, nrm)
            for t in range(start):
                gi[0] += R[t, 0]
                rsq[0] += R[t, 0] * R[t, 0]
        for t in range(start, nb):
            x = X[rows[t]]
            wj = w[rows[t]]
            for i in range(d):
                v = x[i] - mean_x[i]
                mom[i] += wj * v
                nrm[i] += wj * (v * v)
            for o in range(k):
                r = R[t, o]
                r2 = r * r
                go = g[o]
                ao = acc[o]
                for i in range(d):
                    v = x[i] - mean_x[i]
                    go[i] += r * v
                    ao[i] += r2 * (v * v)
            for o in range(k):
                gi[o] += R[t, o]
                rsq[o] += R[t, o] * R[t, o]
        norm = zero
        for i in range(d):
            norm += nrm[i] * inv2[i]
        counters[1] += np.float64(norm)
        if centred:
            counters[1] += bw  # the intercept's constant feature
        rate = _rate(learning_rate, counters, regression)
        penalty = alpha * bw
        for o in range(k):
            for i in range(d):
                s = squared[o, i] + acc[o, i]
                gr = g[o, i]
                if alpha:
                    pen = penalty * (scale2[i] * coef[o, i])
                    gr += pen
                    s += pen * pen
                squared[o, i] = s
                gr *= inv[i]
                gr /= np.sqrt(squared[o, i] + tiny)
                g[o, i] = gr * rate
            if centred:
                squared[o, d] += rsq[o]
                gi[o] *= rate / np.sqrt(squared[o, d] + tiny)
        # Pass 3: how far the step moves the predictions, for the safe step.
        slope = 0.0
        bend = 0.0
        for t in range(nb):
            x = X[rows[t]]
            for o in range(k):
                P[t, o] = _dot(g[o], x, mean_x, zero)
                if centred:
                    P[t, o] += gi[o]
                slope += np.float64(R[t, o]) * np.float64(P[t, o])
            bend += np.float64(w[rows[t]]) * _row_bend(code, H, P, t)
        fraction = _fraction(slope, bend)
        for o in range(k):
            for i in range(d):
                coef[o, i] -= fraction * g[o, i]
            if centred:
                c[o] -= fraction * gi[o]
        if centred and not first:
            # Move the centre to the running mean; c keeps the predictions as they are.
            _move_centre(mom, counters[0], mean, mean_x, shift_x, coef, c, zeros)
    return total


@_jit
def _gradient_by_4(
    X: Any, rows: Any, nb: int, m: Any, R: Any, w: Any, g: Any, acc: Any, mom: Any, nrm: Any
) -> int:
    """Pass 2 of one output over the batch's rows four at a time (a quarter of the loads and
    stores of the sums, in a fixed order): ``g += r v``, ``acc += r^2 v^2``, ``mom += w v``,
    ``nrm += w v^2`` for the centred rows ``v``. Returns how many rows it took (a multiple
    of 4: the rest go one at a time)."""
    d = X.shape[1]
    t = 0
    while t + 4 <= nb:
        x0, x1, x2, x3 = X[rows[t]], X[rows[t + 1]], X[rows[t + 2]], X[rows[t + 3]]
        r0, r1, r2, r3 = R[t, 0], R[t + 1, 0], R[t + 2, 0], R[t + 3, 0]
        q0, q1, q2, q3 = r0 * r0, r1 * r1, r2 * r2, r3 * r3
        w0, w1, w2, w3 = w[rows[t]], w[rows[t + 1]], w[rows[t + 2]], w[rows[t + 3]]
        for i in range(d):
            mi = m[i]
            v0, v1, v2, v3 = x0[i] - mi, x1[i] - mi, x2[i] - mi, x3[i] - mi
            s0, s1, s2, s3 = v0 * v0, v1 * v1, v2 * v2, v3 * v3
            g[i] += (r0 * v0 + r1 * v1) + (r2 * v2 + r3 * v3)
            acc[i] += (q0 * s0 + q1 * s1) + (q2 * s2 + q3 * s3)
            mom[i] += (w0 * v0 + w1 * v1) + (w2 * v2 + w3 * v3)
            nrm[i] += (w0 * s0 + w1 * s1) + (w2 * s2 + w3 * s3)
        t += 4
    return t


@_jit
def _move_centre(
    mom: Any, weight: float, mean: Any, mean_x: Any, shift_x: Any, coef: Any, c: Any, zeros: Any
) -> None:
    """``mean += mom / weight``, and ``c`` moved so that no prediction changes (``zeros``: a
    vector of zeros in the dtype)."""
    zero = zeros[0]
    for i in range(mean.shape[0]):
        shift = np.float64(mom[i]) / weight
        mean[i] += shift
        mean_x[i] = mean[i]
        shift_x[i] = shift
    for o in range(coef.shape[0]):
        c[o] += _dot(coef[o], shift_x, zeros, zero)


def train_pass_compiled(
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
    """One pass of normalized AdaGrad over the rows of ``X``, in mini-batches, compiled.

    :func:`daskpar._adaptive._kernel.train_pass`'s contract and result, to float rounding:
    ``model`` is updated in place; returns the weighted sum of the rows' losses, each taken
    before the step of its batch (``with_loss``; else 0.0). Each batch is read three times
    (the module's docstring says what each pass does).
    """
    n, d = X.shape
    if n == 0:
        return 0.0
    run, per_batch, order = mini_batches(n, batch_size, rng)
    coef = model.coef
    dtype = coef.dtype
    X = np.ascontiguousarray(X, dtype=dtype)
    Y = np.ascontiguousarray(Y, dtype=dtype)
    w = np.ascontiguousarray(w, dtype=dtype)
    work = np.ascontiguousarray(coef)
    squared = np.ascontiguousarray(model.squared)
    centred = model.mean is not None
    mean = np.zeros(d) if model.mean is None else np.array(model.mean, dtype=np.float64)
    mean_x = mean.astype(dtype)
    c = model.intercept + work @ mean_x
    scale2 = (model.scale * model.scale).astype(dtype)
    counters = np.zeros(4)
    counters[:2] = model.sum_weight, model.sum_norm
    if model.target_sums is not None:
        counters[2:] = model.target_sums
    total = _dense_pass(
        X, Y, w, work, squared, scale2, mean, mean_x, c, counters,
        np.asarray(order, dtype=np.int64), run, per_batch, LOSS_CODES[loss], float(alpha),
        float(learning_rate), float(epsilon), centred, model.target_sums is not None,
        with_loss, np.finfo(dtype).tiny,
    )  # fmt: skip
    if work is not coef:
        coef[...] = work
    if squared is not model.squared:
        model.squared[...] = squared
    model.sum_weight, model.sum_norm = float(counters[0]), float(counters[1])
    if model.target_sums is not None:
        model.target_sums[:] = counters[2:]
    model.scale[:] = np.sqrt(scale2)
    model.intercept[:] = c - coef @ mean.astype(dtype)
    if centred:
        model.mean = mean
    return float(total)


# --------------------------------------------------------------------------------------------
# CSR


@_jit_inline
def _catch_up(
    step: int,
    col: int,
    coef: Any,
    squared: Any,
    scale2: Any,
    alpha: float,
    tiny: Any,
    sums: Any,
    last: Any,
) -> None:
    """``_LazyPenalty.catch_up`` for one feature: the penalties of the batches it missed."""
    before = last[col]
    missed0 = sums[0, step] - sums[0, before]
    missed1 = sums[1, step] - sums[1, before]
    missed2 = sums[2, step] - sums[2, before]
    last[col] = step + 1
    if not missed0 > 0.0:
        return
    s2 = np.float64(scale2[col])
    for o in range(coef.shape[0]):
        penalty = alpha * s2 * np.float64(coef[o, col])
        growth = penalty * penalty * missed2
        x = math.sqrt(s2 / (np.float64(squared[o, col]) + 0.5 * growth + np.float64(tiny)))
        decay = math.exp(-x * missed0 - 0.5 * x * x * missed1)
        squared[o, col] += growth
        coef[o, col] *= decay


@_jit
def _sparse_predict(
    data: Any, local: Any, starts: Any, nb: int, lcoef: Any, c: Any, P: Any, intercept: bool,
    zero: Any,
) -> None:  # fmt: skip
    """``P = X_batch coef^T (+ c)`` on the batch's renumbered entries, each row's entries
    summed in order (as scipy's product does)."""
    for t in range(nb):
        for o in range(lcoef.shape[1]):
            s = zero
            for q in range(starts[t], starts[t + 1]):
                s += data[starts[nb + 1 + t] + q - starts[t]] * lcoef[local[q], o]
            P[t, o] = s + c[o] if intercept else s


@_jit
def _sparse_pass(
    indptr: Any,
    indices: Any,
    data: Any,
    Y: Any,
    w: Any,
    coef: Any,
    squared: Any,
    scale2: Any,
    c: Any,
    counters: Any,
    order: Any,
    run: int,
    per_batch: int,
    code: int,
    alpha: float,
    learning_rate: float,
    epsilon: float,
    intercept: bool,
    regression: bool,
    with_loss: bool,
    tiny: Any,
    slot: Any,
    last: Any,
) -> float:
    """:func:`train_pass_sparse_compiled` on the CSR arrays, updated in place; ``slot`` and
    ``last`` are scratch, one int per feature (``last``: of 1 without a penalty).

    Each batch first renumbers the features it touches (a sweep of its column indices, as
    numpy's ``_renumber``), in increasing order when they are many, and copies their weights,
    squared gradients and scales into compact arrays (``l*``), which the three passes and
    the step use; the weights go back at the end of the batch. The wide arrays are then read
    and written once per touched feature, in order (a stream, not random accesses).
    """
    n = indptr.shape[0] - 1
    k, d = coef.shape
    zero = tiny - tiny
    one = tiny / tiny
    m = n // (run * per_batch)
    size = max(run * per_batch, n - m * run * per_batch)
    rows = np.empty(size, np.int64)
    n_batches = order.shape[0]
    # The most entries a batch holds: the size of the per-entry buffer.
    most = 0
    for step in range(n_batches):
        nb = _batch_rows(rows, order[step], m, run, per_batch, n)
        held = 0
        for t in range(nb):
            held += indptr[rows[t] + 1] - indptr[rows[t]]
        most = max(most, held)
    width = min(most, d)
    local = np.empty(most, np.int64)  # each entry's feature, renumbered
    starts = np.empty(2 * size + 2, np.int64)  # each row's first entry: in local, in data
    cols = np.empty(width, np.int64)
    # Each feature's number in the current batch, plus base: below base, not met yet.
    slot[:] = -1
    base = 0
    P = np.empty((size, k), data.dtype)
    R = np.empty((size, k), data.dtype)
    H = np.empty((size, k), np.float64)
    r2 = np.empty(k, data.dtype)
    gi = np.empty(k, data.dtype)
    rsq = np.empty(k, data.dtype)
    lcoef = np.empty((width, k), data.dtype)
    lsq = np.empty((width, k), data.dtype)
    lg = np.empty((width, k), data.dtype)
    lacc = np.empty((width, k), data.dtype)
    ls2 = np.empty(width, data.dtype)
    ltop = np.empty(width, data.dtype)
    lnrm = np.empty(width, data.dtype)
    sums = np.zeros((3, n_batches + 1))  # _LazyPenalty's running sums
    last[:] = 0  # the batch each feature's penalty is caught up to
    total = 0.0
    for step in range(n_batches):
        nb = _batch_rows(rows, order[step], m, run, per_batch, n)
        bw = 0.0
        for t in range(nb):
            bw += np.float64(w[rows[t]])
        first = counters[0] == 0.0
        counters[0] += bw
        if regression:
            _target_sums(Y, w, rows, nb, counters, c, first and intercept)
        # The features the batch touches, renumbered in increasing order where they are many
        # (a scan of slot: the wide arrays are then read and written in order, as a stream),
        # else in the order met; each caught up with the penalty and copied into the compact
        # arrays.
        u = 0
        for t in range(nb):
            r = rows[t]
            for e in range(indptr[r], indptr[r + 1]):
                col = indices[e]
                if slot[col] < base:  # not met yet in this batch
                    slot[col] = base
                    cols[u] = col
                    u += 1
        if d <= 32 * u:
            u = 0
            for col in range(d):
                if slot[col] >= base:
                    cols[u] = col
                    u += 1
        for loc in range(u):
            col = cols[loc]
            slot[col] = base + loc
            if alpha:
                _catch_up(step, col, coef, squared, scale2, alpha, tiny, sums, last)
            for o in range(k):
                lcoef[loc, o] = coef[o, col]
                lsq[loc, o] = squared[o, col]
                lg[loc, o] = zero
                lacc[loc, o] = zero
            ls2[loc] = scale2[col]
            ltop[loc] = zero
            lnrm[loc] = zero
        # Pass 1: the largest squares, and the predictions.
        q = 0
        for t in range(nb):
            r = rows[t]
            starts[t] = q
            starts[nb + 1 + t] = indptr[r]
            for o in range(k):
                P[t, o] = zero
            for e in range(indptr[r], indptr[r + 1]):
                loc = slot[indices[e]] - base
                v = data[e]
                local[q] = loc
                q += 1
                v2 = v * v
                if v2 > ltop[loc]:
                    ltop[loc] = v2
                for o in range(k):
                    P[t, o] += v * lcoef[loc, o]
            if intercept:
                for o in range(k):
                    P[t, o] += c[o]
        starts[nb] = q
        base += u  # the numbers of this batch's features fall below the next one's
        rescaled = False
        for loc in range(u):
            if ltop[loc] > ls2[loc]:
                if ls2[loc] > 0:
                    f = np.sqrt(ls2[loc] / ltop[loc])
                    for o in range(k):
                        lcoef[loc, o] *= f
                    rescaled = True
                ls2[loc] = ltop[loc]
        if rescaled:
            _sparse_predict(data, local, starts, nb, lcoef, c, P, intercept, zero)
        batch_loss = 0.0
        for t in range(nb):
            row = rows[t]
            batch_loss += np.float64(w[row]) * _row_loss(
                code, P, Y, t, row, w[row], epsilon, R, H, with_loss
            )
        total += batch_loss
        # Pass 2: the gradient, its squares and the normalizer's sums.
        gi[:] = zero
        rsq[:] = zero
        for t in range(nb):
            wj = w[rows[t]]
            for o in range(k):
                r2[o] = R[t, o] * R[t, o]
                gi[o] += R[t, o]
                rsq[o] += r2[o]
            offset = starts[nb + 1 + t] - starts[t]
            for q in range(starts[t], starts[t + 1]):
                loc = local[q]
                v = data[offset + q]
                v2 = v * v
                lnrm[loc] += wj * v2
                for o in range(k):
                    lg[loc, o] += R[t, o] * v
                    lacc[loc, o] += r2[o] * v2
        norm = zero
        for loc in range(u):
            if ls2[loc] > 0:
                norm += lnrm[loc] * (one / ls2[loc])
        counters[1] += np.float64(norm)
        if intercept:
            counters[1] += bw
        rate = _rate(learning_rate, counters, regression)
        penalty = alpha * bw
        for loc in range(u):
            inv = np.sqrt(one / ls2[loc]) if ls2[loc] > 0 else zero
            for o in range(k):
                s = lsq[loc, o] + lacc[loc, o]
                gr = lg[loc, o]
                if alpha:
                    pen = penalty * (ls2[loc] * lcoef[loc, o])
                    gr += pen
                    s += pen * pen
                lsq[loc, o] = s
                gr *= inv
                gr /= np.sqrt(lsq[loc, o] + tiny)
                lg[loc, o] = gr * rate
        if intercept:
            for o in range(k):
                squared[o, d] += rsq[o]
                gi[o] *= rate / np.sqrt(squared[o, d] + tiny)
        # Pass 3: how far the step moves the predictions, for the safe step.
        _sparse_predict(data, local, starts, nb, lg, gi, P, intercept, zero)
        slope = 0.0
        bend = 0.0
        for t in range(nb):
            for o in range(k):
                slope += np.float64(R[t, o]) * np.float64(P[t, o])
            bend += np.float64(w[rows[t]]) * _row_bend(code, H, P, t)
        fraction = _fraction(slope, bend)
        for loc in range(u):
            col = cols[loc]
            for o in range(k):
                coef[o, col] = lcoef[loc, o] - fraction * lg[loc, o]
                squared[o, col] = lsq[loc, o]
            scale2[col] = ls2[loc]
        if intercept:
            for o in range(k):
                c[o] -= fraction * gi[o]
        if alpha:
            a = fraction * rate * alpha * bw
            sums[0, step + 1] = sums[0, step] + a
            sums[1, step + 1] = sums[1, step] + a * a
            sums[2, step + 1] = sums[2, step] + bw * bw
    if alpha:
        for col in range(d):
            if scale2[col] != 0:
                _catch_up(n_batches, col, coef, squared, scale2, alpha, tiny, sums, last)
    return total


def train_pass_sparse_compiled(
    model: Model,
    X: sp.csr_matrix | sp.csr_array,
    Y: np.ndarray,
    w: np.ndarray,
    *,
    loss: str,
    alpha: float,
    learning_rate: float,
    epsilon: float,
    batch_size: int,
    rng: np.random.RandomState | None,
    intercept: bool,
    with_loss: bool = False,
) -> float:
    """One pass of normalized AdaGrad over the rows of CSR ``X``, uncentred, compiled.

    :func:`daskpar._adaptive._sparse.train_pass_sparse`'s contract and result, to float
    rounding: ``X`` canonical CSR (:func:`~daskpar._adaptive._sparse.as_csr`), the batches'
    entries read three times (plus once more for a batch that rescales a weight), in
    O(non-zeros) per batch plus O(features) per pass.
    """
    n = X.shape[0]
    if n == 0:
        return 0.0
    run, per_batch, order = mini_batches(n, batch_size, rng)
    coef = model.coef
    dtype = coef.dtype
    work = np.ascontiguousarray(coef)
    squared = np.ascontiguousarray(model.squared)
    scale2 = np.multiply(model.scale, model.scale, dtype=dtype)
    c = np.array(model.intercept, dtype=dtype)
    counters = np.zeros(4)
    counters[:2] = model.sum_weight, model.sum_norm
    if model.target_sums is not None:
        counters[2:] = model.target_sums
    # Scratch of one int per feature: 4 bytes while a pass's entries fit an int32.
    index = np.int32 if X.nnz < 2**31 else np.int64
    slot = np.empty(X.shape[1], index)
    last = np.empty(X.shape[1] if alpha else 1, index)
    total = _sparse_pass(
        X.indptr.astype(np.int64, copy=False), X.indices,
        X.data.astype(dtype, copy=False), np.ascontiguousarray(Y, dtype=dtype),
        np.ascontiguousarray(w, dtype=dtype), work, squared, scale2, c, counters,
        np.asarray(order, dtype=np.int64), run, per_batch, LOSS_CODES[loss], float(alpha),
        float(learning_rate), float(epsilon), bool(intercept),
        model.target_sums is not None, with_loss, np.finfo(dtype).tiny, slot, last,
    )  # fmt: skip
    if work is not coef:
        coef[...] = work
    if squared is not model.squared:
        model.squared[...] = squared
    model.sum_weight, model.sum_norm = float(counters[0]), float(counters[1])
    if model.target_sums is not None:
        model.target_sums[:] = counters[2:]
    model.intercept[:] = c
    np.sqrt(scale2, out=model.scale)
    return float(total)


# --------------------------------------------------------------------------------------------
# Dense, several models together


@_jit
def _dense_pass_stacked(
    X: Any,
    Y: Any,
    w: Any,
    coef: Any,
    squared: Any,
    scale2: Any,
    mean: Any,
    mean_x: Any,
    c: Any,
    counters: Any,
    order: Any,
    run: int,
    per_batch: int,
    code: int,
    k: int,
    alphas: Any,
    learning_rates: Any,
    epsilon: float,
    centred: bool,
    regression: bool,
    tiny: Any,
) -> None:
    """:func:`_dense_pass` of ``C`` models stacked: ``coef`` is (C k, d), model ``q``'s
    outputs rows ``q k .. q k + k - 1``; ``alphas`` and ``learning_rates`` per model. Each
    output's sums are the ones :func:`_dense_pass` takes, in the same order: every model ends
    with the bits it would have trained alone."""
    n, d = X.shape
    n_models = alphas.shape[0]
    width = coef.shape[0]
    zero = tiny - tiny
    one = tiny / tiny
    m = n // (run * per_batch)
    size = max(run * per_batch, n - m * run * per_batch)
    rows = np.empty(size, np.int64)
    P = np.empty((n_models, size, k), X.dtype)
    R = np.empty((n_models, size, k), X.dtype)
    H = np.empty((n_models, size, k), np.float64)
    top = np.empty(d, X.dtype)
    inv2 = np.zeros(d, X.dtype)
    inv = np.zeros(d, X.dtype)
    for i in range(d):
        if scale2[i] > 0:
            inv2[i] = one / scale2[i]
            inv[i] = np.sqrt(inv2[i])
    g = np.empty((width, d), X.dtype)
    acc = np.empty((width, d), X.dtype)
    mom = np.empty(d, X.dtype)
    nrm = np.empty(d, X.dtype)
    gi = np.empty(width, X.dtype)
    rsq = np.empty(width, X.dtype)
    shift_x = np.empty(d, X.dtype)
    zeros = np.zeros(d, X.dtype)
    slope = np.empty(n_models)
    bend = np.empty(n_models)
    for j in order:
        nb = _batch_rows(rows, j, m, run, per_batch, n)
        bw = 0.0
        for t in range(nb):
            bw += np.float64(w[rows[t]])
        first = counters[0] == 0.0
        counters[0] += bw
        if centred and first:
            mom[:] = zero
            for t in range(nb):
                x = X[rows[t]]
                wj = w[rows[t]]
                for i in range(d):
                    mom[i] += wj * (x[i] - mean_x[i])
            _move_centre(mom, bw, mean, mean_x, shift_x, coef, c, zeros)
        if regression:
            _target_sums(Y, w, rows, nb, counters, c, first and centred)
        # Pass 1: the column max of the squares, and every model's predictions.
        top[:] = zero
        for t in range(nb):
            x = X[rows[t]]
            for i in range(d):
                v = x[i] - mean_x[i]
                top[i] = max(top[i], v * v)
            for q in range(n_models):
                for o in range(k):
                    P[q, t, o] = _dot(coef[q * k + o], x, mean_x, zero)
                    if centred:
                        P[q, t, o] += c[q * k + o]
        rescaled = False
        for i in range(d):
            if top[i] > scale2[i]:
                if scale2[i] > 0:
                    f = np.sqrt(scale2[i] / top[i])
                    for o in range(width):
                        coef[o, i] *= f
                    rescaled = True
                scale2[i] = top[i]
                inv2[i] = one / scale2[i]
                inv[i] = np.sqrt(inv2[i])
        if rescaled:
            for t in range(nb):
                x = X[rows[t]]
                for q in range(n_models):
                    for o in range(k):
                        P[q, t, o] = _dot(coef[q * k + o], x, mean_x, zero)
                        if centred:
                            P[q, t, o] += c[q * k + o]
        for q in range(n_models):
            Pq, Rq, Hq = P[q], R[q], H[q]
            for t in range(nb):
                row = rows[t]
                _row_loss(code, Pq, Y, t, row, w[row], epsilon, Rq, Hq, False)
        # Pass 2: every model's gradient and squares; the normalizer's sums and the mean's
        # shift once. One output: rows four at a time, as _gradient_by_4 groups them.
        g[:] = zero
        acc[:] = zero
        mom[:] = zero
        nrm[:] = zero
        gi[:] = zero
        rsq[:] = zero
        start = 0
        if k == 1:
            while start + 4 <= nb:
                t = start
                x0, x1, x2, x3 = X[rows[t]], X[rows[t + 1]], X[rows[t + 2]], X[rows[t + 3]]
                w0, w1, w2, w3 = w[rows[t]], w[rows[t + 1]], w[rows[t + 2]], w[rows[t + 3]]
                for i in range(d):
                    mi = mean_x[i]
                    v0, v1, v2, v3 = x0[i] - mi, x1[i] - mi, x2[i] - mi, x3[i] - mi
                    s0, s1, s2, s3 = v0 * v0, v1 * v1, v2 * v2, v3 * v3
                    mom[i] += (w0 * v0 + w1 * v1) + (w2 * v2 + w3 * v3)
                    nrm[i] += (w0 * s0 + w1 * s1) + (w2 * s2 + w3 * s3)
                for q in range(n_models):
                    r0, r1, r2, r3 = R[q, t, 0], R[q, t + 1, 0], R[q, t + 2, 0], R[q, t + 3, 0]
                    e0, e1, e2, e3 = r0 * r0, r1 * r1, r2 * r2, r3 * r3
                    gq = g[q]
                    aq = acc[q]
                    for i in range(d):
                        mi = mean_x[i]
                        v0, v1, v2, v3 = x0[i] - mi, x1[i] - mi, x2[i] - mi, x3[i] - mi
                        gq[i] += (r0 * v0 + r1 * v1) + (r2 * v2 + r3 * v3)
                        aq[i] += (e0 * (v0 * v0) + e1 * (v1 * v1)) + (
                            e2 * (v2 * v2) + e3 * (v3 * v3)
                        )
                start += 4
            for q in range(n_models):
                for t in range(start):
                    gi[q] += R[q, t, 0]
                    rsq[q] += R[q, t, 0] * R[q, t, 0]
        for t in range(start, nb):
            x = X[rows[t]]
            wj = w[rows[t]]
            for i in range(d):
                v = x[i] - mean_x[i]
                mom[i] += wj * v
                nrm[i] += wj * (v * v)
            for q in range(n_models):
                for o in range(k):
                    r = R[q, t, o]
                    r2 = r * r
                    go = g[q * k + o]
                    ao = acc[q * k + o]
                    for i in range(d):
                        v = x[i] - mean_x[i]
                        go[i] += r * v
                        ao[i] += r2 * (v * v)
                for o in range(k):
                    gi[q * k + o] += R[q, t, o]
                    rsq[q * k + o] += R[q, t, o] * R[q, t, o]
        norm = zero
        for i in range(d):
            norm += nrm[i] * inv2[i]
        counters[1] += np.float64(norm)
        if centred:
            counters[1] += bw
        for q in range(n_models):
            rate = _rate(learning_rates[q], counters, regression)
            alpha = alphas[q]
            penalty = alpha * bw
            for o in range(q * k, q * k + k):
                for i in range(d):
                    s = squared[o, i] + acc[o, i]
                    gr = g[o, i]
                    if alpha:
                        pen = penalty * (scale2[i] * coef[o, i])
                        gr += pen
                        s += pen * pen
                    squared[o, i] = s
                    gr *= inv[i]
                    gr /= np.sqrt(squared[o, i] + tiny)
                    g[o, i] = gr * rate
                if centred:
                    squared[o, d] += rsq[o]
                    gi[o] *= rate / np.sqrt(squared[o, d] + tiny)
        # Pass 3: how far each model's step moves its predictions, for its safe step.
        slope[:] = 0.0
        bend[:] = 0.0
        for t in range(nb):
            x = X[rows[t]]
            wt = np.float64(w[rows[t]])
            for q in range(n_models):
                for o in range(k):
                    P[q, t, o] = _dot(g[q * k + o], x, mean_x, zero)
                    if centred:
                        P[q, t, o] += gi[q * k + o]
                    slope[q] += np.float64(R[q, t, o]) * np.float64(P[q, t, o])
                bend[q] += wt * _row_bend(code, H[q], P[q], t)
        for q in range(n_models):
            fraction = _fraction(slope[q], bend[q])
            for o in range(q * k, q * k + k):
                for i in range(d):
                    coef[o, i] -= fraction * g[o, i]
                if centred:
                    c[o] -= fraction * gi[o]
        if centred and not first:
            _move_centre(mom, counters[0], mean, mean_x, shift_x, coef, c, zeros)


def train_pass_stacked_compiled(
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
    """:func:`daskpar._adaptive._kernel.train_pass_stacked`, compiled: every batch read three
    times for all the models, and each model's sums taken as :func:`train_pass_compiled`
    takes them alone (the same bits on one machine)."""
    n, d = X.shape
    if n == 0 or not models:
        return
    lead = models[0]
    run, per_batch, order = mini_batches(n, batch_size, rng)
    k = lead.coef.shape[0]
    coef = np.concatenate([model.coef for model in models])
    squared = np.concatenate([model.squared for model in models])
    dtype = coef.dtype
    X = np.ascontiguousarray(X, dtype=dtype)
    Y = np.ascontiguousarray(Y, dtype=dtype)
    w = np.ascontiguousarray(w, dtype=dtype)
    centred = lead.mean is not None
    mean = np.zeros(d) if lead.mean is None else np.array(lead.mean, dtype=np.float64)
    mean_x = mean.astype(dtype)
    c = np.concatenate([model.intercept + model.coef @ mean_x for model in models])
    scale2 = (lead.scale * lead.scale).astype(dtype)
    counters = np.zeros(4)
    counters[:2] = lead.sum_weight, lead.sum_norm
    if lead.target_sums is not None:
        counters[2:] = lead.target_sums
    _dense_pass_stacked(
        X, Y, w, coef, squared, scale2, mean, mean_x, c, counters,
        np.asarray(order, dtype=np.int64), run, per_batch, LOSS_CODES[loss], k,
        np.asarray(alphas, dtype=np.float64), np.asarray(learning_rates, dtype=np.float64),
        float(epsilon), centred, lead.target_sums is not None, np.finfo(dtype).tiny,
    )  # fmt: skip
    scale = np.sqrt(scale2)
    for q, model in enumerate(models):
        outputs = slice(q * k, (q + 1) * k)
        model.coef[...] = coef[outputs]
        model.squared[...] = squared[outputs]
        model.sum_weight, model.sum_norm = float(counters[0]), float(counters[1])
        if model.target_sums is not None:
            model.target_sums = counters[2:].copy()
        model.scale[:] = scale
        model.intercept[:] = c[outputs] - model.coef @ mean.astype(dtype)
        if centred:
            model.mean = mean.copy()
