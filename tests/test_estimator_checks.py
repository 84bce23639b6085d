"""scikit-learn's estimator checks on ParallelIncremental with numpy input.

Every check passes; none is marked as an expected failure. (The few that scikit-learn itself
skips are its array-API checks, which need SCIPY_ARRAY_API set.)
"""

from __future__ import annotations

from typing import Any

from sklearn.linear_model import SGDClassifier, SGDRegressor
from sklearn.utils.estimator_checks import parametrize_with_checks

import daskpar as dp


@parametrize_with_checks(
    [dp.ParallelIncremental(SGDClassifier()), dp.ParallelIncremental(SGDRegressor())]
)
def test_sklearn_compatible(estimator: Any, check: Any) -> None:
    check(estimator)
