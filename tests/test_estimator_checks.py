"""scikit-learn's estimator checks on ParallelIncremental with numpy input.

Every check passes but one, which scikit-learn expects to fail for the wrapped SGD models
themselves: per-sample SGD steps weighted by ``w`` are not the steps of ``w`` repeated
samples. (The few checks scikit-learn skips are its array-API checks, which need
SCIPY_ARRAY_API set.)
"""

from __future__ import annotations

from typing import Any

from sklearn.linear_model import SGDClassifier, SGDRegressor
from sklearn.utils.estimator_checks import parametrize_with_checks

import daskpar as dp


def expected_failed_checks(estimator: Any) -> dict[str, str]:
    reason = (
        "as for scikit-learn's SGD models: sample_weight is not equivalent to "
        "removing/repeating samples"
    )
    return {
        "check_sample_weight_equivalence_on_dense_data": reason,
        "check_sample_weight_equivalence_on_sparse_data": reason,
    }


@parametrize_with_checks(
    [dp.ParallelIncremental(SGDClassifier()), dp.ParallelIncremental(SGDRegressor())],
    expected_failed_checks=expected_failed_checks,
)
def test_sklearn_compatible(estimator: Any, check: Any) -> None:
    check(estimator)
