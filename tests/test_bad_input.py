"""Every bad input gets a clear error; those visible from the client come before any task runs."""

from __future__ import annotations

import re

import dask
import dask.array as da
import numpy as np
import pytest
from daskpar_testing import as_dask, no_task_runs
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LinearRegression, SGDClassifier, SGDRegressor
from sklearn.utils._param_validation import InvalidParameterError

import daskpar as dp


@pytest.fixture
def data(binary: tuple[np.ndarray, np.ndarray]) -> tuple[da.Array, da.Array]:
    return as_dask(*binary, 1000)


def fit(X: object, y: object, **kw: object) -> dp.ParallelIncremental:
    return dp.ParallelIncremental(SGDClassifier(), random_state=0).fit(X, y, **kw)


def test_column_chunks(data: tuple[da.Array, da.Array]) -> None:
    X, y = data
    with no_task_runs(), pytest.raises(dp.InputError, match=re.escape("X.rechunk({1: -1})")):
        fit(X.rechunk((1000, 4)), y)


def test_unknown_chunk_sizes(data: tuple[da.Array, da.Array]) -> None:
    X, y = data
    keep = X[:, 0] > -100  # boolean indexing leaves the row counts unknown
    with no_task_runs(), pytest.raises(dp.InputError, match=r"compute_chunk_sizes\(\)"):
        fit(X[keep], y[keep])


def test_length_mismatch(data: tuple[da.Array, da.Array]) -> None:
    X, y = data
    with (
        no_task_runs(),
        pytest.raises(dp.InputError, match="different numbers of rows: 6000 and 5000"),
    ):
        fit(X, y[:5000])


def test_chunk_mismatch(data: tuple[da.Array, da.Array]) -> None:
    X, y = data
    with no_task_runs(), pytest.raises(dp.InputError, match=r"y.rechunk\(\{0: X.chunks\[0\]\}\)"):
        fit(X, y.rechunk(1500))


def test_non_numeric_X() -> None:
    X = da.from_array(np.array([["a", "b"]] * 10), chunks=(5, 2))
    with no_task_runs(), pytest.raises(dp.InputError, match="numeric dtype; got dtype <U1"):
        fit(X, da.zeros(10, chunks=5))


def test_one_dimensional_X(data: tuple[da.Array, da.Array]) -> None:
    X, y = data
    with no_task_runs(), pytest.raises(dp.InputError, match=r"2-D X; got a 1-D.*reshape\(-1, 1\)"):
        fit(X[:, 0], y)


@pytest.mark.parametrize(("bad", "word"), [(np.nan, "NaN"), (np.inf, "infinity")])
def test_non_finite_value_names_the_partition(
    binary: tuple[np.ndarray, np.ndarray], bad: float, word: str
) -> None:
    X, y = binary
    X = X.copy()
    X[2345, 3] = bad
    with pytest.raises(
        dp.PartitionError,
        match=rf"X holds {word} in partition 2 \(rows 2000 to 2999\), first at row 2345",
    ):
        fit(*as_dask(X, y, 1000))


def test_nan_in_regression_target(regression: tuple[np.ndarray, np.ndarray]) -> None:
    X, y = regression
    y = y.copy()
    y[10] = np.nan
    with pytest.raises(dp.PartitionError, match=r"y holds NaN in partition 0"):
        dp.ParallelIncremental(SGDRegressor()).fit(*as_dask(X, y, 1000))


def test_empty_partitions_are_skipped(binary: tuple[np.ndarray, np.ndarray]) -> None:
    X, y = binary
    model = fit(*as_dask(X, y, (0, 3000, 0, 0, 3000, 0)))
    # Seeds follow partition indices, so compare what must not change: samples seen and quality.
    assert model.estimator_.t_ == 1 + len(y)
    assert model.score(X, y) > 0.8
    # (The exact families are checked bit for bit with empty partitions in test_exact_families.)


def test_all_partitions_empty() -> None:
    X = da.zeros((0, 3), chunks=(0, 3))
    with pytest.raises(dp.InputError, match="empty"):
        dp.ParallelIncremental(SGDClassifier()).fit(X, da.zeros(0, chunks=0), classes=[0, 1])


