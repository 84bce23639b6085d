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
    """

    sums: SumState
    scale: np.ndarray  # (n_features,)

    def combine(self, other: AdaptiveState, /) -> AdaptiveState:
        return AdaptiveState(self.sums.combine(other.sums), np.fmax(self.scale, other.scale))
