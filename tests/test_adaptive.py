"""daskpar's own adaptive learner: a scikit-learn estimator, near the optimum in one epoch.

- scikit-learn's estimator checks, for both estimators and their other losses;
- **one epoch** of ``ParallelIncremental`` (10 partitions) on features whose scales span six
  orders of magnitude, with offsets, and no scaler: held-out log-loss (classifier) or squared
  error (regressor) within ``ONE_EPOCH_RATIO`` of the full-batch optimum, in-memory
  scikit-learn on standardized features (measured: 1.0009 binary, 1.0063 three classes,
  1.0057 regression). Parameter mixing is the limit: on more separable data, whose optimum
  has larger weights, one epoch over 10 partitions reached 1.02 (binary) and 1.04 (three
  classes), where one in-memory pass reaches 1.002 and 1.003;
- the same bits on the synchronous scheduler and a two-process ``LocalCluster``;
- float32 in, float32 model out, with no float64 copy of the block;
- rows of weight zero change nothing;
- the daskpar plumbing: validation, sample weights and the searches take the estimators.
"""

from __future__ import annotations

import tracemalloc
from typing import Any

import dask
import dask.array as da
import numpy as np
import pytest
from daskpar_testing import as_dask
from distributed import Client, LocalCluster
from sklearn.base import BaseEstimator, clone, is_classifier
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.metrics import log_loss, mean_squared_error
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

import daskpar as dp

#: How far above the full-batch optimum's held-out loss one epoch may end.
ONE_EPOCH_RATIO = 1.02
N, N_TRAIN, BLOCKS = 200_000, 160_000, 10
#: Features on scales from 1e-3 to 1e3, shifted by three times the class separation.
SCALE = np.logspace(-3, 3, 20)


def in_memory(data: tuple[da.Array, da.Array]) -> tuple[np.ndarray, np.ndarray]:
    """Generated data, computed."""
    X, y = data
    return np.asarray(X), np.asarray(y)


def expected_failed_checks(estimator: Any) -> dict[str, str]:
    reason = (
        "stochastic mini-batches: a weighted row takes one step, its repetitions several, "
        "in other batches (as for scikit-learn's SGD models)"
    )
    return {
        "check_sample_weight_equivalence_on_dense_data": reason,
        "check_sample_weight_equivalence_on_sparse_data": reason,
    }


@parametrize_with_checks(
    [
        dp.AdaptiveSGDClassifier(),
        dp.AdaptiveSGDClassifier("modified_huber"),
        dp.AdaptiveSGDRegressor(),
        dp.AdaptiveSGDRegressor("huber"),
    ],
    expected_failed_checks=expected_failed_checks,
)
def test_sklearn_compatible(estimator: BaseEstimator, check: Any) -> None:
    check(estimator)


# --------------------------------------------------------------------------------------------
# One epoch: near the optimum


