"""Feature hashing: scikit-learn's FeatureHasher on dask input and tables, VW's interactions."""

from __future__ import annotations

import itertools
from collections import Counter, defaultdict
from typing import Any

import dask
import dask.array as da
import dask.callbacks
import dask.dataframe as dd
import numpy as np
import pandas as pd
import pytest
from dask.utils import key_split
from daskpar_strategies import chunkings
from daskpar_testing import no_task_runs
from hypothesis import example, given, settings
from hypothesis import strategies as st
from scipy import sparse
from sklearn.base import clone
from sklearn.feature_extraction import FeatureHasher as SkFeatureHasher
from sklearn.linear_model import SGDClassifier
from sklearn.pipeline import make_pipeline
from sklearn.utils import murmurhash3_32

import daskpar as dp
from daskpar._hashing import FNV_PRIME, FeatureHasher
from daskpar._sklearn_compat import InvalidParameterError
from daskpar.errors import InputError, PartitionError

CI = settings.get_current_profile_name() == "ci"
PROPERTY = settings(deadline=None, max_examples=40 if CI else 300)

WORDS = ["ant", "bee", "cat", "", "é", "a=b"]
#: Column kinds of the random tables, each as pandas holds it.
KINDS = ("object", "string", "category", "bool", "int", "Int64", "float")


@pytest.fixture(autouse=True)
def _keep_pandas_dtypes() -> Any:
    # The equivalence tests compare with scikit-learn on the very columns pandas has.
    with dask.config.set({"dataframe.convert-string": False}):
        yield


# --------------------------------------------------------------------------------------------
# random tables and the two references: scikit-learn on records, and a plain cross


def _column(draw: st.DrawFn, kind: str, n: int) -> pd.Series:
    if kind in ("object", "string", "category"):
        words = st.sampled_from(WORDS)
        missing = st.sampled_from([None, np.nan, pd.NA]) if kind == "object" else st.none()
        values = draw(st.lists(st.one_of(words, missing), min_size=n, max_size=n))
        dtype = {"object": object, "string": pd.StringDtype(), "category": "category"}[kind]
        return pd.Series(values, dtype=dtype)
    if kind == "bool":
        return pd.Series(draw(st.lists(st.booleans(), min_size=n, max_size=n)), dtype=bool)
    if kind == "int":
        values = draw(st.lists(st.integers(-3, 3), min_size=n, max_size=n))
        return pd.Series(values, dtype=np.int64)
    if kind == "Int64":
        values = draw(st.lists(st.one_of(st.integers(-3, 3), st.none()), min_size=n, max_size=n))
        return pd.Series(values, dtype="Int64")
    floats = st.one_of(
        st.floats(-100, 100, allow_nan=False), st.just(0.0), st.just(np.nan), st.just(0.5)
    )
    return pd.Series(draw(st.lists(floats, min_size=n, max_size=n)), dtype=np.float64)


@st.composite
def tables(draw: st.DrawFn, *, min_rows: int = 1, max_rows: int = 12) -> pd.DataFrame:
    """Tables of every column kind, with missing values, zeros and repeated values."""
    n = draw(st.integers(min_rows, max_rows))
    names = draw(
        st.lists(
            st.sampled_from(["a", "b", "c", "user", "ad", "ü", "x y"]),
            min_size=1,
            max_size=6,
            unique=True,
        )
    )
    kinds = draw(st.lists(st.sampled_from(KINDS), min_size=len(names), max_size=len(names)))
    return pd.DataFrame({c: _column(draw, k, n) for c, k in zip(names, kinds, strict=True)})


def _is_number(dtype: Any) -> bool:
    return bool(pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype))


def records(df: pd.DataFrame) -> list[dict[str, Any]]:
    """``df.to_dict("records")`` with the missing entries left out and booleans as text:
    what scikit-learn is given to hash a table as daskpar does."""
    rows = []
    for record in df.to_dict("records"):
        row: dict[str, Any] = {}
        for column, value in record.items():
            if pd.isna(value):
                continue
            row[column] = str(value) if isinstance(value, bool | np.bool_) else value
        rows.append(row)
    return rows


