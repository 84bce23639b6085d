"""Tests of daskpar._io (readers) and daskpar.data.write_zarr: round trips on tmp files."""

from __future__ import annotations

import math
import pickle
import threading
import warnings
from pathlib import Path
from typing import Any

import dask
import dask.array as da
import dask.dataframe as dd
import h5py
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import zarr
from dask.array.core import PerformanceWarning
from numpy.typing import NDArray
from sklearn.utils._param_validation import InvalidParameterError

import daskpar._io.parquet as parquet_io
from daskpar.data import (
    make_classification,
    read_csv,
    read_hdf5,
    read_npy,
    read_parquet,
    read_path,
    read_zarr,
    train_test_split,
    write_zarr,
)
from daskpar.errors import InputError, PartitionError

N, D = 1000, 4


@pytest.fixture
def data() -> tuple[NDArray[np.float64], NDArray[np.int64]]:
    rng = np.random.default_rng(0)
    return rng.standard_normal((N, D)), rng.integers(0, 3, size=N)


def check_arrays(
    X: da.Array, y: da.Array | None, X_np: NDArray[Any], y_np: NDArray[Any] | None
) -> None:
    """Known row chunks, one column chunk, y aligned, and the values round-tripped."""
    assert not any(math.isnan(c) for c in X.chunks[0])
    assert len(X.chunks[1]) == 1
    if y is not None:
        assert y.ndim == 1
        assert y.chunks[0] == X.chunks[0]
    X_got, y_got = dask.compute(X, y, scheduler="threads")
    np.testing.assert_array_equal(X_got, X_np)
    assert X_got.dtype == X.dtype
    if y_np is not None:
        np.testing.assert_array_equal(y_got, y_np)


def graph_bytes(*arrays: da.Array) -> int:
    graph: dict[Any, Any] = {}
    for a in arrays:
        graph |= dict(a.__dask_graph__())
    return len(pickle.dumps(graph))


# --------------------------------------------------------------------------------------------
# zarr


def test_zarr_round_trip_through_write_zarr(tmp_path: Path) -> None:
    X, y = make_classification(1000, 5, chunks=300, random_state=0)
    write_zarr(tmp_path / "d.zarr", X, y)
    X2, y2 = read_zarr(tmp_path / "d.zarr")
    assert X2.chunks == X.chunks
    assert y2 is not None
    assert X2.name.startswith("read-zarr-X-")
    check_arrays(X2, y2, *dask.compute(X, y))


def test_zarr_rechunks_columns_and_y(
    tmp_path: Path, data: tuple[NDArray[np.float64], NDArray[np.int64]]
) -> None:
    X_np, y_np = data
    group = zarr.open_group(tmp_path / "d.zarr", mode="w")
    group.create_array("features", data=X_np, chunks=(250, 2))
    group.create_array("labels", data=y_np, chunks=(400,))
    X, y = read_zarr(tmp_path / "d.zarr", x="features", y="labels")
    assert X.chunks == ((250,) * 4, (D,))
    check_arrays(X, y, X_np, y_np)
    X_only, none = read_zarr(tmp_path / "d.zarr", x="features", y=None)
    assert none is None
    check_arrays(X_only, None, X_np, None)


def test_zarr_errors(tmp_path: Path, data: tuple[NDArray[np.float64], NDArray[np.int64]]) -> None:
    with pytest.raises(InputError, match="no such file or directory"):
        read_zarr(tmp_path / "missing.zarr")
    group = zarr.open_group(tmp_path / "d.zarr", mode="w")
    group.create_array("X", data=data[0], chunks=(250, D))
    group.create_array("short", data=data[1][:10], chunks=(10,))
    with pytest.raises(InputError, match=r"no array 'y'.*\['X', 'short'\]"):
        read_zarr(tmp_path / "d.zarr")
    with pytest.raises(InputError, match="has 10 rows but X has 1000"):
        read_zarr(tmp_path / "d.zarr", y="short")
    with pytest.raises(InputError, match="must be 2-D"):
        read_zarr(tmp_path / "d.zarr", x="short")


