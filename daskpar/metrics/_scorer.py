"""Scorers: scikit-learn's scorer names, computed per partition.

A :class:`Scorer` is a fitted model's response on one block, reduced at once to a metric's
state, so that predictions never leave the workers::

    (X, y, sample_weight) blocks --scorer_partition--> state of metric(y, response(model, X))
        --combine (tree)--> one state --finalize_metric--> sign * metric

:func:`get_scorer` maps scikit-learn's scorer names to scorers (:data:`SCORER_NAMES`);
:func:`score` runs one over partitioned data. :class:`~daskpar.ParallelIncremental` and the
searches score their validation blocks with the same scorers, inside their training passes.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, replace
from typing import Any, Literal, NamedTuple

import numpy as np
from sklearn.base import is_classifier
from sklearn.pipeline import Pipeline

from .. import audit
from .._columns import is_dask_table
from .._graph import SPLIT_EVERY, broadcast
from .._sklearn_compat import validate_params
from .._states import State
from .._validation import check_aligned_rows, check_finite_block, check_X
from ..errors import InputError
from ._base import Evaluation, Metric
from ._checks import aligned_inputs
from ._classification import (
    Accuracy,
    Average,
    BalancedAccuracy,
    LogLoss,
    PrecisionRecallF1,
)
from ._ranking import RocAuc
from ._reduce import naming_partition, reduce_metric
from ._regression import R2, MeanAbsoluteError, MeanSquaredError

__all__ = [
    "SCORER_NAMES",
    "DataNames",
    "Scorer",
    "get_scorer",
    "score",
    "score_data",
    "scorer_partition",
]


class DataNames(NamedTuple):
    """What a caller calls the ``X`` and ``y`` it scores, for messages (a fit's validation
    data: ``"validation_data's X"``, ``"validation_data's y"``).

    Given to :func:`scorer_partition`, they also ask for the blocks' values to be checked
    finite first, as a fit checks the blocks it trains on.
    """

    X: str
    y: str


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
        with warnings.catch_warnings():
            # A block has no column names: a table's were matched by name on the client.
            warnings.filterwarnings("ignore", NAMELESS_BLOCK_WARNING, UserWarning)
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
        self,
        model: Any,
        X: np.ndarray,
        y: np.ndarray,
        sample_weight: np.ndarray | None = None,
        *,
        y_name: str = "y_true",
    ) -> State | None:
        """The state of one block: ``metric.partition_state(y, response(model, X), w)``;
        the metric's checks call ``y`` ``y_name``."""
        if X.shape[0] == 0:
            return None
        return self.metric_for(model).partition_state(
            y, self.response(model, X), sample_weight, y_true_name=y_name
        )

    def evaluate(self, state: State | None) -> Evaluation[float]:
        """The signed score, with the warnings to emit."""
        out = self.metric.evaluate(state)
        return Evaluation(self.sign * out.value, out.notes)

    def score(self, state: State | None) -> float:
        """``sign * metric.value(state)``: greater is better."""
        return self.evaluate(state).unwrap(stacklevel=2)


#: scikit-learn's warning for input without column names to a model fitted on a table.
NAMELESS_BLOCK_WARNING = "X does not have valid feature names"


def scorer_partition(
    X: np.ndarray,
    y: np.ndarray,
    sample_weight: np.ndarray | None,
    rows: tuple[slice, ...],
    block_id: tuple[int, ...],
    *,
    scorer: Scorer,
    model: Any,
    names: DataNames | None = None,
) -> State | None:
    """One block's state of ``scorer`` for the fitted ``model`` (a task body: ``score-block``,
    or inside a training task).

    With ``names`` (what the caller calls ``X`` and ``y``), the block's values are checked
    finite under those names before the model sees them, and the metric's checks call ``y``
    so; without, ``y`` is the metric's ``y_true``.
    """
    check_aligned_rows(X, rows[0], block_id[0], y=y, sample_weight=sample_weight)
    if names is not None:
        check_finite_block(X, names.X, rows[0], block_id[0])
        check_finite_block(y, names.y, rows[0], block_id[0])
    with naming_partition(rows, block_id):
        return scorer.partition_state(
            model, X, y, sample_weight, y_name="y_true" if names is None else names.y
        )


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


@validate_params({"split_every": SPLIT_EVERY}, prefer_skip_nested_validation=True)
def score(
    estimator: Any,
    X: Any,
    y: Any,
    scoring: str | Scorer | None = None,
    *,
    sample_weight: Any = None,
    split_every: int | None = None,
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
    split_every : int or None, default=None
        Fan-in of the tree that merges the partitions' states; None uses dask's
        ``split_every`` setting if set, else 8.

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
    # The caller of score, past validate_params's wrapper and score itself.
    return score_data(
        estimator, X, y, scoring, sample_weight=sample_weight, split_every=split_every, stacklevel=5
    )


def score_data(
    estimator: Any,
    X: Any,
    y: Any,
    scoring: str | Scorer | None = None,
    *,
    sample_weight: Any = None,
    split_every: int | None = None,
    names: DataNames | None = None,
    stacklevel: int = 3,
) -> float:
    """:func:`score`, for daskpar's own callers: ``names`` (what the caller calls ``X`` and
    ``y``, see :func:`scorer_partition`) and the ``stacklevel`` of the metric's warnings
    (3: the caller of this function)."""
    if scoring is None:
        scoring = "accuracy" if is_classifier(estimator) else "r2"
    scorer = get_scorer(scoring)
    with audit.operation("score", estimator=estimator, X=X, y=y) as record:
        if isinstance(estimator, Pipeline) and is_dask_table(X) and len(estimator) > 1:
            # A table goes through the pipeline's transformers (a ColumnTransformer encodes
            # its text columns), lazily; the last step's predictions are scored.
            X, estimator = estimator[:-1].transform(X), estimator[-1]
        X = check_X(X, n_features=getattr(estimator, "n_features_in_", None), estimator=estimator)
        (y,), weight = aligned_inputs([(y, "y", "labels")], sample_weight, reference=(X, "X"))
        value = reduce_metric(
            scorer_partition,
            (X, y, weight),
            evaluator=scorer,
            stage="score",
            split_every=split_every,
            stacklevel=stacklevel,
            scorer=scorer,
            model=broadcast(estimator),
            **({} if names is None else {"names": names}),
        )
        record.metrics[scorer.name] = float(value)
    return float(value)
