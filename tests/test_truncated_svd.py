"""Randomized TruncatedSVD out of core: scikit-learn's randomized ``TruncatedSVD`` for the same
seed, within its documented error of the exact SVD, dense and CSR, for any partitioning."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import dask
import dask.array as da
import dask.dataframe as dd
import numpy as np
import pandas as pd
import pytest
from dask.callbacks import Callback
from dask.utils import key_split
from daskpar_strategies import chunkings, split_every
from daskpar_testing import no_task_runs
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import sparse
from sklearn import decomposition
from sklearn.datasets import dump_svmlight_file
from sklearn.utils._param_validation import InvalidParameterError
from sklearn.utils.estimator_checks import parametrize_with_checks

import daskpar as dp
from daskpar import persist
from daskpar._truncated_svd import RangeSketch, TruncatedSVD, range_svd, sketch_partition

CHUNKINGS: list[Any] = [900, 13, 97, (0, 400, 0, 500), (1, 448, 451)]


# --------------------------------------------------------------------------------------------
# helpers


def spectrum(kind: str, n: int = 900, d: int = 40, seed: int = 0) -> np.ndarray:
    """``n x d`` rows with the singular values of ``kind``, in random directions."""
    rng = np.random.default_rng(seed)
    if kind == "flat":
        return rng.normal(size=(n, d))
    u = np.linalg.qr(rng.normal(size=(n, d)))[0]
    v = np.linalg.qr(rng.normal(size=(d, d)))[0]
    if kind == "fast":
        s = 0.7 ** np.arange(d)
    elif kind == "slow":
        s = np.arange(1.0, d + 1) ** -0.5
    else:  # low rank: distinct leading values (a tie leaves the components undefined), noise
        s = np.r_[np.linspace(10, 5, 8), np.full(d - 8, 1e-3)]
    return np.asarray((u * s) @ v.T)


def dask_rows(X: Any, chunks: Any) -> da.Array:
    return da.from_array(X, chunks=(chunks, -1), asarray=not sparse.issparse(X))


def sk_svd(X: Any, **params: Any) -> decomposition.TruncatedSVD:
    return decomposition.TruncatedSVD(**params).fit(X)


def assert_same_as_scikit_learn(ours: TruncatedSVD, ref: decomposition.TruncatedSVD) -> None:
    """The same attributes, dtypes and shapes; values to what the rounding of two orders of
    summation allows (the two differ by 1e-15 relative on these data: 1e-10 is margin)."""
    for name in ("components_", "explained_variance_", "explained_variance_ratio_"):
        got, want = getattr(ours, name), getattr(ref, name)
        assert got.dtype == want.dtype, name
        assert got.shape == want.shape, name
    s = ref.singular_values_
    np.testing.assert_allclose(ours.singular_values_, s, rtol=1e-10, atol=1e-12 * s[0])
    np.testing.assert_allclose(ours.components_, ref.components_, rtol=0, atol=1e-9)
    var = ref.explained_variance_
    np.testing.assert_allclose(ours.explained_variance_, var, rtol=1e-9, atol=1e-12 * var[0])
    np.testing.assert_allclose(
        ours.explained_variance_ratio_, ref.explained_variance_ratio_, rtol=1e-9, atol=1e-13
    )
    assert ours.n_features_in_ == ref.n_features_in_


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
# scikit-learn's randomized TruncatedSVD, for the same seed, under any partitioning


@pytest.mark.parametrize("chunks", CHUNKINGS, ids=str)
def test_equals_scikit_learn_for_the_same_seed(chunks: Any) -> None:
    split_every = 2 if isinstance(chunks, int) else 8
    X = spectrum("slow")
    ours = TruncatedSVD(5, random_state=0, split_every=split_every).fit(dask_rows(X, chunks))
    assert_same_as_scikit_learn(ours, sk_svd(X, n_components=5, random_state=0))


@pytest.mark.parametrize("normalizer", ["auto", "QR", "LU", "none"])
@pytest.mark.parametrize("n_iter", [0, 3])
def test_every_normalizer_and_iteration_count(normalizer: str, n_iter: int) -> None:
    """Each power pass's normalizer spans scikit-learn's subspace: the same fit."""
    X = spectrum("fast", seed=1)
    params = {
        "n_components": 4,
        "n_iter": n_iter,
        "n_oversamples": 3,
        "power_iteration_normalizer": normalizer,
        "random_state": 7,
    }
    ours = TruncatedSVD(**params, split_every=3).fit(dask_rows(X, 97))  # type: ignore[arg-type]
    assert_same_as_scikit_learn(ours, sk_svd(X, **params))


def test_more_directions_than_features_is_the_exact_svd() -> None:
    """``n_components + n_oversamples >= n_features``: the sketch spans all of X's rows."""
    X = spectrum("flat", n=300, d=8, seed=2)
    ours = TruncatedSVD(8, n_iter=0, random_state=0).fit(dask_rows(X, 50))
    _, s, vt = np.linalg.svd(X, full_matrices=False)
    np.testing.assert_allclose(ours.singular_values_, s, rtol=1e-12)
    # The sign rule of scikit-learn: the largest entry of each component is positive.
    signs = np.sign(vt[np.arange(8), np.abs(vt).argmax(axis=1)])
    np.testing.assert_allclose(ours.components_, vt * signs[:, None], atol=1e-11)
    assert_same_as_scikit_learn(
        ours, sk_svd(X, n_components=8, n_iter=0, random_state=0, n_oversamples=10)
    )


