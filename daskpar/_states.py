"""Mergeable states: what one partition contributes, and how two contributions combine.

Every stage of daskpar has the same shape::

    lazy blocks --map--> per-partition state --combine (tree)--> one state --finalize--> result

A state is a small frozen dataclass of sums. ``a.combine(b)`` is associative, so the tree built
in :mod:`daskpar._graph` may group partitions in any way; where the sums are exact (counts,
moments) the result does not depend on the partitioning or ``split_every`` beyond float
rounding, and because the tree's shape depends only on partition indices, the rounding itself is
the same on one worker or a hundred.

``None`` stands for an empty partition and is the identity of every ``combine``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import reduce
from typing import Any, Generic, Protocol, Self, TypeVar

import numpy as np
from scipy import linalg, sparse
from sklearn.utils.sparsefuncs import mean_variance_axis

__all__ = [
    "Extrema",
    "LabelSet",
    "LeastSquaresState",
    "Moments",
    "MomentsByClass",
    "State",
    "StateTuple",
    "SumState",
    "TrialState",
    "Weighted",
    "combine_all",
    "combine_states",
    "r_factor",
]


class State(Protocol):
    """What every per-partition state offers: an associative ``combine``."""

    def combine(self, other: Self, /) -> Self: ...


S = TypeVar("S", bound=State)


def combine_states(states: Sequence[S | None]) -> S | None:
    """Merge the states of neighbouring partitions: one node of the tree (``None``: empty)."""
    return combine_all(states)


def combine_all(states: Sequence[S | None]) -> S | None:
    """Combine ``states`` left to right, skipping empty partitions (``None``)."""
    present = [s for s in states if s is not None]
    if not present:
        return None
    return reduce(lambda a, b: a.combine(b), present)


@dataclass(frozen=True, eq=False)
class SumState:
    """Named arrays that add up across partitions, and the samples behind them.

    Serves both the weighted average of incremental models (each partition contributes
    ``weight * coef_``; the average is ``sums / weight``) and the exact counts of the
    discrete naive Bayes models. ``n_samples`` counts rows (the steps an SGD model took);
    ``weight`` is the sum of their sample weights, ``None`` when the rows are unweighted.

    ``prototype`` is the estimator one partition fitted; it carries everything that is the same
    on every partition (``classes_``, ``n_features_in_``, the loss object), so that finalize
    only has to put the merged arrays into it. The leftmost partition's prototype is kept, so
    the choice is deterministic.

    A state may leave arrays out: they count as zeros. A partition whose rows all weigh zero
    gives one with rows (and weight 0) but no arrays, as it learned nothing.
    """

    n_samples: int
    sums: Mapping[str, np.ndarray]
    prototype: Any = field(default=None, repr=False)
    weight: float | None = None

    def combine(self, other: SumState, /) -> SumState:
        sums = dict(self.sums)
        for k, v in other.sums.items():
            sums[k] = sums[k] + v if k in sums else v
        return SumState(
            self.n_samples + other.n_samples,
            sums,
            self.prototype if self.prototype is not None else other.prototype,
            None
            if self.weight is None and other.weight is None
            else self.total_weight + other.total_weight,
        )

    @property
    def total_weight(self) -> float:
        """The sum of the sample weights, or the number of rows without weights."""
        return float(self.n_samples) if self.weight is None else self.weight

    def means(self) -> dict[str, np.ndarray]:
        """The sample-weighted averages ``sums / total_weight``."""
        return {k: v / self.total_weight for k, v in self.sums.items()}


def _two_sum(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``s = fl(a + b)`` and its rounding error ``e``: ``a + b == s + e`` exactly (Knuth)."""
    s = a + b
    b_virtual = s - a
    return s, (a - (s - b_virtual)) + (b - b_virtual)


#: float64 values per row slab when a block's moments are summed: 64 KiB, in cache, and below
#: glibc's 128 KiB mmap threshold, which distributed's workers pin (MALLOC_TRIM_THRESHOLD_) so
#: that every larger temporary would be a fresh mmap and page faults.
_SLAB_VALUES = 1 << 13


