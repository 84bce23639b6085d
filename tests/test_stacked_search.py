"""Candidates trained together: stacked passes against the same candidates trained alone.

A search over the adaptive learner trains the candidates that differ only in ``alpha`` and
``learning_rate`` as one stacked weight matrix per block. Every result must be the one of
training them one at a time (``daskpar.stack-candidates`` set to False, the path every other
estimator takes). With the compiled kernel (the default) the stacked pass gives every model
its own bits, and the searches' ``cv_results_`` scores are equal bit for bit; the numpy
kernel's stacked pass (BLAS products for all models) agrees to float rounding: on float64
data the searches' scores and weights to a relative 1e-9 and the passes alone, over many
more steps, to 1e-7; on float32 to 1e-4.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import dask
import dask.array as da
import numpy as np
import pytest
import scipy.sparse as sp
from scipy.stats import loguniform
from sklearn.linear_model import SGDClassifier
from sklearn.pipeline import make_pipeline

import daskpar as dp
import daskpar._search._stacked as stacked_module
from daskpar._adaptive._base import KERNEL_KEY
from daskpar._adaptive._compiled import train_pass_compiled, train_pass_stacked_compiled
from daskpar._adaptive._kernel import Model, train_pass, train_pass_stacked
from daskpar._adaptive._stacked import (
    partial_fit_together,
    partition_states_together,
    scored_together,
    stack_key,
)
from daskpar._families import AdaptiveFamily
from daskpar._search._stacked import STACK_KEY

RTOL64 = 1e-9
RTOL32 = 1e-4
#: The passes themselves, over many more steps than the searches' blocks take: a last-bit
#: difference grows through the steps (the safe step's curvature divides by small numbers).
PASS_RTOL64 = 1e-7

ALPHAS = [0.0, 1e-4, 1e-2]
RATES = [0.2, 1.0]
GRID = {"estimator__alpha": ALPHAS, "estimator__learning_rate": RATES}


@pytest.fixture(autouse=True)
def _sync() -> Iterator[None]:
    with dask.config.set(scheduler="sync"):
        yield


# --------------------------------------------------------------------------------------------
# The stacked pass against one pass per model


def _problem(
    loss: str, dtype: type, rng: np.random.Generator, n: int = 1500, d: int = 6
) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """Features in units far apart with an offset, an encoded target, positive weights."""
    X = (rng.normal(size=(n, d)) * np.logspace(-1, 1, d) + 3.0).astype(dtype)
    if loss in ("squared_error", "huber"):
        Y = (X @ rng.normal(size=d) + 5.0 + rng.normal(size=n))[:, None]
        k = 1
    else:
        k = 1 if loss in ("log_loss", "modified_huber") else 3
        labels = rng.integers(0, max(k, 2), n)
        Y = np.eye(max(k, 2))[labels][:, -k:] if k == 1 else np.eye(k)[labels]
        if loss in ("hinge", "modified_huber"):
            Y = 2.0 * Y - 1.0
    w = rng.uniform(0.2, 3.0, n)
    return X, Y.astype(dtype), w.astype(dtype), k


def _fresh(k: int, d: int, dtype: type, regression: bool) -> Model:
    return Model(
        np.zeros((k, d), dtype),
        np.zeros(k, dtype),
        np.zeros((k, d + 1), dtype),
        np.zeros(d, dtype),
        0.0,
        0.0,
        np.zeros(2) if regression else None,
        np.zeros(d),
    )


@pytest.mark.parametrize(
    "loss", ["log_loss", "multinomial", "hinge", "modified_huber", "squared_error", "huber"]
)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_stacked_pass_equals_one_pass_per_model(loss: str, dtype: type) -> None:
    rng = np.random.default_rng(0)
    X, Y, w, k = _problem(loss, dtype, rng)
    alphas, rates = [0.0, 1e-3, 1e-1, 0.0], [0.5, 0.1, 1.0, 2.0]
    regression = loss in ("squared_error", "huber")
    alone = [_fresh(k, X.shape[1], dtype, regression) for _ in alphas]
    together = [_fresh(k, X.shape[1], dtype, regression) for _ in alphas]
    options = {"loss": loss, "epsilon": 0.5, "batch_size": 128}
    for epoch in range(2):  # the second pass starts from trained weights and scales
        for model, alpha, rate in zip(alone, alphas, rates, strict=True):
            rng_pass = np.random.RandomState(epoch)
            train_pass(model, X, Y, w, alpha=alpha, learning_rate=rate, rng=rng_pass, **options)
        train_pass_stacked(
            together,
            X,
            Y,
            w,
            alphas=alphas,
            learning_rates=rates,
            rng=np.random.RandomState(epoch),
            **options,
        )
    rtol = PASS_RTOL64 if dtype == np.float64 else RTOL32
    for a, b in zip(alone, together, strict=True):
        for name in ("coef", "intercept", "squared"):
            ref = getattr(a, name)
            atol = rtol * float(np.abs(ref).max())
            np.testing.assert_allclose(getattr(b, name), ref, rtol=rtol, atol=atol)
        np.testing.assert_allclose(b.scale, a.scale, rtol=rtol)
        np.testing.assert_allclose(b.mean, a.mean, rtol=rtol)
        assert b.sum_weight == pytest.approx(a.sum_weight, rel=rtol)
        assert b.sum_norm == pytest.approx(a.sum_norm, rel=rtol)
    # The models were trained differently: the comparison is not between equal models.
    assert not np.allclose(alone[0].coef, alone[2].coef)


@pytest.mark.parametrize(
    "loss", ["log_loss", "multinomial", "hinge", "modified_huber", "squared_error", "huber"]
)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_compiled_stacked_pass_has_the_bits_of_one_compiled_pass_per_model(
    loss: str, dtype: type
) -> None:
    rng = np.random.default_rng(0)
    X, Y, w, k = _problem(loss, dtype, rng)
    alphas, rates = [0.0, 1e-3, 1e-1, 0.0], [0.5, 0.1, 1.0, 2.0]
    regression = loss in ("squared_error", "huber")
    alone = [_fresh(k, X.shape[1], dtype, regression) for _ in alphas]
    together = [_fresh(k, X.shape[1], dtype, regression) for _ in alphas]
    numpy_together = [_fresh(k, X.shape[1], dtype, regression) for _ in alphas]
    options = {"loss": loss, "epsilon": 0.5, "batch_size": 128}
    for epoch in range(2):
        for model, alpha, rate in zip(alone, alphas, rates, strict=True):
            rng_pass = np.random.RandomState(epoch)
            train_pass_compiled(
                model, X, Y, w, alpha=alpha, learning_rate=rate, rng=rng_pass, **options
            )
        for stacked_pass, models in (
            (train_pass_stacked_compiled, together),
            (train_pass_stacked, numpy_together),
        ):
            stacked_pass(
                models,
                X,
                Y,
                w,
                alphas=alphas,
                learning_rates=rates,
                rng=np.random.RandomState(epoch),
                **options,
            )
    for a, b, c in zip(alone, together, numpy_together, strict=True):
        for name in ("coef", "intercept", "squared", "scale", "mean"):
            np.testing.assert_array_equal(getattr(b, name), getattr(a, name), err_msg=name)
        assert (b.sum_weight, b.sum_norm) == (a.sum_weight, a.sum_norm)
        if regression:
            np.testing.assert_array_equal(b.target_sums, a.target_sums)
        if dtype == np.float64:  # the compiled and numpy passes agree to float rounding
            np.testing.assert_allclose(c.coef, b.coef, rtol=PASS_RTOL64, atol=1e-9)


def _estimators(kind: str, **params: Any) -> list[Any]:
    cls = dp.AdaptiveSGDClassifier if kind == "classifier" else dp.AdaptiveSGDRegressor
    return [
        cls(alpha=alpha, learning_rate=rate, batch_size=64, random_state=7, **params)
        for alpha in ALPHAS
        for rate in RATES
    ]


def _xy(kind: str, n: int = 1200) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(1)
    X = rng.normal(size=(n, 5)) * [1e-2, 1.0, 1e2, 1.0, 3.0] + 2.0
    signal = X @ np.array([50.0, 1.0, -0.01, 0.5, 0.0])
    return X, signal + rng.normal(size=n)


@pytest.mark.parametrize("kind", ["classifier", "regressor"])
@pytest.mark.parametrize("weighted", [False, True])
def test_partial_fit_together_equals_partial_fit(kind: str, weighted: bool) -> None:
    X, target = _xy(kind)
    y = np.digitize(target, np.quantile(target, [0.33, 0.66])) if kind == "classifier" else target
    weight = np.random.default_rng(2).uniform(0, 2, len(y)) if weighted else None
    weight = None if weight is None else np.where(weight < 0.2, 0.0, weight)  # zero rows too
    kwargs = {"classes": np.unique(y)} if kind == "classifier" else {}
    alone, together = _estimators(kind), _estimators(kind)
    for _ in range(2):
        for est in alone:
            est.partial_fit(X, y, sample_weight=weight, **kwargs)
        partial_fit_together(together, X, y, sample_weight=weight, **kwargs)
    # The compiled kernel (the default): every estimator has its own bits.
    for a, b in zip(alone, together, strict=True):
        for name in ("coef_", "intercept_", "squared_gradients_", "scale_", "mean_"):
            np.testing.assert_array_equal(getattr(b, name), getattr(a, name), err_msg=name)
        assert b.n_iter_ == a.n_iter_ == 2
        np.testing.assert_allclose(b.predict(X[:50]), a.predict(X[:50]), rtol=RTOL64)
    together_scored = scored_together(together, X[:200])
    for est, answering in zip(together, together_scored, strict=True):
        np.testing.assert_allclose(
            answering.predict(X[:200]), est.predict(X[:200]), rtol=RTOL64, atol=1e-12
        )


def test_partition_states_together_equal_the_familys() -> None:
    X, target = _xy("classifier")
    y = (target > np.median(target)).astype(int)
    classes = np.array([0, 1])
    family = AdaptiveFamily()
    starts: list[Any] = _estimators("classifier")
    for _ in range(2):  # fresh models, then models that have seen the rows once
        seed = 12345
        alone = [family.partition_state(m, X, y, classes=classes, seed=seed) for m in starts]
        together = partition_states_together(starts, X, y, classes=classes, seed=seed)
        for a, b in zip(alone, together, strict=True):
            assert a.sums.n_samples == b.sums.n_samples
            assert set(a.sums.sums) == set(b.sums.sums)
            for name, ref in a.sums.sums.items():
                np.testing.assert_array_equal(b.sums.sums[name], ref, err_msg=name)
            np.testing.assert_array_equal(b.scale, a.scale)
            assert b.sums.prototype.random_state == seed
        starts = [s.sums.prototype for s in alone]
        for start in starts:
            start.set_params(random_state=7)
    # The starting models were left as they were (the states hold copies).
    assert all(stack_key(s) == stack_key(starts[0]) for s in starts)


def test_stack_key_separates_what_cannot_train_together() -> None:
    base = dp.AdaptiveSGDClassifier(alpha=1e-4, learning_rate=0.5, batch_size=64)
    assert stack_key(base) == stack_key(copy.deepcopy(base).set_params(alpha=0.1))
    assert stack_key(base) == stack_key(copy.deepcopy(base).set_params(learning_rate=2.0))
    assert stack_key(base) == stack_key(copy.deepcopy(base).set_params(random_state=3))
    for other in ({"loss": "hinge"}, {"batch_size": 32}, {"shuffle": False}):
        assert stack_key(base) != stack_key(copy.deepcopy(base).set_params(**other))
    assert stack_key(dp.AdaptiveSGDRegressor()) != stack_key(dp.AdaptiveSGDClassifier())
    assert stack_key(SGDClassifier()) is None


# --------------------------------------------------------------------------------------------
# Searches: stacked against candidate by candidate


def _data(kind: str, chunks: int = 300) -> tuple[da.Array, da.Array]:
    X, target = _xy(kind, n=1800)
    y = (target > np.median(target)).astype(int) if kind == "classifier" else target
    return da.from_array(X, chunks=(chunks, -1)), da.from_array(y, chunks=chunks)


def _search(kind: str, how: str, **kw: Any) -> Any:
    learner = (
        dp.AdaptiveSGDClassifier(batch_size=64)
        if kind == "classifier"
        else dp.AdaptiveSGDRegressor(batch_size=64)
    )
    estimator = dp.ParallelIncremental(learner, epochs=2, random_state=0)
    scoring = (
        {"accuracy": "accuracy", "neg_log_loss": "neg_log_loss"}
        if kind == "classifier"
        else {"r2": "r2", "neg_mean_squared_error": "neg_mean_squared_error"}
    )
    refit = "neg_log_loss" if kind == "classifier" else "r2"
    common = {"scoring": scoring, "refit": refit, "cv": 3, **kw}
    if how == "grid":
        return dp.GridSearchCV(estimator, GRID, **common)
    if how == "random":
        distributions = {
            "estimator__alpha": loguniform(1e-5, 1e-1),
            "estimator__learning_rate": [0.1, 0.5, 1.0],
        }
        return dp.RandomizedSearchCV(estimator, distributions, n_iter=6, random_state=0, **common)
    return dp.HalvingSearchCV(estimator, GRID, factor=2, **common)


def _fit(search: Any, X: da.Array, y: da.Array, *, stack: bool) -> tuple[Any, list[int]]:
    """The fitted search, and the sizes of the stacks that trained together."""
    sizes: list[int] = []
    real = stacked_module.partition_states_together

    def counting(models: Any, *args: Any, **kwargs: Any) -> Any:
        sizes.append(len(models))
        return real(models, *args, **kwargs)

    stacked_module.partition_states_together = counting
    try:
        with dask.config.set({STACK_KEY: stack}):
            search.fit(X, y)
    finally:
        stacked_module.partition_states_together = real
    return search, sizes


def _assert_same_results(a: Any, b: Any, rtol: float) -> None:
    """The same scores (bit for bit with ``rtol=0``) and the same best candidate."""
    ra, rb = a.cv_results_, b.cv_results_
    assert ra["params"] == rb["params"]
    scores = [key for key in ra if "_test_" in key]
    assert scores
    for key in scores:
        if rtol == 0.0:
            np.testing.assert_array_equal(ra[key], rb[key], err_msg=key)
        elif not key.startswith("rank"):
            np.testing.assert_allclose(ra[key], rb[key], rtol=rtol, atol=rtol, err_msg=key)
    assert a.best_params_ == b.best_params_


@pytest.mark.parametrize("kind", ["classifier", "regressor"])
@pytest.mark.parametrize("how", ["grid", "random", "halving"])
def test_search_results_equal_candidate_by_candidate(kind: str, how: str) -> None:
    X, y = _data(kind)
    stacked, sizes = _fit(_search(kind, how), X, y, stack=True)
    alone, none = _fit(_search(kind, how), X, y, stack=False)
    assert sizes  # candidates did train together
    assert max(sizes) > 1
    assert none == []  # and not with the setting off
    _assert_same_results(stacked, alone, 0.0)  # the compiled kernel: bit for bit
    ref = alone.best_estimator_.estimator_
    got = stacked.best_estimator_.estimator_
    np.testing.assert_array_equal(got.coef_, ref.coef_)
    np.testing.assert_array_equal(got.intercept_, ref.intercept_)
    if how == "halving":
        assert stacked.n_candidates_ == alone.n_candidates_
    # The time columns are filled in for every candidate.
    assert np.all(stacked.cv_results_["mean_fit_time"] > 0)


@pytest.mark.parametrize("kind", ["classifier", "regressor"])
def test_numpy_kernel_search_equals_candidate_by_candidate(kind: str) -> None:
    """With the numpy reference kernel, the stacked pass is one BLAS product for all
    candidates: equal to the candidates' own numpy passes to float rounding."""
    X, y = _data(kind)
    with dask.config.set({KERNEL_KEY: "numpy"}):
        stacked, sizes = _fit(_search(kind, "grid"), X, y, stack=True)
        alone, _ = _fit(_search(kind, "grid"), X, y, stack=False)
    assert max(sizes) == len(ALPHAS) * len(RATES)
    _assert_same_results(stacked, alone, RTOL64)


