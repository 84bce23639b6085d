"""The adaptive learner on CSR rows: one pass of normalized AdaGrad in O(nnz).

:func:`train_pass_sparse` is :func:`daskpar._adaptive._kernel.train_pass` for a
``scipy.sparse`` CSR block. Each mini-batch costs the non-zeros of its rows plus the number of
distinct features they touch: the batch's columns are renumbered once (:func:`_renumber`),
the touched slices of ``coef``, ``scale`` and the squared gradients are updated, and no
array as wide as the feature space is made per batch.

**Why no centring.** The dense path centres the rows on their running mean. Centred sparse
rows are dense (``0 - mean_i`` for every absent feature), and every absent feature with a
non-zero mean would move at every step, through a step divided by its own AdaGrad sum that
the step itself feeds: a recursion per feature that no per-batch scalar summarizes, so it
cannot be deferred to the feature's next appearance. Sparse rows are therefore trained as
they are, as Vowpal Wabbit and scikit-learn's sparse scalers (``with_mean=False``) treat
them; the intercept is Vowpal Wabbit's constant feature (value 1, scale 1). ``mean_`` is left
as it was.

**What equals the dense path.** Without centring (``fit_intercept=False``) and penalty
(``alpha=0``), every update of the dense path is a no-op on a feature that no row of the
batch holds: its gradient, squared gradients, largest ``|x|`` and share of the normalizer
are sums of zeros, and a step of zero leaves its weight. So this pass gives the dense
pass's model on the same rows, to float rounding (the sums run in another order). With an
intercept it gives the dense model of ``[X, 1]`` without one, the last weight being the
intercept.

**The penalty.** ``alpha > 0`` penalizes, in the dense path, every feature seen, at every
step, by ``alpha * W * s_i^2 * coef_i`` (``W`` the batch's weight) divided by the square root
of that feature's AdaGrad sum, which the penalty's own square also grows: not a product of
per-batch factors, as the plain SGD decay that Vowpal Wabbit and scikit-learn defer with one
global scale is, so it cannot be deferred exactly. :class:`_LazyPenalty` defers it with the
feature's AdaGrad sum held at its value when last touched (grown by half the missed
penalties' squares) and the product of the missed factors kept to the second order. Measured
after three passes over 3,000 rows of 2,000 features with 10 non-zeros each (a feature in
about a quarter of the 64-row batches), the largest weight differs from the dense path's,
relative to the largest weight, by 4e-8 (``log_loss``) and 4e-7 (``squared_error``) at
``alpha=1e-6`` (the default), 3e-6 and 8e-4 at ``1e-4``, 3e-2 and 5e-3 at ``1e-2``, where
penalizing only the touched features differs by 1e-3, 2e-3; 0.1, 0.03; 1.5, 1.5. (``hinge``
differs by 0.09 either way, even at ``1e-6``: its derivative jumps, so any rounding-sized
difference can flip a row's margin, and the fits part.) The catch-up costs ``O(k u)`` per
batch and ``O(k d)`` once per pass, at its end; a feature's last batch is 4 bytes of it.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from ._kernel import LOSSES, Model, mini_batches, normalized_rate, target_scale

__all__ = ["as_csr", "train_pass_sparse"]


def as_csr(X: sp.csr_matrix | sp.csr_array) -> sp.csr_matrix | sp.csr_array:
    """``X`` with its duplicates summed and its column indices sorted (a copy if needed).

    The squared features of a row are only right once each (row, column) is stored once.
    """
    if X.has_canonical_format:
        return X
    X = X.copy()
    X.sum_duplicates()
    return X


def _take_rows(
    indptr: np.ndarray, indices: np.ndarray, data: np.ndarray, rows: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The CSR arrays ``(indptr, indices, data)`` of ``rows``: O(their non-zeros + rows)."""
    starts, ends = indptr[rows], indptr[rows + 1]
    lengths = ends - starts
    out_ptr = np.zeros(len(rows) + 1, dtype=np.int64)
    np.cumsum(lengths, out=out_ptr[1:])
    # Position k of the batch reads stored entry starts[row] + (k - out_ptr[row]).
    offsets = np.repeat(starts - out_ptr[:-1], lengths)
    take = np.arange(out_ptr[-1], dtype=np.int64) + offsets
    return out_ptr, indices[take], data[take]


