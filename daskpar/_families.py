"""Model families: how one kind of scikit-learn estimator is trained partition by partition.

A family knows two things about its estimators: the state one partition contributes
(:meth:`Family.partition_state`, run inside a task on a block) and how the merged state becomes
a plain fitted estimator again (:meth:`Family.finalize`). Everything else — reading blocks,
seeding, the tree — is shared, in :mod:`daskpar._tasks` and :mod:`daskpar._graph`.

Adding a family means writing one subclass here and registering it in ``_FAMILIES``; the
conformance tests in ``tests/test_families.py`` run on every registered family.
"""

from __future__ import annotations

import copy
from abc import ABC, abstractmethod
from typing import Any, ClassVar

import numpy as np
from sklearn.base import BaseEstimator, clone
from sklearn.linear_model._stochastic_gradient import BaseSGDClassifier, BaseSGDRegressor
from sklearn.naive_bayes import BernoulliNB, GaussianNB, MultinomialNB

from ._states import MomentsByClass, State, SumState
from .errors import UnsupportedEstimatorError

__all__ = ["SUPPORTED_ESTIMATORS", "Family", "family_for"]


class Family(ABC):
    """How to train one kind of estimator from per-partition states."""

    #: True when one pass over the data gives the final model (sufficient statistics).
    exact: ClassVar[bool]
    #: Names of the estimators this family trains, for error messages and docs.
    names: ClassVar[tuple[str, ...]]

    @classmethod
    @abstractmethod
    def accepts(cls, estimator: BaseEstimator) -> bool:
        """Whether this family can train ``estimator``."""

    @abstractmethod
    def partition_state(
        self,
        model: BaseEstimator,
        X: np.ndarray,
        y: np.ndarray,
        *,
        classes: np.ndarray | None,
        seed: int,
    ) -> State:
        """The state of one non-empty partition, starting from ``model`` (never mutated)."""

    @abstractmethod
    def finalize(
        self, state: Any, model: BaseEstimator, *, classes: np.ndarray | None, epoch: int
    ) -> BaseEstimator:
        """A fitted estimator from the merged ``state``; ``model`` is the epoch's start."""


# --------------------------------------------------------------------------------------------
# Stochastic gradient descent: weighted parameter averaging


class SGDFamily(Family):
    """``SGDClassifier``, ``SGDRegressor``, ``Perceptron`` and the passive-aggressive models.

    Each partition runs ``partial_fit`` (one pass over its rows, shuffled with a seed derived
    from the epoch and partition index) from the epoch's starting model; the next model is the
    average of the partitions' parameters weighted by their number of samples. The learning-rate
    counter ``t_`` advances by the total number of samples, as one sequential pass would.
    """

    exact = False
    names = (
        "SGDClassifier",
        "SGDRegressor",
        "Perceptron",
        "PassiveAggressiveClassifier",
        "PassiveAggressiveRegressor",
    )
    # Parameter arrays that are averaged; the ``_average_*``/``_standard_*`` ones exist only
    # with ``average=True`` (ASGD).
    averaged = (
        "coef_",
        "intercept_",
        "_standard_coef",
        "_standard_intercept",
        "_average_coef",
        "_average_intercept",
    )

    @classmethod
    def accepts(cls, estimator: BaseEstimator) -> bool:
        return isinstance(estimator, BaseSGDClassifier | BaseSGDRegressor)

    def partition_state(
        self,
        model: BaseEstimator,
        X: np.ndarray,
        y: np.ndarray,
        *,
        classes: np.ndarray | None,
        seed: int,
    ) -> SumState:
        est = copy.deepcopy(model)
        # scikit-learn shuffles the rows inside partial_fit without copying them; seed it so
        # the same partition in the same epoch always sees the same order.
        est.set_params(random_state=seed)
        if classes is not None:
            est.partial_fit(X, y, classes=classes)
        else:
            est.partial_fit(X, y)
        n = X.shape[0]
        sums = {
            name: np.asarray(getattr(est, name), dtype=np.float64) * n
            for name in self.averaged
            if getattr(est, name, None) is not None
        }
        return SumState(n, sums, prototype=est)

    def finalize(
        self, state: SumState, model: BaseEstimator, *, classes: np.ndarray | None, epoch: int
    ) -> BaseEstimator:
        est = copy.deepcopy(state.prototype)
        dtype = est.coef_.dtype
        for name, value in state.means().items():
            setattr(est, name, value.astype(dtype, copy=False))
        # ``coef_`` aliases ``_standard_coef`` or ``_average_coef`` in scikit-learn; the
        # averaged copies are equal in value, so re-link them as scikit-learn would.
        if getattr(est, "_average_coef", None) is not None:
            use_average = est.average <= state.n_samples + getattr(model, "t_", 1.0) - 1
            src = "_average" if use_average else "_standard"
            est.coef_ = getattr(est, src + "_coef").reshape(est.coef_.shape)
            est.intercept_ = getattr(est, src + "_intercept").reshape(est.intercept_.shape)
        est.t_ = getattr(model, "t_", 1.0) + state.n_samples
        est.n_iter_ = epoch + 1
        # The task seeded its copy; give back the user's parameter.
        est.set_params(random_state=model.get_params()["random_state"])
        return est


