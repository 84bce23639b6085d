"""Task bodies: plain functions of numpy blocks, run on the workers.

Nothing here knows about dask. :mod:`daskpar._graph` wires these functions into graphs; the
graph keys carry the stage names (``daskpar-fit-partition``, ``daskpar-combine``, ...) that the
dashboard shows.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy import linalg
from sklearn.base import BaseEstimator

from ._families import Family
from ._metrics import Evaluation, Scorer, scorer_partition
from ._states import EpochState, LabelSet, LeastSquaresState, State, combine_all, r_factor
from .errors import InputError, PartitionError

__all__ = [
    "check_weights_block",
    "combine_states",
    "describe_partition",
    "epoch_partition",
    "least_squares_partition",
    "find_labels_partition",
    "finalize_model",
    "fit_partition",
    "partition_seed",
    "predict_partition",
    "solve_least_squares",
    "update_model",
]


def partition_seed(base_seed: int, epoch: int, block: int) -> int:
    """A seed that depends only on the fit's seed, the epoch and the partition index."""
    return int(np.random.SeedSequence([base_seed, epoch, block]).generate_state(1)[0] >> 1)


def describe_partition(rows: slice, block: int) -> str:
    return f"partition {block} (rows {rows.start} to {rows.stop - 1})"


def check_finite_block(a: np.ndarray, name: str, rows: slice, block: int) -> None:
    """Raise a :class:`PartitionError` naming the partition if ``a`` holds NaN or infinity."""
    if np.issubdtype(a.dtype, np.inexact) and not np.isfinite(a).all():
        bad = np.flatnonzero(~np.isfinite(a).reshape(a.shape[0], -1).all(axis=1))
        kind = "NaN" if np.isnan(a).any() else "infinity"
        raise PartitionError(
            f"{name} holds {kind} in {describe_partition(rows, block)}, first at row "
            f"{rows.start + int(bad[0])} ({len(bad)} bad rows in this partition). daskpar's "
            f"models need finite values: impute or drop these rows first."
        )


def check_labels_block(y: np.ndarray, classes: np.ndarray, rows: slice, block: int) -> None:
    """Raise a :class:`PartitionError` if ``y`` holds labels outside ``classes``."""
    unknown = np.setdiff1d(np.unique(y), classes)
    if len(unknown):
        raise PartitionError(
            f"y holds labels {unknown[:10].tolist()} in {describe_partition(rows, block)} that "
            f"are not in classes={classes.tolist()}. Pass every label to classes=, or leave "
            f"classes unset to find them from the data."
        )


def fit_partition(
    X: np.ndarray,
    y: np.ndarray,
    rows: tuple[slice, ...],
    block_id: tuple[int, ...],
    *,
    family: Family,
    model: BaseEstimator,
    classes: np.ndarray | None,
    base_seed: int,
    epoch: int,
) -> State | None:
    """Train ``model`` on one block and return the partition's state (``None`` if empty)."""
    rows_, block = rows[0], block_id[0]
    if X.shape[0] == 0:
        return None
    check_finite_block(X, "X", rows_, block)
    if classes is not None:
        check_labels_block(y, classes, rows_, block)
    else:
        check_finite_block(y, "y", rows_, block)
    seed = partition_seed(base_seed, epoch, block)
    return family.partition_state(model, X, y, classes=classes, seed=seed)


def find_labels_partition(y: np.ndarray) -> LabelSet | None:
    """The distinct labels of one block of ``y``."""
    if y.shape[0] == 0:
        return None
    if np.issubdtype(y.dtype, np.inexact) and np.isnan(y).any():
        raise PartitionError("y holds NaN; class labels must be finite values.")
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
        raise InputError("Every partition of the training data is empty; there is nothing to fit.")
    return family.finalize(state, model, classes=classes, epoch=epoch)


def predict_partition(X: np.ndarray, *, model: BaseEstimator, method: str) -> Any:
    """``model.<method>(X)`` on one block; an empty block gives an empty result."""
    if X.shape[0] == 0:
        out = getattr(model, method)(np.zeros((1, X.shape[1]), dtype=X.dtype))
        return out[:0]
    return getattr(model, method)(X)


def epoch_partition(
    X: np.ndarray,
    y: np.ndarray,
    rows: tuple[slice, ...],
    block_id: tuple[int, ...],
    *,
    family: Family,
    model: BaseEstimator,
    classes: np.ndarray | None,
    base_seed: int,
    epoch: int,
    validation_blocks: frozenset[int],
    scorer: Scorer | None,
) -> EpochState:
    """One block's share of an epoch, from one read of the block.

    A training block runs :func:`fit_partition` on the epoch's starting ``model``; a validation
    block scores that same model, which is the previous epoch's result (nothing to score in
    the first epoch, when the model is unfitted).
    """
    if block_id[0] not in validation_blocks:
        return EpochState(
            fit=fit_partition(
                X,
                y,
                rows,
                block_id,
                family=family,
                model=model,
                classes=classes,
                base_seed=base_seed,
                epoch=epoch,
            )
        )
    if epoch == 0 or scorer is None or X.shape[0] == 0:
        return EpochState()
    check_finite_block(X, "X", rows[0], block_id[0])
    return EpochState(
        score=scorer_partition(X, y, None, rows, block_id, scorer=scorer, model=model)
    )


def update_model(
    state: EpochState | None,
    *,
    family: Family,
    model: BaseEstimator,
    classes: np.ndarray | None,
    epoch: int,
    scorer: Scorer | None,
) -> tuple[BaseEstimator, Evaluation[float] | None]:
    """The next model from the merged training states, and the starting model's score.

    The score comes as an :class:`Evaluation`, whose warnings the client re-emits.
    """
    state = state if state is not None else EpochState()
    new_model = finalize_model(state.fit, family=family, model=model, classes=classes, epoch=epoch)
    score = None
    if state.score is not None and scorer is not None:
        score = scorer.evaluate(state.score)
    return new_model, score


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
    return LeastSquaresState.of(np.column_stack([X, y]), sample_weight)


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
        singular = linalg.svdvals(r_xx)
        rank = int(np.sum(singular > tol * singular[0])) if singular[0] > 0 else 0
        if rank < d:
            centred = " after centring" if fit_intercept else ""
            raise InputError(
                f"X has {d} features but rank {rank}{centred} (singular values below {tol:g} "
                "times the largest count as zero): some features are linear combinations of "
                "others, or constant, so least squares has no unique solution. Drop the "
                "redundant features, or use daskpar.Ridge with alpha > 0."
            )
        out["rank"], out["singular"] = rank, singular
    coef = linalg.solve_triangular(r_xx, r_xy)
    out["coef"] = coef
    out["intercept"] = float(y_mean - x_mean @ coef) if fit_intercept else 0.0
    return out
