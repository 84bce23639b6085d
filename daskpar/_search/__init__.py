"""Hyper-parameter search on the workers: every candidate and fold trained from one read per block.

A search of C candidates and K folds trains C x K models ("trials") together, in the passes
of :mod:`daskpar._pass`. Per epoch::

    block --fit_partition--> StateTuple (a TrialState per model) --combine--> ...
          --update_models--> every model's next state and scores

One task per block reads it once and, for every trial whose fold trains on the block, runs
``partial_fit`` on it; for every trial whose fold validates on it, the task scores the trial's
current model (the previous epoch's), so validation costs no extra read. The states merge
element-wise through one tree. The leading steps of a pipeline (scalers, and at most one
exact PCA) are fitted first, in one pass per step, once per distinct setting and fold; a PCA's
pass serves every ``n_components`` and ``whiten`` (one state per fold, each candidate's PCA
finalized from it on the client). A last pass scores the final models.

Folds are whole row blocks: ``cv=K`` puts every non-empty block in exactly one validation fold.

Candidates of the native learner (:class:`~daskpar.AdaptiveSGDClassifier`,
:class:`~daskpar.AdaptiveSGDRegressor`) that share a mini-batch order (one int
``random_state`` of their ``ParallelIncremental``, the same ``shuffle``, ``batch_size``,
loss, class weights and leading steps, so the same PCA width) and differ only in ``alpha``
and ``learning_rate`` train as one stacked weight matrix per fold and block, with the same
bits as alone, and are scored after one check of the block (``_stacked``); scikit-learn's
estimators and every other candidate train one at a time. The dask setting
``daskpar.stack-candidates=False`` trains every candidate alone.

The package reads as the flow of ``fit`` (the public names are imported here):
``_candidates`` (the candidates, folds and scorers, checked on the client), ``_passes`` (the
leading steps' prepare passes and the epoch driver), ``_stacked`` (the block task that trains
and scores the stackable candidates together), ``_results`` (the scores of each pass and
``cv_results_``), ``_base`` (the searches' shared estimator), ``_grid`` (GridSearchCV and
RandomizedSearchCV) and ``_halving`` (HalvingSearchCV).
"""

from __future__ import annotations

from ._grid import GridSearchCV, RandomizedSearchCV
from ._halving import HalvingSearchCV

__all__ = ["GridSearchCV", "HalvingSearchCV", "RandomizedSearchCV"]