def test_write_zarr_overwrite_and_irregular_chunks(tmp_path: Path) -> None:
    X, y = make_classification(1000, 5, chunks=250, random_state=0)
    X_train, _, y_train, _ = train_test_split(X, y, test_size=0.33, random_state=0)
    assert len(set(X_train.chunks[0])) > 1  # irregular: 168, 167, ...
    path = tmp_path / "train.zarr"
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "irregular chunks" warning from dask
        write_zarr(path, X_train, y_train)
    X2, y2 = read_zarr(path)
    check_arrays(X2, y2, *dask.compute(X_train, y_train))
    with pytest.raises(InputError, match=r"already exists.*overwrite=True"):
        write_zarr(path, X, y)
    write_zarr(path, X, y, overwrite=True)
    X3, y3 = read_zarr(path)
    check_arrays(X3, y3, *dask.compute(X, y))


def test_write_zarr_computes_each_generated_chunk_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import daskpar._generate as gen

    starts: list[int] = []
    lock = threading.Lock()
    body = gen.generate_classification_block

    def counting(problem: Any, start: int, stop: int) -> Any:
        with lock:
            starts.append(start)
        return body(problem, start, stop)

    monkeypatch.setattr(gen, "generate_classification_block", counting)
    X, y = make_classification(600, 5, chunks=200, random_state=0)
    write_zarr(tmp_path / "d.zarr", X, y)
    assert sorted(starts) == [0, 200, 400]


# --------------------------------------------------------------------------------------------
# npy


def test_npy_round_trip(
    tmp_path: Path, data: tuple[NDArray[np.float64], NDArray[np.int64]]
) -> None:
    X_np, y_np = data
    np.save(tmp_path / "X.npy", X_np)
    np.save(tmp_path / "y.npy", y_np)
    X, y = read_npy(tmp_path / "X.npy", tmp_path / "y.npy", chunks=300)
    assert X.chunks == ((300, 300, 300, 100), (D,))
    assert X.name.startswith("read-npy-X-")
    check_arrays(X, y, X_np, y_np)
    X, y = read_npy(tmp_path / "X.npy", tmp_path / "y.npy", chunks=(100, 900))
    check_arrays(X, y, X_np, y_np)
    X, none = read_npy(str(tmp_path / "X.npy"))
    assert none is None
    assert X.chunks[0] == (N,)  # 32 KB: one default block of ~128 MiB
    check_arrays(X, None, X_np, None)


def test_npy_graph_does_not_hold_the_data(tmp_path: Path) -> None:
    X_np = np.random.default_rng(0).standard_normal((20_000, 10))  # 1.6 MB
    np.save(tmp_path / "X.npy", X_np)
    np.save(tmp_path / "y.npy", np.arange(20_000))
    X, y = read_npy(tmp_path / "X.npy", tmp_path / "y.npy", chunks=5000)
    assert y is not None
    assert graph_bytes(X, y) < 20_000
    # A pickled graph still computes (as on a distributed worker).
    graph = pickle.loads(pickle.dumps(dict(X.__dask_graph__())))
    block = dask.get(graph, (X.name, 1, 0))
    np.testing.assert_array_equal(block, X_np[5000:10_000])


