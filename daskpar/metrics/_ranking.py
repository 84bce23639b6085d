"""Ranking metrics: ROC AUC and the ROC and precision-recall curves, from merged score counts.

::

    blocks --metric_partition--> ScoreHistogram --combine (tree)--> one histogram
        --finalize_metric--> the AUC, or the curve

:class:`RocAuc`, :class:`RocCurve` and :class:`PrecisionRecallCurve` read the same
:class:`~daskpar.metrics._states.ScoreHistogram`, the (weighted) samples of each label per
distinct score (stages ``roc-auc``, ``roc-curve`` and ``pr-curve``). They judge scores, not
predicted labels, and live apart from the metrics of predicted labels
(:mod:`daskpar.metrics._classification`), as in scikit-learn's ``metrics/_ranking.py``.

The public functions check their input on the client (:mod:`daskpar.metrics._checks`) and
run one metric through the tree (:mod:`daskpar.metrics._reduce`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from numbers import Integral, Real
from typing import Any, ClassVar

import numpy as np
from sklearn.exceptions import UndefinedMetricWarning

from .._graph import SPLIT_EVERY
from .._sklearn_compat import Interval, validate_params
from .._validation import label_types
from ..errors import InputError
from ._base import MetricBase, Notes, check_finite_values, check_label_values, show_labels
from ._checks import prepare_inputs
from ._reduce import evaluate_metric
from ._states import ScoreHistogram, bin_edges

__all__ = [
    "ApproximateMetricWarning",
    "Curve",
    "PrecisionRecallCurve",
    "RocAuc",
    "RocCurve",
    "precision_recall_curve",
    "roc_auc_score",
    "roc_curve",
]

Curve = tuple[np.ndarray, np.ndarray, np.ndarray]


class ApproximateMetricWarning(UserWarning):
    """A metric was computed from binned data and may be off by more than its tolerance."""


# --------------------------------------------------------------------------------------------
# Metrics


@dataclass(frozen=True)
class RocAuc(MetricBase[float]):
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

    def _state(
        self, y_true: np.ndarray, y_pred: np.ndarray, w: np.ndarray, y_true_name: str
    ) -> ScoreHistogram:
        if y_pred.ndim != 1:
            raise InputError(
                f"roc_auc_score needs one score per sample (shape (n_samples,)); got y_score of "
                f"shape {y_pred.shape}. Multiclass ROC AUC is not supported yet."
            )
        check_label_values(y_true, y_true_name)
        check_finite_values(y_pred, "y_score")
        return ScoreHistogram.of(y_true, y_pred, w, self.max_bins, y_true_name=y_true_name)

    def error_bound(self, state: ScoreHistogram) -> float:
        """The most the AUC of ``state`` can differ from the exact AUC (0 when not binned)."""
        if state.shift == 0:
            return 0.0
        neg, pos = state.counts[:, 0].astype(np.float64), state.counts[:, 1].astype(np.float64)
        return float(0.5 * np.sum(pos * neg) / (pos.sum() * neg.sum()))

    def _compute(self, s: ScoreHistogram, notes: Notes) -> float:
        if len(s.labels) > 2:
            raise InputError(
                f"roc_auc_score supports binary y_true only; y_true holds at least 3 labels "
                f"(such as {show_labels(s.labels)}). Multiclass ROC AUC is not supported yet."
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


@dataclass(frozen=True)
class _ScoreCurve(MetricBase[Curve]):
    """A curve over the decreasing thresholds of a binary score, from a score histogram.

    Each bin of the merged :class:`~daskpar.metrics._states.ScoreHistogram` is one threshold:
    with at most ``max_bins`` distinct scores, a bin is one score and the curve is scikit-learn's;
    past that, the threshold is the bin's lower edge, so every point is still exact (the counts
    of the samples scored at or above it), and the curve has fewer of them.
    """

    pos_label: Any = None
    drop_intermediate: bool = False
    max_bins: int = 2**20
    score_dtype: str = "float64"

    def _state(
        self, y_true: np.ndarray, y_pred: np.ndarray, w: np.ndarray, y_true_name: str
    ) -> ScoreHistogram:
        check_label_values(y_true, y_true_name)
        check_finite_values(y_pred, "y_score")
        if self.pos_label is not None:
            # As scikit-learn: any number of labels, the positive one against the rest.
            label_types(y_true, y_true_name)
            y_true = y_true == self.pos_label
        return ScoreHistogram.of(y_true, y_pred, w, self.max_bins, y_true_name=y_true_name)

    def _counts(self, s: ScoreHistogram) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Scikit-learn's ``fps``, ``tps`` and ``thresholds``: by decreasing threshold."""
        if self.pos_label is None:
            self._check_default_labels(s.labels)
        # True where y_true == pos_label (a bool label), else the label 1.
        positive = s.labels == 1
        counts = s.counts.astype(np.float64)[::-1]
        tps = np.cumsum(counts[:, positive].sum(axis=1))
        fps = np.cumsum(counts[:, ~positive].sum(axis=1))
        return fps, tps, self._thresholds(s)[::-1]

    def _check_default_labels(self, labels: np.ndarray) -> None:
        """Without ``pos_label``, the labels must say which one is positive, as scikit-learn's."""
        if len(labels) > 2:
            raise InputError(
                f"multiclass format is not supported: y_true holds at least 3 labels (such as "
                f"{show_labels(labels)}). Pass pos_label= to score one label against the rest."
            )
        allowed = ([0, 1], [-1, 1], [0], [-1], [1])
        if labels.dtype.kind in "OUS" or labels.tolist() not in allowed:
            shown = ", ".join(map(repr, labels.tolist()))
            raise InputError(
                f"y_true takes value in {{{shown}}} and pos_label is not specified: either make "
                "y_true take value in {0, 1} or {-1, 1} or pass pos_label explicitly."
            )

    def _thresholds(self, s: ScoreHistogram) -> np.ndarray:
        """The lowest score of each bin, in the dtype of ``y_score``, by increasing score."""
        edges = bin_edges(s.keys, s.shift)
        dtype = np.dtype(self.score_dtype)
        if dtype.kind != "f":
            # Integer (or boolean) scores: the least integer at or above the edge.
            return np.ceil(edges).astype(dtype)
        thresholds = edges.astype(dtype)
        # A binned edge may fall between two values of a narrower dtype: round it up, which
        # keeps every score of the bin at or above it and every lower score below.
        low = thresholds < edges
        thresholds[low] = np.nextafter(thresholds[low], np.asarray(np.inf, dtype=dtype))
        return thresholds


