"""Candidates trained together: the search's pass with the stackable candidates stacked.

In a search over :class:`~daskpar.AdaptiveSGDClassifier` or
:class:`~daskpar.AdaptiveSGDRegressor`, the candidates of one fold that see the same
mini-batches in the same order (the same seed, ``shuffle``, ``batch_size``, loss, class
weights and setting of the leading steps: candidates of different PCA ``n_components``,
hence widths, are in different stacks) and differ only in ``alpha`` and ``learning_rate``
are trained on each block as one stacked weight matrix (:mod:`daskpar._adaptive._stacked`): each
mini-batch read once for all ``C`` of them (with the numpy kernel, one ``(batch x d) @
(d x C)`` product per step), the block's checks, scaling, labels, rows' weights, centring,
scales and counters paid once for the stack; the models that the pass scores on the block
share one check of its rows. :func:`candidate_stacks` finds
the stacks of a pass on the client; :func:`fit_stacked_partition` (the ``search-block``
task) trains them, and everything else through :func:`daskpar._pass.fit_partition` as
before, from the same read of the block.

The candidates share a mini-batch order only if their ``ParallelIncremental`` has the same
int ``random_state`` (each candidate's seed is drawn from it; ``None`` draws a seed per
candidate). scikit-learn estimators, other losses or class weights, sparse blocks and
candidates of other seeds train one at a time, as before. A stacked model, and so its
scores, has the bits of the one trained alone with the compiled kernel (the default), and
equals it to float rounding with the numpy one (``daskpar.adaptive-kernel``). The dask
setting ``daskpar.stack-candidates`` (default True) set to False trains and scores every
candidate alone.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from dask import config
from sklearn import config_context
from sklearn.base import BaseEstimator

from .._adaptive._stacked import partition_states_together, scored_together, stack_key
from .._graph import broadcast, reduce_partitions
from .._pass import (
    DataCheck,
    PassPlan,
    PassResult,
    fit_partition,
    partition_seed,
    transform_block,
    update_models,
)
from .._states import StateTuple, TrialState, Weighted
from .._validation import check_training_block
from ..errors import PartitionError
from ..metrics._scorer import scorer_partition

__all__ = ["STACK_KEY", "Stacks", "candidate_stacks", "fit_stacked_partition", "run_stacked_pass"]

#: The dask setting that trains stackable candidates together (True, the default) or every
#: candidate alone (False). Read on the client, when a pass is planned.
STACK_KEY = "daskpar.stack-candidates"


@dataclass(frozen=True)
class Stacks:
    """The models of one pass that train together, and those that are scored together."""

    train: tuple[tuple[int, ...], ...] = ()
    score: tuple[tuple[int, ...], ...] = ()

    def __bool__(self) -> bool:
        return bool(self.train or self.score)


def candidate_stacks(
    plan: PassPlan,
    models: Sequence[BaseEstimator | None],
    train: frozenset[int],
    score: frozenset[int],
) -> Stacks:
    """The models of ``train`` that train together, and of ``score`` that are scored
    together, in stacks of two or more.

    A stack's models are of one fold and scaler setting, with equal
    :func:`~daskpar._adaptive._stacked.stack_key`; those that train together are also
    seeded alike. None with ``daskpar.stack-candidates`` False.
    """
    if not config.get(STACK_KEY, True):
        return Stacks()
    trained: dict[Any, list[int]] = {}
    scored: dict[Any, list[int]] = {}
    for j in sorted(train | score):
        key = stack_key(models[j])
        if key is None:
            continue
        spec = plan.models[j]
        if j in train:
            seed = plan.base_seeds[spec.candidate]
            trained.setdefault((spec.fold, spec.config, seed, key), []).append(j)
        if j in score:
            scored.setdefault((spec.fold, spec.config, key), []).append(j)
    return Stacks(
        tuple(tuple(js) for js in trained.values() if len(js) > 1),
        tuple(tuple(js) for js in scored.values() if len(js) > 1),
    )


def fit_stacked_partition(
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
    stacks: Stacks,
    check: DataCheck | None = None,
) -> StateTuple:
    """:func:`~daskpar._pass.fit_partition` with the ``stacks`` trained and scored together
    (the ``search-block`` task of a search with stacks).

    The training stacks whose fold trains on this block take one stacked pass each, and the
    scoring stacks whose fold validates on it one check of the rows they predict; the other
    models go through ``fit_partition``, on the same block, which is checked once for all. A
    stack whose training raises is trained again one model at a time, so that a failure is
    the model's own, as without stacks. Each stacked model is charged an equal share of its
    stack's seconds.
    """
    block = block_id[0]
    learns = sample_weight is None or bool(np.any(sample_weight))
    fitting, scoring = [], []
    if X.shape[0] and X_val is None:
        for stack in stacks.train if learns else ():
            if block in plan.folds[plan.models[stack[0]].fold][0]:
                fitting.append(stack)
        for stack in stacks.score:
            if block in plan.folds[plan.models[stack[0]].fold][1]:
                scoring.append(stack)
    alone_train = train - {j for stack in fitting for j in stack}
    alone_score = score - {j for stack in scoring for j in stack}
    result = fit_partition(
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
        train=alone_train,
        score=alone_score,
        check=check,
    )
    if not fitting and not scoring:
        return result
    states, digests = result.items
    items: list[TrialState | None] = list(states.items)
    if not _checked(plan, block, alone_train, alone_score):
        check_training_block(X, y, sample_weight, rows[0], block, classes=plan.classes)
    position = block if plan.positions is None else plan.positions[block]
    for stack in fitting:
        spec = plan.models[stack[0]]
        start = time.perf_counter()
        Xt = transform_block(X, scalers.get((spec.config, spec.fold), ()))
        seed = partition_seed(plan.base_seeds[spec.candidate], epoch, position)
        try:
            # The block was checked for all models; the parameters in the first epoch.
            with config_context(assume_finite=True, skip_parameter_validation=epoch > 0):
                fitted = partition_states_together(
                    _adaptive(models, stack),
                    Xt,
                    y,
                    classes=plan.classes,
                    seed=seed,
                    sample_weight=sample_weight,
                )
        except PartitionError:
            raise
        except Exception:
            # One model at a time: the failing model's own error (or error_score).
            alone = fit_partition(
                X,
                y,
                sample_weight,
                None,
                None,
                rows,
                block_id,
                plan=plan,
                models=models,
                scalers=scalers,
                epoch=epoch,
                train=frozenset(stack),
                score=frozenset(),
            )
            for j in stack:
                items[j] = alone.items[0].items[j]
            continue
        seconds = (time.perf_counter() - start) / len(stack)
        for j, state in zip(stack, fitted, strict=True):
            items[j] = TrialState(Weighted(state, any_weight=True), None, seconds)
    for stack in scoring:
        spec = plan.models[stack[0]]
        start = time.perf_counter()
        Xt = transform_block(X, scalers.get((spec.config, spec.fold), ()))
        # The block was checked: its values are finite.
        with config_context(assume_finite=True):
            answering = scored_together(_adaptive(models, stack), Xt)
            scores = [
                StateTuple(
                    tuple(
                        scorer_partition(
                            Xt, y, sample_weight, rows, block_id, scorer=s, model=model
                        )
                        for s in plan.scorers
                    )
                )
                for model in answering
            ]
        seconds = (time.perf_counter() - start) / len(stack)
        for j, states_j in zip(stack, scores, strict=True):
            item = items[j]
            if item is None:
                items[j] = TrialState(None, states_j, 0.0, seconds)
            elif item.error is None:  # a model whose fit failed here is not scored
                items[j] = TrialState(item.fit, states_j, item.fit_seconds, seconds)
    return StateTuple((StateTuple(tuple(items)), digests))


def _adaptive(models: Sequence[BaseEstimator | None], stack: tuple[int, ...]) -> list[Any]:
    """A stack's models (adaptive learners: :func:`candidate_stacks` stacks no other)."""
    return [models[j] for j in stack]