def reference_hashing(
    df: pd.DataFrame,
    *,
    n_features: int,
    alternate_sign: bool,
    namespaces: dict[str, list[str]],
    interactions: list[tuple[str, ...]],
) -> np.ndarray:
    """Dense hashed features, row by row in plain Python: each feature hashed with
    murmurhash3_32 as scikit-learn hashes it, then crossed by VW's formula."""
    out = np.zeros((len(df), n_features))
    numeric = {c: _is_number(t) for c, t in df.dtypes.items()}
    for i, record in enumerate(df.to_dict("records")):
        row: dict[int, float] = defaultdict(float)
        features = {}  # column -> (its 32-bit hash, unsigned; its signed value)
        for column, value in record.items():
            if pd.isna(value):
                continue
            name, v = (column, float(value)) if numeric[column] else (f"{column}={value}", 1.0)
            if v == 0:
                continue
            h = murmurhash3_32(name, seed=0)
            sign = -1.0 if alternate_sign and h < 0 else 1.0
            row[abs(h) % n_features] += sign * v
            features[column] = (h % 2**32, sign * v)
        for interaction in interactions:
            per_space = [
                [(p, *features[c]) for p, c in enumerate(namespaces[s]) if c in features]
                for s in interaction
            ]
            for combo in itertools.product(*per_space):
                # A namespace crossed with itself: each combination of its features once.
                if any(
                    interaction[a] == interaction[b] and combo[a][0] > combo[b][0]
                    for a in range(len(combo))
                    for b in range(a + 1, len(combo))
                ):
                    continue
                h, v = combo[0][1], combo[0][2]
                for _, h_next, v_next in combo[1:]:
                    h = ((h * FNV_PRIME) % 2**32) ^ h_next
                    v *= v_next
                row[h % n_features] += v
        for j, v in row.items():
            out[i, j] = v
    return out


def assert_same_csr(actual: Any, expected: Any) -> None:
    """The same CSR matrix, bit for bit: shape, dtype, indices, indptr and values."""
    assert sparse.issparse(actual)
    assert actual.format == "csr"
    assert type(actual) is type(expected)
    assert actual.shape == expected.shape
    assert actual.dtype == expected.dtype
    np.testing.assert_array_equal(actual.indptr, expected.indptr)
    np.testing.assert_array_equal(actual.indices, expected.indices)
    np.testing.assert_array_equal(actual.data, expected.data)


def _identity(part: pd.DataFrame) -> pd.DataFrame:
    return part


def partitioned(df: pd.DataFrame, chunks: tuple[int, ...]) -> Any:
    """``df`` as a dask DataFrame of partitions of ``chunks`` rows (row counts unknown to dask)."""
    bounds = np.cumsum([0, *chunks])
    parts = [df.iloc[a:b] for a, b in itertools.pairwise(bounds)]
    return dd.from_map(_identity, parts, meta=df.iloc[:0], enforce_metadata=False)


def samples_array(samples: list[Any], chunks: tuple[int, ...]) -> da.Array:
    values = np.empty(len(samples), dtype=object)
    values[:] = [*samples, None][:-1]  # each sample one element, whatever it holds
    return da.from_array(values, chunks=(chunks,))


# --------------------------------------------------------------------------------------------
# scikit-learn's hasher: in-memory input unchanged, dask input block by block

DICTS = [{"dog": 1, "cat": 2, "elephant": 4}, {"dog": 2, "run": 5}, {}, {"cat": "black"}]
SAMPLES = {
    "dict": DICTS,
    "pair": [list(d.items()) for d in DICTS],
    "string": [["dog", "cat", "snake"], ["snake", "dog"], [], ["cat", "bird", "cat"]],
}


@pytest.mark.parametrize("input_type", list(SAMPLES))
@pytest.mark.parametrize("alternate_sign", [True, False])
def test_in_memory_samples_are_scikit_learns(input_type: str, alternate_sign: bool) -> None:
    params = {"n_features": 16, "input_type": input_type, "alternate_sign": alternate_sign}
    expected = SkFeatureHasher(**params).transform(SAMPLES[input_type])
    assert_same_csr(FeatureHasher(**params).fit_transform(SAMPLES[input_type]), expected)


