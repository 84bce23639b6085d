"""ParallelIncremental with SGD-type models: accuracy against in-memory scikit-learn, the
estimator contract, prediction and scoring."""

from __future__ import annotations

import pickle
import warnings

import dask
import dask.array as da
import numpy as np
import pytest
from dask.array.core import PerformanceWarning
from dask.utils import key_split
from daskpar_testing import as_dask
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import Perceptron, SGDClassifier, SGDRegressor
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

import daskpar as dp

EPOCHS = 5


def in_memory_sgd(estimator: object, X: np.ndarray, y: np.ndarray) -> object:
    """scikit-learn's own fit with the same number of passes over the data."""
    ref = clone(estimator).set_params(max_iter=EPOCHS, tol=None, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return ref.fit(X, y)


@pytest.mark.parametrize("data", ["binary", "multiclass"])
@pytest.mark.parametrize("loss", ["log_loss", "hinge", "modified_huber"])
def test_sgd_classifier_as_accurate_as_in_memory(
    data: str, loss: str, request: pytest.FixtureRequest
) -> None:
    X, y = request.getfixturevalue(data)
    X = StandardScaler().fit_transform(X)
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.25, random_state=0)
    est = SGDClassifier(loss=loss)
    model = dp.ParallelIncremental(est, epochs=EPOCHS, random_state=0)
    model.fit(*as_dask(X_tr, y_ref := y_tr, 500))
    ours = model.score(*as_dask(X_te, y_te, 500))
    ref = in_memory_sgd(est, X_tr, y_ref).score(X_te, y_te)
    # Parallel averaging may only do better than one sequential pass, never 1 point worse.
    assert ours >= ref - 0.01, (ours, ref)
    assert model.estimator_.n_iter_ == EPOCHS
    assert model.estimator_.t_ == 1 + EPOCHS * len(y_tr)


def test_sgd_regressor_as_accurate_as_in_memory(regression: tuple[np.ndarray, np.ndarray]) -> None:
    X, y = regression
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.25, random_state=0)
    model = dp.ParallelIncremental(SGDRegressor(), epochs=EPOCHS, random_state=0)
    model.fit(*as_dask(X_tr, y_tr, 400))
    ours = model.score(*as_dask(X_te, y_te, 400))
    ref = in_memory_sgd(SGDRegressor(), X_tr, y_tr).score(X_te, y_te)
    assert ours >= ref - 0.01, (ours, ref)
    # The distributed R² is the same number scikit-learn computes from the predictions.
    assert ours == pytest.approx(model.estimator_.score(X_te, y_te), rel=1e-12)


def test_perceptron_and_averaged_sgd_train(binary: tuple[np.ndarray, np.ndarray]) -> None:
    X, y = binary
    Xd, yd = as_dask(X, y, 1000)
    for est in (Perceptron(), SGDClassifier(average=True)):
        model = dp.ParallelIncremental(est, epochs=3, random_state=0).fit(Xd, yd)
        assert model.score(Xd, yd) > 0.8, type(est).__name__


def test_same_bits_with_sync_and_threads(multiclass: tuple[np.ndarray, np.ndarray]) -> None:
    Xd, yd = as_dask(*multiclass, 600)
    coefs = []
    for scheduler in ("sync", "threads"):
        with dask.config.set(scheduler=scheduler, num_workers=2):
            model = dp.ParallelIncremental(SGDClassifier(), epochs=2, random_state=3)
            coefs.append(model.fit(Xd, yd).estimator_.coef_)
    np.testing.assert_array_equal(coefs[0], coefs[1])


def test_seed_and_shuffle_change_the_model(binary: tuple[np.ndarray, np.ndarray]) -> None:
    Xd, yd = as_dask(*binary, 1000)

    def coef(**kw: object) -> np.ndarray:
        return dp.ParallelIncremental(SGDClassifier(), epochs=2, **kw).fit(Xd, yd).estimator_.coef_

    np.testing.assert_array_equal(coef(random_state=0), coef(random_state=0))
    assert not np.array_equal(coef(random_state=0), coef(random_state=1))
    assert not np.array_equal(coef(random_state=0), coef(random_state=0, shuffle=False))


def test_classes_found_on_the_workers(multiclass: tuple[np.ndarray, np.ndarray]) -> None:
    X, y = multiclass
    labels = np.array(["a", "b", "c", "d"])[y]
    model = dp.ParallelIncremental(SGDClassifier(), random_state=0)
    model.fit(*as_dask(X, labels, 1000))
    np.testing.assert_array_equal(model.classes_, ["a", "b", "c", "d"])
    assert set(model.predict(X)) <= set(model.classes_)
    np.testing.assert_array_equal(dp.find_classes(da.from_array(y, chunks=7)), np.unique(y))


def test_fitted_estimator_is_plain_sklearn(binary: tuple[np.ndarray, np.ndarray]) -> None:
    X, y = binary
    model = dp.ParallelIncremental(SGDClassifier(loss="log_loss"), random_state=0)
    model.fit(*as_dask(X, y, 1000))
    est = pickle.loads(pickle.dumps(model.estimator_))
    assert type(est) is SGDClassifier
    # The user's parameters come back untouched: the tasks' seeds stay inside the tasks.
    assert est.get_params() == SGDClassifier(loss="log_loss").get_params()
    np.testing.assert_array_equal(est.predict(X), model.predict(X))
    assert model.n_features_in_ == X.shape[1]


