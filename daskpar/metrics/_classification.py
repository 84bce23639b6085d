"""Classification metrics: scikit-learn's numbers from merged label counts, out of core.

::

    blocks --metric_partition--> ConfusionState / LogLossState
        --combine (tree)--> one state --finalize_metric--> the metric

The metric classes say how one block becomes a state and how the merged state becomes
scikit-learn's number, with scikit-learn's warnings and errors: every metric of predicted
labels (:class:`Accuracy`, :class:`BalancedAccuracy`, :class:`PrecisionRecallF1`,
:class:`ConfusionMatrix`) reads a :class:`~daskpar.metrics._states.ConfusionState` and shares
the stage ``confusion``; :class:`LogLoss` has its own state and stage. The metrics of scores
(ROC AUC and the curves) are in :mod:`daskpar.metrics._ranking`.

The public functions (:func:`accuracy_score` to :func:`log_loss`) check their input on the
client (:mod:`daskpar.metrics._checks`) and run one metric through the tree
(:mod:`daskpar.metrics._reduce`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from numbers import Real
from typing import Any, ClassVar, Literal, TypeVar

import numpy as np
from sklearn.exceptions import UndefinedMetricWarning

from .._graph import SPLIT_EVERY
from .._sklearn_compat import Options, StrOptions, validate_params
from ..errors import InputError
from ._base import (
    MetricBase,
    Notes,
    check_finite_values,
    check_label_values,
    show_labels,
    zero_weight_sum_error,
)
from ._checks import prepare_inputs

# Model files saved before the ranking metrics had a module of their own name them here
# (``daskpar.metrics._classification.RocAuc``): they must keep importing from this path.
from ._ranking import PrecisionRecallCurve, RocAuc, RocCurve
from ._reduce import evaluate_metric
from ._states import ConfusionState, LogLossState

__all__ = [
    "Accuracy",
    "Average",
    "BalancedAccuracy",
    "ConfusionMatrix",
    "LogLoss",
    "PrecisionRecallCurve",
    "PrecisionRecallF1",
    "RocAuc",
    "RocCurve",
    "accuracy_score",
    "balanced_accuracy_score",
    "confusion_matrix",
    "f1_score",
    "log_loss",
    "precision_score",
    "recall_score",
]

T = TypeVar("T")
Average = Literal["binary", "micro", "macro", "weighted"]
ZeroDivision = Literal["warn"] | float


# --------------------------------------------------------------------------------------------
# Metrics


class _ConfusionMetric(MetricBase[T]):
    stage = "confusion"

    def _state(
        self, y_true: np.ndarray, y_pred: np.ndarray, w: np.ndarray, y_true_name: str
    ) -> ConfusionState:
        check_label_values(y_true, y_true_name)
        check_label_values(y_pred, "y_pred")
        return ConfusionState.of(y_true, y_pred, w, y_true_name=y_true_name)


@dataclass(frozen=True)
class Accuracy(_ConfusionMetric[float]):
    """The (weighted) fraction, or with ``normalize=False`` number, of correct predictions."""

    normalize: bool = True
    function: ClassVar[str] = "accuracy_score"

    def _compute(self, s: ConfusionState, notes: Notes) -> float:
        correct, total = s.weight[s.true_index == s.pred_index].sum(), s.weight.sum()
        if not self.normalize:
            return float(correct)
        if total == 0:
            raise zero_weight_sum_error(self.name)
        return float(correct / total)


@dataclass(frozen=True)
class BalancedAccuracy(_ConfusionMetric[float]):
    """The mean recall over the classes of ``y_true``, optionally adjusted for chance."""

    adjusted: bool = False
    function: ClassVar[str] = "balanced_accuracy_score"

    def _compute(self, s: ConfusionState, notes: Notes) -> float:
        stray = s.labels[s.in_pred & ~s.in_true]
        if len(stray):
            raise InputError(
                f"y_pred holds labels {show_labels(stray)} that never occur in y_true, so "
                "balanced_accuracy_score has no recall for them; scikit-learn warns and averages "
                "over the labels of y_true only. Balanced accuracy is the macro-averaged recall: "
                "to choose the labels explicitly, call recall_score(y_true, y_pred, "
                f"average='macro', labels=...), with labels={show_labels(s.labels[s.in_true])} for "
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
    notes: Notes,
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

    def _compute(self, s: ConfusionState, notes: Notes) -> float:
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
            f"y_pred holds labels {show_labels(stray)} that never occur in y_true. scikit-learn's "
            f"{self.name}(average={self.average!r}) scores them as classes without true samples "
            "with a warning at most, so the number hides them."
        )
        if self.average == "binary":
            return (
                f"{start} Pass labels= explicitly (e.g. labels={show_labels(s.labels)}) to get "
                "scikit-learn's number anyway."
            )
        return (
            f"{start} Pass labels= explicitly to choose the labels to score over: "
            f"labels={show_labels(s.labels)} for scikit-learn's number, or "
            f"labels={show_labels(s.labels[s.in_true])} to leave them out."
        )


@dataclass(frozen=True)
class ConfusionMatrix(_ConfusionMetric[np.ndarray]):
    """The confusion matrix over ``labels`` (default: every label seen), as scikit-learn's."""

    labels: tuple[Any, ...] | None = None
    normalize: Literal["true", "pred", "all"] | None = None
    function: ClassVar[str] = "confusion_matrix"

    def _compute(self, s: ConfusionState, notes: Notes) -> np.ndarray:
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
class LogLoss(MetricBase[float]):
    """The cross-entropy of predicted probabilities, as scikit-learn 1.9's ``log_loss``.

    ``y_pred`` holds one column per class in sorted label order (``labels`` if given, else the
    labels of ``y_true``), or for two classes the probability of the greater one.
    """

    labels: tuple[Any, ...] | None = None
    normalize: bool = True
    stage: ClassVar[str] = "log-loss"
    function: ClassVar[str] = "log_loss"

    def _state(
        self, y_true: np.ndarray, y_pred: np.ndarray, w: np.ndarray, y_true_name: str
    ) -> LogLossState:
        check_label_values(y_true, y_true_name)
        # As scikit-learn: float64, float32 and float16 stay, the rest become float64.
        if y_pred.dtype not in (np.float64, np.float32, np.float16):
            y_pred = y_pred.astype(np.float64)
        check_finite_values(y_pred, "y_proba")
        return LogLossState.of(y_true, y_pred, w, self.labels, y_true_name=y_true_name)

    def _compute(self, s: LogLossState, notes: Notes) -> float:
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
            raise zero_weight_sum_error(self.name)
        return total / s.weight


