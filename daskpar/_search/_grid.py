"""The searches that train every candidate to the end: a grid, or settings sampled from it.

:class:`GridSearchCV` takes scikit-learn's :class:`~sklearn.model_selection.ParameterGrid`,
:class:`RandomizedSearchCV` ``n_iter`` settings of its
:class:`~sklearn.model_selection.ParameterSampler`; the rest is :class:`BaseSearch`'s.
"""

from __future__ import annotations

import os
from numbers import Integral
from typing import Any, ClassVar

import numpy as np
from sklearn.model_selection import ParameterGrid, ParameterSampler

from .._sklearn_compat import Interval
from ._base import SEARCH_ATTRIBUTES_DOC, SEARCH_PARAMS_DOC, BaseSearch

__all__ = ["GridSearchCV", "RandomizedSearchCV"]


class GridSearchCV(BaseSearch):
    __doc__ = (
        """Exhaustive search over a parameter grid, every candidate and fold trained together.

    All candidates x folds are trained from the same read of each block per epoch: one task
    per block runs ``partial_fit`` for every model whose training folds include the block and
    scores every model whose validation fold is the block. Folds are whole row blocks.

    Parameters
    ----------
    estimator : ParallelIncremental or Pipeline
        A ParallelIncremental, or a Pipeline of daskpar scalers and at most one exact
        :class:`~daskpar.PCA` followed by one. Parameters use scikit-learn's nested names
        (``estimator__alpha``, ``parallelincremental__estimator__alpha``,
        ``standardscaler__with_mean``, ``pca__n_components``). Each leading step is fitted
        on every fold in one pass over the data for all its settings, the scalers' first; a
        PCA step's pass serves every ``n_components`` and ``whiten`` of the grid (its state,
        the factor of the centred rows, depends on neither; each candidate's PCA is
        finalized from it on the client). So the search over ``Pipeline(PCA,
        ParallelIncremental)`` reads the data ``1 + epochs + 1`` times (the PCA's pass, the
        epochs, the last scores), however many ``n_components``; a StandardScaler in front
        adds one pass. The refit fits the best Pipeline as its own ``fit`` does. The PCA's
        solver must be ``"full"`` (or ``"auto"`` up to 1,000 features): the randomized
        solver and TruncatedSVD are refused.
    param_grid : dict or list of dicts
        As scikit-learn's :class:`~sklearn.model_selection.ParameterGrid`.
"""
        + SEARCH_PARAMS_DOC
        + SEARCH_ATTRIBUTES_DOC
        + """
    Examples
    --------
    >>> import daskpar as dp
    >>> from sklearn.linear_model import SGDClassifier
    >>> X, y = dp.make_classification(n_samples=3000, n_features=5, n_clusters_per_class=1,
    ...                               chunks=500, random_state=0)
    >>> model = dp.ParallelIncremental(SGDClassifier(penalty="l1"), epochs=2, random_state=0)
    >>> search = dp.GridSearchCV(model, {"estimator__alpha": [1e-4, 1.0]}, cv=3).fit(X, y)
    >>> search.best_params_
    {'estimator__alpha': 0.0001}
    >>> search.cv_results_["rank_test_score"]
    array([1, 2], dtype=int32)
    """
    )

    # Model files (persist's trusted names, part of the file format) and pickles name the
    # class by its module: the package it is imported from, where it was defined before.
    __module__ = "daskpar._search"

    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        **BaseSearch._parameter_constraints,
        "param_grid": [dict, list],
    }

    def __init__(
        self,
        estimator: Any,
        param_grid: dict[str, Any] | list[dict[str, Any]],
        *,
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

    def _n_candidates(self) -> int:
        return len(ParameterGrid(self.param_grid))

    def _candidates(self) -> list[dict[str, Any]]:
        return list(ParameterGrid(self.param_grid))


class RandomizedSearchCV(BaseSearch):
    __doc__ = (
        """Search over ``n_iter`` sampled parameter settings, all trained together.

    As :class:`GridSearchCV`, with candidates drawn by scikit-learn's
    :class:`~sklearn.model_selection.ParameterSampler` (lists are sampled uniformly,
    ``scipy.stats`` distributions with their ``rvs``).

    Parameters
    ----------
    estimator : ParallelIncremental or Pipeline
        A ParallelIncremental, or a Pipeline of daskpar scalers and at most one exact
        :class:`~daskpar.PCA` followed by one; every sampled ``n_components`` of the PCA
        is fitted from one pass per fold, as in :class:`GridSearchCV`.
    param_distributions : dict or list of dicts
        Parameter names to lists or distributions.
    n_iter : int, default=10
        Number of candidates sampled.
"""
        + SEARCH_PARAMS_DOC
        + SEARCH_ATTRIBUTES_DOC
    )

    # Model files (persist's trusted names, part of the file format) and pickles name the
    # class by its module: the package it is imported from, where it was defined before.
    __module__ = "daskpar._search"

    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        **BaseSearch._parameter_constraints,
        "param_distributions": [dict, list],
        "n_iter": [Interval(Integral, 1, None, closed="left")],
    }

    def __init__(
        self,
        estimator: Any,
        param_distributions: dict[str, Any] | list[dict[str, Any]],
        *,
        n_iter: int = 10,
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
        self.param_distributions = param_distributions
        self.n_iter = n_iter

    def _n_candidates(self) -> int:
        return self.n_iter

    def _candidates(self) -> list[dict[str, Any]]:
        return list(
            ParameterSampler(self.param_distributions, self.n_iter, random_state=self.random_state)
        )
