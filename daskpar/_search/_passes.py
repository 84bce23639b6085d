"""The search's passes over the data: the leading steps' prepare passes, then one per epoch.

:func:`fit_leading_steps` fits every distinct setting of the leading steps (scalers, and a
PCA) on every fold's training blocks, one pass per step: the ``i``-th pass reads each block
once and computes, for every fold that trains on it, the state of every distinct
:func:`~daskpar._search._candidates.state_key` of step ``i`` (of the block through the
steps before, fitted in the earlier passes). Settings that differ only in a PCA's
``n_components`` or ``whiten`` share one state (the factor of the centred rows), and each
candidate's PCA is finalized from it on the client, so a grid of ``n_components`` costs one
pass in all. Then :class:`SearchPasses` drives :func:`~daskpar._pass.run_epochs`
over every (candidate, fold) model: each pass trains the models still in and scores those the
previous pass trained; the driver keeps their latest scores and times, takes the
:class:`~daskpar._search._results.Snapshot` of every pass that scores, and writes the
search's checkpoint.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from numbers import Integral
from typing import Any

import dask.array as da
import numpy as np
from sklearn.base import clone

from .._checkpoint import Checkpoint, plain, records
from .._decomposition import PCA, pca_fit_partition, pca_float_dtype, pca_from_state
from .._graph import broadcast, reduce_partitions
from .._incremental import ParallelIncremental
from .._pass import (
    EpochDriver,
    FirstPassCheck,
    ModelUpdate,
    PassPlan,
    prepare_partition,
    prepared_attributes,
    run_pass,
    transform_block,
)
from .._preprocessing import scaler_fit_plan, set_scaler_fitted
from .._sklearn_compat import validate_estimator_params
from ..errors import InputError
from ..metrics import Scorer
from ._candidates import Folds, state_key
from ._results import Snapshot
from ._stacked import candidate_stacks, run_stacked_pass

__all__ = ["PCAStatePlan", "SearchPasses", "Setup", "fit_leading_steps"]


@dataclass(frozen=True, eq=False)
class Setup:
    """One search's checked input, candidates and pass plan: what ``fit`` works from."""

    X: da.Array
    y: da.Array
    candidates: list[dict[str, Any]]
    models: list[ParallelIncremental]  # per candidate
    plan: PassPlan
    fitted: dict[tuple[int, int], tuple[Any, ...]]  # leading steps per (setting, fold)
    epochs: list[int]  # per candidate
    scorers: dict[str, Scorer]
    refit_name: str | None  # the metric that ranks candidates
    failed: dict[int, str]  # model -> why its fit failed (filled in as the passes go)
    checkpoint: Checkpoint | None = None
    saved: dict[str, Any] | None = None  # the checkpoint's state, when resuming
    table: tuple[Any, Any] | None = None  # the DataFrame and y, for a ColumnTransformer step


@dataclass(frozen=True)
class PCAStatePlan:
    """A PCA step's share of a prepare pass (a :class:`~daskpar._pass.ScalerFitPlan`): one
    block's :class:`~daskpar._decomposition.CentredFactor` (by PCA's own block task body,
    :func:`~daskpar._decomposition.pca_fit_partition`, inside ``prepare-block``), and the
    merged factor itself, from which every candidate's PCA is finalized on the client
    (:func:`~daskpar._decomposition.pca_from_state`)."""

    def partition_state(
        self, X: np.ndarray, rows: tuple[slice, ...], block_id: tuple[int, ...]
    ) -> Any:
        return pca_fit_partition(X, rows, block_id)

    def attributes(self, state: Any) -> dict[str, Any]:
        return {"state": state}


