"""Hyper-parameter search on the workers: every candidate and fold trained from one read per block.

A search of C candidates and K folds trains C x K models ("trials") together, in the passes
of :mod:`daskpar._pass`. Per epoch::

    block --fit_partition--> StateTuple (a TrialState per model) --combine--> ...
          --update_models--> every model's next state and scores

One task per block reads it once and, for every trial whose fold trains on the block, runs
``partial_fit`` on it; for every trial whose fold validates on it, the task scores the trial's
current model (the previous epoch's), so validation costs no extra read. The states merge
element-wise through one tree. Scalers in a pipeline are fitted first, in one pass per scaler
step, once per distinct scaler setting and fold. A last pass scores the final models.

Folds are whole row blocks: ``cv=K`` puts every non-empty block in exactly one validation fold.
"""

from __future__ import annotations

import math
import os
import time
import warnings
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from numbers import Integral, Real
from typing import Any, ClassVar

import dask.array as da
import numpy as np
from dask.base import tokenize
from scipy.stats import rankdata
from sklearn.base import BaseEstimator, MetaEstimatorMixin, clone, is_classifier
from sklearn.exceptions import FitFailedWarning
from sklearn.model_selection import ParameterGrid, ParameterSampler
from sklearn.pipeline import Pipeline
from sklearn.utils import check_random_state
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import check_is_fitted

from . import audit, metrics
from ._checkpoint import REFIT_FOLDER, Checkpoint, plain, records
from ._families import family_for
from ._graph import SPLIT_EVERY, broadcast, reduce_partitions, task_retries
from ._incremental import ParallelIncremental, estimator_has
from ._linear import LinearRegression, Ridge
from ._pass import (
    EpochDriver,
    FirstPassCheck,
    ModelSpec,
    ModelUpdate,
    PassPlan,
    prepare_partition,
    prepared_attributes,
    run_epochs,
    run_pass,
    seed_positions,
    transform_block,
)
from ._preprocessing import OutOfCoreScaler, scaler_fit_plan, set_scaler_fitted
from ._saving import SaveMixin
from ._sklearn_compat import HasMethods, Interval, StrOptions, validate_estimator_params
from ._validation import (
    MERGE_PARTITIONS,
    check_scorer_applies,
    check_X_y,
    warn_if_tiny_partitions,
)
from .errors import InputError
from .metrics import Scorer, get_scorer

__all__ = ["GridSearchCV", "HalvingSearchCV", "RandomizedSearchCV"]

Folds = list[tuple[frozenset[int], frozenset[int]]]


@dataclass(frozen=True)
class Snapshot:
    """The scores of the candidates scored in one pass, after ``epochs`` epochs of training.

    ``scores[c]`` has shape (n_metrics, n_folds); the times are per fold, in seconds.
    """

    epochs: int
    scores: dict[int, np.ndarray]
    fit_times: dict[int, np.ndarray]
    score_times: dict[int, np.ndarray]

    def means(self, metric: int) -> dict[int, float]:
        return {c: float(s[metric].mean()) for c, s in self.scores.items()}


def _split_estimator(estimator: Any) -> tuple[list[Any], ParallelIncremental]:
    """The scaler steps and the final ParallelIncremental of a searchable estimator."""
    if isinstance(estimator, ParallelIncremental):
        return [], estimator
    if isinstance(estimator, Pipeline):
        *steps, (_, last) = estimator.steps
        if isinstance(last, ParallelIncremental) and all(
            isinstance(step, OutOfCoreScaler) for _, step in steps
        ):
            return [step for _, step in steps], last
    hint = ""
    if isinstance(estimator, LinearRegression | Ridge):
        hint = (
            f" {type(estimator).__name__} is exact and fits in one pass: compare its "
            "candidates in a loop of fits, each scored on held-out data (train_test_split)."
        )
    raise InputError(
        "daskpar's searches take a ParallelIncremental (of any supported estimator, the exact "
        "naive Bayes models included), or a Pipeline of daskpar scalers (StandardScaler, "
        "MinMaxScaler, MaxAbsScaler) followed by a ParallelIncremental; got "
        f"{estimator!r}.{hint}"
    )


def block_folds(
    cv: Any,
    block_sizes: Sequence[int],
    *,
    shuffle: bool,
    random_state: np.random.RandomState,
) -> Folds:
    """(train blocks, test blocks) per fold; empty blocks are left out of every fold."""
    blocks = [i for i, n in enumerate(block_sizes) if n > 0]
    order = list(random_state.permutation(blocks)) if shuffle else blocks
    if isinstance(cv, Integral):
        if len(blocks) < int(cv):
            raise InputError(
                f"cv={cv} puts whole row blocks in {cv} validation folds, but X has "
                f"{len(blocks)} non-empty block(s). Split X into more row blocks "
                "(X.rechunk({0: ...})) or lower cv."
            )
        tests = [frozenset(int(b) for b in part) for part in np.array_split(order, int(cv))]
        return [(frozenset(blocks) - test, test) for test in tests]
    if isinstance(cv, Real):
        n_test = max(1, round(float(cv) * len(blocks)))
        if n_test >= len(blocks):
            raise InputError(
                f"cv={cv} holds out whole row blocks, and X has {len(blocks)} non-empty "
                "block(s): nothing would be left to train on. Split X into more row blocks."
            )
        test = frozenset(int(b) for b in order[-n_test:])
        return [(frozenset(blocks) - test, test)]
    if hasattr(cv, "split") or not isinstance(cv, Iterable):
        raise InputError(
            f"cv={cv!r} is not supported: daskpar's folds are whole row blocks. Pass a number "
            "of folds, a fraction of blocks to hold out, or (train_blocks, test_blocks) pairs."
        )
    folds: Folds = []
    for k, split in enumerate(cv):
        train, test = (frozenset(int(b) for b in part) for part in split)
        bad = sorted(b for b in train | test if not 0 <= b < len(block_sizes))
        if bad or not train or not test or train & test:
            raise InputError(
                f"Fold {k} of cv must be a pair (train blocks, test blocks) of disjoint, "
                f"non-empty lists of block indices in [0, {len(block_sizes)}); got {split!r}."
            )
        folds.append((train, test))
    if not folds:
        raise InputError("cv holds no folds.")
    return folds