def test_npy_errors(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file"):
        read_npy(tmp_path / "missing.npy")
    np.save(tmp_path / "one_d.npy", np.arange(10.0))
    np.save(tmp_path / "X.npy", np.ones((10, 2)))
    np.save(tmp_path / "y.npy", np.arange(9))
    with pytest.raises(InputError, match=r"must be 2-D .* Reshape it"):
        read_npy(tmp_path / "one_d.npy")
    with pytest.raises(InputError, match="has 9 rows but X has 10"):
        read_npy(tmp_path / "X.npy", tmp_path / "y.npy")
    with pytest.raises(InputError, match="adding up to the 10 rows"):
        read_npy(tmp_path / "X.npy", chunks=(4, 4))
    (tmp_path / "junk.npy").write_bytes(b"not numpy")
    with pytest.raises(InputError, match=r"is not a \.npy file"):
        read_npy(tmp_path / "junk.npy")


# --------------------------------------------------------------------------------------------
# HDF5


def test_hdf5_round_trip(
    tmp_path: Path, data: tuple[NDArray[np.float64], NDArray[np.int64]]
) -> None:
    X_np, y_np = data
    with h5py.File(tmp_path / "d.h5", "w") as f:
        f.create_dataset("X", data=X_np, chunks=(100, D))
        f.create_dataset("targets/y", data=y_np)
    X, y = read_hdf5(tmp_path / "d.h5", y="targets/y", chunks=400)
    assert X.chunks == ((400, 400, 200), (D,))
    assert X.name.startswith("read-hdf-X-")
    check_arrays(X, y, X_np, y_np)
    X, y = read_hdf5(tmp_path / "d.h5", y="targets/y")  # default: multiple of HDF5 chunks
    assert X.chunks[0] == (N,)
    check_arrays(X, y, X_np, y_np)
    assert graph_bytes(X, y) < 10_000


def test_hdf5_errors(tmp_path: Path, data: tuple[NDArray[np.float64], NDArray[np.int64]]) -> None:
    with pytest.raises(InputError, match="no such file"):
        read_hdf5(tmp_path / "missing.h5")
    with h5py.File(tmp_path / "d.h5", "w") as f:
        f.create_dataset("X", data=data[0])
        f.create_dataset("labels", data=data[1])
    with pytest.raises(InputError, match=r"no dataset 'y' .* \['X', 'labels'\]"):
        read_hdf5(tmp_path / "d.h5")
    (tmp_path / "junk.h5").write_bytes(b"not hdf5")
    with pytest.raises(InputError, match="cannot open"):
        read_hdf5(tmp_path / "junk.h5")


# --------------------------------------------------------------------------------------------
# Parquet


def _frame(data: tuple[NDArray[np.float64], NDArray[np.int64]]) -> pd.DataFrame:
    X_np, y_np = data
    frame = pd.DataFrame(X_np, columns=[f"f{j}" for j in range(D)])
    frame["count"] = np.arange(N, dtype=np.int32)
    frame["flag"] = np.arange(N) % 2 == 0
    frame["label"] = y_np
    return frame


def _expected_X(frame: pd.DataFrame, columns: list[str]) -> NDArray[np.float64]:
    return frame[columns].to_numpy(dtype=np.float64)


def test_parquet_one_block_per_row_group(
    tmp_path: Path,
    data: tuple[NDArray[np.float64], NDArray[np.int64]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    frame = _frame(data)
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), tmp_path / "t.parquet",
                   row_group_size=300)  # fmt: skip
    calls: list[int] = []
    body = parquet_io.read_parquet_row_group

    def counting(path: str, row_group: int, *args: Any) -> Any:
        calls.append(row_group)
        return body(path, row_group, *args)

    monkeypatch.setattr(parquet_io, "read_parquet_row_group", counting)
    X, y = read_parquet(tmp_path / "t.parquet", target="label")
    assert calls == []  # nothing read at call time
    assert X.chunks == ((300, 300, 300, 100), (D + 2,))
    assert X.dtype == np.float64
    assert y.dtype == np.int64
    assert X.name.startswith("read-parquet-X-")
    features = [c for c in frame.columns if c != "label"]
    check_arrays(X, y, _expected_X(frame, features), frame["label"].to_numpy())
    # X and y were read together: each row group once.
    assert sorted(calls) == [0, 1, 2, 3]


def test_parquet_directory_and_columns(
    tmp_path: Path, data: tuple[NDArray[np.float64], NDArray[np.int64]]
) -> None:
    frame = _frame(data)
    frame["name"] = "row"  # a string column, left out by columns=
    (tmp_path / "dir").mkdir()
    # Written out of order: files are read in sorted path order.
    table = pa.Table.from_pandas(frame, preserve_index=False)
    pq.write_table(table.slice(600), tmp_path / "dir" / "part-1.parquet", row_group_size=250)
    pq.write_table(table.slice(0, 600), tmp_path / "dir" / "part-0.parquet", row_group_size=250)
    columns = ["f2", "count", "f0"]
    X, y = read_parquet(tmp_path / "dir", target="label", columns=columns)
    assert X.chunks[0] == (250, 250, 100, 250, 150)
    check_arrays(X, y, _expected_X(frame, columns), frame["label"].to_numpy())


def test_parquet_float32_features_stay_float32(tmp_path: Path) -> None:
    table = pa.table({"a": np.ones(5, np.float32), "b": np.zeros(5, np.float32), "t": ["x"] * 5})
    pq.write_table(table, tmp_path / "t.parquet")
    X, y = read_parquet(tmp_path / "t.parquet", target="t")
    assert X.dtype == np.float32
    assert y.compute().tolist() == ["x"] * 5  # string labels are fine as a target


def test_parquet_errors(
    tmp_path: Path, data: tuple[NDArray[np.float64], NDArray[np.int64]]
) -> None:
    frame = _frame(data)
    frame["city"] = "Paris"
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), tmp_path / "t.parquet")
    with pytest.raises(InputError, match=r"no target column 'target' .*'f0', 'f1'"):
        read_parquet(tmp_path / "t.parquet", target="target")
    with pytest.raises(InputError, match=r"'city' \(\w*string\).*not numeric.*columns=\["):
        read_parquet(tmp_path / "t.parquet", target="label")
    with pytest.raises(InputError, match=r"no column\(s\) \['nope'\]"):
        read_parquet(tmp_path / "t.parquet", target="label", columns=["f0", "nope"])
    X, _ = read_parquet(tmp_path / "t.parquet", target="label", columns=["f0", "f1"])
    assert X.shape == (N, 2)
    with pytest.raises(InputError, match="no such file"):
        read_parquet(tmp_path / "missing.parquet", target="label")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match=r"no \*\.parquet file"):
        read_parquet(tmp_path / "empty", target="label")


