"""One training pass over the data, and the epoch loop that repeats it.

Every epoch of :class:`~daskpar.ParallelIncremental` (one model) and of the searches (one model
per candidate and fold) is the same pass, one task per block and one read of the block::

    blocks --fit_partition--> StateTuple (a TrialState per model)
           --combine (tree of fan-in split_every)--> one StateTuple
           --update_models--> a ModelUpdate per model: its next model, its scores, its seconds

:class:`PassPlan` says what each block does for each model: train it (``partial_fit`` of the
epoch's starting model, when the block is in the model's training fold), score it (when the
block is in its validation fold), and through which fitted scalers. :func:`run_epochs` is the
one loop around the passes: timing, history, the progress bar and the checkpoint's rhythm; an
:class:`EpochDriver` (one per fit or search) says what each pass trains and decides after each
what to train next (early stopping, halving). A model trained in one pass is scored in the
next, so validation costs no extra read; one last pass only scores.

With a checkpoint, the same tasks also fingerprint what they read (:class:`DataCheck`): the
first pass of a run records a content digest of every block, and the first pass after a
resume checks each block against the digest recorded, inside the task and before its update
is merged. A checkpoint thus knows its data by content, not by dask names, at the cost of
hashing blocks that are read anyway; runs without a checkpoint hash nothing.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import dask.array as da
import numpy as np
from sklearn import config_context
from sklearn.base import BaseEstimator

from ._families import Family
from ._graph import broadcast, reduce_partitions
from ._states import LabelSet, State, StateTuple, TrialState, Weighted
from ._validation import (
    check_finite_block,
    check_training_block,
    describe_partition,
    label_types,
)
from .audit import ContentHash
from .errors import CheckpointError, DivergenceError, InputError, PartitionError
from .metrics import Scorer
from .metrics._base import Evaluation
from .metrics._scorer import DataNames, scorer_partition

__all__ = [
    "VALIDATION_NAMES",
    "DataCheck",
    "EpochDriver",
    "FirstPassCheck",
    "ModelSpec",
    "ModelUpdate",
    "PassPlan",
    "PassResult",
    "ScalerFitPlan",
    "block_digest",
    "check_data",
    "check_partition",
    "find_labels_partition",
    "fit_partition",
    "partition_seed",
    "prepare_partition",
    "prepared_attributes",
    "run_epochs",
    "run_pass",
    "seed_positions",
    "transform_block",
    "update_models",
]


# --------------------------------------------------------------------------------------------
# The plan


@dataclass(frozen=True, eq=False)
class ModelSpec:
    """One model of a pass: a candidate's parameters trained on one fold."""

    candidate: int
    fold: int
    config: int  # which of the distinct scaler settings the candidate uses


@dataclass(frozen=True, eq=False)
class PassPlan:
    """What every block does in every pass of one fit; the same for all its epochs.

    ``folds[k]`` is (training blocks, validation blocks) of fold ``k``; families, seeds and
    the scaler settings are per candidate. ``ParallelIncremental`` is the one-model plan.
    """

    models: tuple[ModelSpec, ...]
    folds: tuple[tuple[frozenset[int], frozenset[int]], ...]
    families: tuple[Family, ...]  # per candidate
    base_seeds: tuple[int, ...]  # per candidate
    classes: np.ndarray | None
    scorers: tuple[Scorer, ...]
    # Record a model's failing fit (scikit-learn's error_score) instead of raising it.
    record_errors: bool = False
    # With validation rows beside every block (row-aligned validation data): the first row
    # of each block of them, for messages. Models then score on those rows, not on X's.
    validation_starts: tuple[int, ...] | None = None
    # Each block's position among the non-empty blocks (seed_positions), which seeds its
    # partial_fit: an empty block (rows filtered out) then shifts no other block's seed.
    # None: the block index.
    positions: tuple[int, ...] | None = None


#: What a fit's validation rows are called in messages: what the caller passed them as.
VALIDATION_NAMES = DataNames("validation_data's X", "validation_data's y")