def _scorers(scoring: Any, model: ParallelIncremental) -> dict[str, Scorer]:
    """Scorers by name; a single metric is called ``"score"``, as in scikit-learn."""
    if scoring is None:
        default = "accuracy" if is_classifier(model.estimator) else "r2"
        return {"score": get_scorer(model.scoring or default)}
    if isinstance(scoring, str | Scorer):
        return {"score": get_scorer(scoring)}
    if isinstance(scoring, Mapping):
        return {str(name): get_scorer(s) for name, s in scoring.items()}
    names = list(scoring)
    if not names or not all(isinstance(n, str) for n in names) or len(set(names)) != len(names):
        raise InputError(
            f"scoring must be a scorer name, a list of distinct names or a dict; got {scoring!r}."
        )
    return {name: get_scorer(name) for name in names}


def _masked_params(candidates: Sequence[Mapping[str, Any]]) -> dict[str, np.ma.MaskedArray]:
    """``param_<name>`` columns as scikit-learn builds them: masked where a candidate lacks it."""
    by_name: dict[str, dict[int, Any]] = defaultdict(dict)
    for i, params in enumerate(candidates):
        for name, value in params.items():
            by_name[f"param_{name}"][i] = value
    out = {}
    for key, values in by_name.items():
        try:
            arr = np.array(list(values.values()))
            dtype = arr.dtype if arr.dtype.kind != "U" and arr.ndim == 1 else np.dtype(object)
        except ValueError:
            dtype = np.dtype(object)
        column = np.ma.MaskedArray(np.empty(len(candidates), dtype=dtype), mask=True)
        for i, value in values.items():
            column[i] = value
        out[key] = column
    return out


def _rank(means: np.ndarray) -> np.ndarray:
    """Rank 1 for the best mean score; NaN scores rank last, as in scikit-learn."""
    if np.isnan(means).all():
        return np.ones(len(means), dtype=np.int32)
    filled = np.where(np.isnan(means), np.nanmin(means) - 1, means)
    return rankdata(-filled, method="min").astype(np.int32)


def format_results(
    candidates: Sequence[Mapping[str, Any]],
    test_scores: Mapping[str, np.ndarray],
    fit_times: np.ndarray,
    score_times: np.ndarray,
) -> dict[str, Any]:
    """``cv_results_`` in scikit-learn's layout from (candidate x fold) arrays."""
    results: dict[str, Any] = {
        "mean_fit_time": fit_times.mean(axis=1),
        "std_fit_time": fit_times.std(axis=1),
        "mean_score_time": score_times.mean(axis=1),
        "std_score_time": score_times.std(axis=1),
        **_masked_params(candidates),
        "params": list(candidates),
    }
    for name, scores in test_scores.items():
        for k in range(scores.shape[1]):
            results[f"split{k}_test_{name}"] = scores[:, k]
        results[f"mean_test_{name}"] = scores.mean(axis=1)
        results[f"std_test_{name}"] = scores.std(axis=1)
        results[f"rank_test_{name}"] = _rank(results[f"mean_test_{name}"])
    return results


#: What a search's methods delegate to: the best estimator once refitted, else the estimator.
_BEST_FIRST = ("best_estimator_", "estimator")


@dataclass(frozen=True, eq=False)
class _Setup:
    """One search's checked input, candidates and pass plan: what ``fit`` works from."""

    X: da.Array
    y: da.Array
    candidates: list[dict[str, Any]]
    models: list[ParallelIncremental]  # per candidate
    plan: PassPlan
    fitted: dict[tuple[int, int], tuple[Any, ...]]  # scalers per (setting, fold)
    epochs: list[int]  # per candidate
    scorers: dict[str, Scorer]
    refit_name: str | None  # the metric that ranks candidates
    failed: dict[int, str]  # model -> why its fit failed (filled in as the passes go)
    checkpoint: Checkpoint | None = None
    saved: dict[str, Any] | None = None  # the checkpoint's state, when resuming


