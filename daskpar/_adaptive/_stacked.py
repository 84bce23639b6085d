"""Several adaptive learners trained together: one ``partial_fit`` pass for all of them.

A search trains many candidates of one learner on the same block, and candidates that
differ only in ``alpha`` and ``learning_rate`` see the same mini-batches in the same order
(the order depends on the seed, ``shuffle`` and ``batch_size``). Those are trained here as
one stacked weight matrix: each mini-batch is read once for all of them, and the input
checks, the labels' encoding, the rows' weights, the centring, the scales and the counters
are worked out once, not once per candidate.

:func:`stack_key` says which learners can train together: equal keys, equal everything but
``alpha`` and ``learning_rate`` (and the parameters that ``partial_fit`` does not read:
``max_iter``, ``tol``, ``n_iter_no_change``, and ``random_state``, which the caller sets to
one seed for all), and, once fitted, the same scales, means, counters and classes, which
depend on the rows alone. :func:`partition_states_together` is
``daskpar._families.AdaptiveFamily.partition_state`` of several models at once
(``tests/test_stacked_search.py`` compares them).

The stacked pass follows the ``daskpar.adaptive-kernel`` setting: compiled
(:func:`~daskpar._adaptive._compiled.train_pass_stacked_compiled`, the default), each
model's sums are taken in the order of its own compiled pass, so that a stacked model has
the bits it would have alone; with ``"numpy"``
(:func:`~daskpar._adaptive._kernel.train_pass_stacked`), one BLAS product per step for all
models, equal to the numpy pass of each to float rounding. What is not stacked (sparse
blocks, another loss or class weights, another seed) trains one model at a time, as before.
"""

from __future__ import annotations

import copy
from collections.abc import Hashable, Sequence
from typing import Any

import numpy as np
import scipy.sparse as sp
from sklearn.utils import check_random_state

from .._states import SumState
from ._base import BaseAdaptiveSGD, adaptive_kernel, nonzero_rows
from ._classifier import AdaptiveSGDClassifier
from ._compiled import train_pass_stacked_compiled
from ._kernel import train_pass_stacked
from ._regressor import AdaptiveSGDRegressor
from ._state import AdaptiveState

__all__ = [
    "STACKED_PARAMETERS",
    "partial_fit_together",
    "partition_states_together",
    "scored_together",
    "stack_key",
]

#: The parameters in which learners trained together may differ: per-model scalars of the
#: update, vectors in the stacked pass.
STACKED_PARAMETERS = ("alpha", "learning_rate")
#: Parameters ``partial_fit`` does not read (``random_state``: the caller seeds every model
#: of a stack with the same seed).
_UNREAD = ("max_iter", "tol", "n_iter_no_change", "random_state")


def stack_key(model: Any) -> Hashable | None:
    """What learners that can train together share (None: not an adaptive learner).

    Their class and every parameter but :data:`STACKED_PARAMETERS` and those
    ``partial_fit`` does not read; once fitted, their dtype, features, classes, scales,
    means, counters and target sums, by value (they depend on the rows seen alone, so the
    candidates of one fold of a search agree on them).
    """
    if not isinstance(model, AdaptiveSGDClassifier | AdaptiveSGDRegressor):
        return None
    params = model.get_params(deep=False)
    shared = tuple(
        (name, repr(value))
        for name, value in sorted(params.items())
        if name not in STACKED_PARAMETERS and name not in _UNREAD
    )
    if not hasattr(model, "coef_"):
        return (type(model), shared, None)
    arrays = [model.scale_, model.mean_]
    if isinstance(model, AdaptiveSGDRegressor):
        arrays.append(model.target_sums_)
    fitted = (
        str(model.coef_.dtype),
        model.coef_.shape,
        model.n_features_in_,
        tuple(getattr(model, "feature_names_in_", ())),
        repr(getattr(model, "classes_", None)),
        model.sum_weight_,
        model.sum_norm_,
        tuple(np.asarray(a).tobytes() for a in arrays),
    )
    return (type(model), shared, fitted)