def seed_positions(row_chunks: Sequence[int]) -> tuple[int, ...]:
    """Each block's position among the non-empty ones (an empty block gets its neighbour's)."""
    return tuple(int(p) for p in np.cumsum([n > 0 for n in row_chunks]) - 1)


def partition_seed(base_seed: int, epoch: int, block: int) -> int:
    """A seed that depends only on the fit's seed, the epoch and the partition index."""
    return int(np.random.SeedSequence([base_seed, epoch, block]).generate_state(1)[0] >> 1)


def transform_block(X: np.ndarray, steps: Sequence[Any]) -> np.ndarray:
    """``X`` through the fitted (in-memory) transformers ``steps``, in order."""
    for step in steps:
        X = step.transform(X)
    return X


# --------------------------------------------------------------------------------------------
# The data's fingerprint, for checkpoints

#: What each array a task reads is called in a checkpoint's digests, and in its messages.
DIGESTED = {
    "X": "X",
    "y": "y",
    "sample_weight": "sample weights",
    "X_val": "validation rows (X_val)",
    "y_val": "validation rows (y_val)",
}


def block_digest(a: np.ndarray) -> str:
    """The content digest of one block of an array: its :class:`~daskpar.audit.ContentHash`,
    the audit log's hash of the rows' bytes and order (32 hexadecimal digits, 124 bits).

    It detects accidental change (an edited value, rows moved), not a forgery. On a block of
    20,000 x 100 float32 it takes 8 ms, zlib's CRC-32 and Adler-32 together (64 bits) 7 ms
    and SHA-256 11 ms: a second algorithm would save little.
    """
    return ContentHash.of(a).hexdigest()


@dataclass(frozen=True, eq=False)
class DataCheck:
    """A checkpoint's fingerprint of the data, taken by the tasks of one pass.

    With ``expected`` None the pass records: every task digests the arrays it read
    (:func:`block_digest` of X, y, and the sample weights and validation rows when given) and
    returns them, and the digests reach the client merged by union (a :class:`LabelSet` of
    ``"<block>:<array>:<digest>"`` byte strings: about 50 bytes per array and block, so
    O(number of blocks), whatever the rows). With ``expected`` (one mapping array -> digest
    per block, as recorded) every task digests its arrays again and raises a
    :class:`CheckpointError` naming the block and what changed, before anything of the block
    is merged. ``folder`` is the checkpoint's, for the message.
    """

    folder: str
    expected: tuple[Mapping[str, str], ...] | None = None

    def digests(
        self, arrays: Mapping[str, np.ndarray | None], rows: slice, block: int
    ) -> LabelSet | None:
        """Digest one block's ``arrays`` (those not None): recorded, or checked."""
        found = {name: block_digest(a) for name, a in arrays.items() if a is not None}
        if self.expected is None:
            entries = [f"{block}:{name}:{d}".encode() for name, d in found.items()]
            return LabelSet(np.array(entries, dtype=np.bytes_))  # a byte a character
        recorded = self.expected[block]
        changed = [name for name in DIGESTED if found.get(name) != recorded.get(name)]
        if changed:
            raise CheckpointError(
                f"The checkpoint in {self.folder!r} was made from other data: "
                f"{describe_partition(rows, block)} has other "
                f"{' and '.join(DIGESTED[name] for name in changed)} than when the checkpoint "
                "was written (the content fingerprints of the block differ). A checkpoint "
                "resumes only the run that made it, on the same data. Delete "
                f"{self.folder!r} (or pass another checkpoint folder) to start over."
            )
        return None

    @staticmethod
    def decoded(digests: LabelSet) -> dict[int, dict[str, str]]:
        """The digests recorded by a pass, by block: ``{block: {array: digest}}``."""
        out: dict[int, dict[str, str]] = {}
        for entry in digests.labels.tolist():
            block, name, digest = entry.decode().split(":", 2)
            out.setdefault(int(block), {})[name] = digest
        return out


def check_partition(
    X: np.ndarray,
    y: np.ndarray,
    sample_weight: np.ndarray | None,
    X_val: np.ndarray | None,
    y_val: np.ndarray | None,
    rows: tuple[slice, ...],
    block_id: tuple[int, ...],
    *,
    check: DataCheck,
) -> None:
    """One block checked against a checkpoint's digests, and nothing else (``verify-block``)."""
    arrays = {"X": X, "y": y, "sample_weight": sample_weight, "X_val": X_val, "y_val": y_val}
    check.digests(arrays, rows[0], block_id[0])