# --------------------------------------------------------------------------------------------
# Functions


def _labels_tuple(labels: Any) -> tuple[Any, ...] | None:
    return None if labels is None else tuple(np.asarray(labels).tolist())


@validate_params(
    {"normalize": ["boolean"], "split_every": SPLIT_EVERY}, prefer_skip_nested_validation=True
)
def accuracy_score(
    y_true: Any,
    y_pred: Any,
    *,
    normalize: bool = True,
    sample_weight: Any = None,
    split_every: int | None = None,
) -> float:
    """Accuracy: the fraction (or number) of correct predictions, as scikit-learn's.

    Parameters
    ----------
    y_true : dask or numpy array of shape (n_samples,)
        True labels (numbers or strings).
    y_pred : dask or numpy array of shape (n_samples,)
        Predicted labels, in row chunks equal to ``y_true``'s.
    normalize : bool, default=True
        Return the fraction of correct predictions; if False, their (weighted) number.
    sample_weight : dask or numpy array of shape (n_samples,), optional
        Weights, in the same row chunks.
    split_every : int or None, default=None
        Fan-in of the tree that merges the partitions' counts; None uses dask's
        ``split_every`` setting if set, else 8.

    Returns
    -------
    score : float

    Examples
    --------
    >>> import dask.array as da
    >>> from daskpar.metrics import accuracy_score
    >>> y_true = da.from_array([0, 1, 2, 3, 1, 1], chunks=3)
    >>> y_pred = da.from_array([0, 2, 1, 3, 1, 1], chunks=3)
    >>> accuracy_score(y_true, y_pred)
    0.6666666666666666
    >>> accuracy_score(y_true, y_pred, normalize=False)
    4.0
    """
    arrays = prepare_inputs(y_true, y_pred, sample_weight, true_kind="labels", pred_kind="labels")
    return float(evaluate_metric(Accuracy(normalize=normalize), *arrays, split_every))