# --------------------------------------------------------------------------------------------
# CSV


def test_csv_round_trip(
    tmp_path: Path, data: tuple[NDArray[np.float64], NDArray[np.int64]]
) -> None:
    frame = _frame(data)
    frame.to_csv(tmp_path / "t.csv", index=False)
    X, y = read_csv(tmp_path / "t.csv", target="label", blocksize=20_000)
    assert len(X.chunks[0]) > 1  # several blocks, with counted (known) sizes
    assert sum(X.chunks[0]) == N
    features = [c for c in frame.columns if c != "label"]
    X_got, y_got = dask.compute(X, y)
    np.testing.assert_allclose(X_got, _expected_X(frame, features))  # decimal text round trip
    np.testing.assert_array_equal(y_got, frame["label"].to_numpy())
    assert y.chunks[0] == X.chunks[0]


def test_csv_errors(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file"):
        read_csv(tmp_path / "missing.csv", target="label")
    (tmp_path / "t.csv").write_text("a,city,label\n1.0,Paris,0\n2.0,Rome,1\n")
    with pytest.raises(InputError, match=r"no target column 'y' .*\['a', 'city', 'label'\]"):
        read_csv(tmp_path / "t.csv", target="y")
    with pytest.raises(InputError, match=r"'city' .*not numeric"):
        read_csv(tmp_path / "t.csv", target="label")
    X, y = read_csv(tmp_path / "t.csv", target="label", columns=["a"])
    np.testing.assert_array_equal(X.compute(), [[1.0], [2.0]])
    np.testing.assert_array_equal(y.compute(), [0, 1])


# --------------------------------------------------------------------------------------------
# Parquet: index columns, text targets, row groups cut into blocks


def test_parquet_skips_the_index_pandas_writes(
    tmp_path: Path, data: tuple[NDArray[np.float64], NDArray[np.int64]]
) -> None:
    frame = _frame(data)
    features = [c for c in frame.columns if c != "label"]
    ids = np.random.default_rng(1).permutation(N) * 10  # not a RangeIndex: stored as a column
    named = frame.set_axis(pd.Index(ids, name="row_id"))
    named.to_parquet(tmp_path / "named.parquet")
    frame.set_axis(ids).to_parquet(tmp_path / "unnamed.parquet")
    assert "row_id" in pq.read_schema(tmp_path / "named.parquet").names
    assert "__index_level_0__" in pq.read_schema(tmp_path / "unnamed.parquet").names
    for name in ("named.parquet", "unnamed.parquet"):
        X, y = read_parquet(tmp_path / name, target="label")
        assert X.shape == (N, len(features))
        check_arrays(X, y, _expected_X(frame, features), frame["label"].to_numpy())
    # Named in columns=, an index column is a feature like any other.
    X, _ = read_parquet(tmp_path / "named.parquet", target="label", columns=["row_id", "f0"])
    np.testing.assert_array_equal(X.compute(), np.c_[ids, frame["f0"]])


# dask's own writer trips a pandas 3.1 deprecation (set_index(inplace=True)).
@pytest.mark.filterwarnings("ignore:The inplace keyword:DeprecationWarning")
def test_parquet_skips_the_index_dask_writes(
    tmp_path: Path, data: tuple[NDArray[np.float64], NDArray[np.int64]]
) -> None:
    frame = _frame(data)
    features = [c for c in frame.columns if c != "label"]
    dd.from_pandas(frame, npartitions=3).to_parquet(tmp_path / "plain")
    first = sorted((tmp_path / "plain").glob("*.parquet"))[0]
    assert "__null_dask_index__" in pq.read_schema(first).names
    X, y = read_parquet(tmp_path / "plain", target="label")
    check_arrays(X, y, _expected_X(frame, features), frame["label"].to_numpy())
    dd.from_pandas(frame.set_index("count"), npartitions=3).to_parquet(tmp_path / "indexed")
    X, y = read_parquet(tmp_path / "indexed", target="label")
    without = [c for c in features if c != "count"]
    check_arrays(X, y, _expected_X(frame, without), frame["label"].to_numpy())


LABELS = np.array(["cat", "dog", "ému", "007"])  # "007" must not become 7


def _text_labels(n: int) -> NDArray[np.str_]:
    return LABELS[np.random.default_rng(2).integers(0, len(LABELS), size=n)]


def _assert_str_labels(y: da.Array, expected: list[str]) -> None:
    assert y.dtype == object  # the dask meta
    got = y.compute()
    assert got.dtype == object
    assert {type(v) for v in got} == {str}
    assert got.tolist() == expected


def test_parquet_text_target_is_object_str(
    tmp_path: Path, data: tuple[NDArray[np.float64], NDArray[np.int64]]
) -> None:
    frame = _frame(data)
    frame["label"] = _text_labels(N)
    frame.to_parquet(tmp_path / "text.parquet")
    frame.astype({"label": "category"}).to_parquet(tmp_path / "category.parquet")
    assert pa.types.is_dictionary(pq.read_schema(tmp_path / "category.parquet").field("label").type)
    for name in ("text.parquet", "category.parquet"):
        _, y = read_parquet(tmp_path / name, target="label")
        _assert_str_labels(y, pq.read_table(tmp_path / name).column("label").to_pylist())


def test_csv_text_target_is_object_str(
    tmp_path: Path, data: tuple[NDArray[np.float64], NDArray[np.int64]]
) -> None:
    frame = _frame(data)
    frame["label"] = _text_labels(N)
    frame.to_csv(tmp_path / "t.csv", index=False)
    X, y = read_csv(tmp_path / "t.csv", target="label", blocksize=20_000)
    assert len(X.chunks[0]) > 1
    with (tmp_path / "t.csv").open() as f:
        expected = [line.rstrip("\n").rsplit(",", 1)[1] for line in f][1:]
    _assert_str_labels(y, expected)


def test_missing_targets_are_an_error(tmp_path: Path) -> None:
    pq.write_table(pa.table({"a": [1.0, 2.0, 3.0], "t": ["x", None, "y"]}), tmp_path / "s.parquet")
    pq.write_table(pa.table({"a": [1.0, 2.0], "t": pa.array([1, None])}), tmp_path / "i.parquet")
    for name in ("s.parquet", "i.parquet"):
        _, y = read_parquet(tmp_path / name, target="t")
        with pytest.raises(PartitionError, match=r"target column 't' has 1 missing value.*drop"):
            y.compute()
    (tmp_path / "t.csv").write_text("a,t\n1,x\n2,\n3,y\n")
    _, y = read_csv(tmp_path / "t.csv", target="t")
    with pytest.raises(PartitionError, match=r"target column 't' has 1 missing value"):
        y.compute()


def test_parquet_target_of_another_type_is_refused(tmp_path: Path) -> None:
    table = pa.table({"a": [1.0, 2.0], "t": pa.array([b"x", b"y"])})
    pq.write_table(table, tmp_path / "t.parquet")
    with pytest.raises(InputError, match=r"target column 't' .* type binary.*numbers, booleans"):
        read_parquet(tmp_path / "t.parquet", target="t")


def _one_row_group(path: Path, n: int) -> pd.DataFrame:
    rng = np.random.default_rng(3)
    frame = pd.DataFrame(rng.standard_normal((n, 3)), columns=["a", "b", "c"])
    frame["label"] = rng.integers(0, 2, size=n)
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), path)
    assert pq.ParquetFile(path).metadata.num_row_groups == 1
    return frame


