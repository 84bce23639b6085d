"""Exact one-pass least squares against scikit-learn's in-memory fits on the same data."""

from __future__ import annotations

from typing import Any

import dask.array as da
import numpy as np
import pytest
from dask.callbacks import Callback
from daskpar_testing import as_dask
from distributed.utils import key_split
from scipy import linalg
from sklearn import linear_model
from sklearn.utils.estimator_checks import parametrize_with_checks

import daskpar as dp

RTOL = 1e-8


def assert_same_fit(ours: Any, ref: Any) -> None:
    """Coefficients and intercept equal to ``RTOL`` relative to the coefficients' scale."""
    scale = np.abs(ref.coef_).max()
    np.testing.assert_allclose(ours.coef_, ref.coef_, rtol=0, atol=RTOL * scale)
    np.testing.assert_allclose(ours.intercept_, ref.intercept_, rtol=RTOL, atol=RTOL * scale)


@pytest.fixture(scope="module")
def badly_scaled() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Features with large offsets and very different scales, where raw XᵀX would cancel."""
    rng = np.random.default_rng(7)
    n, d = 3000, 15
    X = rng.normal(size=(n, d)) * np.logspace(-2.5, 2.5, d) + rng.normal(size=d) * 1e4
    y = X @ rng.normal(size=d) + rng.normal(size=n) + 50.0
    return X, y, rng.uniform(0.0, 3.0, n)


def well_posed_without_intercept(
    data: tuple[np.ndarray, np.ndarray, np.ndarray],
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The same features with small offsets.

    Without centring, offsets of 1e4 on features of scale 3e-3 make X numerically
    rank-deficient, and scikit-learn's answers become unreliable references (see
    ``test_ridge_ill_conditioned_without_intercept``).
    """
    X, y, w = data
    return X - X.mean(axis=0) + np.linspace(-5.0, 5.0, X.shape[1]), y - y.mean(), w


CHUNKINGS = [3000, 1000, 777, (1500, 0, 1000, 500)]


@pytest.mark.parametrize("chunks", CHUNKINGS)
@pytest.mark.parametrize("split_every", [2, 8])
@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("weighted", [False, True])
def test_linear_regression_equals_sklearn(
    badly_scaled: tuple[np.ndarray, np.ndarray, np.ndarray],
    chunks: Any,
    split_every: int,
    fit_intercept: bool,
    weighted: bool,
) -> None:
    X, y, w = badly_scaled if fit_intercept else well_posed_without_intercept(badly_scaled)
    sw = w if weighted else None
    Xd, yd = as_dask(X, y, chunks)
    ours = dp.LinearRegression(fit_intercept=fit_intercept, split_every=split_every)
    ours.fit(Xd, yd, sample_weight=sw)
    ref = linear_model.LinearRegression(fit_intercept=fit_intercept).fit(X, y, sample_weight=sw)
    assert_same_fit(ours, ref)
    assert ours.rank_ == ref.rank_ == X.shape[1]
    np.testing.assert_allclose(ours.singular_, ref.singular_, rtol=1e-8)


@pytest.mark.parametrize("chunks", CHUNKINGS)
@pytest.mark.parametrize("alpha", [1e-3, 1.0, 1e4])
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_ridge_equals_sklearn(
    badly_scaled: tuple[np.ndarray, np.ndarray, np.ndarray],
    chunks: Any,
    alpha: float,
    fit_intercept: bool,
) -> None:
    X, y, w = badly_scaled if fit_intercept else well_posed_without_intercept(badly_scaled)
    Xd, yd = as_dask(X, y, chunks)
    for sw in (None, w):
        ours = dp.Ridge(alpha, fit_intercept=fit_intercept, split_every=3)
        ours.fit(Xd, yd, sample_weight=sw)
        ref = linear_model.Ridge(alpha, fit_intercept=fit_intercept).fit(X, y, sample_weight=sw)
        assert_same_fit(ours, ref)


def test_ridge_ill_conditioned_without_intercept(
    badly_scaled: tuple[np.ndarray, np.ndarray, np.ndarray],
) -> None:
    """The merged QR factor keeps digits that the normal equations lose.

    On raw features with offsets 1e4 and scales from 3e-3 to 3e2, scikit-learn's Cholesky
    solve of ``X^T X + alpha I`` is off by about 1e-2; daskpar agrees with a backward-stable
    ``lstsq`` of the stacked system ``[X; sqrt(alpha) I]`` to about 1e-8.
    """
    X, y, _ = badly_scaled
    alpha, d = 1e-3, X.shape[1]
    stable = linalg.lstsq(np.vstack([X, np.sqrt(alpha) * np.eye(d)]), np.r_[y, np.zeros(d)])[0]
    ours = dp.Ridge(alpha, fit_intercept=False).fit(*as_dask(X, y, 700)).coef_
    np.testing.assert_allclose(ours, stable, rtol=0, atol=1e-7 * np.abs(stable).max())