def test_predictions_are_lazy_for_dask_and_numpy_for_numpy(
    multiclass: tuple[np.ndarray, np.ndarray],
) -> None:
    X, y = multiclass
    Xd, yd = as_dask(X, y, 1000)
    model = dp.ParallelIncremental(SGDClassifier(loss="log_loss"), random_state=0).fit(Xd, yd)
    est = model.estimator_
    # scikit-learn's predict_log_proba takes log(0) for confident rows.
    with np.errstate(divide="ignore"):
        for method, shape, stage in [
            ("predict", (6000,), "predict"),
            ("predict_proba", (6000, 4), "predict-proba"),
            ("predict_log_proba", (6000, 4), "log-proba"),
            ("decision_function", (6000, 4), "decision"),
        ]:
            lazy = getattr(model, method)(Xd)
            assert isinstance(lazy, da.Array)
            assert lazy.shape == shape
            assert lazy.chunks[0] == Xd.chunks[0]
            assert key_split(lazy.name) == stage
            np.testing.assert_allclose(lazy.compute(), getattr(est, method)(X))
            eager = getattr(model, method)(X)
            assert isinstance(eager, np.ndarray)
    assert model.score(Xd, yd) == pytest.approx(est.score(X, y), abs=1e-15)
    assert model.score(X, y) == est.score(X, y)


def test_predict_proba_only_when_the_estimator_has_it() -> None:
    assert not hasattr(dp.ParallelIncremental(SGDClassifier(loss="hinge")), "predict_proba")
    assert hasattr(dp.ParallelIncremental(SGDClassifier(loss="log_loss")), "predict_proba")
    assert not hasattr(dp.ParallelIncremental(SGDRegressor()), "predict_proba")


def test_history_records_every_epoch(binary: tuple[np.ndarray, np.ndarray]) -> None:
    X, y = binary
    Xd, yd = as_dask(X[:5000], y[:5000], 1000)
    Xv, yv = as_dask(X[5000:], y[5000:], 500)
    model = dp.ParallelIncremental(SGDClassifier(), epochs=3, random_state=0)
    model.fit(Xd, yd, validation_data=(Xv, yv))
    assert [r["epoch"] for r in model.history_] == [1, 2, 3]
    assert all(r["n_samples"] == 5000 and r["n_partitions"] == 5 for r in model.history_)
    assert all(r["seconds"] > 0 for r in model.history_)
    assert model.history_[-1]["validation_score"] == pytest.approx(model.score(Xv, yv))


def test_verbose_shows_progress(
    binary: tuple[np.ndarray, np.ndarray], capsys: pytest.CaptureFixture[str]
) -> None:
    dp.ParallelIncremental(SGDClassifier(), epochs=2, verbose=1, random_state=0).fit(
        *as_dask(*binary, 2000)
    )
    err = capsys.readouterr().err.replace("\r", "\n")
    states = [line for line in err.splitlines() if line.startswith("epochs:")]
    assert "| 0/2 " in states[0]
    assert "| 2/2 " in states[-1]


def test_sklearn_parameter_plumbing() -> None:
    model = dp.ParallelIncremental(SGDClassifier(alpha=1e-3), epochs=2)
    params = model.get_params()
    assert params["estimator__alpha"] == 1e-3
    assert params["epochs"] == 2
    model.set_params(estimator__alpha=1e-5, split_every=4)
    assert model.estimator.alpha == 1e-5
    assert model.split_every == 4
    cloned = clone(model)
    assert cloned.estimator is not model.estimator
    assert cloned.get_params()["estimator__alpha"] == 1e-5


def test_wrapped_estimator_is_not_mutated(binary: tuple[np.ndarray, np.ndarray]) -> None:
    est = SGDClassifier()
    dp.ParallelIncremental(est, random_state=0).fit(*as_dask(*binary, 1000))
    assert not hasattr(est, "coef_")


def test_inside_a_pipeline(binary: tuple[np.ndarray, np.ndarray]) -> None:
    X, y = binary
    Xd, yd = as_dask(X, y, 1000)
    pipe = Pipeline([("model", dp.ParallelIncremental(SGDClassifier(), epochs=2, random_state=0))])
    pipe.set_params(model__estimator__alpha=1e-4)
    assert pipe.fit(Xd, yd).score(Xd, yd) > 0.8
    in_memory = make_pipeline(
        StandardScaler(), dp.ParallelIncremental(SGDClassifier(), random_state=0)
    ).fit(X, y)
    assert in_memory.score(X, y) > 0.8


def test_partitions_run_in_parallel_with_threads(binary: tuple[np.ndarray, np.ndarray]) -> None:
    # Count tasks running at the same time on the threaded scheduler: the per-partition fits
    # are independent, so more than one must overlap.
    import threading
    import time

    from dask.callbacks import Callback

    running, peak, lock = [0], [0], threading.Lock()

    class Overlap(Callback):  # type: ignore[misc]
        def _pretask(self, key: object, dsk: object, state: object) -> None:
            if key_split(key) == "fit-block":
                with lock:
                    running[0] += 1
                    peak[0] = max(peak[0], running[0])
                time.sleep(0.05)

        def _posttask(self, key: object, *args: object) -> None:
            if key_split(key) == "fit-block":
                with lock:
                    running[0] -= 1

    with dask.config.set(scheduler="threads", num_workers=2), Overlap():
        dp.ParallelIncremental(SGDClassifier(), random_state=0).fit(*as_dask(*binary, 500))
    assert peak[0] >= 2


def test_tiny_partitions_warn_with_the_fix(binary: tuple[np.ndarray, np.ndarray]) -> None:
    X, y = binary
    Xd, yd = as_dask(X[:3000], y[:3000], 20)  # 150 partitions of 20 rows
    with pytest.warns(PerformanceWarning, match=r"150 blocks of 20 rows.*X\.rechunk"):
        dp.ParallelIncremental(SGDClassifier(), random_state=0).fit(Xd, yd)