# --------------------------------------------------------------------------------------------
# Naive Bayes: exact sufficient statistics


class DiscreteNBFamily(Family):
    """``MultinomialNB`` and ``BernoulliNB``: feature and class counts, summed exactly."""

    exact = True
    names = ("MultinomialNB", "BernoulliNB")
    counted = ("feature_count_", "class_count_")

    @classmethod
    def accepts(cls, estimator: BaseEstimator) -> bool:
        return type(estimator) in (MultinomialNB, BernoulliNB)

    def partition_state(
        self,
        model: BaseEstimator,
        X: np.ndarray,
        y: np.ndarray,
        *,
        classes: np.ndarray | None,
        seed: int,
    ) -> SumState:
        est = clone(model)
        est.partial_fit(X, y, classes=classes)
        return SumState(
            X.shape[0],
            {name: np.asarray(getattr(est, name), dtype=np.float64) for name in self.counted},
            prototype=est,
        )

    def finalize(
        self, state: SumState, model: BaseEstimator, *, classes: np.ndarray | None, epoch: int
    ) -> BaseEstimator:
        est = copy.deepcopy(state.prototype)
        for name, value in state.sums.items():
            setattr(est, name, value.copy())
        # The same two updates partial_fit ends with, applied once to the merged counts.
        est._update_feature_log_prob(est._check_alpha())
        est._update_class_log_prior(class_prior=est.class_prior)
        return est


class GaussianNBFamily(Family):
    """``GaussianNB``: per-class count, mean and M2, merged with Chan's pairwise update."""

    exact = True
    names = ("GaussianNB",)

    @classmethod
    def accepts(cls, estimator: BaseEstimator) -> bool:
        return type(estimator) is GaussianNB

    def partition_state(
        self,
        model: BaseEstimator,
        X: np.ndarray,
        y: np.ndarray,
        *,
        classes: np.ndarray | None,
        seed: int,
    ) -> MomentsByClass:
        assert classes is not None  # GaussianNB is a classifier: the trainer always passes them
        return MomentsByClass.of(X, y, classes)

    def finalize(
        self,
        state: MomentsByClass,
        model: BaseEstimator,
        *,
        classes: np.ndarray | None,
        epoch: int,
    ) -> BaseEstimator:
        est = clone(model)
        by_class = state.by_class
        n_classes = len(by_class.count)
        est.classes_ = classes
        est.n_features_in_ = by_class.mean.shape[1]
        # scikit-learn's fit takes epsilon from the variance of all of X.
        est.epsilon_ = est.var_smoothing * float(np.max(state.overall.variance()))
        est.theta_ = by_class.mean.copy()
        est.var_ = by_class.variance() + est.epsilon_
        est.class_count_ = by_class.count.copy()
        if est.priors is not None:
            priors = np.asarray(est.priors, dtype=np.float64)
            if len(priors) != n_classes:
                raise ValueError("Number of priors must match number of classes.")
            if not np.isclose(priors.sum(), 1.0):
                raise ValueError("The sum of the priors should be 1.")
            if (priors < 0).any():
                raise ValueError("Priors must be non-negative.")
            est.class_prior_ = priors
        else:
            est.class_prior_ = est.class_count_ / est.class_count_.sum()
        return est


_FAMILIES: tuple[type[Family], ...] = (SGDFamily, DiscreteNBFamily, GaussianNBFamily)

#: Every estimator class name daskpar can train in parallel.
SUPPORTED_ESTIMATORS: tuple[str, ...] = tuple(n for f in _FAMILIES for n in f.names)


def family_for(estimator: Any) -> Family:
    """The family that trains ``estimator``, or a clear error listing the supported ones."""
    for family in _FAMILIES:
        if isinstance(estimator, BaseEstimator) and family.accepts(estimator):
            return family()
    raise UnsupportedEstimatorError(
        f"ParallelIncremental cannot train {type(estimator).__name__}: it needs an estimator "
        f"whose per-partition state daskpar knows how to merge. Supported: "
        f"{', '.join(SUPPORTED_ESTIMATORS)}."
    )
