"""Metrics of partitioned data, computed on the workers: scikit-learn's numbers, out of core.

Each function takes dask arrays (or numpy arrays and array-likes, which become dask arrays) and
returns what the scikit-learn function of the same name returns on the same data, to float
rounding. One task per block computes a small state (label counts, score histograms, residual
sums); the states merge through a tree of fan-in ``split_every`` and only the metric reaches the
client. The dashboard shows the tasks as ``daskpar-<state>-partition``,
``daskpar-<state>-combine`` and ``daskpar-<state>-result``, where ``<state>`` is ``confusion``,
``log-loss``, ``roc-auc`` or ``residuals``.

Where daskpar differs from scikit-learn, it mostly raises instead of returning a misleading
number:

- labels predicted but absent from ``y_true`` make :func:`balanced_accuracy_score` and
  :func:`precision_score` / :func:`recall_score` / :func:`f1_score` with
  ``average`` in ``{"binary", "macro", "weighted"}`` raise :class:`~daskpar.InputError` unless
  ``labels=`` is given (scikit-learn warns at most);
- :func:`roc_auc_score` with one class in ``y_true`` raises (scikit-learn 1.9 warns and returns
  NaN);
- :func:`r2_score` of a constant ``y_true`` follows scikit-learn's convention (1.0 for perfect
  predictions, else 0.0) even when the rounded mean of the constant leaves scikit-learn a tiny
  nonzero total sum of squares and an arbitrary score;
- the ``neg_log_loss`` scorer passes the model's ``classes_`` as ``labels``, so data missing a
  class the model knows gets ``log_loss(y, proba, labels=model.classes_)`` where scikit-learn's
  scorer raises (a validation fold may lack a rare class).

:func:`get_scorer` maps scikit-learn's scorer names to :class:`Scorer` objects that compute the
same per partition, for :class:`~daskpar.ParallelIncremental` and the searches; :func:`score`
scores a fitted estimator with one of them, predicting each block where it lives.
"""

from __future__ import annotations

from collections.abc import Callable
from numbers import Integral, Real
from typing import Any, Literal

import dask.array as da
import numpy as np
from dask.array.core import normalize_chunks
from sklearn.base import is_classifier
from sklearn.utils._param_validation import (
    Interval,
    Options,
    StrOptions,
    validate_parameter_constraints,
)

from ._graph import broadcast, compute_one, map_partitions, tree_combine
from ._metrics import (
    R2,
    SCORER_NAMES,
    Accuracy,
    ApproximateMetricWarning,
    BalancedAccuracy,
    ConfusionMatrix,
    LogLoss,
    MeanAbsoluteError,
    MeanSquaredError,
    Metric,
    PrecisionRecallF1,
    RocAuc,
    Scorer,
    finalize_metric,
    get_scorer,
    metric_partition,
    scorer_partition,
)
from ._tasks import combine_states
from ._validation import _check_known_chunks, check_label_dtype, check_row_chunks, check_X
from .errors import InputError

__all__ = [
    "SCORER_NAMES",
    "ApproximateMetricWarning",
    "Metric",
    "Scorer",
    "accuracy_score",
    "balanced_accuracy_score",
    "confusion_matrix",
    "f1_score",
    "get_scorer",
    "log_loss",
    "mean_absolute_error",
    "mean_squared_error",
    "precision_score",
    "r2_score",
    "recall_score",
    "roc_auc_score",
    "score",
]

Kind = Literal["labels", "numbers", "probabilities"]

# --------------------------------------------------------------------------------------------
# Input checks, all on the client before any task runs


def _in_memory(a: Any, name: str, kind: Kind) -> np.ndarray:
    arr = np.asarray(a)
    if arr.dtype != object:
        return arr
    # pandas and lists of Python objects: strings stay labels, the rest must be numbers.
    if kind == "labels" and all(isinstance(v, str) for v in arr.ravel().tolist()):
        return arr.astype(str)
    try:
        return arr.astype(np.float64)
    except (TypeError, ValueError):
        raise InputError(
            f"{name} holds values that are neither numbers nor strings; convert it to a "
            "numeric (or, for labels, string) array first."
        ) from None