def test_dask_sample_weight_equals_numpy(
    badly_scaled: tuple[np.ndarray, np.ndarray, np.ndarray],
) -> None:
    X, y, w = badly_scaled
    Xd, yd = as_dask(X, y, 700)
    a = dp.Ridge().fit(Xd, yd, sample_weight=w)
    b = dp.Ridge().fit(Xd, yd, sample_weight=da.from_array(w, chunks=(Xd.chunks[0],)))
    np.testing.assert_array_equal(a.coef_, b.coef_)


@pytest.mark.parametrize(
    ("ours", "ref", "chunks"),
    [
        (dp.LinearRegression(split_every=2), linear_model.LinearRegression(), (1600, 1400, 1000)),
        (dp.Ridge(alpha=10.0), linear_model.Ridge(alpha=10.0), 1000),
    ],
    ids=["LinearRegression", "Ridge"],
)
@pytest.mark.slow  # 2000 x 2000 factors merged on 2 cores: minutes, in the slow suite
def test_two_thousand_features(ours: Any, ref: Any, chunks: Any) -> None:
    """Past the width where single-machine normal-equation solvers stop; still exact."""
    rng = np.random.default_rng(3)
    n, d = 4000, 2000
    X = rng.normal(size=(n, d)) + rng.normal(size=d) * 10
    y = X @ rng.normal(size=d) + rng.normal(size=n)
    assert_same_fit(ours.fit(*as_dask(X, y, chunks)), ref.fit(X, y))


def test_numpy_input_equals_sklearn(
    badly_scaled: tuple[np.ndarray, np.ndarray, np.ndarray],
) -> None:
    X, y, _ = badly_scaled
    ours = dp.LinearRegression().fit(X, y)
    ref = linear_model.LinearRegression().fit(X, y)
    assert_same_fit(ours, ref)
    np.testing.assert_allclose(ours.predict(X[:5]), ref.predict(X[:5]), rtol=1e-8)
    assert isinstance(ours.predict(X[:5]), np.ndarray)


def test_predict_is_lazy_and_score_runs_on_workers(
    badly_scaled: tuple[np.ndarray, np.ndarray, np.ndarray],
) -> None:
    X, y, _ = badly_scaled
    Xd, yd = as_dask(X, y, 1000)
    model = dp.Ridge(alpha=0.5).fit(Xd, yd)
    pred = model.predict(Xd)
    assert isinstance(pred, da.Array)
    assert pred.chunks == (Xd.chunks[0],)
    np.testing.assert_allclose(pred.compute(), model.predict(X), rtol=1e-12)
    ref = linear_model.Ridge(alpha=0.5).fit(X, y)
    assert model.score(Xd, yd) == pytest.approx(ref.score(X, y), rel=1e-10)


def test_collinear_features_are_a_clear_error() -> None:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(400, 4))
    X = np.column_stack([X, X[:, 0] + 2 * X[:, 1]])
    y = rng.normal(size=400)
    Xd, yd = as_dask(X, y, 100)
    with pytest.raises(dp.InputError, match=r"5 features but rank 4.*daskpar\.Ridge"):
        dp.LinearRegression().fit(Xd, yd)
    # The same data is fine with a penalty, and matches scikit-learn.
    assert_same_fit(dp.Ridge(alpha=1.0).fit(Xd, yd), linear_model.Ridge(alpha=1.0).fit(X, y))


def test_constant_feature_with_intercept_is_rank_deficient() -> None:
    rng = np.random.default_rng(1)
    X = np.column_stack([rng.normal(size=300), np.full(300, 4.0)])
    Xd, yd = as_dask(X, rng.normal(size=300), 100)
    with pytest.raises(dp.InputError, match="rank 1 after centring"):
        dp.LinearRegression().fit(Xd, yd)
    # Without an intercept the constant column is an ordinary feature.
    dp.LinearRegression(fit_intercept=False).fit(Xd, yd)