def _checked_all(state: None) -> None:
    """The root of :func:`check_data`: every block passed its check."""


class FirstPassCheck:
    """A checkpointed run's data check, shared by the epoch drivers: handed to the run's
    first pass only (:meth:`take`), whose recorded digests go to ``record`` (:meth:`keep`);
    when no pass runs (a finished run's rerun), :meth:`finish` checks the blocks with one
    read. Without a checkpoint (``check`` None) it does nothing."""

    def __init__(
        self,
        check: DataCheck | None = None,
        record: Callable[[dict[int, dict[str, str]]], None] | None = None,
    ) -> None:
        self.check = check
        self.record = record

    def take(self) -> DataCheck | None:
        """The check for this pass: the first pass gets it, later passes None."""
        check, self.check = self.check, None
        return check

    def keep(self, result: PassResult) -> list[ModelUpdate | None]:
        """The pass's updates, its recorded digests (if any) handed to ``record``."""
        if result.digests is not None:
            assert self.record is not None  # only a checkpoint asks for digests
            self.record(result.digests)
        return result.updates

    def finish(
        self,
        X: da.Array,
        y: da.Array,
        sample_weight: da.Array | None,
        validation: tuple[da.Array, da.Array] | None,
        *,
        split_every: int | None,
    ) -> None:
        """Check the blocks against the checkpoint's digests if no pass has."""
        check = self.take()
        if check is not None and check.expected is not None:
            check_data(X, y, sample_weight, validation, check=check, split_every=split_every)


def check_data(
    X: da.Array,
    y: da.Array,
    sample_weight: da.Array | None,
    validation: tuple[da.Array, da.Array] | None,
    *,
    check: DataCheck,
    split_every: int | None,
) -> None:
    """One read of every block to check it against a checkpoint (stages ``verify-*``): what
    the rerun of a finished run does before it returns the checkpoint's model, since no
    training pass is left to check the blocks in."""
    reduce_partitions(
        check_partition,
        X,
        y,
        sample_weight,
        *(validation if validation is not None else (None, None)),
        finalize=_checked_all,
        stage="verify",
        split_every=split_every,
        task_kwargs={"check": broadcast(check, "data-check")},
    )


# --------------------------------------------------------------------------------------------
# The task body and the update


def _checked_already(epoch: int) -> Any:
    """scikit-learn settings for a block daskpar has checked: skip its checks of the same.

    The values were checked for finiteness by the task, and the estimator's parameters by
    the first epoch's ``partial_fit``; repeating both per model and block costs about a
    tenth of a search's time.
    """
    return config_context(assume_finite=True, skip_parameter_validation=epoch > 0)


def fit_partition(
    X: np.ndarray,
    y: np.ndarray,
    sample_weight: np.ndarray | None,
    X_val: np.ndarray | None,
    y_val: np.ndarray | None,
    rows: tuple[slice, ...],
    block_id: tuple[int, ...],
    *,
    plan: PassPlan,
    models: Sequence[BaseEstimator | None],
    scalers: Mapping[tuple[int, int], Sequence[Any]],
    epoch: int,
    train: frozenset[int],
    score: frozenset[int],
    check: DataCheck | None = None,
) -> StateTuple:
    """One block's share of a pass, from one read of the block (the ``fit-block`` and
    ``search-block`` tasks): a TrialState per model, and the block's digests.

    Every model in ``train`` whose fold trains on this block runs ``partial_fit`` on it;
    every model in ``score`` whose fold validates on it scores its current model, on the
    block's validation rows ``X_val``, ``y_val`` when the plan has them (validation data
    split from the same blocks, so that they are read in the same task), else on the block.
    The block is checked once for all models, and scaled once per (scaler setting, fold).
    With a ``check`` (a checkpoint's first pass), the arrays read are digested first,
    recorded or checked against the checkpoint's (:class:`DataCheck`). Returns
    ``StateTuple((models, digests))``: a StateTuple of the models' states, and the digests
    (None without a check, or when checking).
    """
    digests = None
    if check is not None:
        arrays = {"X": X, "y": y, "sample_weight": sample_weight, "X_val": X_val, "y_val": y_val}
        digests = check.digests(arrays, rows[0], block_id[0])
    return StateTuple(
        (
            _fit_models(
                X,
                y,
                sample_weight,
                X_val,
                y_val,
                rows,
                block_id,
                plan=plan,
                models=models,
                scalers=scalers,
                epoch=epoch,
                train=train,
                score=score,
            ),
            digests,
        )
    )