def _checked(a: Any, name: str, kind: Kind) -> da.Array | np.ndarray:
    """``a`` as a dask or numpy array of a dtype and shape that fit ``kind``."""
    if a is None:
        raise InputError(f"{name} is None; pass an array with one entry per sample.")
    if not isinstance(a, da.Array):
        a = _in_memory(a, name, kind)
    if kind == "labels":
        check_label_dtype(a, name)
    elif a.dtype.kind not in "biuf":
        raise InputError(
            f"{name} must have a numeric dtype; got dtype {a.dtype}. Encode it as numbers first."
        )
    if kind == "probabilities":
        if a.ndim not in (1, 2):
            raise InputError(
                f"{name} must be 1-D (the probability of the greater label) or 2-D (one column "
                f"per class); got shape {a.shape}."
            )
        if a.ndim == 2 and isinstance(a, da.Array) and len(a.chunks[1]) != 1:
            raise InputError(
                f"{name} is chunked along columns (column chunks {a.chunks[1]}); each task "
                f"needs all of a row's probabilities. Rechunk with {name}.rechunk({{1: -1}})."
            )
        return a
    if a.ndim == 2 and a.shape[1] == 1:
        a = a[:, 0]
    if a.ndim != 1:
        hint = " Multilabel and multioutput targets are not supported." if a.ndim == 2 else ""
        raise InputError(f"{name} must be 1-D (one value per sample); got shape {a.shape}.{hint}")
    return a


def _aligned(
    specs: list[tuple[Any, str, Kind]],
    sample_weight: Any,
    *,
    reference: tuple[da.Array, str] | None = None,
) -> tuple[list[da.Array], da.Array | None]:
    """The arrays of ``specs`` and ``sample_weight`` (if given) checked, in common row chunks.

    The row chunks are ``reference``'s, else those of the first dask array among the arrays;
    with no dask array at all, ~128 MiB of float64 rows per chunk. Every array is then checked
    to have the row chunks of ``reference`` (or of the first array).
    """
    if sample_weight is not None:
        specs = [*specs, (sample_weight, "sample_weight", "numbers")]
    named = [(_checked(a, name, kind), name) for a, name, kind in specs]
    candidates = ([reference] if reference is not None else []) + named
    on_dask = [(a, name) for a, name in candidates if isinstance(a, da.Array)]
    if on_dask:
        _check_known_chunks(*on_dask[0])
        rows = on_dask[0][0].chunks[0]
    else:
        rows = normalize_chunks("auto", shape=(named[0][0].shape[0],), dtype=np.float64)[0]
    arrays = []
    for a, _ in named:
        if not isinstance(a, da.Array):
            # An array of another length stays one block, for check_row_chunks to refuse.
            fits = a.shape[0] == sum(rows)
            a = da.from_array(a, chunks=(rows,) + (-1,) * (a.ndim - 1) if fits else -1)
        arrays.append(a)
    base, base_name = reference if reference is not None else (arrays[0], named[0][1])
    for a, (_, name) in zip(arrays, named, strict=True):
        if a is not base:
            check_row_chunks(base, a, x_name=base_name, y_name=name)
    weight = arrays.pop() if sample_weight is not None else None
    return arrays, weight


def _prepare(
    y_true: Any,
    y_pred: Any,
    sample_weight: Any,
    *,
    true_kind: Kind,
    pred_kind: Kind,
    pred_name: str = "y_pred",
) -> tuple[da.Array, da.Array, da.Array | None]:
    """``y_true``, ``y_pred`` and ``sample_weight`` checked and in common row chunks."""
    (true, pred), weight = _aligned(
        [(y_true, "y_true", true_kind), (y_pred, pred_name, pred_kind)], sample_weight
    )
    # Object arrays may hold either; their tasks check them (label_types).
    strings = {a.dtype.kind in "US" for a in (true, pred) if a.dtype.kind != "O"}
    if true_kind == "labels" and pred_kind == "labels" and len(strings) > 1:
        raise InputError("Mix of label input types (string and number)")
    if true.shape[0] == 0:
        raise InputError(
            "Found empty input array (e.g., `y_true` or `y_pred`) while a minimum of 1 sample "
            "is required."
        )
    return true, pred, weight


