"""Data in: synthetic data sets, file readers, the train/test split, and a zarr writer.

Everything here returns dask arrays chunked along rows only, with known chunk sizes and
``y``'s blocks aligned with ``X``'s, which is what daskpar's estimators take::

    X, y = make_classification(10_000_000, 100, chunks=250_000, random_state=0)  # lazy
    write_zarr("data.zarr", X, y)                                      # one pass, chunk by chunk
    X, y = read_zarr("data.zarr")                                      # metadata only
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.1, random_state=0)

Generators (:func:`make_classification`, :func:`make_regression`) draw each chunk inside its
own task, from seeds that depend on ``random_state`` only, so the same call gives the same
data on any cluster and with any ``chunks``. Readers read metadata at call time and data
inside the tasks, except :func:`read_csv`, :func:`read_json` and :func:`read_svmlight`,
which count the rows of text files in one pass;
:func:`read_path` picks the reader from what the path is. :func:`write_zarr` writes a store
completely or not at all.
"""

from __future__ import annotations

import os
import secrets
import shutil
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dask.array as da
import numpy as np

from ._generate import make_classification, make_regression
from ._graph import compute_blocks
from ._io import read_csv, read_hdf5, read_json, read_npy, read_parquet, read_path, read_zarr
from ._io._remote import (
    STORAGE_OPTIONS_PARAM,
    StorageOptions,
    StorageOptionsLike,
    filesystem,
    is_remote,
    local_path,
    remote_location,
)
from ._io.svmlight import read_svmlight
from ._sklearn_compat import validate_params
from ._split import train_test_split
from ._validation import check_blocks, check_X, check_X_y
from .errors import InputError

__all__ = [
    "check_blocks",
    "make_classification",
    "make_regression",
    "read_csv",
    "read_hdf5",
    "read_json",
    "read_npy",
    "read_parquet",
    "read_svmlight",
    "read_path",
    "read_zarr",
    "train_test_split",
    "write_zarr",
]


def _compressors(dtype: Any) -> Any:
    """The codec of a numeric array: Blosc's LZ4 with byte shuffling, chosen by measurement
    (``benchmarks/codecs.py``: on ``make-data``'s float32 features it decompresses about 2.6x
    faster per core than zarr's default zstd and stores 0.79 of the data against zstd's 0.94;
    the learners' floor is mostly decompression). Other arrays keep zarr's default."""
    from zarr.codecs import BloscCodec

    if np.dtype(dtype).kind in "biuf":
        return BloscCodec(cname="lz4", clevel=5, shuffle="shuffle")
    return "auto"


