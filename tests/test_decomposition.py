"""Exact one-pass PCA: scikit-learn's ``PCA(svd_solver="full")`` for any partitioning."""

from __future__ import annotations

import warnings
from collections import Counter
from functools import reduce
from typing import Any

import dask.array as da
import dask.dataframe as dd
import numpy as np
import pandas as pd
import pytest
from dask.callbacks import Callback
from dask.utils import key_split  # what distributed's dashboard and progress bars use
from daskpar_strategies import chunkings, split_every
from daskpar_testing import no_task_runs
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import sparse
from sklearn import datasets, decomposition
from sklearn.linear_model import SGDClassifier
from sklearn.pipeline import make_pipeline
from sklearn.utils._param_validation import InvalidParameterError
from sklearn.utils.estimator_checks import parametrize_with_checks

import daskpar as dp
from daskpar._decomposition import (
    FULL_MAX_FEATURES,
    PCA,
    CentredFactor,
    CentredSketch,
    pca_fit_partition,
    pca_sketch_partition,
)
from daskpar._states import LeastSquaresState

RTOL = 1e-10
CHUNKINGS: list[Any] = [600, 1, 77, (0, 250, 0, 350), (1, 299, 300)]
FITTED = (
    "components_",
    "explained_variance_",
    "explained_variance_ratio_",
    "singular_values_",
    "mean_",
    "noise_variance_",
    "n_components_",
    "n_samples_",
    "n_features_in_",
)


# --------------------------------------------------------------------------------------------
# helpers


def badly_scaled(n: int = 600, seed: int = 0) -> np.ndarray:
    """Features far from zero relative to their spread, on scales from 1e-2 to 1e2, mixed so
    that no component is a single feature."""
    rng = np.random.default_rng(seed)
    d = 6
    mixing = np.linalg.qr(rng.normal(size=(d, d)))[0] * 0.3 + np.eye(d)
    spread = rng.normal(size=(n, d)) * np.logspace(-2, 2, d) @ mixing
    return spread + np.array([1e6, -3e4, 0.0, 50.0, 1e6, 7.0])


def dask_rows(X: np.ndarray, chunks: Any) -> da.Array:
    return da.from_array(X, chunks=(chunks, -1))


def sk_pca(X: np.ndarray, **params: Any) -> decomposition.PCA:
    return decomposition.PCA(svd_solver="full", **params).fit(X)


def assert_same_fit(ours: PCA, ref: decomposition.PCA, rtol: float = RTOL) -> None:
    """scikit-learn's fitted attributes: names, dtypes, shapes and values to ``rtol``.

    Arrays are compared relative to their largest entry: a component's entry of 1e-17 is
    rounding in both, and a relative difference of such entries means nothing. The mean is
    compared relative to the data's spread too: that of centred data is rounding.
    """
    public = sorted(k for k in vars(ref) if k.endswith("_") and not k.startswith("_"))
    assert sorted(k for k in vars(ours) if k.endswith("_") and not k.startswith("_")) == public
    assert set(FITTED) <= set(public)
    for name in public:
        got, want = getattr(ours, name), getattr(ref, name)
        if isinstance(want, np.ndarray) and want.dtype == object:  # feature_names_in_
            np.testing.assert_array_equal(got, want, err_msg=name)
        elif isinstance(want, np.ndarray):
            assert got.dtype == want.dtype, name
            assert got.shape == want.shape, name
            scale = np.abs(want).max(initial=0.0)
            if name == "mean_":
                scale += np.sqrt(ref.get_covariance().diagonal().max())
            np.testing.assert_allclose(got, want, rtol=rtol, atol=rtol * scale, err_msg=name)
        elif isinstance(want, np.floating):
            assert type(got) is type(want), name
            assert got == pytest.approx(want, rel=rtol), name
        else:
            assert got == want, name  # ints (n_components_ is np.int64 for a float n_components)