def _fit_models(
    X: np.ndarray,
    y: np.ndarray,
    sample_weight: np.ndarray | None,
    X_val: np.ndarray | None,
    y_val: np.ndarray | None,
    rows: tuple[slice, ...],
    block_id: tuple[int, ...],
    *,
    plan: PassPlan,
    models: Sequence[BaseEstimator | None],
    scalers: Mapping[tuple[int, int], Sequence[Any]],
    epoch: int,
    train: frozenset[int],
    score: frozenset[int],
) -> StateTuple:
    """The models' share of :func:`fit_partition`: a TrialState per model (None: untouched)."""
    block = block_id[0]
    groups: dict[tuple[int, int], list[tuple[int, bool, bool]]] = {}
    for j in sorted(train | score):
        spec = plan.models[j]
        train_blocks, test_blocks = plan.folds[spec.fold]
        fits, scores = j in train and block in train_blocks, j in score and block in test_blocks
        if fits or scores:
            groups.setdefault((spec.config, spec.fold), []).append((j, fits, scores))
    items: list[TrialState | None] = [None] * len(plan.models)
    n_val = 0 if X_val is None else X_val.shape[0]
    if not groups or X.shape[0] + n_val == 0:
        return StateTuple(tuple(items))
    check_training_block(X, y, sample_weight, rows[0], block, classes=plan.classes)
    scored_on = (X, y, sample_weight, rows)
    if X_val is not None and y_val is not None and plan.validation_starts is not None:
        first = plan.validation_starts[block]
        scored_on = (X_val, y_val, None, (slice(first, first + n_val),))
        # Scored, not trained on: finite values, named as what the caller passed.
        val_rows = scored_on[3][0]
        check_finite_block(X_val, VALIDATION_NAMES.X, val_rows, block)
        check_finite_block(y_val, VALIDATION_NAMES.y, val_rows, block)
    # Rows of weight zero teach nothing (scikit-learn refuses a call with only those), but
    # may count (SGD's steps): such a block gives the family's zero-weight state.
    learns = sample_weight is None or bool(np.any(sample_weight))
    for key, group in groups.items():
        Xt = transform_block(X, scalers.get(key, ()))
        X_score, y_score, w_score, score_rows = scored_on
        # The validation rows go through the same fitted scalers as the block.
        X_score = Xt if X_score is X else transform_block(X_score, scalers.get(key, ()))
        for j, fits, scores in group:
            start = time.perf_counter()
            fit_state = None
            if fits and X.shape[0]:
                try:
                    try:
                        fit_state = _fit_block(
                            plan, models[j], j, Xt, y, sample_weight, epoch, block, learns
                        )
                    except (ValueError, FloatingPointError) as error:
                        diverged = _diverged(error, epoch, rows[0], block)
                        if diverged is error:
                            raise
                        raise diverged from error
                except PartitionError:
                    raise  # bad data fails every model alike
                except Exception as error:
                    if not plan.record_errors:
                        raise
                    where = describe_partition(rows[0], block)
                    items[j] = TrialState(error=f"{type(error).__name__} in {where}: {error}")
                    continue
            middle = time.perf_counter()
            score_states = None
            if scores and X_score.shape[0]:
                score_states = StateTuple(
                    tuple(
                        scorer_partition(
                            X_score,
                            y_score,
                            w_score,
                            score_rows,
                            block_id,
                            scorer=s,
                            model=models[j],
                        )
                        for s in plan.scorers
                    )
                )
            items[j] = TrialState(
                fit_state, score_states, middle - start, time.perf_counter() - middle
            )
    return StateTuple(tuple(items))