class _SearchPasses(EpochDriver):
    """The passes of one search, for :func:`run_epochs`: every candidate on every fold.

    A model trained in one pass is scored in the next; a model whose fit fails trains no more
    and scores ``error_score``; after a pass that scores, ``_after_scores`` (halving) may
    choose the candidates that go on, which makes the pass one of the search's ``rounds``.
    """

    def __init__(self, search: _BaseSearch, setup: _Setup, current: list[Any]) -> None:
        self.search, self.setup, self.plan, self.current = search, setup, setup.plan, current
        n, n_metrics = len(setup.plan.models), len(setup.plan.scorers)
        self.active = set(range(len(setup.models)))
        raising = search.error_score == "raise"
        self.failure_score = () if raising else (float(search.error_score),) * n_metrics
        self.last_scores: list[tuple[float, ...]] = [
            self.failure_score if j in setup.failed else () for j in range(n)
        ]
        self.fit_times, self.score_times = np.zeros(n), np.zeros(n)
        # Failed models enter the next snapshot (halving) with their error_score.
        self.newly_failed = set(setup.failed)
        names = list(setup.scorers)
        self.metric = None if setup.refit_name is None else names.index(setup.refit_name)
        self.history: list[dict[str, Any]] = []  # run_epochs' records of the passes done
        self.start, self.scored, self.stopped = 0, frozenset[int](), False
        # The scores of the passes after which the search chose the candidates that go on
        # (halving's iterations, the rows of its cv_results_); none for the other searches.
        self.rounds: list[Snapshot] = []
        # With a checkpoint, what the first pass does with the blocks' digests (record them,
        # or check the blocks against them); later passes leave them.
        self.data_check = (
            FirstPassCheck()
            if setup.checkpoint is None
            else FirstPassCheck(setup.checkpoint.data_check(), setup.checkpoint.record)
        )

    def run(
        self, epoch: int, train: frozenset[int], score: frozenset[int]
    ) -> list[ModelUpdate | None]:
        setup = self.setup
        result = run_pass(
            setup.X,
            setup.y,
            None,
            plan=setup.plan,
            models=self.current,
            scalers=setup.fitted,
            epoch=epoch,
            train=train,
            score=score,
            split_every=self.search.split_every,
            stage="search",
            check=self.data_check.take(),
        )
        return self.data_check.keep(result)

    def finish(self) -> None:
        """Check the blocks against the checkpoint's digests if no pass has (a finished
        search's rerun): one read of every block, before its results are returned."""
        self.data_check.finish(
            self.setup.X, self.setup.y, None, None, split_every=self.search.split_every
        )

    def after_pass(
        self,
        epoch: int,
        train: frozenset[int],
        scored: frozenset[int],
        updates: list[ModelUpdate | None],
        record: dict[str, Any],
    ) -> tuple[frozenset[int], bool]:
        plan, failed = self.setup.plan, self.setup.failed
        for j, update in enumerate(updates):
            if update is None:
                continue
            self.fit_times[j] += update.fit_seconds
            if update.error is not None:
                failed[j] = update.error
                self.newly_failed.add(j)
                self.last_scores[j] = self.failure_score
                continue
            if update.scores is not None:
                self.last_scores[j] = tuple(e.unwrap(stacklevel=6) for e in update.scores)
                self.score_times[j] = update.score_seconds
            if update.model is not None:
                self.current[j] = update.model
        record.update(n_trials_trained=len(train), n_trials_scored=len(scored))
        stop = False
        if scored:
            snapshot = self.search._snapshot(
                plan,
                epoch,
                (scored - failed.keys()) | self.newly_failed,
                self.last_scores,
                self.fit_times,
                self.score_times,
                len(plan.scorers),
            )
            self.newly_failed = set()
            if self.metric is not None:
                record["best_mean_score"] = max(snapshot.means(self.metric).values())
            keep = self.search._after_scores(snapshot, self.metric)
            if keep is not None:
                self.rounds.append(snapshot)
                self.active &= keep
                stop = len(self.active) <= 1
        next_scored = frozenset(
            j for j in train if plan.models[j].candidate in self.active and j not in failed
        )
        return next_scored, stop

    def to_train(self, epoch: int) -> frozenset[int]:
        if self.stopped:
            return frozenset()
        setup = self.setup
        return frozenset(
            j
            for j, spec in enumerate(setup.plan.models)
            if spec.candidate in self.active
            and epoch < setup.epochs[spec.candidate]
            and j not in setup.failed
        )

    def write_checkpoint(
        self, start: int, scored: frozenset[int], stopped: bool, history: list[dict[str, Any]]
    ) -> None:
        """Write where the search is, to resume from at epoch ``start`` (with a checkpoint)."""
        setup = self.setup
        if setup.checkpoint is None:
            return
        state = {
            "epoch": start,
            "scored": sorted(scored),
            "stopped": bool(stopped),
            "history": records(history),
            "folds": [[sorted(train), sorted(test)] for train, test in setup.plan.folds],
            "candidates": plain(setup.candidates),
            "base_seeds": list(setup.plan.base_seeds),
            "active": sorted(self.active),
            "failed": [[j, why] for j, why in sorted(setup.failed.items())],
            "newly_failed": sorted(self.newly_failed),
            "last_scores": [list(s) for s in self.last_scores],
            "snapshots": [
                {"epochs": s.epochs, "candidates": sorted(s.scores)} for s in self.rounds
            ],
        }
        objects = {
            "models": list(self.current),
            "fitted": [[c, k, list(steps)] for (c, k), steps in sorted(setup.fitted.items())],
            "labels": setup.plan.classes,
            "times": [self.fit_times, self.score_times],
            "snapshots": [
                [[s.scores[c], s.fit_times[c], s.score_times[c]] for c in sorted(s.scores)]
                for s in self.rounds
            ],
        }
        setup.checkpoint.save(state, objects)

    def restore(self, saved: dict[str, Any]) -> None:
        """Go on from a checkpoint's state, as :meth:`write_checkpoint` wrote it."""
        objects, setup = saved["objects"], self.setup
        self.current[:] = objects["models"]
        self.history[:] = saved["history"]
        self.start, self.scored = saved["epoch"], frozenset(saved["scored"])
        self.stopped = saved["stopped"]
        self.active = set(saved["active"])
        setup.failed.clear()
        setup.failed.update({int(j): why for j, why in saved["failed"]})
        self.newly_failed = set(saved["newly_failed"])
        self.last_scores = [tuple(s) for s in saved["last_scores"]]
        self.fit_times, self.score_times = (np.asarray(t) for t in objects["times"])
        self.rounds = [
            Snapshot(
                meta["epochs"],
                *(
                    {c: arrays[c_index][i] for c_index, c in enumerate(meta["candidates"])}
                    for i in range(3)
                ),
            )
            for meta, arrays in zip(saved["snapshots"], objects["snapshots"], strict=True)
        ]