@dataclass(frozen=True)
class RocCurve(_ScoreCurve):
    """The ROC curve (false and true positive rates by threshold), as scikit-learn's."""

    drop_intermediate: bool = True
    stage: ClassVar[str] = "roc-curve"
    function: ClassVar[str] = "roc_curve"

    def _compute(self, s: ScoreHistogram, notes: Notes) -> Curve:
        fps, tps, thresholds = self._counts(s)
        if self.drop_intermediate and len(fps) > 2:
            # Points collinear with their neighbours are never corners of the curve.
            corners = np.logical_or(np.diff(fps, 2), np.diff(tps, 2))
            keep = np.flatnonzero(np.concatenate([[True], corners, [True]]))
            fps, tps, thresholds = fps[keep], tps[keep], thresholds[keep]
        # An extra threshold so that the curve starts at (0, 0).
        fps, tps = np.concatenate([[0.0], fps]), np.concatenate([[0.0], tps])
        thresholds = np.concatenate([[np.inf], thresholds.astype(np.float64)])
        if fps[-1] <= 0:
            notes.warn(
                "No negative samples in y_true, false positive value should be meaningless",
                UndefinedMetricWarning,
            )
            fpr = np.full(fps.shape, np.nan)
        else:
            fpr = fps / fps[-1]
        if tps[-1] <= 0:
            notes.warn(
                "No positive samples in y_true, true positive value should be meaningless",
                UndefinedMetricWarning,
            )
            tpr = np.full(tps.shape, np.nan)
        else:
            tpr = tps / tps[-1]
        return fpr, tpr, thresholds


