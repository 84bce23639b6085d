"""docs/bad-input.md, row by row: every bad input and what it gets.

Each row of the table has an id (``B07``) and a test: here, a ``test_b07_...`` function, or
an existing test elsewhere whose node id the row gives. ``test_table_and_tests_agree`` keeps
the table and the tests from drifting apart. A row that showed a bug not fixed yet would be a
strict ``xfail`` test whose reason says what the fix is.
"""

from __future__ import annotations

import ast
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click
import dask
import dask.array as da
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import zarr
from click.testing import CliRunner, Result
from dask.array.core import PerformanceWarning
from daskpar_testing import as_dask, no_task_runs
from sklearn.base import clone
from sklearn.datasets import make_classification
from sklearn.linear_model import SGDClassifier
from sklearn.naive_bayes import GaussianNB
from sklearn.preprocessing import StandardScaler

import daskpar as dp
from daskpar._cli import main
from daskpar._cli._options import PathOrURL
from daskpar.data import check_blocks, read_path

ROOT = Path(__file__).resolve().parents[1]
TABLE = ROOT / "docs" / "bad-input.md"

#: A table row: | B07 | input | what happens | `tests/file.py::test_name` |
ROW = re.compile(r"^\|\s*(B\d{2})\s*\|.*\|\s*`(tests/[\w/]+\.py)::(\w+)`\s*\|\s*$")


# --------------------------------------------------------------------------------------------
# The table and the tests


def table_rows() -> dict[str, tuple[str, str]]:
    """Row id -> (test file, test function), from docs/bad-input.md."""
    rows: dict[str, tuple[str, str]] = {}
    for line in TABLE.read_text().splitlines():
        match = ROW.match(line)
        if match:
            row, path, name = match.groups()
            assert row not in rows, f"{row} is in the table twice"
            rows[row] = (path, name)
    return rows


def functions_in(path: Path) -> set[str]:
    """Names of the test functions defined at the top level of ``path``."""
    tree = ast.parse(path.read_text(), filename=str(path))
    return {
        node.name
        for node in tree.body
        if isinstance(node, ast.FunctionDef) and node.name.startswith("test_")
    }


def test_table_and_tests_agree() -> None:
    rows = table_rows()
    table_lines = [ln for ln in TABLE.read_text().splitlines() if re.match(r"^\|\s*B\d", ln)]
    assert len(rows) == len(table_lines), "a table row does not name its test as `file::name`"
    here = Path(__file__).relative_to(ROOT).as_posix()
    by_id = {
        name.split("_")[1].upper(): name
        for name in functions_in(Path(__file__))
        if re.match(r"test_b\d{2}_", name)
    }
    # Every row tested here has its test, and every test here has its row.
    assert {row for row, (path, _) in rows.items() if path == here} == set(by_id)
    for row, (path, name) in rows.items():
        if path == here:
            assert name == by_id[row], f"{row} names {name}, but its test is {by_id[row]}"
        else:
            # A row pointing elsewhere names a test that exists.
            assert (ROOT / path).is_file(), f"{row}: no file {path}"
            assert name in functions_in(ROOT / path), f"{row}: no test {path}::{name}"


# --------------------------------------------------------------------------------------------
# Helpers


@pytest.fixture(scope="module")
def small() -> tuple[np.ndarray, np.ndarray]:
    """3000 rows of 12 features, two classes."""
    X, y = make_classification(
        n_samples=3000, n_features=12, n_informative=6, n_redundant=2, random_state=0
    )
    return X, y


def fit(X: Any, y: Any, estimator: Any = None, **params: Any) -> dp.ParallelIncremental:
    estimator = SGDClassifier(random_state=0) if estimator is None else estimator
    return dp.ParallelIncremental(estimator, random_state=0, **params).fit(X, y)


def store_with_chunks(path: Path, X: np.ndarray, y: np.ndarray, rows: int) -> None:
    group = zarr.open_group(path, mode="w")
    group.create_array("X", data=X, chunks=(rows, X.shape[1]))
    group.create_array("y", data=y, chunks=(rows,))


# --------------------------------------------------------------------------------------------
# Arrays and their chunks


def test_b02_unknown_chunk_sizes_from_boolean_masking(
    small: tuple[np.ndarray, np.ndarray],
) -> None:
    X, y = small
    Xd, yd = as_dask(X, y, 500)
    keep = Xd[:, 0] > 0
    with no_task_runs(), pytest.raises(dp.InputError, match=r"unknown chunk sizes \(NaN\)"):
        fit(Xd[keep], yd[keep])
    # The fix the message gives works, and gives the in-memory model of the kept rows.
    Xk, yk = Xd[keep], yd[keep]
    Xk.compute_chunk_sizes()
    yk.compute_chunk_sizes()
    model = fit(Xk, yk, GaussianNB())
    ref = GaussianNB().fit(X[X[:, 0] > 0], y[X[:, 0] > 0])
    np.testing.assert_allclose(model.estimator_.theta_, ref.theta_, rtol=1e-12)
    np.testing.assert_allclose(model.estimator_.var_, ref.var_, rtol=1e-12)