@validate_params(
    {"adjusted": ["boolean"], "split_every": SPLIT_EVERY}, prefer_skip_nested_validation=True
)
def balanced_accuracy_score(
    y_true: Any,
    y_pred: Any,
    *,
    sample_weight: Any = None,
    adjusted: bool = False,
    split_every: int | None = None,
) -> float:
    """Balanced accuracy: the mean recall over the classes of ``y_true``, as scikit-learn's.

    Parameters
    ----------
    y_true, y_pred : dask or numpy arrays of shape (n_samples,)
        True and predicted labels, in equal row chunks.
    sample_weight : dask or numpy array of shape (n_samples,), optional
        Weights, in the same row chunks.
    adjusted : bool, default=False
        Adjust for chance, so that random performance scores 0 and perfect scores 1.
    split_every : int or None, default=None
        Fan-in of the tree that merges the partitions' counts; None uses dask's
        ``split_every`` setting if set, else 8.

    Returns
    -------
    balanced_accuracy : float

    Raises
    ------
    InputError
        If ``y_pred`` holds labels that never occur in ``y_true``. scikit-learn warns and
        averages over the labels of ``y_true`` only; to get that number, call
        ``recall_score(y_true, y_pred, average="macro", labels=<the labels of y_true>)``.

    Examples
    --------
    >>> import dask.array as da
    >>> from daskpar.metrics import balanced_accuracy_score
    >>> y_true = da.from_array([0, 1, 0, 0, 1, 0], chunks=2)
    >>> y_pred = da.from_array([0, 1, 0, 0, 0, 1], chunks=2)
    >>> balanced_accuracy_score(y_true, y_pred)
    0.625
    """
    arrays = prepare_inputs(y_true, y_pred, sample_weight, true_kind="labels", pred_kind="labels")
    return float(evaluate_metric(BalancedAccuracy(adjusted=adjusted), *arrays, split_every))


_PRF_SECTIONS = """Parameters
    ----------
    y_true, y_pred : dask or numpy arrays of shape (n_samples,)
        True and predicted labels, in equal row chunks.
    labels : array-like, optional
        The labels to score over when ``average != "binary"`` (default: every label of
        ``y_true`` and ``y_pred``, sorted). Labels absent from the data count zero samples.
    pos_label : int, float, bool or str, default=1
        The class to report with ``average="binary"`` (binary targets only).
    average : {"binary", "micro", "macro", "weighted"}, default="binary"
        ``"binary"``: the score of ``pos_label``. ``"micro"``: from the total true positives,
        false negatives and false positives. ``"macro"``: the unweighted mean over labels.
        ``"weighted"``: the mean over labels weighted by their true counts.
    sample_weight : dask or numpy array of shape (n_samples,), optional
        Weights, in the same row chunks.
    zero_division : {"warn", 0.0, 1.0, np.nan}, default="warn"
        The value where the ratio divides by zero; ``"warn"`` gives 0.0 with an
        ``UndefinedMetricWarning``, ``np.nan`` leaves the label out of the average.
    split_every : int or None, default=None
        Fan-in of the tree that merges the partitions' counts; None uses dask's
        ``split_every`` setting if set, else 8.

    Returns
    -------
    score : float

    Raises
    ------
    InputError
        With ``average`` in ``{"binary", "macro", "weighted"}`` and no ``labels``, if
        ``y_pred`` holds labels that never occur in ``y_true`` (scikit-learn only warns, and
        counts them as classes without true samples). Pass ``labels=`` to choose the labels."""


#: The parameter constraints of :func:`precision_score`, :func:`recall_score` and
#: :func:`f1_score`.
_PRF_CONSTRAINTS: dict[str, list[Any]] = {
    "labels": ["array-like", None],
    "pos_label": [Real, str, "boolean", None],
    "average": [StrOptions({"binary", "micro", "macro", "weighted"})],
    "zero_division": [Options(Real, {0.0, 1.0}), "nan", StrOptions({"warn"})],
    "split_every": SPLIT_EVERY,
}


def _prf_doc(function: Callable[..., float]) -> Callable[..., float]:
    """Put the sections the three functions share where their docstring says ``{sections}``."""
    function.__doc__ = (function.__doc__ or "").replace("{sections}", _PRF_SECTIONS)
    return function


