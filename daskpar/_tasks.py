"""Task bodies: plain functions of numpy blocks, run on the workers.

Nothing here knows about dask. :mod:`daskpar._graph` wires these functions into graphs; the
graph keys carry the stage names (``daskpar-fit-partition``, ``daskpar-combine``, ...) that the
dashboard shows.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
from scipy import linalg
from sklearn import config_context
from sklearn.base import BaseEstimator

from ._families import Family
from ._metrics import Evaluation, Scorer, scorer_partition
from ._states import (
    LabelSet,
    LeastSquaresState,
    State,
    StateTuple,
    TrialState,
    combine_all,
    r_factor,
)
from ._validation import check_finite_block, describe_partition, label_types
from .errors import InputError, PartitionError

__all__ = [
    "ScalerFitPlan",
    "SearchPlan",
    "Trial",
    "check_training_block",
    "check_weights_block",
    "checked_already",
    "combine_states",
    "describe_partition",
    "least_squares_partition",
    "find_labels_partition",
    "finalize_model",
    "partition_seed",
    "prepare_partition",
    "prepared_attributes",
    "predict_partition",
    "trials_partition",
    "solve_least_squares",
    "transform_block",
    "update_trials",
]


def partition_seed(base_seed: int, epoch: int, block: int) -> int:
    """A seed that depends only on the fit's seed, the epoch and the partition index."""
    return int(np.random.SeedSequence([base_seed, epoch, block]).generate_state(1)[0] >> 1)


def check_labels_block(y: np.ndarray, classes: np.ndarray, rows: slice, block: int) -> None:
    """Raise a :class:`PartitionError` if ``y`` holds labels outside ``classes``."""
    check_finite_block(y, "y", rows, block)
    label_types(y, "y", f" in {describe_partition(rows, block)}")
    unknown = np.setdiff1d(np.unique(y), classes)
    if len(unknown):
        raise PartitionError(
            f"y holds labels {unknown[:10].tolist()} in {describe_partition(rows, block)} that "
            f"are not in classes={classes.tolist()}. Pass every label to classes=, or leave "
            f"classes unset to find them from the data."
        )


def checked_already(epoch: int) -> Any:
    """scikit-learn settings for a block daskpar has checked: skip its checks of the same.

    The values were checked for finiteness by the task, and the estimator's parameters by
    the first epoch's ``partial_fit``; repeating both per model and block costs about a
    tenth of a search's time.
    """
    return config_context(assume_finite=True, skip_parameter_validation=epoch > 0)


def check_training_block(
    X: np.ndarray,
    y: np.ndarray,
    rows: tuple[slice, ...],
    block_id: tuple[int, ...],
    *,
    classes: np.ndarray | None,
) -> None:
    """Finite features and targets, and labels among ``classes`` for classifiers."""
    check_finite_block(X, "X", rows[0], block_id[0])
    if classes is None:
        check_finite_block(y, "y", rows[0], block_id[0])
    else:
        check_labels_block(y, classes, rows[0], block_id[0])


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


def combine_states(states: Sequence[State | None]) -> State | None:
    """Merge the states of neighbouring partitions (one node of the tree)."""
    return combine_all(states)


def finalize_model(
    state: State | None,
    *,
    family: Family,
    model: BaseEstimator,
    classes: np.ndarray | None,
    epoch: int,
) -> BaseEstimator:
    """The fitted estimator from the merged state of all partitions."""
    if state is None:
        raise InputError(
            "Every partition of the training data is empty, or has sample weights that sum to "
            "zero; there is nothing to fit."
        )
    return family.finalize(state, model, classes=classes, epoch=epoch)


def predict_partition(X: np.ndarray, *, model: BaseEstimator, method: str) -> Any:
    """``model.<method>(X)`` on one block; an empty block gives an empty result."""
    if X.shape[0] == 0:
        out = getattr(model, method)(np.zeros((1, X.shape[1]), dtype=X.dtype))
        return out[:0]
    return getattr(model, method)(X)


def check_weights_block(w: np.ndarray, rows: slice, block: int) -> None:
    """Raise a :class:`PartitionError` if ``w`` holds negative or non-finite weights."""
    check_finite_block(w, "sample_weight", rows, block)
    if (w < 0).any():
        first = rows.start + int(np.flatnonzero(w < 0)[0])
        raise PartitionError(
            f"sample_weight holds negative values in {describe_partition(rows, block)}, first "
            f"at row {first}. Weights must be non-negative."
        )


def least_squares_partition(
    X: np.ndarray,
    y: np.ndarray,
    sample_weight: np.ndarray | None,
    rows: tuple[slice, ...],
    block_id: tuple[int, ...],
) -> LeastSquaresState | None:
    """The weight, mean and centred R factor of ``[X, y]`` on one block."""
    rows_, block = rows[0], block_id[0]
    if X.shape[0] == 0:
        return None
    check_finite_block(X, "X", rows_, block)
    check_finite_block(y, "y", rows_, block)
    if sample_weight is not None:
        check_weights_block(sample_weight, rows_, block)
    return LeastSquaresState.of(X, y, sample_weight)