class _BaseSearch(SaveMixin, MetaEstimatorMixin, BaseEstimator):
    """Shared fit, results and delegation of the searches."""

    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "estimator": [HasMethods(["fit"])],
        "scoring": [str, Scorer, list, tuple, dict, None],
        "cv": [
            Interval(Integral, 2, None, closed="left"),
            Interval(Real, 0, 1, closed="neither"),
            "cv_object",
        ],
        "refit": ["boolean", str],
        "shuffle": ["boolean"],
        "random_state": ["random_state"],
        "max_trials": [Interval(Integral, 1, None, closed="left")],
        "split_every": SPLIT_EVERY,
        "verbose": ["verbose"],
        "error_score": [StrOptions({"raise"}), Real],
        "checkpoint": [str, os.PathLike, None],
        "retries": [Interval(Integral, 0, None, closed="left"), None],
    }

    def __init__(
        self,
        estimator: Any,
        *,
        scoring: Any = None,
        cv: Any = 3,
        refit: bool | str = True,
        shuffle: bool = False,
        random_state: int | np.random.RandomState | None = None,
        max_trials: int = 1024,
        split_every: int | None = None,
        verbose: int = 0,
        error_score: str | float = np.nan,
        checkpoint: str | os.PathLike[str] | None = None,
        retries: int | None = None,
    ) -> None:
        self.estimator = estimator
        self.scoring = scoring
        self.cv = cv
        self.refit = refit
        self.shuffle = shuffle
        self.random_state = random_state
        self.max_trials = max_trials
        self.split_every = split_every
        self.verbose = verbose
        self.error_score = error_score
        self.checkpoint = checkpoint
        self.retries = retries

    def _candidates(self) -> list[dict[str, Any]]:
        raise NotImplementedError

    def _n_candidates(self) -> int:
        return len(self._candidates())

    def _after_scores(self, snapshot: Snapshot, metric: int | None) -> set[int] | None:
        """Hook after the remaining candidates' models are scored: which candidates to keep
        (``None``: all, without a round)."""
        return None

    # ----------------------------------------------------------------------------------------
    # fitting

    def fit(self, X: Any, y: Any, *, classes: Any = None) -> Any:
        """Train every candidate on every fold together, then refit the best on all of X.

        Parameters
        ----------
        X : dask array of shape (n_samples, n_features), or array-like
            Partitioned along rows only; the folds are made of whole row blocks.
        y : dask array of shape (n_samples,), or array-like
            Row chunks equal to ``X``'s.
        classes : array-like, default=None
            All class labels (classifiers). Found on the workers in the first pass otherwise.

        Returns
        -------
        self : object
            The fitted search.
        """
        with (
            audit.operation("search", estimator=self, X=X, y=y) as record,
            task_retries(self.retries),
        ):
            self._search(X, y, classes)
            if getattr(self, "best_score_", None) is not None:
                record.metrics["best_score"] = float(self.best_score_)
                record.extra["best_params"] = self.best_params_
        return self

    def _search(self, X: Any, y: Any, classes: Any) -> None:
        validate_estimator_params(self)
        setup = self._setup(X, y, classes)
        passes = self._train(setup)
        scores, fit_times, score_times = passes.last_scores, passes.fit_times, passes.score_times
        self._warn_about_failures(setup.failed, len(setup.plan.models))
        n_candidates, n_folds = len(setup.candidates), len(setup.plan.folds)
        test_scores = {
            name: np.array([s[i] for s in scores]).reshape(n_candidates, n_folds)
            for i, name in enumerate(setup.scorers)
        }
        shape = (n_candidates, n_folds)
        self.cv_results_ = self._results(
            setup.candidates,
            test_scores,
            fit_times.reshape(shape),
            score_times.reshape(shape),
            passes.rounds,
        )
        self.multimetric_ = self._scoring_is_multi()
        self.scorer_ = setup.scorers if self.multimetric_ else setup.scorers["score"]
        self.n_splits_ = n_folds
        self.folds_ = [(sorted(train), sorted(test)) for train, test in setup.plan.folds]
        if setup.refit_name is not None:
            name = setup.refit_name
            self.best_index_ = self._best_index(name)
            self.best_params_ = self.cv_results_["params"][self.best_index_]
            self.best_score_ = float(self.cv_results_[f"mean_test_{name}"][self.best_index_])
        if self.refit:
            self._refit_best(setup)
        self.n_features_in_ = int(setup.X.shape[1])
        if setup.plan.classes is not None:
            self.classes_ = setup.plan.classes

    def _setup(self, X: Any, y: Any, classes: Any) -> _Setup:
        """Check the input and every candidate, fit the scalers, and plan the passes."""
        _, template = _split_estimator(self.estimator)
        classifier = is_classifier(template.estimator)
        X, y = check_X_y(X, y, y_numeric=not classifier)
        warn_if_tiny_partitions(X.chunks[0], type(self).__name__, MERGE_PARTITIONS)
        checkpoint, saved = None, None
        if self.checkpoint is not None:
            checkpoint = Checkpoint.of(self.checkpoint, self, X, y)
            saved = checkpoint.load()
        rng = check_random_state(self.random_state)
        folds = block_folds(self.cv, X.chunks[0], shuffle=self.shuffle, random_state=rng)
        if checkpoint is not None and saved is not None:
            saved_folds = [(frozenset(train), frozenset(test)) for train, test in saved["folds"]]
            # Folds drawn at random (cv=K with shuffle and no seed) are the checkpoint's; folds
            # the user gave must be the same.
            if not isinstance(self.cv, Integral | Real) and folds != saved_folds:
                raise checkpoint.refused("other folds than cv= gives now")
            folds = saved_folds
        n_candidates = self._n_candidates()
        if n_candidates * len(folds) > self.max_trials:
            raise InputError(
                f"{type(self).__name__} would train {n_candidates * len(folds)} models "
                f"({n_candidates} candidates x {len(folds)} folds), more than "
                f"max_trials={self.max_trials}. Every task holds one state per model, so the "
                "search grows with this number: use fewer candidates or folds "
                "(RandomizedSearchCV, HalvingSearchCV), or raise max_trials."
            )
        scorers = _scorers(self.scoring, template)
        refit_name = self._refit_metric(scorers)
        candidates = self._candidates()
        if (
            checkpoint is not None
            and saved is not None
            and plain(candidates) != saved["candidates"]
        ):
            raise checkpoint.refused(
                "other candidates (sampled with random_state=None?)",
                "Pass an int random_state to resume a randomized search, or delete the folder "
                "to start over.",
            )
        estimators = [clone(self.estimator).set_params(**params) for params in candidates]
        parts = [_split_estimator(est) for est in estimators]
        models = [model for _, model in parts]
        for model in models:
            validate_estimator_params(model)
            if model.early_stopping or model.validation_fraction is not None:
                raise InputError(
                    "The search validates every candidate on its folds; set early_stopping "
                    "and validation_fraction of the ParallelIncremental to their defaults."
                )
            for scorer in scorers.values():
                check_scorer_applies(scorer, model.estimator)
        failed = self._invalid_candidates(models, len(folds))
        families = tuple(family_for(m.estimator) for m in models)
        configs, config_of = self._scaler_settings([steps for steps, _ in parts])
        if classes is not None:
            classes = np.unique(np.asarray(classes))
        if saved is None:
            fitted, found = self._fit_scalers(
                X, y, configs, folds, find_labels=classifier and classes is None
            )
        else:
            assert checkpoint is not None  # saved comes from it
            fitted = {(c, k): tuple(steps) for c, k, steps in saved["objects"]["fitted"]}
            found = saved["objects"]["labels"]
            if classes is not None and not np.array_equal(classes, found):
                raise checkpoint.refused("other classes than classes= gives now")
        plan = PassPlan(
            models=tuple(
                ModelSpec(c, k, config_of[c])
                for c in range(len(candidates))
                for k in range(len(folds))
            ),
            folds=tuple(folds),
            families=families,
            base_seeds=tuple(
                int(check_random_state(m.random_state).randint(np.iinfo(np.int32).max))
                for m in models
            )
            if saved is None
            else tuple(saved["base_seeds"]),
            classes=(found if classes is None else classes) if classifier else None,
            scorers=tuple(scorers.values()),
            record_errors=self.error_score != "raise",
            positions=seed_positions(X.chunks[0]),
        )
        epochs = [1 if fam.exact else m.epochs for fam, m in zip(families, models, strict=True)]
        return _Setup(
            X,
            y,
            candidates,
            models,
            plan,
            fitted,
            epochs,
            scorers,
            refit_name,
            failed,
            checkpoint,
            saved,
        )

    def _refit_best(self, setup: _Setup) -> None:
        """The best candidate trained on all of X (``best_estimator_``)."""
        start = time.perf_counter()
        best = clone(self.estimator).set_params(**self.best_params_)
        fit_params = {}
        if setup.plan.classes is not None:
            key = (
                "classes"
                if isinstance(best, ParallelIncremental)
                else f"{best.steps[-1][0]}__classes"
            )
            fit_params[key] = setup.plan.classes
        if setup.checkpoint is not None:
            last = best if isinstance(best, ParallelIncremental) else best.steps[-1][0]
            inner = "checkpoint" if last is best else f"{last}__checkpoint"
            original = best.get_params()[inner]
            best.set_params(**{inner: setup.checkpoint.folder / REFIT_FOLDER})
            best.fit(setup.X, setup.y, **fit_params)
            # The refit's checkpoint belongs to this search: the best estimator, cloned and
            # fitted elsewhere, must not find it.
            best.set_params(**{inner: original})
        else:
            best.fit(setup.X, setup.y, **fit_params)
        self.best_estimator_ = best
        self.refit_time_ = time.perf_counter() - start

    def _invalid_candidates(
        self, models: list[ParallelIncremental], n_folds: int
    ) -> dict[int, str]:
        """Trials whose candidate's estimator parameters are invalid, and why: before any task.

        With ``error_score="raise"`` the first invalid candidate raises here.
        """
        failed: dict[int, str] = {}
        for c, model in enumerate(models):
            try:
                validate_estimator_params(model.estimator)
            except ValueError as error:
                if self.error_score == "raise":
                    raise
                for k in range(n_folds):
                    failed[c * n_folds + k] = f"{type(error).__name__}: {error}"
        return failed

    def _warn_about_failures(self, failed: dict[int, str], n_trials: int) -> None:
        """scikit-learn's report of failed fits: a warning, or an error if all failed."""
        if not failed:
            return
        reasons = Counter(failed.values())
        summary = "\n".join(f"{n} fits failed with: {reason}" for reason, n in reasons.items())
        if len(failed) == n_trials:
            raise ValueError(
                f"All the {n_trials} fits failed. It is very likely that your model is "
                f"misconfigured. You can try to debug the error by setting "
                f"error_score='raise'.\n\n{summary}"
            )
        warnings.warn(
            f"{len(failed)} fits failed out of a total of {n_trials}. The score on these "
            f"train-test partitions for these parameters will be set to {self.error_score}. "
            "If these failures are not expected, you can try to debug them by setting "
            f"error_score='raise'.\n\n{summary}",
            FitFailedWarning,
            stacklevel=3,
        )

    def _scoring_is_multi(self) -> bool:
        return self.scoring is not None and not isinstance(self.scoring, str | Scorer)

    def _refit_metric(self, scorers: dict[str, Scorer]) -> str | None:
        """The metric that picks the best candidate (``None``: multi-metric without refit)."""
        if not self._scoring_is_multi():
            return "score"
        if isinstance(self.refit, str) and self.refit in scorers:
            return self.refit
        if self.refit is False:
            return None
        raise InputError(
            "For multi-metric scoring, refit must be the name of the scorer that picks the "
            f"best candidate (one of {sorted(scorers)}), or False; got refit={self.refit!r}."
        )

    def _best_index(self, name: str) -> int:
        return int(np.flatnonzero(self.cv_results_[f"rank_test_{name}"] == 1)[0])

    def _results(
        self,
        candidates: list[dict[str, Any]],
        test_scores: dict[str, np.ndarray],
        fit_times: np.ndarray,
        score_times: np.ndarray,
        rounds: list[Snapshot],
    ) -> dict[str, Any]:
        """``cv_results_``: one row per candidate (a halving search's rows are its ``rounds``)."""
        return format_results(candidates, test_scores, fit_times, score_times)

    @staticmethod
    def _scaler_settings(steps: list[list[Any]]) -> tuple[list[list[Any]], list[int]]:
        """The distinct scaler settings (classes and parameters), and each candidate's index."""
        index: dict[str, int] = {}
        configs: list[list[Any]] = []
        config_of = []
        for candidate_steps in steps:
            key = tokenize([(type(s).__name__, s.get_params(deep=False)) for s in candidate_steps])
            if key not in index:
                index[key] = len(configs)
                configs.append(candidate_steps)
            config_of.append(index[key])
        return configs, config_of

    def _fit_scalers(
        self,
        X: da.Array,
        y: da.Array,
        configs: list[list[Any]],
        folds: Folds,
        *,
        find_labels: bool,
    ) -> tuple[dict[tuple[int, int], tuple[Any, ...]], np.ndarray | None]:
        """Fit every scaler setting on every fold's training blocks: one pass per step.

        The first pass also finds the class labels when asked.
        """
        for config in configs:
            for scaler in config:
                validate_estimator_params(scaler)
        fitted: dict[tuple[int, int], tuple[Any, ...]] = {}
        labels = None
        n_steps = max((len(c) for c in configs), default=0)
        for step in range(max(n_steps, int(find_labels))):
            pairs = [
                (c, k)
                for c, config in enumerate(configs)
                if len(config) > step
                for k in range(len(folds))
            ]
            plans: list[Any] = []
            for c, config in enumerate(configs):
                if len(config) <= step:
                    plans.append(None)
                    continue
                probe = transform_block(
                    np.zeros((1, X.shape[1]), dtype=X.dtype), fitted.get((c, 0), ())
                )
                plans.append(scaler_fit_plan(config[step], probe.dtype))
            found, attributes = reduce_partitions(
                prepare_partition,
                X,
                y,
                finalize=prepared_attributes,
                stage="prepare",
                split_every=self.split_every,
                task_kwargs={
                    "find_labels": find_labels and step == 0,
                    "plans": plans,
                    "pairs": pairs,
                    "folds": folds,
                    "fitted": broadcast(fitted, "scalers"),
                },
                finalize_kwargs={"plans": plans, "pairs": pairs},
            )
            if step == 0:
                labels = found
            for (c, k), attrs in zip(pairs, attributes, strict=True):
                scaler = clone(configs[c][step])
                set_scaler_fitted(scaler, attrs, X)
                fitted[(c, k)] = (*fitted.get((c, k), ()), scaler)
        if find_labels and (labels is None or len(labels) < 2):
            found = [] if labels is None else labels.tolist()
            raise InputError(f"y must hold at least 2 classes; found {found}.")
        return fitted, labels

    def _train(self, setup: _Setup) -> _SearchPasses:
        """The epochs of the search; returns its driver, which holds each model's last scores
        and times, and the rounds of a halving search."""
        plan = setup.plan
        current: list[Any] = []
        for spec in plan.models:
            model = clone(setup.models[spec.candidate].estimator)
            if hasattr(model, "shuffle"):
                model.set_params(shuffle=setup.models[spec.candidate].shuffle)
            current.append(model)
        passes = _SearchPasses(self, setup, current)
        self.history_ = run_epochs(
            passes,
            n_epochs=max(setup.epochs),
            verbose=self.verbose,
            saved=setup.saved,
            # The bar counts (candidate, epoch) trainings, of the candidates still in.
            desc="search",
            unit="candidate-epoch",
            postfix=("seconds", "best_mean_score"),
        )
        return passes

    @staticmethod
    def _snapshot(
        plan: PassPlan,
        epochs: int,
        scored: frozenset[int],
        scores: list[tuple[float, ...]],
        fit_times: np.ndarray,
        score_times: np.ndarray,
        n_metrics: int,
    ) -> Snapshot:
        """The scored candidates' latest scores and times, fold by fold."""
        n_folds = len(plan.folds)
        candidates = sorted({plan.models[j].candidate for j in scored})
        by_fold = {c: [c * n_folds + k for k in range(n_folds)] for c in candidates}
        return Snapshot(
            epochs,
            {
                c: np.array([scores[j] for j in js]).reshape(n_folds, n_metrics).T
                for c, js in by_fold.items()
            },
            {c: fit_times[js].copy() for c, js in by_fold.items()},
            {c: score_times[js].copy() for c, js in by_fold.items()},
        )

    # ----------------------------------------------------------------------------------------
    # the best estimator

    @available_if(estimator_has("predict", delegates=_BEST_FIRST))
    def predict(self, X: Any) -> Any:
        """Predict with the best estimator (lazy for dask input)."""
        check_is_fitted(self, "best_estimator_")
        return self.best_estimator_.predict(X)

    @available_if(estimator_has("predict_proba", delegates=_BEST_FIRST))
    def predict_proba(self, X: Any) -> Any:
        """Class probabilities of the best estimator (lazy for dask input)."""
        check_is_fitted(self, "best_estimator_")
        return self.best_estimator_.predict_proba(X)

    @available_if(estimator_has("decision_function", delegates=_BEST_FIRST))
    def decision_function(self, X: Any) -> Any:
        """Confidence scores of the best estimator (lazy for dask input)."""
        check_is_fitted(self, "best_estimator_")
        return self.best_estimator_.decision_function(X)

    def score(self, X: Any, y: Any) -> float:
        """The best estimator's score with the search's (refit) scorer, on the workers."""
        check_is_fitted(self, "best_estimator_")
        scorers = self.scorer_ if isinstance(self.scorer_, dict) else {"score": self.scorer_}
        scorer = scorers[self.refit if isinstance(self.refit, str) else "score"]
        return metrics.score(self.best_estimator_, X, y, scorer, split_every=self.split_every)


