"""Data that is not there must never read as zeros: zarr stores seen from workers elsewhere,
missing chunks, and interrupted writes (daskpar._io.zarr.read_zarr, daskpar.data.write_zarr)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dask
import dask.array as da
import numpy as np
import pytest
import zarr
from daskpar_testing import scheduler_processes
from distributed import Client
from numpy.typing import NDArray
from sklearn.utils._param_validation import InvalidParameterError

from daskpar.data import make_classification, read_zarr, write_zarr
from daskpar.errors import InputError, PartitionError

#: The file of chunk (1, 0) of array "X", by zarr format: "c/1/0" in zarr 3, "1.0" in zarr 2.
CHUNK_1_0 = {3: "c/1/0", 2: "1.0"}


def dense_store(path: Path, zarr_format: int) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
    """A store of 1000 x 4 nonzero floats in chunks of 250 rows, and labels 1 to 3."""
    rng = np.random.default_rng(0)
    X, y = rng.uniform(1.0, 2.0, size=(1000, 4)), rng.integers(1, 4, size=1000)
    group = zarr.open_group(path, mode="w", zarr_format=zarr_format)
    group.create_array("X", data=X, chunks=(250, 4))
    group.create_array("y", data=y, chunks=(250,))
    return X, y


def leftovers(directory: Path, name: str) -> list[str]:
    """Temporary or set-aside siblings of the store ``name`` that a write left behind."""
    return sorted(p.name for p in directory.iterdir() if p.name.startswith(f"{name}."))


# --------------------------------------------------------------------------------------------
# A cluster whose workers run in another directory


@pytest.fixture(scope="module")
def elsewhere_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`dask scheduler` and one `dask worker`, as processes started in a directory of their own.

    Yields the scheduler's address. The processes are stopped by their PIDs.
    """
    with scheduler_processes(tmp_path_factory.mktemp("workers-cwd")) as address:
        yield address


