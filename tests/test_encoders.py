"""Out-of-core encoders: scikit-learn's fitted encoder for any partitioning, in one pass."""

from __future__ import annotations

import itertools
import pickle
import sys
import threading
import uuid
import warnings
from collections import Counter
from decimal import Decimal
from typing import Any

import dask
import dask.array as da
import dask.dataframe as dd
import numpy as np
import pandas as pd
import pytest
from dask.callbacks import Callback
from dask.utils import key_split
from daskpar_strategies import chunkings
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from scipy import sparse
from sklearn import preprocessing as skp
from sklearn.linear_model import SGDClassifier
from sklearn.pipeline import make_pipeline

import daskpar as dp
from daskpar._encoders import (
    MAX_CATEGORIES_KEY,
    count_partition_categories,
)
from daskpar._sklearn_compat import unique_values, unique_values_by_sklearn

CI = settings.get_current_profile_name() == "ci"
PROPERTY = settings(
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    max_examples=40 if CI else 300,
)

#: Column kinds of the random tables: pandas' default text, categoricals, numbers, and
#: object columns holding strings with both None and NaN.
KINDS = ("str", "category", "category-int", "int", "float", "object")
WORDS = np.array(["ant", "bee", "cat", "dog", "eel", "fox"], dtype=object)


@pytest.fixture(autouse=True)
def _keep_pandas_dtypes() -> Any:
    # dask turns text columns into string[pyarrow] (None and NaN both pd.NA); the equivalence
    # tests compare with scikit-learn on the very columns pandas has.
    with dask.config.set({"dataframe.convert-string": False}):
        yield


# --------------------------------------------------------------------------------------------
# helpers


class StageCounter(Callback):
    """Counts the tasks the local schedulers finish, by stage (the dashboard's label)."""

    def __init__(self) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self.stages: Counter[str] = Counter()

    def _posttask(self, key: Any, *args: Any) -> None:
        self.stages[key_split(key)] += 1


def column(kind: str, codes: np.ndarray, missing: np.ndarray, nones: np.ndarray) -> Any:
    if kind == "int":
        return pd.Series(codes * 3 - 2, dtype=np.int64)
    if kind == "category-int":
        return pd.Series(pd.Categorical(np.where(missing, np.nan, codes * 10.0)))
    if kind == "float":
        values = codes / 2.0
        values[missing] = np.nan
        return pd.Series(values)
    words = WORDS[codes].copy()
    words[missing] = np.nan
    if kind == "object":
        words[missing & nones] = None
        return pd.Series(words, dtype=object)
    if kind == "category":
        return pd.Series(pd.Categorical(words))
    return pd.Series(words, dtype="str")


@st.composite
def tables(draw: st.DrawFn, *, kinds: tuple[str, ...] = KINDS) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A small table, and held-out rows of the same columns (with a category of each column
    unseen in the table)."""
    n_rows = draw(st.integers(1, 14))
    n_held = draw(st.integers(1, 4))
    n = n_rows + n_held
    n_columns = draw(st.integers(1, 3))
    named = draw(st.integers(0, 3)) > 0  # else the columns are 0, 1...: no feature names
    data = {}
    for j in range(n_columns):
        kind = draw(st.sampled_from(kinds))
        k = draw(st.integers(1, 5))
        codes = np.array(draw(st.lists(st.integers(0, k - 1), min_size=n, max_size=n)))
        codes[n_rows:] = draw(st.lists(st.integers(0, k), min_size=n_held, max_size=n_held))
        missing = np.array(draw(st.lists(st.booleans(), min_size=n, max_size=n)))
        missing &= draw(st.booleans())
        nones = np.array(draw(st.lists(st.booleans(), min_size=n, max_size=n)))
        data[f"{kind}{j}" if named else j] = column(kind, codes, missing, nones)
    df = pd.DataFrame(data)
    train, held = df.iloc[:n_rows], df.iloc[n_rows:]
    if any(isinstance(t, pd.CategoricalDtype) for t in df.dtypes):
        # Categoricals as they would be read: each table with its own categories.
        train = train.astype({c: "category" for c, t in df.dtypes.items() if t == "category"})
        train = pd.DataFrame(
            {
                c: train[c].astype(object).astype("category")
                if isinstance(t, pd.CategoricalDtype)
                else train[c]
                for c, t in df.dtypes.items()
            }
        )
        held = pd.DataFrame(
            {
                c: held[c].astype(object).astype("category")
                if isinstance(t, pd.CategoricalDtype)
                else held[c]
                for c, t in df.dtypes.items()
            }
        )
    return train.reset_index(drop=True), held.reset_index(drop=True)


def frame_partitions(df: pd.DataFrame, chunks: tuple[int, ...]) -> dd.DataFrame:
    """``df`` as a dask DataFrame whose partitions are exactly ``chunks`` rows (0 allowed)."""
    bounds = np.cumsum((0, *chunks))
    pieces = [df.iloc[a:b] for a, b in itertools.pairwise(bounds)]
    # A salt for a name of its own: dask tokenizes slices of one pyarrow-backed text column
    # alike, so that the held-out rows' frame would be the training rows' one.
    return dd.from_map(
        lambda piece, salt: piece,
        pieces,
        args=[uuid.uuid4().hex],
        meta=df.iloc[:0],
        enforce_metadata=False,
    )


def typed_name(feature: Any, category: Any) -> str:
    """A ``feature_name_combiner``: the feature, the category's type and the category."""
    return f"{feature}:{type(category).__name__}:{category}"