def _checked(plan: PassPlan, block: int, train: frozenset[int], score: frozenset[int]) -> bool:
    """Whether ``fit_partition`` checked the block: whether it had a model to fit or score."""
    for j in train | score:
        train_blocks, test_blocks = plan.folds[plan.models[j].fold]
        if (j in train and block in train_blocks) or (j in score and block in test_blocks):
            return True
    return False


def run_stacked_pass(
    X: Any,
    y: Any,
    *,
    plan: PassPlan,
    models: Sequence[BaseEstimator | None],
    scalers: Mapping[tuple[int, int], Sequence[Any]],
    epoch: int,
    train: frozenset[int],
    score: frozenset[int],
    stacks: Stacks,
    split_every: int | None,
    check: DataCheck | None = None,
) -> PassResult:
    """:func:`daskpar._pass.run_pass` of a search, with :func:`fit_stacked_partition` as the
    block task (stages ``search-block``, ``-merge``, ``-final``)."""
    pass_kwargs = {"epoch": epoch, "train": train, "score": score}
    out: PassResult = reduce_partitions(
        fit_stacked_partition,
        X,
        y,
        None,
        None,
        None,
        finalize=update_models,
        stage="search",
        split_every=split_every,
        task_kwargs={
            "plan": broadcast(plan, "pass-plan"),
            "models": broadcast(list(models), "models"),
            "scalers": broadcast(dict(scalers), "scalers"),
            "stacks": stacks,
            **({} if check is None else {"check": broadcast(check, "data-check")}),
            **pass_kwargs,
        },
        finalize_kwargs={"plan": plan, "models": list(models), **pass_kwargs},
    )
    return out