def _renumber(columns: np.ndarray, marker: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct ``columns``, sorted, and each entry's index among them: ``marker`` (one
    slot per feature, any content) is scratch.

    ``np.unique`` would argsort all the batch's column indices, the most of a pass's time on
    wide data; this sorts only the distinct ones, found in O(len(columns)).
    """
    positions = np.arange(len(columns), dtype=marker.dtype)
    # Of the writes to one slot, one survives; reading them back keeps one entry per column.
    marker[columns] = positions
    distinct = np.sort(columns[marker[columns] == positions])
    marker[distinct] = np.arange(len(distinct), dtype=marker.dtype)
    return distinct, marker[columns]


def _batch_rows(j: int, m: int, run: int, per_batch: int, n: int) -> np.ndarray:
    """The rows of batch ``j`` in the dense path's order (:func:`_kernel.mini_batches`)."""
    if j >= m:
        return np.arange(m * run * per_batch, n)
    first = np.arange(per_batch)[:, None] * (m * run) + j * run
    return (first + np.arange(run)).ravel()


class _LazyPenalty:
    """The dense path's penalty on the features a batch does not touch, applied when they
    are next touched, and to every feature at the end of the pass.

    In a batch that does not touch feature ``i``, the dense path moves its weight by
    ``coef_i *= 1 - a x_i`` and adds ``(alpha W s_i^2 coef_i)^2`` to its squared gradients,
    where ``a = fraction * rate * alpha * W`` is the batch's (``W`` its weight) and
    ``x_i = s_i / sqrt(G_i)`` the feature's. While the feature is untouched, ``s_i`` is fixed
    and ``G_i`` grows only by the penalty's squares, negligible against the gradients'
    (``alpha`` is small); with ``x_i`` held at its value when last touched, the missed
    batches multiply the weight by ``prod(1 - a x) = exp(-x sum(a) - x^2 sum(a^2) / 2 -
    ...)``, kept to the second order, and add ``(alpha s^2 coef)^2 sum(W^2)``. So the lazy
    update needs three running sums over the batches and, per feature, the batch it was
    last brought up to date at.
    """

    def __init__(self, n_batches: int, n_features: int) -> None:
        # Running sums over the batches of a, a^2 and W^2: entry t sums the first t.
        self.sums = np.zeros((3, n_batches + 1))
        self.last = np.zeros(n_features, dtype=np.int32)

    def record(self, step: int, a: float, weight: float) -> None:
        self.sums[:, step + 1] = self.sums[:, step] + (a, a * a, weight * weight)

    def catch_up(
        self,
        step: int,
        cols: np.ndarray,
        coef: np.ndarray,
        squared: np.ndarray,
        scale2: np.ndarray,
        alpha: float,
        tiny: float,
    ) -> None:
        """Bring ``coef`` and ``squared`` (the slices of ``cols``) up to batch ``step``."""
        missed = self.sums[:, step][:, None] - self.sums[:, self.last[cols]]
        self.last[cols] = step + 1
        behind = missed[0] > 0
        if not behind.any():
            return
        penalty = alpha * scale2.astype(np.float64) * coef
        growth = np.where(behind, penalty * penalty * missed[2], 0.0)
        # x with the squared gradients halfway through the missed batches: where the
        # gradients have left them near zero, the penalty's own squares set the step.
        with np.errstate(over="ignore", invalid="ignore"):  # where coef and G are 0
            x = np.sqrt(scale2 / (squared + 0.5 * growth + tiny))
            decay = np.exp(-x * missed[0] - 0.5 * x * x * missed[1])
        squared += growth.astype(squared.dtype)
        coef *= np.where(behind, decay, 1.0).astype(coef.dtype)