def fit_leading_steps(
    X: da.Array,
    y: da.Array,
    configs: list[list[Any]],
    folds: Folds,
    *,
    find_labels: bool,
    split_every: int | None,
    first: Sequence[Any] | None = None,
) -> tuple[dict[tuple[int, int], tuple[Any, ...]], np.ndarray | None]:
    """Fit every setting of the leading steps on every fold's training blocks: one pass per
    step, whatever the number of settings.

    In pass ``i``, each (setting, fold) pair whose step ``i`` has the same
    :func:`~daskpar._search._candidates.state_key` as another's in the same fold shares its
    state: the task computes it once, and the tree merges it once. A scaler is then set from
    the merged state; a PCA is finalized from it with each setting's ``n_components`` and
    ``whiten``. ``first`` holds, per fold, a fitted step that comes before every setting's
    steps (a ColumnTransformer's :class:`~daskpar._search._candidates.FoldColumns`). The
    first pass also finds the class labels when asked.
    """
    for config in configs:
        for scaler in config:
            validate_estimator_params(scaler)
    fitted: dict[tuple[int, int], tuple[Any, ...]] = (
        {}
        if first is None
        else {(c, k): (step,) for c in range(len(configs)) for k, step in enumerate(first)}
    )
    labels = None
    n_steps = max((len(c) for c in configs), default=0)
    for step in range(max(n_steps, int(find_labels))):
        # One state per (state key, fold), computed for its first (setting, fold) pair.
        shared: dict[tuple[str, int], tuple[int, int]] = {}
        unit_of: dict[tuple[int, int], tuple[int, int]] = {}
        for c, config in enumerate(configs):
            if len(config) <= step:
                continue
            key = state_key(config, step)
            for k in range(len(folds)):
                unit_of[(c, k)] = shared.setdefault((key, k), (c, k))
        pairs = list(shared.values())
        seen = {
            pair: transform_block(np.zeros((1, X.shape[1]), dtype=X.dtype), fitted.get(pair, ()))
            for pair in unit_of
        }
        plans: list[Any] = []
        for c, config in enumerate(configs):
            if len(config) <= step:
                plans.append(None)
            elif isinstance(config[step], PCA):
                plans.append(PCAStatePlan())
            else:
                plans.append(scaler_fit_plan(config[step], seen[(c, 0)].dtype))
        found, attributes = reduce_partitions(
            prepare_partition,
            X,
            y,
            finalize=prepared_attributes,
            stage="prepare",
            split_every=split_every,
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
        merged = dict(zip(pairs, attributes, strict=True))
        for (c, k), unit in unit_of.items():
            attrs = merged[unit]
            if isinstance(configs[c][step], PCA):
                fitted_step = pca_from_state(
                    configs[c][step],
                    attrs["state"],
                    float_dtype=pca_float_dtype(seen[(c, k)].dtype),
                )
                _check_components(fitted_step, k)
            else:
                fitted_step = clone(configs[c][step])
                # What this scaler reads: X through the pair's earlier steps.
                set_scaler_fitted(fitted_step, attrs, seen[(c, k)])
            fitted[(c, k)] = (*fitted.get((c, k), ()), fitted_step)
    if find_labels and (labels is None or len(labels) < 2):
        found = [] if labels is None else labels.tolist()
        raise InputError(f"y must hold at least 2 classes; found {found}.")
    return fitted, labels


def _check_components(pca: PCA, fold: int) -> None:
    """Refuse a PCA with more components than its fold gave (known only once fitted for a
    DataFrame of unknown partition lengths; checked on the client before any task else)."""
    most = min(pca.n_samples_, pca.n_features_in_)
    if isinstance(pca.n_components, Integral) and pca.n_components > most:
        raise InputError(
            f"n_components={pca.n_components} of the PCA step is more than fold {fold} "
            f"gives: min(n_samples, n_features)={most}. Choose n_components <= {most}, a "
            "float in (0, 1) or None."
        )


class SearchPasses(EpochDriver):
    """The passes of one search, for :func:`run_epochs`: every candidate on every fold.

    A model trained in one pass is scored in the next; a model whose fit fails trains no more
    and scores ``error_score``; after a pass that scores, ``after_scores`` (the search's
    ``_after_scores`` hook: halving's) may choose the candidates that go on, which makes the
    pass one of the search's ``rounds``.
    """

    def __init__(
        self,
        setup: Setup,
        current: list[Any],
        *,
        error_score: str | float,
        split_every: int | None,
        after_scores: Callable[[Snapshot, int | None], set[int] | None],
    ) -> None:
        self.setup, self.plan, self.current = setup, setup.plan, current
        self.split_every, self.after_scores = split_every, after_scores
        n, n_metrics = len(setup.plan.models), len(setup.plan.scorers)
        self.active = set(range(len(setup.models)))
        raising = error_score == "raise"
        self.failure_score = () if raising else (float(error_score),) * n_metrics
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
        stacks = candidate_stacks(setup.plan, self.current, train, score)
        if stacks:
            result = run_stacked_pass(
                setup.X,
                setup.y,
                plan=setup.plan,
                models=self.current,
                scalers=setup.fitted,
                epoch=epoch,
                train=train,
                score=score,
                stacks=stacks,
                split_every=self.split_every,
                check=self.data_check.take(),
            )
        else:
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
                split_every=self.split_every,
                stage="search",
                check=self.data_check.take(),
            )
        return self.data_check.keep(result)

    def finish(self) -> None:
        """Check the blocks against the checkpoint's digests if no pass has (a finished
        search's rerun): one read of every block, before its results are returned."""
        self.data_check.finish(self.setup.X, self.setup.y, None, None, split_every=self.split_every)

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
            snapshot = _snapshot(
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
            keep = self.after_scores(snapshot, self.metric)
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