@pytest.mark.parametrize("fit_intercept", [True, False])
def test_full_rank_features_in_other_units_are_accepted(fit_intercept: bool) -> None:
    """Rank does not depend on units: independent columns on scales 1e4 to 1e-4 are full rank.

    The rank was decided on the singular values of unscaled X, so a feature measured in
    small units looked like a linear combination of the others.
    """
    rng = np.random.default_rng(11)
    X = rng.uniform(-1.0, 1.0, size=(3000, 4)) * np.array([1e4, 3.0, 1e-2, 1e-4])
    y = X @ np.array([1e-4, 2.0, 50.0, 3e3]) + rng.normal(scale=0.1, size=3000)
    Xd, yd = as_dask(X, y, 700)
    ours = dp.LinearRegression(fit_intercept=fit_intercept).fit(Xd, yd)
    assert ours.rank_ == 4
    # The reference: lstsq on unit-scaled columns, mapped back. (scikit-learn's
    # LinearRegression cuts the singular values of the unscaled X at a relative 1e-13-ish
    # threshold here and returns about 0 for the two small-unit features.)
    Xc, yc = (X - X.mean(axis=0), y - y.mean()) if fit_intercept else (X, y)
    scale = np.linalg.norm(Xc, axis=0)
    ref = linalg.lstsq(Xc / scale, yc)[0] / scale
    np.testing.assert_allclose(ours.coef_, ref, rtol=1e-8)
    assert abs(ours.coef_[3] - 3e3) < 50.0  # and it is the model the data came from


def test_rank_deficiency_names_the_columns() -> None:
    """Constant and collinear features are named, in any units, and a rounding-level spread
    of a constant column does not pass for a feature."""
    rng = np.random.default_rng(12)
    base = rng.normal(size=(2000, 3)) * np.array([1e3, 1.0, 1e-3])
    X = np.column_stack(
        [
            base,
            np.full(2000, 0.1),  # constant; its mean rounds, so centring leaves ~1e-17
            base[:, 0] * 1e-3 + base[:, 2] * 1e3,  # a combination of columns 0 and 2
        ]
    ).astype(np.float32)
    Xd, yd = as_dask(X, rng.normal(size=2000), 300)
    with pytest.raises(dp.InputError) as error:
        dp.LinearRegression().fit(Xd, yd)
    message = str(error.value)
    assert "5 features but rank 3 after centring" in message
    assert "feature(s) [3] are constant" in message
    assert "feature(s) [0, 2, 4] are (nearly) linear combinations" in message
    assert "daskpar.Ridge" in message


def test_bad_sample_weight(badly_scaled: tuple[np.ndarray, np.ndarray, np.ndarray]) -> None:
    X, y, w = badly_scaled
    Xd, yd = as_dask(X, y, 1000)
    with pytest.raises(dp.InputError, match="sample_weight's row chunks do not match"):
        dp.Ridge().fit(Xd, yd, sample_weight=da.from_array(w, chunks=500))
    with pytest.raises(dp.InputError, match="sample_weight must be 1-D"):
        dp.Ridge().fit(Xd, yd, sample_weight=w.reshape(-1, 1))
    negative = w.copy()
    negative[1500] = -1.0
    with pytest.raises(dp.PartitionError, match=r"negative values in partition 1.*row 1500"):
        dp.Ridge().fit(Xd, yd, sample_weight=negative)


def test_non_finite_values_name_the_partition(
    badly_scaled: tuple[np.ndarray, np.ndarray, np.ndarray],
) -> None:
    X, y, _ = badly_scaled
    y = y.copy()
    y[2100] = np.nan
    Xd, yd = as_dask(X, y, 1000)
    with pytest.raises(dp.PartitionError, match="y holds NaN in partition 2"):
        dp.LinearRegression().fit(Xd, yd)


def test_one_pass_and_stage_names(badly_scaled: tuple[np.ndarray, np.ndarray, np.ndarray]) -> None:
    X, y, _ = badly_scaled
    Xd, yd = as_dask(X, y, 500)
    calls: list[str] = []

    class Record(Callback):
        def _pretask(self, key: object, dsk: object, state: object) -> None:
            calls.append(key_split(key))

    with Record():
        dp.LinearRegression(split_every=3).fit(Xd, yd)
    assert calls.count("lstsq-block") == Xd.numblocks[0]
    # 6 partitions at fan-in 3: two combine nodes, then the root.
    assert calls.count("lstsq-merge") == 3
    assert calls.count("lstsq-final") == 1


def expected_failed_checks(estimator: Any) -> dict[str, str]:
    if isinstance(estimator, dp.LinearRegression):
        return {
            "check_sample_weight_equivalence_on_dense_data": (
                "the check's data have fewer distinct samples than features; daskpar's "
                "LinearRegression rejects a rank-deficient X instead of returning one of its "
                "many least-squares solutions"
            )
        }
    return {}


@parametrize_with_checks(
    [dp.LinearRegression(), dp.Ridge()], expected_failed_checks=expected_failed_checks
)
def test_sklearn_compatible(estimator: Any, check: Any) -> None:
    check(estimator)