# --------------------------------------------------------------------------------------------
# against the exact SVD: the errors the module's documentation states


#: (spectrum, n_iter) -> the largest relative error of the leading singular values allowed: the
#: errors measured on these 900 x 40 matrices (4 components, 14 directions, three chunkings),
#: times a margin of 3 or more. The module's documentation gives the same trend on larger ones.
EXACT_BOUNDS = {
    ("flat", 5): 0.05,  # measured 1.8e-2
    ("slow", 5): 1e-5,  # 4.4e-7
    ("fast", 0): 1e-2,  # 3.7e-4
    ("fast", 2): 1e-12,  # 1.1e-15
    ("lowrank", 0): 1e-2,
    ("lowrank", 2): 1e-12,  # 2.3e-15
}


@pytest.mark.parametrize(("kind", "n_iter"), sorted(EXACT_BOUNDS), ids=str)
def test_error_against_the_exact_svd(kind: str, n_iter: int) -> None:
    X = spectrum(kind, seed=3)
    _, s, vt = np.linalg.svd(X, full_matrices=False)
    k = 4
    bound = EXACT_BOUNDS[kind, n_iter]
    for chunks in (900, (100, 0, 800), 61):
        ours = TruncatedSVD(k, n_iter=n_iter, random_state=1).fit(dask_rows(X, chunks))
        error = np.abs(ours.singular_values_ - s[:k]) / s[:k]
        assert error.max() <= bound, (chunks, error)
        # A randomized sketch never overestimates: its singular values are those of a
        # projection of X.
        assert (ours.singular_values_ <= s[:k] * (1 + 1e-12)).all()
        if kind == "flat":
            continue  # no gap: the components are not defined by the data
        # Subspace: what is left of the components after projecting them on the exact ones.
        residual = ours.components_ - ours.components_ @ vt[:k].T @ vt[:k]
        assert np.linalg.norm(residual, 2) <= 3 * np.sqrt(bound), (chunks, residual)


def test_more_power_passes_are_more_accurate() -> None:
    """On a slowly decaying spectrum each pass shrinks the error (the documented trend)."""
    X = spectrum("slow", seed=4)
    s = np.linalg.svd(X, compute_uv=False)[:4]
    errors = [
        np.abs(TruncatedSVD(4, n_iter=q, n_oversamples=2, random_state=0).fit(X).singular_values_
               - s).max() / s[-1]
        for q in (0, 2, 6)
    ]  # fmt: skip
    assert errors[0] > errors[1] > errors[2]


