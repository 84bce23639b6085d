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
from typing import Any, Protocol, Self, TypeVar

import numpy as np

__all__ = [
    "LabelSet",
    "Moments",
    "MomentsByClass",
    "R2State",
    "State",
    "SumState",
    "combine_all",
]


class State(Protocol):
    """What every per-partition state offers: an associative ``combine``."""

    def combine(self, other: Self, /) -> Self: ...


S = TypeVar("S", bound=State)


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
    ``n_samples * coef_``; the average is ``sums / n_samples``) and the exact counts of the
    discrete naive Bayes models.

    ``prototype`` is the estimator one partition fitted; it carries everything that is the same
    on every partition (``classes_``, ``n_features_in_``, the loss object), so that finalize
    only has to put the merged arrays into it. The leftmost partition's prototype is kept, so
    the choice is deterministic.
    """

    n_samples: int
    sums: Mapping[str, np.ndarray]
    prototype: Any = field(default=None, repr=False)

    def combine(self, other: SumState, /) -> SumState:
        if self.sums.keys() != other.sums.keys():
            raise ValueError(
                f"Cannot combine states with different arrays: {sorted(self.sums)} and "
                f"{sorted(other.sums)}."
            )
        return SumState(
            self.n_samples + other.n_samples,
            {k: self.sums[k] + other.sums[k] for k in self.sums},
            self.prototype if self.prototype is not None else other.prototype,
        )

    def means(self) -> dict[str, np.ndarray]:
        """The sample-weighted averages ``sums / n_samples``."""
        return {k: v / self.n_samples for k, v in self.sums.items()}


@dataclass(frozen=True, eq=False)
class Moments:
    """Count, mean and sum of squared deviations (M2) of ``k`` groups of ``d`` features.

    ``combine`` is the pairwise update of Chan, Golub and LeVeque (1979), which stays accurate
    where summing ``x`` and ``x**2`` would cancel catastrophically.
    """

    count: np.ndarray  # (k,)
    mean: np.ndarray  # (k, d)
    m2: np.ndarray  # (k, d)

    @classmethod
    def of(cls, X: np.ndarray) -> Moments:
        """The moments of the rows of ``X`` as one group."""
        X = np.asarray(X, dtype=np.float64)
        n = X.shape[0]
        if n == 0:
            zeros = np.zeros((1, X.shape[1]))
            return cls(np.zeros(1), zeros, zeros.copy())
        mean = X.mean(axis=0)
        m2 = ((X - mean) ** 2).sum(axis=0)
        return cls(np.array([float(n)]), mean[None, :], m2[None, :])

    def combine(self, other: Moments, /) -> Moments:
        count = self.count + other.count
        delta = other.mean - self.mean
        with np.errstate(invalid="ignore", divide="ignore"):
            w_other = np.where(count > 0, other.count / count, 0.0)[:, None]
            cross = np.where(count > 0, self.count * other.count / count, 0.0)[:, None]
        mean = self.mean + delta * w_other
        m2 = self.m2 + other.m2 + delta**2 * cross
        return Moments(count, mean, m2)

    def variance(self, ddof: int = 0) -> np.ndarray:
        """The per-group variance, 0 for groups with no samples."""
        denom = (self.count - ddof)[:, None]
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(denom > 0, self.m2 / denom, 0.0)


@dataclass(frozen=True, eq=False)
class MomentsByClass:
    """Per-class moments of X and the moments of all of X: Gaussian naive Bayes' statistics."""

    by_class: Moments
    overall: Moments

    @classmethod
    def of(cls, X: np.ndarray, y: np.ndarray, classes: np.ndarray) -> MomentsByClass:
        parts = [Moments.of(X[y == c]) for c in classes]
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
class LabelSet:
    """The sorted distinct labels seen."""

    labels: np.ndarray

    def combine(self, other: LabelSet, /) -> LabelSet:
        return LabelSet(np.union1d(self.labels, other.labels))


@dataclass(frozen=True, eq=False)
class R2State:
    """Moments of the targets and the residual sum of squares: everything R² needs."""

    y: Moments
    sse: float

    def combine(self, other: R2State, /) -> R2State:
        return R2State(self.y.combine(other.y), self.sse + other.sse)

    def r2(self) -> float:
        """``1 - SSE / SST``, with scikit-learn's convention for constant targets."""
        total = float(self.y.m2[0, 0])
        if total == 0.0:
            return 1.0 if self.sse == 0.0 else 0.0
        return 1.0 - self.sse / total