def _precision_recall_f1(
    kind: Literal["precision", "recall", "f1"],
    y_true: Any,
    y_pred: Any,
    sample_weight: Any,
    split_every: int | None,
    *,
    labels: Any,
    pos_label: Any,
    average: Any,
    zero_division: Any,
) -> float:
    arrays = prepare_inputs(y_true, y_pred, sample_weight, true_kind="labels", pred_kind="labels")
    metric = PrecisionRecallF1(kind, _labels_tuple(labels), pos_label, average, zero_division)
    return float(evaluate_metric(metric, *arrays, split_every, stacklevel=5))


@validate_params(_PRF_CONSTRAINTS, prefer_skip_nested_validation=True)
@_prf_doc
def precision_score(
    y_true: Any,
    y_pred: Any,
    *,
    labels: Any = None,
    pos_label: Any = 1,
    average: Literal["binary", "micro", "macro", "weighted"] = "binary",
    sample_weight: Any = None,
    zero_division: Literal["warn"] | float = "warn",
    split_every: int | None = None,
) -> float:
    """Precision ``tp / (tp + fp)``, as scikit-learn's ``precision_score``.

    {sections}

    Examples
    --------
    >>> import dask.array as da
    >>> from daskpar.metrics import precision_score
    >>> y_true = da.from_array([0, 1, 2, 0, 1, 2], chunks=2)
    >>> y_pred = da.from_array([0, 2, 1, 0, 0, 1], chunks=2)
    >>> precision_score(y_true, y_pred, average="macro")
    0.2222222222222222
    >>> precision_score(y_true, y_pred, average="micro")
    0.3333333333333333
    """
    return _precision_recall_f1(
        "precision", y_true, y_pred, sample_weight, split_every, labels=labels,
        pos_label=pos_label, average=average, zero_division=zero_division,
    )  # fmt: skip


@validate_params(_PRF_CONSTRAINTS, prefer_skip_nested_validation=True)
@_prf_doc
def recall_score(
    y_true: Any,
    y_pred: Any,
    *,
    labels: Any = None,
    pos_label: Any = 1,
    average: Literal["binary", "micro", "macro", "weighted"] = "binary",
    sample_weight: Any = None,
    zero_division: Literal["warn"] | float = "warn",
    split_every: int | None = None,
) -> float:
    """Recall ``tp / (tp + fn)``, as scikit-learn's ``recall_score``.

    {sections}

    Examples
    --------
    >>> import dask.array as da
    >>> from daskpar.metrics import recall_score
    >>> y_true = da.from_array([0, 1, 2, 0, 1, 2], chunks=2)
    >>> y_pred = da.from_array([0, 2, 1, 0, 0, 1], chunks=2)
    >>> recall_score(y_true, y_pred, average="macro")
    0.3333333333333333
    """
    return _precision_recall_f1(
        "recall", y_true, y_pred, sample_weight, split_every, labels=labels,
        pos_label=pos_label, average=average, zero_division=zero_division,
    )  # fmt: skip


@validate_params(_PRF_CONSTRAINTS, prefer_skip_nested_validation=True)
@_prf_doc
def f1_score(
    y_true: Any,
    y_pred: Any,
    *,
    labels: Any = None,
    pos_label: Any = 1,
    average: Literal["binary", "micro", "macro", "weighted"] = "binary",
    sample_weight: Any = None,
    zero_division: Literal["warn"] | float = "warn",
    split_every: int | None = None,
) -> float:
    """F1 ``2 tp / (2 tp + fp + fn)``, as scikit-learn's ``f1_score``.

    {sections}

    Examples
    --------
    >>> import dask.array as da
    >>> from daskpar.metrics import f1_score
    >>> y_true = da.from_array([0, 1, 2, 0, 1, 2], chunks=2)
    >>> y_pred = da.from_array([0, 2, 1, 0, 0, 1], chunks=2)
    >>> f1_score(y_true, y_pred, average="macro")
    0.26666666666666666
    >>> f1_score([0, 1, 1, 0], [0, 1, 0, 0])
    0.6666666666666666
    """
    return _precision_recall_f1(
        "f1", y_true, y_pred, sample_weight, split_every, labels=labels,
        pos_label=pos_label, average=average, zero_division=zero_division,
    )  # fmt: skip