def _regular_rows(a: da.Array, rows: int) -> da.Array:
    """``a`` with ``rows`` rows per chunk (the last may be shorter), as zarr requires."""
    n = a.shape[0]
    target = (rows,) * (n // rows) + ((n % rows,) if n % rows else ())
    if a.chunks[0] == target and all(len(c) == 1 for c in a.chunks[1:]):
        return a
    out: da.Array = a.rechunk({0: target, **{axis: -1 for axis in range(1, a.ndim)}})
    return out


class _WriteGuard:
    """Lets a failed write wait for the chunk writes still running in other threads.

    dask's local schedulers raise a task's error at once, while tasks already started in
    other threads go on; a chunk written after the temporary store is removed would bring
    its directories back. Writes go through this guard: none starts once it is closed, and
    closing waits for those under way. It pickles as a new guard: on a cluster, a chunk write
    under way in another process when the error arrives may still leave a temporary
    directory behind (never a store at the target path).
    """

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._writing = 0
        self._closed = False

    def __reduce__(self) -> tuple[type[_WriteGuard], tuple[()]]:
        return _WriteGuard, ()

    def begin(self) -> bool:
        with self._changed:
            if not self._closed:
                self._writing += 1
            return not self._closed

    def end(self) -> None:
        with self._changed:
            self._writing -= 1
            self._changed.notify_all()

    def close(self, timeout: float = 60.0) -> None:
        with self._changed:
            self._closed = True
            self._changed.wait_for(lambda: self._writing == 0, timeout)


@dataclass(frozen=True, eq=False)
class _GuardedArray:
    """A zarr array that :func:`dask.array.store` writes chunks into, through a guard."""

    array: Any
    guard: _WriteGuard

    def __setitem__(self, key: Any, value: Any) -> None:
        if not self.guard.begin():
            return  # the write has failed: this chunk would only be removed again
        try:
            self.array[key] = value
        finally:
            self.guard.end()


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def _move_into_place(new: Path, target: Path) -> None:
    """Rename the complete store ``new`` to ``target``, replacing what is there, if anything.

    A directory cannot be renamed over a non-empty one, so an old store is first renamed
    aside, and removed only once the new one is in place (put back if that fails).
    """
    if not target.exists() and not target.is_symlink():
        os.replace(new, target)
        return
    old = target.with_name(f"{target.name}.old-{secrets.token_hex(4)}")
    os.replace(target, old)
    try:
        os.replace(new, target)
    except BaseException:
        os.replace(old, target)
        raise
    _remove(old)


#: The object of a zarr 3 group that makes it a group: written last, it commits a store.
_GROUP_METADATA = "zarr.json"


def _remote_store_exists(fs: Any, root: str) -> bool:
    return bool(fs.exists(root) and (fs.isfile(root) or fs.ls(root, detail=False)))


def _write_zarr_remote(
    url: str,
    options: StorageOptions,
    arrays: dict[str, da.Array],
    rows: int,
    overwrite: bool,
) -> None:
    """:func:`write_zarr` into an object store, where there is no rename: write, then commit.

    The group's metadata object (``zarr.json``) is what makes the prefix a zarr group to
    :func:`read_zarr`. It is taken away while the chunks are written and put back last, in
    one PUT, which S3 (and GCS, Azure Blob) applies atomically: a reader sees no group until
    every chunk is stored, never a partial store. An old store is first uncommitted (its
    ``zarr.json`` deleted) and removed, so replacing one is not atomic: in between, there is
    no store at ``url``.
    """
    import zarr

    fs, root = filesystem(url, options)
    root = root.rstrip("/")
    fs.invalidate_cache()
    if _remote_store_exists(fs, root):
        if not overwrite:
            raise InputError(
                f"write_zarr: {url!r} already exists. Pass overwrite=True to replace it, or "
                "choose another path."
            )
        for name in (_GROUP_METADATA, ".zgroup"):  # uncommit first: no reader sees a mix
            if fs.exists(f"{root}/{name}"):
                fs.rm(f"{root}/{name}")
        fs.rm(root, recursive=True)
        fs.invalidate_cache()
    guard = _WriteGuard()
    try:
        group = zarr.open_group(url, mode="w-", storage_options=options.options)
        stores = _zarr_targets(group, arrays, rows, guard)
        fs.invalidate_cache()
        commit = fs.cat_file(f"{root}/{_GROUP_METADATA}")
        fs.rm(f"{root}/{_GROUP_METADATA}")
        writes = da.store(list(arrays.values()), stores, lock=False, compute=False)
        compute_blocks(*(writes if isinstance(writes, tuple) else (writes,)))
        fs.pipe_file(f"{root}/{_GROUP_METADATA}", commit)  # the commit: one atomic PUT
    except BaseException:
        guard.close()
        try:
            fs.invalidate_cache()
            if fs.exists(root):
                fs.rm(root, recursive=True)
        except Exception:  # the first error is the one to report
            pass
        raise


def _zarr_targets(
    group: Any, arrays: dict[str, da.Array], rows: int, guard: _WriteGuard
) -> list[Any]:
    """The arrays of ``group`` that ``arrays`` are written into, one per name."""
    return [
        _GuardedArray(
            group.create_array(
                name,
                shape=a.shape,
                chunks=(rows, *(max(n, 1) for n in a.shape[1:])),
                dtype=a.dtype,
                compressors=_compressors(a.dtype),
                # zarr skips chunks equal to the fill value by default; a complete store
                # holds every chunk, which is what read_zarr checks.
                config={"write_empty_chunks": True},
            ),
            guard,
        )
        for name, a in arrays.items()
    ]


@validate_params(
    {
        "path": [str, os.PathLike],
        "x": [str],
        "y_name": [str],
        "overwrite": ["boolean"],
        "storage_options": STORAGE_OPTIONS_PARAM,
    },
    prefer_skip_nested_validation=True,
)
def write_zarr(
    path: str | os.PathLike[str],
    X: da.Array,
    y: da.Array | None = None,
    *,
    x: str = "X",
    y_name: str = "y",
    overwrite: bool = False,
    storage_options: StorageOptionsLike = None,
) -> None:
    """Write ``X`` (and ``y``) to a zarr store, chunk by chunk, in one pass, atomically.

    ``X`` and ``y`` are computed together, so a generated chunk is drawn once for both.
    The store keeps ``X``'s row chunks (made uniform if they are not, as zarr requires) and
    one column chunk; read it back with :func:`read_zarr`.

    The store is written under a temporary name next to ``path`` (``<path>.tmp-<random>``)
    and renamed to ``path`` once complete; if the write fails or is interrupted, the
    temporary store is removed and ``path`` is as it was, so that a store at ``path`` is
    never a partial one. Every chunk is stored, even one holding only zeros, so that
    :func:`read_zarr` can tell a complete store from an incomplete one.

    An object store (``s3://...``) has no rename: the chunks are written in place and the
    group's metadata object last, in one PUT, which commits the store (see
    ``docs/object-stores.md`` for what each store guarantees).

    Parameters
    ----------
    path : str or path-like
        The zarr group to create (a directory, or an fsspec URL). A relative path is
        relative to the current directory of this process, also when a cluster's workers do
        the writing.
    X : dask array of shape (n_samples, n_features)
    y : dask array of shape (n_samples,), optional
        Must have ``X``'s row chunks (a numpy ``y`` is given them).
    x : str, default="X"
        The name of ``X``'s array in the store.
    y_name : str, default="y"
        The name of ``y``'s array in the store.
    overwrite : bool, default=False
        Replace an existing store at ``path`` (once the new one is complete; on an object
        store, the old one is removed first); otherwise an existing path is an error.
    storage_options : dict, optional
        For a URL: the options of its fsspec file system (credentials, endpoint). None uses
        the store library's defaults (for S3, the ``AWS_*`` environment variables).

    Examples
    --------
    >>> import tempfile
    >>> from daskpar.data import make_classification, read_zarr, write_zarr
    >>> X, y = make_classification(1000, 5, chunks=250, random_state=0)
    >>> path = tempfile.mkdtemp() + "/data.zarr"
    >>> write_zarr(path, X, y)
    >>> X2, y2 = read_zarr(path)
    >>> bool((X2 == X).all().compute()), y2.chunks
    (True, ((250, 250, 250, 250),))
    """
    import zarr

    if y is None:
        X = check_X(X)
    else:
        X, y = check_X_y(X, y)
    if is_remote(path):
        url, options = remote_location(path, storage_options, "write_zarr")
        rows = max(max(X.chunks[0], default=1), 1)
        arrays = {x: _regular_rows(X, rows)}
        if y is not None:
            arrays[y_name] = _regular_rows(y, rows)
        _write_zarr_remote(url, options, arrays, rows, overwrite)
        return
    path = local_path(path)
    # Absolute, so that workers started in another directory write where this process means.
    target = Path(path).resolve()
    if (target.exists() or target.is_symlink()) and not overwrite:
        raise InputError(
            f"write_zarr: {os.fspath(path)!r} already exists. Pass overwrite=True to "
            "replace it, or choose another path."
        )
    rows = max(max(X.chunks[0], default=1), 1)
    arrays = {x: _regular_rows(X, rows)}
    if y is not None:
        arrays[y_name] = _regular_rows(y, rows)
    temporary = target.with_name(f"{target.name}.tmp-{secrets.token_hex(4)}")
    guard = _WriteGuard()
    try:
        group = zarr.open_group(temporary, mode="w-")
        stores = _zarr_targets(group, arrays, rows, guard)
        # Chunk-aligned writes: no two tasks write the same chunk, so no lock is needed. The
        # writes run as dask's "store-map" tasks, under that name on any scheduler.
        writes = da.store(list(arrays.values()), stores, lock=False, compute=False)
        compute_blocks(*(writes if isinstance(writes, tuple) else (writes,)))
        _move_into_place(temporary, target)
    except BaseException:
        guard.close()
        _remove(temporary)
        raise