@st.composite
def one_hot_params(draw: st.DrawFn, df: pd.DataFrame) -> dict[str, Any]:
    params: dict[str, Any] = {
        "sparse_output": draw(st.booleans()),
        "handle_unknown": draw(st.sampled_from(["error", "ignore", "infrequent_if_exist", "warn"])),
        "min_frequency": draw(st.sampled_from([None, None, 1, 2, 3, 0.2, 0.5])),
        "max_categories": draw(st.sampled_from([None, None, 1, 2, 3])),
        "dtype": draw(st.sampled_from([np.float64, np.float32, np.int64])),
        "feature_name_combiner": draw(st.sampled_from(["concat", typed_name])),
    }
    drop: Any = draw(st.sampled_from([None, "first", "if_binary", "values"]))
    if drop == "values":
        # A value of each column (it may be infrequent: scikit-learn then refuses it).
        drop = [draw(st.sampled_from(df[c].tolist())) for c in df.columns]
    params["drop"] = drop
    if draw(st.integers(0, 4)) == 0:
        params["categories"] = given_categories(draw, df)
    return params


@st.composite
def ordinal_params(draw: st.DrawFn, df: pd.DataFrame) -> dict[str, Any]:
    params: dict[str, Any] = {
        "min_frequency": draw(st.sampled_from([None, None, 1, 2, 3, 0.2, 0.5])),
        "max_categories": draw(st.sampled_from([None, None, 1, 2, 3])),
        "dtype": draw(st.sampled_from([np.float64, np.float64, np.int64])),
        "encoded_missing_value": draw(st.sampled_from([np.nan, np.nan, -2, 0])),
    }
    if draw(st.booleans()):
        params["handle_unknown"] = "use_encoded_value"
        params["unknown_value"] = draw(st.sampled_from([-1, np.nan, 1]))
    if draw(st.integers(0, 4)) == 0:
        params["categories"] = given_categories(draw, df)
    return params


def given_categories(draw: st.DrawFn, df: pd.DataFrame) -> list[list[Any]]:
    """The categories of each column as scikit-learn finds them, maybe one left out."""
    found = skp.OrdinalEncoder().fit(df).categories_
    out = []
    for cats in found:
        cats = list(cats)
        if len(cats) > 1 and draw(st.booleans()):
            del cats[draw(st.integers(0, len(cats) - 2))]
        out.append(cats)
    return out