#: How one partition's ``partial_fit`` says that it overflowed (scikit-learn's SGD).
_OVERFLOW_MESSAGES = ("under-/overflow", "overflow encountered")
#: What to do about a model that diverges.
DIVERGENCE_ADVICE = (
    "Scale the features first (daskpar.StandardScaler), or lower the learning rate (a smaller "
    "eta0, or a larger alpha with learning_rate='optimal'); daskpar.AdaptiveSGDClassifier "
    "needs neither."
)


def _diverged(error: Exception, epoch: int, rows: slice, block: int) -> Exception:
    """A :class:`DivergenceError` for ``partial_fit``'s overflow on a block, else ``error``."""
    if not any(m in str(error) for m in _OVERFLOW_MESSAGES):
        return error
    return DivergenceError(
        f"The model diverged in epoch {epoch + 1}: partial_fit on "
        f"{describe_partition(rows, block)} gave parameters that are NaN or infinite "
        f"({error}). {DIVERGENCE_ADVICE}"
    )


def non_finite_parameters(model: BaseEstimator) -> list[str]:
    """The names of ``model``'s learnt parameters (``coef_``, ``intercept_``) that hold NaN or
    infinity."""
    return [
        name
        for name in ("coef_", "intercept_")
        if name in vars(model) and not np.all(np.isfinite(getattr(model, name)))
    ]


def _fit_block(
    plan: PassPlan,
    model: BaseEstimator | None,
    j: int,
    X: np.ndarray,
    y: np.ndarray,
    sample_weight: np.ndarray | None,
    epoch: int,
    block: int,
    learns: bool,
) -> Weighted[State] | None:
    """The state of model ``j`` after ``partial_fit`` on this block (seeded by its position
    among the non-empty blocks), and whether it learned: a block whose sample weights are
    all zero (``learns`` false) gives its family's :meth:`~Family.zero_weight_state` (None:
    nothing), so that the merged state knows whether any block taught the model."""
    candidate = plan.models[j].candidate
    family = plan.families[candidate]
    if not learns:
        assert sample_weight is not None  # only weights can teach nothing
        state = family.zero_weight_state(
            model, X, y, classes=plan.classes, sample_weight=sample_weight
        )
        return None if state is None else Weighted(state, any_weight=False)
    position = block if plan.positions is None else plan.positions[block]
    seed = partition_seed(plan.base_seeds[candidate], epoch, position)
    with _checked_already(epoch):
        state = family.partition_state(
            model, X, y, classes=plan.classes, seed=seed, sample_weight=sample_weight
        )
    return Weighted(state, any_weight=True)


@dataclass(frozen=True, eq=False)
class ModelUpdate:
    """What one pass did for one model.

    ``model`` is the next model (``None`` if the model did not train); ``scores`` the scores
    of the pass's starting model on its validation blocks (``None`` if it was not scored);
    the seconds are what the tasks spent fitting and scoring it; ``error`` says why its fit
    failed, when the plan records errors.
    """

    model: BaseEstimator | None = None
    scores: tuple[Evaluation[float], ...] | None = None
    fit_seconds: float = 0.0
    score_seconds: float = 0.0
    error: str | None = None


@dataclass(frozen=True, eq=False)
class PassResult:
    """What one pass gives the client: a :class:`ModelUpdate` per model of the pass (``None``
    for the others), and the blocks' digests when the pass recorded them (:class:`DataCheck`)."""

    updates: list[ModelUpdate | None]
    digests: dict[int, dict[str, str]] | None = None


def update_models(
    state: StateTuple | None,
    *,
    plan: PassPlan,
    models: Sequence[BaseEstimator | None],
    epoch: int,
    train: frozenset[int],
    score: frozenset[int],
) -> PassResult:
    """The root of the pass (``fit-final``): the models' updates, and the digests recorded."""
    models_state, digests = (None, None) if state is None else state.items
    return PassResult(
        _updates(models_state, plan=plan, models=models, epoch=epoch, train=train, score=score),
        None if digests is None else DataCheck.decoded(digests),
    )


