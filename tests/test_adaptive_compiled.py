"""The adaptive learner's compiled passes (``daskpar._adaptive._compiled``) against numpy's.

The numpy passes (``_kernel.train_pass``, ``_sparse.train_pass_sparse``) are the reference:
on generated problems (every loss, both dtypes, with and without intercept, ``alpha`` 0 and
> 0, shuffled or not, weighted or not, blocks of 1 row and of odd sizes, features fewer and
more than a vector's lanes, features that are always zero) the compiled pass gives the same
model and loss to float rounding, relative to each value and to its array's largest:
``RTOL`` in float64 (1e-15 is typical, the sums running in another order; the margin is
for the rounding's growth over the passes), ``RTOL32`` in float32.

The smooth losses (``log_loss``, ``multinomial``, ``squared_error``) are compared after
three passes. ``hinge``, ``modified_huber`` and ``huber`` after one: the first's derivative
jumps where the margin crosses 1, the others' curvature (so the safe step's fraction) where a
row crosses a kink, so that a rounding-sized difference can move a row across and the fits
then part by far more than rounding. Measured on 3,000 rows in batches of 64: ``huber`` with
``epsilon=0.1`` (few rows in its quadratic zone) stays within 1e-15 for 4 batches and parts
by 1e-2 after 47, where with every row in the quadratic zone it stays within 1e-16. Fewer
batches keep such a crossing unlikely; the rows are drawn from continuous distributions, so
that none sits on a kink by construction.

Then: the same bits on every run, from two threads at once (the kernels release the GIL),
and on a ``LocalCluster`` of one worker and of two; and the ``daskpar.adaptive-kernel``
setting.
"""

from __future__ import annotations

import copy
import math
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from unittest import mock

import dask
import dask.array as da
import numpy as np
import pytest
import scipy.sparse as sp
from daskpar_testing import local_cluster
from distributed import Client
from hypothesis import given, settings
from hypothesis import strategies as st

import daskpar as dp
from daskpar._adaptive._base import KERNEL_KEY
from daskpar._adaptive._compiled import (
    LOSS_CODES,
    _rate,
    train_pass_compiled,
    train_pass_sparse_compiled,
)
from daskpar._adaptive._kernel import (
    CLASSIFIER_LOSSES,
    REGRESSOR_LOSSES,
    Model,
    normalized_rate,
    target_scale,
    train_pass,
)
from daskpar._adaptive._kernel import LOSSES as KERNEL_LOSSES
from daskpar._adaptive._sparse import as_csr, train_pass_sparse

RTOL = 1e-9
RTOL32 = 1e-4

LOSSES = (*CLASSIFIER_LOSSES, "multinomial", *REGRESSOR_LOSSES)
#: Compared after one pass: a rounding-sized difference can move a row across a kink.
JUMPY = ("hinge", "modified_huber", "huber")
FIELDS = (
    "coef", "intercept", "squared", "scale", "sum_weight", "sum_norm", "target_sums", "mean",
)  # fmt: skip


# --------------------------------------------------------------------------------------------
# Problems


def outputs(loss: str, wide: bool) -> int:
    if loss == "multinomial":
        return 3
    if loss in ("hinge", "modified_huber") and wide:
        return 3  # one-vs-rest
    return 1


def targets(loss: str, z: np.ndarray, k: int) -> np.ndarray:
    """Encoded targets of scores ``z`` (rows, outputs), as the estimators encode them."""
    if loss == "multinomial":
        return np.eye(k)[z.argmax(axis=1)]
    if loss == "log_loss":
        return (z[:, :1] > 0).astype(np.float64)
    if loss in ("hinge", "modified_huber"):
        return np.where(z[:, :k] > 0, 1.0, -1.0) if k == 1 else 2 * np.eye(k)[z.argmax(1)] - 1
    return 3.0 * z[:, :1] + 10.0