def same_values(ours: Any, theirs: Any) -> None:
    """Equal arrays: values (NaN equal to NaN, None to None), type and dtype."""
    if sparse.issparse(theirs):
        assert type(ours) is type(theirs)
        ours, theirs = ours.toarray(), theirs.toarray()
    ours, theirs = np.asarray(ours), np.asarray(theirs)
    assert ours.dtype == theirs.dtype, (ours.dtype, theirs.dtype)
    assert ours.shape == theirs.shape
    if ours.dtype != object:
        np.testing.assert_array_equal(ours, theirs)
        return
    for a, b in zip(ours.ravel().tolist(), theirs.ravel().tolist(), strict=True):
        assert a is b or a == b or (a != a and b != b), (a, b)


def same_fit(ours: Any, theirs: Any) -> None:
    assert len(ours.categories_) == len(theirs.categories_)
    for a, b in zip(ours.categories_, theirs.categories_, strict=True):
        same_values(a, b)
    for name in ("infrequent_categories_", "drop_idx_"):
        a, b = getattr(ours, name, "absent"), getattr(theirs, name, "absent")
        if isinstance(b, list):
            assert len(a) == len(b)
            for x, y in zip(a, b, strict=True):
                assert (x is None) == (y is None)
                if y is not None:
                    same_values(x, y)
        elif isinstance(b, np.ndarray):
            same_values(a, b)
        else:
            assert a == b
    assert ours.n_features_in_ == theirs.n_features_in_
    assert list(getattr(ours, "feature_names_in_", [])) == list(
        getattr(theirs, "feature_names_in_", [])
    )
    same_values(ours.get_feature_names_out(), theirs.get_feature_names_out())


def outcome(method: Any, *args: Any) -> tuple[Any, BaseException | None]:
    """``method(*args)``, or the error scikit-learn raises instead."""
    try:
        return method(*args), None
    except (TypeError, ValueError, AttributeError, IndexError) as error:
        return None, error


def same_error(run: Any, error: BaseException) -> None:
    """``run()`` raises a DaskparError saying scikit-learn's ``error``."""
    with pytest.raises(dp.DaskparError) as caught:
        run()
    # scikit-learn's message, said by daskpar (after where, for a partition's error).
    assert str(error)[:20] in str(caught.value)


