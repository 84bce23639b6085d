"""Checkpoints know their data by content: each block's digest, recorded in the first pass.

A store rewritten in place (same shape, chunks and dtype, new values) is refused when a run
resumes on it, and when a finished run is rerun on it, naming the block and what changed,
whatever the source: zarr (dask names it by path), h5py and numpy memmaps through
``from_array`` (named anew in every call, or by content), ``from_delayed`` (named by the
function and its arguments). Unchanged data resume to the same bits. The digests cost no
read of their own, and runs without a checkpoint hash nothing.
"""

from __future__ import annotations

import pickle
import re
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from unittest import mock

import dask
import dask.array as da
import numpy as np
import pytest
from dask.callbacks import Callback
from dask.utils import key_split
from daskpar_testing import interrupted_then_resumed, passes
from sklearn.linear_model import SGDClassifier

import daskpar as dp
import daskpar._incremental as incremental
import daskpar._pass as pass_module
import daskpar._search._passes as search_passes
from daskpar import CheckpointError
from daskpar._checkpoint import FILE_NAME

N, D, CHUNK = 4000, 6, 500  # 8 blocks
BLOCK = 2  # the block rewritten
WHERE = f"partition {BLOCK} (rows {BLOCK * CHUNK} to {(BLOCK + 1) * CHUNK - 1})"
ROWS = re.escape(WHERE)  # as a pattern


@pytest.fixture(scope="module")
def arrays() -> tuple[np.ndarray, np.ndarray]:
    X, y = dp.make_classification(n_samples=N, n_features=D, chunks=CHUNK, random_state=0)
    return np.asarray(X.compute(), dtype=np.float32), np.asarray(y.compute())


class Stored:
    """X and y kept in ``kind`` of storage under ``folder``; ``read()`` gives dask arrays of
    them (chunks of CHUNK rows), ``rewrite(name, rows, values)`` changes them in place."""

    def __init__(self, kind: str, folder: Path, X: np.ndarray, y: np.ndarray) -> None:
        self.kind, self.folder = kind, folder
        self.stores: dict[str, Any] = {}
        for name, a in (("X", X), ("y", y)):
            self.stores[name] = self._create(name, a)

    def _create(self, name: str, a: np.ndarray) -> Any:
        if self.kind == "zarr":
            import zarr

            z = zarr.open_array(
                str(self.folder / f"{name}.zarr"),
                mode="w",
                shape=a.shape,
                chunks=(CHUNK, *a.shape[1:]),
                dtype=a.dtype,
            )
            z[:] = a
            return z
        if self.kind == "h5py":
            import h5py

            f = h5py.File(self.folder / f"{name}.h5", "a")
            return f.create_dataset(name, data=a)
        # memmap, and the files from_delayed reads
        m = np.lib.format.open_memmap(
            self.folder / f"{name}.npy", mode="w+", dtype=a.dtype, shape=a.shape
        )
        m[:] = a
        m.flush()
        return m

    def read(self) -> tuple[da.Array, da.Array]:
        out = []
        for name in ("X", "y"):
            store = self.stores[name]
            if self.kind == "zarr":
                out.append(da.from_zarr(str(self.folder / f"{name}.zarr")))
            elif self.kind == "delayed":
                path = self.folder / f"{name}.npy"
                parts = [
                    da.from_delayed(
                        dask.delayed(_read_rows, pure=True)(str(path), start, start + CHUNK),
                        shape=(CHUNK, *store.shape[1:]),
                        dtype=store.dtype,
                    )
                    for start in range(0, store.shape[0], CHUNK)
                ]
                out.append(da.concatenate(parts))
            else:
                out.append(da.from_array(store, chunks=(CHUNK, *store.shape[1:])))
        return out[0], out[1]

    def rewrite(self, name: str, rows: slice, values: np.ndarray) -> None:
        store = self.stores[name]
        store[rows] = values
        if isinstance(store, np.memmap):
            store.flush()
        elif self.kind == "h5py":
            store.file.flush()

    def close(self) -> None:
        if self.kind == "h5py":
            for store in self.stores.values():
                store.file.close()


def _read_rows(path: str, start: int, stop: int) -> np.ndarray:
    """Rows ``start:stop`` of a .npy file (what a from_delayed reader does)."""
    return np.array(np.load(path, mmap_mode="r")[start:stop])


@contextmanager
def stored(kind: str, folder: Path, X: np.ndarray, y: np.ndarray) -> Iterator[Stored]:
    folder.mkdir()
    data = Stored(kind, folder, X, y)
    try:
        yield data
    finally:
        data.close()


def make(folder: Path | None, epochs: int = 3) -> dp.ParallelIncremental:
    return dp.ParallelIncremental(
        SGDClassifier(random_state=0), epochs=epochs, random_state=0, checkpoint=folder
    )


