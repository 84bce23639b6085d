"""Metrics of partitioned data, computed on the workers: scikit-learn's numbers, out of core.

Each function takes dask arrays (or numpy arrays and array-likes, which become dask arrays) and
returns what the scikit-learn function of the same name returns on the same data, to float
rounding. One task per block computes a small state (label counts, score histograms, residual
sums); the states merge through a tree of fan-in ``split_every`` and only the metric reaches the
client. The dashboard shows the tasks as ``<state>-block``,
``<state>-merge`` and ``<state>-final``, where ``<state>`` is ``confusion``,
``log-loss``, ``roc-auc``, ``roc-curve``, ``pr-curve`` or ``residuals``.

Where daskpar differs from scikit-learn, it mostly raises instead of returning a misleading
number:

- labels predicted but absent from ``y_true`` make :func:`balanced_accuracy_score` and
  :func:`precision_score` / :func:`recall_score` / :func:`f1_score` with
  ``average`` in ``{"binary", "macro", "weighted"}`` raise :class:`~daskpar.InputError` unless
  ``labels=`` is given (scikit-learn warns at most);
- :func:`roc_auc_score` with one class in ``y_true`` raises (scikit-learn 1.9 warns and returns
  NaN);
- :func:`roc_curve` and :func:`precision_recall_curve` are scikit-learn's up to ``max_bins``
  distinct scores (2**20 by default); past that, each bin of neighbouring scores gives one
  exact point of the curve, at the bin's lowest value;
- :func:`r2_score` of a constant ``y_true`` follows scikit-learn's convention (1.0 for perfect
  predictions, else 0.0) even when the rounded mean of the constant leaves scikit-learn a tiny
  nonzero total sum of squares and an arbitrary score;
- the ``neg_log_loss`` scorer passes the model's ``classes_`` as ``labels``, so data missing a
  class the model knows gets ``log_loss(y, proba, labels=model.classes_)`` where scikit-learn's
  scorer raises (a validation fold may lack a rare class).

:func:`get_scorer` maps scikit-learn's scorer names to :class:`Scorer` objects that compute the
same per partition, for :class:`~daskpar.ParallelIncremental` and the searches; :func:`score`
scores a fitted estimator with one of them, predicting each block where it lives.

The package reads as the flow (public names are imported from the private modules here):
``_checks`` (input checks on the client), ``_states`` (what one block contributes),
``_base``, ``_classification``, ``_ranking`` and ``_regression`` (metric classes and
functions), ``_scorer`` (scorers) and ``reduce_metric`` (the task bodies and the tree).
"""

from __future__ import annotations

from ._base import Metric
from ._classification import (
    accuracy_score,
    balanced_accuracy_score,
    confusion_matrix,
    f1_score,
    log_loss,
    precision_score,
    recall_score,
)
from ._ranking import ApproximateMetricWarning, precision_recall_curve, roc_auc_score, roc_curve
from ._regression import mean_absolute_error, mean_squared_error, r2_score
from ._scorer import SCORER_NAMES, Scorer, get_scorer, score

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
    "precision_recall_curve",
    "precision_score",
    "r2_score",
    "recall_score",
    "roc_auc_score",
    "roc_curve",
    "score",
]