@settings(max_examples=10, deadline=None)
@given(n=st.integers(12, 60), d=st.integers(2, 9), data=st.data())
def test_any_shape_and_partitioning(n: int, d: int, data: st.DataObject) -> None:
    """Any partitioning and fan-in: scikit-learn's fit for the same seed (n >= d, where it
    draws the same test matrix), to rounding."""
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    X = rng.normal(size=(n, d)) * 0.5 ** np.arange(d)
    k = data.draw(st.integers(1, d))
    chunks = data.draw(chunkings(n))
    ours = TruncatedSVD(k, random_state=0, split_every=data.draw(split_every()))
    ours.fit(dask_rows(X, chunks))
    ref = sk_svd(X, n_components=k, random_state=0)
    s = ref.singular_values_
    np.testing.assert_allclose(ours.singular_values_, s, rtol=1e-9, atol=1e-12 * s[0])
    np.testing.assert_allclose(
        ours.explained_variance_ratio_, ref.explained_variance_ratio_, rtol=1e-8, atol=1e-12
    )


# --------------------------------------------------------------------------------------------
# transform, passes, determinism


def test_transform_is_the_projection_lazily() -> None:
    X = spectrum("fast", seed=5)
    svd = TruncatedSVD(3, random_state=0).fit(dask_rows(X, 200))
    Xd = dask_rows(X, 97)
    Xt = svd.transform(Xd)
    assert isinstance(Xt, da.Array)
    assert key_split(Xt.name) == "tsvd-transform"
    assert Xt.chunks == (Xd.chunks[0], (3,))
    want = X @ svd.components_.T
    atol = 1e-15 * np.abs(X).max() * X.shape[1]
    for got in (Xt.compute(), svd.transform(X), svd.fit_transform(X)):
        np.testing.assert_allclose(got, want, rtol=1e-13, atol=atol)
    back = svd.inverse_transform(dask_rows(want, 97))
    assert isinstance(back, da.Array)
    assert key_split(back.name) == "tsvd-inverse"
    np.testing.assert_allclose(back.compute(), want @ svd.components_, rtol=1e-13, atol=atol)
    np.testing.assert_allclose(svd.inverse_transform(want), want @ svd.components_, atol=atol)
    # scikit-learn's transform of the same components.
    ref = sk_svd(X, n_components=3, random_state=0)
    np.testing.assert_allclose(Xt.compute(), ref.transform(X), rtol=1e-8, atol=1e-9)


def test_passes_and_stage_names() -> None:
    """``n_iter`` power passes, the range pass and the variance pass: one read each."""
    X = spectrum("fast", seed=6)
    with Recorder() as rec:
        TruncatedSVD(2, n_iter=3, random_state=0, split_every=2).fit(dask_rows(X, 150))
    assert rec.stages() == Counter(
        {
            "tsvd-block": 4 * 6,
            "tsvd-merge": 4 * (3 + 2 + 1),
            "tsvd-final": 4,
            "tsvdvar-block": 6,
            "tsvdvar-merge": 3 + 2 + 1,
            "tsvdvar-final": 1,
        }
    )


def test_same_bits_on_any_scheduler_and_rounding_across_chunkings() -> None:
    X = spectrum("slow", seed=7)
    Xd = dask_rows(X, 100)
    with dask.config.set(scheduler="sync"):
        one = TruncatedSVD(4, random_state=3).fit(Xd)
    with dask.config.set(scheduler="threads", num_workers=2):
        two = TruncatedSVD(4, random_state=3).fit(Xd)
    for name in ("components_", "singular_values_", "explained_variance_"):
        np.testing.assert_array_equal(getattr(one, name), getattr(two, name))
    other = TruncatedSVD(4, random_state=3).fit(dask_rows(X, (1, 898, 1)))
    np.testing.assert_allclose(other.components_, one.components_, atol=1e-12)
    # Another seed draws another test matrix (a different fit of a flat-ish tail).
    moved = TruncatedSVD(4, random_state=4, n_iter=0).fit(Xd)
    assert not np.array_equal(moved.singular_values_, one.singular_values_)


