"""Out-of-core scalers: scikit-learn's fitted attributes for any partitioning, lazy transforms."""

from __future__ import annotations

import warnings
from collections import Counter
from collections.abc import Callable
from typing import Any

import dask.array as da
import numpy as np
import pytest
from dask.callbacks import Callback
from dask.delayed import delayed
from dask.utils import key_split  # what distributed's dashboard and progress bars use
from daskpar_testing import as_dask, local_cluster
from distributed import Client
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn import preprocessing as skp
from sklearn.base import BaseEstimator, clone
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import SGDClassifier
from sklearn.pipeline import make_pipeline
from sklearn.utils._param_validation import InvalidParameterError
from sklearn.utils.estimator_checks import parametrize_with_checks

import daskpar as dp
from daskpar._preprocessing import MaxAbsScaler, MinMaxScaler, StandardScaler
from daskpar._states import Moments, combine_all

TOL = 1e-10
CHUNKINGS: list[Any] = [600, 100, 77, (0, 250, 0, 350), (1, 299, 300)]
OURS: dict[type, type] = {
    StandardScaler: skp.StandardScaler,
    MinMaxScaler: skp.MinMaxScaler,
    MaxAbsScaler: skp.MaxAbsScaler,
}


# --------------------------------------------------------------------------------------------
# helpers


def badly_scaled(n: int = 600, seed: int = 0) -> np.ndarray:
    """Features far from zero relative to their spread, ordinary ones, a constant one, NaNs."""
    rng = np.random.default_rng(seed)
    X = np.column_stack(
        [
            rng.normal(1e6, 1e-3, n),  # sum of squares would cancel every digit
            rng.normal(0.0, 1.0, n),
            rng.normal(-50.0, 1e3, n),
            np.full(n, 0.1),  # constant, and 0.1 is not a binary fraction
            rng.normal(3.0, 2.0, n),
        ]
    )
    X[rng.random(n) < 0.1, 4] = np.nan
    return X


def dask_rows(X: np.ndarray, chunks: Any) -> da.Array:
    return da.from_array(X, chunks=(chunks, -1))


def sk_fit(ref: BaseEstimator, X: np.ndarray, **fit_params: Any) -> Any:
    """scikit-learn's fit: the reference.

    Its numpy arithmetic warns where ours does not: for a feature without any value (0 / 0),
    and for a constant feature whose weighted variance rounds below zero (sqrt of a negative
    number, which its near-constant check then replaces by scale 1; we keep the variance at 0).
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return ref.fit(X, **fit_params)


def assert_same_fit(ours: BaseEstimator, ref: BaseEstimator, rtol: float = TOL) -> None:
    """Same fitted attributes as scikit-learn's: names, types, dtypes, shapes and values."""
    fitted = sorted(k for k in vars(ref) if k.endswith("_") and not k.startswith("_"))
    assert sorted(k for k in vars(ours) if k.endswith("_") and not k.startswith("_")) == fitted
    for name in fitted:
        got, want = getattr(ours, name), getattr(ref, name)
        assert type(got) is type(want), name
        if want is None:
            continue
        if isinstance(want, np.ndarray | np.generic):
            assert got.dtype == want.dtype, name
            assert np.shape(got) == np.shape(want), name
        # Near zero, relative differences mean nothing: a mean of 0 is computed as +-1e-17
        # from rounding, the variance of a constant feature as 0 or -1e-35.
        atol = {"var_": 1e-25, "mean_": 1e-12, "min_": 1e-12}.get(name, 0.0)
        np.testing.assert_allclose(got, want, rtol=rtol, atol=atol, equal_nan=True, err_msg=name)


def assert_transforms_like_numpy(scaler: Any, X: np.ndarray, chunks: Any) -> None:
    """Dask transform and inverse are scikit-learn's, block by block: the same bits.

    (Against an independently fitted scikit-learn scaler the transform is only as close as
    the fitted means allow: a 1-ulp difference in a mean of 1e6 moves a standardized value
    of a feature with std 1e-3 by 1e-7. The fitted attributes are compared separately.)
    """
    Xt = scaler.transform(dask_rows(X, chunks))
    np.testing.assert_array_equal(Xt.compute(), scaler.transform(X))
    Xt_np = scaler.transform(X)
    back = scaler.inverse_transform(dask_rows(Xt_np, chunks))
    np.testing.assert_array_equal(back.compute(), scaler.inverse_transform(Xt_np))


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