_SEARCH_PARAMS_DOC = """
    scoring : str, Scorer, list, tuple or dict, default=None
        A scikit-learn scorer name that daskpar computes per partition (see
        :data:`daskpar.metrics.SCORER_NAMES`), a :class:`daskpar.metrics.Scorer`, or several
        as a list of names or a dict ``{name: scorer}``. ``None`` uses the
        ParallelIncremental's ``scoring`` (accuracy or R² by default).
    cv : int, float or iterable, default=3
        Folds made of whole row blocks: ``K`` puts every non-empty block in exactly one of
        ``K`` validation folds; a float in (0, 1) holds out that fraction of the blocks once;
        or explicit pairs ``(train_blocks, test_blocks)`` of block indices.
    refit : bool or str, default=True
        Refit the best candidate on all of X (``best_estimator_``). With several metrics, the
        name of the metric that picks the best candidate, or False.
    shuffle : bool, default=False
        Shuffle the blocks before assigning them to folds (with ``random_state``).
    random_state : int, RandomState instance or None, default=None
        Seeds the block shuffling (and the sampling of candidates).
    max_trials : int, default=1024
        The most candidates x folds the search may train; past it, ``fit`` raises before any
        work. Every task holds one state per model, so memory and graph size grow with it.
    split_every : int or None, default=None
        Fan-in of the tree that merges the states; None uses dask's
        ``split_every`` setting if set, else 8.
    verbose : int, default=0
        With 1 or more, show a progress bar (``tqdm.auto``) of the search's trainings: one
        step per candidate and epoch (all its folds train in the same pass), out of the
        epochs left to the candidates still in the search.
    error_score : "raise" or float, default=np.nan
        The score recorded for a (candidate, fold) whose fit fails, as in scikit-learn: the
        model stops training, the search goes on, and a ``FitFailedWarning`` says why. Invalid
        parameters are found on the client, before any task runs. ``"raise"`` raises the
        error instead. Bad data (a :class:`~daskpar.PartitionError`) always raises.
    checkpoint : str or path-like, default=None
        A folder where ``fit`` writes the search's state after every pass (every model, the
        scores so far, the fitted scalers; one file replaced atomically), and the refit's
        checkpoint in ``<checkpoint>/refit``. If the client dies, calling ``fit`` again with
        the same parameters on the same data resumes after the last pass written and ends
        with the same ``cv_results_`` scores and best model as an uninterrupted search (the
        times are the runs' own). Another run's checkpoint is refused, and one edited since
        it was signed with the model key, as :class:`~daskpar.ParallelIncremental`'s
        ``checkpoint`` says. The data are known by a digest of every block of X and y, taken
        in the first training pass by the tasks that read the blocks anyway, and checked in
        the first pass after resuming: a block rewritten since is refused, naming it. The
        rerun of a finished search reads every block once to check it before returning its
        results, and its refit's checkpoint does the same for the refit's data.
    retries : int, default=None
        On a distributed cluster, let every task fail this many times before its failure
        counts (dask's task retries, for flaky storage), in the search and in its refit.
"""

