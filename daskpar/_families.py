"""Model families: how one kind of scikit-learn estimator is trained partition by partition.

A family knows two things about its estimators: the state one partition contributes
(:meth:`Family.partition_state`, run inside a task on a block) and how the merged state becomes
a plain fitted estimator again (:meth:`Family.finalize`). Everything else — reading blocks,
seeding, the tree — is shared, in :mod:`daskpar._pass` and :mod:`daskpar._graph`.

Adding a family means writing one subclass here and registering it in ``_FAMILIES``; the
conformance tests in ``tests/test_families.py`` run on every registered family.
"""

from __future__ import annotations

import copy
from abc import ABC, abstractmethod
from itertools import pairwise
from typing import Any, ClassVar

import numpy as np
from sklearn.base import BaseEstimator, clone
from sklearn.naive_bayes import BernoulliNB, GaussianNB, MultinomialNB

from ._adaptive import AdaptiveSGDClassifier, AdaptiveSGDRegressor, AdaptiveState
from ._sklearn_compat import (
    BaseSGDClassifier,
    BaseSGDRegressor,
    install_fit_binary_keeping_intercept,
    remove_fit_binary_keeping_intercept,
    update_naive_bayes_log_probabilities,
)
from ._states import MomentsByClass, State, SumState
from .errors import InputError, UnsupportedEstimatorError

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
        sample_weight: np.ndarray | None = None,
    ) -> State:
        """The state of one non-empty partition, starting from ``model`` (never mutated).

        ``sample_weight`` (one non-negative weight per row, or None) weighs the rows as
        the estimator's own ``partial_fit`` does.
        """

    def zero_weight_state(
        self,
        model: BaseEstimator,
        X: np.ndarray,
        y: np.ndarray,
        *,
        classes: np.ndarray | None,
        sample_weight: np.ndarray,
    ) -> State | None:
        """The state of a non-empty partition whose sample weights are all zero.

        Such rows teach the model nothing, and ``partial_fit`` refuses a call with only
        those, so the pass asks this instead of :meth:`partition_state`. Yet scikit-learn's
        ``fit`` counts rows of weight zero where it counts rows, not weight (the steps of
        SGD, the variance of all of X in Gaussian naive Bayes); a family whose model counts
        rows so gives them here. None (the default): the partition contributes nothing.
        """
        return None

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

    **Averaged SGD** (``average=True`` or an int). scikit-learn keeps two sets of weights: the
    SGD iterate (``_standard_coef``, ``_standard_intercept``) and the mean of that iterate over
    every step ``t >= average`` (``_average_coef``, ``_average_intercept``), where ``t`` counts
    samples from 1 across calls and ``t_`` is the next step's; ``coef_`` is the mean once
    ``average <= t_ - 1``, the iterate before. The merged model keeps that meaning, with the
    steps counted globally, as one sequential pass over all partitions would count them:

    - the next iterate is the sample-weighted mean of the partitions' final iterates, as
      without averaging;
    - the next mean is ``(mean * (t_ - average) + sum of the partitions' iterates over their
      averaged steps) / (t_ + n_samples - average)``. A partition contributes the *sum* of its
      iterates and their number, not a mean, so it weighs by the steps it ran however small it
      is, and the mean so far keeps the weight of all the steps behind it. (Averaging the
      partitions' own running means instead weighs the earlier epochs as if only one
      partition's rows had followed them.)

    A partition gets its sum from scikit-learn: its copy averages over every step of its
    ``partial_fit`` (``average`` set to the copy's ``t_``, the mean reset to zero), and that
    mean times the number of rows is the sum. Which steps count is decided for the whole epoch.
    When ``t_ >= average`` at the epoch's start, all do. Otherwise the global count reaches
    ``average`` after the epoch's first ``average - t_`` samples, in this epoch or a later one.
    A partition cannot tell where that falls in its own pass (it does not know the other
    partitions' sizes), so in such epochs it runs its pass as consecutive ``partial_fit`` calls
    on up to ``crossing_shares`` equal shares of its rows and keeps one sum per share.
    Partitions run side by side, so the epoch's first fraction ``u = (average - t_) /
    n_samples`` is the first fraction ``u`` of every partition's pass: the merged mean takes the
    shares after that point, and the share the point falls in with the weight of its part after
    it (at that share's mean). The number of averaged steps is thus exactly the sequential one,
    ``t_ - average``, as in the attributes of an estimator scikit-learn fitted. With one
    partition, ``shuffle=False`` and the point on a share boundary (always so with
    ``average=True``), the model is scikit-learn's own ``fit`` with ``max_iter=epochs``.
    """

    exact = False
    names = (
        "SGDClassifier",
        "SGDRegressor",
        "Perceptron",
        "PassiveAggressiveClassifier",
        "PassiveAggressiveRegressor",
    )
    #: The parameter arrays that are averaged without ASGD.
    averaged = ("coef_", "intercept_")
    #: Most shares a pass is cut into while the global count is below ``average``, and the
    #: bytes one partition's per-share sums may take (fewer shares for very wide models).
    crossing_shares = 16
    crossing_bytes = 1 << 26

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
        sample_weight: np.ndarray | None = None,
    ) -> SumState:
        est = copy.deepcopy(model)
        # scikit-learn shuffles the rows inside partial_fit without copying them; seed it so
        # the same partition in the same epoch always sees the same order.
        est.set_params(random_state=seed)
        if getattr(est, "average", False):
            return self._averaged_state(
                est, X, y, classes=classes, seed=seed, sample_weight=sample_weight
            )
        _partial_fit(est, X, y, classes=classes, sample_weight=sample_weight)
        weight = _weight(X, sample_weight)
        sums = {
            name: np.asarray(getattr(est, name), dtype=np.float64) * weight
            for name in self.averaged
        }
        return SumState(X.shape[0], sums, prototype=est, weight=_weight_or_none(sample_weight))

    def zero_weight_state(
        self,
        model: BaseEstimator,
        X: np.ndarray,
        y: np.ndarray,
        *,
        classes: np.ndarray | None,
        sample_weight: np.ndarray,
    ) -> SumState:
        """The rows as steps that learn nothing: ``t_`` counts them, as scikit-learn's ``fit``
        counts every row, and the weighted average of the iterates gives them no weight.

        With averaging, they are steps at the epoch's starting iterate (zeros before the
        first fit), cut into the same shares as a partition that trains: the mean counts
        every step that ``t_`` counts. Arrays left out of the state count as zeros.
        """
        n = X.shape[0]
        sums: dict[str, np.ndarray] = {}
        if getattr(model, "average", False):
            counts = np.diff(self._share_bounds(model, n, X.shape[1], classes))
            sums["average_count"] = counts.astype(np.float64)
            if hasattr(model, "_standard_coef"):
                for kind in ("coef", "intercept"):
                    start = np.asarray(getattr(model, "_standard_" + kind), dtype=np.float64)
                    sums["average_" + kind] = np.multiply.outer(sums["average_count"], start)
        return SumState(n, sums, weight=0.0)

    def finalize(
        self, state: SumState, model: BaseEstimator, *, classes: np.ndarray | None, epoch: int
    ) -> BaseEstimator:
        if state.total_weight == 0.0:
            raise InputError(
                "The sample weights of the training data sum to zero: there is nothing to fit."
            )
        est = copy.deepcopy(state.prototype)
        if getattr(est, "average", False):
            self._set_averaged(est, state, model)
        else:
            dtype = est.coef_.dtype
            for name, value in state.means().items():
                setattr(est, name, value.astype(dtype, copy=False))
        est.t_ = getattr(model, "t_", 1.0) + state.n_samples
        est.n_iter_ = epoch + 1
        # The task seeded its copy; give back the user's parameter.
        est.set_params(random_state=model.get_params()["random_state"])
        return est

    def _averaged_state(
        self,
        est: BaseEstimator,
        X: np.ndarray,
        y: np.ndarray,
        *,
        classes: np.ndarray | None,
        seed: int,
        sample_weight: np.ndarray | None,
    ) -> SumState:
        """One partition's ASGD state: its final iterate, and its iterates' sum per share.

        The iterate is weighted by the partition's sum of sample weights, as without
        averaging; the sums of iterates count steps (rows), as scikit-learn's mean does.
        """
        n = X.shape[0]
        bounds = self._share_bounds(est, n, X.shape[1], classes)
        n_shares = len(bounds) - 1
        # With several shares, each is a random subset of the rows, as one shuffled pass
        # would cut them; with one, partial_fit shuffles as usual.
        order = None
        if n_shares > 1 and est.shuffle:
            order = np.random.default_rng(seed).permutation(n)
        counts = np.zeros(n_shares)
        coef_sums: list[np.ndarray | None] = [None] * n_shares
        intercept_sums: list[np.ndarray | None] = [None] * n_shares
        for i, (lo, hi) in enumerate(pairwise(bounds)):
            if lo == hi:
                continue
            rows = slice(lo, hi) if order is None else order[lo:hi]
            w = None if sample_weight is None else sample_weight[rows]
            _averaged_partial_fit(est, X[rows], y[rows], classes=classes, sample_weight=w)
            counts[i] = hi - lo
            coef_sums[i] = np.asarray(est._average_coef, dtype=np.float64) * counts[i]
            intercept_sums[i] = np.asarray(est._average_intercept, dtype=np.float64) * counts[i]

        def stacked(sums: list[np.ndarray | None]) -> np.ndarray:
            shape = next(s for s in sums if s is not None).shape
            return np.stack([np.zeros(shape) if s is None else s for s in sums])

        weight = _weight(X, sample_weight)
        sums = {
            "standard_coef": np.asarray(est._standard_coef, dtype=np.float64) * weight,
            "standard_intercept": np.asarray(est._standard_intercept, dtype=np.float64) * weight,
            "average_count": counts,
            "average_coef": stacked(coef_sums),
            "average_intercept": stacked(intercept_sums),
        }
        return SumState(n, sums, prototype=est, weight=_weight_or_none(sample_weight))

    def _share_bounds(
        self, model: BaseEstimator, n: int, n_features: int, classes: np.ndarray | None
    ) -> np.ndarray:
        """Where a partition of ``n`` rows cuts its averaged pass into shares: one share
        once ``t_ >= average``, else up to ``crossing_shares`` (the same for every
        partition of the epoch)."""
        n_shares = 1
        if getattr(model, "t_", 1.0) < int(model.average):
            n_outputs = 1 if classes is None or len(classes) == 2 else len(classes)
            share_bytes = 8 * n_outputs * (n_features + 1)
            n_shares = int(np.clip(self.crossing_bytes // share_bytes, 1, self.crossing_shares))
        return np.arange(n_shares + 1) * n // n_shares

    @staticmethod
    def _set_averaged(est: BaseEstimator, state: SumState, model: BaseEstimator) -> None:
        """Put the merged iterate and mean into ``est``, and link ``coef_`` as scikit-learn."""
        sums, n = state.sums, state.n_samples
        dtype = est._standard_coef.dtype
        start, first = getattr(model, "t_", 1.0), int(model.average)
        # Steps of this epoch before the global count reaches ``first``, and the steps
        # averaged before the epoch.
        before = min(float(n), max(0.0, first - start))
        behind = max(0.0, start - first)
        counts = sums["average_count"]
        # Each share's part after the first ``before`` steps (shares are in pass order, the
        # same fraction of every partition).
        share = np.clip((np.cumsum(counts) - before) / np.maximum(counts, 1.0), 0.0, 1.0)
        share[counts == 0] = 0.0
        means = {}
        for kind in ("coef", "intercept"):
            total = np.tensordot(share, sums["average_" + kind], axes=1)
            if behind > 0:
                total += behind * np.asarray(getattr(model, "_average_" + kind), np.float64)
            steps = behind + n - before
            means[kind] = total / steps if steps > 0 else np.zeros_like(total)
        weight = state.total_weight
        est._standard_coef = (sums["standard_coef"] / weight).astype(dtype)
        est._standard_intercept = (sums["standard_intercept"] / weight).astype(dtype)
        est._average_coef = means["coef"].astype(dtype)
        est._average_intercept = means["intercept"].astype(dtype)
        src = "_average" if first <= start + n - 1 else "_standard"
        est.coef_ = getattr(est, src + "_coef").reshape(est.coef_.shape)
        est.intercept_ = getattr(est, src + "_intercept")


def _partial_fit(
    est: BaseEstimator,
    X: np.ndarray,
    y: np.ndarray,
    *,
    classes: np.ndarray | None,
    sample_weight: np.ndarray | None,
) -> None:
    """``est.partial_fit`` with ``classes`` and ``sample_weight`` only where given."""
    kwargs: dict[str, Any] = {}
    if classes is not None:
        kwargs["classes"] = classes
    if sample_weight is not None:
        kwargs["sample_weight"] = sample_weight
    est.partial_fit(X, y, **kwargs)


def _weight(X: np.ndarray, sample_weight: np.ndarray | None) -> float:
    """The rows' total weight: the sum of their sample weights, or their number."""
    return float(X.shape[0]) if sample_weight is None else float(np.sum(sample_weight))


def _weight_or_none(sample_weight: np.ndarray | None) -> float | None:
    return None if sample_weight is None else float(np.sum(sample_weight))


def _averaged_partial_fit(
    est: BaseEstimator,
    X: np.ndarray,
    y: np.ndarray,
    *,
    classes: np.ndarray | None,
    sample_weight: np.ndarray | None = None,
) -> None:
    """``est.partial_fit`` with every step averaged: afterwards ``_average_*`` is the mean.

    The iterate goes on from ``_standard_coef`` and ``_standard_intercept``, and the mean
    starts afresh at this call's first step. scikit-learn (1.9) drops a classifier's new
    iterate intercept at the end of an averaged ``partial_fit`` (binary: the value
    ``fit_binary`` returns is discarded; multiclass: it is written into ``intercept_``, which
    aliases the mean); both are kept here, so the next call goes on from the right intercept.
    """
    user_average = est.average
    if getattr(est, "coef_", None) is not None:
        est._average_coef = np.zeros_like(est._average_coef)
        est._average_intercept = np.zeros_like(est._average_intercept)
        # As right after the first call's allocation: multiclass fits write the new iterate
        # intercepts into ``intercept_``.
        est.intercept_ = est._standard_intercept
    # scikit-learn averages step t when average <= t; t_ is this call's first step.
    est.set_params(average=int(getattr(est, "t_", 1.0)))
    try:
        if classes is None:
            _partial_fit(est, X, y, classes=None, sample_weight=sample_weight)
            return
        # Only the binary path calls it; the instance attribute shadows the method.
        install_fit_binary_keeping_intercept(est)
        try:
            _partial_fit(est, X, y, classes=classes, sample_weight=sample_weight)
        finally:
            remove_fit_binary_keeping_intercept(est)
    finally:
        est.set_params(average=user_average)


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
        sample_weight: np.ndarray | None = None,
    ) -> SumState:
        est = clone(model)
        _partial_fit(est, X, y, classes=classes, sample_weight=sample_weight)
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
        update_naive_bayes_log_probabilities(est)
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
        sample_weight: np.ndarray | None = None,
    ) -> MomentsByClass:
        assert classes is not None  # GaussianNB is a classifier: the trainer always passes them
        return MomentsByClass.of(X, y, classes, sample_weight)

    def zero_weight_state(
        self,
        model: BaseEstimator,
        X: np.ndarray,
        y: np.ndarray,
        *,
        classes: np.ndarray | None,
        sample_weight: np.ndarray,
    ) -> MomentsByClass:
        """Classes of zero weight, and the rows in the moments of all of X: scikit-learn
        takes ``epsilon_`` from the unweighted variance of every row."""
        return self.partition_state(
            model, X, y, classes=classes, seed=0, sample_weight=sample_weight
        )

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


# --------------------------------------------------------------------------------------------
# daskpar's adaptive learner: parameter mixing, with the scale merged exactly


class AdaptiveFamily(Family):
    """``AdaptiveSGDClassifier`` and ``AdaptiveSGDRegressor`` (:mod:`daskpar._adaptive`).

    Each partition runs one ``partial_fit`` pass (its mini-batch order seeded by the epoch and
    partition index) from the epoch's starting model. The next model is plain parameter mixing
    (Mann et al. 2009, Zinkevich et al. 2010): each partition contributes, weighted by its sum
    of sample weights ``W_p``,

    - its **weights and intercept** ``coef_`` and ``intercept_``, averaged: the merged model
      predicts the mean of the partitions' predictions;
    - AdaGrad's **squared-gradient sums** ``squared_gradients_``, averaged. Every partition
      starts from the same sums ``G0`` and adds its own ``dG_p``, so the merged sums are
      ``G0 + mean(dG_p)``: the next epoch's steps are those after one partition's pass, not
      after all of them in a row (``G0 + sum(dG_p)``, ``n_partitions`` times as large). That
      matches what averaging does to the weights: the merged model moved by the mean of the
      partitions' moves, about as far as one partition moved, with their noise averaged out,
      so it keeps steps of one partition's size;
    - the **scale** ``scale_`` (largest ``|x - mean_|`` per feature), merged exactly, by
      maximum;
    - the **counters** ``sum_weight_``, ``sum_norm_``, ``sum_weight_ * mean_`` (and the
      regressor's target sums) as increments over the starting model, summed: as one
      sequential pass would count them, so that ``sum_weight_`` is the total weight seen and
      ``mean_`` the weighted mean of all the rows.

    Measured (held-out log-loss over the full-batch optimum after epochs 1, 2, 3; 160,000
    rows of 20 features on scales 1e-3 to 1e3, ``shift=3``; 10 and 40 partitions): these
    rules give 1.0009, 1.0001, 1.0000 and 1.0030, 1.0004, 1.0000. Averaging the normalized
    weights ``coef_ * scale_`` instead, each partition's shrunk to the merged scale as VW
    shrinks a weight when a larger ``|x|`` appears, gives 1.038 and 1.053 after one epoch
    (a partition's 16,000 rows reach a smaller maximum than all of them, so every weight
    shrinks). Summing the increments of the squared gradients gives the same first epoch
    (the first epoch starts from zero sums either way) and, with 40 partitions, 1.0021 and
    1.0016 after epochs 2 and 3: steps too small to finish converging.

    **Sparse partitions** (CSR blocks) train in O(non-zeros) per mini-batch: only the features
    a batch touches are updated, and the rows are not centred (centring would fill in every
    zero), so ``mean_`` stays put and the intercept is VW's constant feature; the L2 penalty
    of the features a batch misses is caught up when they are next touched
    (:mod:`daskpar._adaptive._sparse`). The merge is the same.

    **Memory per task**, whatever the rows or non-zeros: with ``d`` features, ``k`` outputs
    (1 for binary classification and regression, else the classes) and ``b`` bytes per
    value of the training dtype (4 or 8), the state is about ``8(2k+3)d + b(2k+1)d`` bytes,
    and training adds ``b(2k+2)d`` of working copies and ``4d`` (``8d`` with a penalty) of
    column scratch, plus O(nnz + u k) for a batch touching ``u`` features. Checked in
    ``tests/test_state_size.py`` and, for sparse input, ``tests/test_adaptive_sparse.py``.
    """

    exact = False
    names = ("AdaptiveSGDClassifier", "AdaptiveSGDRegressor")

    @classmethod
    def accepts(cls, estimator: BaseEstimator) -> bool:
        return isinstance(estimator, AdaptiveSGDClassifier | AdaptiveSGDRegressor)

    def partition_state(
        self,
        model: BaseEstimator,
        X: np.ndarray,
        y: np.ndarray,
        *,
        classes: np.ndarray | None,
        seed: int,
        sample_weight: np.ndarray | None = None,
    ) -> AdaptiveState:
        est = copy.deepcopy(model)
        est.set_params(random_state=seed)
        _partial_fit(est, X, y, classes=classes, sample_weight=sample_weight)
        weight = _weight(X, sample_weight)
        sums = {
            "coef": np.asarray(est.coef_, dtype=np.float64) * weight,
            "intercept": np.asarray(est.intercept_, dtype=np.float64) * weight,
            "squared_gradients": np.asarray(est.squared_gradients_, dtype=np.float64) * weight,
            "counters": _adaptive_counters(est) - _starting_counters(model, est),
        }
        state = SumState(X.shape[0], sums, prototype=est, weight=_weight_or_none(sample_weight))
        return AdaptiveState(state, np.asarray(est.scale_, dtype=np.float64))

    def finalize(
        self, state: AdaptiveState, model: BaseEstimator, *, classes: np.ndarray | None, epoch: int
    ) -> BaseEstimator:
        merged = state.sums
        if merged.total_weight == 0.0:
            raise InputError(
                "The sample weights of the training data sum to zero: there is nothing to fit."
            )
        est = copy.deepcopy(merged.prototype)
        dtype = est.coef_.dtype
        means = merged.means()
        est.coef_ = means["coef"].astype(dtype)
        est.intercept_ = means["intercept"].astype(dtype)
        est.squared_gradients_ = means["squared_gradients"].astype(dtype)
        est.scale_ = state.scale.astype(dtype)
        counters = _starting_counters(model, est) + merged.sums["counters"]
        est.sum_weight_, est.sum_norm_ = float(counters[0]), float(counters[1])
        if isinstance(est, AdaptiveSGDRegressor):
            est.target_sums_ = counters[2:4].copy()
        est.mean_ = counters[-len(est.mean_) :] / est.sum_weight_
        est.n_iter_ = epoch + 1
        # The task seeded its copy; give back the user's parameter.
        est.set_params(random_state=model.get_params()["random_state"])
        return est


def _starting_counters(model: BaseEstimator, fitted: BaseEstimator) -> np.ndarray:
    """The counters of an epoch's starting ``model``: zeros (as many as ``fitted`` has) in
    the first epoch, when it has seen nothing."""
    if not hasattr(model, "coef_"):
        return np.zeros_like(_adaptive_counters(fitted))
    return _adaptive_counters(model)


def _adaptive_counters(est: BaseEstimator) -> np.ndarray:
    """The counters a fitted adaptive learner sums over partitions, as one vector."""
    counters = [est.sum_weight_, est.sum_norm_]
    if isinstance(est, AdaptiveSGDRegressor):
        counters.extend(est.target_sums_)
    counters.extend(est.sum_weight_ * est.mean_)
    return np.asarray(counters, dtype=np.float64)


_FAMILIES: tuple[type[Family], ...] = (
    SGDFamily,
    DiscreteNBFamily,
    GaussianNBFamily,
    AdaptiveFamily,
)

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
