"""Task bodies: plain functions of numpy blocks, run on the workers.

Nothing here knows about dask. :mod:`daskpar._graph` wires these functions into graphs; the
graph keys carry the stage names (``daskpar-fit-partition``, ``daskpar-combine``, ...) that the
dashboard shows.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator

from ._families import Family
from ._states import LabelSet, Moments, R2State, State, SumState, combine_all
from .errors import InputError, PartitionError

__all__ = [
    "combine_states",
    "finalize_score",
    "find_labels_partition",
    "finalize_model",
    "fit_partition",
    "partition_seed",
    "predict_partition",
    "score_partition",
]


def partition_seed(base_seed: int, epoch: int, block: int) -> int:
    """A seed that depends only on the fit's seed, the epoch and the partition index."""
    return int(np.random.SeedSequence([base_seed, epoch, block]).generate_state(1)[0] >> 1)


def _describe(rows: slice, block: int) -> str:
    return f"partition {block} (rows {rows.start} to {rows.stop - 1})"


def check_finite_block(a: np.ndarray, name: str, rows: slice, block: int) -> None:
    """Raise a :class:`PartitionError` naming the partition if ``a`` holds NaN or infinity."""
    if np.issubdtype(a.dtype, np.inexact) and not np.isfinite(a).all():
        bad = np.flatnonzero(~np.isfinite(a).reshape(a.shape[0], -1).all(axis=1))
        kind = "NaN" if np.isnan(a).any() else "infinity"
        raise PartitionError(
            f"{name} holds {kind} in {_describe(rows, block)}, first at row "
            f"{rows.start + int(bad[0])} ({len(bad)} bad rows in this partition). daskpar's "
            f"models need finite values: impute or drop these rows first."
        )


def check_labels_block(y: np.ndarray, classes: np.ndarray, rows: slice, block: int) -> None:
    """Raise a :class:`PartitionError` if ``y`` holds labels outside ``classes``."""
    unknown = np.setdiff1d(np.unique(y), classes)
    if len(unknown):
        raise PartitionError(
            f"y holds labels {unknown[:10].tolist()} in {_describe(rows, block)} that are not "
            f"in classes={classes.tolist()}. Pass every label to classes=, or leave classes "
            f"unset to find them from the data."
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


def score_partition(
    X: np.ndarray, y: np.ndarray, *, model: BaseEstimator, kind: str
) -> State | None:
    """The per-partition sums of the model's default score.

    ``kind="accuracy"``: correct predictions and samples. ``kind="r2"``: the moments of ``y``
    and the residual sum of squares, from which R² is computed once at the end.
    """
    n = X.shape[0]
    if n == 0:
        return None
    pred = model.predict(X)
    if kind == "accuracy":
        return SumState(n, {"correct": np.array(float(np.sum(pred == y)))})
    y64 = np.asarray(y, dtype=np.float64)
    residual = y64 - pred
    return R2State(Moments.of(y64.reshape(-1, 1)), float(residual @ residual))


def finalize_score(state: State | None, *, kind: str) -> float:
    """The score from the merged sums."""
    if state is None:
        raise InputError("Cannot score on empty data: every partition is empty.")
    if kind == "accuracy":
        assert isinstance(state, SumState)
        return float(state.sums["correct"]) / state.n_samples
    assert isinstance(state, R2State)
    return state.r2()