_SEARCH_ATTRIBUTES_DOC = """
    Attributes
    ----------
    cv_results_ : dict of arrays
        scikit-learn's layout: ``params``, ``param_<name>`` (masked arrays),
        ``split<k>_test_<metric>``, ``mean_test_<metric>``, ``std_test_<metric>``,
        ``rank_test_<metric>``, ``mean_fit_time``, ``std_fit_time``, ``mean_score_time``,
        ``std_score_time`` (seconds the tasks spent fitting and scoring each model); ``<metric>``
        is ``score`` for a single metric. ``pandas.DataFrame(cv_results_)`` gives the table.
    best_estimator_ : estimator
        The best candidate refitted on all of X (with ``refit``).
    best_index_, best_params_, best_score_
        The best candidate's row of ``cv_results_``, its parameters and mean score.
    folds_ : list of (list of int, list of int)
        The (train blocks, test blocks) of every fold.
    history_ : list of dict
        One record per pass over the data: ``epoch``, ``seconds``, ``n_trials_trained``,
        ``n_trials_scored`` and ``best_mean_score``.
    n_splits_ : int
    refit_time_ : float
    scorer_ : Scorer or dict
"""


class GridSearchCV(_BaseSearch):
    __doc__ = (
        """Exhaustive search over a parameter grid, every candidate and fold trained together.

    All candidates x folds are trained from the same read of each block per epoch: one task
    per block runs ``partial_fit`` for every model whose training folds include the block and
    scores every model whose validation fold is the block. Folds are whole row blocks.

    Parameters
    ----------
    estimator : ParallelIncremental or Pipeline
        A ParallelIncremental, or a Pipeline of daskpar scalers followed by one. Parameters
        use scikit-learn's nested names (``estimator__alpha``,
        ``parallelincremental__estimator__alpha``, ``standardscaler__with_mean``).
    param_grid : dict or list of dicts
        As scikit-learn's :class:`~sklearn.model_selection.ParameterGrid`.
"""
        + _SEARCH_PARAMS_DOC
        + _SEARCH_ATTRIBUTES_DOC
        + """
    Examples
    --------
    >>> import daskpar as dp
    >>> from sklearn.linear_model import SGDClassifier
    >>> X, y = dp.make_classification(n_samples=3000, n_features=5, n_clusters_per_class=1,
    ...                               chunks=500, random_state=0)
    >>> model = dp.ParallelIncremental(SGDClassifier(penalty="l1"), epochs=2, random_state=0)
    >>> search = dp.GridSearchCV(model, {"estimator__alpha": [1e-4, 1.0]}, cv=3).fit(X, y)
    >>> search.best_params_
    {'estimator__alpha': 0.0001}
    >>> search.cv_results_["rank_test_score"]
    array([1, 2], dtype=int32)
    """
    )

    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        **_BaseSearch._parameter_constraints,
        "param_grid": [dict, list],
    }

    def __init__(
        self,
        estimator: Any,
        param_grid: dict[str, Any] | list[dict[str, Any]],
        *,
        scoring: Any = None,
        cv: Any = 3,
        refit: bool | str = True,
        shuffle: bool = False,
        random_state: int | np.random.RandomState | None = None,
        max_trials: int = 1024,
        split_every: int | None = None,
        verbose: int = 0,
        error_score: str | float = np.nan,
        checkpoint: str | os.PathLike[str] | None = None,
        retries: int | None = None,
    ) -> None:
        super().__init__(
            estimator,
            scoring=scoring,
            cv=cv,
            refit=refit,
            shuffle=shuffle,
            random_state=random_state,
            max_trials=max_trials,
            split_every=split_every,
            verbose=verbose,
            error_score=error_score,
            checkpoint=checkpoint,
            retries=retries,
        )
        self.param_grid = param_grid

    def _n_candidates(self) -> int:
        return len(ParameterGrid(self.param_grid))

    def _candidates(self) -> list[dict[str, Any]]:
        return list(ParameterGrid(self.param_grid))