def test_float32_is_kept_and_ints_become_float64() -> None:
    X = spectrum("fast", seed=8)
    ours = TruncatedSVD(3, random_state=0).fit(dask_rows(X.astype(np.float32), 200))
    ref = sk_svd(X.astype(np.float32), n_components=3, random_state=0)
    for name in ("components_", "explained_variance_", "singular_values_"):
        assert getattr(ours, name).dtype == getattr(ref, name).dtype == np.float32, name
    # scikit-learn computes in float32; daskpar sums in float64, then casts.
    np.testing.assert_allclose(ours.singular_values_, ref.singular_values_, rtol=1e-4)
    np.testing.assert_allclose(ours.components_, ref.components_, atol=1e-3)
    assert ours.transform(dask_rows(X.astype(np.float32), 100)).dtype == np.float32
    Xi = np.round(X * 100).astype(np.int64)
    ours = TruncatedSVD(3, random_state=0).fit(dask_rows(Xi, 200))
    assert_same_as_scikit_learn(ours, sk_svd(Xi, n_components=3, random_state=0))


# --------------------------------------------------------------------------------------------
# sparse: CSR blocks, never densified


def sparse_counts(n: int = 700, d: int = 60, seed: int = 0) -> sparse.csr_matrix:
    """Non-negative term counts, about 5 % filled, with a few strong topics."""
    rng = np.random.default_rng(seed)
    topics = rng.gamma(0.3, size=(5, d)) * np.arange(5, 0, -1)[:, None]
    dense = rng.poisson(rng.gamma(1.0, size=(n, 5)) @ topics * 0.1)
    return sparse.csr_matrix(dense.astype(np.float64))


def test_csr_blocks_as_scikit_learn() -> None:
    X = sparse_counts()
    assert 0.01 < X.nnz / np.prod(X.shape) < 0.5
    ref = sk_svd(X, n_components=4, random_state=0)
    for chunks in (700, 97, (0, 350, 350)):
        Xd = dask_rows(X, chunks)
        assert sparse.issparse(Xd._meta)
        ours = TruncatedSVD(4, random_state=0, split_every=2).fit(Xd)
        assert_same_as_scikit_learn(ours, ref)
        Xt = ours.transform(Xd)
        assert isinstance(Xt._meta, np.ndarray)
        np.testing.assert_allclose(Xt.compute(), X @ ours.components_.T, rtol=1e-13, atol=1e-12)
    # In-memory sparse input, and a task never densifies a block.
    np.testing.assert_allclose(ours.transform(X), X @ ours.components_.T, atol=1e-12)
    block = X[:100]
    state = sketch_partition(block, (slice(0, 100),), (0,), basis=np.eye(60)[:, :5], final=True)
    assert isinstance(state, RangeSketch)
    assert state.z.shape == (60, 5)
    assert state.r is not None
    assert state.r.shape == (5, 5)


def test_svmlight_file(tmp_path: Path) -> None:
    """The CSR blocks ``dp.read_svmlight`` gives, end to end."""
    X = sparse_counts(n=500, seed=1)
    path = tmp_path / "counts.svm"
    dump_svmlight_file(X, np.zeros(X.shape[0]), str(path), zero_based=True)
    Xd, _ = dp.read_svmlight(path, n_features=X.shape[1], zero_based=True, blocksize=4000)
    assert Xd.numblocks[0] > 1
    ours = TruncatedSVD(3, random_state=0).fit(Xd)
    assert_same_as_scikit_learn(ours, sk_svd(X, n_components=3, random_state=0))


def test_dataframes_by_column_name() -> None:
    X = spectrum("fast", n=300, d=6, seed=9)
    columns = [f"f{i}" for i in range(6)]
    frame = pd.DataFrame(X, columns=columns)
    ours = TruncatedSVD(2, random_state=0).fit(dd.from_pandas(frame, npartitions=3))
    assert list(ours.feature_names_in_) == columns
    assert list(ours.get_feature_names_out()) == ["truncatedsvd0", "truncatedsvd1"]
    shuffled = dd.from_pandas(frame[columns[::-1]], npartitions=2)
    np.testing.assert_allclose(ours.transform(shuffled).compute(), ours.transform(frame))


# --------------------------------------------------------------------------------------------
# refused input and parameters, before any task runs