def assert_same_transforms(ours: PCA, ref: decomposition.PCA, X: np.ndarray, chunks: Any) -> None:
    """Dask transform and inverse: lazy, one task per block, equal to ours on numpy and to
    scikit-learn's to the accuracy the data's offsets allow."""
    Xd = dask_rows(X, chunks)
    Xt = ours.transform(Xd)
    assert isinstance(Xt, da.Array)
    assert Xt.chunks == (Xd.chunks[0], (ours.n_components_,))
    assert key_split(Xt.name) == "pca-transform"
    # X @ components_.T - mean_ @ components_.T cancels the offsets: |X| * 1e-16 is as close as
    # any two correct projections get (scikit-learn's own included, and ours on blocks of
    # other sizes, where BLAS adds in another order).
    # Whitening divides each column by its standard deviation: so does the difference.
    atol = 1e-14 * np.abs(X).max() * X.shape[1]
    unwhiten = np.sqrt(ref.explained_variance_) if ref.whiten else 1.0
    want = ref.transform(X)
    for got in (Xt.compute(), ours.transform(X)):
        np.testing.assert_allclose(got * unwhiten, want * unwhiten, rtol=RTOL, atol=atol)
    back = ours.inverse_transform(dask_rows(want, chunks))
    assert isinstance(back, da.Array)
    assert key_split(back.name) == "pca-inverse"
    np.testing.assert_allclose(back.compute(), ref.inverse_transform(want), rtol=RTOL, atol=atol)


class Recorder(Callback):
    """Records the key of every task the local schedulers run (a context manager)."""

    def __init__(self) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self.keys: list[Any] = []

    def _pretask(self, key: Any, dsk: Any, state: Any) -> None:
        self.keys.append(key)

    def stages(self) -> Counter[str]:
        return Counter(key_split(k) for k in self.keys)


# --------------------------------------------------------------------------------------------
# fit: equal to scikit-learn for any partitioning and split_every


@pytest.mark.parametrize("chunks", CHUNKINGS, ids=str)
@pytest.mark.parametrize("split_every", [2, 8])
def test_fit_equals_scikit_learn(chunks: Any, split_every: int) -> None:
    X = badly_scaled()
    ours = PCA(split_every=split_every).fit(dask_rows(X, chunks))
    assert_same_fit(ours, sk_pca(X))


@pytest.mark.parametrize("n_components", [0, 1, 4, 6, 0.5, 0.99999, 0.9999999, None], ids=str)
def test_n_components_as_scikit_learn(n_components: Any) -> None:
    """An int, a variance ratio (scikit-learn's searchsorted rule) or all of them."""
    X = badly_scaled(seed=1)
    ours = PCA(n_components, split_every=3).fit(dask_rows(X, (1, 299, 300)))
    ref = sk_pca(X, n_components=n_components)
    assert_same_fit(ours, ref)
    if n_components == 0:  # nothing to transform back (scikit-learn refuses 0 columns)
        assert ours.transform(dask_rows(X, 77)).compute().shape == (600, 0)
    else:
        assert_same_transforms(ours, ref, X, 77)


@pytest.mark.parametrize("n_components", [3, 0.9999, None], ids=str)
def test_whiten_as_scikit_learn(n_components: Any) -> None:
    X = badly_scaled(seed=2)
    ours = PCA(n_components, whiten=True).fit(dask_rows(X, 100))
    ref = sk_pca(X, n_components=n_components, whiten=True)
    assert_same_fit(ours, ref)
    assert_same_transforms(ours, ref, X, (1, 299, 300))
    # Whitened components have unit variance.
    np.testing.assert_allclose(ours.transform(X).var(axis=0, ddof=1), 1.0, rtol=1e-8)