def filtered(
    X: np.ndarray, y: np.ndarray
) -> tuple[tuple[da.Array, da.Array], tuple[da.Array, da.Array]]:
    """The data with the rows of its second block filtered out, and the same rows without
    the empty block: ((X, y) with chunks (1000, 0, 1000), (X, y) with chunks (1000, 1000))."""
    Xd, yd = as_dask(X, y, 1000)
    keep = np.ones(len(y), bool)
    keep[1000:2000] = False
    mask = da.from_array(keep, chunks=1000)
    Xf, yf = Xd[mask], yd[mask]
    Xf.compute_chunk_sizes()
    yf.compute_chunk_sizes()
    assert Xf.chunks[0] == yf.chunks[0] == (1000, 0, 1000)
    return (Xf, yf), as_dask(X[keep], y[keep], 1000)


def test_b07_zero_row_block_from_filtering(small: tuple[np.ndarray, np.ndarray]) -> None:
    X, y = small
    with_empty, without = filtered(X, y)
    # Exact families: bit for bit, and scikit-learn's in-memory model of the kept rows.
    a, b = fit(*with_empty, GaussianNB()).estimator_, fit(*without, GaussianNB()).estimator_
    np.testing.assert_array_equal(a.theta_, b.theta_)
    np.testing.assert_array_equal(a.var_, b.var_)
    np.testing.assert_array_equal(a.class_count_, b.class_count_)
    ref = GaussianNB().fit(np.delete(X, np.s_[1000:2000], 0), np.delete(y, np.s_[1000:2000]))
    np.testing.assert_allclose(a.theta_, ref.theta_, rtol=1e-12)
    # Averaged SGD without shuffling: the empty block has weight zero, the model is the same.
    for estimator in (SGDClassifier(random_state=0), dp.AdaptiveSGDClassifier()):
        a = fit(*with_empty, estimator, epochs=2, shuffle=False).estimator_
        b = fit(*without, estimator, epochs=2, shuffle=False).estimator_
        np.testing.assert_array_equal(a.coef_, b.coef_)
        np.testing.assert_array_equal(a.intercept_, b.intercept_)


def test_b08_zero_row_block_with_shuffling(small: tuple[np.ndarray, np.ndarray]) -> None:
    X, y = small
    with_empty, without = filtered(X, y)
    a, b = fit(*with_empty).estimator_, fit(*without).estimator_
    np.testing.assert_array_equal(a.coef_, b.coef_)


