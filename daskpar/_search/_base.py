"""The searches' shared estimator: check and plan, run the passes, set the results, refit.

:class:`BaseSearch` is what :class:`~daskpar.GridSearchCV`, :class:`~daskpar.RandomizedSearchCV`
and :class:`~daskpar.HalvingSearchCV` share. Its ``fit`` checks the input and the candidates
(module ``_candidates``), fits the leading steps (scalers, a PCA) and runs the epochs
(``_passes``), sets ``cv_results_`` (``_results``) and refits the best candidate. A subclass
lists its candidates (the ``_candidates`` method) and may, after every pass that scores,
choose the candidates that go on (the ``_after_scores`` hook: halving's rounds), as
scikit-learn's searches override ``_run_search``.
"""

from __future__ import annotations

import math
import os
import time
from itertools import pairwise
from numbers import Integral, Real
from typing import Any, ClassVar

import dask.array as da
import numpy as np
from sklearn.base import BaseEstimator, MetaEstimatorMixin, clone, is_classifier
from sklearn.pipeline import Pipeline
from sklearn.utils import check_random_state
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import check_is_fitted

from .. import audit, metrics
from .._checkpoint import REFIT_FOLDER, Checkpoint, plain
from .._coalesce import MIN_BLOCKS, coalesce_blocks
from .._columns import column_names, is_dask_table, match_feature_names, without_names
from .._compose import fit_per_fold
from .._decomposition import PCA
from .._families import family_for
from .._graph import SPLIT_EVERY, task_retries
from .._incremental import ParallelIncremental, estimator_has, frame_classes_and_lengths
from .._pass import ModelSpec, PassPlan, run_epochs, seed_positions
from .._preprocessing import refuse_sparse_fit
from .._saving import SaveMixin
from .._sklearn_compat import HasMethods, Interval, StrOptions, validate_estimator_params
from .._validation import (
    MERGE_PARTITIONS,
    check_sparse_support,
    check_X_y,
    is_sparse_array,
    warn_if_tiny_partitions,
)
from ..errors import InputError
from ..metrics import Scorer
from ._candidates import (
    STATELESS_STEPS,
    FoldColumns,
    Folds,
    block_folds,
    check_candidates,
    check_pca_steps,
    column_step,
    fixed_column_step,
    invalid_candidates,
    scaler_settings,
    search_scorers,
    split_estimator,
)
from ._passes import SearchPasses, Setup, fit_leading_steps
from ._results import Snapshot, format_results, warn_about_failures

__all__ = ["SEARCH_ATTRIBUTES_DOC", "SEARCH_PARAMS_DOC", "BaseSearch"]

#: What a search's methods delegate to: the best estimator once refitted, else the estimator.
_BEST_FIRST = ("best_estimator_", "estimator")