def test_parquet_row_group_is_cut_into_blocks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    frame = _one_row_group(tmp_path / "t.parquet", 16_000)
    expected = frame[["a", "b", "c"]].to_numpy(), frame["label"].to_numpy()

    def whole_row_group(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("a block read its whole row group")

    # Each block reads its own rows, never the whole row group.
    monkeypatch.setattr(pq.ParquetFile, "read_row_group", whole_row_group)
    X, y = read_parquet(tmp_path / "t.parquet", target="label")
    assert X.chunks[0] == (2000,) * 8
    check_arrays(X, y, *expected)
    X, y = read_parquet(tmp_path / "t.parquet", target="label", min_partitions=3)
    assert X.chunks[0] == (5334, 5334, 5332)
    check_arrays(X, y, *expected)


def test_parquet_blocks_keep_at_least_1000_rows(tmp_path: Path) -> None:
    _one_row_group(tmp_path / "small.parquet", 2500)
    X, _ = read_parquet(tmp_path / "small.parquet", target="label")
    assert X.chunks[0] == (1250, 1250)
    _one_row_group(tmp_path / "tiny.parquet", 999)
    X, _ = read_parquet(tmp_path / "tiny.parquet", target="label", min_partitions=100)
    assert X.chunks[0] == (999,)


def test_min_partitions_is_checked(tmp_path: Path) -> None:
    _one_row_group(tmp_path / "t.parquet", 10)
    with pytest.raises(InvalidParameterError, match=r"'min_partitions' parameter of read_parquet"):
        read_parquet(tmp_path / "t.parquet", target="label", min_partitions=0)


# --------------------------------------------------------------------------------------------
# CSV: blocks for parallelism, compressed files


def _csv_frame(n: int) -> pd.DataFrame:
    rng = np.random.default_rng(4)
    frame = pd.DataFrame(rng.standard_normal((n, 5)), columns=list("abcde"))
    frame["label"] = rng.integers(0, 3, size=n)
    return frame


def test_csv_is_cut_into_min_partitions_blocks(tmp_path: Path) -> None:
    frame = _csv_frame(16_000)  # 1.6 MB: one 64 MiB block before
    frame.to_csv(tmp_path / "t.csv", index=False)
    X, y = read_csv(tmp_path / "t.csv", target="label")
    assert len(X.chunks[0]) == 8
    assert min(X.chunks[0]) >= 1000
    np.testing.assert_allclose(X.compute(), frame[list("abcde")].to_numpy())
    np.testing.assert_array_equal(y.compute(), frame["label"].to_numpy())
    X, _ = read_csv(tmp_path / "t.csv", target="label", min_partitions=2)
    assert len(X.chunks[0]) == 2
    _csv_frame(1500).to_csv(tmp_path / "small.csv", index=False)
    X, _ = read_csv(tmp_path / "small.csv", target="label")
    assert X.chunks[0] == (1500,)  # two blocks would hold under 1000 rows each


@pytest.mark.parametrize("suffix", [".gz", ".bz2", ".xz"])
def test_compressed_csv_is_read_and_split(tmp_path: Path, suffix: str) -> None:
    frame = _csv_frame(16_000)
    path = tmp_path / f"t.csv{suffix}"
    frame.to_csv(path, index=False)  # pandas compresses by suffix
    X, y = read_csv(path, target="label")
    assert X.chunks[0] == (2000,) * 8
    assert y.chunks[0] == X.chunks[0]
    np.testing.assert_allclose(X.compute(), frame[list("abcde")].to_numpy())
    np.testing.assert_array_equal(y.compute(), frame["label"].to_numpy())


# --------------------------------------------------------------------------------------------
# Blocks too small to be worth a task


def test_readers_warn_about_tiny_blocks(tmp_path: Path) -> None:
    X_np = np.ones((1000, 2))
    np.save(tmp_path / "X.npy", X_np)
    with pytest.warns(
        PerformanceWarning, match=r"read_npy: 200 blocks of 5 rows \(median\).*chunks="
    ) as record:
        read_npy(tmp_path / "X.npy", chunks=5)
    assert record[0].filename == __file__  # the caller's line, past validate_params's wrapper
    read_npy(tmp_path / "X.npy", chunks=10)  # 100 blocks: no warning
    group = zarr.open_group(tmp_path / "d.zarr", mode="w")
    group.create_array("X", data=X_np, chunks=(5, 2))
    with pytest.warns(PerformanceWarning, match=r"read_zarr: 200 blocks of 5 rows.*write_zarr"):
        read_zarr(tmp_path / "d.zarr", y=None)
    table = pa.table({"a": np.ones(1010), "t": np.zeros(1010)})
    pq.write_table(table, tmp_path / "t.parquet", row_group_size=10)
    with pytest.warns(
        PerformanceWarning, match=r"read_parquet: 101 blocks of 10 rows.*row_group_size"
    ):
        read_parquet(tmp_path / "t.parquet", target="t")


# --------------------------------------------------------------------------------------------
# read_path


def _write_every_format(
    tmp_path: Path, X_np: NDArray[np.float64], y_np: NDArray[np.int64]
) -> dict[str, tuple[Path, dict[str, Any]]]:
    """One file (or store) per format, each holding X_np and y_np; with read_path's kwargs."""
    frame = pd.DataFrame(X_np, columns=[f"f{j}" for j in range(D)]).assign(label=y_np)
    out: dict[str, tuple[Path, dict[str, Any]]] = {}
    write_zarr(tmp_path / "v3.zarr", da.from_array(X_np, chunks=(250, D)), y_np)
    out["zarr 3"] = tmp_path / "v3.zarr", {}
    group = zarr.open_group(tmp_path / "v2.zarr", mode="w", zarr_format=2)
    group.create_array("X", data=X_np, chunks=(250, D))
    group.create_array("y", data=y_np, chunks=(250,))
    out["zarr 2"] = tmp_path / "v2.zarr", {}
    frame.to_parquet(tmp_path / "t.parquet")
    out["parquet"] = tmp_path / "t.parquet", {"target": "label"}
    (tmp_path / "parts").mkdir()
    frame[:600].to_parquet(tmp_path / "parts" / "0.parquet")
    frame[600:].to_parquet(tmp_path / "parts" / "1.parquet")
    out["parquet folder"] = tmp_path / "parts", {"target": "label"}
    for suffix in ("", ".gz", ".bz2", ".xz"):
        frame.to_csv(tmp_path / f"t.csv{suffix}", index=False)
        out[f"csv{suffix}"] = tmp_path / f"t.csv{suffix}", {"target": "label"}
    np.save(tmp_path / "X.npy", X_np)
    np.save(tmp_path / "labels.npy", y_np)
    out["npy"] = tmp_path / "X.npy", {"y": tmp_path / "labels.npy"}
    with h5py.File(tmp_path / "d.hdf5", "w") as f:
        f.create_dataset("features", data=X_np)
        f.create_dataset("y", data=y_np)
    out["hdf5"] = tmp_path / "d.hdf5", {"x": "features"}
    return out


def test_read_path_reads_every_format(
    tmp_path: Path, data: tuple[NDArray[np.float64], NDArray[np.int64]]
) -> None:
    X_np, y_np = data
    for kind, (path, kwargs) in _write_every_format(tmp_path, X_np, y_np).items():
        X, y = read_path(path, **kwargs)
        assert y is not None, kind
        X_got, y_got = dask.compute(X, y)
        np.testing.assert_allclose(X_got, X_np, err_msg=kind)  # CSV: a decimal round trip
        np.testing.assert_array_equal(y_got, y_np, err_msg=kind)


def test_read_path_zstd_csv(
    tmp_path: Path, data: tuple[NDArray[np.float64], NDArray[np.int64]]
) -> None:
    path = tmp_path / "t.csv.zst"
    try:
        import zstandard  # noqa: F401
    except ImportError:
        path.write_bytes(b"\x28\xb5\x2f\xfd")  # the zstd magic number: a file read_path can name
        with pytest.raises(ImportError, match=r"\.zst files needs .*'zstandard'"):
            read_path(path, target="label")
        return
    X_np, y_np = data
    pd.DataFrame(X_np).assign(label=y_np).to_csv(path, index=False)
    X, y = read_path(path, target="label")
    assert y is not None
    np.testing.assert_allclose(X.compute(), X_np)
    np.testing.assert_array_equal(y.compute(), y_np)


def test_read_path_errors(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file or directory"):
        read_path(tmp_path / "missing.zarr")
    (tmp_path / "data.txt").write_text("1,2\n")
    with pytest.raises(
        InputError, match=r"cannot tell the format of .*data\.txt.*zarr store.*HDF5"
    ):
        read_path(tmp_path / "data.txt")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match=r"neither a zarr store .* nor a directory of \*\.parquet"):
        read_path(tmp_path / "empty")
    (tmp_path / "t.csv").write_text("a,label\n1,0\n")
    with pytest.raises(InputError, match=r"is a CSV table: pass target='COLUMN'"):
        read_path(tmp_path / "t.csv")
    np.save(tmp_path / "X.npy", np.ones((3, 2)))
    with pytest.raises(InputError, match=r"\.npy file, which holds X only. Pass y='targets\.npy'"):
        read_path(tmp_path / "X.npy")
    X, none = read_path(tmp_path / "X.npy", y=None)
    assert none is None
    assert X.shape == (3, 2)