def _reduce(
    task: Callable[..., Any],
    arrays: tuple[da.Array, da.Array, da.Array | None],
    *,
    evaluator: Metric | ConfusionMatrix | Scorer,
    stage: str,
    result_stage: str,
    split_every: int,
    stacklevel: int,
    **task_kwargs: Any,
) -> Any:
    """``task`` on every block, the states merged through the tree, ``evaluator`` of the root."""
    parts = map_partitions(
        task, *arrays, stage=f"{stage}-partition", with_position=True, **task_kwargs
    )
    root = tree_combine(
        parts,
        combine_states,
        finalize_metric,
        split_every=split_every,
        stage=f"{stage}-combine",
        finalize_stage=result_stage,
        metric=evaluator,
    )
    # Warnings raised by the finalize task (on a worker) surface here, at the user's call.
    return compute_one(root).unwrap(stacklevel=stacklevel)


def _evaluate(
    metric: Metric | ConfusionMatrix,
    y_true: da.Array,
    y_pred: da.Array,
    sample_weight: da.Array | None,
    split_every: int,
    stacklevel: int = 3,
) -> Any:
    """Compute ``metric`` through the tree; ``stacklevel`` as :func:`_reduce`'s."""
    stage = f"daskpar-{metric.stage}"
    return _reduce(
        metric_partition,
        (y_true, y_pred, sample_weight),
        evaluator=metric,
        stage=stage,
        result_stage=f"{stage}-result",
        split_every=split_every,
        stacklevel=stacklevel + 1,
        metric=metric,
    )


def _validate(caller: str, split_every: int, **checks: tuple[Any, list[Any]]) -> None:
    """Check each ``name=(value, constraints)`` and ``split_every``, as scikit-learn would."""
    checks["split_every"] = (split_every, [Interval(Integral, 2, None, closed="left")])
    validate_parameter_constraints(
        {name: constraints for name, (_, constraints) in checks.items()},
        {name: value for name, (value, _) in checks.items()},
        caller_name=caller,
    )


def _labels_tuple(labels: Any) -> tuple[Any, ...] | None:
    return None if labels is None else tuple(np.asarray(labels).tolist())


# --------------------------------------------------------------------------------------------
# Classification