def test_float32_search_equals_candidate_by_candidate() -> None:
    """float32 data train float32 models: the same bits stacked or alone."""
    X, y = _data("classifier")
    X = X.astype(np.float32)
    stacked, sizes = _fit(_search("classifier", "grid"), X, y, stack=True)
    alone, _ = _fit(_search("classifier", "grid"), X, y, stack=False)
    assert max(sizes) == len(ALPHAS) * len(RATES)
    _assert_same_results(stacked, alone, 0.0)


def test_deterministic_across_runs_and_graphs() -> None:
    """The same blocks give the same bits: on every run, and from an array whose blocks come
    from another graph; another merge tree adds the blocks' states in another order, so
    its scores agree to float rounding."""
    X, y = _data("classifier")
    first, _ = _fit(_search("classifier", "grid"), X, y, stack=True)
    again, _ = _fit(_search("classifier", "grid"), X, y, stack=True)
    rebuilt = da.concatenate([X[:900], X[900:]]).rechunk((300, -1))
    y_rebuilt = da.concatenate([y[:600], y[600:]]).rechunk(300)
    assert rebuilt.name != X.name
    assert rebuilt.chunks == X.chunks
    third, _ = _fit(_search("classifier", "grid"), rebuilt, y_rebuilt, stack=True)
    tree, _ = _fit(_search("classifier", "grid", split_every=2), X, y, stack=True)
    for key, value in first.cv_results_.items():
        if "_test_" in key:
            for other in (again, third):
                np.testing.assert_array_equal(other.cv_results_[key], value, err_msg=key)
            np.testing.assert_allclose(tree.cv_results_[key], value, rtol=1e-12, err_msg=key)