def test_offsets_are_centred_exactly() -> None:
    """Mean 1e6, standard deviation 1: the compensated means keep the merge exact.

    A plain float64 block mean keeps only 1e-10 of the difference of two such means, which
    moves the components by about 1e-11 (with LeastSquaresState's merge); the two-part mean
    keeps them within a few 1e-15 of scikit-learn's on 1-row blocks, the most merges.
    """
    rng = np.random.default_rng(3)
    X = rng.normal(size=(2000, 10)) * np.linspace(0.5, 2.0, 10) + 1e6
    ref = sk_pca(X)
    for chunks in (1, 7, 500):
        ours = PCA(split_every=3).fit(dask_rows(X, chunks))
        assert_same_fit(ours, ref, rtol=1e-13)
    # The same merges of uncompensated factors are a thousand times further off.
    states = [
        LeastSquaresState.of(X[i : i + 7, :-1], X[i : i + 7, -1]) for i in range(0, len(X), 7)
    ]
    plain = reduce(lambda a, b: a.combine(b), states)
    singular = np.linalg.svd(plain.r, compute_uv=False)
    assert np.abs(singular - ref.singular_values_).max() > 1e-13 * ref.singular_values_[0]


def test_state_merges_like_one_block() -> None:
    """``combine`` is associative: any grouping gives one block's state to rounding."""
    X = badly_scaled(n=300, seed=4)
    parts = [CentredFactor.of(X[i : i + 50]) for i in range(0, 300, 50)]
    whole = CentredFactor.of(X)
    left = reduce(lambda a, b: a.combine(b), parts)
    right = reduce(lambda a, b: b.combine(a), parts[::-1])
    for merged in (left, right):
        assert merged.n_samples == 300
        np.testing.assert_allclose(merged.mean + merged.mean_lo, whole.mean, rtol=1e-15)
        np.testing.assert_allclose(
            merged.r.T @ merged.r, whole.r.T @ whole.r, rtol=1e-10, atol=1e-10
        )
    assert whole.r.shape == (6, 6)  # d x d, whatever the rows
    assert pca_fit_partition(X[:0], (slice(0, 0),), (0,)) is None


def test_float32_is_kept_and_ints_become_float64() -> None:
    X = badly_scaled(seed=5) - badly_scaled(seed=5).mean(axis=0)
    X32 = X.astype(np.float32)
    ours, ref = PCA(3).fit(dask_rows(X32, 100)), sk_pca(X32, n_components=3)
    for name in ("components_", "explained_variance_", "singular_values_", "mean_"):
        assert getattr(ours, name).dtype == getattr(ref, name).dtype == np.float32, name
    # scikit-learn computes in float32; daskpar sums in float64, then casts.
    np.testing.assert_allclose(ours.components_, ref.components_, rtol=0, atol=1e-4)
    np.testing.assert_allclose(ours.explained_variance_, ref.explained_variance_, rtol=1e-4)
    assert ours.noise_variance_ == pytest.approx(ref.noise_variance_, rel=1e-4)
    assert type(ours.noise_variance_) is type(ref.noise_variance_) is np.float32
    assert ours.transform(dask_rows(X32, 100)).dtype == ours.transform(X32).dtype == np.float32
    assert ours.inverse_transform(ours.transform(X32)).dtype == np.float32
    Xi = np.round(X * 10).astype(np.int64)
    ours, ref = PCA().fit(dask_rows(Xi, 100)), sk_pca(Xi)
    assert_same_fit(ours, ref)
    assert ours.transform(dask_rows(Xi, 100)).dtype == np.float64


def test_real_data() -> None:
    """Diabetes (full rank), and digits, where scikit-learn's float ratio picks 21 of 64
    components of an image data set with constant (all-white) pixels."""
    X = datasets.load_diabetes().data
    ours, ref = PCA().fit(dask_rows(X, 50)), sk_pca(X)
    assert_same_fit(ours, ref)
    assert_same_transforms(ours, ref, X, 100)
    X = datasets.load_digits().data
    ours, ref = PCA(0.9, split_every=2).fit(dask_rows(X, 200)), sk_pca(X, n_components=0.9)
    assert ours.n_components_ == ref.n_components_ == 21
    assert_same_fit(ours, ref, rtol=1e-9)
    assert_same_transforms(ours, ref, X, 200)