def accuracy_score(
    y_true: Any,
    y_pred: Any,
    *,
    normalize: bool = True,
    sample_weight: Any = None,
    split_every: int = 8,
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
    split_every : int, default=8
        Fan-in of the tree that merges the partitions' counts.

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
    _validate("accuracy_score", split_every, normalize=(normalize, ["boolean"]))
    arrays = _prepare(y_true, y_pred, sample_weight, true_kind="labels", pred_kind="labels")
    return float(_evaluate(Accuracy(normalize=normalize), *arrays, split_every))


def balanced_accuracy_score(
    y_true: Any,
    y_pred: Any,
    *,
    sample_weight: Any = None,
    adjusted: bool = False,
    split_every: int = 8,
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
    split_every : int, default=8
        Fan-in of the tree that merges the partitions' counts.

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
    _validate("balanced_accuracy_score", split_every, adjusted=(adjusted, ["boolean"]))
    arrays = _prepare(y_true, y_pred, sample_weight, true_kind="labels", pred_kind="labels")
    return float(_evaluate(BalancedAccuracy(adjusted=adjusted), *arrays, split_every))


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
    split_every : int, default=8
        Fan-in of the tree that merges the partitions' counts.

    Returns
    -------
    score : float

    Raises
    ------
    InputError
        With ``average`` in ``{"binary", "macro", "weighted"}`` and no ``labels``, if
        ``y_pred`` holds labels that never occur in ``y_true`` (scikit-learn only warns, and
        counts them as classes without true samples). Pass ``labels=`` to choose the labels."""


def _prf_doc(function: Callable[..., float]) -> Callable[..., float]:
    """Put the sections the three functions share where their docstring says ``{sections}``."""
    function.__doc__ = (function.__doc__ or "").replace("{sections}", _PRF_SECTIONS)
    return function


def _precision_recall_f1(
    kind: Literal["precision", "recall", "f1"],
    y_true: Any,
    y_pred: Any,
    sample_weight: Any,
    split_every: int,
    *,
    labels: Any,
    pos_label: Any,
    average: Any,
    zero_division: Any,
) -> float:
    _validate(
        f"{kind}_score",
        split_every,
        labels=(labels, ["array-like", None]),
        pos_label=(pos_label, [Real, str, "boolean", None]),
        average=(average, [StrOptions({"binary", "micro", "macro", "weighted"})]),
        zero_division=(zero_division, [Options(Real, {0.0, 1.0}), "nan", StrOptions({"warn"})]),
    )
    arrays = _prepare(y_true, y_pred, sample_weight, true_kind="labels", pred_kind="labels")
    metric = PrecisionRecallF1(kind, _labels_tuple(labels), pos_label, average, zero_division)
    return float(_evaluate(metric, *arrays, split_every, stacklevel=4))


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
    split_every: int = 8,
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
    split_every: int = 8,
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
    split_every: int = 8,
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


def confusion_matrix(
    y_true: Any,
    y_pred: Any,
    *,
    labels: Any = None,
    sample_weight: Any = None,
    normalize: Literal["true", "pred", "all"] | None = None,
    split_every: int = 8,
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
    split_every : int, default=8
        Fan-in of the tree that merges the partitions' counts.

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
    _validate(
        "confusion_matrix",
        split_every,
        labels=(labels, ["array-like", None]),
        normalize=(normalize, [StrOptions({"true", "pred", "all"}), None]),
    )
    arrays = _prepare(y_true, y_pred, sample_weight, true_kind="labels", pred_kind="labels")
    metric = ConfusionMatrix(labels=_labels_tuple(labels), normalize=normalize)
    result: np.ndarray = _evaluate(metric, *arrays, split_every)
    return result


def log_loss(
    y_true: Any,
    y_proba: Any,
    *,
    normalize: bool = True,
    sample_weight: Any = None,
    labels: Any = None,
    split_every: int = 8,
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
    split_every : int, default=8
        Fan-in of the tree that merges the partitions' sums.

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
    _validate(
        "log_loss",
        split_every,
        normalize=(normalize, ["boolean"]),
        labels=(labels, ["array-like", None]),
    )
    arrays = _prepare(
        y_true,
        y_proba,
        sample_weight,
        true_kind="labels",
        pred_kind="probabilities",
        pred_name="y_proba",
    )
    metric = LogLoss(labels=_labels_tuple(labels), normalize=normalize)
    return float(_evaluate(metric, *arrays, split_every))


def roc_auc_score(
    y_true: Any,
    y_score: Any,
    *,
    sample_weight: Any = None,
    max_bins: int = 2**20,
    split_every: int = 8,
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
    split_every : int, default=8
        Fan-in of the tree that merges the partitions' histograms.

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
    _validate(
        "roc_auc_score",
        split_every,
        max_bins=(max_bins, [Interval(Integral, 2, None, closed="left")]),
    )
    arrays = _prepare(
        y_true, y_score, sample_weight, true_kind="labels", pred_kind="numbers", pred_name="y_score"
    )
    return float(_evaluate(RocAuc(max_bins=int(max_bins)), *arrays, split_every))


# --------------------------------------------------------------------------------------------
# Regression


def _regression(
    metric: R2 | MeanSquaredError | MeanAbsoluteError,
    y_true: Any,
    y_pred: Any,
    sample_weight: Any,
    split_every: int,
) -> float:
    _validate(metric.name, split_every)
    arrays = _prepare(y_true, y_pred, sample_weight, true_kind="numbers", pred_kind="numbers")
    return float(_evaluate(metric, *arrays, split_every, stacklevel=4))


def r2_score(y_true: Any, y_pred: Any, *, sample_weight: Any = None, split_every: int = 8) -> float:
    """R², the coefficient of determination, as scikit-learn's (``force_finite=True``).

    A constant ``y_true`` scores 1.0 for perfect predictions and 0.0 otherwise; fewer than two
    samples give NaN with an ``UndefinedMetricWarning``.

    Parameters
    ----------
    y_true, y_pred : dask or numpy arrays of shape (n_samples,)
        True and predicted targets, in equal row chunks (one target only).
    sample_weight : dask or numpy array of shape (n_samples,), optional
        Weights, in the same row chunks.
    split_every : int, default=8
        Fan-in of the tree that merges the partitions' sums.

    Returns
    -------
    score : float

    Examples
    --------
    >>> import dask.array as da
    >>> from daskpar.metrics import r2_score
    >>> y_true = da.from_array([3, -0.5, 2, 7], chunks=2)
    >>> y_pred = da.from_array([2.5, 0.0, 2, 8], chunks=2)
    >>> round(r2_score(y_true, y_pred), 4)
    0.9486
    """
    return _regression(R2(), y_true, y_pred, sample_weight, split_every)


def mean_squared_error(
    y_true: Any, y_pred: Any, *, sample_weight: Any = None, split_every: int = 8
) -> float:
    """The (weighted) mean squared error, as scikit-learn's.

    Parameters
    ----------
    y_true, y_pred : dask or numpy arrays of shape (n_samples,)
        True and predicted targets, in equal row chunks (one target only).
    sample_weight : dask or numpy array of shape (n_samples,), optional
        Weights, in the same row chunks.
    split_every : int, default=8
        Fan-in of the tree that merges the partitions' sums.

    Returns
    -------
    loss : float

    Examples
    --------
    >>> import dask.array as da
    >>> from daskpar.metrics import mean_squared_error
    >>> y_true = da.from_array([3, -0.5, 2, 7], chunks=2)
    >>> y_pred = da.from_array([2.5, 0.0, 2, 8], chunks=2)
    >>> round(mean_squared_error(y_true, y_pred), 4)
    0.375
    """
    return _regression(MeanSquaredError(), y_true, y_pred, sample_weight, split_every)


def mean_absolute_error(
    y_true: Any, y_pred: Any, *, sample_weight: Any = None, split_every: int = 8
) -> float:
    """The (weighted) mean absolute error, as scikit-learn's.

    Parameters
    ----------
    y_true, y_pred : dask or numpy arrays of shape (n_samples,)
        True and predicted targets, in equal row chunks (one target only).
    sample_weight : dask or numpy array of shape (n_samples,), optional
        Weights, in the same row chunks.
    split_every : int, default=8
        Fan-in of the tree that merges the partitions' sums.

    Returns
    -------
    loss : float

    Examples
    --------
    >>> import dask.array as da
    >>> from daskpar.metrics import mean_absolute_error
    >>> y_true = da.from_array([3, -0.5, 2, 7], chunks=2)
    >>> y_pred = da.from_array([2.5, 0.0, 2, 8], chunks=2)
    >>> round(mean_absolute_error(y_true, y_pred), 4)
    0.5
    """
    return _regression(MeanAbsoluteError(), y_true, y_pred, sample_weight, split_every)


# --------------------------------------------------------------------------------------------
# Scorers


def score(
    estimator: Any,
    X: Any,
    y: Any,
    scoring: str | Scorer | None = None,
    *,
    sample_weight: Any = None,
    split_every: int = 8,
) -> float:
    """Score a fitted estimator on partitioned data, as ``sklearn.metrics.get_scorer(scoring)``.

    Each task predicts one block with the estimator (sent to the workers once) and reduces
    the predictions to the scorer's state at once; predictions never leave the workers.

    Parameters
    ----------
    estimator : fitted scikit-learn estimator
    X : dask or numpy array of shape (n_samples, n_features)
        Features, chunked along rows only.
    y : dask or numpy array of shape (n_samples,)
        Targets, in X's row chunks.
    scoring : str or Scorer, optional
        One of :data:`SCORER_NAMES`, or a :class:`Scorer`. By default the estimator's own
        ``score``: ``"accuracy"`` for classifiers, ``"r2"`` otherwise.
    sample_weight : dask or numpy array of shape (n_samples,), optional
        Weights, in X's row chunks.
    split_every : int, default=8
        Fan-in of the tree that merges the partitions' states.

    Returns
    -------
    score : float
        Greater is better (``neg_*`` scorers are negated losses).

    Examples
    --------
    >>> import dask.array as da
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> from daskpar.metrics import score
    >>> X = np.array([[0.0], [1.0], [2.0], [3.0]])
    >>> y = np.array([0, 0, 1, 1])
    >>> model = LogisticRegression().fit(X, y)
    >>> score(model, da.from_array(X, chunks=(2, 1)), da.from_array(y, chunks=2), "roc_auc")
    1.0
    """
    if scoring is None:
        scoring = "accuracy" if is_classifier(estimator) else "r2"
    scorer = get_scorer(scoring)
    _validate("score", split_every)
    X = check_X(X, n_features=getattr(estimator, "n_features_in_", None))
    (y,), weight = _aligned([(y, "y", "labels")], sample_weight, reference=(X, "X"))
    value = _reduce(
        scorer_partition,
        (X, y, weight),
        evaluator=scorer,
        stage="daskpar-score",
        result_stage="daskpar-score",
        split_every=split_every,
        stacklevel=3,
        scorer=scorer,
        model=broadcast(estimator),
    )
    return float(value)