def fresh_model(
    loss: str, k: int, d: int, dtype: type, *, centred: bool, mean: float = 0.0
) -> Model:
    regression = loss in REGRESSOR_LOSSES
    return Model(
        np.zeros((k, d), dtype), np.zeros(k, dtype), np.zeros((k, d + 1), dtype),
        np.zeros(d, dtype), 0.0, 0.0, np.zeros(2) if regression else None,
        np.full(d, mean) if centred else None,
    )  # fmt: skip


@st.composite
def problems(draw: st.DrawFn) -> dict[str, Any]:
    """Everything of a problem but its loss (which the tests take from parametrize)."""
    return {
        "dtype": draw(st.sampled_from([np.float64, np.float32])),
        "n": draw(st.sampled_from([1, 2, 17, 63, 130, 257])),
        "d": draw(st.sampled_from([1, 3, 8, 13])),
        "wide": draw(st.booleans()),
        "intercept": draw(st.booleans()),
        "alpha": draw(st.sampled_from([0.0, 1e-4, 1e-2])),
        "shuffle": draw(st.booleans()),
        "weighted": draw(st.booleans()),
        "zero_column": draw(st.booleans()),
        "batch_size": draw(st.sampled_from([1, 8, 64, 1024])),
        "seed": draw(st.integers(0, 2**16)),
    }


def dense_data(case: dict[str, Any]) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    rs = np.random.RandomState(case["seed"])
    n, d, dtype = case["n"], case["d"], case["dtype"]
    k = outputs(case["loss"], case["wide"])
    # Features in units far apart and off-centre: what the scale and the centring are for.
    X = rs.standard_normal((n, d)) * rs.uniform(0.1, 10.0, d) + rs.uniform(-5.0, 5.0, d)
    if case["zero_column"]:
        X[:, 0] = 0.0
    z = (X - X.mean(axis=0)) / (X.std(axis=0) + 1.0) @ rs.standard_normal((d, 3))
    w = rs.uniform(0.5, 2.0, n) if case["weighted"] else np.ones(n)
    return X.astype(dtype), targets(case["loss"], z, k).astype(dtype), w.astype(dtype), k


def sparse_data(case: dict[str, Any]) -> tuple[sp.csr_matrix, np.ndarray, np.ndarray, int]:
    X, Y, w, k = dense_data(case)
    rs = np.random.RandomState(case["seed"] + 1)
    X[rs.uniform(size=X.shape) < 0.6] = 0.0  # some rows empty, some features rare
    return as_csr(sp.csr_matrix(X)), Y, w, k


def assert_same_model(model: Model, reference: Model, rtol: float) -> None:
    for field in FIELDS:
        got, want = getattr(model, field), getattr(reference, field)
        if want is None:
            assert got is None, field
            continue
        want = np.asarray(want, dtype=np.float64)
        got = np.asarray(got, dtype=np.float64)
        atol = rtol * float(np.abs(want).max(initial=0.0))
        np.testing.assert_allclose(got, want, rtol=rtol, atol=atol, err_msg=field)


def run_passes(
    step: Any, model: Model, X: Any, Y: Any, w: Any, passes: int, **options: Any
) -> float:
    total = 0.0
    for p in range(passes):
        rng = np.random.RandomState(p) if options["shuffle"] else None
        kwargs = {key: value for key, value in options.items() if key != "shuffle"}
        total += step(model, X, Y, w, rng=rng, with_loss=True, **kwargs)
    return total


def options_for(case: dict[str, Any]) -> dict[str, Any]:
    return {
        "loss": case["loss"],
        "alpha": case["alpha"],
        "learning_rate": 0.5,
        "epsilon": 0.1,
        "batch_size": case["batch_size"],
        "shuffle": case["shuffle"],
    }


# --------------------------------------------------------------------------------------------
# The compiled passes equal numpy's


