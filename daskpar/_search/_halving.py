"""Successive halving across epochs: the search that keeps the best candidates after each.

:class:`HalvingSearchCV` is :class:`BaseSearch` with its hooks set: after every pass that
scores, ``_after_scores`` keeps the best ``1 / factor`` of the candidates (a round, one of
scikit-learn's iterations); ``_results`` gives ``cv_results_`` one row per iteration and
candidate, and ``_best_index`` picks the best of the last iteration, as scikit-learn's halving
searches do.
"""

from __future__ import annotations

import math
import os
from numbers import Integral, Real
from typing import Any, ClassVar

import numpy as np
from sklearn.model_selection import ParameterGrid, ParameterSampler

from .._sklearn_compat import Interval
from ..errors import InputError
from ._base import SEARCH_ATTRIBUTES_DOC, SEARCH_PARAMS_DOC, BaseSearch
from ._results import Snapshot, format_results

__all__ = ["HalvingSearchCV"]


class HalvingSearchCV(BaseSearch):
    __doc__ = (
        """Successive halving across epochs: after each epoch, keep the best 1/``factor``.

    All remaining candidates and folds train together as in :class:`GridSearchCV`. After
    every epoch the candidates are ranked by their mean validation score and only the best
    ``ceil(n_remaining / factor)`` train on; the search ends when one candidate is left or
    the ParallelIncremental's ``epochs`` are used up. Because a pass's validation blocks
    score the previous epoch's models (one read per epoch), the ranking after epoch ``e``
    arrives during epoch ``e + 1``: the candidates dropped then have trained that one more
    epoch for nothing.

    Parameters
    ----------
    estimator : ParallelIncremental or Pipeline
        A ParallelIncremental, or a Pipeline of daskpar scalers and at most one exact
        :class:`~daskpar.PCA` followed by one; every ``n_components`` of the PCA is fitted
        from one pass per fold, as in :class:`GridSearchCV`.
    param_grid : dict or list of dicts
        The candidates (a grid), or distributions to sample ``n_candidates`` from.
    factor : int, default=3
        Keep the best ``1 / factor`` of the candidates after each epoch.
    n_candidates : int, default=None
        Sample this many candidates from ``param_grid`` (as RandomizedSearchCV) instead of
        taking the whole grid.
"""
        + SEARCH_PARAMS_DOC
        + SEARCH_ATTRIBUTES_DOC
        + """
    n_candidates_ : list of int
        Candidates scored at each iteration (epoch).
    n_remaining_candidates_ : int
        Candidates kept after the last iteration.
    n_iterations_ : int
    n_resources_ : list of int
        Epochs each iteration's candidates had trained. ``cv_results_`` has one row per
        candidate and iteration, with ``iter`` and ``n_resources`` columns, as scikit-learn's
        halving searches; the best candidate is the best of the last iteration.
    """
    )

    # Model files (persist's trusted names, part of the file format) and pickles name the
    # class by its module: the package it is imported from, where it was defined before.
    __module__ = "daskpar._search"

    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        **BaseSearch._parameter_constraints,
        "param_grid": [dict, list],
        "factor": [Interval(Real, 1, None, closed="neither")],
        "n_candidates": [Interval(Integral, 1, None, closed="left"), None],
    }

    def __init__(
        self,
        estimator: Any,
        param_grid: dict[str, Any] | list[dict[str, Any]],
        *,
        factor: float = 3,
        n_candidates: int | None = None,
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
        super().__init__(
            estimator,
            scoring=scoring,
            cv=cv,
            refit=refit,
            shuffle=shuffle,
            random_state=random_state,
            max_trials=max_trials,
            split_every=split_every,
            verbose=verbose,
            error_score=error_score,
            checkpoint=checkpoint,
            retries=retries,
        )
        self.param_grid = param_grid
        self.factor = factor
        self.n_candidates = n_candidates

    def _n_candidates(self) -> int:
        if self.n_candidates is not None:
            return self.n_candidates
        return len(ParameterGrid(self.param_grid))

    def _candidates(self) -> list[dict[str, Any]]:
        if self.n_candidates is not None:
            return list(
                ParameterSampler(self.param_grid, self.n_candidates, random_state=self.random_state)
            )
        return list(ParameterGrid(self.param_grid))

    def fit(self, X: Any, y: Any, *, classes: Any = None) -> HalvingSearchCV:
        """Train the candidates on every fold together, halving them after every epoch.

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
        self : HalvingSearchCV
            The fitted search.
        """
        if self._scoring_is_multi() and not isinstance(self.refit, str):
            raise InputError(
                "HalvingSearchCV ranks candidates by one metric: with several metrics, set "
                "refit to the name of that metric."
            )
        super().fit(X, y, classes=classes)
        return self

    def _after_scores(self, snapshot: Snapshot, metric: int | None) -> set[int] | None:
        """The best ``1 / factor`` of the candidates ``snapshot`` scored: a round."""
        assert metric is not None
        means = snapshot.means(metric)
        # scikit-learn's rule (``_top_k``): stable order by mean score, NaN lowest.
        ordered = sorted(means, key=lambda c: -np.inf if np.isnan(means[c]) else means[c])
        return set(ordered[-math.ceil(len(means) / self.factor) :])

    def _results(
        self,
        candidates: list[dict[str, Any]],
        test_scores: dict[str, np.ndarray],
        fit_times: np.ndarray,
        score_times: np.ndarray,
        rounds: list[Snapshot],
    ) -> dict[str, Any]:
        """One row per (iteration, candidate scored in it), as scikit-learn's halving searches:
        the iterations are the search's ``rounds``."""
        names = list(test_scores)
        rows = [(i, c) for i, snap in enumerate(rounds) for c in sorted(snap.scores)]
        results = format_results(
            [candidates[c] for _, c in rows],
            {
                name: np.array([rounds[i].scores[c][m] for i, c in rows])
                for m, name in enumerate(names)
            },
            np.array([rounds[i].fit_times[c] for i, c in rows]),
            np.array([rounds[i].score_times[c] for i, c in rows]),
        )
        results["iter"] = np.array([i for i, _ in rows])
        results["n_resources"] = np.array([rounds[i].epochs for i, _ in rows])
        self.n_iterations_ = len(rounds)
        self.n_candidates_ = [len(snap.scores) for snap in rounds]
        self.n_resources_ = [snap.epochs for snap in rounds]
        self.n_remaining_candidates_ = math.ceil(self.n_candidates_[-1] / self.factor)
        return results

    def _best_index(self, name: str) -> int:
        """The best candidate of the last iteration, as scikit-learn's halving searches."""
        last = np.flatnonzero(self.cv_results_["iter"] == self.cv_results_["iter"].max())
        means = self.cv_results_[f"mean_test_{name}"][last]
        return int(last[np.nanargmax(means)])
