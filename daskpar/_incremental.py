"""``ParallelIncremental``: train an incremental scikit-learn estimator on every partition at once.

Per epoch, one task per block (one read of the block)::

    blocks ──fit_partition──▶ states ──combine (split_every)──▶ one state ──update_models──▶ model

A training block runs ``partial_fit``; a block held out by ``validation_fraction`` scores the
epoch's starting model instead, so validation costs no extra read. ``fit`` is: check the input,
plan the pass (:class:`~daskpar._pass.PassPlan`, one model), run the epochs
(:func:`~daskpar._pass.run_epochs`, shared with the searches, with this fit's
:class:`~daskpar._pass.EpochDriver`), set the fitted attributes.
"""

from __future__ import annotations

import inspect
import math
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from numbers import Integral, Real
from typing import Any, ClassVar

import dask.array as da
import numpy as np
from dask.base import tokenize
from sklearn.base import BaseEstimator, MetaEstimatorMixin, clone, is_classifier
from sklearn.utils import check_random_state, get_tags
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import check_is_fitted, validate_data

from . import audit
from ._checkpoint import Checkpoint, records
from ._coalesce import (
    MIN_BLOCKS,
    TARGET_KEY,
    coalesce_blocks,
    describe,
    target_block_bytes,
)
from ._columns import (
    check_numeric_columns,
    column_names,
    frame_predictions,
    is_dask_table,
    match_feature_names,
    numeric_table,
    table_values,
)
from ._dask_compat import known_partition_lengths
from ._families import family_for
from ._graph import (
    SPLIT_EVERY,
    reduce_frame_partitions,
    reduce_partitions,
    stage_name,
    task_retries,
)
from ._pass import (
    VALIDATION_NAMES,
    EpochDriver,
    FirstPassCheck,
    ModelSpec,
    ModelUpdate,
    PassPlan,
    find_labels_partition,
    run_epochs,
    run_pass,
    seed_positions,
)
from ._saving import SaveMixin
from ._sklearn_compat import HasMethods, Interval, validate_estimator_params, validate_params
from ._states import LabelSet
from ._validation import (
    MERGE_PARTITIONS,
    check_label_dtype,
    check_sample_weight,
    check_scorer_applies,
    check_sparse_support,
    check_X,
    check_X_y,
    refuse_text,
    warn_if_tiny_partitions,
)
from .errors import DivergenceError, InputError
from .metrics import Scorer, get_scorer
from .metrics._scorer import DataNames, score_data

__all__ = ["ParallelIncremental", "estimator_has", "find_classes", "frame_classes_and_lengths"]


def has_partial_fit_parameter(estimator: BaseEstimator, name: str) -> bool:
    """Whether ``estimator.partial_fit`` takes a parameter ``name`` (as ``has_fit_parameter``)."""
    return name in inspect.signature(estimator.partial_fit).parameters


#: The stage of each lazy prediction: the dashboard shows 15 characters of a name at most.
PREDICT_STAGES = {
    "predict": "predict",
    "predict_proba": "predict-proba",
    "predict_log_proba": "log-proba",
    "decision_function": "decision",
}


def predict_partition(X: np.ndarray, *, model: BaseEstimator, method: str) -> Any:
    """``model.<method>(X)`` on one block; an empty block gives an empty result."""
    if X.shape[0] == 0:
        out = getattr(model, method)(np.zeros((1, X.shape[1]), dtype=X.dtype))
        return out[:0]
    return getattr(model, method)(X)


def _output_columns(model: BaseEstimator, width: int) -> list[Any]:
    """The columns of a 2-D prediction: the classes where there is one per class."""
    classes = getattr(model, "classes_", None)
    return list(classes) if classes is not None and len(classes) == width else list(range(width))


def _labels_of(state: LabelSet | None) -> np.ndarray:
    if state is None:
        raise InputError("y is empty: cannot find the classes of an empty target.")
    return state.labels


