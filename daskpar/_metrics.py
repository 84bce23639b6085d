"""Metrics as mergeable states, and the scorers built on them.

Every metric has daskpar's one shape::

    (y_true, y_pred, sample_weight) blocks --partition_state--> state
        --combine (tree)--> one state --evaluate--> the metric

The states are small frozen dataclasses of exact counts or sums:

- :class:`ConfusionState`: the labels seen and the weighted count of every (true, predicted)
  pair that occurs. Accuracy, balanced accuracy, precision, recall, F1 (every average) and the
  confusion matrix all come from it, exactly.
- :class:`LogLossState`: per true label, the summed ``-log p`` of every probability column, so
  that a partition need not know which column belongs to which label until the end.
- :class:`ScoreHistogram`: weighted label counts per distinct score, coarsened only when more
  than ``max_bins`` distinct scores exist, for ROC AUC.
- :class:`ResidualState`: weighted moments of ``y_true`` and the residual sums, for R², MSE
  and MAE.

Nothing here knows about dask: :mod:`daskpar.metrics` wires these into graphs. A metric's
``evaluate`` returns an :class:`Evaluation`, the value together with the warnings scikit-learn
would have raised, so that a finalize task on a worker can hand them to the client, where the
user sees them.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any, ClassVar, Generic, Literal, Protocol, TypeVar

import numpy as np
from sklearn.base import is_classifier
from sklearn.exceptions import UndefinedMetricWarning

from ._states import State
from ._validation import label_types
from .errors import InputError, PartitionError

__all__ = [
    "SCORER_NAMES",
    "Accuracy",
    "ApproximateMetricWarning",
    "BalancedAccuracy",
    "ConfusionMatrix",
    "ConfusionState",
    "Evaluation",
    "LogLoss",
    "LogLossState",
    "MeanAbsoluteError",
    "MeanSquaredError",
    "Metric",
    "PrecisionRecallF1",
    "R2",
    "ResidualState",
    "RocAuc",
    "ScoreHistogram",
    "Scorer",
    "WeightedState",
    "finalize_metric",
    "get_scorer",
    "metric_partition",
    "scorer_partition",
    "sortable_keys",
]

T = TypeVar("T")
Note = tuple[type[Warning], str]
Average = Literal["binary", "micro", "macro", "weighted"]
ZeroDivision = Literal["warn"] | float


class _Notes(list[Note]):
    """The warnings computing a metric raises, kept for the client to emit."""

    def warn(self, message: str, category: type[Warning] = UserWarning) -> None:
        self.append((category, message))


class ApproximateMetricWarning(UserWarning):
    """A metric was computed from binned data and may be off by more than its tolerance."""


@dataclass(frozen=True)
class Evaluation(Generic[T]):
    """A metric's value and the warnings computing it raised, to be re-emitted by the client."""

    value: T
    notes: tuple[Note, ...] = ()

    def unwrap(self, stacklevel: int = 2) -> T:
        """Emit the warnings (``stacklevel`` counted from the caller) and return the value."""
        for category, message in self.notes:
            warnings.warn(message, category, stacklevel=stacklevel + 1)
        return self.value


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


def _check_finite(a: np.ndarray, name: str) -> None:
    if a.dtype.kind in "fc" and not np.isfinite(a).all():
        kind = "NaN" if np.isnan(a).any() else "infinity"
        raise PartitionError(f"Input {name} contains {kind}.")


def _check_labels(y: np.ndarray, name: str) -> None:
    """Raise a :class:`PartitionError` unless ``y`` holds class labels (as type_of_target)."""
    if y.dtype.kind != "f":
        return
    _check_finite(y, name)
    fractional = y != np.trunc(y)
    if fractional.any():
        raise PartitionError(
            f"{name} holds non-integer values such as {y[fractional][0].item()!r}, which are "
            "not class labels: classification metrics need labels (the output of predict), "
            "not continuous scores or probabilities."
        )