@pytest.mark.parametrize("kind", list(OURS), ids=lambda k: k.__name__)
@pytest.mark.parametrize("chunks", CHUNKINGS, ids=str)
@pytest.mark.parametrize("split_every", [2, 3, 8])
def test_fit_equals_scikit_learn(kind: type, chunks: Any, split_every: int) -> None:
    X = badly_scaled()
    ours = kind(split_every=split_every).fit(dask_rows(X, chunks))
    assert_same_fit(ours, sk_fit(OURS[kind](), X))


@pytest.mark.parametrize(
    "params",
    [
        {"with_mean": False},
        {"with_std": False},
        {"with_mean": False, "with_std": False},
    ],
    ids=str,
)
@pytest.mark.parametrize("weights", [False, True])
def test_standard_scaler_options(params: dict[str, bool], weights: bool) -> None:
    X = badly_scaled(seed=1)
    w = np.random.default_rng(1).uniform(0, 3, size=len(X)) if weights else None
    ours = StandardScaler(**params, split_every=3).fit(dask_rows(X, 70), sample_weight=w)
    ref = sk_fit(skp.StandardScaler(**params), X, sample_weight=w)
    assert_same_fit(ours, ref)
    assert_transforms_like_numpy(ours, X, 70)


@pytest.mark.parametrize("chunks", CHUNKINGS, ids=str)
def test_standard_scaler_sample_weight(chunks: Any) -> None:
    X = badly_scaled(seed=2)
    w = np.random.default_rng(2).uniform(0, 5, size=len(X))
    w[:50] = 0.0
    ref = sk_fit(skp.StandardScaler(), X, sample_weight=w)
    Xd = dask_rows(X, chunks)
    # numpy weights, dask weights aligned with X's blocks, and a scalar
    assert_same_fit(StandardScaler(split_every=2).fit(Xd, sample_weight=w), ref)
    wd = da.from_array(w, chunks=(Xd.chunks[0],))
    assert_same_fit(StandardScaler().fit(Xd, sample_weight=wd), ref)
    assert_same_fit(
        StandardScaler().fit(Xd, sample_weight=2.5),
        sk_fit(skp.StandardScaler(), X, sample_weight=2.5),
    )


@pytest.mark.parametrize("dtype", [np.float32, np.int64, np.float16])
@pytest.mark.parametrize("kind", list(OURS), ids=lambda k: k.__name__)
def test_dtypes_follow_scikit_learn(kind: type, dtype: type) -> None:
    X: np.ndarray = (np.random.default_rng(3).normal(size=(300, 3)) * 100).astype(dtype)
    ours, ref = kind().fit(dask_rows(X, 64)), sk_fit(OURS[kind](), X)
    assert_same_fit(ours, ref)
    Xt = ours.transform(dask_rows(X, 64))
    assert Xt.dtype == ref.transform(X).dtype
    assert Xt.compute().dtype == Xt.dtype


@pytest.mark.parametrize("dtype", [np.float32, np.float16])
def test_weighted_fit_keeps_scikit_learn_dtypes(dtype: type) -> None:
    X = np.random.default_rng(4).normal(5, 2, size=(200, 3)).astype(dtype)
    w = np.random.default_rng(4).uniform(0, 1, 200)
    for params in ({}, {"with_mean": False, "with_std": False}):
        ref = sk_fit(skp.StandardScaler(**params), X, sample_weight=w)
        ours = StandardScaler(**params).fit(dask_rows(X, 64), sample_weight=w)
        assert_same_fit(ours, ref, rtol=1e-6)


