"""On a real multi-process LocalCluster: same bits as the local schedulers, readable errors."""

from __future__ import annotations

import time
from typing import Any

import dask
import numpy as np
import pytest
from daskpar_testing import as_dask
from distributed import Client, LocalCluster
from sklearn.linear_model import SGDClassifier
from sklearn.naive_bayes import GaussianNB

import daskpar as dp


def _executed_count(dask_worker: Any) -> int:
    return int(dask_worker.state.executed_count)


def _fit(X: object, y: object) -> np.ndarray:
    model = dp.ParallelIncremental(SGDClassifier(loss="log_loss"), epochs=2, random_state=7)
    return model.fit(X, y).estimator_.coef_  # type: ignore[no-any-return]


@pytest.mark.slow
def test_same_model_bits_on_one_and_two_workers(
    cluster: LocalCluster, multiclass: tuple[np.ndarray, np.ndarray]
) -> None:
    Xd, yd = as_dask(*multiclass, 500)
    with dask.config.set(scheduler="sync"):
        reference = _fit(Xd, yd)
    with Client(cluster) as client:
        assert len(client.scheduler_info()["workers"]) == 2
        on_two = _fit(Xd, yd)
        # Tasks really ran in both worker processes.
        executed = client.run(_executed_count)
        assert len(executed) == 2
        assert all(n > 0 for n in executed.values())
        cluster.scale(1)
        while len(client.scheduler_info()["workers"]) > 1:
            time.sleep(0.1)
        on_one = _fit(Xd, yd)
        cluster.scale(2)
        client.wait_for_workers(2)
    np.testing.assert_array_equal(on_two, reference)
    np.testing.assert_array_equal(on_one, reference)


def test_exact_fit_and_scores_on_the_cluster(
    cluster: LocalCluster, multiclass: tuple[np.ndarray, np.ndarray]
) -> None:
    X, y = multiclass
    Xd, yd = as_dask(X, y, 700)
    with Client(cluster):
        model = dp.ParallelIncremental(GaussianNB()).fit(Xd, yd)
        score = model.score(Xd, yd)
    ref = GaussianNB().fit(X, y)
    np.testing.assert_allclose(model.estimator_.theta_, ref.theta_, rtol=1e-10)
    assert score == pytest.approx(ref.score(X, y), abs=1e-12)


def test_partition_error_comes_back_readable(
    cluster: LocalCluster, binary: tuple[np.ndarray, np.ndarray]
) -> None:
    X, y = binary
    X = X.copy()
    X[1500, 0] = np.nan
    with (
        Client(cluster),
        pytest.raises(dp.PartitionError, match=r"partition 1 \(rows 1000 to 1999\)"),
    ):
        dp.ParallelIncremental(SGDClassifier()).fit(*as_dask(X, y, 1000))


def test_search_on_the_cluster_equals_sync(
    cluster: LocalCluster, binary: tuple[np.ndarray, np.ndarray]
) -> None:
    """Every trial's scores are the same bits on two worker processes as in one thread."""
    from sklearn.pipeline import make_pipeline

    Xd, yd = as_dask(*binary, 500)

    def search() -> Any:
        pipe = make_pipeline(
            dp.StandardScaler(),
            dp.ParallelIncremental(SGDClassifier(), epochs=2, random_state=0),
        )
        grid = {"parallelincremental__estimator__alpha": [1e-4, 1e-2]}
        return dp.GridSearchCV(pipe, grid, cv=3, refit=False).fit(Xd, yd)

    with dask.config.set(scheduler="sync"):
        reference = search()
    with Client(cluster):
        distributed = search()
    for k in range(3):
        key = f"split{k}_test_score"
        np.testing.assert_array_equal(distributed.cv_results_[key], reference.cv_results_[key])