class BaseSearch(SaveMixin, MetaEstimatorMixin, BaseEstimator):
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
        warn_about_failures(setup.failed, len(setup.plan.models), error_score=self.error_score)
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
        if setup.table is None:
            self.n_features_in_ = int(setup.X.shape[1])
        elif column_names(setup.table[0]) is not None:
            self.n_features_in_ = len(setup.table[0].columns)
        # (Documents have no features to count, as scikit-learn's HashingVectorizer has none.)
        if setup.plan.classes is not None:
            self.classes_ = setup.plan.classes

    def _table_setup(
        self, X: Any, y: Any, classifier: bool, rng: np.random.RandomState
    ) -> tuple[Any, Any, Any, list[FoldColumns], tuple[Any, Any]]:
        """For a Pipeline that starts with a ColumnTransformer: that step fitted on each
        fold's training partitions in one pass over the DataFrame ``X``, and the array the
        passes read, every fold's transform side by side (each partition read once)."""
        found = column_step(self.estimator)
        assert found is not None
        name, step = found
        fixed_column_step(name, step, self._candidates())
        if not is_dask_table(X) or column_names(X) is None:
            raise InputError(
                f"A search over a Pipeline that starts with a ColumnTransformer takes a dask "
                f"DataFrame; got {type(X).__name__}. Give it the table (for a pandas "
                "DataFrame, dask.dataframe.from_pandas(df, npartitions=...))."
            )
        if self.checkpoint is not None:
            raise InputError(
                "checkpoint= is not supported yet for a search over a Pipeline that starts "
                "with a ColumnTransformer; leave it unset."
            )
        match_feature_names(self, X, reset=True)
        folds: Folds = []

        def train_blocks(lengths: tuple[int, ...]) -> list[frozenset[int]]:
            folds.extend(block_folds(self.cv, lengths, shuffle=self.shuffle, random_state=rng))
            return [train for train, _ in folds]

        fitted, _ = fit_per_fold(step, X, train_blocks)
        # Arrays, whatever the step's set_output: the passes read row blocks.
        parts = [ct.set_output(transform="default").transform(X) for ct in fitted]
        edges = np.cumsum([0] + [p.shape[1] for p in parts])
        first = [FoldColumns(int(a), int(b)) for a, b in pairwise(edges)]
        stacked = da.concatenate(parts, axis=1).rechunk({1: -1}) if len(parts) > 1 else parts[0]
        Xs, ys = check_X_y(stacked, y, y_numeric=not classifier)
        return Xs, ys, folds, first, (X, y)

    def _stateless_setup(
        self, X: Any, y: Any, classifier: bool, name: str, step: Any
    ) -> tuple[Any, Any, tuple[Any, Any]]:
        """For a Pipeline that starts with a FeatureHasher or HashingVectorizer: the data
        transformed lazily by that step, which learns nothing, so every fold shares it and
        every task that reads a block hashes it; the refit takes the input as it was."""
        fixed_column_step(name, step, self._candidates())
        if is_dask_table(X) and column_names(X) is not None:
            match_feature_names(self, X, reset=True)
        hashed = clone(step).fit(X).transform(X)
        Xs, ys = check_X_y(hashed, y, y_numeric=not classifier)
        return Xs, ys, (X, y)

    def _setup(self, X: Any, y: Any, classes: Any) -> Setup:
        """Check the input and every candidate, fit the leading steps, and plan the passes."""
        _, template = split_estimator(self.estimator)
        classifier = is_classifier(template.estimator)
        rng = check_random_state(self.random_state)
        first: list[FoldColumns] | None = None
        table = None
        leading = column_step(self.estimator)
        if leading is not None and isinstance(leading[1], STATELESS_STEPS):
            X, y, table = self._stateless_setup(X, y, classifier, *leading)
        elif leading is not None:
            X, y, folds, first, table = self._table_setup(X, y, classifier, rng)
        else:
            lengths = None
            if classifier and classes is None:
                match_feature_names(self, X, reset=True)  # names are refused before any task
                # A DataFrame's unknown row counts, learned in the pass that finds the classes.
                classes, lengths = frame_classes_and_lengths(X, y, split_every=self.split_every)
            X, y = check_X_y(
                X, y, y_numeric=not classifier, estimator=self, reset=True, lengths=lengths
            )
            if isinstance(self.cv, Integral | Real):
                # Small blocks merged up to daskpar.target-block-bytes before the folds are
                # drawn, leaving at least a block per fold (folds given as block numbers keep
                # the blocks they name).
                at_least = max(
                    MIN_BLOCKS,
                    int(self.cv)
                    if isinstance(self.cv, Integral)
                    else math.ceil(1 / float(self.cv)),
                )
                X, y = coalesce_blocks(X, y, min_blocks=at_least)
        warn_if_tiny_partitions(X.chunks[0], type(self).__name__, MERGE_PARTITIONS)
        checkpoint, saved = None, None
        if self.checkpoint is not None:
            checkpoint = Checkpoint.of(self.checkpoint, self, X, y)
            saved = checkpoint.load()
        if first is None:
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
        scorers = search_scorers(self.scoring, template)
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
        parts = [split_estimator(est) for est in estimators]
        models = [model for _, model in parts]
        check_candidates(models, scorers)
        if is_sparse_array(X):
            # What cannot take sparse blocks is refused before any task runs.
            for steps, model in parts:
                for step in steps:
                    refuse_sparse_fit(step)
                    if isinstance(step, PCA):
                        raise InputError(
                            "PCA cannot fit sparse X: it centres the data, which would make "
                            "every block dense. Densify narrow blocks first, or search "
                            "without the PCA step."
                        )
                check_sparse_support(model.estimator, X, owner=type(model).__name__)
        # The width each fold's PCA step sees (scalers keep it), and its training rows.
        widths = [X.shape[1]] * len(folds) if first is None else [f.stop - f.start for f in first]
        train_rows = [float(sum(X.chunks[0][b] for b in train)) for train, _ in folds]
        check_pca_steps([steps for steps, _ in parts], candidates, widths, train_rows)
        failed = invalid_candidates(models, len(folds), error_score=self.error_score)
        families = tuple(family_for(m.estimator) for m in models)
        configs, config_of = scaler_settings([steps for steps, _ in parts])
        if classes is not None:
            classes = np.unique(np.asarray(classes))
        if saved is None:
            fitted, found = fit_leading_steps(
                X,
                y,
                configs,
                folds,
                find_labels=classifier and classes is None,
                split_every=self.split_every,
                first=first,
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
        return Setup(
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
            table,
        )

    def _refit_best(self, setup: Setup) -> None:
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
            # (The input as given: a leading hasher hashes it again, inside the refit's tasks.)
            best.fit(*(setup.table or (setup.X, setup.y)), **fit_params)
            # The refit's checkpoint belongs to this search: the best estimator, cloned and
            # fitted elsewhere, must not find it.
            best.set_params(**{inner: original})
        elif setup.table is not None:  # the column step refitted on all of the input
            best.fit(*setup.table, **fit_params)
        else:
            best.fit(setup.X, setup.y, **fit_params)
        names = getattr(self, "feature_names_in_", None)
        if setup.table is None and names is not None:
            # Refitted on the table's values, in the order of its columns: the first step
            # keeps their names, so that the best estimator used alone (saved, loaded, given
            # a table with its columns in another order) takes them by name, as the search does.
            first = best.steps[0][1] if isinstance(best, Pipeline) else best
            first.feature_names_in_ = np.asarray(names, dtype=object)
        self.best_estimator_ = best
        self.refit_time_ = time.perf_counter() - start

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

    def _train(self, setup: Setup) -> SearchPasses:
        """The epochs of the search; returns its driver, which holds each model's last scores
        and times, and the rounds of a halving search."""
        plan = setup.plan
        current: list[Any] = []
        for spec in plan.models:
            model = clone(setup.models[spec.candidate].estimator)
            if hasattr(model, "shuffle"):
                model.set_params(shuffle=setup.models[spec.candidate].shuffle)
            current.append(model)
        passes = SearchPasses(
            setup,
            current,
            error_score=self.error_score,
            split_every=self.split_every,
            after_scores=self._after_scores,
        )
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

    # ----------------------------------------------------------------------------------------
    # the best estimator

    @available_if(estimator_has("predict", delegates=_BEST_FIRST))
    def predict(self, X: Any) -> Any:
        """Predict with the best estimator (lazy for dask input)."""
        check_is_fitted(self, "best_estimator_")
        return self.best_estimator_.predict(self._best_input(X))

    @available_if(estimator_has("predict_proba", delegates=_BEST_FIRST))
    def predict_proba(self, X: Any) -> Any:
        """Class probabilities of the best estimator (lazy for dask input)."""
        check_is_fitted(self, "best_estimator_")
        return self.best_estimator_.predict_proba(self._best_input(X))

    @available_if(estimator_has("decision_function", delegates=_BEST_FIRST))
    def decision_function(self, X: Any) -> Any:
        """Confidence scores of the best estimator (lazy for dask input)."""
        check_is_fitted(self, "best_estimator_")
        return self.best_estimator_.decision_function(self._best_input(X))

    def score(self, X: Any, y: Any) -> float:
        """The best estimator's score with the search's (refit) scorer, on the workers."""
        check_is_fitted(self, "best_estimator_")
        scorers = self.scorer_ if isinstance(self.scorer_, dict) else {"score": self.scorer_}
        scorer = scorers[self.refit if isinstance(self.refit, str) else "score"]
        best = self.best_estimator_
        if column_step(best) is not None:
            # The columns transformed lazily, then scored on the workers by the last step.
            X, best = best[:-1].transform(self._best_input(X)), best[-1]
        else:
            X = self._best_input(X)
        return metrics.score(best, X, y, scorer, split_every=self.split_every)

    def _best_input(self, X: Any) -> Any:
        """``X`` as the best estimator takes it: a table's columns by name, kept as a table
        for a best estimator that knows their names (refitted on a table, see
        :meth:`_refit_best`), else as an array."""
        best = self.best_estimator_
        if column_step(best) is not None or _first_step_names(best) is not None:
            return match_feature_names(self, X, reset=False)
        return without_names(self, X)


def _first_step_names(estimator: Any) -> Any:
    """The column names the first step of ``estimator`` (or ``estimator``) was fitted with."""
    first = estimator.steps[0][1] if isinstance(estimator, Pipeline) else estimator
    return getattr(first, "feature_names_in_", None)


#: The parameters every search shares, for the searches' docstrings (after their own).
SEARCH_PARAMS_DOC = """
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

#: The attributes every search sets, for the searches' docstrings.
SEARCH_ATTRIBUTES_DOC = """
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