@pytest.mark.parametrize("kind", list(OURS), ids=lambda k: k.__name__)
def test_nan_is_ignored_in_fit_and_kept_in_transform(kind: type) -> None:
    X = badly_scaled(seed=5)
    X[:, 1] = np.nan  # a feature without any value
    X[::7, 2] = np.nan
    ref = sk_fit(OURS[kind](), X)
    ours = kind(split_every=2).fit(dask_rows(X, (0, 1, 99, 0, 250, 250)))
    assert_same_fit(ours, ref)
    Xt = ours.transform(dask_rows(X, 100)).compute()
    np.testing.assert_array_equal(np.isnan(Xt), np.isnan(X))
    assert_transforms_like_numpy(ours, X, (0, 1, 99, 0, 250, 250))


def test_per_feature_counts_collapse_to_a_scalar_when_equal() -> None:
    X = badly_scaled(seed=6)[:, :3]
    X[np.arange(3) * 10, np.arange(3)] = np.nan  # one NaN in every feature
    ours = StandardScaler().fit(dask_rows(X, 50))
    assert ours.n_samples_seen_ == sk_fit(skp.StandardScaler(), X).n_samples_seen_ == 599
    assert isinstance(ours.n_samples_seen_, np.float64)


@pytest.mark.parametrize("kind", list(OURS), ids=lambda k: k.__name__)
def test_constant_features_get_scale_one(kind: type) -> None:
    X = np.column_stack([np.full(500, 1e6 + 0.1), np.zeros(500), np.linspace(-1, 1, 500)])
    ours = kind().fit(dask_rows(X, 99))
    assert_same_fit(ours, sk_fit(OURS[kind](), X))
    assert ours.scale_[1] == 1.0  # all zeros
    if kind is not MaxAbsScaler:
        assert ours.scale_[0] == 1.0  # constant


@pytest.mark.parametrize(
    ("kind", "params"),
    [
        (MinMaxScaler, {"feature_range": (-3, 2)}),
        (MinMaxScaler, {"clip": True}),
        (MaxAbsScaler, {"clip": True}),
    ],
    ids=str,
)
def test_range_and_clip(kind: type, params: dict[str, Any]) -> None:
    X = badly_scaled(seed=7)
    ours = kind(**params).fit(dask_rows(X[:400], 64))
    ref = OURS[kind](**params).fit(X[:400])
    assert_same_fit(ours, ref)
    # The last rows are held out, so clipping matters.
    Xt = ours.transform(dask_rows(X, 64)).compute()
    np.testing.assert_allclose(Xt, ref.transform(X), rtol=TOL, equal_nan=True)
    if params.get("clip"):
        assert np.nanmax(Xt) == 1.0
    assert_transforms_like_numpy(ours, X, 64)


@settings(max_examples=20, deadline=None)
@given(
    cuts=st.lists(st.integers(min_value=0, max_value=600), min_size=0, max_size=12),
    split_every=st.integers(min_value=2, max_value=9),
)
def test_standard_scaler_independent_of_partitioning(cuts: list[int], split_every: int) -> None:
    X = badly_scaled(seed=8)
    chunks = tuple(np.diff(sorted({0, 600, *cuts})).tolist())
    ours = StandardScaler(split_every=split_every).fit(dask_rows(X, chunks))
    assert_same_fit(ours, sk_fit(skp.StandardScaler(), X))


# --------------------------------------------------------------------------------------------
# transform: lazy, blockwise, scikit-learn's numbers


@pytest.mark.parametrize("kind", list(OURS), ids=lambda k: k.__name__)
def test_transform_is_lazy_and_blockwise(kind: type) -> None:
    X = badly_scaled(seed=9)
    scaler, ref = kind().fit(dask_rows(X, 100)), sk_fit(OURS[kind](), X)
    Xd = dask_rows(X, (0, 150, 450))
    with Recorder() as rec:
        Xt = scaler.transform(Xd)
        X_back = scaler.inverse_transform(Xt)
    assert rec.keys == []  # building the graphs computed nothing
    assert isinstance(Xt, da.Array)
    assert Xt.chunks == Xd.chunks
    assert key_split(Xt.name) == "scale"
    assert key_split(X_back.name) == "unscale"
    assert_same_fit(scaler, ref)
    assert_transforms_like_numpy(scaler, X, (0, 150, 450))
    # Round trip, to the precision the badly scaled feature allows.
    np.testing.assert_allclose(X_back.compute(), X, rtol=1e-12, equal_nan=True)