def _weights(sample_weight: np.ndarray | None, n: int) -> np.ndarray:
    """Per-row weights: int64 (exact counts) unless the weights are floats, as scikit-learn."""
    if sample_weight is None:
        return np.ones(n, dtype=np.int64)
    w = np.asarray(sample_weight)
    if w.dtype.kind in "biu":
        return w.astype(np.int64)
    _check_finite(w, "sample_weight")
    return w.astype(np.float64)


# --------------------------------------------------------------------------------------------
# States


@dataclass(frozen=True, eq=False)
class WeightedState:
    """A metric's state, and whether any sample weight behind it is non-zero.

    scikit-learn refuses sample weights that are all zero; only the merged state can tell.
    """

    state: State
    any_weight: bool

    def combine(self, other: WeightedState, /) -> WeightedState:
        return WeightedState(self.state.combine(other.state), self.any_weight or other.any_weight)


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
    def of(cls, y_true: np.ndarray, y_pred: np.ndarray, w: np.ndarray) -> ConfusionState:
        if label_types(y_true, "y_true") != label_types(y_pred, "y_pred"):
            raise PartitionError(
                "Mix of label input types (string and number) in y_true and y_pred."
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
    ) -> LogLossState:
        label_types(y_true, "y_true")
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


@dataclass(frozen=True, eq=False)
class ScoreHistogram:
    """Weighted counts of each ``y_true`` label per score bin, for the ROC AUC.

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
        cls, y_true: np.ndarray, scores: np.ndarray, w: np.ndarray, max_bins: int
    ) -> ScoreHistogram:
        label_types(y_true, "y_true")
        labels, label_index = np.unique(y_true, return_inverse=True)
        if len(labels) > 2:
            return cls._multiclass(labels)
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


# --------------------------------------------------------------------------------------------
# Metrics


class Metric(Protocol):
    """A metric computed from mergeable per-partition states.

    ``partition_state`` runs on one block (``None`` for an empty block); the states merge with
    their ``combine``; ``evaluate`` computes the metric and collects the warnings, and ``value``
    emits them and returns the number. ``stage`` names the graph's tasks
    (``daskpar-<stage>-partition``).
    """

    stage: ClassVar[str]

    def partition_state(
        self, y_true: np.ndarray, y_pred: np.ndarray, sample_weight: np.ndarray | None
    ) -> State | None: ...

    def evaluate(self, state: State | None) -> Evaluation[float]: ...

    def value(self, state: State | None) -> float: ...


class _MetricBase(Generic[T]):
    """A metric in terms of ``_state`` (one block's) and ``_compute`` (of the merged state).

    ``_state`` gets a non-empty block and checked weights (ones without ``sample_weight``);
    ``_compute`` gets the merged state and appends the warnings scikit-learn would raise to
    ``notes``.
    """

    stage: ClassVar[str]
    function: ClassVar[str]

    @property
    def name(self) -> str:
        """The scikit-learn function this metric mirrors, for messages."""
        return self.function

    def _state(self, y_true: np.ndarray, y_pred: np.ndarray, w: np.ndarray) -> State:
        raise NotImplementedError

    def _compute(self, state: Any, notes: _Notes) -> T:
        raise NotImplementedError

    def partition_state(
        self, y_true: np.ndarray, y_pred: np.ndarray, sample_weight: np.ndarray | None
    ) -> State | None:
        """The state of one block: ``None`` if it is empty."""
        if len(y_true) == 0:
            return None
        w = _weights(sample_weight, len(y_true))
        state = self._state(np.asarray(y_true), np.asarray(y_pred), w)
        return state if sample_weight is None else WeightedState(state, bool(np.any(w != 0)))

    def evaluate(self, state: State | None) -> Evaluation[T]:
        """The metric of the merged ``state``, with the warnings to emit."""
        if state is None:
            raise InputError(f"Cannot compute {self.name} on empty data: every partition is empty.")
        if isinstance(state, WeightedState):
            if not state.any_weight:
                raise InputError(
                    f"{self.name}: every sample weight is zero. Sample weights must contain at "
                    "least one non-zero number."
                )
            state = state.state
        notes = _Notes()
        value = self._compute(state, notes)
        return Evaluation(value, tuple(notes))

    def value(self, state: State | None) -> T:
        """The metric of the merged ``state``; warnings are emitted here."""
        return self.evaluate(state).unwrap(stacklevel=2)


def _zero_sum(function: str) -> InputError:
    return InputError(
        f"{function}: the sample weights sum to zero, so the weighted average is undefined. "
        "Use weights whose sum is not zero."
    )


def _show(labels: np.ndarray, at_most: int = 10) -> str:
    text = ", ".join(map(repr, labels[:at_most].tolist()))
    return f"[{text}{', ...' if len(labels) > at_most else ''}]"


class _ConfusionMetric(_MetricBase[T]):
    stage = "confusion"

    def _state(self, y_true: np.ndarray, y_pred: np.ndarray, w: np.ndarray) -> ConfusionState:
        _check_labels(y_true, "y_true")
        _check_labels(y_pred, "y_pred")
        return ConfusionState.of(y_true, y_pred, w)


@dataclass(frozen=True)
class Accuracy(_ConfusionMetric[float]):
    """The (weighted) fraction, or with ``normalize=False`` number, of correct predictions."""

    normalize: bool = True
    function: ClassVar[str] = "accuracy_score"

    def _compute(self, s: ConfusionState, notes: _Notes) -> float:
        correct, total = s.weight[s.true_index == s.pred_index].sum(), s.weight.sum()
        if not self.normalize:
            return float(correct)
        if total == 0:
            raise _zero_sum(self.name)
        return float(correct / total)


@dataclass(frozen=True)
class BalancedAccuracy(_ConfusionMetric[float]):
    """The mean recall over the classes of ``y_true``, optionally adjusted for chance."""

    adjusted: bool = False
    function: ClassVar[str] = "balanced_accuracy_score"

    def _compute(self, s: ConfusionState, notes: _Notes) -> float:
        stray = s.labels[s.in_pred & ~s.in_true]
        if len(stray):
            raise InputError(
                f"y_pred holds labels {_show(stray)} that never occur in y_true, so "
                "balanced_accuracy_score has no recall for them; scikit-learn warns and averages "
                "over the labels of y_true only. Balanced accuracy is the macro-averaged recall: "
                "to choose the labels explicitly, call recall_score(y_true, y_pred, "
                f"average='macro', labels=...), with labels={_show(s.labels[s.in_true])} for "
                "scikit-learn's number."
            )
        tp, true_sum, _ = s.per_label()
        with np.errstate(divide="ignore", invalid="ignore"):
            per_class = tp / true_sum
        # A label of y_true whose weights are all zero has no recall, as in scikit-learn.
        if np.isnan(per_class).any():
            notes.warn("y_pred contains classes not in y_true")
            per_class = per_class[~np.isnan(per_class)]
        if per_class.size == 0:
            notes.warn("Mean of empty slice.", RuntimeWarning)
            return math.nan
        score = np.mean(per_class)
        if self.adjusted:
            chance = 1 / per_class.shape[0]
            with np.errstate(divide="ignore", invalid="ignore"):
                score = (score - chance) / (1 - chance)
        return float(score)


def _prf_divide(
    numerator: np.ndarray,
    denominator: np.ndarray,
    metric: str,
    modifier: str,
    zero_division: ZeroDivision,
    notes: _Notes,
) -> np.ndarray:
    """scikit-learn's ``_prf_divide``: divide, and on zero division use ``zero_division``."""
    mask = denominator == 0
    result = numerator.astype(np.float64) / np.where(mask, 1, denominator).astype(np.float64)
    if not mask.any():
        return result
    result[mask] = 0.0 if zero_division == "warn" else float(zero_division)
    if zero_division == "warn":
        where = "due to" if result.shape[0] == 1 else "in labels with"
        notes.warn(
            f"{metric.capitalize()} is ill-defined and being set to 0.0 {where} no "
            f"{modifier} samples. Use `zero_division` parameter to control this behavior.",
            UndefinedMetricWarning,
        )
    return result


def _nanaverage(a: np.ndarray, weights: np.ndarray | None) -> float:
    """scikit-learn's ``_nanaverage``: the (weighted) mean of the non-NaN entries."""
    kept = ~np.isnan(a)
    if not kept.any():
        return math.nan
    if weights is None or weights[kept].sum() == 0:
        # Weights that sum to zero are ignored, as scikit-learn does.
        return float(np.mean(a[kept]))
    return float(np.average(a[kept], weights=weights[kept]))


@dataclass(frozen=True)
class PrecisionRecallF1(_ConfusionMetric[float]):
    """Precision, recall or F1 (``kind``), averaged as scikit-learn's ``average``.

    Parameters as scikit-learn's ``precision_score``; ``labels`` is a tuple (or ``None``).
    """

    kind: Literal["precision", "recall", "f1"]
    labels: tuple[Any, ...] | None = None
    pos_label: Any = 1
    average: Average = "binary"
    zero_division: ZeroDivision = "warn"

    function: ClassVar[str] = "precision_recall_fscore_support"

    @property
    def name(self) -> str:
        return f"{self.kind}_score"

    def _compute(self, s: ConfusionState, notes: _Notes) -> float:
        labels = None if self.labels is None else np.asarray(self.labels)
        if self.average == "binary":
            if len(s.labels) > 2:
                raise InputError(
                    "Target is multiclass but average='binary'. Please choose another average "
                    "setting, one of [None, 'micro', 'macro', 'weighted']."
                )
            if self.pos_label not in s.labels.tolist() and len(s.labels) >= 2:
                raise InputError(
                    f"pos_label={self.pos_label} is not a valid label. It should be one of "
                    f"{s.labels}"
                )
            labels = np.asarray([self.pos_label])
        elif self.pos_label not in (None, 1):
            notes.warn(
                f"Note that pos_label (set to {self.pos_label!r}) is ignored when average != "
                f"'binary' (got {self.average!r}). You may use labels=[pos_label] to "
                "specify a single positive class."
            )
        stray = s.labels[s.in_pred & ~s.in_true]
        if self.labels is None and self.average != "micro" and len(stray):
            raise InputError(self._stray_message(s, stray))
        tp, true_sum, pred_sum = s.per_label(labels)
        if self.average == "micro":
            tp, true_sum, pred_sum = (a.sum(keepdims=True) for a in (tp, true_sum, pred_sum))
        if self.kind == "precision":
            score = _prf_divide(tp, pred_sum, "precision", "predicted", self.zero_division, notes)
        elif self.kind == "recall":
            score = _prf_divide(tp, true_sum, "recall", "true", self.zero_division, notes)
        else:
            # scikit-learn's F-beta with beta = 1: 2 tp / (2 tp + fn + fp), from counts.
            score = _prf_divide(
                2 * tp, true_sum + pred_sum, "f-score", "true nor predicted", self.zero_division,
                notes,
            )  # fmt: skip
        return _nanaverage(score, true_sum if self.average == "weighted" else None)

    def _stray_message(self, s: ConfusionState, stray: np.ndarray) -> str:
        start = (
            f"y_pred holds labels {_show(stray)} that never occur in y_true. scikit-learn's "
            f"{self.name}(average={self.average!r}) scores them as classes without true samples "
            "with a warning at most, so the number hides them."
        )
        if self.average == "binary":
            return (
                f"{start} Pass labels= explicitly (e.g. labels={_show(s.labels)}) to get "
                "scikit-learn's number anyway."
            )
        return (
            f"{start} Pass labels= explicitly to choose the labels to score over: "
            f"labels={_show(s.labels)} for scikit-learn's number, or "
            f"labels={_show(s.labels[s.in_true])} to leave them out."
        )


@dataclass(frozen=True)
class ConfusionMatrix(_ConfusionMetric[np.ndarray]):
    """The confusion matrix over ``labels`` (default: every label seen), as scikit-learn's."""

    labels: tuple[Any, ...] | None = None
    normalize: Literal["true", "pred", "all"] | None = None
    function: ClassVar[str] = "confusion_matrix"

    def _compute(self, s: ConfusionState, notes: _Notes) -> np.ndarray:
        labels = None if self.labels is None else np.asarray(self.labels)
        if labels is not None and labels.size == 0:
            raise InputError("'labels' should contain at least one label.")
        if labels is not None and len(np.intersect1d(s.labels[s.in_true], labels)) == 0:
            raise InputError("At least one label specified must be in y_true")
        cm: np.ndarray = s.matrix(labels)
        if self.normalize is not None:
            axis = {"true": 1, "pred": 0, "all": None}[self.normalize]
            with np.errstate(all="ignore"):
                cm = np.nan_to_num(cm / cm.sum(axis=axis, keepdims=True))
        if cm.shape == (1, 1):
            notes.warn(
                "A single label was found in 'y_true' and 'y_pred'. For the confusion "
                "matrix to have the correct shape, use the 'labels' parameter to pass "
                "all known labels."
            )
        return cm


@dataclass(frozen=True)
class LogLoss(_MetricBase[float]):
    """The cross-entropy of predicted probabilities, as scikit-learn 1.9's ``log_loss``.

    ``y_pred`` holds one column per class in sorted label order (``labels`` if given, else the
    labels of ``y_true``), or for two classes the probability of the greater one.
    """

    labels: tuple[Any, ...] | None = None
    normalize: bool = True
    stage: ClassVar[str] = "log-loss"
    function: ClassVar[str] = "log_loss"

    def _state(self, y_true: np.ndarray, y_pred: np.ndarray, w: np.ndarray) -> LogLossState:
        _check_labels(y_true, "y_true")
        # As scikit-learn: float64, float32 and float16 stay, the rest become float64.
        if y_pred.dtype not in (np.float64, np.float32, np.float16):
            y_pred = y_pred.astype(np.float64)
        _check_finite(y_pred, "y_proba")
        return LogLossState.of(y_true, y_pred, w, self.labels)

    def _compute(self, s: LogLossState, notes: _Notes) -> float:
        # The checks and messages of scikit-learn's, in its order.
        if s.prob_max > 1:
            raise InputError(f"y_prob contains values greater than 1: {s.prob_max}")
        if s.prob_min < 0:
            raise InputError(f"y_prob contains values lower than 0: {s.prob_min}")
        declared = self.labels if self.labels is not None else s.declared_labels
        classes = s.labels if declared is None else np.unique(np.asarray(declared))
        if declared is not None:
            if classes.shape != np.shape(declared) or not np.all(classes == declared):
                notes.warn(
                    f"Labels passed were {list(declared)}. But this function assumes labels "
                    f"are ordered lexicographically. Pass the ordered "
                    f"labels={classes.tolist()} and ensure that the columns of y_prob "
                    "correspond to this ordering."
                )
            undeclared = np.setdiff1d(s.labels, classes)
            if undeclared.size:
                raise InputError(
                    f"y_true contains values {set(undeclared.tolist())} not belonging to the "
                    f"passed labels {list(declared)}."
                )
        if classes.shape[0] == 1 and declared is None:
            raise InputError(
                f"y_true contains only one label ({classes[0]}). Please provide the list of "
                "all expected class labels explicitly through the labels argument."
            )
        if classes.shape[0] == 1:
            raise InputError(
                f"The labels array needs to contain at least two labels, got {classes}."
            )
        if s.not_normalized:
            notes.warn("The y_prob values do not sum to one. Make sure to pass probabilities.")
        n_columns = s.losses.shape[1]
        if classes.shape[0] != n_columns and declared is None:
            raise InputError(
                f"y_true and y_prob contain different number of classes: {classes.shape[0]} vs "
                f"{n_columns}. Please provide the true labels explicitly through the labels "
                f"argument. Classes found in y_true: {classes}"
            )
        if classes.shape[0] != n_columns:
            raise InputError(
                "The number of classes in labels is different from that in y_prob. Classes "
                f"found in labels: {classes}"
            )
        # Each label's loss is in the column of its position among all the classes.
        total = float(
            np.sum(s.losses[np.arange(len(s.labels)), np.searchsorted(classes, s.labels)])
        )
        if not self.normalize:
            return total
        if s.weight == 0:
            raise _zero_sum(self.name)
        return total / s.weight


@dataclass(frozen=True)
class RocAuc(_MetricBase[float]):
    """The binary ROC AUC (Mann-Whitney), exact up to ``max_bins`` distinct scores.

    With more distinct scores than ``max_bins``, scores are merged into at most ``max_bins``
    nested bins and pairs in one bin count as ties; the result is then off by at most
    ``0.5 * sum_b pos_b * neg_b / (P * N)``, which is computed, and reported by an
    :class:`ApproximateMetricWarning` when it exceeds ``tolerance``.
    """

    max_bins: int = 2**20
    tolerance: float = 1e-4
    stage: ClassVar[str] = "roc-auc"
    function: ClassVar[str] = "roc_auc_score"

    def _state(self, y_true: np.ndarray, y_pred: np.ndarray, w: np.ndarray) -> ScoreHistogram:
        if y_pred.ndim != 1:
            raise InputError(
                f"roc_auc_score needs one score per sample (shape (n_samples,)); got y_score of "
                f"shape {y_pred.shape}. Multiclass ROC AUC is not supported yet."
            )
        _check_labels(y_true, "y_true")
        _check_finite(y_pred, "y_score")
        return ScoreHistogram.of(y_true, y_pred, w, self.max_bins)

    def error_bound(self, state: ScoreHistogram) -> float:
        """The most the AUC of ``state`` can differ from the exact AUC (0 when not binned)."""
        if state.shift == 0:
            return 0.0
        neg, pos = state.counts[:, 0].astype(np.float64), state.counts[:, 1].astype(np.float64)
        return float(0.5 * np.sum(pos * neg) / (pos.sum() * neg.sum()))

    def _compute(self, s: ScoreHistogram, notes: _Notes) -> float:
        if len(s.labels) > 2:
            raise InputError(
                f"roc_auc_score supports binary y_true only; y_true holds at least 3 labels "
                f"(such as {_show(s.labels)}). Multiclass ROC AUC is not supported yet."
            )
        if len(s.labels) < 2:
            raise InputError(
                "Only one class present in y_true. ROC AUC score is not defined in that case. "
                "Score data that holds samples of both classes."
            )
        # The greater label is the positive class, as scikit-learn's binary ROC AUC.
        neg, pos = s.counts[:, 0].astype(np.float64), s.counts[:, 1].astype(np.float64)
        n_pos, n_neg = pos.sum(), neg.sum()
        if n_pos <= 0 or n_neg <= 0:
            which, rate = ("positive", "true") if n_pos <= 0 else ("negative", "false")
            message = f"No {which} samples in y_true, {rate} positive value should be meaningless"
            notes.warn(message, UndefinedMetricWarning)
            return math.nan
        # Mann-Whitney: each positive beats the negatives below its bin and ties half its own.
        below = np.concatenate([[0.0], np.cumsum(neg)[:-1]])
        auc = float(np.sum(pos * (below + 0.5 * neg)) / (n_pos * n_neg))
        bound = self.error_bound(s)
        if bound > self.tolerance:
            notes.warn(
                f"roc_auc_score merged the scores into {len(s.keys)} bins (max_bins="
                f"{self.max_bins}); the result may be off by up to {bound:.2g}. Raise "
                "max_bins above the number of distinct scores for an exact result.",
                ApproximateMetricWarning,
            )
        return auc


class _ResidualMetric(_MetricBase[float]):
    stage = "residuals"

    def _state(self, y_true: np.ndarray, y_pred: np.ndarray, w: np.ndarray) -> ResidualState:
        _check_finite(y_true, "y_true")
        _check_finite(y_pred, "y_pred")
        return ResidualState.of(y_true, y_pred, w)

    def _mean(self, total: float, s: ResidualState) -> float:
        if s.weight == 0.0:
            raise _zero_sum(self.name)
        return total / s.weight


@dataclass(frozen=True)
class R2(_ResidualMetric):
    """The coefficient of determination, with scikit-learn's conventions for constant targets."""

    function: ClassVar[str] = "r2_score"

    def _compute(self, s: ResidualState, notes: _Notes) -> float:
        if s.n_samples < 2:
            message = "R^2 score is not well-defined with less than two samples."
            notes.warn(message, UndefinedMetricWarning)
            return math.nan
        if s.weight == 0.0:
            raise _zero_sum(self.name)
        # A constant target has SST = 0 exactly, though its rounded mean may leave m2 > 0.
        total = 0.0 if s.y_min >= s.y_max else s.m2
        if s.sse == 0.0:
            return 1.0
        return 0.0 if total == 0.0 else 1.0 - s.sse / total


@dataclass(frozen=True)
class MeanSquaredError(_ResidualMetric):
    """The (weighted) mean squared error, or its square root with ``root=True``."""

    root: bool = False
    function: ClassVar[str] = "mean_squared_error"

    @property
    def name(self) -> str:
        return "root_mean_squared_error" if self.root else "mean_squared_error"

    def _compute(self, s: ResidualState, notes: _Notes) -> float:
        mse = self._mean(s.sse, s)
        return math.sqrt(mse) if self.root else mse


@dataclass(frozen=True)
class MeanAbsoluteError(_ResidualMetric):
    """The (weighted) mean absolute error."""

    function: ClassVar[str] = "mean_absolute_error"

    def _compute(self, s: ResidualState, notes: _Notes) -> float:
        return self._mean(s.sae, s)


# --------------------------------------------------------------------------------------------
# Task bodies


@contextmanager
def _naming_partition(rows: tuple[slice, ...], block_id: tuple[int, ...]) -> Iterator[None]:
    """Add the partition to the message of a :class:`PartitionError` raised inside."""
    try:
        yield
    except PartitionError as error:
        where = f"partition {block_id[0]} (rows {rows[0].start} to {rows[0].stop - 1})"
        raise PartitionError(f"{error} Found in {where}.") from error


def metric_partition(
    y_true: np.ndarray,
    y_pred: np.ndarray,
    sample_weight: np.ndarray | None,
    rows: tuple[slice, ...],
    block_id: tuple[int, ...],
    *,
    metric: Metric | ConfusionMatrix,
) -> State | None:
    """One block's state of ``metric`` (``None`` for an empty block)."""
    with _naming_partition(rows, block_id):
        return metric.partition_state(y_true, y_pred, sample_weight)


def scorer_partition(
    X: np.ndarray,
    y: np.ndarray,
    sample_weight: np.ndarray | None,
    rows: tuple[slice, ...],
    block_id: tuple[int, ...],
    *,
    scorer: Scorer,
    model: Any,
) -> State | None:
    """One block's state of ``scorer`` for the fitted ``model``."""
    with _naming_partition(rows, block_id):
        return scorer.partition_state(model, X, y, sample_weight)


def finalize_metric(
    state: State | None, *, metric: Metric | ConfusionMatrix | Scorer
) -> Evaluation[Any]:
    """The metric (or signed score) of the merged state, and the warnings for the client."""
    return metric.evaluate(state)


# --------------------------------------------------------------------------------------------
# Scorers


@dataclass(frozen=True)
class Scorer:
    """A scikit-learn scorer that runs per partition: the model's response, then a metric.

    Parameters
    ----------
    name : str
        scikit-learn's name of the scorer, e.g. ``"neg_log_loss"``.
    metric : Metric
        The metric of ``y`` and the response.
    response_method : str or tuple of str
        The model method giving the response; with a tuple, the first the model has.
    sign : int
        ``1``, or ``-1`` for the ``neg_*`` scorers (greater is better).
    """

    name: str
    metric: Metric
    response_method: str | tuple[str, ...]
    sign: int = 1

    def response(self, model: Any, X: np.ndarray) -> np.ndarray:
        """The response of ``model`` on ``X``, processed as scikit-learn's scorers do.

        For a binary classifier, ``predict_proba`` gives the positive class's column and
        ``decision_function`` is negated when the positive class is ``classes_[0]``.
        """
        methods = (
            (self.response_method,)
            if isinstance(self.response_method, str)
            else self.response_method
        )
        method = next((m for m in methods if hasattr(model, m)), None)
        if method is None:
            raise AttributeError(
                f"{type(model).__name__} has none of the following attributes: "
                f"{', '.join(methods)}."
            )
        out = np.asarray(getattr(model, method)(X))
        if not is_classifier(model) or len(model.classes_) > 2:
            return out
        classes = np.asarray(model.classes_)
        pos_label = getattr(self.metric, "pos_label", None)
        if pos_label is not None and pos_label not in classes.tolist():
            raise InputError(
                f"pos_label={pos_label} is not a valid label: It should be one of {classes}"
            )
        pos_label = classes[-1] if pos_label is None else pos_label
        if method in ("predict_proba", "predict_log_proba"):
            if out.shape[1] != 2:
                raise InputError(
                    f"Got predict_proba of shape {out.shape}, but need classifier with two classes."
                )
            return out[:, np.flatnonzero(classes == pos_label)[0]]
        if method == "decision_function" and pos_label == classes[0]:
            return -1 * out
        return out

    def metric_for(self, model: Any) -> Metric:
        """The metric, told the model's classes where it needs them (``labels`` of log_loss)."""
        metric = self.metric
        if isinstance(metric, LogLoss) and metric.labels is None and hasattr(model, "classes_"):
            return replace(metric, labels=tuple(np.asarray(model.classes_).tolist()))
        return metric

    def partition_state(
        self, model: Any, X: np.ndarray, y: np.ndarray, sample_weight: np.ndarray | None = None
    ) -> State | None:
        """The state of one block: ``metric.partition_state(y, response(model, X), w)``."""
        if X.shape[0] == 0:
            return None
        return self.metric_for(model).partition_state(y, self.response(model, X), sample_weight)

    def evaluate(self, state: State | None) -> Evaluation[float]:
        """The signed score, with the warnings to emit."""
        out = self.metric.evaluate(state)
        return Evaluation(self.sign * out.value, out.notes)

    def score(self, state: State | None) -> float:
        """``sign * metric.value(state)``: greater is better."""
        return self.evaluate(state).unwrap(stacklevel=2)


def _build_scorers() -> dict[str, Scorer]:
    predict = "predict"
    scorers = [
        Scorer("accuracy", Accuracy(), predict),
        Scorer("balanced_accuracy", BalancedAccuracy(), predict),
        Scorer("roc_auc", RocAuc(), ("decision_function", "predict_proba")),
        Scorer("neg_log_loss", LogLoss(), "predict_proba", -1),
        Scorer("r2", R2(), predict),
        Scorer("neg_mean_squared_error", MeanSquaredError(), predict, -1),
        Scorer("neg_root_mean_squared_error", MeanSquaredError(root=True), predict, -1),
        Scorer("neg_mean_absolute_error", MeanAbsoluteError(), predict, -1),
    ]
    kinds: tuple[Literal["precision", "recall", "f1"], ...] = ("precision", "recall", "f1")
    averages: tuple[Average, ...] = ("micro", "macro", "weighted")
    for kind in kinds:
        scorers.append(Scorer(kind, PrecisionRecallF1(kind, average="binary"), predict))
        for average in averages:
            metric = PrecisionRecallF1(kind, pos_label=None, average=average)
            scorers.append(Scorer(f"{kind}_{average}", metric, predict))
    return {s.name: s for s in scorers}


_SCORERS = _build_scorers()

#: The scikit-learn scorer names that :func:`get_scorer` accepts.
SCORER_NAMES: tuple[str, ...] = tuple(sorted(_SCORERS))


def get_scorer(scoring: str | Scorer) -> Scorer:
    """The :class:`Scorer` of a scikit-learn scorer name (a :class:`Scorer` passes through)."""
    if isinstance(scoring, Scorer):
        return scoring
    if isinstance(scoring, str) and scoring in _SCORERS:
        return _SCORERS[scoring]
    raise InputError(
        f"scoring={scoring!r} is not a scorer daskpar can compute per partition. Use one of "
        f"{', '.join(SCORER_NAMES)}. Arbitrary scikit-learn scorers (callables, "
        "make_scorer) cannot run per partition: they need all predictions in one place."
    )