@dataclass(frozen=True)
class PrecisionRecallCurve(_ScoreCurve):
    """Precision and recall by threshold, as scikit-learn's ``precision_recall_curve``."""

    stage: ClassVar[str] = "pr-curve"
    function: ClassVar[str] = "precision_recall_curve"

    def _compute(self, s: ScoreHistogram, notes: Notes) -> Curve:
        fps, tps, thresholds = self._counts(s)
        if self.drop_intermediate and len(fps) > 2:
            # Keep the first and last point of each run of equal true positives.
            ends = np.logical_or(np.diff(tps[:-1]), np.diff(tps[1:]))
            keep = np.flatnonzero(np.concatenate([[True], ends, [True]]))
            fps, tps, thresholds = fps[keep], tps[keep], thresholds[keep]
        predicted = tps + fps
        with np.errstate(divide="ignore", invalid="ignore"):
            precision = np.where(predicted != 0, tps / predicted, 0.0)
        if tps[-1] == 0:
            notes.warn(
                "No positive class found in y_true, recall is set to one for all thresholds."
            )
            recall = np.ones_like(tps)
        else:
            recall = tps / tps[-1]
        # By increasing threshold: recall decreases, and the curve ends at (recall 0, precision 1).
        return (
            np.concatenate([precision[::-1], [1.0]]),
            np.concatenate([recall[::-1], [0.0]]),
            thresholds[::-1],
        )


# --------------------------------------------------------------------------------------------
# Functions


@validate_params(
    {"max_bins": [Interval(Integral, 2, None, closed="left")], "split_every": SPLIT_EVERY},
    prefer_skip_nested_validation=True,
)
def roc_auc_score(
    y_true: Any,
    y_score: Any,
    *,
    sample_weight: Any = None,
    max_bins: int = 2**20,
    split_every: int | None = None,
) -> float:
    """Area under the ROC curve of binary targets, as scikit-learn's, exact up to ``max_bins``.

    Each partition counts the (weighted) samples of each label per distinct score; the AUC
    is the Mann-Whitney statistic of the merged counts, with equal scores counting half, which
    is what scikit-learn's trapezoidal ROC AUC equals. The greater of the two labels is the
    positive class.

    When there are more than ``max_bins`` distinct scores, neighbouring scores are merged
    into at most ``max_bins`` bins (the same bins whatever the partitioning) and pairs within a
    bin count as ties. The result is then off from the exact AUC by at most
    ``0.5 * sum_b pos_b * neg_b / (P * N)`` (``pos_b``, ``neg_b``: the weights of positives
    and negatives in bin ``b``; ``P``, ``N``: their totals); when that bound exceeds 1e-4 an
    :class:`ApproximateMetricWarning` gives it and asks for a larger ``max_bins``. Each bin
    costs 24 bytes in the merged state.

    Parameters
    ----------
    y_true : dask or numpy array of shape (n_samples,)
        True labels: exactly two distinct values.
    y_score : dask or numpy array of shape (n_samples,)
        Scores of the greater label (``decision_function``, or ``predict_proba(X)[:, 1]``).
    sample_weight : dask or numpy array of shape (n_samples,), optional
        Weights, in the same row chunks.
    max_bins : int, default=2**20
        The most distinct score bins kept; the AUC is exact up to this many distinct scores.
    split_every : int or None, default=None
        Fan-in of the tree that merges the partitions' histograms; None uses dask's
        ``split_every`` setting if set, else 8.

    Returns
    -------
    auc : float

    Raises
    ------
    InputError
        If ``y_true`` has one class (scikit-learn 1.9 warns and returns NaN), or more than
        two (multiclass ROC AUC is not supported yet).

    Examples
    --------
    >>> import dask.array as da
    >>> from daskpar.metrics import roc_auc_score
    >>> y_true = da.from_array([0, 0, 1, 1], chunks=2)
    >>> y_score = da.from_array([0.1, 0.4, 0.35, 0.8], chunks=2)
    >>> roc_auc_score(y_true, y_score)
    0.75
    """
    arrays = prepare_inputs(
        y_true, y_score, sample_weight, true_kind="labels", pred_kind="numbers", pred_name="y_score"
    )
    return float(evaluate_metric(RocAuc(max_bins=int(max_bins)), *arrays, split_every))