@pytest.mark.parametrize("kind", list(OURS), ids=lambda k: k.__name__)
def test_fit_runs_named_stages_once_per_partition(kind: type) -> None:
    X = badly_scaled(seed=10)
    with Recorder() as rec:
        kind(split_every=2).fit(dask_rows(X, 100))
    stages = rec.stages()
    assert stages["scaler-block"] == 6
    assert stages["scaler-merge"] == 3 + 2 + 1  # 6 -> 3 -> 2 -> 1 with fan-in 2
    assert stages["scaler-final"] == 1


@pytest.mark.parametrize("kind", list(OURS), ids=lambda k: k.__name__)
def test_numpy_input_is_scikit_learn(kind: type) -> None:
    X = badly_scaled(seed=11)
    ours, ref = kind().fit(X), sk_fit(OURS[kind](), X)
    for name in ("scale_", "n_samples_seen_"):
        np.testing.assert_array_equal(getattr(ours, name), getattr(ref, name))
    np.testing.assert_array_equal(ours.transform(X), ref.transform(X))
    np.testing.assert_array_equal(ours.fit_transform(X), ref.fit_transform(X))
    np.testing.assert_array_equal(ours.partial_fit(X[:10]).scale_, ref.partial_fit(X[:10]).scale_)
    np.testing.assert_array_equal(ours.get_feature_names_out(), ref.get_feature_names_out())


@pytest.mark.parametrize("kind", list(OURS), ids=lambda k: k.__name__)
def test_copy_false_never_modifies_dask_blocks(kind: type) -> None:
    X = badly_scaled(seed=12)
    original = X.copy()
    Xd = da.from_array(X, chunks=(100, -1))  # blocks are views of X
    scaler = kind(copy=False).fit(Xd)
    scaler.inverse_transform(scaler.transform(Xd)).compute()
    np.testing.assert_array_equal(X, original)


def test_fit_transform_of_dask_input_is_lazy() -> None:
    X = badly_scaled(seed=13)
    with Recorder() as rec:
        Xt = StandardScaler().fit_transform(dask_rows(X, 100))
    assert key_split(Xt.name) == "scale"
    assert "scale" not in rec.stages()


# --------------------------------------------------------------------------------------------
# composition with ParallelIncremental


def test_pipeline_fuses_the_scaling_into_the_model_tasks(
    binary: tuple[np.ndarray, np.ndarray],
) -> None:
    X, y = binary
    X = X * [1e3, 1e-3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1] + 50
    Xd, yd = as_dask(X, y, 1000)
    pipe = make_pipeline(StandardScaler(), dp.ParallelIncremental(SGDClassifier(), random_state=0))
    with Recorder() as rec:
        pipe.fit(Xd, yd)
    stages = rec.stages()
    # The scaler's statistics, the classes and one epoch of the model: nothing else. The
    # scaling runs inside the model's fit-block tasks, never as tasks of its own whose
    # output (the whole scaled data) would be stored.
    assert stages["scaler-block"] == 6
    assert stages["fit-block"] == 6
    assert not {"scale", "unscale"} & set(stages)

    # Same model as scaling first and fitting on the lazily scaled data.
    scaler = StandardScaler().fit(Xd)
    model = dp.ParallelIncremental(SGDClassifier(), random_state=0).fit(scaler.transform(Xd), yd)
    np.testing.assert_array_equal(pipe[-1].estimator_.coef_, model.estimator_.coef_)
    assert_same_fit(pipe[0], sk_fit(skp.StandardScaler(), X))
    predicted = pipe.predict(Xd)
    assert isinstance(predicted, da.Array)
    np.testing.assert_array_equal(predicted.compute(), model.predict(scaler.transform(X)))
    assert pipe.score(Xd, yd) > 0.8