def test_b09_thousand_tiny_partitions() -> None:
    X, y = make_classification(n_samples=20_000, n_features=12, n_informative=6, random_state=1)

    def one_epoch(parts: int) -> tuple[dp.ParallelIncremental, float]:
        Xd, yd = as_dask(X, y, len(y) // parts)
        assert Xd.numblocks[0] == parts
        model = dp.ParallelIncremental(SGDClassifier(random_state=0), epochs=1, random_state=0)
        start = time.perf_counter()
        model.fit(Xd, yd, classes=[0, 1])
        return model, time.perf_counter() - start

    one_epoch(10)  # imports and first calls, out of the timings
    few, few_seconds = one_epoch(10)
    with pytest.warns(PerformanceWarning, match=r"1000 blocks of 20 rows.*X\.rechunk"):
        many, many_seconds = one_epoch(1000)
    # It works: as accurate as 10 partitions, and the exact families are still exact.
    assert many.score(X, y) > few.score(X, y) - 0.02
    with pytest.warns(PerformanceWarning):
        nb = fit(*as_dask(X, y, 20), GaussianNB()).estimator_
    np.testing.assert_allclose(nb.theta_, GaussianNB().fit(X, y).theta_, rtol=1e-10)
    print(
        f"\nB09: one epoch of SGDClassifier on 20,000 x 12 rows, {dask.config.get('scheduler')} "
        f"scheduler: 1000 partitions of 20 rows {many_seconds:.2f} s, 10 partitions of 2000 "
        f"rows {few_seconds:.3f} s ({many_seconds / few_seconds:.0f}x)"
    )


def test_b10_split_every_larger_than_the_partitions(small: tuple[np.ndarray, np.ndarray]) -> None:
    X, y = small
    Xd, yd = as_dask(X, y, 500)  # 6 partitions
    wide = fit(Xd, yd, GaussianNB(), split_every=100).estimator_
    ref = GaussianNB().fit(X, y)
    np.testing.assert_allclose(wide.theta_, ref.theta_, rtol=1e-12)
    np.testing.assert_allclose(wide.var_, ref.var_, rtol=1e-12)
    narrow = fit(Xd, yd, GaussianNB(), split_every=2).estimator_
    np.testing.assert_allclose(wide.theta_, narrow.theta_, rtol=1e-12)
    sgd_wide = fit(Xd, yd, split_every=100).estimator_
    sgd_narrow = fit(Xd, yd, split_every=2).estimator_
    np.testing.assert_allclose(sgd_wide.coef_, sgd_narrow.coef_, rtol=1e-12)


# --------------------------------------------------------------------------------------------
# Types


def test_b13_numeric_strings_are_refused(small: tuple[np.ndarray, np.ndarray]) -> None:
    X, y = small
    X, y = X[:200], y[:200]
    text = X.astype(str).astype(object)  # "0.123...", as a text column gives them
    # scikit-learn would convert them to floats; daskpar refuses, before any task runs.
    SGDClassifier().fit(text, y)
    for given in (text, X.astype(str), pd.DataFrame(text)):
        with no_task_runs(), pytest.raises(dp.InputError, match=r"X holds strings \(such as '"):
            fit(given, y)
    target = X[:, 0].astype(str).astype(object)
    with pytest.raises(dp.InputError, match=r"y holds strings"):
        dp.LinearRegression().fit(X, target)
    with pytest.raises(dp.InputError, match="numeric dtype; got dtype object"):
        fit(da.from_array(text, chunks=(100, -1)), da.from_array(y, chunks=100))
    # Numbers in an object array are numbers, as in scikit-learn.
    model = fit(X.astype(object), y)
    np.testing.assert_array_equal(model.estimator_.coef_, fit(X, y).estimator_.coef_)


def test_b14_numeric_strings_to_predict(small: tuple[np.ndarray, np.ndarray]) -> None:
    X, y = small
    model = fit(X, y)
    text = X.astype(str).astype(object)
    calls = {
        "predict": lambda: model.predict(text),
        "predict_proba": lambda: fit(X, y, GaussianNB()).predict_proba(text),
        "decision_function": lambda: model.decision_function(text),
        "score": lambda: model.score(text, y),
        "Ridge.predict": lambda: dp.Ridge(alpha=1.0).fit(*as_dask(X, y, 500)).predict(text),
        "Ridge.score": lambda: dp.Ridge(alpha=1.0).fit(*as_dask(X, y, 500)).score(text, y),
    }
    for scaler in (dp.StandardScaler(), dp.MinMaxScaler(), dp.MaxAbsScaler()):
        fitted = scaler.fit(as_dask(X, y, 500)[0])
        name = type(scaler).__name__
        calls[f"{name}.transform"] = lambda fitted=fitted: fitted.transform(text)
        calls[f"{name}.inverse_transform"] = lambda fitted=fitted: fitted.inverse_transform(text)
        calls[f"{name}.partial_fit"] = lambda fitted=fitted: fitted.partial_fit(text)
        calls[f"{name}.fit"] = lambda scaler=scaler: clone(scaler).fit(text)
    for name, call in calls.items():
        with pytest.raises(dp.InputError, match="X holds strings"):  # noqa: PT012
            call()
            pytest.fail(f"{name} took numeric strings")


def test_b15_complex_X(small: tuple[np.ndarray, np.ndarray]) -> None:
    X, y = small
    Xd, yd = as_dask(X.astype(np.complex128), y, 1000)
    with no_task_runs(), pytest.raises(dp.InputError, match="complex dtype complex128"):
        fit(Xd, yd)


@pytest.mark.parametrize("dtype", [np.float16, np.int64, np.uint8, np.bool_])
def test_b16_float16_integer_and_boolean_X(
    small: tuple[np.ndarray, np.ndarray], dtype: type[np.generic]
) -> None:
    X, y = small
    X_typed = (X * 8).astype(dtype) if dtype is not np.bool_ else X > 0
    Xd, yd = as_dask(X_typed, y, 1000)
    model = fit(Xd, yd).estimator_
    # Trained as float64: the model of X.astype(np.float64), with scikit-learn's dtype.
    as_float = fit(Xd.astype(np.float64), yd).estimator_
    np.testing.assert_array_equal(model.coef_, as_float.coef_)
    assert model.coef_.dtype == SGDClassifier().fit(X_typed, y).coef_.dtype == np.float64
    nb = fit(Xd, yd, GaussianNB()).estimator_
    ref = GaussianNB().fit(X_typed.astype(np.float64), y)
    np.testing.assert_allclose(nb.theta_, ref.theta_, rtol=1e-10)
    assert nb.theta_.dtype == np.float64
    assert fit(Xd, yd).predict(Xd).compute().dtype == y.dtype


def test_b17_float32_and_float64_concatenated(small: tuple[np.ndarray, np.ndarray]) -> None:
    X, y = small
    X32 = X.astype(np.float32)
    joined = da.concatenate(
        [da.from_array(X32[:1500], chunks=(500, -1)), da.from_array(X[1500:], chunks=(500, -1))]
    )
    yd = da.from_array(y, chunks=500)
    # dask promotes the blocks to float64, the dtype of the array: a float64 model.
    assert joined.dtype == np.float64
    model = fit(joined, yd).estimator_
    assert model.coef_.dtype == np.float64
    promoted = np.concatenate([X32[:1500].astype(np.float64), X[1500:]])
    np.testing.assert_array_equal(
        model.coef_, fit(da.from_array(promoted, chunks=(500, -1)), yd).estimator_.coef_
    )
    # float32 data gives a float32 model, as scikit-learn's SGDClassifier does.
    model32 = fit(da.from_array(X32, chunks=(500, -1)), yd).estimator_
    assert model32.coef_.dtype == SGDClassifier().fit(X32, y).coef_.dtype == np.float32


def test_b18_blocks_whose_dtype_is_not_the_arrays(small: tuple[np.ndarray, np.ndarray]) -> None:
    X, y = small

    def every_other_float32(block: np.ndarray, block_info: Any = None) -> np.ndarray:
        first = block_info is not None and block_info[0]["chunk-location"][0] % 2 == 0
        return block.astype(np.float32) if first else block

    Xd, yd = as_dask(X, y, 500)
    lying = Xd.map_blocks(every_other_float32, dtype=np.float64)
    assert lying.dtype == np.float64
    assert lying.blocks[0].compute().dtype == np.float32
    assert fit(lying, yd).estimator_.coef_.dtype == np.float64
    # Floats declared as integers would lose their values (and NaN would pass as a number).
    with_nan = X.copy()
    with_nan[700, 1] = np.nan
    floats_said_ints = as_dask(with_nan, y, 500)[0].map_blocks(lambda b: b, dtype=np.int64)
    for call in (
        lambda: fit(floats_said_ints, yd),
        lambda: dp.StandardScaler().fit(floats_said_ints),
    ):
        with pytest.raises(
            dp.PartitionError,
            match=r"partition \d+ \(rows \d+ to \d+\) of X has dtype float64, but X says int64",
        ):
            call()


# --------------------------------------------------------------------------------------------
# Labels


LABELS = {
    "str": lambda y: np.array(["cat", "dog", "eel"])[y],
    "object-str": lambda y: np.array(["cat", "dog", "eel"], dtype=object)[y],
    "float": lambda y: y.astype(np.float64) * 2.0,
    "bool": lambda y: y == 1,
}


@pytest.mark.parametrize("kind", sorted(LABELS))
def test_b23_string_boolean_and_float_labels(
    multiclass: tuple[np.ndarray, np.ndarray], kind: str
) -> None:
    X, y = multiclass
    X, labels = X[:2000], LABELS[kind](y[:2000] % 3)
    ref = SGDClassifier(random_state=0).fit(X, labels)  # scikit-learn takes them
    model = fit(*as_dask(X, labels, 500))
    np.testing.assert_array_equal(model.classes_, ref.classes_)
    # The labels' own dtype: scikit-learn makes Python strings a numpy string array.
    assert model.classes_.dtype == (labels.dtype if kind == "object-str" else ref.classes_.dtype)
    predicted = model.predict(da.from_array(X, chunks=(500, -1))).compute()
    assert set(np.unique(predicted)) <= set(ref.classes_)
    assert model.score(*as_dask(X, labels, 500)) > 0.5


@pytest.mark.parametrize(
    "estimator", [SGDClassifier(), GaussianNB()], ids=lambda e: type(e).__name__
)
def test_b24_float_labels_that_are_not_whole_numbers(
    small: tuple[np.ndarray, np.ndarray], estimator: Any
) -> None:
    X, y = small
    halves = y + 0.5
    with pytest.raises(ValueError, match="Unknown label type"):
        type(estimator)().fit(X, halves)  # as scikit-learn refuses them
    Xd, yd = as_dask(X, halves, 1000)
    with pytest.raises(
        dp.PartitionError,
        match=r"not whole numbers in partition \d \(rows \d+ to \d+\), first [01]\.5 at row \d+ "
        r"\(Unknown label type: continuous\)",
    ):
        fit(Xd, yd, estimator)
    with pytest.raises(dp.PartitionError, match="not whole numbers"):
        check_blocks(Xd, yd, labels=True)


# --------------------------------------------------------------------------------------------
# Files and stores


def test_b30_missing_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope"
    calls = {
        "read_zarr": lambda: dp.read_zarr(missing.with_suffix(".zarr")),
        "read_npy": lambda: dp.read_npy(missing.with_suffix(".npy")),
        "read_hdf5": lambda: dp.read_hdf5(missing.with_suffix(".h5")),
        "read_parquet": lambda: dp.read_parquet(missing.with_suffix(".parquet"), target="t"),
        "read_csv": lambda: dp.read_csv(missing.with_suffix(".csv"), target="t"),
        "read_path": lambda: read_path(missing.with_suffix(".csv"), target="t"),
    }
    for name, call in calls.items():
        with pytest.raises(dp.InputError, match=rf"{name}: no such file or directory: '.*nope"):
            call()
    np.save(tmp_path / "X.npy", np.ones((10, 2)))
    with pytest.raises(dp.InputError, match=r"read_npy: no such file or directory: '.*nope.npy'"):
        dp.read_npy(tmp_path / "X.npy", missing.with_suffix(".npy"))


def test_b31_missing_store_key_dataset_or_column(tmp_path: Path) -> None:
    import h5py

    X, y = np.ones((20, 2)), np.arange(20) % 2
    store_with_chunks(tmp_path / "d.zarr", X, y, 10)
    with pytest.raises(dp.InputError, match=r"no array 'nope' in .*; its arrays are \['X', 'y'\]"):
        dp.read_zarr(tmp_path / "d.zarr", x="nope")
    with pytest.raises(dp.InputError, match=r"no array 'nope'"):
        dp.read_zarr(tmp_path / "d.zarr", y="nope")
    with h5py.File(tmp_path / "d.h5", "w") as f:
        f.create_dataset("X", data=X)
    with pytest.raises(dp.InputError, match=r"no dataset 'y' in .*; its datasets are \['X'\]"):
        dp.read_hdf5(tmp_path / "d.h5")
    pd.DataFrame({"a": X[:, 0], "label": y}).to_csv(tmp_path / "d.csv", index=False)
    with pytest.raises(dp.InputError, match=r"no target column 'nope' .*\['a', 'label'\]"):
        dp.read_csv(tmp_path / "d.csv", target="nope")
    with pytest.raises(dp.InputError, match=r"no column\(s\) \['b'\]"):
        dp.read_csv(tmp_path / "d.csv", target="label", columns=["b"])


def test_b33_file_that_is_not_its_format(tmp_path: Path) -> None:
    (tmp_path / "g.parquet").write_bytes(b"not parquet at all")
    (tmp_path / "g.h5").write_bytes(b"not hdf5 at all")
    with pytest.raises(dp.InputError, match=r"cannot read '.*g\.parquet' as Parquet"):
        dp.read_parquet(tmp_path / "g.parquet", target="t")
    with pytest.raises(dp.InputError, match=r"cannot open '.*g\.h5' as HDF5"):
        dp.read_hdf5(tmp_path / "g.h5")
    (tmp_path / "g.zarr").mkdir()
    with pytest.raises(dp.InputError, match=r"is not a zarr group"):
        dp.read_zarr(tmp_path / "g.zarr")


def test_b34_npy_file_that_is_not_one(tmp_path: Path) -> None:
    (tmp_path / "g.npy").write_bytes(b"not numpy at all")
    with pytest.raises(dp.InputError, match=r"is not a \.npy file") as info:
        dp.read_npy(tmp_path / "g.npy")
    assert "allow_pickle" not in str(info.value)


def corrupt_store(path: Path) -> np.ndarray:
    """A store of 1000 x 4 in chunks of 250 rows, whose chunk of rows 250 to 499 is garbage."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(1000, 4))
    dp.write_zarr(path, da.from_array(X, chunks=(250, 4)), da.from_array(X[:, 0] > 0, chunks=250))
    (path / "X" / "c" / "1" / "0").write_bytes(b"garbage, as after a partial copy")
    return X


def test_b39_corrupted_zarr_chunk(tmp_path: Path) -> None:
    corrupt_store(tmp_path / "d.zarr")
    X, _ = dp.read_zarr(tmp_path / "d.zarr")  # the chunk file is there: not seen at read time
    with pytest.raises(dp.PartitionError, match=r"c/1/0 of array 'X'.*rows 250 to 499"):
        X.compute()


def test_b40_parquet_with_nulls(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(1000, 2))
    y = (X[:, 0] > 0).astype(np.int64)
    null = np.zeros(1000, bool)
    null[600] = True
    table = pa.table({"a": X[:, 0], "b": pa.array(X[:, 1], mask=null), "label": y})
    pq.write_table(table, tmp_path / "d.parquet", row_group_size=250)
    Xr, yr = dp.read_parquet(tmp_path / "d.parquet", target="label")
    # Nulls are read as NaN ...
    got = Xr.compute()
    assert np.isnan(got[600, 1])
    assert np.isnan(got).sum() == 1
    # ... which no model takes, and the error names the row of the file.
    message = r"X holds NaN in partition 2 \(rows 500 to 749\), first at row 600"
    with pytest.raises(dp.PartitionError, match=message):
        fit(Xr, yr)
    with pytest.raises(dp.PartitionError, match=message):
        check_blocks(Xr, yr, labels=True)
    # The scalers ignore NaN, as scikit-learn's do.
    with_nan = X.copy()
    with_nan[600, 1] = np.nan
    np.testing.assert_allclose(
        dp.StandardScaler().fit(Xr).mean_, StandardScaler().fit(with_nan).mean_, rtol=1e-12
    )


def test_b42_non_numeric_column(tmp_path: Path) -> None:
    frame = pd.DataFrame(
        {"a": [1.0, 2.0, 3.0], "city": ["Paris", "Rome", "Oslo"], "label": [0, 1, 0]}
    )
    frame.to_csv(tmp_path / "d.csv", index=False)
    frame.to_parquet(tmp_path / "d.parquet", index=False)
    for path, reader in (
        (tmp_path / "d.csv", dp.read_csv),
        (tmp_path / "d.parquet", dp.read_parquet),
    ):
        with pytest.raises(
            dp.InputError,
            match=r"feature column\(s\) 'city' \(\w+\) of .* are not numeric.*columns=",
        ):
            reader(path, target="label")
        # The fix the message gives: name the numeric columns.
        X, y = reader(path, target="label", columns=["a"])
        np.testing.assert_array_equal(X.compute(), [[1.0], [2.0], [3.0]])
        np.testing.assert_array_equal(y.compute(), [0, 1, 0])


# --------------------------------------------------------------------------------------------
# The command line


@pytest.fixture(scope="module")
def scheduler() -> Iterator[str]:
    """A cluster in this process, for the commands that get as far as connecting to one."""
    from distributed import LocalCluster

    # A plain in-process cluster, not conftest's local_cluster (which silences distributed's
    # logging while it runs): the commands run here in this process set those loggers too.
    with LocalCluster(
        n_workers=1, threads_per_worker=1, processes=False, dashboard_address="127.0.0.1:0"
    ) as cluster:
        yield cluster.scheduler_address


@pytest.fixture(scope="module")
def cli_data(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """A zarr store and a CSV file to give the commands, and a file where a folder is due."""
    tmp = tmp_path_factory.mktemp("cli")
    X, y = make_classification(n_samples=400, n_features=4, random_state=0)
    store_with_chunks(tmp / "d.zarr", X, y, 100)
    frame = pd.DataFrame(X, columns=["a", "b", "c", "d"])
    frame["label"] = y
    frame.to_csv(tmp / "d.csv", index=False)
    (tmp / "file.txt").write_text("a file, not a folder\n")
    model = dp.ParallelIncremental(SGDClassifier(random_state=0), random_state=0)
    with dask.config.set(scheduler="sync"):
        model.fit(*dp.read_zarr(tmp / "d.zarr"))
    dp.save(model, tmp / "model.dp", key=None)  # unsigned: the commands get --allow-unsigned
    return {
        "model": str(tmp / "model.dp"),
        "tmp": str(tmp),
        "zarr": str(tmp / "d.zarr"),
        "csv": str(tmp / "d.csv"),
        "file": str(tmp / "file.txt"),
    }


def all_cli_parameters() -> list[tuple[str, str]]:
    """(command, long option or argument name) for every parameter of every command, and of
    the group itself, from ``daskpar._cli.main``: new options are covered as they come."""
    out = []
    for name, command in {"": main, **main.commands}.items():
        context = click.Context(command, info_name=name or "daskpar")
        for param in command.get_params(context):
            if isinstance(param, click.Argument):
                out.append((name, param.human_readable_name))
            else:
                out += [(name, o) for o in (*param.opts, *param.secondary_opts) if o[:2] == "--"]
    return out


def find_parameter(command: str, word: str) -> click.Parameter:
    cmd = main if not command else main.commands[command]
    for param in cmd.get_params(click.Context(cmd)):
        if word in (param.human_readable_name, *param.opts, *param.secondary_opts):
            return param
    raise LookupError(word)


#: The commands' arguments and options when they are right, so that one wrong value is the only
#: thing wrong. Small enough that a command whose wrong value went unnoticed finishes quickly.
RIGHT: dict[str, tuple[dict[str, str], dict[str, str | None]]] = {
    "": ({}, {}),
    "make-data": (
        {"out": "{tmp}/new.zarr"},
        {"--rows": "100", "--features": "4", "--chunk-rows": "50"},
    ),
    "train": ({"data": "{zarr}"}, {"--epochs": "1", "--scheduler": "{scheduler}"}),
    "info": ({"paths": "{zarr}"}, {"--scheduler": "{scheduler}"}),
    "search": (
        {"data": "{zarr}"},
        {
            "--grid": '{{"alpha": [0.001]}}',
            "--epochs": "1",
            "--cv": "2",
            "--scheduler": "{scheduler}",
        },
    ),
    "demo": (
        {},
        {
            "--rows": "1000",
            "--features": "2",
            "--chunk-rows": "500",
            "--epochs": "1",
            "--data-dir": "{tmp}/demo",
            "--scheduler": "{scheduler}",
        },
    ),
    # None: a flag, given without a value.
    "score": (
        {"model_file": "{model}", "data": "{zarr}"},
        {"--allow-unsigned": None, "--scheduler": "{scheduler}"},
    ),
    "predict": (
        {"model_file": "{model}", "data": "{zarr}"},
        {"--out": "{tmp}/predictions.zarr", "--allow-unsigned": None, "--scheduler": "{scheduler}"},
    ),
    "certs": ({"directory": "{tmp}/certs"}, {}),
    "audit": ({}, {}),
}

#: Wrong values of the options that take any text (and of any option whose type does not say
#: what is wrong for it): (value, the DATA to give with it).
WRONG_VALUES: dict[str, tuple[str, str | None]] = {
    "--x": ("nope", "{zarr}"),
    "--y": ("nope", "{zarr}"),
    "--target": ("nope", "{csv}"),
    "--one-hot": ("nope", None),
    "--ordinal": ("nope", None),
    "--interactions": ("nope", None),
    "--grid": ("{{oops", None),
    "--scoring": ("nope", None),
    "--scheduler": ("nonsense", None),
    "--host": ("not a host!", None),
    "--config-dir": ("relative/certs", None),
    "--pca": ("all", None),
    "PATHS": ("{tmp}/no-such-data", None),
}


def wrong_value(command: str, word: str) -> tuple[str, str | None]:
    """A wrong value for ``word``, by its click type unless WRONG_VALUES has one, and the DATA
    to give with it (None: the command's usual DATA)."""
    if word in WRONG_VALUES:
        return WRONG_VALUES[word]
    param = find_parameter(command, word)
    kind = param.type
    if isinstance(param, click.Option) and param.is_flag:
        return "yes", None  # --flag=yes: flags take no value
    if isinstance(kind, click.Choice):
        return "no-such-choice", None
    if isinstance(kind, click.IntRange | click.FloatRange):
        low = kind.min
        if low is not None:
            return str(low if kind.min_open else low - 1), None
        assert kind.max is not None
        return str(kind.max if kind.max_open else kind.max + 1), None
    if isinstance(kind, click.types.IntParamType | click.types.FloatParamType):
        return "abc", None
    if isinstance(kind, PathOrURL):  # a local path is checked as click.Path checks it
        kind = kind._path
    if isinstance(kind, click.Path):
        if not kind.file_okay:
            return "{file}", None  # a file where a folder is due
        return "{tmp}/no-such-folder/data", None  # neither there to read nor to write into
    raise AssertionError(f"no wrong value for {word} of type {kind!r}: add one to WRONG_VALUES")


def invoke(args: list[str]) -> Result:
    return CliRunner().invoke(main, args)


def assert_one_line_error(result: Result, *named: str) -> str:
    """Exit status 1 or 2, no traceback, and one ``Error:`` line on stderr naming something of
    ``named``; click adds its two-line usage hint before it for status 2."""
    assert result.exit_code in (1, 2), (result.exit_code, result.output, result.exception)
    assert isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert lines, result.output
    *before, error = lines
    assert error.startswith("Error: "), lines
    assert all(line.startswith(("Usage: ", "Try ")) for line in before), lines
    assert any(n in error for n in named), (named, error)
    return error


@pytest.mark.parametrize(("command", "word"), all_cli_parameters(), ids=lambda v: v or "daskpar")
def test_b46_every_cli_option_given_a_wrong_value(
    command: str, word: str, cli_data: dict[str, str], scheduler: str
) -> None:
    fill = {**cli_data, "scheduler": scheduler}
    value, data = wrong_value(command, word)
    assert command in RIGHT, f"give the command {command!r} its right arguments in RIGHT"
    arguments, options = RIGHT[command]
    arguments = dict(arguments)
    options: dict[str, str | None] = {k: v for k, v in options.items() if k != word}
    if data is not None:
        arguments["data"] = data
    param = find_parameter(command, word)
    if isinstance(param, click.Argument):
        arguments[param.name or ""] = value
    else:
        options[word] = value
    args = [command] if command else []
    args += [v.format(**fill) for v in arguments.values()]
    args += [k if v is None else f"{k}={v.format(**fill)}" for k, v in options.items()]
    assert_one_line_error(invoke(args), word, value.format(**fill))


def test_b48_cli_on_a_corrupted_chunk(tmp_path: Path, scheduler: str) -> None:
    corrupt_store(tmp_path / "d.zarr")
    result = invoke(["train", str(tmp_path / "d.zarr"), "--epochs", "1", "--scheduler", scheduler])
    assert_one_line_error(result, "c/1/0")


# --------------------------------------------------------------------------------------------
# Nothing the user saved is overwritten or lost


def test_b49_make_data_keeps_an_existing_path(tmp_path: Path) -> None:
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "notes.txt").write_text("keep me\n")
    args = ["make-data", str(folder), "--rows", "100", "--features", "4", "--chunk-rows", "50"]
    error = assert_one_line_error(invoke(args), "exists; pass --overwrite to replace it")
    assert str(folder) in error
    assert (folder / "notes.txt").read_text() == "keep me\n"
    # An existing store is kept as well, and --overwrite replaces it, as asked.
    store = tmp_path / "d.zarr"
    assert invoke(["make-data", str(store), *args[2:]]).exit_code == 0
    before = dp.read_zarr(store)[0].compute()
    assert_one_line_error(invoke(["make-data", str(store), "--rows", "200"]), "--overwrite")
    np.testing.assert_array_equal(dp.read_zarr(store)[0].compute(), before)
    replaced = invoke(["make-data", str(folder), *args[2:], "--overwrite"])
    assert replaced.exit_code == 0, replaced.output
    assert dp.read_zarr(folder)[0].shape == (100, 4)


def test_b50_write_zarr_keeps_an_existing_path(tmp_path: Path) -> None:
    X, y = dp.make_classification(400, 5, chunks=100, random_state=0)
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "notes.txt").write_text("keep me\n")
    with pytest.raises(dp.InputError, match=r"'.*mine' already exists\. Pass overwrite=True"):
        dp.write_zarr(folder, X, y)
    assert sorted(p.name for p in folder.iterdir()) == ["notes.txt"]
    dp.write_zarr(tmp_path / "d.zarr", X, y)
    X2, y2 = dp.make_classification(400, 5, chunks=100, random_state=1)
    with pytest.raises(dp.InputError, match="already exists"):
        dp.write_zarr(tmp_path / "d.zarr", X2, y2)
    np.testing.assert_array_equal(dp.read_zarr(tmp_path / "d.zarr")[0].compute(), X.compute())