def partial_fit_together(
    estimators: Sequence[BaseAdaptiveSGD],
    X: Any,
    y: Any,
    *,
    classes: Any = None,
    sample_weight: Any = None,
) -> None:
    """``partial_fit`` of every estimator on the same rows, in one stacked pass.

    The estimators must have equal :func:`stack_key` and the same ``random_state``; each ends
    as its own ``partial_fit`` would leave it (bit for bit with the compiled kernel, to float
    rounding with the numpy one). The checks, the labels' encoding and the rows' weights are
    the first estimator's, done once. Sparse ``X`` trains the estimators one at a time (the
    stacked pass is dense).
    """
    if not estimators:
        return
    lead = estimators[0]
    if sp.issparse(X) or len(estimators) == 1:
        for est in estimators:
            kwargs: dict[str, Any] = {"sample_weight": sample_weight}
            if isinstance(est, AdaptiveSGDClassifier):
                kwargs["classes"] = classes
            est.partial_fit(X, y, **kwargs)
        return
    X, y, sample_weight = lead._start_partial_fit(X, y, classes, sample_weight)
    for est in estimators[1:]:
        if not hasattr(est, "coef_"):
            # What the lead's first call set up, for a model that has seen nothing.
            for name in ("n_features_in_", "feature_names_in_", "classes_"):
                if hasattr(lead, name):
                    setattr(est, name, copy.copy(getattr(lead, name)))
            est._allocate(X.shape[1], X.dtype)
            est.n_iter_ = 0
    Y, w = lead._targets(y, sample_weight)
    X, Y, w = nonzero_rows(X, Y, w)
    models = [est._model(sparse=False) for est in estimators]
    stacked_pass = (
        train_pass_stacked_compiled if adaptive_kernel() == "compiled" else train_pass_stacked
    )
    stacked_pass(
        models,
        X,
        Y,
        w,
        loss=lead._internal_loss(),
        alphas=[float(est.alpha) for est in estimators],
        learning_rates=[float(est.learning_rate) for est in estimators],
        epsilon=lead._epsilon(),
        batch_size=int(lead.batch_size),
        rng=check_random_state(lead.random_state) if lead.shuffle else None,
    )
    for est, model in zip(estimators, models, strict=True):
        est._set_model(model)
        est.n_iter_ += 1


def partition_states_together(
    models: Sequence[BaseAdaptiveSGD],
    X: np.ndarray,
    y: np.ndarray,
    *,
    classes: np.ndarray | None,
    seed: int,
    sample_weight: np.ndarray | None = None,
) -> list[AdaptiveState]:
    """``AdaptiveFamily.partition_state`` of each model on one block, trained together.

    Each state holds the weights, intercepts and squared gradients times the block's weight,
    the counters as increments over the model's, and the scales, as the family's own.
    """
    # Shallow copies: training replaces the fitted arrays, never writes into them.
    fitted = [copy.copy(model) for model in models]
    for est in fitted:
        est.random_state = seed
    partial_fit_together(fitted, X, y, classes=classes, sample_weight=sample_weight)
    weight = float(X.shape[0]) if sample_weight is None else float(np.sum(sample_weight))
    states = []
    for model, est in zip(models, fitted, strict=True):
        start = np.zeros_like(_counters(est)) if not hasattr(model, "coef_") else _counters(model)
        sums = {
            "coef": np.asarray(est.coef_, dtype=np.float64) * weight,
            "intercept": np.asarray(est.intercept_, dtype=np.float64) * weight,
            "squared_gradients": np.asarray(est.squared_gradients_, dtype=np.float64) * weight,
            "counters": _counters(est) - start,
        }
        state = SumState(
            X.shape[0],
            sums,
            prototype=est,
            weight=None if sample_weight is None else float(np.sum(sample_weight)),
        )
        states.append(AdaptiveState(state, np.asarray(est.scale_, dtype=np.float64)))
    return states


def scored_together(models: Sequence[BaseAdaptiveSGD], X: Any) -> list[BaseAdaptiveSGD]:
    """Copies of the fitted ``models`` whose predictions on ``X`` (``predict``,
    ``decision_function``, ``predict_proba``) skip the input checks: ``X`` is checked once,
    by the first model, for all of them.

    The models must have equal :func:`stack_key`. Each copy answers for this ``X`` only
    (other input is predicted as usual), with the bits of the model's own predictions: the
    same product per model, on the same checked rows.
    """
    if len(models) < 2 or sp.issparse(X):
        return list(models)
    rows = models[0]._checked_rows(X)
    out = []
    for model in models:
        answering = copy.copy(model)
        answering.__dict__["_known_scores"] = (X, model._scores(rows))
        out.append(answering)
    return out


def _counters(est: BaseAdaptiveSGD) -> np.ndarray:
    """The counters the partitions' states add up, as one vector (as the family's)."""
    counters = [est.sum_weight_, est.sum_norm_]
    if isinstance(est, AdaptiveSGDRegressor):
        counters.extend(est.target_sums_)
    counters.extend(est.sum_weight_ * est.mean_)
    return np.asarray(counters, dtype=np.float64)