@pytest.mark.parametrize("input_type", list(SAMPLES))
@pytest.mark.parametrize("chunks", [(4,), (1, 3), (2, 0, 2), (1, 1, 1, 1)])
def test_dask_array_of_samples_equals_scikit_learn(
    input_type: str, chunks: tuple[int, ...]
) -> None:
    params = {"n_features": 16, "input_type": input_type, "dtype": np.float32}
    X = samples_array(SAMPLES[input_type], chunks)
    with no_task_runs():
        Xt = FeatureHasher(**params).transform(X)
    assert Xt.shape == (4, 16)
    assert Xt.chunks == (chunks, (16,))
    assert sparse.issparse(Xt._meta)
    assert Xt.dtype == np.float32
    assert {key_split(k) for k in Xt.__dask_keys__() for k in k} == {"hash"}
    blocks = Xt.to_delayed().ravel()
    assert len(blocks) == len(chunks)
    for block, n in zip(dask.compute(*blocks), chunks, strict=True):
        assert sparse.issparse(block)
        assert block.shape == (n, 16)
    expected = SkFeatureHasher(**params).transform(SAMPLES[input_type])
    assert_same_csr(Xt.compute(), expected)


def test_dask_series_of_samples_equals_scikit_learn() -> None:
    X = dd.from_pandas(pd.Series(SAMPLES["string"], dtype=object), npartitions=2)
    Xt = FeatureHasher(n_features=16, input_type="string").transform(X)
    expected = SkFeatureHasher(n_features=16, input_type="string").transform(SAMPLES["string"])
    assert_same_csr(Xt.compute(), expected)


def test_parameters_are_scikit_learns_and_clone() -> None:
    hasher = FeatureHasher(2**10, namespaces={"u": ["a"]}, interactions=[("u", "u")])
    assert clone(hasher).get_params() == hasher.get_params()
    assert set(hasher.get_params()) == {
        *SkFeatureHasher().get_params(),
        "namespaces",
        "interactions",
    }
    with pytest.raises(InvalidParameterError, match="'n_features' parameter of FeatureHasher"):
        FeatureHasher(n_features=0).fit()
    with pytest.raises(InvalidParameterError, match="'interactions' parameter"):
        FeatureHasher(interactions="ab").fit()


# --------------------------------------------------------------------------------------------
# tables: scikit-learn's hashing of the rows' dicts


@PROPERTY
@given(
    df=tables(),
    n_features=st.sampled_from([1, 7, 32, 2**20]),
    sign=st.booleans(),
    dtype=st.sampled_from([np.float64, np.float32]),
)
@example(
    df=pd.DataFrame({"a": ["x", None, np.nan, pd.NA], "b": [1.0, np.nan, 0.0, -2.5]}),
    n_features=7,
    sign=True,
    dtype=np.float64,
)
def test_table_equals_scikit_learn_on_its_records(
    df: pd.DataFrame, n_features: int, sign: bool, dtype: Any
) -> None:
    params = {"n_features": n_features, "alternate_sign": sign, "dtype": dtype}
    expected = SkFeatureHasher(**params).transform(records(df))
    assert_same_csr(FeatureHasher(**params).fit_transform(df), expected)
    # Namespaces without interactions change nothing.
    spaces = {"all": list(df.columns)}
    assert_same_csr(FeatureHasher(**params, namespaces=spaces).fit_transform(df), expected)


@PROPERTY
@given(data=st.data(), df=tables(max_rows=20), dtype=st.sampled_from([np.float64, np.float32]))
def test_dask_frame_equals_pandas_frame(data: st.DataObject, df: pd.DataFrame, dtype: Any) -> None:
    chunks = data.draw(chunkings(len(df)))
    X = partitioned(df, chunks)
    hasher = FeatureHasher(n_features=32, dtype=dtype).fit(X)
    Xt = hasher.transform(X)
    assert Xt.chunks[1] == (32,)
    assert sum(Xt.chunks[0]) == len(df)
    assert Xt.numblocks[0] == X.npartitions
    assert_same_csr(Xt.compute(), FeatureHasher(n_features=32, dtype=dtype).fit_transform(df))