@pytest.mark.slow
def test_same_bits_on_a_multi_process_cluster() -> None:
    X = badly_scaled(n=2800, seed=20)
    Xd = dask_rows(X, 700)
    local = [kind(split_every=3).fit(Xd) for kind in OURS]
    with local_cluster(processes=True) as cluster, Client(cluster):
        # Scalers, states and task bodies travel to worker processes and back.
        remote = [kind(split_every=3).fit(Xd) for kind in OURS]
        transformed = [scaler.transform(Xd).compute() for scaler in remote]
        bad = X.copy()
        bad[1500, 0] = np.inf
        with pytest.raises(dp.PartitionError, match=r"partition 2 \(rows 1400 to 2099\)"):
            StandardScaler().fit(dask_rows(bad, 700))
    for ours, theirs, Xt in zip(local, remote, transformed, strict=True):
        for name in ("scale_", "n_samples_seen_"):
            np.testing.assert_array_equal(getattr(theirs, name), getattr(ours, name))
        np.testing.assert_array_equal(Xt, ours.transform(X))


# --------------------------------------------------------------------------------------------
# bad input


@pytest.mark.parametrize("kind", list(OURS), ids=lambda k: k.__name__)
def test_infinity_names_the_partition(kind: type) -> None:
    X = badly_scaled(seed=14)
    X[250, 2] = -np.inf
    with pytest.raises(dp.PartitionError, match=r"infinity in partition 2 \(rows 200 to 299\)"):
        kind().fit(dask_rows(X, 100))
    scaler = kind().fit(dask_rows(np.nan_to_num(X, neginf=0.0), 100))
    Xt = scaler.transform(dask_rows(X, 100))  # lazy: the block is seen when computed
    with pytest.raises(dp.PartitionError, match=r"first at row 250"):
        Xt.compute()


@pytest.mark.parametrize("kind", list(OURS), ids=lambda k: k.__name__)
def test_bad_dask_input(kind: type) -> None:
    X = badly_scaled(seed=15)
    with pytest.raises(dp.InputError, match=r"chunked along columns.*rechunk\(\{1: -1\}\)"):
        kind().fit(da.from_array(X, chunks=(100, 2)))
    with pytest.raises(dp.InputError, match="unknown chunk sizes"):
        kind().fit(dask_rows(X, 100)[dask_rows(X, 100)[:, 1] > 0])
    with pytest.raises(dp.InputError, match="Found array with 0 sample"):
        kind().fit(dask_rows(X[:0], 100))
    with pytest.raises(dp.InputError, match="Expected a 2-D X"):
        kind().fit(da.from_array(X[:, 0], chunks=100))
    with pytest.raises(dp.InputError, match="takes a dask array or DataFrame, not a Delayed"):
        kind().fit(delayed(X))
    with pytest.raises(dp.InputError, match="partial_fit takes in-memory batches"):
        kind().partial_fit(dask_rows(X, 100))
    with pytest.raises(NotFittedError):
        kind().transform(dask_rows(X, 100))
    with pytest.raises(InvalidParameterError, match="'split_every' parameter"):
        kind(split_every=1).fit(dask_rows(X, 100))

    scaler = kind().fit(dask_rows(X, 100))
    for method in ("transform", "inverse_transform"):
        with pytest.raises(dp.InputError, match="X has 4 features, but the model was fitted"):
            getattr(scaler, method)(dask_rows(X[:, :4], 100))
    with pytest.raises(dp.InputError, match="gives a dask DataFrame for a dask DataFrame"):
        clone(scaler).set_output(transform="pandas").fit(X).transform(dask_rows(X, 100))