@pytest.mark.slow
def test_relative_zarr_path_on_workers_in_another_directory(
    elsewhere_cluster: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Workers resolve no relative path: the client makes it absolute, reading and writing."""
    monkeypatch.chdir(tmp_path)
    X, y = make_classification(2000, 5, chunks=500, random_state=0)
    X_np, y_np = dask.compute(X, y)
    write_zarr("data.zarr", X, y)  # on this process's scheduler, in tmp_path
    with Client(elsewhere_cluster) as client:
        worker_cwds = set(client.run(os.getcwd).values())
        assert len(worker_cwds) == 1
        assert str(tmp_path) not in worker_cwds
        X_read, y_read = read_zarr("data.zarr")
        X_got, y_got = dask.compute(X_read, y_read)
        # Written by the worker, relative to this process's directory.
        write_zarr("copy.zarr", X, y)
    assert np.abs(X_got).sum() > 0
    np.testing.assert_array_equal(X_got, X_np)
    np.testing.assert_array_equal(y_got, y_np)
    X_copy, y_copy = read_zarr(tmp_path / "copy.zarr")
    assert y_copy is not None
    np.testing.assert_array_equal(X_copy.compute(), X_np)
    np.testing.assert_array_equal(y_copy.compute(), y_np)


def test_chunk_missing_on_the_worker_is_an_error(
    elsewhere_cluster: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    dense_store(tmp_path / "data.zarr", 3)
    X, _ = read_zarr("data.zarr")
    (tmp_path / "data.zarr" / "X" / CHUNK_1_0[3]).unlink()
    with (
        Client(elsewhere_cluster),
        pytest.raises(PartitionError, match=r"chunk\(s\) c/1/0 of array 'X'.*rows 250 to 499"),
    ):
        X.compute()


# --------------------------------------------------------------------------------------------
# Missing chunks


@pytest.mark.parametrize("zarr_format", [2, 3])
def test_store_with_a_missing_chunk_is_refused(tmp_path: Path, zarr_format: int) -> None:
    X_np, _ = dense_store(tmp_path / "d.zarr", zarr_format)
    (tmp_path / "d.zarr" / "X" / CHUNK_1_0[zarr_format]).unlink()
    missing = CHUNK_1_0[zarr_format].replace(".", r"\.")
    with pytest.raises(
        InputError,
        match=rf"array 'X' of .* is missing 1 of its 4 chunks \({missing}\).*write it again"
        r".*missing_chunks='fill'",
    ):
        read_zarr(tmp_path / "d.zarr")
    # The opt-in for sparse arrays: what zarr itself reads, the fill value.
    X, _ = read_zarr(tmp_path / "d.zarr", missing_chunks="fill")
    got = X.compute()
    np.testing.assert_array_equal(got[250:500], 0.0)
    np.testing.assert_array_equal(
        np.delete(got, np.s_[250:500], axis=0), np.delete(X_np, np.s_[250:500], axis=0)
    )


def test_missing_chunks_are_listed_first_few(tmp_path: Path) -> None:
    group = zarr.open_group(tmp_path / "d.zarr", mode="w")
    group.create_array("X", data=np.ones((100, 2)), chunks=(10, 2))
    for i in range(2, 9):
        (tmp_path / "d.zarr" / "X" / "c" / str(i) / "0").unlink()
    with pytest.raises(
        InputError,
        match=r"missing 7 of its 10 chunks \(c/2/0, c/3/0, c/4/0, c/5/0, c/6/0, "
        r"\.\.\. \(2 more\)\)",
    ):
        read_zarr(tmp_path / "d.zarr", y=None)


@pytest.mark.parametrize("zarr_format", [2, 3])
def test_chunk_deleted_after_read_zarr_is_an_error_in_the_task(
    tmp_path: Path, zarr_format: int
) -> None:
    dense_store(tmp_path / "d.zarr", zarr_format)
    X, y = read_zarr(tmp_path / "d.zarr")
    assert X.name.startswith("read-zarr-X-")
    (tmp_path / "d.zarr" / "X" / CHUNK_1_0[zarr_format]).unlink()
    missing = CHUNK_1_0[zarr_format].replace(".", r"\.")
    with pytest.raises(
        PartitionError, match=rf"chunk\(s\) {missing} of array 'X' .*rows 250 to 499"
    ):
        X.compute()
    assert y is not None
    y.compute()  # y's chunks are all there


def test_store_deleted_after_read_zarr_is_an_error_in_the_task(tmp_path: Path) -> None:
    dense_store(tmp_path / "d.zarr", 3)
    X, _ = read_zarr(tmp_path / "d.zarr")
    (tmp_path / "d.zarr").rename(tmp_path / "moved.zarr")
    with pytest.raises(
        PartitionError, match=r"cannot open array 'X' of .*d\.zarr.*moved or deleted.*share"
    ):
        X.compute()


def test_missing_shard_is_an_error(tmp_path: Path) -> None:
    group = zarr.open_group(tmp_path / "d.zarr", mode="w")
    group.create_array("X", data=np.ones((100, 2)), chunks=(10, 2), shards=(50, 2))
    (tmp_path / "d.zarr" / "X" / "c" / "1" / "0").unlink()
    with pytest.raises(InputError, match=r"missing 1 of its 2 chunks \(c/1/0\)"):
        read_zarr(tmp_path / "d.zarr", y=None)


def test_graph_of_read_zarr_holds_no_data(tmp_path: Path) -> None:
    import pickle

    dense_store(tmp_path / "d.zarr", 3)
    X, y = read_zarr(tmp_path / "d.zarr")
    assert y is not None
    graph = {**dict(X.__dask_graph__()), **dict(y.__dask_graph__())}
    assert len(pickle.dumps(graph)) < 10_000  # X alone is 32 KB


def test_missing_chunks_parameter_is_checked(tmp_path: Path) -> None:
    dense_store(tmp_path / "d.zarr", 3)
    with pytest.raises(InvalidParameterError, match=r"'missing_chunks' parameter of read_zarr"):
        read_zarr(tmp_path / "d.zarr", missing_chunks="zeros")  # type: ignore[arg-type]


def test_write_zarr_stores_chunks_of_zeros(tmp_path: Path) -> None:
    """zarr skips chunks equal to the fill value unless told; a complete store has them all."""
    X = da.concatenate([da.zeros((100, 3), chunks=100), da.ones((100, 3), chunks=100)])
    y = da.concatenate([da.zeros(100, dtype=int, chunks=100), da.ones(100, dtype=int, chunks=100)])
    write_zarr(tmp_path / "d.zarr", X, y)
    assert (tmp_path / "d.zarr" / "X" / "c" / "0" / "0").is_file()
    assert (tmp_path / "d.zarr" / "y" / "c" / "0").is_file()
    X_got, y_got = read_zarr(tmp_path / "d.zarr")
    assert y_got is not None
    np.testing.assert_array_equal(X_got.compute(), X.compute())
    np.testing.assert_array_equal(y_got.compute(), y.compute())


# --------------------------------------------------------------------------------------------
# Atomic write_zarr


def failing_at_block(exc_type: type[BaseException], block: int) -> Any:
    def fail(b: NDArray[Any], block_info: dict[Any, Any] | None = None) -> NDArray[Any]:
        if block_info is not None and block_info[0]["chunk-location"][0] == block:
            raise exc_type("block 2 cannot be made")
        return b

    return fail


@pytest.mark.parametrize("exc_type", [RuntimeError, KeyboardInterrupt])
@pytest.mark.parametrize("scheduler", ["sync", "threads"])
def test_failed_write_leaves_nothing(
    tmp_path: Path, exc_type: type[BaseException], scheduler: str
) -> None:
    X, y = make_classification(2000, 5, chunks=200, random_state=0)
    failing = X.map_blocks(failing_at_block(exc_type, 2), dtype=X.dtype)
    with dask.config.set(scheduler=scheduler), pytest.raises(exc_type, match="block 2"):
        write_zarr(tmp_path / "d.zarr", failing, y)
    assert not (tmp_path / "d.zarr").exists()
    assert leftovers(tmp_path, "d.zarr") == []


@pytest.mark.parametrize("scheduler", ["sync", "threads"])
def test_failed_overwrite_keeps_the_old_store(tmp_path: Path, scheduler: str) -> None:
    X, y = make_classification(2000, 5, chunks=200, random_state=0)
    write_zarr(tmp_path / "d.zarr", X, y)
    X2, y2 = make_classification(2000, 5, chunks=200, random_state=1)
    failing = X2.map_blocks(failing_at_block(RuntimeError, 2), dtype=X2.dtype)
    with dask.config.set(scheduler=scheduler), pytest.raises(RuntimeError, match="block 2"):
        write_zarr(tmp_path / "d.zarr", failing, y2, overwrite=True)
    assert leftovers(tmp_path, "d.zarr") == []
    X_got, y_got = read_zarr(tmp_path / "d.zarr")
    assert y_got is not None
    np.testing.assert_array_equal(X_got.compute(), X.compute())
    np.testing.assert_array_equal(y_got.compute(), y.compute())
    # And a successful overwrite replaces it, leaving nothing aside.
    write_zarr(tmp_path / "d.zarr", X2, y2, overwrite=True)
    assert leftovers(tmp_path, "d.zarr") == []
    np.testing.assert_array_equal(read_zarr(tmp_path / "d.zarr")[0].compute(), X2.compute())


@pytest.mark.slow  # scheduler and worker processes: the slow suite, which CI runs
def test_cli_train_relative_path_on_workers_elsewhere(
    elsewhere_cluster: str, tmp_path: Path
) -> None:
    """`daskpar make-data` / `train data.zarr --scheduler ...` from another directory than the
    workers': the model is trained on the data, not on zeros (which gave R^2 1.0 before)."""
    exe = str(Path(sys.executable).with_name("daskpar"))
    env = {k: v for k, v in os.environ.items() if k != "DASK_SCHEDULER_ADDRESS"}

    def daskpar(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [exe, *args, "--scheduler", elsewhere_cluster],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=300,
            env=env,
            check=False,
        )

    made = daskpar("make-data", "data.zarr", "--rows", "6000", "--features", "5",
                   "--chunk-rows", "1000")  # fmt: skip
    assert made.returncode == 0, made.stderr
    trained = daskpar("train", "data.zarr", "--model", "sgd-log", "--epochs", "2")
    assert trained.returncode == 0, trained.stderr
    scale = trained.stdout.split("scale_ from ")[1].split(")")[0].split(" to ")
    assert float(scale[0]) < 0.1 < 100.0 < float(scale[1])  # the data's own scales, not zeros
    accuracies = [float(ln.split()[-1]) for ln in trained.stdout.splitlines()
                  if ln.strip()[:1].isdigit() and len(ln.split()) == 4]  # fmt: skip
    assert len(accuracies) == 2
    assert all(0.6 < a < 1.0 for a in accuracies), trained.stdout