def _updates(
    state: StateTuple | None,
    *,
    plan: PassPlan,
    models: Sequence[BaseEstimator | None],
    epoch: int,
    train: frozenset[int],
    score: frozenset[int],
) -> list[ModelUpdate | None]:
    """A :class:`ModelUpdate` per model of the pass, ``None`` for others."""
    items = state.items if state is not None else (None,) * len(plan.models)
    out: list[ModelUpdate | None] = []
    for j, item in enumerate(items):
        if j not in train and j not in score:
            out.append(None)
            continue
        item = item if item is not None else TrialState()
        if item.error is not None:
            out.append(ModelUpdate(None, None, item.fit_seconds, item.score_seconds, item.error))
            continue
        spec = plan.models[j]
        model = None
        if j in train:
            if item.fit is None or not item.fit.any_weight:
                raise InputError(
                    "Every partition of the training data is empty, or has sample weights "
                    "that sum to zero; there is nothing to fit."
                )
            family = plan.families[spec.candidate]
            model = family.finalize(item.fit.state, models[j], classes=plan.classes, epoch=epoch)
            bad = [] if family.exact else non_finite_parameters(model)
            if bad:
                message = (
                    f"The model diverged in epoch {epoch + 1}: after merging the partitions' "
                    f"models, its {' and '.join(bad)} {'hold' if len(bad) > 1 else 'holds'} "
                    f"NaN or infinity. {DIVERGENCE_ADVICE}"
                )
                if not plan.record_errors:
                    raise DivergenceError(message)
                out.append(ModelUpdate(None, None, item.fit_seconds, item.score_seconds, message))
                continue
        evaluations = None
        if j in score:
            if item.scores is None:
                raise InputError(
                    f"Validation fold {spec.fold} has no samples: every one of its blocks is "
                    "empty. Choose folds whose test blocks hold data."
                )
            evaluations = tuple(
                s.evaluate(st) for s, st in zip(plan.scorers, item.scores.items, strict=True)
            )
        out.append(ModelUpdate(model, evaluations, item.fit_seconds, item.score_seconds))
    return out


def run_pass(
    X: da.Array,
    y: da.Array,
    sample_weight: da.Array | None,
    validation: tuple[da.Array, da.Array] | None = None,
    *,
    plan: PassPlan,
    models: Sequence[BaseEstimator | None],
    scalers: Mapping[tuple[int, int], Sequence[Any]],
    epoch: int,
    train: frozenset[int],
    score: frozenset[int],
    split_every: int | None,
    stage: str,
    check: DataCheck | None = None,
) -> PassResult:
    """One pass over the data on the cluster: :func:`fit_partition` on every block, the tree,
    and :func:`update_models` at its root (stages ``<stage>-block``, ``-merge``,
    ``-final``). With ``check``, the tasks also record or check the blocks' digests."""
    pass_kwargs = {"epoch": epoch, "train": train, "score": score}
    out: PassResult = reduce_partitions(
        fit_partition,
        X,
        y,
        sample_weight,
        *(validation if validation is not None else (None, None)),
        finalize=update_models,
        stage=stage,
        split_every=split_every,
        task_kwargs={
            "plan": broadcast(plan, "pass-plan"),
            "models": broadcast(list(models), "models"),
            "scalers": broadcast(dict(scalers), "scalers"),
            # Only with a checkpoint, in its first pass: no hashing otherwise.
            **({} if check is None else {"check": broadcast(check, "data-check")}),
            **pass_kwargs,
        },
        finalize_kwargs={"plan": plan, "models": list(models), **pass_kwargs},
    )
    return out


# --------------------------------------------------------------------------------------------
# The epoch loop