_CURVE_CONSTRAINTS: dict[str, list[Any]] = {
    "pos_label": [Real, str, "boolean", None],
    "drop_intermediate": ["boolean"],
    "max_bins": [Interval(Integral, 2, None, closed="left")],
    "split_every": SPLIT_EVERY,
}


def _score_curve(
    metric: type[_ScoreCurve],
    y_true: Any,
    y_score: Any,
    sample_weight: Any,
    split_every: int | None,
    **params: Any,
) -> Curve:
    true, score, weight = prepare_inputs(
        y_true, y_score, sample_weight, true_kind="labels", pred_kind="numbers", pred_name="y_score"
    )
    curve = metric(score_dtype=score.dtype.str, **params)
    result: Curve = evaluate_metric(curve, true, score, weight, split_every, stacklevel=5)
    return result


@validate_params(_CURVE_CONSTRAINTS, prefer_skip_nested_validation=True)
def roc_curve(
    y_true: Any,
    y_score: Any,
    *,
    pos_label: Any = None,
    sample_weight: Any = None,
    drop_intermediate: bool = True,
    max_bins: int = 2**20,
    split_every: int | None = None,
) -> Curve:
    """The ROC curve of a binary target, as scikit-learn's ``roc_curve``, from one pass.

    Each partition counts the (weighted) samples of each label per distinct score, the state of
    :func:`roc_auc_score`; the merged counts, summed from the highest score down, are the
    false and true positives at every threshold. Only the curve reaches the client.

    Parameters
    ----------
    y_true : dask or numpy array of shape (n_samples,)
        True labels: in ``{0, 1}`` or ``{-1, 1}``, or any labels with ``pos_label``.
    y_score : dask or numpy array of shape (n_samples,)
        Scores of the positive label (``decision_function``, or a column of
        ``predict_proba``), in row chunks equal to ``y_true``'s.
    pos_label : int, float, bool or str, default=None
        The positive label; the samples of every other label are negatives. ``None`` means 1,
        for ``y_true`` in ``{0, 1}`` or ``{-1, 1}``.
    sample_weight : dask or numpy array of shape (n_samples,), optional
        Weights, in the same row chunks. Samples of weight zero are left out.
    drop_intermediate : bool, default=True
        Drop the thresholds whose points are collinear with their neighbours (never corners
        of the curve), as scikit-learn does.
    max_bins : int, default=2**20
        The most distinct score bins kept (24 bytes each in the merged state). Up to this many
        distinct scores, the curve is scikit-learn's; past it, neighbouring scores share a bin
        (the same bins whatever the partitioning), the curve has a point per bin and each
        point is exact: its threshold is the lowest value of the bin.
    split_every : int or None, default=None
        Fan-in of the tree that merges the partitions' histograms; None uses dask's
        ``split_every`` setting if set, else 8.

    Returns
    -------
    fpr : ndarray of shape (n_thresholds,)
        False positive rate of the samples scored at or above each threshold, increasing.
    tpr : ndarray of shape (n_thresholds,)
        True positive rate, increasing.
    thresholds : ndarray of shape (n_thresholds,)
        Decreasing thresholds (float64); the first, ``inf``, classifies no sample as positive.

    Raises
    ------
    InputError
        Without ``pos_label``, if ``y_true`` holds labels other than ``{0, 1}`` or
        ``{-1, 1}`` (or one of them), as scikit-learn.

    Examples
    --------
    >>> import dask.array as da
    >>> from daskpar.metrics import roc_curve
    >>> y_true = da.from_array([0, 0, 1, 1], chunks=2)
    >>> y_score = da.from_array([0.1, 0.4, 0.35, 0.8], chunks=2)
    >>> fpr, tpr, thresholds = roc_curve(y_true, y_score)
    >>> fpr
    array([0. , 0. , 0.5, 0.5, 1. ])
    >>> tpr
    array([0. , 0.5, 0.5, 1. , 1. ])
    >>> thresholds
    array([ inf, 0.8 , 0.4 , 0.35, 0.1 ])
    """
    return _score_curve(
        RocCurve, y_true, y_score, sample_weight, split_every, pos_label=pos_label,
        drop_intermediate=drop_intermediate, max_bins=int(max_bins),
    )  # fmt: skip