@settings(max_examples=20, deadline=None)
@given(
    n=st.integers(2, 40),
    d=st.integers(1, 6),
    offset=st.sampled_from([0.0, 1e3, -1e6]),
    data=st.data(),
)
def test_any_shape_and_partitioning(n: int, d: int, offset: float, data: st.DataObject) -> None:
    """Any shape (wide ones too) under any partitioning: scikit-learn's spectrum, and its
    components wherever they are defined (distinct, non-zero singular values)."""
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    X = rng.normal(size=(n, d)) * rng.uniform(0.1, 10.0, size=d) + offset
    chunks = data.draw(chunkings(n))
    ours = PCA(split_every=data.draw(split_every())).fit(dask_rows(X, chunks))
    ref = sk_pca(X)
    scale = ref.singular_values_[0]
    assert ours.n_components_ == ref.n_components_ == min(n, d)
    np.testing.assert_allclose(ours.mean_, ref.mean_, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(ours.singular_values_, ref.singular_values_, atol=1e-10 * scale)
    np.testing.assert_allclose(
        ours.explained_variance_, ref.explained_variance_, atol=1e-10 * scale**2 / (n - 1)
    )
    s = ref.singular_values_
    gaps = np.abs(s[:, None] - s[None, :]) + np.eye(len(s)) * scale
    defined = (s > 1e-6 * scale) & (gaps.min(axis=1) > 1e-3 * scale)
    np.testing.assert_allclose(
        ours.components_[defined], ref.components_[defined], rtol=0, atol=1e-9
    )


# --------------------------------------------------------------------------------------------
# the graph: one pass, named stages, lazy transforms fused into the tasks that use them


def test_one_pass_and_stage_names() -> None:
    X = badly_scaled(seed=6)
    with Recorder() as rec:
        pca = PCA(2, split_every=2).fit(dask_rows(X, 100))
    stages = rec.stages()
    assert stages == Counter({"pca-block": 6, "pca-merge": 3 + 2 + 1, "pca-final": 1})
    Xt = pca.transform(dask_rows(X, 100))  # nothing runs until computed
    with Recorder() as rec:
        Xt.compute()
    assert rec.stages()["pca-transform"] == 6


def test_pipeline_projects_inside_the_training_tasks() -> None:
    X, y = dp.make_classification(n_samples=3000, n_features=12, chunks=500, random_state=0)
    pipe = make_pipeline(PCA(5), dp.ParallelIncremental(SGDClassifier(), random_state=0))
    with Recorder() as rec:
        pipe.fit(X, y)
    stages = rec.stages()
    # The PCA's one pass, and the model's passes with the projection inside their tasks: no
    # task of its own stores the projected data.
    assert stages["pca-block"] == 6
    assert stages["fit-block"] == 6
    assert "pca-transform" not in stages

    # The same model as fitting on the projection computed in memory.
    Xn, yn = X.compute(), y.compute()
    projected = da.from_array(pipe[0].transform(Xn), chunks=(X.chunks[0], -1))
    model = dp.ParallelIncremental(SGDClassifier(), random_state=0).fit(projected, yn)
    np.testing.assert_allclose(pipe[-1].estimator_.coef_, model.estimator_.coef_, rtol=1e-10)
    predicted = pipe.predict(X)
    assert isinstance(predicted, da.Array)
    np.testing.assert_array_equal(predicted.compute(), model.predict(pipe[0].transform(Xn)))
    assert_same_fit(pipe[0], sk_pca(Xn, n_components=5))


def test_numpy_in_numpy_out() -> None:
    X = badly_scaled(seed=7)
    ours, ref = PCA(3).fit(X), sk_pca(X, n_components=3)
    assert_same_fit(ours, ref)
    for got in (ours.transform(X), ours.fit_transform(X), ours.inverse_transform(X[:, :3])):
        assert isinstance(got, np.ndarray)
    assert isinstance(ours.fit_transform(dask_rows(X, 100)), da.Array)


def test_dataframes_by_column_name() -> None:
    X = badly_scaled(seed=8)
    columns = [f"f{i}" for i in range(X.shape[1])]
    frame = pd.DataFrame(X, columns=columns)
    ours = PCA(3).fit(dd.from_pandas(frame, npartitions=3))
    assert list(ours.feature_names_in_) == columns
    assert list(ours.get_feature_names_out()) == ["pca0", "pca1", "pca2"]
    assert_same_fit(ours, sk_pca(frame, n_components=3))
    # Columns are taken by name, whatever their order.
    shuffled = dd.from_pandas(frame[columns[::-1]], npartitions=2)
    np.testing.assert_allclose(
        ours.transform(shuffled).compute(), ours.transform(frame), rtol=1e-10, atol=1e-6
    )
    # scikit-learn's pandas output for in-memory input; a dask array for dask input.
    ours.set_output(transform="pandas")
    out = ours.transform(frame)
    assert isinstance(out, pd.DataFrame)
    assert list(out.columns) == ["pca0", "pca1", "pca2"]
    with pytest.raises(dp.InputError, match="set_output"):
        ours.transform(dask_rows(X, 100))


# --------------------------------------------------------------------------------------------
# refused input, before any task runs where the client can tell


def test_bad_input_is_refused_before_any_task() -> None:
    X = badly_scaled(n=100, seed=9)
    with no_task_runs():
        with pytest.raises(dp.InputError, match=r"(?i)sparse X.*densify.*TruncatedSVD"):
            PCA().fit(da.from_array(sparse.csr_matrix(X), chunks=(50, -1), asarray=False))
        with pytest.raises(dp.InputError, match=r"n_components=7 must be between 0 and .*=6"):
            PCA(7).fit(dask_rows(X, 50))
        with pytest.raises(dp.InputError, match=r"n_components=5 must be .*min\(n_samples"):
            PCA(5).fit(dask_rows(X[:4], 2))
        with pytest.raises(dp.InputError, match="n_samples = 1"):
            PCA().fit(dask_rows(X[:1], 1))
        with pytest.raises(dp.InputError, match="0 sample"):
            PCA().fit(dask_rows(X[:0], 1))
        with pytest.raises(InvalidParameterError, match=r"'mle' instead.*n_components=0\.95"):
            PCA("mle").fit(dask_rows(X, 50))  # type: ignore[arg-type]
        for bad in (1.5, -1, "auto"):
            with pytest.raises(InvalidParameterError, match="'n_components' parameter of PCA"):
                PCA(bad).fit(dask_rows(X, 50))  # type: ignore[arg-type]
        with pytest.raises(InvalidParameterError, match="'split_every' parameter of PCA"):
            PCA(split_every=1).fit(dask_rows(X, 50))


def test_non_finite_values_name_the_partition() -> None:
    X = badly_scaled(n=300, seed=10)
    X[170, 2] = np.nan
    with pytest.raises(dp.PartitionError, match=r"X holds NaN in partition 1 .*row 170"):
        PCA().fit(dask_rows(X, 100))
    fitted = PCA(2).fit(dask_rows(badly_scaled(n=300, seed=10), 100))
    with pytest.raises(dp.PartitionError, match="X holds NaN in partition 1"):
        fitted.transform(dask_rows(X, 100)).compute()
    with pytest.raises(dp.InputError, match="X holds NaN, first at row 170"):
        fitted.transform(X)
    with pytest.raises(dp.InputError, match="n_components_ = 2"):
        fitted.inverse_transform(dask_rows(X, 100))


def test_all_constant_data_as_scikit_learn() -> None:
    """No variance at all: NaN ratios, as scikit-learn computes them (without its warning)."""
    X = np.full((50, 3), 4.0)
    ours = PCA().fit(dask_rows(X, 20))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        ref = sk_pca(X)
    np.testing.assert_array_equal(ours.explained_variance_, ref.explained_variance_)
    assert np.isnan(ours.explained_variance_ratio_).all()
    assert np.isnan(ref.explained_variance_ratio_).all()


@parametrize_with_checks([PCA(), PCA(2, whiten=True)])
def test_sklearn_compatible(estimator: Any, check: Any) -> None:
    check(estimator)


# --------------------------------------------------------------------------------------------
# the randomized solver, for wide data: scikit-learn's randomized PCA for the same seed


def decaying(n: int = 600, d: int = 30, seed: int = 0, offset: float = 1e3) -> np.ndarray:
    """Centred singular values ``0.7^i`` (scaled), in random directions, far from zero."""
    rng = np.random.default_rng(seed)
    u = np.linalg.qr(rng.normal(size=(n, d)))[0]
    v = np.linalg.qr(rng.normal(size=(d, d)))[0]
    return np.asarray((u * 50 * 0.7 ** np.arange(d)) @ v.T + rng.normal(size=d) * offset)


RANDOMIZED: dict[str, Any] = {"svd_solver": "randomized", "random_state": 0}


@pytest.mark.parametrize("chunks", [600, 13, (0, 250, 0, 350), (1, 299, 300)], ids=str)
def test_randomized_equals_scikit_learn_for_the_same_seed(chunks: Any) -> None:
    """The same test matrix, the same subspace: scikit-learn's randomized fit, to rounding
    (the centring folded into the merges is exact even with means of 1e3)."""
    X = decaying()
    split_every = 2 if isinstance(chunks, int) else 8
    ours = PCA(5, split_every=split_every, **RANDOMIZED).fit(dask_rows(X, chunks))
    ref = sk_pca_randomized(X, n_components=5)
    assert_same_fit(ours, ref, rtol=1e-9)
    assert_same_transforms(ours, ref, X, 77)


def sk_pca_randomized(X: np.ndarray, **params: Any) -> decomposition.PCA:
    return decomposition.PCA(**{**RANDOMIZED, **params}).fit(X)


@pytest.mark.parametrize(
    "params",
    [
        {"iterated_power": 0},
        {"iterated_power": 2, "power_iteration_normalizer": "QR"},
        {"iterated_power": 3, "power_iteration_normalizer": "none", "n_oversamples": 2},
        {"whiten": True, "iterated_power": 1},
        {"n_oversamples": 40},  # more directions than features: the whole space
    ],
    ids=str,
)
def test_randomized_parameters_as_scikit_learn(params: dict[str, Any]) -> None:
    X = decaying(seed=1)
    ours = PCA(4, split_every=3, **RANDOMIZED, **params).fit(dask_rows(X, 97))
    assert_same_fit(ours, sk_pca_randomized(X, n_components=4, **params), rtol=1e-9)


def test_randomized_against_the_exact_solver() -> None:
    """On a decaying spectrum, the default passes give the exact fit to ~1e-12; without
    power passes the error is visible, and bounded by the randomized SVD's theory."""
    X = decaying(seed=2, offset=1e5)
    exact = PCA(5, svd_solver="full").fit(dask_rows(X, 100))
    ours = PCA(5, **RANDOMIZED).fit(dask_rows(X, 100))
    np.testing.assert_allclose(ours.explained_variance_, exact.explained_variance_, rtol=1e-12)
    np.testing.assert_allclose(ours.components_, exact.components_, atol=1e-10)
    np.testing.assert_allclose(ours.mean_, exact.mean_, rtol=1e-14)
    rough = PCA(5, iterated_power=0, n_oversamples=2, **RANDOMIZED).fit(dask_rows(X, 100))
    error = np.abs(rough.explained_variance_ / exact.explained_variance_ - 1)
    assert 1e-8 < error.max() < 0.5
    assert (rough.explained_variance_ <= exact.explained_variance_ * (1 + 1e-12)).all()


def test_randomized_passes_and_auto_choice() -> None:
    X = decaying(seed=3)
    with Recorder() as rec:
        PCA(3, iterated_power=2, split_every=2, **RANDOMIZED).fit(dask_rows(X, 100))
    assert rec.stages() == Counter(
        {"pcarand-block": 3 * 6, "pcarand-merge": 3 * (3 + 2 + 1), "pcarand-final": 3}
    )
    # "auto": exact up to FULL_MAX_FEATURES features, or for a float or None n_components.
    wide = da.zeros((200, FULL_MAX_FEATURES + 1), chunks=(100, -1))
    assert PCA(10)._solver(*wide.shape) == "randomized"
    assert PCA(0.9)._solver(*wide.shape) == PCA()._solver(*wide.shape) == "full"
    assert PCA(190)._solver(*wide.shape) == "full"  # >= 80 % of min(n_samples, n_features)
    assert PCA(10)._solver(200, FULL_MAX_FEATURES) == "full"
    assert PCA(10, svd_solver="covariance_eigh")._solver(*wide.shape) == "full"
    with Recorder() as rec:
        PCA(3).fit(dask_rows(X, 100))
    assert rec.stages()["pca-block"] == 6
    assert "pcarand-block" not in rec.stages()


def test_randomized_state_merges_like_one_block() -> None:
    X = decaying(n=300, seed=4)
    basis = np.linalg.qr(np.random.default_rng(0).normal(size=(30, 6)))[0]
    parts = [CentredSketch.of(X[i : i + 50], basis, final=True) for i in range(0, 300, 50)]
    whole = CentredSketch.of(X, basis, final=True)
    merged = reduce(lambda a, b: a.combine(b), parts)
    centred = X - X.mean(axis=0)
    scale = np.abs(whole.z).max()
    for state in (merged, whole):
        np.testing.assert_allclose(state.z, centred.T @ (centred @ basis), atol=1e-12 * scale)
        assert state.r is not None
        assert state.m2 is not None
        np.testing.assert_allclose(
            state.r.T @ state.r, (centred @ basis).T @ (centred @ basis), atol=1e-12 * scale
        )
        np.testing.assert_allclose(state.m2, (centred**2).sum(axis=0), rtol=1e-12)
        np.testing.assert_allclose(state.proj, X.mean(axis=0) @ basis, rtol=1e-13)
    assert pca_sketch_partition(X[:0], (slice(0, 0),), (0,), basis=basis, final=False) is None


def test_randomized_bad_parameters_are_refused_before_any_task() -> None:
    X = dask_rows(decaying(n=100, seed=5), 50)
    with no_task_runs():
        with pytest.raises(InvalidParameterError, match=r"Got 'arpack' instead.*randomized"):
            PCA(2, svd_solver="arpack").fit(X)
        with pytest.raises(dp.InputError, match=r"n_components=0.5 must be an int.*'full'"):
            PCA(0.5, svd_solver="randomized").fit(X)
        with pytest.raises(dp.InputError, match="n_components=0 must be between 1"):
            PCA(0, svd_solver="randomized").fit(X)
        cases: list[tuple[dict[str, Any], str]] = [
            ({"svd_solver": "lapack"}, "svd_solver"),
            ({"iterated_power": -1}, "iterated_power"),
            ({"n_oversamples": 0}, "n_oversamples"),
            ({"power_iteration_normalizer": "qr"}, "power_iteration_normalizer"),
        ]
        for params, name in cases:
            with pytest.raises(InvalidParameterError, match=f"'{name}' parameter of PCA"):
                PCA(2, **params).fit(X)


def test_randomized_float32_and_model_file(tmp_path: Any) -> None:
    X = decaying(seed=6, offset=0.0)
    ours = PCA(3, **RANDOMIZED).fit(dask_rows(X.astype(np.float32), 100))
    ref = sk_pca_randomized(X.astype(np.float32), n_components=3)
    for name in ("components_", "explained_variance_", "singular_values_", "mean_"):
        assert getattr(ours, name).dtype == getattr(ref, name).dtype == np.float32, name
    np.testing.assert_allclose(ours.explained_variance_, ref.explained_variance_, rtol=1e-4)
    assert type(ours.noise_variance_) is type(ref.noise_variance_)
    key = dp.persist.generate_key()
    ours.save(tmp_path / "pca.dp", key=key)
    loaded = dp.load(tmp_path / "pca.dp", key=key)
    assert loaded.get_params() == ours.get_params()
    np.testing.assert_array_equal(loaded.components_, ours.components_)


@parametrize_with_checks([PCA(2, **RANDOMIZED, iterated_power=1)])
def test_randomized_sklearn_compatible(estimator: Any, check: Any) -> None:
    check(estimator)