@pytest.mark.parametrize("loss", LOSSES)
@settings(max_examples=20, deadline=None)
@given(case=problems())
def test_compiled_dense_pass_equals_numpy(loss: str, case: dict[str, Any]) -> None:
    case = {**case, "loss": loss}
    X, Y, w, k = dense_data(case)
    passes = 1 if case["loss"] in JUMPY else 3
    reference = fresh_model(case["loss"], k, case["d"], case["dtype"], centred=case["intercept"])
    model = copy.deepcopy(reference)
    want = run_passes(train_pass, reference, X, Y, w, passes, **options_for(case))
    got = run_passes(train_pass_compiled, model, X, Y, w, passes, **options_for(case))
    rtol = RTOL if case["dtype"] == np.float64 else RTOL32
    assert_same_model(model, reference, rtol)
    assert math.isclose(got, want, rel_tol=rtol, abs_tol=rtol * float(w.sum()))


@pytest.mark.parametrize("loss", LOSSES)
@settings(max_examples=20, deadline=None)
@given(case=problems())
def test_compiled_sparse_pass_equals_numpy(loss: str, case: dict[str, Any]) -> None:
    case = {**case, "loss": loss}
    X, Y, w, k = sparse_data(case)
    passes = 1 if case["loss"] in JUMPY else 3
    reference = fresh_model(case["loss"], k, case["d"], case["dtype"], centred=False)
    model = copy.deepcopy(reference)
    options = {**options_for(case), "intercept": case["intercept"]}
    want = run_passes(train_pass_sparse, reference, X, Y, w, passes, **options)
    got = run_passes(train_pass_sparse_compiled, model, X, Y, w, passes, **options)
    rtol = RTOL if case["dtype"] == np.float64 else RTOL32
    assert_same_model(model, reference, rtol)
    assert math.isclose(got, want, rel_tol=rtol, abs_tol=rtol * float(w.sum()))


def test_an_empty_block_changes_nothing() -> None:
    model = fresh_model("log_loss", 1, 4, np.float64, centred=True)
    before = copy.deepcopy(model)
    options = {"loss": "log_loss", "alpha": 0.0, "learning_rate": 0.5, "epsilon": 0.1}
    empty = np.zeros((0, 4)), np.zeros((0, 1)), np.zeros(0)
    assert train_pass_compiled(model, *empty, batch_size=8, rng=None, **options) == 0.0
    X = sp.csr_matrix((0, 4))
    assert train_pass_sparse_compiled(
        model, X, *empty[1:], batch_size=8, rng=None, intercept=True, **options
    ) == 0.0  # fmt: skip
    assert_same_model(model, before, 0.0)


def test_every_loss_has_a_code() -> None:
    assert set(LOSS_CODES) == set(KERNEL_LOSSES) == set(LOSSES)


@pytest.mark.parametrize("regression", [False, True])
def test_the_rate_is_the_kernels(regression: bool) -> None:
    counters = np.array([12.5, 40.0, 30.0, 400.0])
    want = normalized_rate(0.5, 12.5, 40.0)
    if regression:
        want *= target_scale(counters[2:], 12.5)
    assert _rate(0.5, counters, regression) == pytest.approx(want, rel=1e-15)


# --------------------------------------------------------------------------------------------
# The same bits


def test_same_bits_on_every_run_and_from_two_threads_at_once() -> None:
    case = {
        "loss": "multinomial", "dtype": np.float64, "n": 4001, "d": 37, "wide": True,
        "seed": 3, "weighted": True, "zero_column": True,
    }  # fmt: skip
    X, Y, w, k = dense_data(case)
    Xs, *_ = sparse_data(case)
    options = {"loss": "multinomial", "alpha": 1e-4, "learning_rate": 0.5, "epsilon": 0.1}

    def dense() -> Model:
        model = fresh_model("multinomial", k, 37, np.float64, centred=True)
        rng = np.random.RandomState(0)
        for _ in range(2):
            train_pass_compiled(model, X, Y, w, batch_size=64, rng=rng, **options)
        return model

    def sparse() -> Model:
        model = fresh_model("multinomial", k, 37, np.float64, centred=False)
        rng = np.random.RandomState(0)
        for _ in range(2):
            train_pass_sparse_compiled(
                model, Xs, Y, w, batch_size=64, rng=rng, intercept=True, **options
            )
        return model

    for fit in (dense, sparse):
        first = fit()
        with ThreadPoolExecutor(2) as pool:
            others = [future.result() for future in [pool.submit(fit), pool.submit(fit)]]
        for other in others:
            for field in FIELDS:
                a, b = getattr(first, field), getattr(other, field)
                assert np.asarray(a).tobytes() == np.asarray(b).tobytes(), field


