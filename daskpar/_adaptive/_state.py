"""The adaptive learner's mergeable state: what ``ParallelIncremental`` reduces over the
partitions; ``daskpar._families.AdaptiveFamily`` builds and finalizes it."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._states import SumState

__all__ = ["AdaptiveState"]


@dataclass(frozen=True, eq=False)
class AdaptiveState:
    """One partition's adaptive learner: weighted sums, and the largest ``|x|`` of each feature.

    ``sums`` holds what averages or adds across partitions (see
    ``daskpar._families.AdaptiveFamily``); ``scale`` is the per-feature maximum of ``|x|``,
    which merges exactly, by maximum.

    Its size depends on the features and outputs only, never on the rows or, for sparse
    blocks, on their non-zeros (the state is the dense weights and accumulators of the
    whole, possibly hashed, feature space). With ``d`` features, ``k`` outputs (1 for a
    binary classifier and the regressor, else the number of classes), ``r`` = 1 for the
    regressor (0 for the classifier) and ``b`` the bytes of the training dtype (4 or 8),
    the pickled state holds

    - the sums, float64: ``8 * (k d + k + k (d + 1) + 2 + 2 r + d)`` (weights, intercepts,
      squared gradients, counters with ``sum_weight * mean_``);
    - the prototype estimator's fitted arrays: ``b * (k d + k + k (d + 1) + d)``
      (``coef_``, ``intercept_``, ``squared_gradients_``, ``scale_``) plus
      ``8 * (d + 2 r)`` (``mean_``, ``target_sums_``);
    - the scale, float64: ``8 d``;

    about ``8 (2 k + 3) d + b (2 k + 1) d`` bytes, plus a constant for pickle's framing.
    A task training on a block holds this state, the starting model, the pass's working
    copies of its weights, squared gradients and scale and the squared scale (``b (2 k + 2)
    d`` more), for sparse blocks a column marker and, with ``alpha > 0``, the lazy
    penalty's last batch per feature (``4 d`` each), and, per mini-batch,
    ``O(nnz + u k)`` for a sparse batch touching ``u`` features (``O(rows * d)`` for a dense
    one). Measured: a float32 binary ``partial_fit`` on 2,500 rows of 2**22 features peaks
    at 190 MB, 84 MB of it the fitted arrays; the rows made dense would be 42 GB.
    """

    sums: SumState
    scale: np.ndarray  # (n_features,)

    def combine(self, other: AdaptiveState, /) -> AdaptiveState:
        return AdaptiveState(self.sums.combine(other.sums), np.fmax(self.scale, other.scale))