class EpochDriver(Protocol):
    """One fit's or one search's side of :func:`run_epochs`: which models each pass trains,
    how a pass runs, what to make of its updates, and the run's checkpoint.

    :func:`run_epochs` calls :meth:`restore` when it resumes a run, then for every pass
    :meth:`to_train`, :meth:`run`, :meth:`after_pass` and :meth:`write_checkpoint`, and
    :meth:`finish` once the passes are over. ``ParallelIncremental`` drives one model, the
    searches one per candidate and fold.
    """

    #: What every block does for every model; the progress bar counts the candidates of
    #: ``plan.models`` that a pass trains.
    plan: PassPlan
    #: Where the run starts: the epoch, the models the last pass left to score, the records
    #: of the passes done (0, none and [] for a new run, as :meth:`restore` read them for a
    #: resumed one). :func:`run_epochs` appends every pass's record to ``history``.
    start: int
    scored: frozenset[int]
    history: list[dict[str, Any]]

    def restore(self, saved: dict[str, Any]) -> None:
        """Go on from a checkpoint's state, as :meth:`write_checkpoint` wrote it."""

    def to_train(self, epoch: int) -> frozenset[int]:
        """The models that train in ``epoch``, as the run stands now (none: training is over)."""

    def run(
        self, epoch: int, train: frozenset[int], score: frozenset[int]
    ) -> list[ModelUpdate | None]:
        """One pass (:func:`run_pass`): the models ``train`` train, those in ``score`` are
        scored; a :class:`ModelUpdate` per model of the pass, ``None`` for the others."""

    def after_pass(
        self,
        epoch: int,
        train: frozenset[int],
        scored: frozenset[int],
        updates: list[ModelUpdate | None],
        record: dict[str, Any],
    ) -> tuple[frozenset[int], bool]:
        """Take a pass's ``updates`` and add to its history ``record``; return the models to
        score in the next pass (those kept of the ones just trained), and whether to stop
        training."""

    def write_checkpoint(
        self, start: int, scored: frozenset[int], stopped: bool, history: list[dict[str, Any]]
    ) -> None:
        """Write where the run is, when it has a checkpoint: the epoch a resumed run starts
        at, the models left to score, whether training had stopped, and the history."""

    def finish(self) -> None:
        """After the last pass: what no pass did (check the data against the checkpoint
        when no pass read them, as in the rerun of a finished run)."""


def run_epochs(
    driver: EpochDriver,
    *,
    n_epochs: int,
    verbose: int,
    saved: dict[str, Any] | None = None,
    desc: str = "epochs",
    unit: str = "epoch",
    postfix: Sequence[str] = ("seconds", "validation_score"),
) -> list[dict[str, Any]]:
    """Run ``driver``'s passes until no model trains and none is left to score; returns the
    history (``driver.history``, a record per pass).

    ``driver.to_train(epoch)`` names the models that train in a pass of ``epoch`` (none from
    ``n_epochs`` on); a pass that trains nothing only scores the models of the one before.
    With ``saved`` (a checkpoint's state) the driver restores it first, and the run goes on
    from its ``start`` epoch with the models its last pass left to score.

    With ``verbose``, a progress bar (``tqdm.auto``: a widget in Jupyter, a bar in a
    terminal) advances after each pass by the candidates trained in it: one per epoch for a
    single model, one per candidate and epoch for a search (all its folds train in the same
    pass). Its total is what is done plus what is left for the models still training, asked
    of ``to_train`` after every pass, so that it shrinks when a search drops candidates or a
    fit stops early. ``postfix`` names the record's values shown beside it.

    After every pass the driver writes its checkpoint, if it has one
    (:meth:`EpochDriver.write_checkpoint`); after the last, :meth:`EpochDriver.finish`.
    """
    if saved is not None:
        driver.restore(saved)
    history, scored, models = driver.history, driver.scored, driver.plan.models

    def count(train: frozenset[int]) -> int:
        """The candidates that the models ``train`` train: what the progress bar counts."""
        return len({models[j].candidate for j in train})

    def planned(start: int) -> int:
        """What ``to_train`` has left from epoch ``start`` on, as the models stand now."""
        return sum(count(driver.to_train(e)) for e in range(start, n_epochs))

    progress = None
    if verbose:
        from tqdm.auto import tqdm

        progress = tqdm(total=planned(driver.start), desc=desc, unit=unit, file=sys.stderr)
    epoch = driver.start
    try:
        while True:
            train = driver.to_train(epoch) if epoch < n_epochs else frozenset[int]()
            if not train and not scored:
                break
            began = time.perf_counter()
            updates = driver.run(epoch, train, scored)
            record: dict[str, Any] = {
                "epoch": epoch + 1 if train else epoch,
                "seconds": time.perf_counter() - began,
            }
            scored, stop = driver.after_pass(epoch, train, scored, updates, record)
            history.append(record)
            # A run that stopped scores nothing more: it resumes to its end.
            driver.write_checkpoint(
                epoch + 1 if train else epoch, frozenset() if stop else scored, stop, history
            )
            if progress is not None and train:
                done = progress.n + count(train)
                progress.total = done + (0 if stop else planned(epoch + 1))
                shown = {k: f"{record[k]:.4g}" for k in postfix if k in record}
                progress.set_postfix(shown, refresh=False)
                progress.update(count(train))
            if stop or not train:
                break
            epoch += 1
    finally:
        if progress is not None:
            progress.close()
    driver.finish()
    return history