def test_b53_report_over_a_file_of_the_user(cli_data: dict[str, str], tmp_path: Path) -> None:
    mine = tmp_path / "mine.html"
    mine.write_text("<html>my notes</html>")
    args = ["train", cli_data["zarr"], "--epochs", "1", "--report", str(mine)]
    # Refused before the cluster starts: no --scheduler is needed to get this far.
    assert_one_line_error(invoke(args), "is not a Dask performance report")
    assert mine.read_text() == "<html>my notes</html>"


def test_b54_checkpoint_folder_of_the_user_or_of_another_run(
    cli_data: dict[str, str], tmp_path: Path, scheduler: str
) -> None:
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep me\n")
    train = ["train", cli_data["zarr"], "--epochs", "1", "--scheduler", scheduler]
    for overwrite in ([], ["--overwrite"]):
        result = invoke([*train, "--checkpoint", str(mine), *overwrite])
        assert_one_line_error(result, "holds files but no daskpar checkpoint")
    assert [p.name for p in mine.iterdir()] == ["notes.txt"]
    ours = tmp_path / "ours"
    assert invoke([*train, "--checkpoint", str(ours)]).exit_code == 0
    before = (ours / "checkpoint.skops").read_bytes()
    other = invoke(
        [*train[:-2], "--epochs", "2", "--scheduler", scheduler, "--checkpoint", str(ours)]
    )
    error = assert_one_line_error(other, "other parameters")
    assert "--overwrite starts over" in error
    assert (ours / "checkpoint.skops").read_bytes() == before
    again = invoke([*train, "--checkpoint", str(ours)])
    assert again.exit_code == 0, again.output
    assert f"resuming from the checkpoint in {ours}" in again.output
    fresh = invoke(
        [
            *train[:-2],
            "--epochs",
            "2",
            "--scheduler",
            scheduler,
            "--checkpoint",
            str(ours),
            "--overwrite",
        ]
    )
    assert fresh.exit_code == 0, fresh.output


def test_b52_write_zarr_over_the_store_being_read(tmp_path: Path) -> None:
    X, y = dp.make_classification(400, 5, chunks=100, random_state=0)
    dp.write_zarr(tmp_path / "d.zarr", X, y)
    Xr, yr = dp.read_zarr(tmp_path / "d.zarr")
    doubled = (Xr * 2).compute()
    # Written aside and renamed into place once complete: the old store is read to the end.
    dp.write_zarr(tmp_path / "d.zarr", Xr * 2, yr, overwrite=True)
    np.testing.assert_array_equal(dp.read_zarr(tmp_path / "d.zarr")[0].compute(), doubled)
    assert [p.name for p in tmp_path.iterdir()] == ["d.zarr"]