class RandomizedSearchCV(_BaseSearch):
    __doc__ = (
        """Search over ``n_iter`` sampled parameter settings, all trained together.

    As :class:`GridSearchCV`, with candidates drawn by scikit-learn's
    :class:`~sklearn.model_selection.ParameterSampler` (lists are sampled uniformly,
    ``scipy.stats`` distributions with their ``rvs``).

    Parameters
    ----------
    estimator : ParallelIncremental or Pipeline
        A ParallelIncremental, or a Pipeline of daskpar scalers followed by one.
    param_distributions : dict or list of dicts
        Parameter names to lists or distributions.
    n_iter : int, default=10
        Number of candidates sampled.
"""
        + _SEARCH_PARAMS_DOC
        + _SEARCH_ATTRIBUTES_DOC
    )

    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        **_BaseSearch._parameter_constraints,
        "param_distributions": [dict, list],
        "n_iter": [Interval(Integral, 1, None, closed="left")],
    }

    def __init__(
        self,
        estimator: Any,
        param_distributions: dict[str, Any] | list[dict[str, Any]],
        *,
        n_iter: int = 10,
        scoring: Any = None,
        cv: Any = 3,
        refit: bool | str = True,
        shuffle: bool = False,
        random_state: int | np.random.RandomState | None = None,
        max_trials: int = 1024,
        split_every: int | None = None,
        verbose: int = 0,
        error_score: str | float = np.nan,
        checkpoint: str | os.PathLike[str] | None = None,
        retries: int | None = None,
    ) -> None:
        super().__init__(
            estimator,
            scoring=scoring,
            cv=cv,
            refit=refit,
            shuffle=shuffle,
            random_state=random_state,
            max_trials=max_trials,
            split_every=split_every,
            verbose=verbose,
            error_score=error_score,
            checkpoint=checkpoint,
            retries=retries,
        )
        self.param_distributions = param_distributions
        self.n_iter = n_iter

    def _n_candidates(self) -> int:
        return self.n_iter

    def _candidates(self) -> list[dict[str, Any]]:
        return list(
            ParameterSampler(self.param_distributions, self.n_iter, random_state=self.random_state)
        )