def test_missing_values_give_no_feature() -> None:
    df = pd.DataFrame(
        {
            "text": pd.Series(["a", None, "b", np.nan, pd.NA], dtype=object),
            "string": pd.Series(["a", None, "b", "c", None], dtype="string"),
            "category": pd.Series(["a", None, "b", "c", np.nan], dtype="category"),
            "count": pd.Series([1, None, 0, 4, pd.NA], dtype="Int64"),
            "value": [np.nan, 2.0, 0.0, -1.5, np.nan],
        }
    )
    Xt = FeatureHasher(n_features=2**20).fit_transform(df)
    # Neither a missing value nor a 0 gives a feature: row 4 has none.
    assert np.diff(Xt.indptr).tolist() == [4, 1, 3, 4, 0]
    expected = SkFeatureHasher(n_features=2**20).transform(records(df))
    assert_same_csr(Xt, expected)


def test_booleans_and_categories_are_name_value_features() -> None:
    df = pd.DataFrame(
        {
            "flag": [True, False],
            "level": pd.Series([3, 4], dtype="category"),
            "name": ["x", "y"],
        }
    )
    expected = SkFeatureHasher(n_features=2**20).transform(
        [{"flag=True": 1, "level=3": 1, "name=x": 1}, {"flag=False": 1, "level=4": 1, "name=y": 1}]
    )
    assert_same_csr(FeatureHasher(n_features=2**20).fit_transform(df), expected)


def test_columns_are_matched_by_name() -> None:
    df = pd.DataFrame({"city": ["Oslo", "Lima", "Oslo"], "age": [31.0, 2.0, 4.0], "k": [1, 2, 3]})
    hasher = FeatureHasher(n_features=4).fit(df)  # collisions: the order of summing shows
    np.testing.assert_array_equal(hasher.feature_names_in_, ["city", "age", "k"])
    shuffled = df[["k", "city", "age"]]
    assert_same_csr(hasher.transform(shuffled), hasher.transform(df))
    ddf = dd.from_pandas(shuffled, npartitions=2)
    assert_same_csr(hasher.transform(ddf).compute(), hasher.transform(df))
    with pytest.raises(InputError, match="Feature names seen at fit time, yet now missing"):
        hasher.transform(df[["city", "age"]])
    with pytest.raises(InputError, match="Feature names seen at fit time, yet now missing"):
        hasher.transform(dd.from_pandas(df[["city", "k"]], npartitions=1))


def test_transform_without_fit_is_stateless() -> None:
    df = pd.DataFrame({"city": ["Oslo", "Lima"], "age": [31, 2]})
    expected = SkFeatureHasher(n_features=64).transform(records(df))
    assert_same_csr(FeatureHasher(n_features=64).transform(df), expected)


def test_dask_frame_transform_is_lazy_one_task_per_partition() -> None:
    df = pd.DataFrame({"city": ["Oslo", "Lima", "Pune", "Oslo"], "age": [1, 2, 3, 4]})
    X = dd.from_pandas(df, npartitions=3)
    hasher = FeatureHasher(n_features=64).fit(X)
    with no_task_runs():  # the partitions' lengths are known from pandas
        Xt = hasher.transform(X)
    (layer,) = [name for name in Xt.dask.layers if key_split(name) == "hash"]
    assert layer == Xt.name
    assert len(Xt.dask.layers[layer]) == X.npartitions
    assert sum(Xt.chunks[0]) == 4