def assert_same_model(a: dp.ParallelIncremental, b: dp.ParallelIncremental) -> None:
    np.testing.assert_array_equal(a.estimator_.coef_, b.estimator_.coef_)
    np.testing.assert_array_equal(a.estimator_.intercept_, b.estimator_.intercept_)


@pytest.mark.parametrize("kind", ["zarr", "h5py", "memmap", "delayed"])
def test_a_source_rewritten_in_place_is_refused_and_unchanged_data_resume(
    arrays: tuple[np.ndarray, np.ndarray], tmp_path: Path, kind: str
) -> None:
    X, y = arrays
    with stored(kind, tmp_path / "data", X, y) as data:
        name = data.read()[0].name

        def fit(model: dp.ParallelIncremental) -> dp.ParallelIncremental:
            return model.fit(*data.read())

        whole = fit(make(None))
        # (c) Unchanged data: resumed to the same bits (h5py's from_array gets a new dask
        # name in every call: it could not resume while checkpoints compared names).
        resumed, rerun = interrupted_then_resumed(make, fit, tmp_path / "done", at=2)
        assert rerun == 2
        assert_same_model(resumed, whole)
        # A run interrupted half way, before the data change.
        with passes(incremental, interrupt_at=2), pytest.raises(KeyboardInterrupt):
            fit(make(tmp_path / "half"))
        assert (tmp_path / "half" / FILE_NAME).exists()

        data.rewrite("X", slice(BLOCK * CHUNK, BLOCK * CHUNK + 7), -X[BLOCK * CHUNK :][:7])
        if kind in ("zarr", "delayed"):
            assert data.read()[0].name == name  # names alone would resume the old run
        # (a) Resumed on the changed data: refused in the first pass, naming the block.
        with passes(incremental) as count, pytest.raises(CheckpointError) as error:
            fit(make(tmp_path / "half"))
        assert count[0] == 1
        message = str(error.value)
        assert message.startswith(f"The checkpoint in {str(tmp_path / 'half')!r} was made from")
        assert f"{WHERE} has other X than" in message
        assert "Delete" in message
        assert "to start over" in message
        # (b) A finished run rerun on the changed data: refused after one read, no training.
        with passes(incremental) as count, pytest.raises(CheckpointError, match=ROWS):
            fit(make(tmp_path / "done"))
        assert count[0] == 0
        # The refused checkpoints are left as they were: starting over is the user's call.
        assert (tmp_path / "done" / FILE_NAME).exists()


def test_only_y_changed_is_named(arrays: tuple[np.ndarray, np.ndarray], tmp_path: Path) -> None:
    X, y = arrays
    with stored("zarr", tmp_path / "data", X, y) as data:
        make(tmp_path / "ck", epochs=1).fit(*data.read())
        rows = slice(BLOCK * CHUNK, (BLOCK + 1) * CHUNK)
        data.rewrite("y", rows, 1 - y[rows])
        with pytest.raises(CheckpointError, match=f"{ROWS} has other y than") as error:
            make(tmp_path / "ck", epochs=1).fit(*data.read())
        assert "other X" not in str(error.value)


def test_only_validation_rows_changed_are_named(
    arrays: tuple[np.ndarray, np.ndarray], tmp_path: Path
) -> None:
    """Validation data with X's row blocks are read in the same task, and digested there."""
    import zarr

    X, y = arrays
    n_val = 100
    val = zarr.open_array(
        str(tmp_path / "val.zarr"), mode="w", shape=(8 * n_val, D), chunks=(n_val, D), dtype="f4"
    )
    val[:] = X[: 8 * n_val] + 1
    y_val = da.from_array(y[: 8 * n_val], chunks=n_val)

    def fit(model: dp.ParallelIncremental) -> dp.ParallelIncremental:
        X_val = da.from_zarr(str(tmp_path / "val.zarr"))
        return model.fit(X_train, y_train, validation_data=(X_val, y_val))

    X_train, y_train = da.from_array(X, chunks=(CHUNK, D)), da.from_array(y, chunks=CHUNK)
    with passes(incremental, interrupt_at=2), pytest.raises(KeyboardInterrupt):
        fit(make(tmp_path / "ck"))
    val[5 * n_val] = -val[5 * n_val]
    with pytest.raises(CheckpointError) as error:
        fit(make(tmp_path / "ck"))
    message = str(error.value)
    assert f"partition 5 (rows {5 * CHUNK} to {6 * CHUNK - 1})" in message
    assert "has other validation rows (X_val) than" in message
    assert "other X " not in message
    assert "other y" not in message