@validate_params({"split_every": SPLIT_EVERY}, prefer_skip_nested_validation=True)
def find_classes(y: da.Array, *, split_every: int | None = None) -> np.ndarray:
    """The sorted distinct labels of ``y``, found on the workers in one pass.

    Parameters
    ----------
    y : dask array of shape (n_samples,)
    split_every : int or None, default=None
        Fan-in of the tree that merges the per-partition label sets; None uses dask's
        ``split_every`` setting if set, else 8.

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
    labels = reduce_partitions(
        find_labels_partition,
        y,
        finalize=_labels_of,
        stage="classes",
        split_every=split_every,
    )
    return np.asarray(labels)


def _frame_labels(partition: Any, rows: slice, block_id: tuple[int, ...]) -> LabelSet | None:
    """The ``classes-block`` task on a pandas Series: its distinct labels (and, kept by
    :func:`~daskpar._graph.reduce_frame_partitions`, its row count)."""
    return find_labels_partition(partition.to_numpy(), (rows,), block_id)


def frame_classes_and_lengths(
    X: Any, y: Any, *, split_every: int | None
) -> tuple[np.ndarray | None, tuple[int, ...] | None]:
    """For a classifier on a dask DataFrame ``X`` and Series ``y`` whose partitions' row
    counts dask does not know (a CSV, a frame built by ``map_partitions``): the classes and
    those row counts, from one pass over ``y``'s partitions, so that no other pass counts the
    rows. ``(None, None)`` for any other input, whose row counts need no pass of their own
    (Parquet metadata) or are not a frame's.
    """
    if (
        not (is_dask_table(X) and is_dask_table(y))
        or getattr(y, "ndim", None) != 1
        or X.npartitions != y.npartitions
        or known_partition_lengths(X) is not None
    ):
        return None, None
    check_numeric_columns(X, name="X")  # refused before the pass, as check_X would
    y = numeric_table(y, name="y")
    check_label_dtype(y)
    labels, lengths = reduce_frame_partitions(
        _frame_labels, y, finalize=_labels_of, stage="classes", split_every=split_every
    )
    return np.asarray(labels), lengths


def estimator_has(
    attr: str, *, delegates: Sequence[str] = ("estimator_", "estimator")
) -> Callable[[Any], bool]:
    """For ``available_if``: whether a meta-estimator's wrapped estimator has ``attr``.

    The first of ``delegates`` that the meta-estimator has is asked (else the last): its
    fitted estimator once fitted, else the one it was given, as scikit-learn's do.
    """

    def check(self: Any) -> bool:
        delegate = next((name for name in delegates if hasattr(self, name)), delegates[-1])
        return hasattr(getattr(self, delegate), attr)

    return check


@dataclass(frozen=True, eq=False)
class _FitInput:
    """One fit's checked arrays and scorer."""

    X: da.Array
    y: da.Array
    sample_weight: da.Array | None
    validation: tuple[da.Array, da.Array] | None  # validation_data=(X_val, y_val)
    scorer: Scorer
    #: The classes, where the pass that learned a dask DataFrame's row counts found them.
    classes: np.ndarray | None = None

    @property
    def aligned_validation(self) -> tuple[da.Array, da.Array] | None:
        """``validation_data`` with as many row blocks as ``X``, as ``train_test_split`` gives:
        read in the same task as X's block (one read of a stored block per epoch)."""
        if self.validation is None or self.validation[0].numblocks[0] != self.X.numblocks[0]:
            return None
        return self.validation


class _ValidationTracker:
    """The best validation score so far, and whether it is time to stop early (one fit)."""

    def __init__(self, tol: float, n_iter_no_change: int, early_stopping: bool) -> None:
        self.tol, self.patience, self.early_stopping = tol, n_iter_no_change, early_stopping
        self.best_score, self.best_epoch, self.best_model = -np.inf, 0, None
        self.no_change = 0

    def record(self, record: dict[str, Any], score: float, model: BaseEstimator) -> bool:
        """Record ``score`` of ``model`` (``record``'s epoch); True when it is time to stop."""
        record["validation_score"] = score
        if self.best_model is None or score > self.best_score + self.tol:
            self.best_score, self.best_epoch, self.best_model = score, record["epoch"], model
            self.no_change = 0
        else:
            self.no_change += 1
        return bool(self.early_stopping) and self.no_change >= self.patience


