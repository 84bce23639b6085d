"""A metric through the tree: the task bodies, and the graph that wires them.

::

    blocks --metric_partition (scorer_partition, in _scorer)--> state (one per block)
        --combine_states (tree of fan-in split_every)--> one state
        --finalize_metric--> Evaluation --client--> the value, its warnings emitted there

The task bodies are plain functions of numpy blocks, with no dask inside. The stage names are
what the dashboard shows: ``<stage>-block``, ``<stage>-merge`` and
``<stage>-final`` for a metric function, where ``<stage>`` is the metric's
(``confusion``, ``log-loss``, ``roc-auc``, ``roc-curve``, ``pr-curve`` or ``residuals``),
and ``score-block``, ``score-merge`` and ``score-final`` for
:func:`~daskpar.metrics.score`.
:class:`~daskpar.ParallelIncremental` and the searches call
:func:`~daskpar.metrics._scorer.scorer_partition` inside their own training tasks instead, one
read of a block serving both training and scoring.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import dask.array as da
import numpy as np

from .._graph import reduce_partitions
from .._states import State
from .._validation import check_aligned_rows
from ..errors import PartitionError
from ._base import Evaluation, Evaluator, Metric, MetricBase

__all__ = [
    "evaluate_metric",
    "finalize_metric",
    "metric_partition",
    "naming_partition",
    "reduce_metric",
]

# --------------------------------------------------------------------------------------------
# Task bodies


@contextmanager
def naming_partition(rows: tuple[slice, ...], block_id: tuple[int, ...]) -> Iterator[None]:
    """Add the partition to the message of a :class:`PartitionError` raised inside."""
    try:
        yield
    except PartitionError as error:
        where = f"partition {block_id[0]} (rows {rows[0].start} to {rows[0].stop - 1})"
        raise PartitionError(f"{error} Found in {where}.") from error


def metric_partition(
    y_true: np.ndarray,
    y_pred: np.ndarray,
    sample_weight: np.ndarray | None,
    rows: tuple[slice, ...],
    block_id: tuple[int, ...],
    *,
    metric: Metric | MetricBase[Any],
) -> State | None:
    """One block's state of ``metric`` (``None`` for an empty block)."""
    check_aligned_rows(
        y_true, rows[0], block_id[0], of="y_true", y_pred=y_pred, sample_weight=sample_weight
    )
    with naming_partition(rows, block_id):
        return metric.partition_state(y_true, y_pred, sample_weight)


def finalize_metric(state: State | None, *, metric: Evaluator) -> Evaluation[Any]:
    """The metric (or signed score) of the merged state, and the warnings for the client."""
    return metric.evaluate(state)


# --------------------------------------------------------------------------------------------
# Graph


def reduce_metric(
    task: Callable[..., Any],
    arrays: tuple[da.Array, da.Array, da.Array | None],
    *,
    evaluator: Evaluator,
    stage: str,
    split_every: int | None,
    stacklevel: int,
    **task_kwargs: Any,
) -> Any:
    """``task`` on every block, the states merged through the tree, ``evaluator`` of the root."""
    evaluation = reduce_partitions(
        task,
        *arrays,
        finalize=finalize_metric,
        stage=stage,
        split_every=split_every,
        task_kwargs=task_kwargs,
        finalize_kwargs={"metric": evaluator},
    )
    # Warnings raised by the finalize task (on a worker) surface here, at the user's call.
    return evaluation.unwrap(stacklevel=stacklevel)


def evaluate_metric(
    metric: Metric | MetricBase[Any],
    y_true: da.Array,
    y_pred: da.Array,
    sample_weight: da.Array | None,
    split_every: int | None,
    stacklevel: int = 4,
) -> Any:
    """Compute ``metric`` through the tree; ``stacklevel`` as :func:`reduce_metric`'s.

    The default points the warnings at the caller of a public metric function that calls this
    one: the function runs inside ``validate_params``'s wrapper, one frame deeper.
    """
    stage = metric.stage
    return reduce_metric(
        metric_partition,
        (y_true, y_pred, sample_weight),
        evaluator=metric,
        stage=stage,
        split_every=split_every,
        stacklevel=stacklevel + 1,
        metric=metric,
    )