def fit_on_cluster(data: list[tuple[Any, Any]], **cluster: Any) -> list[np.ndarray]:
    """``coef_`` of two epochs on each ``(X, y)`` of ``data``, on a cluster of processes."""
    with local_cluster(processes=True, **cluster) as local, Client(local):
        return [fit_epochs(X, y) for X, y in data]


def fit_epochs(X: Any, y: Any) -> np.ndarray:
    model = dp.ParallelIncremental(dp.AdaptiveSGDClassifier(), epochs=2, random_state=0)
    coef: np.ndarray = model.fit(X, y).estimator_.coef_
    return coef


@pytest.mark.slow  # a cluster or the installed command: the slow suite
def test_same_bits_on_one_worker_and_two() -> None:
    """Dense and CSR blocks: the fit on one worker and on two (one thread each) agree to the
    bit, and with the synchronous scheduler."""
    rs = np.random.RandomState(5)
    X = rs.standard_normal((6000, 20)) * rs.uniform(0.5, 5.0, 20) + 3.0
    y = (X[:, :5].sum(axis=1) > 15.0).astype(int)
    Xs = X.copy()
    Xs[rs.uniform(size=X.shape) < 0.7] = 0.0
    yd = da.from_array(y, chunks=1500)
    data = [
        (da.from_array(X, chunks=(1500, -1)), yd),
        (da.from_array(sp.csr_matrix(Xs), chunks=(1500, -1), asarray=False), yd),
    ]
    with dask.config.set(scheduler="sync"):
        reference = [fit_epochs(X, y) for X, y in data]
    one = fit_on_cluster(data, n_workers=1)
    two = fit_on_cluster(data, n_workers=2, threads_per_worker=1)
    for want, got_one, got_two in zip(reference, one, two, strict=True):
        assert got_one.tobytes() == want.tobytes()
        assert got_two.tobytes() == want.tobytes()


# --------------------------------------------------------------------------------------------
# The setting


def test_the_setting_picks_the_kernels() -> None:
    """Compiled by default, numpy's with ``"numpy"``: the other kernel is never called, and
    the fits agree to rounding."""
    rs = np.random.RandomState(7)
    X = rs.standard_normal((500, 6)) + 2.0
    y = (X[:, 0] > 2.0).astype(int)
    fits = {}
    for kernel, unused in [("numpy", "train_pass_compiled"), ("compiled", "train_pass")]:
        with (
            dask.config.set({KERNEL_KEY: kernel}),
            mock.patch(f"daskpar._adaptive._base.{unused}", side_effect=AssertionError),
        ):
            fits[kernel] = dp.AdaptiveSGDClassifier(random_state=0).fit(X, y)
    np.testing.assert_allclose(fits["compiled"].coef_, fits["numpy"].coef_, rtol=1e-9, atol=1e-12)


def test_a_bad_setting_names_the_key_and_the_values() -> None:
    X, y = np.ones((4, 2)), np.array([0, 1, 0, 1])
    with (
        dask.config.set({KERNEL_KEY: "fortran"}),
        pytest.raises(ValueError, match=r"'daskpar.adaptive-kernel'.*'compiled', 'numpy'.*fortran"),
    ):
        dp.AdaptiveSGDClassifier().fit(X, y)