def test_what_cannot_stack_trains_alone() -> None:
    X, y = _data("classifier")
    losses = {"estimator__loss": ["log_loss", "hinge", "modified_huber"]}
    learner = dp.AdaptiveSGDClassifier(batch_size=64)
    by_loss = dp.GridSearchCV(dp.ParallelIncremental(learner, epochs=1, random_state=0), losses)
    _, sizes = _fit(by_loss, X, y, stack=True)
    assert sizes == []  # every candidate has its own loss
    # Without an int random_state each candidate draws its own seed: its own batch order.
    unseeded = dp.GridSearchCV(dp.ParallelIncremental(learner, epochs=1), GRID)
    _, sizes = _fit(unseeded, X, y, stack=True)
    assert sizes == []


def test_a_failing_stack_trains_one_model_at_a_time(monkeypatch: pytest.MonkeyPatch) -> None:
    X, y = _data("classifier")
    alone, _ = _fit(_search("classifier", "grid"), X, y, stack=False)

    def failing(*args: Any, **kwargs: Any) -> Any:
        raise FloatingPointError("a stacked pass that fails")

    monkeypatch.setattr(stacked_module, "partition_states_together", failing)
    with dask.config.set({STACK_KEY: True}):
        retried = _search("classifier", "grid").fit(X, y)
    _assert_same_results(retried, alone, 0.0)
    assert all(t > 0 for t in retried.cv_results_["mean_fit_time"])