def compare(ours: Any, theirs: Any, X: Any, data: Any, held_out: Any = None) -> None:
    """Fit both (``X`` dask, ``data`` in memory): same errors, attributes and outputs, for
    the training rows and for ``held_out`` ones (a dask and an in-memory version)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _, error = outcome(theirs.fit, data)
        if error is not None:
            same_error(lambda: ours.fit(X), error)
            return
        ours.fit(X)
        same_fit(ours, theirs)
        for rows, in_memory in [(X, data), *([held_out] if held_out is not None else [])]:
            expected, error = outcome(theirs.transform, in_memory)
            got = ours.transform(rows)
            assert isinstance(got, da.Array)
            if error is not None:
                same_error(got.compute, error)
                continue
            same_values(got.compute(), expected)
            back = ours.inverse_transform(got)
            expected_back, error = outcome(theirs.inverse_transform, expected)
            if error is not None:
                same_error(back.compute, error)
                continue
            computed = back.compute()
            if isinstance(ours, dp.OneHotEncoder) and computed.dtype != expected_back.dtype:
                # Where rows of zeros could decode to None, the lazy output is object.
                assert computed.dtype == object
                computed = computed.astype(expected_back.dtype)
            same_values(computed, expected_back)


# --------------------------------------------------------------------------------------------
# equivalence with scikit-learn


@PROPERTY
@given(data=st.data(), tables=tables())
def test_one_hot_on_dask_dataframe_is_sklearns(
    data: st.DataObject, tables: tuple[pd.DataFrame, pd.DataFrame]
) -> None:
    df, held = tables
    chunks = data.draw(chunkings(len(df), max_blocks=4))
    params = data.draw(one_hot_params(df))
    split_every = data.draw(st.sampled_from([None, 2, 3]))
    ours = dp.OneHotEncoder(**params, split_every=split_every)
    X = frame_partitions(df, chunks)
    compare(ours, skp.OneHotEncoder(**params), X, df, (frame_partitions(held, (len(held),)), held))


@PROPERTY
@given(data=st.data(), tables=tables())
def test_ordinal_on_dask_dataframe_is_sklearns(
    data: st.DataObject, tables: tuple[pd.DataFrame, pd.DataFrame]
) -> None:
    df, held = tables
    chunks = data.draw(chunkings(len(df), max_blocks=4))
    params = data.draw(ordinal_params(df))
    ours = dp.OrdinalEncoder(**params, split_every=data.draw(st.sampled_from([None, 2])))
    X = frame_partitions(df, chunks)
    held_out = (frame_partitions(held, (1, len(held) - 1)), held)
    compare(ours, skp.OrdinalEncoder(**params), X, df, held_out)


@PROPERTY
@given(data=st.data(), tables=tables(kinds=("object", "float", "int")))
def test_encoders_on_dask_arrays_are_sklearns(
    data: st.DataObject, tables: tuple[pd.DataFrame, pd.DataFrame]
) -> None:
    # One dtype for the whole array, as numpy has it: object if any column is text.
    X, H = tables[0].to_numpy(), tables[1].to_numpy()
    if X.dtype != object and data.draw(st.booleans()):
        X, H = X.astype(object), H.astype(object)
    if X.dtype != H.dtype:
        H = H.astype(X.dtype) if X.dtype == object else H
    chunks = data.draw(chunkings(len(X), max_blocks=4))
    Xd = da.from_array(X, chunks=(chunks, -1))
    held_out = (da.from_array(H, chunks=(1, -1)), H)
    if data.draw(st.booleans()):
        params = data.draw(one_hot_params(pd.DataFrame(X)))
        compare(dp.OneHotEncoder(**params), skp.OneHotEncoder(**params), Xd, X, held_out)
    else:
        params = data.draw(ordinal_params(pd.DataFrame(X)))
        compare(dp.OrdinalEncoder(**params), skp.OrdinalEncoder(**params), Xd, X, held_out)


#: Values an object column may hold, by name; each call makes one (a new NaN object for
#: "fresh nan": a float column cast to object has one per missing row, NaN != NaN).
OBJECT_VALUES: dict[str, Any] = {
    "'a'": lambda: "a",
    "'b'": lambda: "b",
    "np.str_('a')": lambda: np.str_("a"),
    "''": lambda: "",
    "b'a'": lambda: b"a",
    "1": lambda: 1,
    "1.0": lambda: 1.0,
    "True": lambda: True,
    "0": lambda: 0,
    "-0.0": lambda: -0.0,
    "2.5": lambda: 2.5,
    "10**30": lambda: 10**30,
    "np.int64(1)": lambda: np.int64(1),
    "np.float32(2.5)": lambda: np.float32(2.5),
    "np.bool_(False)": lambda: np.bool_(False),
    "None": lambda: None,
    "np.nan": lambda: np.nan,
    "fresh nan": lambda: float("nan"),
    "np.float32(nan)": lambda: np.float32("nan"),
    "pd.NA": lambda: pd.NA,
    "pd.NaT": lambda: pd.NaT,
    "Decimal('NaN')": lambda: Decimal("NaN"),
    "(1,)": lambda: (1,),
    "frozenset({1})": lambda: frozenset({1}),
    "frozenset({2})": lambda: frozenset({2}),
    "frozenset({1, 2})": lambda: frozenset({1, 2}),
    "[1]": lambda: [1],
}


def object_column(names: list[str]) -> np.ndarray:
    out = np.empty(len(names), dtype=object)
    for i, name in enumerate(names):
        out[i] = OBJECT_VALUES[name]()
    return out


def unique_outcome(values: np.ndarray, unique: Any) -> tuple[Any, Any]:
    try:
        return unique(values), None
    except Exception as error:  # whatever scikit-learn raises, ours must raise alike
        return None, error


@settings(PROPERTY, max_examples=PROPERTY.max_examples * 4)
@given(
    names=st.lists(st.sampled_from(sorted(OBJECT_VALUES)), max_size=12).flatmap(
        lambda few: st.lists(st.sampled_from(few), max_size=40) if few else st.just([])
    )
)
@example(names=["'b'", "fresh nan", "None", "'a'", "fresh nan", "np.nan", "'b'"])
@example(names=["1.0", "fresh nan", "2.5", "fresh nan", "fresh nan", "None"])
@example(names=["True", "1", "1.0", "np.int64(1)", "0", "-0.0"])  # one group, first kept
@example(names=["np.str_('a')", "'a'", "'b'"])  # np.str_ kept, as the first
@example(names=["'a'", "1", "fresh nan"])  # mixed: scikit-learn's message, all types named
@example(names=["np.float32(2.5)", "fresh nan", "10**30", "fresh nan"])  # no merge of NaNs
@example(names=["frozenset({1})", "frozenset({2})", "fresh nan", "frozenset({1, 2})", "None"])
@example(names=["'a'", "pd.NA", "'a'"])
@example(names=["'a'", "Decimal('NaN')", "fresh nan"])
@example(names=["[1]", "'a'"])
@example(names=["fresh nan", "fresh nan"])
def test_unique_values_are_sklearns_on_object_columns(names: list[str]) -> None:
    # Values, their types and order, the dtype and counts, or the error: scikit-learn's.
    values = object_column(names)
    theirs, their_error = unique_outcome(values, unique_values_by_sklearn)
    ours, our_error = unique_outcome(values, unique_values)
    if their_error is not None:
        assert type(our_error) is type(their_error)
        assert str(our_error) == str(their_error)
        return
    assert our_error is None, our_error
    assert ours[0].dtype == theirs[0].dtype
    assert [type(v) for v in ours[0]] == [type(v) for v in theirs[0]]
    same_values(ours[0], theirs[0])
    assert ours[1].dtype == theirs[1].dtype == np.int64
    np.testing.assert_array_equal(ours[1], theirs[1])


def test_object_columns_cast_from_floats_count_their_nans_as_one() -> None:
    # One NaN object per missing row, None among them: one NaN category, counted in full.
    floats = np.where(np.arange(60) % 3 == 0, np.nan, np.arange(60) % 4 / 2)
    X = floats.astype(object).reshape(-1, 1)
    X[1, 0] = None
    uniques, counts = unique_values(X[:, 0])
    assert uniques[:-2].tolist() == [0.0, 0.5, 1.0, 1.5]
    assert uniques[-2] is None
    assert np.isnan(uniques[-1])
    assert counts.tolist() == [10, 9, 10, 10, 1, 20]
    Xd = da.from_array(X, chunks=((25, 35), -1))
    compare(dp.OneHotEncoder(min_frequency=10), skp.OneHotEncoder(min_frequency=10), Xd, X)
    compare(dp.OrdinalEncoder(max_categories=4), skp.OrdinalEncoder(max_categories=4), Xd, X)


def test_numpy_strings_and_partitions_without_some_categories() -> None:
    X = np.array([["b", "x"], ["a", "y"], ["c", "x"], ["a", "zz"], ["b", "x"]])
    Xd = da.from_array(X, chunks=((2, 0, 1, 2), -1))
    compare(dp.OneHotEncoder(min_frequency=2), skp.OneHotEncoder(min_frequency=2), Xd, X)
    compare(dp.OrdinalEncoder(max_categories=2), skp.OrdinalEncoder(max_categories=2), Xd, X)


def test_pyarrow_text_missing_values_are_nan() -> None:
    # dask's own conversion of text to string[pyarrow], whose missing values (pd.NA)
    # scikit-learn refuses: read as NaN, as in pandas' default text dtype.
    df = pd.DataFrame({"size": pd.Series(["S", "M", None, "L", "S"], dtype="str")})
    with dask.config.set({"dataframe.convert-string": True}):
        X = dd.from_pandas(df, npartitions=2)
        assert X.dtypes["size"].na_value is pd.NA
        ours = dp.OrdinalEncoder().fit(X)
        theirs = skp.OrdinalEncoder().fit(df)
        same_fit(ours, theirs)
        same_values(ours.transform(X).compute(), theirs.transform(df))


# --------------------------------------------------------------------------------------------
# errors


def test_mixed_types_across_partitions_raise_a_daskpar_error() -> None:
    X = da.from_array(np.array([["a"], ["b"], [1], [2]], dtype=object), chunks=(2, -1))
    with pytest.raises(TypeError, match="uniformly strings or numbers"):
        skp.OneHotEncoder().fit(X.compute())
    with pytest.raises(dp.InputError, match=r"column 0: Encoders require.*uniformly strings"):
        dp.OneHotEncoder().fit(X)
    X = da.from_array(np.array([["a"], [1]], dtype=object), chunks=(2, -1))
    with pytest.raises(dp.PartitionError, match="column 0 of X in partition 0: Encoders"):
        dp.OrdinalEncoder().fit(X)


def test_sklearn_checks_of_parameters_against_data_become_input_errors() -> None:
    df = pd.DataFrame({"a": pd.Series(["x", np.nan, "y"], dtype=object)})
    X = dd.from_pandas(df, npartitions=2)
    with pytest.raises(dp.InputError, match="set encoded_missing_value to a non-nan value"):
        dp.OrdinalEncoder(dtype=np.int64).fit(X)
    with pytest.raises(dp.InputError, match="supposed to be dropped, but were not found"):
        dp.OneHotEncoder(drop=["q"]).fit(X)
    with pytest.raises(dp.InputError, match="unknown_value should only be set"):
        dp.OrdinalEncoder(unknown_value=3).fit(X)
    with pytest.raises(dp.InputError, match="Shape mismatch"):
        dp.OneHotEncoder(categories=[["x"], ["y"]]).fit(X)
    with pytest.raises(ValueError, match="'split_every' parameter of OneHotEncoder"):
        dp.OneHotEncoder(split_every=1).fit(X)


def test_unknown_category_in_transform_names_the_partition() -> None:
    enc = dp.OneHotEncoder().fit(dd.from_pandas(pd.DataFrame({"a": ["x", "y"]}), npartitions=1))
    X = dd.from_pandas(pd.DataFrame({"a": ["x", "y", "z"]}), npartitions=1)
    with pytest.raises(dp.PartitionError, match=r"in partition 0: Found unknown categories \['z'"):
        enc.transform(X).compute()


def test_too_many_categories_fail_in_the_first_partition_naming_the_column() -> None:
    df = pd.DataFrame({"ok": ["a", "b"] * 10, "id": [f"user{i}" for i in range(20)]})
    X = frame_partitions(df, (10, 10))
    with (
        dask.config.set({MAX_CATEGORIES_KEY: 8}),
        StageCounter() as counter,
        pytest.raises(dp.InputError, match="column 'id' has 10 distinct values in partition ") as e,
    ):
        dp.OneHotEncoder().fit(X)
    assert "FeatureHasher" in str(e.value)
    assert "min_frequency" in str(e.value)
    assert "encoder-merge" not in counter.stages
    assert "encoder-final" not in counter.stages
    # Below the cap per partition but not in all: the merge says so.
    with (
        dask.config.set({MAX_CATEGORIES_KEY: 12}),
        pytest.raises(dp.InputError, match="column 'id' has 20 distinct values in the"),
    ):
        dp.OrdinalEncoder().fit(X)


def test_dense_output_too_wide_for_a_block_is_refused() -> None:
    X = da.from_array(np.arange(2000).reshape(-1, 1), chunks=(2000, -1))
    enc = dp.OneHotEncoder(sparse_output=False).fit(X)
    big = da.zeros((2**17, 1), chunks=(2**17, -1), dtype=np.int64)
    with pytest.raises(dp.InputError, match="sparse_output=True"):
        enc.transform(big)


# --------------------------------------------------------------------------------------------
# the state and the pass


def test_state_size_does_not_grow_with_the_rows() -> None:
    rng = np.random.default_rng(0)
    base = pd.DataFrame(
        {"w": rng.choice(WORDS, 100), "n": rng.integers(0, 7, 100), "f": rng.random(100) < 0.5}
    )
    big = pd.concat([base] * 10, ignore_index=True)
    small_state = count_partition_categories(base, slice(0, 100), (0,), cap=100)
    big_state = count_partition_categories(big, slice(0, 1000), (0,), cap=100)
    assert small_state is not None
    assert big_state is not None
    assert big_state.nbytes == small_state.nbytes
    # The formula: per column, k distinct values of b bytes and k counts of 8 bytes; a
    # Python object's b is its pointer (8) and the object itself.
    expected = 0
    for u in small_state.uniques:
        b = [8 + sys.getsizeof(v) for v in u] if u.dtype == object else [u.itemsize] * len(u)
        expected += sum(b) + 8 * len(u)
    assert small_state.nbytes == expected
    assert [len(u) for u in small_state.uniques] == [6, 7, 2]
    # What travels to the merge tasks: the same bytes, whatever the rows.
    assert len(pickle.dumps(big_state)) <= len(pickle.dumps(small_state)) + 16
    assert len(pickle.dumps(big_state)) < small_state.nbytes + 1000


READS: Counter[int] = Counter()
READS_LOCK = threading.Lock()
SMALL = pd.DataFrame({"a": list("abcabcab"), "b": [1, 2, 1, 2, 1, 2, 1, 2]})


def read_piece(i: int) -> pd.DataFrame:
    """Partition ``i`` of :data:`SMALL`, counting the reads."""
    with READS_LOCK:
        READS[i] += 1
    return SMALL.iloc[2 * i : 2 * i + 2]


def test_fit_reads_each_partition_once_and_counts_no_rows_apart() -> None:
    READS.clear()
    reads, df = READS, SMALL
    X = dd.from_map(read_piece, range(4), meta=df.iloc[:0], enforce_metadata=False)
    with StageCounter() as counter:
        enc = dp.OneHotEncoder(sparse_output=False, split_every=2)
        out = enc.fit_transform(X)
    stages = counter.stages
    assert dict(reads) == {0: 1, 1: 1, 2: 1, 3: 1}
    assert stages["encoder-block"] == 4
    assert stages["encoder-merge"] == 3
    assert stages["encoder-final"] == 1
    assert "count-block" not in stages  # fit_transform reuses the lengths the fit saw
    assert out.chunks == ((2, 2, 2, 2), (5,))
    same_values(out.compute(), skp.OneHotEncoder(sparse_output=False).fit_transform(df))


def test_sparse_blocks_and_lazy_names() -> None:
    df = pd.DataFrame({"a": list("abcab"), "b": list("xyxyx")})
    X = dd.from_pandas(df, npartitions=2)
    enc = dp.OneHotEncoder().fit(X)
    out = enc.transform(X)
    assert sparse.issparse(out._meta)
    assert out.dtype == np.float64
    assert key_split(out.name) in {"concatenate", "encode"}
    same_values(out.compute(), skp.OneHotEncoder().fit(df).transform(df))
    Xa = da.from_array(df.to_numpy(), chunks=(2, -1))
    assert key_split(dp.OneHotEncoder().fit(Xa).transform(Xa).name) == "encode"


def test_set_output_pandas_gives_a_lazy_dask_dataframe() -> None:
    df = pd.DataFrame({"a": list("abcab"), "n": [3, 1, 3, 2, 1]}, index=range(10, 15))
    X = dd.from_pandas(df, npartitions=2)
    enc = dp.OneHotEncoder(sparse_output=False).set_output(transform="pandas").fit(X)
    out = enc.transform(X)
    assert isinstance(out, dd.DataFrame)
    expected = skp.OneHotEncoder(sparse_output=False).set_output(transform="pandas").fit(df)
    pd.testing.assert_frame_equal(out.compute(), expected.transform(df))
    assert list(out.columns) == list(enc.get_feature_names_out())
    with pytest.raises(dp.InputError, match="Pandas output does not support sparse data"):
        dp.OneHotEncoder().set_output(transform="pandas").fit(X).transform(X)


def test_in_memory_input_goes_to_sklearn_and_columns_by_name() -> None:
    df = pd.DataFrame({"a": list("abca"), "b": [1, 2, 1, 1]})
    ours, theirs = dp.OrdinalEncoder().fit(df), skp.OrdinalEncoder().fit(df)
    same_fit(ours, theirs)
    same_values(ours.transform(df[["b", "a"]]), theirs.transform(df))
    X = dd.from_pandas(df, npartitions=2)
    same_values(dp.OrdinalEncoder().fit(X).transform(X[["b", "a"]]).compute(), theirs.transform(df))


def test_fit_plan_fits_pandas_partitions_and_array_blocks() -> None:
    df = pd.DataFrame({"a": list("abcab"), "b": [1.0, np.nan, 1.0, 2.0, 1.0]})
    enc = dp.OneHotEncoder(min_frequency=2)
    plan = enc._fit_plan()
    states = [plan.partition_state(df.iloc[:2], (slice(0, 2),), (0,))]
    states.append(plan.partition_state(df.iloc[2:], (slice(0, 3),), (1,)))
    enc._set_fitted(plan.attributes(states[0].combine(states[1])), df)
    same_fit(enc, skp.OneHotEncoder(min_frequency=2).fit(df))


# --------------------------------------------------------------------------------------------
# in a pipeline


@pytest.mark.parametrize(
    "encoder",
    [
        lambda: dp.OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1),
        lambda: dp.OneHotEncoder(sparse_output=False, handle_unknown="ignore"),
    ],
)
def test_pipeline_trains_on_string_columns(encoder: Any) -> None:
    rng = np.random.default_rng(3)
    n = 400
    df = pd.DataFrame(
        {
            "colour": rng.choice(["red", "green", "blue", "teal"], n),
            "shape": rng.choice(["round", "square", "long"], n),
        }
    )
    y = ((df["colour"] == "red") | (df["shape"] == "long")).to_numpy().astype(int)
    train, test = df.iloc[:300], df.iloc[300:].copy()
    test.iloc[0, 0] = "mauve"  # unknown at prediction time
    X = dd.from_pandas(train, npartitions=3)
    model = dp.ParallelIncremental(SGDClassifier(random_state=0), random_state=0)
    pipe = make_pipeline(encoder(), model).fit(X, y[:300], parallelincremental__classes=[0, 1])
    predicted = pipe.predict(dd.from_pandas(test, npartitions=2)).compute()

    # The same model fed scikit-learn's encoding of the same rows, fitted in memory.
    sk_encoder = encoder()
    base = skp.OneHotEncoder if isinstance(sk_encoder, dp.OneHotEncoder) else skp.OrdinalEncoder
    params = {k: v for k, v in sk_encoder.get_params().items() if k != "split_every"}
    sk_enc = base(**params).fit(train)
    Xt = da.from_array(sk_enc.transform(train), chunks=(pipe[0].transform(X).chunks[0], -1))
    same_values(pipe[0].transform(X).compute(), sk_enc.transform(train))
    reference = dp.ParallelIncremental(SGDClassifier(random_state=0), random_state=0)
    reference.fit(Xt, y[:300], classes=[0, 1])
    np.testing.assert_array_equal(predicted, reference.predict(sk_enc.transform(test)))
    np.testing.assert_array_equal(pipe[-1].estimator_.coef_, reference.estimator_.coef_)


# --------------------------------------------------------------------------------------------
# the rest of the estimator


def test_empty_input_is_refused_as_sklearn_does() -> None:
    df = pd.DataFrame({"a": pd.Series([], dtype=object)})
    with pytest.raises(dp.InputError, match=r"Found array with 0 sample\(s\)"):
        dp.OrdinalEncoder().fit(frame_partitions(df, (0, 0)))
    with pytest.raises(dp.InputError, match=r"Found array with 0 sample\(s\)"):
        dp.OneHotEncoder().fit(da.zeros((0, 2), chunks=(1, -1)))


def test_saved_and_loaded_encoder_encodes_the_same(tmp_path: Any) -> None:
    df = pd.DataFrame({"a": list("abcab"), "n": [1, 2, 1, 2, 3]})
    X = dd.from_pandas(df, npartitions=2)
    for enc in (dp.OneHotEncoder(min_frequency=2), dp.OrdinalEncoder(max_categories=2)):
        enc.fit(X)
        enc.save(tmp_path / "encoder.skops")
        loaded = dp.load(tmp_path / "encoder.skops", allow_unsigned=True)
        assert type(loaded) is type(enc)
        same_fit(loaded, enc)
        same_values(loaded.transform(X).compute(), enc.transform(df))
