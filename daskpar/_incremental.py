"""``ParallelIncremental``: train an incremental scikit-learn estimator on every partition at once.

Per epoch, one task per block (one read of the block)::

    blocks ──trials_partition──▶ states ──combine (fan-in split_every)──▶ one state ──▶ next model

A training block runs ``partial_fit``; a block held out by ``validation_fraction`` scores the
epoch's starting model instead, so validation costs no extra read. This is the search's pass
(:mod:`daskpar._search`) with a single trial.
"""

from __future__ import annotations

import sys
import time
from numbers import Integral, Real
from typing import Any, ClassVar

import dask.array as da
import numpy as np
from dask.base import tokenize
from sklearn.base import BaseEstimator, MetaEstimatorMixin, clone, is_classifier
from sklearn.utils import check_random_state, get_tags
from sklearn.utils._param_validation import HasMethods, Interval
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import check_is_fitted, validate_data

from . import metrics
from ._families import family_for
from ._graph import broadcast, compute_one, map_partitions, tree_combine
from ._metrics import Scorer, get_scorer
from ._states import LabelSet
from ._tasks import (
    SearchPlan,
    Trial,
    combine_states,
    find_labels_partition,
    predict_partition,
    trials_partition,
    update_trials,
)
from ._validation import (
    MERGE_PARTITIONS,
    check_sample_weight,
    check_scorer_applies,
    check_X,
    check_X_y,
    warn_if_tiny_partitions,
)
from .errors import InputError

__all__ = ["ParallelIncremental", "find_classes"]


def _labels_of(state: LabelSet | None) -> np.ndarray:
    if state is None:
        raise InputError("y is empty: cannot find the classes of an empty target.")
    return state.labels


def find_classes(y: da.Array, *, split_every: int = 8) -> np.ndarray:
    """The sorted distinct labels of ``y``, found on the workers in one pass.

    Parameters
    ----------
    y : dask array of shape (n_samples,)
    split_every : int, default=8
        Fan-in of the tree that merges the per-partition label sets.

    Returns
    -------
    classes : ndarray
        Sorted unique labels, as :func:`numpy.unique` would give.

    Examples
    --------
    >>> import dask.array as da, numpy as np
    >>> find_classes(da.from_array(np.array([2, 0, 2, 1]), chunks=2))
    array([0, 1, 2])
    """
    parts = map_partitions(
        find_labels_partition, y, stage="daskpar-find-classes", with_position=True
    )
    root = tree_combine(
        parts, combine_states, _labels_of, split_every=split_every, finalize_stage="daskpar-classes"
    )
    return np.asarray(compute_one(root))


def _estimator_has(attr: str) -> Any:
    def check(self: ParallelIncremental) -> bool:
        if hasattr(self, "estimator_"):
            return hasattr(self.estimator_, attr)
        return hasattr(self.estimator, attr)

    return check