@validate_params(_CURVE_CONSTRAINTS, prefer_skip_nested_validation=True)
def precision_recall_curve(
    y_true: Any,
    y_score: Any,
    *,
    pos_label: Any = None,
    sample_weight: Any = None,
    drop_intermediate: bool = False,
    max_bins: int = 2**20,
    split_every: int | None = None,
) -> Curve:
    """Precision and recall by threshold, as scikit-learn's ``precision_recall_curve``.

    Computed from the same per-partition state as :func:`roc_curve` and
    :func:`roc_auc_score`: the (weighted) samples of each label per distinct score, merged
    through the tree.

    Parameters
    ----------
    y_true : dask or numpy array of shape (n_samples,)
        True labels: in ``{0, 1}`` or ``{-1, 1}``, or any labels with ``pos_label``.
    y_score : dask or numpy array of shape (n_samples,)
        Scores of the positive label, in row chunks equal to ``y_true``'s.
    pos_label : int, float, bool or str, default=None
        The positive label; ``None`` means 1, for ``y_true`` in ``{0, 1}`` or ``{-1, 1}``.
    sample_weight : dask or numpy array of shape (n_samples,), optional
        Weights, in the same row chunks. Samples of weight zero are left out.
    drop_intermediate : bool, default=False
        Drop the thresholds inside runs of equal recall, keeping each run's first and last.
    max_bins : int, default=2**20
        The most distinct score bins kept; up to this many distinct scores the curve is
        scikit-learn's, past it each bin gives one exact point (see :func:`roc_curve`).
    split_every : int or None, default=None
        Fan-in of the tree that merges the partitions' histograms; None uses dask's
        ``split_every`` setting if set, else 8.

    Returns
    -------
    precision : ndarray of shape (n_thresholds + 1,)
        Precision of the samples scored at or above each threshold; the last is 1.
    recall : ndarray of shape (n_thresholds + 1,)
        Recall, decreasing; the last is 0.
    thresholds : ndarray of shape (n_thresholds,)
        Increasing thresholds, in the dtype of ``y_score``.

    Raises
    ------
    InputError
        Without ``pos_label``, if ``y_true`` holds labels other than ``{0, 1}`` or
        ``{-1, 1}`` (or one of them), as scikit-learn.

    Examples
    --------
    >>> import dask.array as da
    >>> from daskpar.metrics import precision_recall_curve
    >>> y_true = da.from_array([0, 0, 1, 1], chunks=2)
    >>> y_score = da.from_array([0.1, 0.4, 0.35, 0.8], chunks=2)
    >>> precision, recall, thresholds = precision_recall_curve(y_true, y_score)
    >>> precision
    array([0.5       , 0.66666667, 0.5       , 1.        , 1.        ])
    >>> recall
    array([1. , 1. , 0.5, 0.5, 0. ])
    >>> thresholds
    array([0.1 , 0.35, 0.4 , 0.8 ])
    """
    return _score_curve(
        PrecisionRecallCurve, y_true, y_score, sample_weight, split_every, pos_label=pos_label,
        drop_intermediate=drop_intermediate, max_bins=int(max_bins),
    )  # fmt: skip
