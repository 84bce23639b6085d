"""Averaged SGD (``average=True`` or an int) through the tree.

Two layers: the merged model is parallel ASGD by its definition (built here from scikit-learn's
own plain SGD steps, one sample at a time), and its held-out score stays near in-memory
scikit-learn's ``fit`` with the same parameters and passes.
"""

from __future__ import annotations

import copy
import functools
import warnings
from typing import Any

import dask.array as da
import numpy as np
import pytest
from sklearn.base import clone
from sklearn.datasets import make_classification, make_regression
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import SGDClassifier, SGDRegressor
from sklearn.preprocessing import StandardScaler

import daskpar as dp

N_TRAIN = 3000
BLOCKS = (100, 500, N_TRAIN)
EPOCHS = (1, 5, 20)


@functools.cache
def data(kind: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Standardised training (3,000 rows) and held-out (1,000 rows) data."""
    if kind == "regression":
        X, y = make_regression(n_samples=4000, n_features=10, noise=1.0, random_state=0)
        y = (y - y.mean()) / y.std()
    else:
        X, y = make_classification(
            n_samples=4000,
            n_features=10,
            n_informative=6,
            n_classes=3,
            n_clusters_per_class=1,
            random_state=0,
        )
    X = StandardScaler().fit_transform(X)
    return X[:N_TRAIN], y[:N_TRAIN], X[N_TRAIN:], y[N_TRAIN:]


def estimator(kind: str, average: bool | int) -> Any:
    if kind == "regression":
        return SGDRegressor(average=average)
    return SGDClassifier(average=average)


@functools.cache
def held_out_score(kind: str, average: bool | int, block: int, epochs: int) -> float:
    """Accuracy or R² of the parallel fit on ``block``-row partitions."""
    X, y, X_test, y_test = data(kind)
    Xd = da.from_array(X, chunks=(block, -1))
    yd = da.from_array(y, chunks=(block,))
    model = dp.ParallelIncremental(estimator(kind, average), epochs=epochs, random_state=0)
    return float(model.fit(Xd, yd).estimator_.score(X_test, y_test))


@functools.cache
def sklearn_score(kind: str, average: bool | int, epochs: int) -> float:
    """Accuracy or R² of scikit-learn's in-memory fit with the same number of passes."""
    X, y, X_test, y_test = data(kind)
    ref = estimator(kind, average).set_params(max_iter=epochs, tol=None, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return float(ref.fit(X, y).score(X_test, y_test))


# How far the held-out score may fall below scikit-learn's, per (rows per block, epochs).
# One block is one sequential pass, as scikit-learn's. With many partitions, each partition's
# path takes only its own rows' steps per epoch, all from the same starting model, so early
# on the merged iterate is far from converged, and the ASGD mean of it lags further (one epoch
# on 100-row blocks: 100 steps per path). The gap closes with epochs; the classifier, whose
# accuracy saturates sooner, gets tighter bounds.
TOLERANCE = {
    "classification": {(100, 1): 0.08, (500, 1): 0.03},
    "regression": {(100, 1): 0.7, (100, 5): 0.4, (100, 20): 0.15, (500, 1): 0.3, (500, 5): 0.05},
}
DEFAULT_TOLERANCE = {"classification": 0.02, "regression": 0.01}


def tolerance(kind: str, block: int, epochs: int) -> float:
    return TOLERANCE[kind].get((block, epochs), DEFAULT_TOLERANCE[kind])


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["classification", "regression"])
@pytest.mark.parametrize("average", [True, 1000], ids=["average=True", "average=1000"])
def test_averaged_sgd_near_in_memory(kind: str, average: bool | int) -> None:
    # average=1000 with 100- and 500-row blocks: every partition is smaller than ``average``,
    # which is counted over all partitions, so averaging starts within the first epoch.
    failures = []
    for block in BLOCKS:
        for epochs in EPOCHS:
            ours = held_out_score(kind, average, block, epochs)
            ref = sklearn_score(kind, average, epochs)
            if ours < ref - tolerance(kind, block, epochs):
                failures.append(f"{block} rows/block, {epochs} epochs: {ours:.3f} vs {ref:.3f}")
    assert not failures, failures


@pytest.mark.parametrize("block", [100, 500])
def test_more_epochs_do_not_get_worse(block: int) -> None:
    # The mean keeps the weight of every step behind it: later epochs add to it, they do
    # not dilute all of it into the first epoch's.
    scores = [held_out_score("regression", True, block, epochs) for epochs in EPOCHS]
    assert scores == sorted(scores), scores
    ref = sklearn_score("regression", True, EPOCHS[-1])
    assert scores[-1] >= ref - tolerance("regression", block, EPOCHS[-1]), (scores, ref)


# --------------------------------------------------------------------------------------------
# The definition: the mean of every iterate since global step ``average``


def parallel_asgd(
    plain: Any,
    X: np.ndarray,
    y: np.ndarray,
    blocks: tuple[int, ...],
    *,
    epochs: int,
    average: int,
    classes: np.ndarray | None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Parallel ASGD from scikit-learn's plain steps, one sample at a time, in row order.

    Every epoch, each block runs plain SGD from the epoch's iterate; the next iterate is the
    row-weighted mean of the blocks' last ones. Step ``t`` (counted from 1 over all rows, as
    one sequential pass would) is averaged when ``t >= average``; blocks run side by side, so
    an epoch's first ``k`` steps are the first ``k / n`` of every block's. Returns the iterate
    and the mean: ``coef``, ``intercept``, ``mean coef``, ``mean intercept``.
    """
    kw = {} if classes is None else {"classes": classes}
    n, t = len(y), 1
    iterate: Any = None
    coef_sum, intercept_sum, n_averaged = 0.0, 0.0, 0
    for _ in range(epochs):
        skip_share = min(n, max(0, average - t)) / n
        ends = np.cumsum(blocks)
        finals = []
        for start, stop in zip(ends - blocks, ends, strict=True):
            est = clone(plain) if iterate is None else copy.deepcopy(iterate)
            skip = skip_share * (stop - start)
            assert skip == int(skip)  # the test's blocks and ``average`` cut rows exactly
            for row in range(start, stop):
                est.partial_fit(X[row : row + 1], y[row : row + 1], **kw)
                if row - start >= skip:
                    coef_sum = coef_sum + est.coef_
                    intercept_sum = intercept_sum + est.intercept_
                    n_averaged += 1
            finals.append(est)
        iterate = copy.deepcopy(finals[0])
        weights = np.asarray(blocks) / n
        iterate.coef_ = sum(w * e.coef_ for w, e in zip(weights, finals, strict=True))
        iterate.intercept_ = sum(w * e.intercept_ for w, e in zip(weights, finals, strict=True))
        t += n
        iterate.t_ = float(t)
    assert n_averaged == max(0, t - average)
    return (
        iterate.coef_,
        iterate.intercept_,
        np.asarray(coef_sum) / max(n_averaged, 1),
        np.asarray(intercept_sum) / max(n_averaged, 1),
    )


SEMANTICS_ROWS = 240
# (rows per block, average, epochs). With 40/80/120 rows, average=61 starts the mean a quarter
# into the first epoch and 361 halfway into the second; both fall on a sixteenth of every
# block, where the tree's per-share sums cut exactly.
SEMANTICS_CASES = [
    ((SEMANTICS_ROWS,), 61, 2),
    ((40, 80, 120), 1, 2),
    ((40, 80, 120), 61, 2),
    ((40, 80, 120), 361, 2),
]


@pytest.mark.parametrize("kind", ["regression", "binary", "multiclass"])
def test_merged_model_is_parallel_asgd(kind: str) -> None:
    if kind == "regression":
        X, y = make_regression(n_samples=SEMANTICS_ROWS, n_features=4, noise=1.0, random_state=3)
        y = (y - y.mean()) / y.std()
        plain: Any = SGDRegressor(shuffle=False)
        classes = None
    else:
        X, y = make_classification(
            n_samples=SEMANTICS_ROWS,
            n_features=4,
            n_informative=3,
            n_redundant=0,
            n_classes=2 if kind == "binary" else 3,
            n_clusters_per_class=1,
            random_state=3,
        )
        plain = SGDClassifier(shuffle=False)
        classes = np.unique(y)
    X = StandardScaler().fit_transform(X)
    for blocks, average, epochs in SEMANTICS_CASES:
        coef, intercept, mean_coef, mean_intercept = parallel_asgd(
            plain, X, y, blocks, epochs=epochs, average=average, classes=classes
        )
        Xd = da.from_array(X, chunks=(blocks, -1))
        yd = da.from_array(y, chunks=(blocks,))
        model = dp.ParallelIncremental(
            clone(plain).set_params(average=average), epochs=epochs, shuffle=False
        ).fit(Xd, yd)
        est = model.estimator_
        case = f"blocks={blocks}, average={average}"
        np.testing.assert_allclose(est.coef_, mean_coef, rtol=1e-9, atol=1e-12, err_msg=case)
        np.testing.assert_allclose(
            est.intercept_, mean_intercept, rtol=1e-9, atol=1e-12, err_msg=case
        )
        np.testing.assert_allclose(
            est._standard_coef.reshape(coef.shape), coef, rtol=1e-9, atol=1e-12, err_msg=case
        )
        np.testing.assert_allclose(
            est._standard_intercept, intercept, rtol=1e-9, atol=1e-12, err_msg=case
        )
        assert est.t_ == 1 + epochs * SEMANTICS_ROWS
        if len(blocks) == 1:
            # One block is one sequential pass: scikit-learn's own fit, to rounding.
            ref = clone(plain).set_params(average=average, max_iter=epochs, tol=None)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                ref.fit(X, y)
            np.testing.assert_allclose(est.coef_, ref.coef_, rtol=1e-9, atol=1e-12)
            np.testing.assert_allclose(est.intercept_, ref.intercept_, rtol=1e-9, atol=1e-12)