# --------------------------------------------------------------------------------------------
# The preparation pass: labels and scalers, before training


class ScalerFitPlan(Protocol):
    """How one scaler turns a block into its state, and the merged state into attributes."""

    def partition_state(
        self, X: np.ndarray, rows: tuple[slice, ...], block_id: tuple[int, ...]
    ) -> State | None: ...

    def attributes(self, state: State | None) -> dict[str, Any]: ...


def find_labels_partition(
    y: np.ndarray, rows: tuple[slice, ...], block_id: tuple[int, ...]
) -> LabelSet | None:
    """The distinct labels of one block of ``y``, checked as labels (:func:`label_types`)."""
    if y.shape[0] == 0:
        return None
    where = f" in {describe_partition(rows[0], block_id[0])}"
    if np.issubdtype(y.dtype, np.inexact) and not np.isfinite(y).all():
        first = rows[0].start + int(np.flatnonzero(~np.isfinite(y))[0])
        raise PartitionError(
            f"y holds NaN or infinity{where}, first at row {first}; class labels must be "
            "finite values. Drop or fill those rows first."
        )
    label_types(y, "y", where)
    return LabelSet(np.unique(y))


def prepare_partition(
    X: np.ndarray,
    y: np.ndarray,
    rows: tuple[slice, ...],
    block_id: tuple[int, ...],
    *,
    find_labels: bool,
    plans: Sequence[ScalerFitPlan | None],
    pairs: Sequence[tuple[int, int]],
    folds: Sequence[tuple[frozenset[int], frozenset[int]]],
    fitted: Mapping[tuple[int, int], Sequence[Any]],
) -> StateTuple:
    """One block's labels and scaler states for every (scaler setting, fold) pair.

    A pair gets a state only if the block is in the fold's training blocks. When no earlier
    step was fitted, the state depends on the setting alone and is computed once for all folds.
    """
    block = block_id[0]
    items: list[Any] = [find_labels_partition(y, rows, block_id) if find_labels else None]
    shared: dict[int, Any] = {}
    for config, fold in pairs:
        plan = plans[config]
        if plan is None or block not in folds[fold][0]:
            items.append(None)
            continue
        earlier = fitted.get((config, fold), ())
        if earlier:
            items.append(plan.partition_state(transform_block(X, earlier), rows, block_id))
            continue
        if config not in shared:
            shared[config] = plan.partition_state(X, rows, block_id)
        items.append(shared[config])
    return StateTuple(tuple(items))


def prepared_attributes(
    state: StateTuple | None,
    *,
    plans: Sequence[ScalerFitPlan | None],
    pairs: Sequence[tuple[int, int]],
) -> tuple[np.ndarray | None, list[dict[str, Any] | None]]:
    """The labels found and the fitted attributes of every (scaler setting, fold) pair."""
    if state is None:
        raise InputError("Every partition of the training data is empty; there is nothing to fit.")
    labels, *states = state.items
    attributes: list[dict[str, Any] | None] = []
    for (config, _), pair_state in zip(pairs, states, strict=True):
        plan = plans[config]
        attributes.append(None if plan is None else plan.attributes(pair_state))
    return (None if labels is None else labels.labels), attributes