def test_a_search_and_its_refit_know_their_data(
    arrays: tuple[np.ndarray, np.ndarray], tmp_path: Path
) -> None:
    X, y = arrays

    def make_search(folder: Path | None) -> dp.GridSearchCV:
        return dp.GridSearchCV(
            dp.ParallelIncremental(SGDClassifier(random_state=0), epochs=2, random_state=0),
            {"estimator__alpha": [1e-4, 1e-3]},
            cv=2,
            checkpoint=folder,
        )

    with stored("zarr", tmp_path / "data", X, y) as data:

        def fit(search: dp.GridSearchCV) -> dp.GridSearchCV:
            return search.fit(*data.read())

        whole = fit(make_search(None))
        resumed, _ = interrupted_then_resumed(make_search, fit, tmp_path / "done", at=2)
        np.testing.assert_array_equal(
            resumed.cv_results_["mean_test_score"], whole.cv_results_["mean_test_score"]
        )
        assert_same_model(resumed.best_estimator_, whole.best_estimator_)
        with passes(search_passes, interrupt_at=2), pytest.raises(KeyboardInterrupt):
            fit(make_search(tmp_path / "half"))
        rows = slice(BLOCK * CHUNK, BLOCK * CHUNK + 3)
        data.rewrite("X", rows, X[rows] * 2)
        with pytest.raises(CheckpointError, match=f"{ROWS} has other X than"):
            fit(make_search(tmp_path / "half"))
        with passes(search_passes) as count, pytest.raises(CheckpointError, match=ROWS):
            fit(make_search(tmp_path / "done"))
        assert count[0] == 0
        # The refit's own checkpoint knows its data too.
        best = whole.best_params_["estimator__alpha"]
        refit = make(tmp_path / "done" / "refit", epochs=2)
        refit.set_params(estimator=SGDClassifier(random_state=0, alpha=best))
        with pytest.raises(CheckpointError, match=ROWS):
            refit.fit(*data.read(), classes=whole.classes_)


@contextmanager
def counted_digests() -> Iterator[list[int]]:
    """Count the calls of the block digest (on the synchronous scheduler, in this process)."""
    real, calls = pass_module.block_digest, [0]

    def counting(a: np.ndarray) -> str:
        calls[0] += 1
        return real(a)

    with mock.patch.object(pass_module, "block_digest", counting):
        yield calls


class Stages(Callback):  # type: ignore[misc]
    """The tasks run, by stage (the dashboard's label)."""

    def __init__(self) -> None:
        super().__init__()
        self.counts: Counter[str] = Counter()

    def _pretask(self, key: Any, dsk: Any, state: Any) -> None:
        self.counts[key_split(key)] += 1


def test_hashing_only_with_a_checkpoint_and_in_its_first_pass_without_a_read_of_its_own(
    arrays: tuple[np.ndarray, np.ndarray], tmp_path: Path
) -> None:
    X, y = arrays
    with stored("zarr", tmp_path / "data", X, y) as data:
        with counted_digests() as calls, Stages() as without:
            plain = make(None).fit(*data.read())
        assert calls[0] == 0
        with counted_digests() as calls, Stages() as with_checkpoint:
            checkpointed = make(tmp_path / "ck").fit(*data.read())
        # X and y of each of the 8 blocks, in the first of the 3 passes only.
        assert calls[0] == 2 * (N // CHUNK)
        assert_same_model(checkpointed, plain)
        # The same tasks, the same reads: the digests are taken by the training tasks.
        assert with_checkpoint.counts == without.counts
        # Each read fused with its training task: one task per block and pass.
        assert with_checkpoint.counts["fit-block"] == 3 * (N // CHUNK)
        # A resumed run checks in its first pass only; a finished run's rerun, in one read.
        with counted_digests() as calls, Stages() as rerun:
            make(tmp_path / "ck").fit(*data.read())
        assert calls[0] == 2 * (N // CHUNK)
        assert rerun.counts["verify-block"] == N // CHUNK
        assert rerun.counts["fit-block"] == 0


def test_the_refusal_crosses_process_boundaries(
    arrays: tuple[np.ndarray, np.ndarray], tmp_path: Path
) -> None:
    """Raised in a task on a worker, the CheckpointError reaches the client as itself."""
    from distributed import Client, LocalCluster

    error = CheckpointError("The checkpoint in '/x' was made from other data: partition 2")
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is CheckpointError
    assert str(copy) == str(error)
    X, y = arrays
    with stored("zarr", tmp_path / "data", X, y) as data:
        make(tmp_path / "ck", epochs=1).fit(*data.read())
        rows = slice(BLOCK * CHUNK, BLOCK * CHUNK + 1)
        data.rewrite("X", rows, X[rows] + 1)
        with (
            LocalCluster(
                n_workers=1,
                threads_per_worker=1,
                processes=True,
                host="127.0.0.1",
                dashboard_address=":0",
                silence_logs=50,
            ) as cluster,
            Client(cluster),
            pytest.raises(CheckpointError, match=f"{ROWS} has other X than"),
        ):
            make(tmp_path / "ck", epochs=1).fit(*data.read())