def test_table_errors() -> None:
    df = pd.DataFrame({"a": ["x"], "b": [1.0], "c": ["y"]})
    with pytest.raises(InputError, match="input_type='dict'"):
        FeatureHasher(input_type="string").fit_transform(df)
    with pytest.raises(InputError, match=r"namespaces\['u'\] names columns that X does not"):
        FeatureHasher(namespaces={"u": ["a", "zz"]}).fit(df)
    with pytest.raises(InputError, match="'b' is in two namespaces"):
        FeatureHasher(namespaces={"u": ["a", "b"], "v": ["b"]}).fit(df)
    with pytest.raises(InputError, match="not in namespaces: \\['w'\\]"):
        FeatureHasher(namespaces={"u": ["a"]}, interactions=[("u", "w")]).fit(df)
    with pytest.raises(InputError, match="two or three namespaces"):
        FeatureHasher(namespaces={"u": ["a"]}, interactions=[("u",)]).fit(df)
    with pytest.raises(InputError, match="name columns of a table"):
        FeatureHasher(namespaces={"u": ["a"]}, interactions=[("u", "u")]).transform(DICTS)
    with pytest.raises(InputError, match="1-D dask array"):
        FeatureHasher().transform(da.zeros((2, 2)))
    with pytest.raises(ValueError, match="Cannot vectorize empty sequence"):
        FeatureHasher().transform(df.iloc[:0])


# --------------------------------------------------------------------------------------------
# namespaces and interactions


@st.composite
def crossings(
    draw: st.DrawFn, df: pd.DataFrame
) -> tuple[dict[str, list[str]], list[tuple[str, ...]]]:
    """Namespaces over some of ``df``'s columns, and pairs and triples of them to cross."""
    columns = draw(st.permutations(list(df.columns)))
    owners = draw(st.lists(st.integers(0, 3), min_size=len(columns), max_size=len(columns)))
    namespaces: dict[str, list[str]] = {}
    for column, owner in zip(columns, owners, strict=True):
        if owner < 3:  # 3: in no namespace
            namespaces.setdefault("uvw"[owner], []).append(column)
    if not namespaces:
        return {}, []
    names = sorted(namespaces)
    interaction = st.lists(st.sampled_from(names), min_size=2, max_size=3).map(tuple)
    return namespaces, draw(st.lists(interaction, min_size=1, max_size=3))


@PROPERTY
@given(data=st.data(), df=tables(), n_features=st.sampled_from([5, 64, 2**18]), sign=st.booleans())
def test_interactions_equal_the_plain_reference(
    data: st.DataObject, df: pd.DataFrame, n_features: int, sign: bool
) -> None:
    namespaces, interactions = data.draw(crossings(df))
    hasher = FeatureHasher(
        n_features=n_features,
        alternate_sign=sign,
        namespaces=namespaces,
        interactions=interactions,
    )
    expected = reference_hashing(
        df,
        n_features=n_features,
        alternate_sign=sign,
        namespaces=namespaces,
        interactions=interactions,
    )
    Xt = hasher.fit_transform(df)
    np.testing.assert_allclose(Xt.toarray(), expected, rtol=1e-12, atol=1e-9)
    X = dd.from_pandas(df, npartitions=min(3, len(df)), sort=False)
    assert_same_csr(hasher.transform(X).compute(), Xt)


def test_a_pair_crosses_every_feature_of_one_namespace_with_every_one_of_the_other() -> None:
    df = pd.DataFrame(
        {"user_id": ["u1", "u2"], "age": [30.0, np.nan], "ad_id": ["a1", "a2"], "site": ["s", "t"]}
    )
    namespaces = {"user": ["user_id", "age"], "ad": ["ad_id", "site"]}
    base = FeatureHasher(n_features=2**24, namespaces=namespaces).fit_transform(df)
    crossed = FeatureHasher(
        n_features=2**24, namespaces=namespaces, interactions=[("user", "ad")]
    ).fit_transform(df)
    # Row 0: 4 features and 2 x 2 crosses; row 1 (age missing): 3 and 1 x 2.
    assert np.diff(base.indptr).tolist() == [4, 3]
    assert np.diff(crossed.indptr).tolist() == [8, 5]
    h = {name: murmurhash3_32(name, seed=0) for name in ("age", "ad_id=a1")}
    index = ((h["age"] % 2**32 * FNV_PRIME) % 2**32 ^ h["ad_id=a1"] % 2**32) % 2**24
    sign = np.sign(h["age"]) * np.sign(h["ad_id=a1"])
    assert crossed[0, index] == pytest.approx(30.0 * sign)
    # The namespaces' own features are kept, as in VW.
    assert (crossed - base).multiply(base != 0).nnz == 0