def _check_full_rank(
    r_xx: np.ndarray, *, tol: float, centred: bool, weight: float, mean: np.ndarray
) -> int:
    """X's rank from its triangular factor, decided on unit-norm columns, so unit-free.

    The columns of ``r_xx`` have the norms of X's (centred, weighted) columns: dividing by them
    gives the factor of X with every feature rescaled to norm one, whose singular values do not
    change when a feature is measured in other units. Raises an :class:`InputError` naming the
    constant and the collinear features when the rank is below the number of features.
    """
    d = r_xx.shape[1]
    norms = np.linalg.norm(r_xx, axis=0)
    # A centred constant column is zero up to the rounding of its mean (a standard deviation
    # of about 1e-16 of the value); rescaled to unit norm, that noise would look like a
    # feature. So a spread below 1e-10 of the column's mean counts as none.
    spread = norms / np.sqrt(weight)
    constant = np.flatnonzero(spread <= (1e-10 * np.abs(mean) if centred else 0.0))
    scaled = r_xx / np.where(norms > 0.0, norms, 1.0)
    scaled[:, constant] = 0.0
    _, singular, vt = linalg.svd(scaled)
    rank = int(np.sum(singular > tol * singular[0])) if singular[0] > 0 else 0
    if rank == d:
        return rank
    problems = []
    if len(constant):
        kind = "constant" if centred else "all zero"
        problems.append(f"feature(s) {_columns(constant)} are {kind}")
    # The null space of the scaled factor: the combinations of columns that vanish.
    null = vt[rank:]
    involved = np.flatnonzero((np.abs(null) > 1e-3).any(axis=0))
    collinear = np.setdiff1d(involved, constant)
    if len(collinear):
        problems.append(
            f"feature(s) {_columns(collinear)} are (nearly) linear combinations of each other"
        )
    centring = " after centring" if centred else ""
    raise InputError(
        f"X has {d} features but rank {rank}{centring}, with every feature scaled to unit "
        f"norm (singular values below {tol:g} times the largest count as zero): "
        f"{'; '.join(problems)} (0-based column indices). Least squares has no unique "
        "solution: drop those features, or use daskpar.Ridge with alpha > 0."
    )


def _columns(index: np.ndarray, limit: int = 10) -> str:
    shown = ", ".join(str(int(i)) for i in index[:limit])
    return f"[{shown}{', ...' if len(index) > limit else ''}]"


def solve_least_squares(
    state: LeastSquaresState | None, *, alpha: float, fit_intercept: bool, tol: float
) -> dict[str, Any]:
    """Coefficients minimising ``sum w (y - X b - c)^2 + alpha |b|^2`` from the merged factor.

    Returns ``coef``, ``intercept``, ``rank`` and ``singular`` (the singular values of the
    centred, weight-scaled X; only computed when ``alpha == 0``). Raises an :class:`InputError`
    when ``alpha == 0`` and X's rank is below its number of features, to the tolerance ``tol``
    on singular values that scikit-learn's LinearRegression gives ``lstsq``.
    """
    if state is None:
        raise InputError("Every partition of the training data is empty; there is nothing to fit.")
    if state.weight == 0.0:
        raise InputError("The sample weights sum to zero: there is nothing to fit.")
    d = state.mean.shape[0] - 1
    r = state.r
    x_mean, y_mean = state.mean[:d], state.mean[d]
    if not fit_intercept:
        # Undo the centring: R^T R + w m m^T is the raw [X, y]^T W [X, y].
        r = r_factor(np.vstack([r, np.sqrt(state.weight) * state.mean]))
    if alpha > 0.0:
        # Ridge is least squares on X stacked over sqrt(alpha) I, with zeros for y.
        penalty = np.hstack([np.sqrt(alpha) * np.eye(d), np.zeros((d, 1))])
        r = r_factor(np.vstack([r, penalty]))
    if r.shape[0] < d:
        r = np.vstack([r, np.zeros((d - r.shape[0], d + 1))])
    r_xx, r_xy = r[:d, :d], r[:d, d]
    out: dict[str, Any] = {"rank": d, "singular": None}
    if alpha == 0.0:
        out["rank"] = _check_full_rank(
            r_xx, tol=tol, centred=fit_intercept, weight=state.weight, mean=x_mean
        )
        out["singular"] = linalg.svdvals(r_xx)
    coef = linalg.solve_triangular(r_xx, r_xy)
    out["coef"] = coef
    out["intercept"] = float(y_mean - x_mean @ coef) if fit_intercept else 0.0
    return out


# --------------------------------------------------------------------------------------------
# Search: many models (candidate x fold) from one read of each block


@dataclass(frozen=True, eq=False)
class Trial:
    """One model of a search: a candidate's parameters trained on one fold."""

    candidate: int
    fold: int
    config: int  # which of the search's distinct scaler settings the candidate uses