def test_csr_blocks_train_alone_with_the_same_results() -> None:
    """Sparse blocks are trained one model at a time (the stacked pass is dense): the
    stacked search's results are the other's, bit for bit."""
    rng = np.random.default_rng(3)
    dense = np.where(rng.random((900, 20)) < 0.2, rng.normal(size=(900, 20)), 0.0)
    y = (dense @ rng.normal(size=20) > 0).astype(int)
    X = da.from_array(sp.csr_matrix(dense), chunks=(300, -1), asarray=False)
    yd = da.from_array(y, chunks=300)
    stacked, _ = _fit(_search("classifier", "grid"), X, yd, stack=True)
    alone, _ = _fit(_search("classifier", "grid"), X, yd, stack=False)
    for key, value in alone.cv_results_.items():
        if "_test_" in key:
            np.testing.assert_array_equal(stacked.cv_results_[key], value, err_msg=key)


def test_a_pipeline_with_a_scaler_stacks_per_scaler_setting() -> None:
    X, y = _data("regressor")
    pipe = make_pipeline(
        dp.StandardScaler(),
        dp.ParallelIncremental(dp.AdaptiveSGDRegressor(batch_size=64), epochs=2, random_state=0),
    )
    grid = {
        "standardscaler__with_mean": [True, False],
        "parallelincremental__estimator__alpha": ALPHAS,
    }
    stacked, sizes = _fit(dp.GridSearchCV(pipe, grid), X, y, stack=True)
    alone, _ = _fit(dp.GridSearchCV(pipe, grid), X, y, stack=False)
    # One stack per scaler setting and fold, of the alphas.
    assert set(sizes) == {len(ALPHAS)}
    _assert_same_results(stacked, alone, 0.0)