class ParallelIncremental(MetaEstimatorMixin, BaseEstimator):
    """Train an incremental estimator on all partitions in parallel, merging through a tree.

    Each epoch, one task per partition reads its block and runs ``partial_fit`` of a copy of the
    current model on it; the partition states are merged through a tree of fan-in
    ``split_every`` into the next epoch's model: a sample-weighted average of the parameters for
    SGD-type models, exact sums of sufficient statistics for naive Bayes (whose single pass is
    already the exact fit, so ``epochs`` does not apply to them).

    Parameters
    ----------
    estimator : estimator instance
        An unfitted scikit-learn estimator with ``partial_fit``: ``SGDClassifier``,
        ``SGDRegressor``, ``Perceptron``, ``PassiveAggressiveClassifier``,
        ``PassiveAggressiveRegressor``, ``MultinomialNB``, ``BernoulliNB`` or ``GaussianNB``.
        It is cloned, never modified.
    epochs : int, default=1
        Passes over the data.
    split_every : int, default=8
        Fan-in of the tree that merges partition states (at least 2).
    shuffle : bool, default=True
        Shuffle the rows inside each partition every epoch, with a seed derived from
        ``random_state``, the epoch and the partition index.
    random_state : int, RandomState instance or None, default=None
        Seeds every partition's ``partial_fit``; an int gives the same model bits on any
        scheduler and any number of workers.
    verbose : int, default=0
        With 1 or more, show a progress bar over epochs with each epoch's time.
    scoring : str or Scorer, default=None
        What :meth:`score` and the validation after each epoch compute: a scikit-learn scorer
        name that daskpar reduces on the workers (see :data:`daskpar.metrics.SCORER_NAMES`),
        or a :class:`daskpar.metrics.Scorer`. ``None`` means accuracy for classifiers and R²
        for regressors, as the estimator's own ``score``.
    validation_fraction : float in (0, 1), default=None
        Hold out this fraction of X's partitions, as whole blocks chosen with
        ``random_state`` (``round(validation_fraction * n_partitions)``, at least one), and
        score the model on them after every epoch. A validation block is read in the same
        task and the same pass as the training blocks: it scores the epoch's starting model,
        so each block is read once per epoch (plus one last read of the validation blocks
        for the final model). Inside a :class:`~sklearn.pipeline.Pipeline`, prefer this to
        ``validation_data``, which would not go through the pipeline's earlier steps.
    early_stopping : bool, default=False
        Stop when the validation score has not improved by more than ``tol`` for
        ``n_iter_no_change`` epochs in a row, and keep the best epoch's model. Needs
        ``validation_fraction`` or ``validation_data``.
    n_iter_no_change : int, default=5
        Epochs without improvement before early stopping.
    tol : float, default=1e-4
        The improvement of the validation score that counts as one.

    Attributes
    ----------
    estimator_ : estimator
        The fitted scikit-learn estimator: a plain object, usable without dask.
    classes_ : ndarray of shape (n_classes,)
        The class labels (classifiers only).
    n_features_in_ : int
        Number of features seen during fit.
    history_ : list of dict
        One record per epoch: ``epoch``, ``seconds``, ``n_samples`` and ``n_partitions`` (of
        the training blocks) and, with validation, ``validation_score``.
    best_epoch_ : int
        With ``early_stopping``: the epoch (from 1) whose model ``estimator_`` is.
    validation_blocks_ : list of int
        With ``validation_fraction``: the indices of the row blocks held out.

    Examples
    --------
    >>> import daskpar as dp
    >>> from sklearn.linear_model import SGDClassifier
    >>> X, y = dp.make_classification(n_samples=2000, n_features=5, chunks=500, random_state=0)
    >>> model = dp.ParallelIncremental(SGDClassifier(), epochs=2, random_state=0).fit(X, y)
    >>> model.classes_
    array([0, 1])
    >>> model.predict(X[:4]).compute().shape
    (4,)
    """

    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "estimator": [HasMethods(["partial_fit"])],
        "epochs": [Interval(Integral, 1, None, closed="left")],
        "split_every": [Interval(Integral, 2, None, closed="left")],
        "shuffle": ["boolean"],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
        "scoring": [str, Scorer, None],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither"), None],
        "early_stopping": ["boolean"],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, None, None, closed="neither")],
    }

    def __init__(
        self,
        estimator: BaseEstimator,
        *,
        epochs: int = 1,
        split_every: int = 8,
        shuffle: bool = True,
        random_state: int | np.random.RandomState | None = None,
        verbose: int = 0,
        scoring: str | Scorer | None = None,
        validation_fraction: float | None = None,
        early_stopping: bool = False,
        n_iter_no_change: int = 5,
        tol: float = 1e-4,
    ) -> None:
        self.estimator = estimator
        self.epochs = epochs
        self.split_every = split_every
        self.shuffle = shuffle
        self.random_state = random_state
        self.verbose = verbose
        self.scoring = scoring
        self.validation_fraction = validation_fraction
        self.early_stopping = early_stopping
        self.n_iter_no_change = n_iter_no_change
        self.tol = tol

    # ----------------------------------------------------------------------------------------
    # fitting

    def fit(
        self,
        X: Any,
        y: Any,
        *,
        classes: Any = None,
        validation_data: tuple[Any, Any] | None = None,
        sample_weight: Any = None,
    ) -> ParallelIncremental:
        """Fit the estimator on every partition of ``X``, ``y`` for ``epochs`` passes.

        Parameters
        ----------
        X : dask array of shape (n_samples, n_features), or array-like
            Partitioned along rows only, with known chunk sizes.
        y : dask array of shape (n_samples,), or array-like
            Row chunks equal to ``X``'s.
        classes : array-like, default=None
            All class labels (classifiers). Found on the workers in one pass when not given.
        validation_data : tuple (X_val, y_val), default=None
            Held-out data scored with ``scoring`` after every epoch (on the workers for dask
            input); the score is recorded as ``validation_score`` in ``history_``. Not with
            ``validation_fraction``.
        sample_weight : dask array or array-like of shape (n_samples,), default=None
            Non-negative weight of each sample, with ``X``'s row chunks if a dask array. Each
            partition's ``partial_fit`` weighs its rows with them, the partitions' models are
            averaged by their sums of weights, and the blocks held out by
            ``validation_fraction`` are scored with them.

        Returns
        -------
        self : ParallelIncremental
            The fitted meta-estimator.
        """
        self._validate_params()
        family = family_for(self.estimator)
        scorer = self._scorer()
        if validation_data is not None or self.validation_fraction is not None:
            check_scorer_applies(scorer, self.estimator)
        regression = not is_classifier(self.estimator)
        X, y = check_X_y(X, y, y_numeric=regression)
        warn_if_tiny_partitions(X.chunks[0], type(self).__name__, MERGE_PARTITIONS)
        sample_weight = check_sample_weight(sample_weight, X)
        if validation_data is not None:
            if self.validation_fraction is not None:
                raise InputError(
                    "Pass either validation_data to fit or validation_fraction to "
                    f"{type(self).__name__}, not both."
                )
            if not isinstance(validation_data, tuple | list) or len(validation_data) != 2:
                raise InputError("validation_data must be a pair (X_val, y_val).")
            X_val, y_val = check_X_y(*validation_data, n_features=X.shape[1], y_numeric=regression)
        rng = check_random_state(self.random_state)
        base_seed = int(rng.randint(np.iinfo(np.int32).max))
        validation_blocks = self._validation_blocks(X, rng)
        if self.early_stopping and validation_data is None and not validation_blocks:
            raise InputError(
                "early_stopping=True needs validation data: set validation_fraction (whole "
                "blocks of X are held out) or pass validation_data=(X_val, y_val) to fit."
            )
        classes_ = self._resolve_classes(y, classes)
        model = clone(self.estimator)
        if hasattr(model, "shuffle"):
            model.set_params(shuffle=self.shuffle)
        n_epochs = 1 if family.exact else self.epochs
        train_blocks = [i for i in range(X.numblocks[0]) if i not in validation_blocks]
        plan = SearchPlan(
            trials=(Trial(candidate=0, fold=0, config=0),),
            folds=((frozenset(train_blocks), validation_blocks),),
            families=(family,),
            base_seeds=(base_seed,),
            classes=classes_,
            scorers=(scorer,),
        )

        self.history_: list[dict[str, Any]] = []
        self._best: tuple[float, int, BaseEstimator] | None = None
        self._epochs_no_change = 0
        progress = None
        if self.verbose:
            from tqdm.auto import tqdm

            progress = tqdm(total=n_epochs, desc="epochs", unit="epoch", file=sys.stderr)
        for epoch in range(n_epochs):
            start = time.perf_counter()
            new_model, previous_score = self._run_epoch(plan, model, X, y, sample_weight, epoch)
            stop = previous_score is not None and self._record_score(previous_score, model)
            model = new_model
            self.history_.append(
                {
                    "epoch": epoch + 1,
                    "seconds": time.perf_counter() - start,
                    "n_samples": int(sum(X.chunks[0][i] for i in train_blocks)),
                    "n_partitions": len(train_blocks),
                }
            )
            if validation_data is not None:
                stop = self._record_score(self._score_model(model, X_val, y_val, scorer), model)
            if progress is not None:
                progress.update()
                progress.set_postfix(
                    {
                        k: f"{v:.4g}"
                        for k, v in self.history_[-1].items()
                        if k in ("seconds", "validation_score")
                    }
                )
            if stop:
                break
        if validation_blocks:
            # The last model has not met the validation blocks yet: one read of those blocks.
            index = sorted(validation_blocks)
            weights = None if sample_weight is None else sample_weight.blocks[index]
            self._record_score(
                self._score_model(model, X.blocks[index], y.blocks[index], scorer, weights), model
            )
        if progress is not None:
            progress.close()

        if validation_blocks:
            self.validation_blocks_ = sorted(validation_blocks)
        if self.early_stopping:
            assert self._best is not None
            _, best_epoch, model = self._best
            self.best_epoch_ = best_epoch
        del self._best, self._epochs_no_change
        if hasattr(model, "shuffle"):
            model.set_params(shuffle=self.estimator.get_params()["shuffle"])
        self.estimator_ = model
        self.n_features_in_ = int(X.shape[1])
        if classes_ is not None:
            self.classes_ = classes_
        return self

    def _scorer(self) -> Scorer:
        if self.scoring is not None:
            return get_scorer(self.scoring)
        return get_scorer("accuracy" if is_classifier(self.estimator) else "r2")

    def _validation_blocks(self, X: da.Array, rng: np.random.RandomState) -> frozenset[int]:
        """The indices of the blocks held out by ``validation_fraction``."""
        if self.validation_fraction is None:
            return frozenset()
        candidates = [i for i, n in enumerate(X.chunks[0]) if n > 0]
        n_val = max(1, round(self.validation_fraction * len(candidates)))
        if n_val >= len(candidates):
            raise InputError(
                f"validation_fraction={self.validation_fraction} holds out whole partitions, "
                f"and X has {len(candidates)} non-empty partition(s): nothing would be left to "
                "train on. Split X into more row blocks (X.rechunk({0: ...})) or pass "
                "validation_data to fit."
            )
        return frozenset(int(i) for i in rng.choice(candidates, n_val, replace=False))

    def _record_score(self, score: float, model: BaseEstimator) -> bool:
        """Record ``score`` of ``model`` (the latest epoch's); True when it is time to stop."""
        record = self.history_[-1]
        record["validation_score"] = score
        if self._best is None or score > self._best[0] + self.tol:
            self._best = (score, record["epoch"], model)
            self._epochs_no_change = 0
        else:
            self._epochs_no_change += 1
        return bool(self.early_stopping) and self._epochs_no_change >= self.n_iter_no_change

    def _resolve_classes(self, y: da.Array, classes: Any) -> np.ndarray | None:
        if not is_classifier(self.estimator):
            if classes is not None:
                raise InputError(
                    f"classes= applies to classifiers only; {type(self.estimator).__name__} "
                    "is not one."
                )
            return None
        if classes is None:
            return find_classes(y, split_every=self.split_every)
        out = np.unique(np.asarray(classes))
        if len(out) < 2:
            raise InputError(f"classes must hold at least 2 distinct labels; got {out.tolist()}.")
        return out

    def _run_epoch(
        self,
        plan: SearchPlan,
        model: BaseEstimator,
        X: da.Array,
        y: da.Array,
        sample_weight: da.Array | None,
        epoch: int,
    ) -> tuple[BaseEstimator, float | None]:
        """One pass: the next model, and the starting model's score on the validation blocks.

        The fit is a search of one trial: ``plan``'s single fold trains on all blocks but the
        validation ones, which score the epoch's starting model in the same read.
        """
        train = frozenset({0})
        score = frozenset({0}) if epoch > 0 and plan.folds[0][1] else frozenset()
        states = map_partitions(
            trials_partition,
            X,
            y,
            sample_weight,
            stage="daskpar-fit-partition",
            with_position=True,
            plan=plan,
            models=broadcast([model]),
            scalers={},
            epoch=epoch,
            train=train,
            score=score,
        )
        root = tree_combine(
            states,
            combine_states,
            update_trials,
            split_every=self.split_every,
            finalize_stage="daskpar-update-model",
            plan=plan,
            models=[model],
            epoch=epoch,
            train=train,
            score=score,
        )
        ((new_model, evaluations, _, _, _),) = compute_one(root)
        return new_model, None if evaluations is None else evaluations[0].unwrap(stacklevel=3)

    # ----------------------------------------------------------------------------------------
    # prediction and scoring

    def _predict(self, X: Any, method: str) -> Any:
        check_is_fitted(self, "estimator_")
        if not isinstance(X, da.Array):
            return getattr(self.estimator_, method)(X)
        X = check_X(X, n_features=self.n_features_in_)
        est = self.estimator_
        # One probe row tells the output's dtype and width.
        probe = np.asarray(getattr(est, method)(np.zeros((1, X.shape[1]), dtype=X.dtype)))
        stage, token = f"daskpar-{method.replace('_', '-')}", tokenize(est, X, method)
        # 1-D outputs (predict, binary decision_function) drop X's column axis; 2-D ones
        # (probabilities, multiclass scores) replace it with one column per class.
        shape: dict[str, Any] = (
            {"drop_axis": 1} if probe.ndim == 1 else {"chunks": (X.chunks[0], (probe.shape[1],))}
        )
        return X.map_blocks(
            predict_partition,
            model=est,
            method=method,
            dtype=probe.dtype,
            meta=np.empty((0,) * probe.ndim, dtype=probe.dtype),
            name=f"{stage}-{token}",
            **shape,
        )

    def predict(self, X: Any) -> Any:
        """Predict with the fitted estimator: a lazy dask array for dask input, else numpy."""
        return self._predict(X, "predict")

    @available_if(_estimator_has("predict_proba"))
    def predict_proba(self, X: Any) -> Any:
        """Class probabilities, shape (n_samples, n_classes); lazy for dask input."""
        return self._predict(X, "predict_proba")

    @available_if(_estimator_has("predict_log_proba"))
    def predict_log_proba(self, X: Any) -> Any:
        """Log class probabilities; lazy for dask input."""
        return self._predict(X, "predict_log_proba")

    @available_if(_estimator_has("decision_function"))
    def decision_function(self, X: Any) -> Any:
        """Confidence scores; lazy for dask input."""
        return self._predict(X, "decision_function")

    def score(self, X: Any, y: Any, sample_weight: Any = None) -> float:
        """The ``scoring`` metric (by default accuracy or R²), reduced on the workers.

        For dask input each partition contributes counts or sums and only those travel; ``X``
        and ``y`` are never gathered. In-memory input is scored in this process.
        """
        check_is_fitted(self, "estimator_")
        in_memory = not isinstance(X, da.Array) and not isinstance(y, da.Array)
        if in_memory and self.scoring is None:
            return float(self.estimator_.score(X, y, sample_weight=sample_weight))
        if in_memory:
            X = validate_data(self.estimator_, X, reset=False)
        X, y = check_X_y(X, y, n_features=self.n_features_in_)
        return self._score_model(self.estimator_, X, y, self._scorer(), sample_weight)

    def _score_model(
        self,
        model: BaseEstimator,
        X: da.Array,
        y: da.Array,
        scorer: Scorer,
        sample_weight: Any = None,
    ) -> float:
        return metrics.score(
            model, X, y, scorer, sample_weight=sample_weight, split_every=self.split_every
        )

    # ----------------------------------------------------------------------------------------
    # scikit-learn plumbing

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        inner = get_tags(self.estimator)
        tags.estimator_type = inner.estimator_type
        tags.classifier_tags = inner.classifier_tags
        tags.regressor_tags = inner.regressor_tags
        tags.target_tags = inner.target_tags
        tags.input_tags.sparse = False
        tags.input_tags.allow_nan = False
        return tags
