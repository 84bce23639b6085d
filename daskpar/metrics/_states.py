"""The metrics' states: what one block of ``(y_true, y_pred, sample_weight)`` contributes.

In the shape of every daskpar stage::

    blocks --metric_partition--> state --combine (tree)--> one state --finalize_metric--> metric

The states are small frozen dataclasses of exact counts or sums, and their ``combine`` is
associative, so the tree may group the blocks in any way:

- :class:`ConfusionState`: the labels seen and the weighted count of every (true, predicted)
  pair that occurs. Accuracy, balanced accuracy, precision, recall, F1 (every average) and the
  confusion matrix all come from it, exactly.
- :class:`LogLossState`: per true label, the summed ``-log p`` of every probability column, so
  that a partition need not know which column belongs to which label until the end.
- :class:`ScoreHistogram`: weighted label counts per distinct score, coarsened only when more
  than ``max_bins`` distinct scores exist, for ROC AUC and the ROC and precision-recall curves.
- :class:`ResidualState`: weighted moments of ``y_true`` and the residual sums, for R², MSE
  and MAE.

Nothing here knows about dask or about the metrics that read the states (the metric classes in
:mod:`daskpar.metrics._classification`, :mod:`daskpar.metrics._ranking` and
:mod:`daskpar.metrics._regression`). Sample weights
wrap a state in :class:`~daskpar._states.Weighted`, with daskpar's other generic states.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from .._validation import label_types
from ..errors import PartitionError

__all__ = [
    "ConfusionState",
    "LogLossState",
    "ResidualState",
    "ScoreHistogram",
    "bin_edges",
    "sortable_keys",
]

# --------------------------------------------------------------------------------------------
# Helpers of the states


def _merge_runs(keys: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sorted, non-empty ``keys`` without repeats, and ``values`` summed over each run."""
    starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])
    return keys[starts], np.add.reduceat(values, starts, axis=0)