def test_self_interaction_gives_each_combination_once() -> None:
    df = pd.DataFrame({"a": ["x"], "b": ["y"], "c": ["z"]})
    spaces = {"s": ["a", "b", "c"]}
    for interaction, n_crossed in [(("s", "s"), 6), (("s", "s", "s"), 10)]:
        Xt = FeatureHasher(
            n_features=2**30, namespaces=spaces, interactions=[interaction]
        ).fit_transform(df)
        assert Xt.nnz == 3 + n_crossed


# --------------------------------------------------------------------------------------------
# into training


def test_hashed_blocks_feed_a_training_pipeline() -> None:
    """The hashed CSR blocks train a linear model; the label is a XOR of two columns, which
    only the interaction of their namespaces lets a linear model learn."""
    rng = np.random.default_rng(0)
    n = 2000
    df = pd.DataFrame(
        {
            "site": rng.choice(list("abcdefgh"), n),
            "device": rng.choice(["phone", "tablet"], n),
            "price": rng.normal(size=n),
        }
    )
    y = pd.Series(((df["site"] == "a") ^ (df["device"] == "phone")).astype(int), name="y")
    X, Y = dd.from_pandas(df, npartitions=4), dd.from_pandas(y, npartitions=4)
    scores = []
    for interactions in (None, [("s", "d")]):
        hasher = FeatureHasher(
            n_features=2**12,
            namespaces={"s": ["site"], "d": ["device"]},
            interactions=interactions,
        )
        model = dp.ParallelIncremental(SGDClassifier(random_state=0), epochs=3, random_state=0)
        pipe = make_pipeline(hasher, model).fit(X, Y)
        scores.append(pipe.score(X, Y))
    assert scores[1] > scores[0]
    assert scores[1] > 0.95


def test_a_search_over_a_hashing_pipeline_equals_the_search_on_the_hashed_rows(
    tmp_path: Any,
) -> None:
    """A search over ``Pipeline(FeatureHasher, ParallelIncremental)`` hashes each block in
    the tasks that read it (the hasher learns nothing, so every fold shares it): its results
    are the search's on the hashed array; the refit takes the table, by name; the hasher's
    own parameters are refused, since they are not searched."""
    rng = np.random.default_rng(0)
    n = 1600
    df = pd.DataFrame(
        {"site": rng.choice(list("abcdefgh"), n), "device": rng.choice(["phone", "pad"], n)}
    )
    y = pd.Series(((df["site"] == "a") ^ (df["device"] == "phone")).astype(int), name="y")
    X, Y = dd.from_pandas(df, npartitions=8), dd.from_pandas(y, npartitions=8)
    hasher = FeatureHasher(
        n_features=2**10, namespaces={"s": ["site"], "d": ["device"]}, interactions=[("s", "d")]
    )
    model = dp.ParallelIncremental(SGDClassifier(random_state=0), epochs=2, random_state=0)
    grid = {"alpha": [1e-5, 1e-2]}
    search = dp.GridSearchCV(
        make_pipeline(hasher, model),
        {f"parallelincremental__estimator__{k}": v for k, v in grid.items()},
        cv=2,
        checkpoint=tmp_path / "search",
    ).fit(X, Y)
    hashed = clone(hasher).fit_transform(X)
    by_hand = dp.GridSearchCV(model, {f"estimator__{k}": v for k, v in grid.items()}, cv=2)
    by_hand.fit(hashed, Y)
    np.testing.assert_array_equal(
        search.cv_results_["mean_test_score"], by_hand.cv_results_["mean_test_score"]
    )
    assert search.n_features_in_ == 2
    assert isinstance(search.best_estimator_[0], FeatureHasher)
    np.testing.assert_array_equal(
        search.best_estimator_[-1].estimator_.coef_, by_hand.best_estimator_.estimator_.coef_
    )
    resumed = clone(search).fit(X, Y)  # from the finished checkpoint: the same results
    np.testing.assert_array_equal(
        resumed.cv_results_["mean_test_score"], search.cv_results_["mean_test_score"]
    )
    reordered = X[["device", "site"]]
    assert search.score(reordered, Y) == by_hand.score(hashed, Y)
    np.testing.assert_array_equal(search.predict(reordered), by_hand.predict(hashed))
    with pytest.raises(InputError, match="parameters of the FeatureHasher step 'featurehasher'"):
        dp.GridSearchCV(make_pipeline(hasher, model), {"featurehasher__n_features": [8, 16]}).fit(
            X, Y
        )