class _Epochs(EpochDriver):
    """The passes of one ``ParallelIncremental.fit``, for :func:`run_epochs`: one model that
    trains every epoch until early stopping, scored on the held-out blocks or rows."""

    def __init__(
        self,
        owner: ParallelIncremental,
        plan: PassPlan,
        data: _FitInput,
        tracker: _ValidationTracker,
        model: BaseEstimator,
        n_epochs: int,
    ) -> None:
        self.owner, self.plan, self.data, self.tracker = owner, plan, data, tracker
        self.model, self.n_epochs = model, n_epochs
        self.last_record: dict[str, Any] | None = None
        self.history: list[dict[str, Any]] = []  # run_epochs' records of the passes done
        self.checkpoint: Checkpoint | None = None
        # With a checkpoint, what the next pass does with the blocks' digests (record them,
        # or check the blocks against them): the first pass only.
        self.data_check = FirstPassCheck()
        self.start, self.scored, self.stopped = 0, frozenset[int](), False
        train_blocks = plan.folds[0][0]
        self.n_samples = int(sum(data.X.chunks[0][i] for i in train_blocks))
        self.n_partitions = len(train_blocks)

    def run(
        self, epoch: int, train: frozenset[int], score: frozenset[int]
    ) -> list[ModelUpdate | None]:
        result = run_pass(
            self.data.X,
            self.data.y,
            self.data.sample_weight,
            self.data.aligned_validation,
            plan=self.plan,
            models=[self.model],
            scalers={},
            epoch=epoch,
            train=train,
            score=score,
            split_every=self.owner.split_every,
            stage="fit",
            check=self.data_check.take(),
        )
        return self.data_check.keep(result)

    def finish(self) -> None:
        """Check the blocks against the checkpoint's digests if no pass has (a finished run's
        rerun): one read of every block, before its model is returned."""
        data = self.data
        self.data_check.finish(
            data.X,
            data.y,
            data.sample_weight,
            data.aligned_validation,
            split_every=self.owner.split_every,
        )

    def after_pass(
        self,
        epoch: int,
        train: frozenset[int],
        scored: frozenset[int],
        updates: list[ModelUpdate | None],
        record: dict[str, Any],
    ) -> tuple[frozenset[int], bool]:
        """Score the previous model (read with this pass), take the next; stop early?"""
        (update,) = updates
        assert update is not None
        assert update.model is not None  # the one model trains in every pass
        stop = False
        if update.scores is not None and self.last_record is not None:
            score = update.scores[0].unwrap(stacklevel=5)
            stop = self.tracker.record(self.last_record, score, self.model)
        self.model = update.model
        record.update(n_samples=self.n_samples, n_partitions=self.n_partitions)
        if self.data.validation is not None and self.data.aligned_validation is None:
            X_val, y_val = self.data.validation
            score = self.owner._score_model(
                self.model, X_val, y_val, self.data.scorer, names=VALIDATION_NAMES
            )
            stop = self.tracker.record(record, score, self.model)
        self.last_record = record
        # Held-out blocks (or rows) score this model in the next pass, if there is one.
        more = epoch + 1 < self.n_epochs and not stop and bool(self.plan.folds[0][1])
        return (frozenset({0}) if more else frozenset()), stop

    def to_train(self, epoch: int) -> frozenset[int]:
        return frozenset() if self.stopped else frozenset({0})

    def write_checkpoint(
        self, start: int, scored: frozenset[int], stopped: bool, history: list[dict[str, Any]]
    ) -> None:
        """Write where the fit is, to resume from at epoch ``start`` (with a checkpoint)."""
        if self.checkpoint is None:
            return
        tracker = self.tracker
        state = {
            "epoch": start,
            "scored": sorted(scored),
            "stopped": bool(stopped),
            "history": records(history),
            "base_seed": self.plan.base_seeds[0],
            # The blocks held out of training (none with row-aligned validation data).
            "validation_blocks": sorted(
                set(range(len(self.plan.positions or ()))) - self.plan.folds[0][0]
            ),
            "best_score": float(tracker.best_score),
            "best_epoch": int(tracker.best_epoch),
            "no_change": int(tracker.no_change),
        }
        objects = {
            "model": self.model,
            "best_model": tracker.best_model,
            "classes": self.plan.classes,
        }
        self.checkpoint.save(state, objects)

    def restore(self, saved: dict[str, Any]) -> None:
        """Go on from a checkpoint's state, as :meth:`write_checkpoint` wrote it."""
        objects = saved["objects"]
        self.model = objects["model"]
        self.history[:] = saved["history"]
        self.last_record = self.history[-1] if self.history else None
        self.start, self.scored = saved["epoch"], frozenset(saved["scored"])
        self.stopped = saved["stopped"]
        tracker = self.tracker
        tracker.best_score, tracker.best_epoch = saved["best_score"], saved["best_epoch"]
        tracker.best_model, tracker.no_change = objects["best_model"], saved["no_change"]