@dataclass(frozen=True, eq=False)
class SearchPlan:
    """Everything the search's tasks need that stays the same for the whole search."""

    trials: tuple[Trial, ...]
    folds: tuple[tuple[frozenset[int], frozenset[int]], ...]  # (train blocks, test blocks)
    families: tuple[Family, ...]  # per candidate
    base_seeds: tuple[int, ...]  # per candidate
    classes: np.ndarray | None
    scorers: tuple[Scorer, ...]
    # Record a model's failing fit (scikit-learn's error_score) instead of raising it.
    record_errors: bool = False


class ScalerFitPlan(Protocol):
    """How one scaler turns a block into its state, and the merged state into attributes."""

    def partition_state(
        self, X: np.ndarray, rows: tuple[slice, ...], block_id: tuple[int, ...]
    ) -> State | None: ...

    def attributes(self, state: State | None) -> dict[str, Any]: ...


def transform_block(X: np.ndarray, steps: Sequence[Any]) -> np.ndarray:
    """``X`` through the fitted (in-memory) transformers ``steps``, in order."""
    for step in steps:
        X = step.transform(X)
    return X


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


def trials_partition(
    X: np.ndarray,
    y: np.ndarray,
    sample_weight: np.ndarray | None,
    rows: tuple[slice, ...],
    block_id: tuple[int, ...],
    *,
    plan: SearchPlan,
    models: Sequence[BaseEstimator | None],
    scalers: Mapping[tuple[int, int], Sequence[Any]],
    epoch: int,
    train: frozenset[int],
    score: frozenset[int],
) -> StateTuple:
    """One block's share of a search pass, from one read of the block.

    Every trial in ``train`` whose fold trains on this block runs ``partial_fit`` on it; every
    trial in ``score`` whose fold validates on it scores its current model. The block is
    scaled once per (scaler setting, fold) and reused by all the candidates that share them.
    """
    block = block_id[0]
    groups: dict[tuple[int, int], list[tuple[int, bool, bool]]] = {}
    for j in sorted(train | score):
        trial = plan.trials[j]
        train_blocks, test_blocks = plan.folds[trial.fold]
        fits, scores = j in train and block in train_blocks, j in score and block in test_blocks
        if fits or scores:
            groups.setdefault((trial.config, trial.fold), []).append((j, fits, scores))
    items: list[TrialState | None] = [None] * len(plan.trials)
    if not groups or X.shape[0] == 0:
        return StateTuple(tuple(items))
    # Checked once for all the trials (many models share this block).
    check_training_block(X, y, rows, block_id, classes=plan.classes)
    if sample_weight is not None:
        check_weights_block(sample_weight, rows[0], block_id[0])
    for key, trials in groups.items():
        Xt = transform_block(X, scalers.get(key, ()))
        for j, fits, scores in trials:
            c = plan.trials[j].candidate
            start = time.perf_counter()
            fit_state = None
            # Rows of weight zero teach nothing (scikit-learn refuses a call with only those).
            if fits and (sample_weight is None or np.any(sample_weight)):
                seed = partition_seed(plan.base_seeds[c], epoch, block)
                try:
                    with checked_already(epoch):
                        fit_state = plan.families[c].partition_state(
                            models[j],
                            Xt,
                            y,
                            classes=plan.classes,
                            seed=seed,
                            sample_weight=sample_weight,
                        )
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
            if scores:
                score_states = StateTuple(
                    tuple(
                        scorer_partition(
                            Xt, y, sample_weight, rows, block_id, scorer=s, model=models[j]
                        )
                        for s in plan.scorers
                    )
                )
            items[j] = TrialState(
                fit_state, score_states, middle - start, time.perf_counter() - middle
            )
    return StateTuple(tuple(items))


def update_trials(
    state: StateTuple | None,
    *,
    plan: SearchPlan,
    models: Sequence[BaseEstimator | None],
    epoch: int,
    train: frozenset[int],
    score: frozenset[int],
) -> list[
    tuple[BaseEstimator | None, tuple[Evaluation[float], ...] | None, float, float, str | None]
    | None
]:
    """For every trial of the pass: its next model, its current model's scores, timings, and
    why its fit failed (``None`` if it did not; only when the plan records errors)."""
    items = state.items if state is not None else (None,) * len(plan.trials)
    out: list[Any] = []
    for j, item in enumerate(items):
        if j not in train and j not in score:
            out.append(None)
            continue
        item = item if item is not None else TrialState()
        trial = plan.trials[j]
        if item.error is not None:
            out.append((None, None, item.fit_seconds, item.score_seconds, item.error))
            continue
        model = None
        if j in train:
            model = finalize_model(
                item.fit,
                family=plan.families[trial.candidate],
                model=models[j],
                classes=plan.classes,
                epoch=epoch,
            )
        evaluations = None
        if j in score:
            if item.scores is None:
                raise InputError(
                    f"Validation fold {trial.fold} has no samples: every one of its blocks is "
                    "empty. Choose folds whose test blocks hold data."
                )
            evaluations = tuple(
                s.evaluate(st) for s, st in zip(plan.scorers, item.scores.items, strict=True)
            )
        out.append((model, evaluations, item.fit_seconds, item.score_seconds, None))
    return out