def test_a_bad_sample_names_its_partition() -> None:
    X = samples_array([{"a": 1}, {"b": 2}, {"c": 3}, {"d": [1, 2]}], (2, 2))
    Xt = FeatureHasher(n_features=8).transform(X)
    with pytest.raises(PartitionError, match=r"in partition 1 \(rows 2 to 3\)"):
        Xt.compute()
    df = pd.DataFrame({"a": pd.Series(["x", "y", ["unhashable"]], dtype=object)})
    Xt = FeatureHasher(n_features=8).transform(partitioned(df, (2, 1)))
    with pytest.raises(PartitionError, match="in partition 1"):
        Xt.compute()


@settings(max_examples=60, deadline=None)
@given(
    prefix=st.text(max_size=12),
    values=st.lists(
        st.one_of(st.text(max_size=40), st.integers(), st.floats(allow_nan=True), st.booleans()),
        max_size=30,
    ),
    as_arrow=st.booleans(),
)
def test_compiled_murmur_equals_scikit_learns(
    prefix: str, values: list[Any], as_arrow: bool
) -> None:
    """The compiled hash of ``prefix + str(v)`` is scikit-learn's ``murmurhash3_32``, for any
    text (every length modulo 4 of its UTF-8 bytes, multi-byte characters, an empty string)
    and for the values of a pandas Arrow string column, sliced or not."""
    import pyarrow as pa

    from daskpar._murmur import murmur_strings

    def encodable(s: str) -> bool:
        return all(not 0xD800 <= ord(c) <= 0xDFFF for c in s)

    values = [v for v in values if encodable(str(v))]
    if not encodable(prefix):
        return
    expected = np.array([murmurhash3_32(f"{prefix}{v!s}", seed=0) for v in values], np.int64)
    given_values: Any = values
    if as_arrow:
        given_values = pd.Index(pd.array(["pad", *map(str, values)], dtype="string[pyarrow]"))[1:]
    np.testing.assert_array_equal(murmur_strings(prefix, given_values), expected)
    if as_arrow:
        sliced = pa.array(["pad", *map(str, values)]).slice(1)
        np.testing.assert_array_equal(murmur_strings(prefix, sliced), expected)


def test_hashing_runs_inside_the_training_tasks() -> None:
    """The hasher's layer is fused into ``fit-block``: no hashed block exists apart from the
    task that trains on it (issue 21: hashing inside the training task)."""
    rng = np.random.default_rng(0)
    df = pd.DataFrame({"a": rng.choice(list("abc"), 400), "b": rng.normal(size=400)})
    X = dd.from_pandas(df, npartitions=4)
    y = dd.from_pandas(pd.Series(rng.integers(0, 2, 400)), npartitions=4)
    ran: Counter[str] = Counter()

    class Tasks(dask.callbacks.Callback):  # type: ignore[misc]
        def _pretask(self, key: Any, dsk: Any, state: Any) -> None:
            ran[key_split(key)] += 1

    model = dp.ParallelIncremental(SGDClassifier(random_state=0), epochs=2, random_state=0)
    with Tasks():
        make_pipeline(FeatureHasher(n_features=2**10), model).fit(
            X, y, parallelincremental__classes=[0, 1]
        )
    assert ran["fit-block"] == 8
    assert ran["hash"] == 0, dict(ran)