def test_bad_sample_weight() -> None:
    X = badly_scaled(seed=16)
    Xd = dask_rows(X, 100)
    w = np.ones(X.shape[0])
    with pytest.raises(dp.InputError, match="sample_weight's row chunks do not match X's"):
        StandardScaler().fit(Xd, sample_weight=da.from_array(w, chunks=150))
    with pytest.raises(dp.InputError, match="different numbers of rows: 600 and 599"):
        StandardScaler().fit(Xd, sample_weight=w[:-1])
    with pytest.raises(
        dp.InputError,
        match=r"sample_weight must be 1-D \(one weight per row\); got shape \(600, 1\)",
    ):
        StandardScaler().fit(Xd, sample_weight=w[:, None])
    with pytest.raises(dp.InputError, match="at least one non-zero number"):
        StandardScaler().fit(Xd, sample_weight=np.zeros(X.shape[0]))
    w[420] = np.nan
    with pytest.raises(dp.PartitionError, match=r"sample_weight holds NaN in partition 4"):
        StandardScaler().fit(Xd, sample_weight=w)


def test_min_max_scaler_rejects_an_empty_range() -> None:
    with pytest.raises(ValueError, match="Minimum of desired feature range must be smaller"):
        MinMaxScaler(feature_range=(2, 1)).fit(dask_rows(badly_scaled(), 100))


# --------------------------------------------------------------------------------------------
# the NaN-aware, weighted Moments state


def test_moments_mix_per_group_and_per_feature_counts() -> None:
    X = badly_scaled(seed=17)
    w = np.random.default_rng(17).uniform(0, 2, size=len(X))
    clean, holey = X[:300, :4], X[300:, :4].copy()
    holey[::5, 1] = np.nan
    a, b = Moments.of(clean, w[:300]), Moments.of(holey, w[300:])
    assert a.count.shape == (1,)
    assert b.count.shape == (1, 4)
    merged = a.combine(b)
    assert merged.count.shape == (1, 4)
    ref = sk_fit(skp.StandardScaler(), np.vstack([clean, holey]), sample_weight=w)
    np.testing.assert_allclose(merged.count[0], ref.n_samples_seen_, rtol=1e-13)
    np.testing.assert_allclose(merged.mean[0], ref.mean_, rtol=TOL)
    np.testing.assert_allclose(merged.variance()[0], ref.var_, rtol=TOL, atol=1e-25)
    # Without missing values the count stays one per group, as Gaussian naive Bayes needs.
    assert Moments.of(clean).combine(Moments.of(clean)).count.shape == (1,)


def test_moments_built_by_hand_still_combine() -> None:
    # Gaussian naive Bayes builds per-class moments by hand, without the mean's low part.
    # Class 0: {0, 2} then {3, 5}; class 1: nothing then {7}.
    a = Moments(np.array([2.0, 0.0]), np.array([[1.0], [0.0]]), np.array([[2.0], [0.0]]))
    b = Moments(np.array([2.0, 1.0]), np.array([[4.0], [7.0]]), np.array([[2.0], [0.0]]))
    merged = a.combine(b)
    assert merged.count.shape == (2,)
    np.testing.assert_array_equal(merged.mean[:, 0], [2.5, 7.0])
    np.testing.assert_array_equal(merged.variance()[:, 0], [3.25, 0.0])


def test_moments_skip_empty_partitions() -> None:
    X = badly_scaled(seed=18)[:, :3]
    parts: list[Moments | None] = [Moments.of(X[:0]), Moments.of(X[:10]), None, Moments.of(X[10:])]
    merged = combine_all(parts)
    assert merged is not None
    np.testing.assert_allclose(merged.variance()[0], X.var(axis=0), rtol=1e-9)


# --------------------------------------------------------------------------------------------
# scikit-learn's estimator checks (numpy input), every one passing


@parametrize_with_checks(
    [StandardScaler(), StandardScaler(with_mean=False), MinMaxScaler(), MaxAbsScaler()]
)
def test_sklearn_compatible(estimator: Any, check: Callable[[Any], None]) -> None:
    check(estimator)


def test_split_every_is_a_parameter() -> None:
    assert StandardScaler(split_every=3).get_params()["split_every"] == 3
    assert "split_every=3" in repr(MinMaxScaler(split_every=3))
    assert clone(MaxAbsScaler(split_every=5)).split_every == 5