def train_pass_sparse(
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
    """One pass of normalized AdaGrad over the rows of CSR ``X``, uncentred, in O(nnz).

    The arguments are :func:`daskpar._adaptive._kernel.train_pass`'s, with ``X`` a canonical
    CSR matrix or array (:func:`as_csr`) and ``intercept`` whether to learn an intercept
    (``model.mean`` is not read: sparse rows are not centred). The mini-batches are the dense
    pass's (same rows, same order). Returns the weighted sum of the rows' losses, each
    taken before the step of its batch (``with_loss``; else 0.0).

    Per batch: the batch's rows are cut out of the CSR arrays, its columns renumbered to the
    ``u`` features it touches, and the dense pass's four products run on that ``rows x u``
    matrix against the touched slices of the model; only those slices are written back.
    """
    dloss = LOSSES[loss]
    n = X.shape[0]
    total_loss = 0.0
    if n == 0:
        return total_loss
    run, per_batch, order = mini_batches(n, batch_size, rng)
    m = n // (run * per_batch)
    k_out = Y.shape[1]
    coef = model.coef
    coef_sq, intercept_sq = model.squared[:, :-1], model.squared[:, -1]
    dtype = coef.dtype
    tiny = np.finfo(dtype).tiny
    # The squared scale, kept in the model's dtype as the dense pass keeps it.
    scale2 = (model.scale * model.scale).astype(dtype, copy=False)
    c = model.intercept
    indptr = X.indptr.astype(np.int64, copy=False)
    indices, data = X.indices, X.data.astype(dtype, copy=False)
    # One slot per feature, reused by every batch to renumber its columns without a sort.
    marker = np.empty(X.shape[1], dtype=np.int32 if X.nnz < 2**31 else np.int64)
    lazy = _LazyPenalty(len(order), X.shape[1]) if alpha else None
    for step, j in enumerate(order):
        rows = _batch_rows(j, m, run, per_batch, n)
        Yb, wb = Y[rows], w[rows]
        b_ptr, b_cols, b_data = _take_rows(indptr, indices, data, rows)
        cols, local = _renumber(b_cols, marker)
        u = len(cols)
        Xb = sp.csr_matrix((b_data, local, b_ptr), shape=(len(rows), u))
        sq = sp.csr_matrix((b_data * b_data, Xb.indices, b_ptr), shape=Xb.shape)
        batch_weight = float(wb.sum())
        first = model.sum_weight == 0.0
        model.sum_weight += batch_weight
        coef_t, coef_sq_t, scale2_t = coef[:, cols], coef_sq[:, cols], scale2[cols]
        if lazy is not None:
            lazy.catch_up(step, cols, coef_t, coef_sq_t, scale2_t, alpha, tiny)
        # The largest square of each touched column: the absent rows add zeros.
        top = np.zeros(u, dtype)
        np.maximum.at(top, Xb.indices, sq.data)
        if (top > scale2_t).any():
            new = np.maximum(scale2_t, top)
            coef_t *= np.sqrt(np.divide(scale2_t, new, out=np.ones_like(new), where=scale2_t > 0))
            scale2_t = new
        inv_scale2 = np.divide(1.0, scale2_t, out=np.zeros_like(scale2_t), where=scale2_t > 0)
        inv_scale = np.sqrt(inv_scale2)
        if model.target_sums is not None:
            yb = Yb[:, 0].astype(np.float64)
            model.target_sums += (float(wb @ yb), float(wb @ (yb * yb)))
            if first and intercept:
                c[:] = model.target_sums[0] / model.sum_weight
        rw = np.empty((len(wb), k_out + 1), dtype)
        P = np.asarray(Xb @ coef_t.T, dtype=dtype)
        if intercept:
            P += c
        R = rw[:, :k_out]
        derivative, batch_loss, curvature = dloss(P, Yb, wb if with_loss else None, epsilon)
        np.multiply(derivative, wb[:, None], out=R)
        total_loss += batch_loss
        rw[:, k_out] = wb
        g = np.asarray(Xb.T @ R, dtype=dtype).T.copy()
        gi = R.sum(axis=0)
        rw2 = rw * rw
        rw2[:, k_out] = wb
        squares = np.asarray(sq.T @ rw2, dtype=dtype).T
        coef_sq_t += squares[:k_out]
        model.sum_norm += float(squares[k_out] @ inv_scale2)
        if intercept:
            model.sum_norm += batch_weight  # the intercept's constant feature
        rate = normalized_rate(learning_rate, model.sum_weight, model.sum_norm)
        if model.target_sums is not None:
            rate *= target_scale(model.target_sums, model.sum_weight)
        if alpha:
            penalty = (alpha * batch_weight) * (scale2_t * coef_t)
            g += penalty
            coef_sq_t += penalty * penalty
        g *= inv_scale
        g /= np.sqrt(coef_sq_t + tiny)
        g *= rate
        dP = np.asarray(Xb @ g.T, dtype=dtype)
        if intercept:
            intercept_sq += rw2[:, :k_out].sum(axis=0)
            gi *= rate / np.sqrt(intercept_sq + tiny)
            dP += gi
        # The dense pass's safe step: a Newton step along the batch's step, capped at 1.
        slope = float(np.vdot(R, dP))
        bend = float(wb @ curvature(dP))
        fraction = slope / bend if 0.0 < slope < bend else 1.0
        coef_t -= fraction * g
        coef[:, cols] = coef_t
        coef_sq[:, cols] = coef_sq_t
        scale2[cols] = scale2_t
        if intercept:
            c -= fraction * gi
        if lazy is not None:
            lazy.record(step, fraction * rate * alpha * batch_weight, batch_weight)
    if lazy is not None:
        seen = np.flatnonzero(scale2)
        coef_seen, coef_sq_seen = coef[:, seen], coef_sq[:, seen]
        lazy.catch_up(len(order), seen, coef_seen, coef_sq_seen, scale2[seen], alpha, tiny)
        coef[:, seen], coef_sq[:, seen] = coef_seen, coef_sq_seen
    np.sqrt(scale2, out=model.scale)
    return total_loss