def test_bad_parameters_and_input_are_refused_before_any_task() -> None:
    X = dask_rows(spectrum("fast", n=100, d=5), 50)
    with no_task_runs():
        with pytest.raises(InvalidParameterError, match=r"Got 'arpack' instead.*n_iter"):
            TruncatedSVD(algorithm="arpack").fit(X)
        for params, name in [
            ({"n_components": 0}, "n_components"),
            ({"n_iter": -1}, "n_iter"),
            ({"n_oversamples": 0}, "n_oversamples"),
            ({"power_iteration_normalizer": "qr"}, "power_iteration_normalizer"),
            ({"algorithm": "lanczos"}, "algorithm"),
            ({"tol": -1.0}, "tol"),
            ({"split_every": 1}, "split_every"),
        ]:
            with pytest.raises(InvalidParameterError, match=f"'{name}' parameter of TruncatedSVD"):
                TruncatedSVD(**params).fit(X)  # type: ignore[arg-type]
        with pytest.raises(dp.InputError, match=r"n_components\(6\) must be <= n_features\(5\)"):
            TruncatedSVD(6).fit(X)
        with pytest.raises(dp.InputError, match="1 feature"):
            TruncatedSVD(1).fit(X[:, :1])
        with pytest.raises(dp.InputError, match="0 sample"):
            TruncatedSVD().fit(X[:0])


def test_non_finite_values_name_the_partition() -> None:
    X = spectrum("fast", n=300, d=5)
    X[170, 2] = np.inf
    with pytest.raises(dp.PartitionError, match=r"X holds infinity in partition 1 .*row 170"):
        TruncatedSVD(2).fit(dask_rows(X, 100))
    fitted = TruncatedSVD(2).fit(dask_rows(spectrum("fast", n=300, d=5), 100))
    with pytest.raises(dp.PartitionError, match="partition 1"):
        fitted.transform(dask_rows(X, 100)).compute()
    with pytest.raises(dp.InputError, match="n_components = 2"):
        fitted.inverse_transform(dask_rows(X, 100))


def test_rank_deficient_and_zero_data() -> None:
    """Fewer independent rows than components: zero singular values and orthonormal
    components, as an exact SVD gives; all-zero X gives NaN ratios (0 / 0)."""
    rng = np.random.default_rng(10)
    X = rng.normal(size=(40, 2)) @ rng.normal(size=(2, 12))  # rank 2
    ours = TruncatedSVD(5, random_state=0).fit(dask_rows(X, 9))
    s = np.linalg.svd(X, compute_uv=False)
    np.testing.assert_allclose(ours.singular_values_[:2], s[:2], rtol=1e-12)
    np.testing.assert_allclose(ours.singular_values_[2:], 0.0, atol=1e-10 * s[0])
    np.testing.assert_allclose(ours.components_ @ ours.components_.T, np.eye(5), atol=1e-10)
    with np.errstate(all="ignore"):
        zero = TruncatedSVD(2, random_state=0).fit(dask_rows(np.zeros((30, 4)), 10))
    assert (zero.singular_values_ == 0).all()
    assert np.isnan(zero.explained_variance_ratio_).all()
    singular, vt = range_svd(np.zeros((4, 3)), np.zeros((0, 3)), 2)
    assert (singular == 0).all()
    assert vt.shape == (2, 4)


# --------------------------------------------------------------------------------------------
# model files, scikit-learn's estimator checks


def test_model_file_round_trip(tmp_path: Path) -> None:
    assert "daskpar._truncated_svd.TruncatedSVD" in persist.trusted_types()
    X = spectrum("fast", seed=11)
    fitted = TruncatedSVD(3, random_state=0).fit(dask_rows(X, 300))
    key = persist.generate_key()
    fitted.save(tmp_path / "svd.dp", key=key)
    loaded = dp.load(tmp_path / "svd.dp", key=key)
    assert type(loaded) is TruncatedSVD
    assert loaded.get_params() == fitted.get_params()
    for attribute in ("components_", "singular_values_", "explained_variance_ratio_"):
        np.testing.assert_array_equal(getattr(loaded, attribute), getattr(fitted, attribute))
    np.testing.assert_array_equal(
        loaded.transform(dask_rows(X, 100)).compute(), fitted.transform(dask_rows(X, 100)).compute()
    )


@parametrize_with_checks(
    [TruncatedSVD(), TruncatedSVD(1, n_iter=1, n_oversamples=3, power_iteration_normalizer="QR")]
)
def test_sklearn_compatible(estimator: Any, check: Any) -> None:
    check(estimator)