class HalvingSearchCV(_BaseSearch):
    __doc__ = (
        """Successive halving across epochs: after each epoch, keep the best 1/``factor``.

    All remaining candidates and folds train together as in :class:`GridSearchCV`. After
    every epoch the candidates are ranked by their mean validation score and only the best
    ``ceil(n_remaining / factor)`` train on; the search ends when one candidate is left or
    the ParallelIncremental's ``epochs`` are used up. Because a pass's validation blocks
    score the previous epoch's models (one read per epoch), the ranking after epoch ``e``
    arrives during epoch ``e + 1``: the candidates dropped then have trained that one more
    epoch for nothing.

    Parameters
    ----------
    estimator : ParallelIncremental or Pipeline
        A ParallelIncremental, or a Pipeline of daskpar scalers followed by one.
    param_grid : dict or list of dicts
        The candidates (a grid), or distributions to sample ``n_candidates`` from.
    factor : int, default=3
        Keep the best ``1 / factor`` of the candidates after each epoch.
    n_candidates : int, default=None
        Sample this many candidates from ``param_grid`` (as RandomizedSearchCV) instead of
        taking the whole grid.
"""
        + _SEARCH_PARAMS_DOC
        + _SEARCH_ATTRIBUTES_DOC
        + """
    n_candidates_ : list of int
        Candidates scored at each iteration (epoch).
    n_remaining_candidates_ : int
        Candidates kept after the last iteration.
    n_iterations_ : int
    n_resources_ : list of int
        Epochs each iteration's candidates had trained. ``cv_results_`` has one row per
        candidate and iteration, with ``iter`` and ``n_resources`` columns, as scikit-learn's
        halving searches; the best candidate is the best of the last iteration.
    """
    )

    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        **_BaseSearch._parameter_constraints,
        "param_grid": [dict, list],
        "factor": [Interval(Real, 1, None, closed="neither")],
        "n_candidates": [Interval(Integral, 1, None, closed="left"), None],
    }

    def __init__(
        self,
        estimator: Any,
        param_grid: dict[str, Any] | list[dict[str, Any]],
        *,
        factor: float = 3,
        n_candidates: int | None = None,
        scoring: Any = None,
        cv: Any = 3,
        refit: bool | str = True,
        shuffle: bool = False,
        random_state: int | np.random.RandomState | None = None,
        max_trials: int = 1024,
        split_every: int | None = None,
        verbose: int = 0,
        error_score: str | float = np.nan,
        checkpoint: str | os.PathLike[str] | None = None,
        retries: int | None = None,
    ) -> None:
        super().__init__(
            estimator,
            scoring=scoring,
            cv=cv,
            refit=refit,
            shuffle=shuffle,
            random_state=random_state,
            max_trials=max_trials,
            split_every=split_every,
            verbose=verbose,
            error_score=error_score,
            checkpoint=checkpoint,
            retries=retries,
        )
        self.param_grid = param_grid
        self.factor = factor
        self.n_candidates = n_candidates

    def _n_candidates(self) -> int:
        if self.n_candidates is not None:
            return self.n_candidates
        return len(ParameterGrid(self.param_grid))

    def _candidates(self) -> list[dict[str, Any]]:
        if self.n_candidates is not None:
            return list(
                ParameterSampler(self.param_grid, self.n_candidates, random_state=self.random_state)
            )
        return list(ParameterGrid(self.param_grid))

    def fit(self, X: Any, y: Any, *, classes: Any = None) -> HalvingSearchCV:
        """Train the candidates on every fold together, halving them after every epoch.

        Parameters
        ----------
        X : dask array of shape (n_samples, n_features), or array-like
            Partitioned along rows only; the folds are made of whole row blocks.
        y : dask array of shape (n_samples,), or array-like
            Row chunks equal to ``X``'s.
        classes : array-like, default=None
            All class labels (classifiers). Found on the workers in the first pass otherwise.

        Returns
        -------
        self : HalvingSearchCV
            The fitted search.
        """
        if self._scoring_is_multi() and not isinstance(self.refit, str):
            raise InputError(
                "HalvingSearchCV ranks candidates by one metric: with several metrics, set "
                "refit to the name of that metric."
            )
        super().fit(X, y, classes=classes)
        return self

    def _after_scores(self, snapshot: Snapshot, metric: int | None) -> set[int] | None:
        """The best ``1 / factor`` of the candidates ``snapshot`` scored: a round."""
        assert metric is not None
        means = snapshot.means(metric)
        # scikit-learn's rule (``_top_k``): stable order by mean score, NaN lowest.
        ordered = sorted(means, key=lambda c: -np.inf if np.isnan(means[c]) else means[c])
        return set(ordered[-math.ceil(len(means) / self.factor) :])

    def _results(
        self,
        candidates: list[dict[str, Any]],
        test_scores: dict[str, np.ndarray],
        fit_times: np.ndarray,
        score_times: np.ndarray,
        rounds: list[Snapshot],
    ) -> dict[str, Any]:
        """One row per (iteration, candidate scored in it), as scikit-learn's halving searches:
        the iterations are the search's ``rounds``."""
        names = list(test_scores)
        rows = [(i, c) for i, snap in enumerate(rounds) for c in sorted(snap.scores)]
        results = format_results(
            [candidates[c] for _, c in rows],
            {
                name: np.array([rounds[i].scores[c][m] for i, c in rows])
                for m, name in enumerate(names)
            },
            np.array([rounds[i].fit_times[c] for i, c in rows]),
            np.array([rounds[i].score_times[c] for i, c in rows]),
        )
        results["iter"] = np.array([i for i, _ in rows])
        results["n_resources"] = np.array([rounds[i].epochs for i, _ in rows])
        self.n_iterations_ = len(rounds)
        self.n_candidates_ = [len(snap.scores) for snap in rounds]
        self.n_resources_ = [snap.epochs for snap in rounds]
        self.n_remaining_candidates_ = math.ceil(self.n_candidates_[-1] / self.factor)
        return results

    def _best_index(self, name: str) -> int:
        """The best candidate of the last iteration, as scikit-learn's halving searches."""
        last = np.flatnonzero(self.cv_results_["iter"] == self.cv_results_["iter"].max())
        means = self.cv_results_[f"mean_test_{name}"][last]
        return int(last[np.nanargmax(means)])