@pytest.mark.parametrize("loss", ["log_loss", "squared_error"])
def test_stacked_passes_without_intercept(loss: str) -> None:
    """``fit_intercept=False``: the rows are not centred (``mean`` None)."""
    rng = np.random.default_rng(4)
    X, Y, w, k = _problem(loss, np.float64, rng)
    alphas, rates = [0.0, 1e-2, 1e-3], [0.5, 0.1, 1.0]
    regression = loss == "squared_error"

    def uncentred() -> Model:
        model = _fresh(k, X.shape[1], np.float64, regression)
        model.mean = None
        return model

    options = {"loss": loss, "epsilon": 0.0, "batch_size": 100, "rng": None}
    alone, compiled_alone = [uncentred() for _ in alphas], [uncentred() for _ in alphas]
    together, compiled_together = [uncentred() for _ in alphas], [uncentred() for _ in alphas]
    for a, b, alpha, rate in zip(alone, compiled_alone, alphas, rates, strict=True):
        train_pass(a, X, Y, w, alpha=alpha, learning_rate=rate, **options)
        train_pass_compiled(b, X, Y, w, alpha=alpha, learning_rate=rate, **options)
    train_pass_stacked(together, X, Y, w, alphas=alphas, learning_rates=rates, **options)
    train_pass_stacked_compiled(
        compiled_together, X, Y, w, alphas=alphas, learning_rates=rates, **options
    )
    for a, b, c, e in zip(alone, together, compiled_alone, compiled_together, strict=True):
        assert b.mean is None
        assert e.mean is None
        np.testing.assert_allclose(b.coef, a.coef, rtol=PASS_RTOL64, atol=1e-12)
        np.testing.assert_array_equal(e.coef, c.coef)
        np.testing.assert_array_equal(e.intercept, c.intercept)
        np.testing.assert_array_equal(a.intercept, 0.0)  # no intercept without centring
