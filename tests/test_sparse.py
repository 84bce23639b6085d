"""Dask arrays of scipy.sparse CSR blocks through the checks, the training pass, prediction,
the metrics, the searches, checkpoints, model files and the scalers: equal to the same rows
dense (or to scikit-learn in memory), and never densified."""

from __future__ import annotations

import tracemalloc
from pathlib import Path
from typing import Any

import dask
import dask.array as da
import numpy as np
import pytest
import scipy.sparse as sp
from daskpar_testing import interrupted_then_resumed, no_task_runs
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.base import clone
from sklearn.linear_model import (
    Perceptron,
    SGDClassifier,
    SGDRegressor,
)
from sklearn.naive_bayes import BernoulliNB, GaussianNB, MultinomialNB
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import MaxAbsScaler, StandardScaler

import daskpar as dp
from daskpar._fingerprint import row_hashes
from daskpar.errors import InputError, PartitionError

ROWS, WIDTH = 1200, 40


def _data(seed: int = 0, n_classes: int = 3) -> tuple[sp.csr_matrix, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = sp.random(ROWS, WIDTH, density=0.1, format="csr", random_state=seed) * 5
    # Labels that depend on the features, so the models have something to learn.
    signal = X @ rng.normal(size=WIDTH)
    y = np.digitize(signal, np.quantile(signal, np.linspace(0, 1, n_classes + 1)[1:-1]))
    return sp.csr_matrix(X), y


def _blocks(X: Any, rows: int = 300) -> da.Array:
    return da.from_array(X, chunks=(rows, -1), asarray=False)


# Every family whose partial_fit takes CSR. With an intercept, scikit-learn's own SGD scales
# the intercept's updates on sparse rows by 0.01 (its SPARSE_INTERCEPT_DECAY), so that sparse
# and dense rows train other models in scikit-learn itself: without one, they are the same.
FAMILIES = [
    MultinomialNB(),
    BernoulliNB(),
    SGDClassifier(fit_intercept=False, random_state=0),
    SGDClassifier(loss="log_loss", fit_intercept=False, random_state=0),
    Perceptron(fit_intercept=False, random_state=0),
    SGDClassifier(
        loss="hinge", penalty=None, learning_rate="pa1", eta0=1.0, fit_intercept=False
    ),  # PassiveAggressiveClassifier, as scikit-learn 1.8 spells it
    SGDRegressor(fit_intercept=False, random_state=0),
]


def _fitted(model: Any) -> dict[str, np.ndarray]:
    names = ("coef_", "intercept_", "feature_log_prob_", "class_log_prior_", "feature_count_")
    return {n: np.asarray(getattr(model, n)) for n in names if hasattr(model, n)}


@pytest.mark.parametrize("estimator", FAMILIES, ids=lambda e: repr(e))
def test_every_family_on_csr_blocks_equals_the_same_rows_dense(estimator: Any) -> None:
    X, y = _data()
    if not hasattr(estimator, "classes_") and "Regressor" in type(estimator).__name__:
        y = y.astype(np.float64) + np.asarray(X.sum(axis=1)).ravel()
    Xs, Xd, yd = _blocks(X), da.from_array(X.toarray(), chunks=(300, -1)), da.from_array(y, 300)
    sparse_fit = dp.ParallelIncremental(clone(estimator), epochs=2, random_state=0).fit(Xs, yd)
    dense_fit = dp.ParallelIncremental(clone(estimator), epochs=2, random_state=0).fit(Xd, yd)
    ours, theirs = _fitted(sparse_fit.estimator_), _fitted(dense_fit.estimator_)
    assert ours.keys() == theirs.keys()
    assert ours
    for name in ours:
        np.testing.assert_allclose(ours[name], theirs[name], rtol=1e-12, atol=1e-12)
    # Class labels exactly; a regressor's values to float rounding (sparse and dense
    # products add in other orders).
    np.testing.assert_allclose(
        sparse_fit.predict(Xs).compute(), dense_fit.predict(Xd).compute(), rtol=1e-12
    )
    assert sparse_fit.score(Xs, yd) == pytest.approx(dense_fit.score(Xd, yd), abs=1e-12)
    for method in ("predict_proba", "decision_function"):
        if hasattr(sparse_fit, method):
            out = getattr(sparse_fit, method)(Xs)
            assert isinstance(out, da.Array)
            np.testing.assert_allclose(
                out.compute(), getattr(dense_fit, method)(Xd).compute(), rtol=1e-10, atol=1e-12
            )


@pytest.mark.parametrize("estimator", [MultinomialNB(alpha=0.5), BernoulliNB(binarize=0.3)])
def test_naive_bayes_on_csr_blocks_equals_scikit_learn_in_memory(estimator: Any) -> None:
    X, y = _data(seed=3)
    ours = dp.ParallelIncremental(clone(estimator)).fit(_blocks(X, 170), da.from_array(y, 170))
    theirs = clone(estimator).fit(X, y)
    for name, value in _fitted(theirs).items():
        np.testing.assert_allclose(_fitted(ours.estimator_)[name], value, rtol=1e-12)


def test_families_that_need_dense_blocks_are_refused_before_any_task() -> None:
    X, y = _data()
    Xs, yd = _blocks(X), da.from_array(y, 300)
    with no_task_runs():
        with pytest.raises(InputError, match=r"GaussianNB\(\)\) cannot train on sparse X"):
            dp.ParallelIncremental(GaussianNB()).fit(Xs, yd)
        with pytest.raises(InputError, match="LinearRegression cannot train on sparse X"):
            dp.LinearRegression().fit(Xs, yd.astype(float))
        with pytest.raises(InputError, match="with_mean=False"):
            dp.StandardScaler().fit(Xs)
        with pytest.raises(InputError, match="Consider using MaxAbsScaler"):
            dp.MinMaxScaler().fit(Xs)
        # The searches too, for a candidate's model or a scaler of its pipeline.
        grid = {"estimator__var_smoothing": [1e-9, 1e-8]}
        search = dp.GridSearchCV(dp.ParallelIncremental(GaussianNB()), grid, cv=2)
        with pytest.raises(InputError, match=r"GaussianNB\(\)\) cannot train on sparse X"):
            search.fit(Xs, yd)
        pipe = make_pipeline(dp.StandardScaler(), dp.ParallelIncremental(SGDClassifier()))
        search = dp.GridSearchCV(pipe, {"parallelincremental__estimator__alpha": [1e-4]}, cv=2)
        with pytest.raises(InputError, match="with_mean=False"):
            search.fit(Xs, yd)


def test_pydata_sparse_csc_and_in_memory_sparse_input_become_csr_blocks() -> None:
    sparse = pytest.importorskip("sparse")
    X, y = _data()
    yd = da.from_array(y, 300)
    reference = dp.ParallelIncremental(MultinomialNB()).fit(_blocks(X), yd)
    inputs = {
        "pydata": da.from_array(sparse.COO.from_scipy_sparse(X), chunks=(300, -1), asarray=False),
        "csc": da.from_array(X.tocsc(), chunks=(300, -1), asarray=False),
    }
    for name, Xs in inputs.items():
        model = dp.ParallelIncremental(MultinomialNB()).fit(Xs, yd)
        np.testing.assert_allclose(
            model.estimator_.feature_count_,
            reference.estimator_.feature_count_,
            rtol=1e-13,
            err_msg=name,
        )
    # In memory: CSR blocks (the predictions are the in-memory model's).
    model = dp.ParallelIncremental(MultinomialNB()).fit(X, y)
    np.testing.assert_allclose(
        model.estimator_.feature_count_, reference.estimator_.feature_count_, rtol=1e-13
    )


def test_stored_nan_or_infinity_is_refused_naming_the_row() -> None:
    X, y = _data()
    X = X.copy()
    row = 400
    X.data[X.indptr[row]] = np.nan
    with pytest.raises(PartitionError, match=r"X holds NaN in partition 1 .*first at row 400"):
        dp.ParallelIncremental(MultinomialNB()).fit(_blocks(X), da.from_array(y, 300))


def test_a_search_on_csr_blocks_equals_the_same_search_dense() -> None:
    """A search over a pipeline whose scaler is fitted per fold on the sparse blocks."""
    X, y = _data(seed=1)
    grid = {
        "parallelincremental__estimator__alpha": [1e-4, 1e-2],
        "parallelincremental__estimator__loss": ["hinge", "log_loss"],
    }

    def search(Xa: da.Array) -> dp.GridSearchCV:
        model = dp.ParallelIncremental(
            SGDClassifier(fit_intercept=False, random_state=0), random_state=0
        )
        pipe = make_pipeline(dp.MaxAbsScaler(), model)
        return dp.GridSearchCV(pipe, grid, cv=3).fit(Xa, da.from_array(y, 300))

    ours, theirs = search(_blocks(X)), search(da.from_array(X.toarray(), chunks=(300, -1)))
    np.testing.assert_allclose(
        ours.cv_results_["mean_test_score"], theirs.cv_results_["mean_test_score"], atol=1e-12
    )
    assert ours.best_params_ == theirs.best_params_
    np.testing.assert_allclose(
        ours.best_estimator_[-1].estimator_.coef_,
        theirs.best_estimator_[-1].estimator_.coef_,
        rtol=1e-12,
    )


def test_a_fit_on_csr_blocks_resumes_from_its_checkpoint_and_saves(tmp_path: Path) -> None:
    X, y = _data(seed=2)
    Xs, yd = _blocks(X), da.from_array(y, 300)

    def make(folder: Path | None) -> dp.ParallelIncremental:
        return dp.ParallelIncremental(
            SGDClassifier(random_state=0), epochs=4, random_state=0, checkpoint=folder
        )

    def fit(model: dp.ParallelIncremental) -> dp.ParallelIncremental:
        return model.fit(Xs, yd)

    whole = fit(make(None))
    resumed, rerun = interrupted_then_resumed(make, fit, tmp_path / "ck", at=3)
    assert rerun == 2
    np.testing.assert_array_equal(resumed.estimator_.coef_, whole.estimator_.coef_)
    # The checkpoint knows the data by content: one stored value changed is refused.
    changed = X.copy()
    changed.data[7] += 1.0
    with pytest.raises(dp.CheckpointError):
        make(tmp_path / "ck").fit(_blocks(changed), yd)
    key = b"a key of the tests, 32 bytes long"
    whole.save(tmp_path / "model.dp", key=key)
    loaded = dp.load(tmp_path / "model.dp", key=key)
    np.testing.assert_array_equal(loaded.predict(Xs).compute(), whole.predict(Xs).compute())


@settings(max_examples=30, deadline=None)
@given(
    rows=st.integers(1, 30),
    width=st.integers(1, 12),
    density=st.floats(0.0, 1.0),
    integers=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_a_sparse_block_hashes_as_its_rows_dense(
    rows: int, width: int, density: float, integers: bool, seed: int
) -> None:
    X = sp.random(rows, width, density=density, format="csr", random_state=seed)
    if integers:
        X = (X * 100).astype(np.int64)
    dense = X.toarray().astype(np.int64 if integers else np.float64)
    np.testing.assert_array_equal(row_hashes(X), row_hashes(dense))
    # Explicit zeros and the order of the stored values change nothing.
    explicit = sp.csr_matrix(X)
    explicit.data[: len(explicit.data) // 2] *= 0
    np.testing.assert_array_equal(
        row_hashes(explicit), row_hashes(explicit.toarray().astype(dense.dtype))
    )


@pytest.mark.parametrize(
    ("ours", "theirs"),
    [
        (dp.MaxAbsScaler(), MaxAbsScaler()),
        (dp.StandardScaler(with_mean=False), StandardScaler(with_mean=False)),
    ],
    ids=["maxabs", "standard"],
)
@pytest.mark.parametrize("chunk", [97, 400, ROWS])
def test_sparse_scalers_equal_scikit_learn_and_stay_sparse(
    ours: Any, theirs: Any, chunk: int
) -> None:
    X, _ = _data(seed=4)
    X = X.copy()
    X.data -= 2.0  # negative values too
    X.data[::37] = np.nan  # missing values, as scikit-learn's scalers take them
    fitted = clone(ours).fit(_blocks(X, chunk))
    expected = clone(theirs).fit(X)
    for name in ("scale_", "max_abs_", "var_", "n_samples_seen_"):
        if hasattr(expected, name):
            np.testing.assert_allclose(getattr(fitted, name), getattr(expected, name), rtol=1e-12)
    out = fitted.transform(_blocks(X, chunk))
    assert sp.issparse(out._meta)
    blocks = out.to_delayed().ravel()
    first = dask.compute(blocks[0])[0]
    assert sp.issparse(first)
    result = sp.vstack(dask.compute(*blocks)).toarray()
    np.testing.assert_allclose(result, expected.transform(X).toarray(), rtol=1e-12)


@pytest.mark.parametrize("estimator", [SGDClassifier(random_state=0), MultinomialNB()])
def test_no_block_is_densified_on_a_2_to_the_22_wide_problem(estimator: Any) -> None:
    """The client-side and task memory of a fit and a score on 2**22 hashed columns (here in
    one process: the local scheduler runs the tasks) is a few model-sized vectors, never a
    block at full width: one dense block would be 1,000 x 2**22 x 8 bytes = 32 GiB."""
    width, rows, per_row = 2**22, 4000, 20
    rng = np.random.default_rng(0)
    columns = rng.integers(0, width, size=rows * per_row)
    X = sp.csr_matrix(
        (np.ones(rows * per_row), columns, np.arange(0, rows * per_row + 1, per_row)),
        shape=(rows, width),
    )
    y = rng.integers(0, 2, rows)
    Xs, yd = _blocks(X, 1000), da.from_array(y, 1000)
    tracemalloc.start()
    try:
        model = dp.ParallelIncremental(clone(estimator), epochs=2).fit(Xs, yd)
        model.score(Xs, yd)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    vector = width * 8  # one float64 weight (or count) per hashed column
    # Measured: about 11 vectors for SGDClassifier, 20 for MultinomialNB (two count and two
    # log-probability rows per class-pair state); one densified block is 1,000 vectors.
    assert peak < 32 * vector, f"peak {peak / 2**20:.0f} MiB"