class ParallelIncremental(SaveMixin, MetaEstimatorMixin, BaseEstimator):
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
    split_every : int or None, default=None
        Fan-in of the tree that merges partition states (at least 2); None uses dask's
        ``split_every`` setting if set, else 8.
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
    checkpoint : str or path-like, default=None
        A folder where ``fit`` writes its state after every epoch (one file, replaced
        atomically: a temporary file, then a rename). If the client dies (``kill -9``, a
        kernel restart), calling ``fit`` again with the same parameters on the same data
        resumes after the last epoch written and ends with the same model as an uninterrupted
        run. A checkpoint made by other parameters or from data of another shape, chunking
        or dtype is refused before any task, with a message saying which, and a folder that
        holds something else is never written into. The data's content is known by a digest
        of every block (X, y, ``sample_weight``, and the validation rows read with the
        block), taken in the first epoch by the tasks that read the blocks anyway (no read
        is added; without ``checkpoint`` nothing is hashed), never by dask names, which need
        not change with the content (``from_zarr`` names an array by its path). Resuming
        checks every block against its digest in the first pass, before the block's update
        is merged: a block rewritten since is refused, naming it, its rows and what changed.
        (``validation_data`` with other row blocks than ``X`` is scored by a pass of its
        own, and known by its shape, chunks and dtype only.) The last checkpoint stays when
        ``fit`` ends: fitting again returns its model without training, after one read of
        every block to check its digest. Checkpoints are written as model files are (skops,
        nothing unpickled), and signed when the model key is set (``DASKPAR_MODEL_KEY`` or
        ``DASKPAR_MODEL_KEY_FILE``): a resumed fit then refuses a checkpoint that was edited,
        or signed with another key. Without a key a checkpoint is not authenticated, and
        anyone who can write the folder can change the model a resumed fit starts from. A
        checkpoint file or refit folder that is a symbolic link is refused.
    retries : int, default=None
        On a distributed cluster, let every task fail this many times before its failure
        counts (dask's own task retries): for storage that fails now and then. Tasks are
        pure, so a retried task gives the same bits. Without it, a failed read raises its
        error, which names the partition and its rows. Needs a ``distributed.Client``.

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
        "split_every": SPLIT_EVERY,
        "shuffle": ["boolean"],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
        "scoring": [str, Scorer, None],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither"), None],
        "early_stopping": ["boolean"],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, None, None, closed="neither")],
        "checkpoint": [str, os.PathLike, None],
        "retries": [Interval(Integral, 0, None, closed="left"), None],
    }

    def __init__(
        self,
        estimator: BaseEstimator,
        *,
        epochs: int = 1,
        split_every: int | None = None,
        shuffle: bool = True,
        random_state: int | np.random.RandomState | None = None,
        verbose: int = 0,
        scoring: str | Scorer | None = None,
        validation_fraction: float | None = None,
        early_stopping: bool = False,
        n_iter_no_change: int = 5,
        tol: float = 1e-4,
        checkpoint: str | os.PathLike[str] | None = None,
        retries: int | None = None,
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
        self.checkpoint = checkpoint
        self.retries = retries

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
            ``validation_fraction``. When ``X_val`` has as many row blocks as ``X`` (as
            :func:`daskpar.train_test_split` gives), block ``i`` of both is read in the same
            task: each epoch reads a stored block once, trains on its training rows and scores
            the epoch's starting model on its validation rows, and one last read scores the
            final model. The score of epoch ``k`` then arrives with pass ``k + 1``, so early
            stopping decides one epoch later, as with ``validation_fraction``. Otherwise each
            epoch's model is scored by a pass of its own over ``X_val``.
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
        with (
            audit.operation("fit", estimator=self, X=X, y=y) as record,
            task_retries(self.retries),
        ):
            self._fit(X, y, classes, validation_data, sample_weight)
            score = self.history_[-1].get("validation_score") if self.history_ else None
            if score is not None:
                record.metrics["validation_score"] = float(score)
        return self

    def _fit(self, X: Any, y: Any, classes: Any, validation_data: Any, sample_weight: Any) -> None:
        validate_estimator_params(self)
        data = self._checked_input(X, y, sample_weight, validation_data, classes)
        checkpoint, saved = None, None
        if self.checkpoint is not None:
            validation = data.validation or (None, None)
            checkpoint = Checkpoint.of(
                self.checkpoint, self, data.X, data.y, data.sample_weight, *validation
            )
            saved = checkpoint.load()
        rng = check_random_state(self.random_state)
        if checkpoint is not None and saved is not None:
            if classes is not None and not np.array_equal(
                np.unique(np.asarray(classes)), saved["objects"]["classes"]
            ):
                raise checkpoint.refused("other classes than classes= gives now")
            classes = saved["objects"]["classes"]
        else:
            classes = (
                data.classes if data.classes is not None else self._resolve_classes(data.y, classes)
            )
        plan = self._plan(data, classes, rng, saved)
        tracker = _ValidationTracker(self.tol, self.n_iter_no_change, self.early_stopping)
        model = clone(self.estimator)
        if hasattr(model, "shuffle"):
            model.set_params(shuffle=self.shuffle)
        n_epochs = 1 if plan.families[0].exact else self.epochs
        epochs = _Epochs(self, plan, data, tracker, model, n_epochs)
        epochs.checkpoint = checkpoint
        if checkpoint is not None:
            epochs.data_check = FirstPassCheck(checkpoint.data_check(), checkpoint.record)
        try:
            self.history_ = run_epochs(epochs, n_epochs=n_epochs, verbose=self.verbose, saved=saved)
        except DivergenceError as error:
            if epochs.last_record is None:
                raise
            # Keep a finite model, as a fit that stopped there: with early stopping the best
            # so far (as early stopping would), else the last epoch's.
            self.history_ = epochs.history
            kept, which = epochs.model, f"{epochs.last_record['epoch']}, the last finite one"
            if self.early_stopping and tracker.best_model is not None:
                kept = tracker.best_model
                self.best_epoch_: int = tracker.best_epoch
                which = f"{tracker.best_epoch}, the best validated one"
            self._set_fitted(kept, data.X, plan.classes)
            raise DivergenceError(
                f"{error} {type(self).__name__}.estimator_ is the model of epoch {which}."
            ) from None
        model = epochs.model
        validation_blocks = plan.folds[0][1]
        if validation_blocks:
            # The last model has not met the validation blocks yet: one read of those blocks.
            index = sorted(validation_blocks)
            if data.aligned_validation is not None:
                score = self._score_model(
                    model, *data.aligned_validation, data.scorer, names=VALIDATION_NAMES
                )
            else:
                weights = None if data.sample_weight is None else data.sample_weight.blocks[index]
                score = self._score_model(
                    model, data.X.blocks[index], data.y.blocks[index], data.scorer, weights
                )
            tracker.record(self.history_[-1], score, model)
            if data.aligned_validation is None:
                self.validation_blocks_ = index
        if self.early_stopping:
            self.best_epoch_, model = tracker.best_epoch, tracker.best_model
        self._set_fitted(model, data.X, plan.classes)

    def _checked_input(
        self, X: Any, y: Any, sample_weight: Any, validation_data: Any, classes: Any = None
    ) -> _FitInput:
        """The fit's arrays checked, its scorer, and refusals that need no task."""
        scorer = self._scorer()
        if validation_data is not None or self.validation_fraction is not None:
            check_scorer_applies(scorer, self.estimator)
        regression = not is_classifier(self.estimator)
        found, lengths = None, None
        if not regression and classes is None:
            match_feature_names(self, X, reset=True)  # names are refused before any task
            found, lengths = frame_classes_and_lengths(X, y, split_every=self.split_every)
        X, y = check_X_y(X, y, y_numeric=regression, estimator=self, reset=True, lengths=lengths)
        check_sparse_support(self.estimator, X, owner=type(self).__name__)
        sample_weight = check_sample_weight(sample_weight, X)
        if sample_weight is not None and not has_partial_fit_parameter(
            self.estimator, "sample_weight"
        ):
            raise InputError(
                f"{type(self.estimator).__name__}.partial_fit takes no sample_weight, so "
                "ParallelIncremental cannot weigh its samples. Fit without sample_weight, or "
                "choose an estimator that takes it (SGDClassifier, SGDRegressor, naive Bayes)."
            )
        validation = None
        if validation_data is not None:
            if self.validation_fraction is not None:
                raise InputError(
                    "Pass either validation_data to fit or validation_fraction to "
                    f"{type(self).__name__}, not both."
                )
            if not isinstance(validation_data, tuple | list) or len(validation_data) != 2:
                raise InputError("validation_data must be a pair (X_val, y_val).")
            validation = check_X_y(
                *validation_data, n_features=X.shape[1], y_numeric=regression, estimator=self
            )
        elif self.early_stopping and self.validation_fraction is None:
            raise InputError(
                "early_stopping=True needs validation data: set validation_fraction (whole "
                "blocks of X are held out) or pass validation_data=(X_val, y_val) to fit."
            )
        # Small blocks merged up to daskpar.target-block-bytes; validation blocks read beside
        # them (as many blocks as X) in the same groups.
        before = X.numblocks[0]
        # validation_fraction holds out whole blocks: leave enough of them.
        fraction = self.validation_fraction
        at_least = MIN_BLOCKS if fraction is None else max(MIN_BLOCKS, math.ceil(1 / fraction))
        X, y, sample_weight, *pair = coalesce_blocks(
            X, y, sample_weight, *(validation or ()), min_blocks=at_least
        )
        validation = (pair[0], pair[1]) if pair else None
        if self.verbose and X.numblocks[0] < before:
            print(
                f"{type(self).__name__}: {describe(before, X.numblocks[0], target_block_bytes())}"
                f" ({TARGET_KEY!r})",
                file=sys.stderr,
            )
        warn_if_tiny_partitions(X.chunks[0], type(self).__name__, MERGE_PARTITIONS)
        return _FitInput(X, y, sample_weight, validation, scorer, found)

    def _plan(
        self,
        data: _FitInput,
        classes: np.ndarray | None,
        rng: np.random.RandomState,
        saved: dict[str, Any] | None = None,
    ) -> PassPlan:
        """The one-model pass: train on every block but those held out for validation (with
        a checkpoint's seed and validation blocks when resuming)."""
        base_seed = int(rng.randint(np.iinfo(np.int32).max))
        validation_blocks = self._validation_blocks(data.X, rng)
        if saved is not None:
            base_seed = saved["base_seed"]
            validation_blocks = frozenset(saved["validation_blocks"])
        train_blocks = frozenset(range(data.X.numblocks[0])) - validation_blocks
        starts = None
        if data.aligned_validation is not None:
            # Every block has validation rows beside it, read in the same task.
            validation_blocks = frozenset(range(data.X.numblocks[0]))
            chunks = data.aligned_validation[0].chunks[0]
            starts = tuple(int(s) for s in np.cumsum((0, *chunks[:-1])))
        return PassPlan(
            models=(ModelSpec(candidate=0, fold=0, config=0),),
            folds=((train_blocks, validation_blocks),),
            families=(family_for(self.estimator),),
            base_seeds=(base_seed,),
            classes=classes,
            scorers=(data.scorer,),
            validation_starts=starts,
            positions=seed_positions(data.X.chunks[0]),
        )

    def _set_fitted(self, model: BaseEstimator, X: da.Array, classes: np.ndarray | None) -> None:
        if hasattr(model, "shuffle"):
            model.set_params(shuffle=self.estimator.get_params()["shuffle"])
        self.estimator_ = model
        self.n_features_in_ = int(X.shape[1])
        if classes is not None:
            self.classes_ = classes

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

    # ----------------------------------------------------------------------------------------
    # prediction and scoring

    def _predict(self, X: Any, method: str) -> Any:
        check_is_fitted(self, "estimator_")
        X = match_feature_names(self, X, reset=False)
        if not isinstance(X, da.Array) and not is_dask_table(X):
            refuse_text(X, "X")
            return getattr(self.estimator_, method)(table_values(X))
        if is_dask_table(X) and column_names(X) is not None:
            return self._predict_frame(X, method)
        X = check_X(X, n_features=self.n_features_in_)
        est = self.estimator_
        # One probe row tells the output's dtype and width.
        probe = np.asarray(getattr(est, method)(np.zeros((1, X.shape[1]), dtype=X.dtype)))
        stage, token = stage_name(PREDICT_STAGES[method]), tokenize(est, X, method)
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

    def _predict_frame(self, X: Any, method: str) -> Any:
        """``method`` of a dask DataFrame, lazily: a dask Series (or DataFrame, a column per
        class) with the frame's partitions and index; no row count is needed."""
        est = self.estimator_
        return frame_predictions(
            X,
            partial(predict_partition, model=est, method=method),
            n_features=self.n_features_in_,
            name=f"{stage_name(PREDICT_STAGES[method])}-{tokenize(est, X, method)}",
            columns=partial(_output_columns, est),
        )

    def predict(self, X: Any) -> Any:
        """Predict with the fitted estimator: lazy for dask input (a dask Series, indexed as
        the rows, for a dask DataFrame; a dask array for a dask array), else numpy."""
        return self._predict(X, "predict")

    @available_if(estimator_has("predict_proba"))
    def predict_proba(self, X: Any) -> Any:
        """Class probabilities, shape (n_samples, n_classes); lazy for dask input."""
        return self._predict(X, "predict_proba")

    @available_if(estimator_has("predict_log_proba"))
    def predict_log_proba(self, X: Any) -> Any:
        """Log class probabilities; lazy for dask input."""
        return self._predict(X, "predict_log_proba")

    @available_if(estimator_has("decision_function"))
    def decision_function(self, X: Any) -> Any:
        """Confidence scores; lazy for dask input."""
        return self._predict(X, "decision_function")

    def score(self, X: Any, y: Any, sample_weight: Any = None) -> float:
        """The ``scoring`` metric (by default accuracy or R²), reduced on the workers.

        For dask input each partition contributes counts or sums and only those travel; ``X``
        and ``y`` are never gathered. In-memory input is scored in this process.
        """
        check_is_fitted(self, "estimator_")
        X = match_feature_names(self, X, reset=False)
        in_memory = not any(isinstance(a, da.Array) or is_dask_table(a) for a in (X, y))
        if in_memory:
            refuse_text(X, "X")
            X = table_values(X)
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
        names: DataNames | None = None,
    ) -> float:
        """``model``'s score on ``X``, ``y`` (one pass); ``names`` says what the caller passed
        them as (``validation_data``), for the messages of the checks of their values."""
        return score_data(
            model,
            X,
            y,
            scorer,
            sample_weight=sample_weight,
            split_every=self.split_every,
            names=names,
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
        tags.input_tags.sparse = inner.input_tags.sparse
        tags.input_tags.allow_nan = False
        return tags