@validate_params(
    {
        "labels": ["array-like", None],
        "normalize": [StrOptions({"true", "pred", "all"}), None],
        "split_every": SPLIT_EVERY,
    },
    prefer_skip_nested_validation=True,
)
def confusion_matrix(
    y_true: Any,
    y_pred: Any,
    *,
    labels: Any = None,
    sample_weight: Any = None,
    normalize: Literal["true", "pred", "all"] | None = None,
    split_every: int | None = None,
) -> np.ndarray:
    """The confusion matrix ``C[i, j]``: samples of true label i predicted as j.

    Parameters
    ----------
    y_true, y_pred : dask or numpy arrays of shape (n_samples,)
        True and predicted labels, in equal row chunks.
    labels : array-like of shape (n_classes,), optional
        The labels that index the matrix, in order (default: every label seen, sorted).
    sample_weight : dask or numpy array of shape (n_samples,), optional
        Weights, in the same row chunks.
    normalize : {"true", "pred", "all"}, optional
        Divide by the row sums, column sums or total.
    split_every : int or None, default=None
        Fan-in of the tree that merges the partitions' counts; None uses dask's
        ``split_every`` setting if set, else 8.

    Returns
    -------
    C : ndarray of shape (n_classes, n_classes)
        int64 counts (float64 with float weights or ``normalize``), as scikit-learn's.

    Examples
    --------
    >>> import dask.array as da
    >>> from daskpar.metrics import confusion_matrix
    >>> y_true = da.from_array([2, 0, 2, 2, 0, 1], chunks=4)
    >>> y_pred = da.from_array([0, 0, 2, 2, 0, 2], chunks=4)
    >>> confusion_matrix(y_true, y_pred)
    array([[2, 0, 0],
           [0, 0, 1],
           [1, 0, 2]])
    """
    arrays = prepare_inputs(y_true, y_pred, sample_weight, true_kind="labels", pred_kind="labels")
    metric = ConfusionMatrix(labels=_labels_tuple(labels), normalize=normalize)
    result: np.ndarray = evaluate_metric(metric, *arrays, split_every)
    return result


@validate_params(
    {"normalize": ["boolean"], "labels": ["array-like", None], "split_every": SPLIT_EVERY},
    prefer_skip_nested_validation=True,
)
def log_loss(
    y_true: Any,
    y_proba: Any,
    *,
    normalize: bool = True,
    sample_weight: Any = None,
    labels: Any = None,
    split_every: int | None = None,
) -> float:
    """Log loss (cross-entropy) of predicted probabilities, as scikit-learn 1.9's.

    Exact in one pass, whatever classes each partition holds: each partition sums
    ``-log p`` per true label and probability column, and the columns are matched to labels
    once all labels are known. Probabilities are clipped to ``[eps, 1 - eps]`` of their dtype.

    Parameters
    ----------
    y_true : dask or numpy array of shape (n_samples,)
        True labels.
    y_proba : dask or numpy array of shape (n_samples, n_classes) or (n_samples,)
        Predicted probabilities, one column per class in sorted label order (as
        ``predict_proba``), or for two classes the probability of the greater label. Row
        chunks as ``y_true``'s, one column chunk.
    normalize : bool, default=True
        Return the mean loss per sample; if False, the sum.
    sample_weight : dask or numpy array of shape (n_samples,), optional
        Weights, in the same row chunks.
    labels : array-like, optional
        All the class labels (default: the labels of ``y_true``); needed when ``y_true`` misses
        classes that ``y_proba`` has columns for.
    split_every : int or None, default=None
        Fan-in of the tree that merges the partitions' sums; None uses dask's
        ``split_every`` setting if set, else 8.

    Returns
    -------
    loss : float

    Examples
    --------
    >>> import dask.array as da
    >>> from daskpar.metrics import log_loss
    >>> y_true = da.from_array(["spam", "ham", "ham", "spam"], chunks=2)
    >>> y_proba = da.from_array([[.1, .9], [.9, .1], [.8, .2], [.35, .65]], chunks=(2, 2))
    >>> round(log_loss(y_true, y_proba), 5)
    0.21616
    """
    arrays = prepare_inputs(
        y_true,
        y_proba,
        sample_weight,
        true_kind="labels",
        pred_kind="probabilities",
        pred_name="y_proba",
    )
    metric = LogLoss(labels=_labels_tuple(labels), normalize=normalize)
    return float(evaluate_metric(metric, *arrays, split_every))