def test_label_missing_from_classes(binary: tuple[np.ndarray, np.ndarray]) -> None:
    X, y = binary
    y = y.copy()
    y[4100] = 7
    with pytest.raises(
        dp.PartitionError,
        match=r"labels \[7\] in partition 4 \(rows 4000 to 4999\).*classes=\[0, 1\]",
    ):
        fit(*as_dask(X, y, 1000), classes=[0, 1])


def test_single_class_given() -> None:
    with pytest.raises(dp.InputError, match="at least 2 distinct labels"):
        fit(da.zeros((4, 2), chunks=2), da.zeros(4, chunks=2), classes=[1])


def test_predict_with_wrong_number_of_features(data: tuple[da.Array, da.Array]) -> None:
    X, y = data
    model = fit(X, y)
    with (
        no_task_runs(),
        pytest.raises(dp.InputError, match="has 11 features, but the model was fitted with 12"),
    ):
        model.predict(X[:, :11])
    with pytest.raises(ValueError, match="features"):
        model.predict(X[:, :11].compute())
    with no_task_runs(), pytest.raises(dp.InputError, match="11 features"):
        model.score(X[:, :11], y)


def test_validation_data_with_wrong_number_of_features(data: tuple[da.Array, da.Array]) -> None:
    X, y = data
    with no_task_runs(), pytest.raises(dp.InputError, match="11 features"):
        fit(X, y, validation_data=(X[:, :11], y))


@pytest.mark.parametrize("method", ["predict", "decision_function", "score"])
def test_use_before_fit(data: tuple[da.Array, da.Array], method: str) -> None:
    X, y = data
    model = dp.ParallelIncremental(SGDClassifier())
    args = (X, y) if method == "score" else (X,)
    with pytest.raises(NotFittedError):
        getattr(model, method)(*args)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        (
            {"split_every": 1},
            "The 'split_every' parameter of ParallelIncremental must be an int in the range "
            "[2, inf) or None. Got 1 instead.",
        ),
        (
            {"epochs": 0},
            "The 'epochs' parameter of ParallelIncremental must be an int in the range "
            "[1, inf). Got 0 instead.",
        ),
    ],
)
def test_bad_parameters(
    data: tuple[da.Array, da.Array], params: dict[str, int], message: str
) -> None:
    with no_task_runs(), pytest.raises(InvalidParameterError, match=re.escape(message)):
        dp.ParallelIncremental(SGDClassifier(), **params).fit(*data)  # type: ignore[arg-type]


def test_unsupported_estimator(data: tuple[da.Array, da.Array]) -> None:
    with no_task_runs(), pytest.raises(InvalidParameterError, match="partial_fit"):
        # LinearRegression has no partial_fit: scikit-learn's own parameter check says so.
        dp.ParallelIncremental(LinearRegression()).fit(*data)


def test_estimator_without_mergeable_state(data: tuple[da.Array, da.Array]) -> None:
    from sklearn.linear_model import SGDOneClassSVM

    with (
        no_task_runs(),
        pytest.raises(dp.UnsupportedEstimatorError, match="Supported: SGDClassifier, SGDRegressor"),
    ):
        dp.ParallelIncremental(SGDOneClassSVM()).fit(*data)


def test_errors_are_value_errors() -> None:
    assert issubclass(dp.DaskparError, ValueError)
    for exc in (dp.InputError, dp.PartitionError, dp.UnsupportedEstimatorError):
        assert issubclass(exc, dp.DaskparError)


def test_partition_error_is_readable_from_threads(binary: tuple[np.ndarray, np.ndarray]) -> None:
    X, y = binary
    X = X.copy()
    X[0, 0] = np.nan
    with dask.config.set(scheduler="threads"), pytest.raises(dp.PartitionError) as info:
        fit(*as_dask(X, y, 1000))
    # No scikit-learn traceback is chained onto the message.
    assert info.value.__cause__ is None