def _sum_by_key(keys: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The sorted distinct ``keys`` and the sum of ``values`` (along axis 0) for each."""
    if keys.shape[0] == 0:
        return keys, values
    # A stable sort fixes the order of the additions, so the sums are reproducible bit for bit.
    order = np.argsort(keys, kind="stable")
    return _merge_runs(keys[order], values[order])


def _sum_at(index: np.ndarray, values: np.ndarray, size: int) -> np.ndarray:
    """``out[i] = sum(values[index == i])``, keeping the dtype of ``values`` (exact integers)."""
    out = np.zeros(size, dtype=values.dtype)
    np.add.at(out, index, values)
    return out


# --------------------------------------------------------------------------------------------
# States


#: Up to this many (true, predicted) cells, a block's confusion counts use a dense bincount.
_DENSE_CELLS = 1 << 16


@dataclass(frozen=True, eq=False)
class ConfusionState:
    """The labels seen and the weighted count of each (true, predicted) pair that occurs.

    Only the cells that occur are kept (``true_index[i], pred_index[i]`` into ``labels``, sorted),
    so a target with many distinct values costs memory in proportion to the pairs seen, not to
    the square of the labels. ``in_true`` / ``in_pred`` record which labels occur in ``y_true``
    and ``y_pred`` (whatever their weight), as scikit-learn's label sets do.
    """

    labels: np.ndarray  # (k,) sorted distinct labels of y_true and y_pred
    in_true: np.ndarray  # (k,) bool
    in_pred: np.ndarray  # (k,) bool
    true_index: np.ndarray  # (m,) int64
    pred_index: np.ndarray  # (m,) int64
    weight: np.ndarray  # (m,) int64 (counts, integer weights) or float64

    @classmethod
    def of(
        cls, y_true: np.ndarray, y_pred: np.ndarray, w: np.ndarray, *, y_true_name: str = "y_true"
    ) -> ConfusionState:
        if label_types(y_true, y_true_name) != label_types(y_pred, "y_pred"):
            raise PartitionError(
                f"Mix of label input types (string and number) in {y_true_name} and y_pred."
            )
        labels = np.union1d(y_true, y_pred)
        t = np.searchsorted(labels, y_true).astype(np.int64)
        p = np.searchsorted(labels, y_pred).astype(np.int64)
        in_true, in_pred = np.zeros(len(labels), bool), np.zeros(len(labels), bool)
        in_true[t], in_pred[p] = True, True
        k = len(labels)
        if k * k > _DENSE_CELLS:
            return cls._of_cells(labels, in_true, in_pred, t, p, w)
        # Few labels: count the cells with bincount, in O(n) instead of sorting the rows (a
        # search scores every model on every validation block this way).
        keys = t * k + p
        cells = np.flatnonzero(np.bincount(keys, minlength=k * k))
        sums = np.bincount(keys, weights=w, minlength=k * k)[cells]
        weight = sums.astype(np.int64) if w.dtype.kind == "i" else sums
        return cls(labels, in_true, in_pred, cells // k, cells % k, weight)

    @classmethod
    def _of_cells(
        cls,
        labels: np.ndarray,
        in_true: np.ndarray,
        in_pred: np.ndarray,
        t: np.ndarray,
        p: np.ndarray,
        w: np.ndarray,
    ) -> ConfusionState:
        k = max(len(labels), 1)
        cells, weight = _sum_by_key(t * k + p, w)
        return cls(labels, in_true, in_pred, cells // k, cells % k, weight)

    def combine(self, other: ConfusionState, /) -> ConfusionState:
        labels = np.union1d(self.labels, other.labels)
        a = np.searchsorted(labels, self.labels).astype(np.int64)
        b = np.searchsorted(labels, other.labels).astype(np.int64)
        in_true, in_pred = np.zeros(len(labels), bool), np.zeros(len(labels), bool)
        in_true[a], in_pred[a] = self.in_true, self.in_pred
        in_true[b] |= other.in_true
        in_pred[b] |= other.in_pred
        return ConfusionState._of_cells(
            labels,
            in_true,
            in_pred,
            np.concatenate([a[self.true_index], b[other.true_index]]),
            np.concatenate([a[self.pred_index], b[other.pred_index]]),
            np.concatenate([self.weight, other.weight]),
        )

    def per_label(
        self, labels: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """True positives, true counts and predicted counts per label (of ``labels`` if given).

        Labels that never occur count zero.
        """
        k = len(self.labels)
        diagonal = self.true_index == self.pred_index
        tp = _sum_at(self.true_index[diagonal], self.weight[diagonal], k)
        true_sum = _sum_at(self.true_index, self.weight, k)
        pred_sum = _sum_at(self.pred_index, self.weight, k)
        if labels is None:
            return tp, true_sum, pred_sum
        index = {v: i for i, v in enumerate(self.labels.tolist())}
        # Position k is a zero appended for the labels never seen.
        where = np.array([index.get(v, k) for v in np.asarray(labels).tolist()], dtype=np.int64)
        tp, true_sum, pred_sum = (np.append(a, 0)[where] for a in (tp, true_sum, pred_sum))
        return tp, true_sum, pred_sum

    def matrix(self, labels: np.ndarray | None = None) -> np.ndarray:
        """The dense confusion matrix over ``labels`` (default: every label seen, sorted)."""
        t, p, w = self.true_index, self.pred_index, self.weight
        if labels is not None:
            # As scikit-learn, a label listed twice takes the position of its last occurrence.
            position = {v: i for i, v in enumerate(np.asarray(labels).tolist())}
            where = np.array([position.get(v, -1) for v in self.labels.tolist()], dtype=np.int64)
            t, p = where[t], where[p]
            keep = (t >= 0) & (p >= 0)
            t, p, w = t[keep], p[keep], w[keep]
        k = len(self.labels if labels is None else labels)
        out = np.zeros((k, k), dtype=w.dtype)
        np.add.at(out, (t, p), w)
        return out


@dataclass(frozen=True, eq=False)
class LogLossState:
    """Per true label, the weighted sums of ``-log(clip(p[:, j]))`` over its rows, every j.

    A partition may miss classes, so it cannot know which probability column belongs to which
    label; keeping every column's sum lets the finalize step pick, per label, the column of its
    position in the global label set, which makes the merged loss exact.
    """

    labels: np.ndarray  # (k,) sorted distinct y_true labels
    losses: np.ndarray  # (k, n_columns) float64
    weight: float  # sum of sample weights (the number of rows without weights)
    prob_max: float
    prob_min: float
    not_normalized: bool  # some row's probabilities do not sum to one
    declared_labels: tuple[Any, ...] | None = None

    @classmethod
    def of(
        cls,
        y_true: np.ndarray,
        proba: np.ndarray,
        w: np.ndarray,
        declared_labels: tuple[Any, ...] | None,
        *,
        y_true_name: str = "y_true",
    ) -> LogLossState:
        label_types(y_true, y_true_name)
        prob_max, prob_min = float(proba.max()), float(proba.min())
        if proba.ndim == 1:
            proba = proba[:, np.newaxis]
        if proba.shape[1] == 1:
            proba = np.concatenate([1 - proba, proba], axis=1)
        eps = np.finfo(proba.dtype).eps
        sums = proba.sum(axis=1)
        one = np.asarray(1, dtype=sums.dtype)
        normalized = np.isclose(sums, one, rtol=math.sqrt(eps), atol=1e-8).all()
        # In the probabilities' own dtype, as scikit-learn; summed in float64.
        loss = (-np.log(np.clip(proba, eps, 1 - eps))).astype(np.float64) * w[:, np.newaxis]
        labels, index = np.unique(y_true, return_inverse=True)
        _, losses = _sum_by_key(index.astype(np.int64), loss)
        return cls(
            labels, losses, float(w.sum()), prob_max, prob_min, not normalized, declared_labels
        )

    def combine(self, other: LogLossState, /) -> LogLossState:
        labels = np.union1d(self.labels, other.labels)
        losses = np.zeros((len(labels), self.losses.shape[1]))
        losses[np.searchsorted(labels, self.labels)] += self.losses
        losses[np.searchsorted(labels, other.labels)] += other.losses
        return LogLossState(
            labels,
            losses,
            self.weight + other.weight,
            max(self.prob_max, other.prob_max),
            min(self.prob_min, other.prob_min),
            self.not_normalized or other.not_normalized,
            self.declared_labels if self.declared_labels is not None else other.declared_labels,
        )


def sortable_keys(scores: np.ndarray) -> np.ndarray:
    """int64 keys with the order of the float64 ``scores``; ``-0.0`` and ``0.0`` share a key.

    Shifting the keys right by ``s`` bits merges neighbouring scores into bins that are nested
    as ``s`` grows, and never reorders two scores.
    """
    bits = (np.asarray(scores, dtype=np.float64) + 0.0).view(np.int64)
    # Negative floats sort in reverse of their bit patterns: flip all but the sign bit.
    return np.where(bits < 0, bits ^ np.int64(0x7FFF_FFFF_FFFF_FFFF), bits)


#: The key of the lowest finite float64: the lower edge of a bin never goes below it.
_LOWEST_KEY = int(sortable_keys(np.array([np.finfo(np.float64).min]))[0])


def bin_edges(keys: np.ndarray, shift: int) -> np.ndarray:
    """The lowest float64 of each bin of :func:`sortable_keys` shifted right by ``shift`` bits.

    Every score of bin ``k`` is at least ``bin_edges(k)``, and every score of the bins below
    is less, so the edges are thresholds that split the scores exactly where the bins do; with
    ``shift == 0`` they are the distinct scores themselves.
    """
    lowest = np.maximum(np.asarray(keys, dtype=np.int64) << shift, _LOWEST_KEY)
    # sortable_keys is its own inverse on the int64 bit patterns.
    bits = np.where(lowest < 0, lowest ^ np.int64(0x7FFF_FFFF_FFFF_FFFF), lowest)
    return bits.view(np.float64)


@dataclass(frozen=True, eq=False)
class ScoreHistogram:
    """Weighted counts of each ``y_true`` label per score bin: ROC AUC, ROC and PR curves.

    ``keys`` are :func:`sortable_keys` of the scores shifted right by ``shift`` bits; ``shift``
    is the smallest that leaves at most ``max_bins`` distinct keys. It only grows when merging,
    and since shifted keys are nested bins, the final ``shift`` and counts are the same whatever
    the partitioning: the smallest shift that fits all the scores into ``max_bins`` bins.
    With ``shift == 0`` every bin is one distinct score and the AUC is exact.

    More than two labels make the state a marker of a multiclass target (no counts kept).
    """

    labels: np.ndarray  # sorted distinct y_true labels (at most 3 kept when more exist)
    keys: np.ndarray  # (b,) int64, sorted
    counts: np.ndarray  # (b, len(labels)) weighted counts
    shift: int
    max_bins: int

    @classmethod
    def of(
        cls,
        y_true: np.ndarray,
        scores: np.ndarray,
        w: np.ndarray,
        max_bins: int,
        *,
        y_true_name: str = "y_true",
    ) -> ScoreHistogram:
        label_types(y_true, y_true_name)
        labels, label_index = np.unique(y_true, return_inverse=True)
        if len(labels) > 2:
            return cls._multiclass(labels)
        if not w.all():
            # Rows of weight zero count nowhere, as scikit-learn drops them before ranking: they
            # make no threshold of a curve, and take no bin from the scores that count.
            kept = w != 0
            scores, label_index, w = scores[kept], label_index[kept], w[kept]
        keys, key_index = np.unique(sortable_keys(scores), return_inverse=True)
        counts = np.zeros((len(keys), len(labels)), dtype=w.dtype)
        np.add.at(counts, (key_index, label_index), w)
        return cls(labels, keys, counts, 0, max_bins)._coarsened()

    @classmethod
    def _multiclass(cls, labels: np.ndarray) -> ScoreHistogram:
        return cls(labels[:3], np.zeros(0, np.int64), np.zeros((0, 0)), 0, 0)

    def _coarsened(self) -> ScoreHistogram:
        """Shift the keys right until at most ``max_bins`` remain, merging their counts."""
        keys, counts, shift = self.keys, self.counts, self.shift
        while len(keys) > self.max_bins:
            keys, counts = _merge_runs(keys >> 1, counts)
            shift += 1
        return replace(self, keys=keys, counts=counts, shift=shift)

    def combine(self, other: ScoreHistogram, /) -> ScoreHistogram:
        labels = np.union1d(self.labels, other.labels)
        if len(labels) > 2 or len(self.labels) > 2 or len(other.labels) > 2:
            return ScoreHistogram._multiclass(labels)
        shift = max(self.shift, other.shift)
        keys, counts = [], []
        for s in (self, other):
            padded = np.zeros((len(s.keys), len(labels)), dtype=s.counts.dtype)
            padded[:, np.searchsorted(labels, s.labels)] = s.counts
            keys.append(s.keys >> (shift - s.shift))
            counts.append(padded)
        merged = _sum_by_key(np.concatenate(keys), np.concatenate(counts))
        max_bins = min(self.max_bins, other.max_bins)
        return ScoreHistogram(labels, *merged, shift, max_bins)._coarsened()


@dataclass(frozen=True, eq=False)
class ResidualState:
    """Weighted moments of ``y_true`` and the weighted residual sums: R², MSE and MAE.

    ``mean`` and ``m2`` merge with Chan, Golub and LeVeque's pairwise update (weighted), which
    stays accurate where summing ``y`` and ``y**2`` would cancel. ``y_min`` / ``y_max`` (over rows
    of nonzero weight) tell a constant target exactly, whatever rounding ``m2`` carries.
    """

    n_samples: int
    weight: float
    mean: float
    m2: float  # sum of w * (y - mean)**2
    sse: float  # sum of w * (y - y_pred)**2
    sae: float  # sum of w * |y - y_pred|
    y_min: float
    y_max: float

    @classmethod
    def of(cls, y_true: np.ndarray, y_pred: np.ndarray, w: np.ndarray) -> ResidualState:
        y = np.asarray(y_true, dtype=np.float64)
        residual = y - np.asarray(y_pred, dtype=np.float64)
        w = w.astype(np.float64)
        weight = float(np.sum(w))
        mean = float(np.sum(w * y) / weight) if weight != 0.0 else 0.0
        kept = y[w != 0]
        return cls(
            len(y),
            weight,
            mean,
            float(np.sum(w * (y - mean) ** 2)),
            float(np.sum(w * residual**2)),
            float(np.sum(w * np.abs(residual))),
            float(kept.min()) if len(kept) else math.inf,
            float(kept.max()) if len(kept) else -math.inf,
        )

    def combine(self, other: ResidualState, /) -> ResidualState:
        weight = self.weight + other.weight
        delta = other.mean - self.mean
        if weight != 0.0:
            mean = self.mean + delta * (other.weight / weight)
            m2 = self.m2 + other.m2 + delta**2 * (self.weight * other.weight / weight)
        else:
            mean, m2 = self.mean, self.m2 + other.m2
        return ResidualState(
            self.n_samples + other.n_samples,
            weight,
            mean,
            m2,
            self.sse + other.sse,
            self.sae + other.sae,
            min(self.y_min, other.y_min),
            max(self.y_max, other.y_max),
        )