@dataclass(frozen=True, eq=False)
class Moments:
    """Count, mean and sum of squared deviations (M2) of ``k`` groups of ``d`` features.

    ``combine`` is the pairwise update of Chan, Golub and LeVeque (1979), which stays accurate
    where summing ``x`` and ``x**2`` would cancel catastrophically.

    ``count`` is the number of samples of each group, shape ``(k,)``, or the sum of their
    weights. Where values are missing (NaN, left out of every sum) it is kept per feature,
    shape ``(k, d)``; the two shapes combine with each other.

    The mean is carried as an unevaluated sum ``mean + mean_lo`` (``mean_lo`` is ``None``,
    meaning zeros, for states built by hand). The merge uses the difference of two partial
    means; for a feature far from zero relative to its spread (mean 1e6, standard deviation
    1e-3) a plain float64 mean keeps too few of that difference's digits and M2 loses about
    1e-8 of relative accuracy, while the low-order part keeps it near 1e-15.
    """

    count: np.ndarray  # (k,) or (k, d)
    mean: np.ndarray  # (k, d)
    m2: np.ndarray  # (k, d)
    mean_lo: np.ndarray | None = None  # (k, d)

    @classmethod
    def of(cls, X: np.ndarray, sample_weight: np.ndarray | None = None) -> Moments:
        """The moments of the rows of ``X`` as one group, ignoring NaN.

        ``sample_weight`` (one per row) makes ``count`` the sum of the weights and the mean
        and M2 weighted ones, as scikit-learn's ``StandardScaler`` computes them.
        """
        n, d = X.shape
        if n == 0:
            zeros = np.zeros((1, d))
            return cls(np.zeros(1), zeros, zeros.copy())
        w = None if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
        if w is not None and bool(np.all(w == 1.0)):
            w = None  # the same sums, added in the same order as without weights
        # Row slabs keep the float64 temporaries in cache: the block is read twice (mean,
        # then deviations) without materialising float64 copies of all of it.
        step = max(16, _SLAB_VALUES // max(d, 1))
        slabs = [slice(i, i + step) for i in range(0, n, step)]
        has_missing = bool(np.isnan(X).any()) if X.dtype.kind == "f" else False

        def slab(rows: slice) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
            x = np.asarray(X[rows], dtype=np.float64)
            ws = None if w is None else w[rows]
            if not has_missing:
                return x, None, ws
            present = ~np.isnan(x)
            return np.where(present, x, 0.0), present, ws

        def total(a: np.ndarray, ws: np.ndarray | None) -> np.ndarray:
            return a.sum(axis=0) if ws is None else ws @ a

        sums = np.zeros(d)
        counts = np.zeros(d)
        for rows in slabs:
            x, present, ws = slab(rows)
            sums += total(x, ws)
            if present is not None:
                counts += total(present.astype(np.float64), ws)
        if has_missing:
            count = counts[None, :]
        else:
            count = np.array([float(n) if w is None else float(w.sum())])
        per_feature = count.reshape(-1)

        def divide(a: np.ndarray) -> np.ndarray:
            with np.errstate(invalid="ignore", divide="ignore"):
                return np.where(per_feature > 0, a / per_feature, 0.0)

        # The corrected two-pass algorithm (as scikit-learn's): deviations from a first
        # estimate of the mean; their mean becomes the mean's low-order part.
        mean = divide(sums)
        correction = np.zeros(d)
        squares = np.zeros(d)
        for rows in slabs:
            x, present, ws = slab(rows)
            dev = x - mean
            if present is not None:
                dev = np.where(present, dev, 0.0)
            correction += total(dev, ws)
            squares += total(dev * dev, ws)
        # A sum of squares; the correction can round it a hair below zero for a constant feature.
        m2 = np.maximum(squares - divide(correction * correction), 0.0)
        mean, mean_lo = _two_sum(mean, divide(correction))
        return cls(count, mean[None, :], m2[None, :], mean_lo[None, :])

    @classmethod
    def of_sparse(cls, X: Any, sample_weight: np.ndarray | None = None) -> Moments:
        """:meth:`of` for a scipy.sparse ``X``: the implicit zeros are values, NaN is left
        out, and ``X`` is never densified (scikit-learn's ``mean_variance_axis``, the sums
        of scikit-learn's own sparse ``StandardScaler``)."""
        n, d = X.shape
        if n == 0:
            zeros = np.zeros((1, d))
            return cls(np.zeros(1), zeros, zeros.copy())
        csr = sparse.csr_matrix(X, dtype=np.float64)
        w = None if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
        mean, variance, counts = mean_variance_axis(csr, axis=0, weights=w, return_sum_weights=True)
        counts = np.asarray(counts, dtype=np.float64)
        has_missing = bool(np.isnan(csr.data).any())
        count = counts[None, :] if has_missing else np.array([float(n) if w is None else w.sum()])
        m2 = np.asarray(variance, dtype=np.float64) * counts
        return cls(count, np.asarray(mean, dtype=np.float64)[None, :], m2[None, :])

    def _count_2d(self) -> np.ndarray:
        return self.count if self.count.ndim == 2 else self.count[:, None]

    def _lo(self) -> np.ndarray:
        return np.zeros_like(self.mean) if self.mean_lo is None else self.mean_lo

    def combine(self, other: Moments, /) -> Moments:
        n_self, n_other = self._count_2d(), other._count_2d()
        count = n_self + n_other
        with np.errstate(invalid="ignore", divide="ignore"):
            w_other = np.where(count > 0, n_other / count, 0.0)
            cross = np.where(count > 0, n_self * n_other / count, 0.0)
        # delta = other's mean - self's mean, from the two-part means without losing digits.
        delta_hi, delta_err = _two_sum(other.mean, -self.mean)
        delta_lo = delta_err + (other._lo() - self._lo())
        mean, err = _two_sum(self.mean, delta_hi * w_other)
        mean, mean_lo = _two_sum(mean, err + self._lo() + delta_lo * w_other)
        delta = delta_hi + delta_lo
        m2 = self.m2 + other.m2 + delta**2 * cross
        if self.count.ndim == 1 and other.count.ndim == 1:
            count = count[:, 0]
        return Moments(count, mean, m2, mean_lo)

    def variance(self, ddof: int = 0) -> np.ndarray:
        """The per-group (per-group and feature) variance, 0 where there are no samples."""
        denom = self._count_2d() - ddof
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(denom > 0, self.m2 / denom, 0.0)


@dataclass(frozen=True, eq=False)
class MomentsByClass:
    """Per-class moments of X and the moments of all of X: Gaussian naive Bayes' statistics."""

    by_class: Moments
    overall: Moments

    @classmethod
    def of(
        cls,
        X: np.ndarray,
        y: np.ndarray,
        classes: np.ndarray,
        sample_weight: np.ndarray | None = None,
    ) -> MomentsByClass:
        """Weighted per-class moments; the moments of all of X are unweighted, as
        scikit-learn's ``GaussianNB`` takes its ``epsilon_`` from the plain variance of X."""
        w = sample_weight
        parts = [Moments.of(X[y == c], None if w is None else w[y == c]) for c in classes]
        by_class = Moments(
            np.concatenate([p.count for p in parts]),
            np.concatenate([p.mean for p in parts]),
            np.concatenate([p.m2 for p in parts]),
        )
        return cls(by_class, Moments.of(X))

    def combine(self, other: MomentsByClass, /) -> MomentsByClass:
        return MomentsByClass(
            self.by_class.combine(other.by_class), self.overall.combine(other.overall)
        )


@dataclass(frozen=True, eq=False)
class Extrema:
    """Per-feature minimum and maximum ignoring NaN (NaN where a feature had no value)."""

    n_samples: int
    data_min: np.ndarray  # (d,)
    data_max: np.ndarray  # (d,)

    def combine(self, other: Extrema, /) -> Extrema:
        return Extrema(
            self.n_samples + other.n_samples,
            np.fmin(self.data_min, other.data_min),
            np.fmax(self.data_max, other.data_max),
        )


@dataclass(frozen=True, eq=False)
class LabelSet:
    """The sorted distinct labels seen.

    Also the set of a pass's block digests (``"<block>:<array>:<digest>"`` strings, see
    :class:`~daskpar._pass.DataCheck`): the union it merges by is what they need.
    """

    labels: np.ndarray

    def combine(self, other: LabelSet, /) -> LabelSet:
        return LabelSet(np.union1d(self.labels, other.labels))


def r_factor(A: np.ndarray) -> np.ndarray:
    """The triangular factor R of ``A = QR``, shape ``(min(m, n), n)`` (``A`` is overwritten).

    scipy's ``mode="r"`` returns an ``m x n`` R whose rows below ``n`` are zeros; those rows
    are dropped here, so that a state built from a tall block is ``n x n``, not block-sized.
    """
    r = linalg.qr(A, mode="r", overwrite_a=True, check_finite=False)[0]
    return r if r.shape[0] <= r.shape[1] else r[: r.shape[1]].copy()


@dataclass(frozen=True, eq=False)
class LeastSquaresState:
    """Total weight, mean and the triangular factor of the centred rows of ``Z = [X, y]``.

    ``r`` is an upper-triangular ``R`` with ``R^T R = sum_i w_i (z_i - mean)(z_i - mean)^T``:
    the co-moment matrix, kept as a QR factor rather than formed, so that solving least
    squares from it loses digits like ``lstsq`` does (with the condition number of X), not like
    the normal equations (with its square). ``combine`` is Chan et al.'s pairwise update in
    factored form: stacking ``R_a``, ``R_b`` and ``sqrt(w_a w_b / w) (mean_b - mean_a)`` and
    re-factoring gives the merged co-moment matrix, so centring needs no second pass (this is
    the tall-and-skinny QR of Demmel et al., with the centring folded in).

    Its size is ``(d + 1)^2 + d + 2`` numbers for ``d`` features, whatever the rows.
    """

    weight: float
    mean: np.ndarray  # (d,)
    r: np.ndarray  # (<= d, d), upper triangular

    @classmethod
    def of(
        cls, X: np.ndarray, y: np.ndarray, sample_weight: np.ndarray | None = None
    ) -> LeastSquaresState:
        """The state of the rows of ``[X, y]``, in row slabs.

        The block is read twice (mean, then the factor), a slab at a time: the float64
        temporaries stay a few times ``(d + 1)^2`` however many rows the block has, and the
        factor of each slab is stacked under the running one (TSQR within the block).
        """
        n, d = X.shape[0], X.shape[1] + 1
        w = None if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
        weight = float(n) if w is None else float(w.sum())
        if weight == 0.0:
            return cls(0.0, np.zeros(d), np.zeros((0, d)))
        # Slabs of about 2 MiB (at least 2 d rows, so that re-factoring the running R stays
        # a small overhead): LAPACK's QR is several times faster on such slabs than on thin ones.
        step = max(2 * d, (1 << 18) // d)
        slabs = [slice(i, min(i + step, n)) for i in range(0, n, step)]

        def slab(rows: slice) -> np.ndarray:
            z = np.empty((rows.stop - rows.start, d))
            z[:, : d - 1] = X[rows]
            z[:, d - 1] = y[rows]
            return z

        total = np.zeros(d)
        for rows in slabs:
            z = slab(rows)
            total += z.sum(axis=0) if w is None else w[rows] @ z
        mean = total / weight
        r = np.zeros((0, d))
        for rows in slabs:
            z = slab(rows)
            z -= mean
            if w is not None:
                z *= np.sqrt(w[rows])[:, None]
            r = r_factor(np.vstack([r, z]))
        return cls(weight, mean, r)

    def combine(self, other: LeastSquaresState, /) -> LeastSquaresState:
        if other.weight == 0.0:
            return self
        if self.weight == 0.0:
            return other
        weight = self.weight + other.weight
        delta = other.mean - self.mean
        mean = self.mean + delta * (other.weight / weight)
        shift = np.sqrt(self.weight * other.weight / weight) * delta
        return LeastSquaresState(weight, mean, r_factor(np.vstack([self.r, other.r, shift])))


@dataclass(frozen=True, eq=False)
class Weighted(Generic[S]):
    """A state, and whether any sample weight behind it is non-zero.

    scikit-learn refuses sample weights that are all zero, and only the merged state can tell:
    one partition's weights may all be zero while another's are not. The metrics (given
    sample weights), :class:`~daskpar.StandardScaler` and the training pass (a model's
    state) wrap their states in it.
    """

    state: S
    any_weight: bool

    def combine(self, other: Weighted[S], /) -> Weighted[S]:
        return Weighted(self.state.combine(other.state), self.any_weight or other.any_weight)


@dataclass(frozen=True, eq=False)
class StateTuple:
    """A vector of independent states (one per model of a search), combined element-wise."""

    items: tuple[Any, ...]

    def combine(self, other: StateTuple, /) -> StateTuple:
        return StateTuple(
            tuple(combine_all([a, b]) for a, b in zip(self.items, other.items, strict=True))
        )


@dataclass(frozen=True, eq=False)
class TrialState:
    """One search model's share of a pass over a block: training state, score states, timings.

    ``scores`` holds one state per scorer when the block is in the model's validation fold;
    the seconds are those the tasks spent fitting and scoring this model. ``error`` says why
    the model's fit failed, when the search records failures (``error_score``) instead of
    raising them.
    """

    fit: Any = None
    scores: StateTuple | None = None
    fit_seconds: float = 0.0
    score_seconds: float = 0.0
    error: str | None = None  # why this model's fit failed on some block (leftmost kept)

    def combine(self, other: TrialState, /) -> TrialState:
        return TrialState(
            combine_all([self.fit, other.fit]),
            combine_all([self.scores, other.scores]),
            self.fit_seconds + other.fit_seconds,
            self.score_seconds + other.score_seconds,
            self.error if self.error is not None else other.error,
        )
