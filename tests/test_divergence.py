"""Divergence: non-finite parameters stop the fit with an error naming the epoch; the last
finite model stays on the estimator; a search scores a diverging candidate as a failed fit."""

from __future__ import annotations

import warnings
from typing import Any

import dask.array as da
import numpy as np
import pytest
from daskpar_testing import as_dask
from sklearn.exceptions import FitFailedWarning
from sklearn.linear_model import SGDClassifier, SGDRegressor

import daskpar as dp


@pytest.fixture(scope="module")
def linear() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(4000, 5))
    return X, X @ np.arange(1.0, 6.0)


def test_a_partition_that_overflows_names_epoch_and_partition(
    linear: tuple[np.ndarray, np.ndarray],
) -> None:
    X, y = linear
    X = X.copy()
    X[2000:3000] *= 1e150  # one partition in another unit
    model = dp.ParallelIncremental(SGDRegressor(random_state=0), epochs=2, random_state=0)
    with pytest.raises(dp.DivergenceError) as info:
        model.fit(*as_dask(X, y, 1000))
    message = str(info.value)
    assert "diverged in epoch 1" in message
    assert "partition 2 (rows 2000 to 2999)" in message
    assert "StandardScaler" in message
    assert "eta0" in message
    assert not hasattr(model, "estimator_")  # no epoch ended with a finite model


def test_merge_that_overflows(linear: tuple[np.ndarray, np.ndarray]) -> None:
    """Every partition's model is finite, their weighted sum is not."""
    X, y = linear
    model = dp.ParallelIncremental(SGDClassifier(random_state=0), random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # numpy's overflow warning
        with pytest.raises(dp.DivergenceError, match=r"epoch 1: after merging .* coef_ holds"):
            model.fit(*as_dask(X * 1e305, y > 0, 1000))


def data_that_changes_after(epochs: int, X: np.ndarray, y: np.ndarray) -> tuple[Any, Any]:
    """X whose blocks are X for ``epochs`` passes, then 1e150 times larger (a store rewritten
    under a running fit, or a unit changed upstream): the fit diverges in the next epoch."""
    reads: dict[int, int] = {}

    def read(block: np.ndarray, block_info: Any = None) -> np.ndarray:
        i = block_info[0]["chunk-location"][0]
        reads[i] = reads.get(i, 0) + 1
        return block if reads[i] <= epochs else block * 1e150

    Xd, yd = as_dask(X, y, 1000)
    return Xd.map_blocks(read, dtype=Xd.dtype), yd


def test_the_last_finite_model_is_kept(linear: tuple[np.ndarray, np.ndarray]) -> None:
    X, y = linear

    def model(epochs: int) -> dp.ParallelIncremental:
        return dp.ParallelIncremental(SGDRegressor(random_state=0), epochs=epochs, random_state=0)

    two = model(2).fit(*as_dask(X, y, 1000))
    diverging = model(5)
    with pytest.raises(dp.DivergenceError) as info:
        diverging.fit(*data_that_changes_after(2, X, y))
    assert "diverged in epoch 3" in str(info.value)
    assert "estimator_ is the model of epoch 2, the last finite one" in str(info.value)
    np.testing.assert_array_equal(diverging.estimator_.coef_, two.estimator_.coef_)
    assert [r["epoch"] for r in diverging.history_] == [1, 2]
    assert np.isfinite(diverging.predict(X[:10])).all()


def test_search_scores_a_diverging_candidate_as_a_failed_fit(
    linear: tuple[np.ndarray, np.ndarray],
) -> None:
    X, y = linear
    Xd, yd = as_dask(X, y, 500)
    sgd = SGDRegressor(learning_rate="constant", random_state=0)
    grid = {"estimator__eta0": [1e-3, 1e300]}
    search = dp.GridSearchCV(dp.ParallelIncremental(sgd, random_state=0), grid, cv=2)
    with pytest.warns(FitFailedWarning, match="DivergenceError"):
        search.fit(Xd, yd)
    scores = search.cv_results_["mean_test_score"]
    assert np.isfinite(scores[0])
    assert np.isnan(scores[1])
    assert search.best_params_ == {"estimator__eta0": 1e-3}
    raising = dp.GridSearchCV(
        dp.ParallelIncremental(sgd, random_state=0), grid, cv=2, error_score="raise"
    )
    with pytest.raises(dp.DivergenceError, match="diverged in epoch 1"):
        raising.fit(Xd, yd)


def test_retries_need_a_distributed_cluster(linear: tuple[np.ndarray, np.ndarray]) -> None:
    X, y = linear
    model = dp.ParallelIncremental(SGDRegressor(), retries=2)
    with pytest.raises(dp.InputError, match=r"retries=2 needs a distributed cluster"):
        model.fit(da.from_array(X, chunks=(1000, -1)), da.from_array(y, chunks=1000))


def test_with_early_stopping_the_best_model_is_kept(
    linear: tuple[np.ndarray, np.ndarray],
) -> None:
    X, y = linear
    model = dp.ParallelIncremental(
        SGDRegressor(random_state=0),
        epochs=6,
        random_state=0,
        validation_fraction=0.25,
        early_stopping=True,
        n_iter_no_change=5,
    )
    with pytest.raises(dp.DivergenceError, match="the best validated one"):
        model.fit(*data_that_changes_after(3, X, y))
    scores = {r["epoch"]: r.get("validation_score") for r in model.history_}
    best = max((s, -e) for e, s in scores.items() if s is not None)
    assert model.best_epoch_ == -best[1]
    assert np.isfinite(model.estimator_.coef_).all()