def one_epoch(estimator: BaseEstimator, X: np.ndarray, y: np.ndarray) -> Any:
    """The estimator ``ParallelIncremental`` fits in one pass over ``BLOCKS`` partitions."""
    Xd, yd = as_dask(X, y, len(y) // BLOCKS)
    return dp.ParallelIncremental(estimator, epochs=1, random_state=0).fit(Xd, yd).estimator_


@pytest.mark.parametrize("n_classes", [2, 3])
def test_one_epoch_reaches_the_optimum_log_loss(n_classes: int) -> None:
    data = dp.make_classification(
        N, 20, n_classes=n_classes, n_clusters_per_class=4 // n_classes, scale=SCALE,
        shift=3.0, random_state=0,
    )  # fmt: skip
    X, y = in_memory(data)
    X_train, y_train, X_test, y_test = X[:N_TRAIN], y[:N_TRAIN], X[N_TRAIN:], y[N_TRAIN:]
    scaler = StandardScaler().fit(X_train)
    optimum = LogisticRegression(max_iter=10_000).fit(scaler.transform(X_train), y_train)
    best = log_loss(y_test, optimum.predict_proba(scaler.transform(X_test)))
    model = one_epoch(dp.AdaptiveSGDClassifier(), X_train, y_train)
    ours = log_loss(y_test, model.predict_proba(X_test))
    assert ours / best <= ONE_EPOCH_RATIO, f"log-loss {ours:.5f}, optimum {best:.5f}"


def test_one_epoch_reaches_the_optimum_squared_error() -> None:
    X, y = in_memory(dp.make_regression(N, 20, n_informative=10, noise=10.0, random_state=0))
    # Unscaled, shifted features and a shifted target.
    X, y = X * SCALE + 5.0 * SCALE, y + 1000.0
    X_train, y_train, X_test, y_test = X[:N_TRAIN], y[:N_TRAIN], X[N_TRAIN:], y[N_TRAIN:]
    best = mean_squared_error(y_test, LinearRegression().fit(X_train, y_train).predict(X_test))
    model = one_epoch(dp.AdaptiveSGDRegressor(), X_train, y_train)
    ours = mean_squared_error(y_test, model.predict(X_test))
    assert ours / best <= ONE_EPOCH_RATIO, f"squared error {ours:.4f}, optimum {best:.4f}"


# --------------------------------------------------------------------------------------------
# Determinism, dtype, weights


def fitted_arrays(est: BaseEstimator) -> dict[str, np.ndarray]:
    """Every fitted attribute of ``est``, as arrays."""
    return {k: np.asarray(v) for k, v in vars(est).items() if k.endswith("_")}


def assert_same_bits(a: BaseEstimator, b: BaseEstimator) -> None:
    fa, fb = fitted_arrays(a), fitted_arrays(b)
    assert fa.keys() == fb.keys()
    for name, value in fa.items():
        assert value.dtype == fb[name].dtype, name
        assert value.tobytes() == fb[name].tobytes(), f"{name} differs"


@pytest.mark.slow
def test_same_bits_on_the_sync_scheduler_and_a_cluster(cluster: LocalCluster) -> None:
    def fit() -> BaseEstimator:
        X, y = dp.make_classification(
            40_000, 50, n_classes=3, n_informative=8, scale=SCALE[::-1].repeat(3)[:50],
            chunks=8_000, random_state=1, dtype=np.float32,
        )  # fmt: skip
        model = dp.ParallelIncremental(dp.AdaptiveSGDClassifier(), epochs=2, random_state=0)
        return model.fit(X, y, sample_weight=da.linspace(0.5, 2.0, 40_000, chunks=8_000))

    with dask.config.set(scheduler="sync"):
        reference = fit()
    with Client(cluster) as client:
        on_cluster = fit()
        assert len(client.scheduler_info()["workers"]) == 2
    assert_same_bits(on_cluster.estimator_, reference.estimator_)


def partial_fit(estimator: BaseEstimator, X: Any, y: Any, **kwargs: Any) -> Any:
    """``estimator.partial_fit``, with the classes of ``y`` for a classifier."""
    if is_classifier(estimator):
        kwargs.setdefault("classes", np.unique(y))
    return estimator.partial_fit(X, y, **kwargs)


@pytest.mark.parametrize(
    "estimator", [dp.AdaptiveSGDClassifier(), dp.AdaptiveSGDRegressor()], ids=lambda e: e.loss
)
def test_float32_stays_float32_without_a_float64_copy(estimator: BaseEstimator) -> None:
    rng = np.random.default_rng(0)
    X = (rng.normal(size=(100_000, 20)) * SCALE).astype(np.float32)
    y = (X[:, 0] > 0).astype(int)
    tracemalloc.start()
    try:
        fitted = partial_fit(clone(estimator), X, y)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    # The block is 8 MB; a float64 copy of it would be 16 MB.
    assert peak < X.nbytes / 2, f"partial_fit allocated {peak / 1e6:.1f} MB"
    for name in ("coef_", "intercept_", "scale_", "squared_gradients_"):
        assert getattr(fitted, name).dtype == np.float32, name
    if not is_classifier(estimator):
        assert fitted.predict(X[:5]).dtype == np.float32
    model = dp.ParallelIncremental(estimator, random_state=0).fit(*as_dask(X, y, 25_000))
    assert model.estimator_.coef_.dtype == np.float32
    # float64 stays float64.
    assert clone(estimator).fit(X[:1000].astype(np.float64), y[:1000]).coef_.dtype == np.float64


@pytest.mark.parametrize(
    "estimator",
    [dp.AdaptiveSGDClassifier(random_state=0), dp.AdaptiveSGDRegressor(random_state=0)],
    ids=lambda e: e.loss,
)
def test_rows_of_weight_zero_change_nothing(estimator: BaseEstimator) -> None:
    """In memory: the model of the rows of non-zero weight alone, to the bit, whatever the
    zero-weight rows hold. Through ParallelIncremental: garbage in them leaves the bits."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(6000, 5)) * [1e-3, 1.0, 1.0, 1e2, 1e3]
    y = (X[:, 1] + rng.normal(size=6000) > 0).astype(float)
    w = rng.uniform(0.5, 2.0, 6000)
    zero = rng.random(6000) < 0.3
    w[zero] = 0.0
    garbage_X, garbage_y = X.copy(), y.copy()
    garbage_X[zero] = 1e6  # would set scale_ and the mean if they were read
    garbage_y[zero] = 1.0 - y[zero]
    kept = clone(estimator).fit(X[~zero], y[~zero], sample_weight=w[~zero])
    assert_same_bits(clone(estimator).fit(garbage_X, garbage_y, sample_weight=w), kept)
    assert float(kept.scale_.max()) < 1e5

    def parallel(X: np.ndarray, y: np.ndarray) -> Any:
        model = dp.ParallelIncremental(clone(estimator), epochs=2, random_state=0)
        return model.fit(*as_dask(X, y, 1500), sample_weight=w).estimator_

    assert_same_bits(parallel(garbage_X, garbage_y), parallel(X, y))


def test_sorted_rows_train_as_well_as_shuffled_ones() -> None:
    """A block sorted by label still gives mixed mini-batches (runs from all over it)."""
    X, y = in_memory(dp.make_classification(40_000, 10, scale=SCALE[::2], random_state=2))
    order = np.argsort(y, kind="stable")
    models = [
        partial_fit(dp.AdaptiveSGDClassifier(random_state=0), X[rows], y[rows])
        for rows in (order, np.arange(len(y)))
    ]
    losses = [log_loss(y, model.predict_proba(X)) for model in models]
    assert losses[0] <= 1.02 * losses[1], f"sorted {losses[0]:.4f}, shuffled {losses[1]:.4f}"


# --------------------------------------------------------------------------------------------
# The estimators themselves


def test_multiclass_log_loss_is_multinomial_and_margins_are_one_vs_rest() -> None:
    data = dp.make_classification(
        3000, 6, n_classes=3, n_informative=4, n_clusters_per_class=1, random_state=3
    )
    X, y = in_memory(data)
    softmax = dp.AdaptiveSGDClassifier(random_state=0).fit(X, y)
    assert softmax.coef_.shape == (3, 6)
    proba = softmax.predict_proba(X)
    scores = softmax.decision_function(X)
    expected = np.exp(scores - scores.max(axis=1, keepdims=True))
    np.testing.assert_allclose(proba, expected / expected.sum(axis=1, keepdims=True))
    huber = dp.AdaptiveSGDClassifier("modified_huber", random_state=0).fit(X, y)
    np.testing.assert_allclose(huber.predict_proba(X).sum(axis=1), 1.0)
    hinge = dp.AdaptiveSGDClassifier("hinge", random_state=0).fit(X, y)
    assert not hasattr(hinge, "predict_proba")
    for model in (softmax, huber, hinge):
        assert model.score(X, y) > 0.8, model.loss  # LogisticRegression's: 0.849


def test_binary_decision_is_one_column() -> None:
    X, labels = in_memory(dp.make_classification(2000, 4, random_state=4))
    y = np.where(labels == 1, "yes", "no")
    clf = dp.AdaptiveSGDClassifier(random_state=0).fit(X, y)
    assert clf.coef_.shape == (1, 4)
    assert clf.intercept_.shape == (1,)
    scores = clf.decision_function(X)
    assert scores.shape == (2000,)
    np.testing.assert_array_equal(clf.predict(X), np.where(scores > 0, "yes", "no"))
    np.testing.assert_allclose(clf.predict_proba(X)[:, 1], 1.0 / (1.0 + np.exp(-scores)))


def test_class_weight_moves_the_boundary() -> None:
    X, y = in_memory(dp.make_classification(4000, 5, flip_y=0.2, random_state=5))
    plain = dp.AdaptiveSGDClassifier(random_state=0).fit(X, y).predict(X).mean()
    heavy = dp.AdaptiveSGDClassifier(class_weight={1: 10.0}, random_state=0).fit(X, y)
    assert heavy.predict(X).mean() > plain + 0.1
    with pytest.raises(ValueError, match="'balanced' is not supported for partial_fit"):
        dp.AdaptiveSGDClassifier(class_weight="balanced").partial_fit(X, y, classes=[0, 1])
    balanced = dp.AdaptiveSGDClassifier(class_weight="balanced", random_state=0).fit(X, y)
    assert balanced.n_iter_ >= 1


def test_partial_fit_checks_its_classes() -> None:
    X, y = np.zeros((4, 2)), np.array([0, 1, 0, 1])
    clf = dp.AdaptiveSGDClassifier()
    with pytest.raises(ValueError, match="classes must be passed on the first call"):
        clf.partial_fit(X, y)
    clf.partial_fit(X, y, classes=[0, 1])
    with pytest.raises(ValueError, match="not the same as on the first call"):
        clf.partial_fit(X, y, classes=[0, 1, 2])
    with pytest.raises(ValueError, match=r"y holds labels \[2\] that are not in classes"):
        clf.partial_fit(X, np.array([0, 1, 2, 1]))
    with pytest.raises(ValueError, match="Unknown label type"):
        dp.AdaptiveSGDClassifier().partial_fit(X, y, classes=[0.5, 1.5])


def test_fit_stops_when_the_loss_settles() -> None:
    X, y = in_memory(dp.make_classification(5000, 5, random_state=6))
    settled = dp.AdaptiveSGDClassifier(random_state=0).fit(X, y)
    assert 5 < settled.n_iter_ < 1000
    everything = dp.AdaptiveSGDClassifier(max_iter=7, tol=None, random_state=0).fit(X, y)
    assert everything.n_iter_ == 7
    with pytest.warns(ConvergenceWarning, match="max_iter=2"):
        dp.AdaptiveSGDClassifier(max_iter=2, random_state=0).fit(X, y)


# --------------------------------------------------------------------------------------------
# Through daskpar: validation, weights, searches


def test_parallel_incremental_validation_and_weights() -> None:
    X, y = dp.make_classification(20_000, 8, chunks=2000, random_state=7, dtype=np.float32)
    w = da.where(y == 1, 2.0, 1.0)
    model = dp.ParallelIncremental(
        dp.AdaptiveSGDClassifier(),
        epochs=3,
        validation_fraction=0.2,
        early_stopping=True,
        n_iter_no_change=1,
        random_state=0,
    ).fit(X, y, sample_weight=w)
    assert [r["epoch"] for r in model.history_][:2] == [1, 2]
    assert all(r["validation_score"] > 0.75 for r in model.history_)
    assert len(model.validation_blocks_) == 2
    assert model.estimator_.sum_weight_ == pytest.approx(
        float(w.sum().compute() - w.blocks[model.validation_blocks_].sum().compute())
        * model.estimator_.n_iter_
    )
    proba = model.predict_proba(X).compute()
    assert proba.dtype == np.float32
    assert proba.shape == (20_000, 2)


@pytest.mark.slow
def test_grid_search_over_alpha() -> None:
    X, y = dp.make_classification(12_000, 6, chunks=1000, random_state=8)
    search = dp.GridSearchCV(
        dp.ParallelIncremental(dp.AdaptiveSGDClassifier(), epochs=2, random_state=0),
        {"estimator__alpha": [1e-6, 1.0]},
        cv=3,
    ).fit(X, y)
    assert search.best_params_ == {"estimator__alpha": 1e-6}
    scores = search.cv_results_["mean_test_score"]
    assert scores[0] > scores[1] + 0.05, scores
    assert isinstance(search.best_estimator_.estimator_, dp.AdaptiveSGDClassifier)
