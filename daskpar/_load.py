"""Readers: files on disk to row-chunked ``(X, y)`` dask arrays.

Every reader reads metadata only at call time (shapes, dtypes, row groups, chunk listings) and
returns arrays chunked along rows only, with known chunk sizes and ``y``'s blocks aligned with
``X``'s. The one exception is :func:`read_csv`: a CSV file has no row index, so counting its
rows takes one pass over the data. :func:`read_path` picks the reader from what a path is.

The graphs never hold data: zarr arrays, numpy memory maps and h5py datasets are wrapped in
small picklable objects (:class:`ZarrArray`, :class:`NpyFile`, :class:`Hdf5Dataset`) that open
the file, by its absolute path, inside the task; Parquet row groups are read by the task that
needs them (:func:`read_parquet_row_group`).

Blocks are sized for parallelism as well as memory: unless told otherwise, a reader that can
choose its blocks (everything but zarr, whose blocks are the store's chunks) makes at least
``min_partitions`` of them, but none under ``MIN_BLOCK_ROWS`` rows, and none over about
``DEFAULT_BLOCK_BYTES`` of ``X``. A reader that ends up with more than ``MANY_BLOCKS`` blocks
of a median under ``MIN_BLOCK_ROWS`` rows warns: per-task overhead would dominate.
"""

from __future__ import annotations

import asyncio
import glob
import importlib
import itertools
import json
import math
import os
import re
import socket
import zipfile
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from numbers import Integral
from pathlib import Path
from types import ModuleType
from typing import Any, Literal

import dask.array as da
import numpy as np
from dask.base import tokenize
from dask.task_spec import GraphNode, Task
from numpy.typing import NDArray

from ._graph import arrays_from_pair_tasks, compute_blocks, renamed, stage_name
from ._sklearn_compat import Interval, StrOptions, validate_params
from ._validation import MIN_BLOCK_ROWS, warn_if_tiny_partitions
from .errors import InputError, PartitionError

__all__ = [
    "Hdf5Dataset",
    "NpyFile",
    "ZarrArray",
    "clean_target_partition",
    "read_csv",
    "read_hdf5",
    "read_npy",
    "read_parquet",
    "read_parquet_row_group",
    "read_path",
    "read_zarr",
]

PathLike = str | os.PathLike[str]
RowChunks = int | Sequence[int] | None
MissingChunks = Literal["raise", "fill"]

#: Largest block, in bytes of ``X``, when the file does not impose its own (Parquet row groups
#: larger than this are split).
DEFAULT_BLOCK_BYTES = 128 * 2**20
#: Largest CSV block, in bytes of text, when ``read_csv`` chooses the block size.
MAX_CSV_BLOCK_BYTES = 64 * 2**20
#: Blocks a reader makes, when it chooses, so that several workers have something to do.
DEFAULT_MIN_PARTITIONS = 8

#: The ``stacklevel`` of the readers' warnings, which reaches their caller: the readers run
#: inside ``validate_params``'s wrapper.
READER_STACKLEVEL = 4

# Parameter constraints the readers share.
_PATH: list[Any] = [str, os.PathLike]
_ROW_CHUNKS: list[Any] = [Interval(Integral, 1, None, closed="left"), tuple, list, None]
_MIN_PARTITIONS: list[Any] = [Interval(Integral, 1, None, closed="left")]
_MISSING_CHUNKS: list[Any] = [StrOptions({"raise", "fill"})]
_COLUMNS: list[Any] = ["array-like", None]

#: CSV compressions by file suffix: dask cannot split these files into blocks.
_CSV_COMPRESSIONS = {".gz": "gzip", ".bz2": "bz2", ".xz": "xz", ".zst": "zstd"}


def _import_optional(module: str, what: str) -> ModuleType:
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise ImportError(
            f"{what} needs the optional dependency {module.split('.')[0]!r}. Install it with "
            "pip install 'daskpar[io]'."
        ) from exc


def _is_url(path: PathLike) -> bool:
    return "://" in os.fspath(path)


def _existing(path: PathLike, what: str) -> Path:
    p = Path(path)
    if not p.exists():
        raise InputError(f"{what}: no such file or directory: {os.fspath(path)!r}.")
    return p


def _tree_stamp(folder: str) -> tuple[int, int, int]:
    """(files, bytes, latest mtime) under ``folder``: changes when any file in it is written.

    A stat per chunk file, which a local file system answers from its cache (about a
    millisecond per thousand chunks).
    """
    count = size = latest = 0
    for root, _, files in os.walk(folder):
        for name in files:
            st = os.stat(os.path.join(root, name))
            count, size, latest = count + 1, size + st.st_size, max(latest, st.st_mtime_ns)
    return count, size, latest


def _file_token(path: Path) -> str:
    """Changes when the file does, so that a rewritten file gets new task keys."""
    stat = path.stat()
    return tokenize(str(path.resolve()), stat.st_size, stat.st_mtime_ns)


def _default_block_rows(n_rows: int, row_bytes: int, min_partitions: int) -> int:
    """Rows per block when the caller does not say.

    At most ``DEFAULT_BLOCK_BYTES`` of ``X``; few enough rows to make ``min_partitions`` blocks,
    unless that would put fewer than ``MIN_BLOCK_ROWS`` rows in a block.
    """
    by_bytes = max(1, DEFAULT_BLOCK_BYTES // max(row_bytes, 1))
    by_count = max(MIN_BLOCK_ROWS, math.ceil(n_rows / min_partitions))
    return min(by_bytes, by_count)


def _row_chunks(
    chunks: RowChunks,
    n_rows: int,
    row_bytes: int,
    what: str,
    min_partitions: int = DEFAULT_MIN_PARTITIONS,
) -> tuple[int, ...]:
    """Rows per block: as asked, or as :func:`_default_block_rows` chooses."""
    if chunks is None:
        chunks = _default_block_rows(n_rows, row_bytes, min_partitions)
    if isinstance(chunks, int | np.integer):
        size = min(int(chunks), max(n_rows, 1))  # positive: the readers' constraints say so
        full, rest = divmod(n_rows, size)
        return (size,) * full + ((rest,) if rest else ()) or (0,)
    sizes = tuple(int(c) for c in chunks)
    if any(c < 0 for c in sizes) or sum(sizes) != n_rows:
        raise InputError(
            f"{what}: chunks {sizes} must be non-negative row counts adding up to the "
            f"{n_rows} rows of the file."
        )
    return sizes


def _largest_cut(sizes: Sequence[int], wanted: int) -> int:
    """The largest cut ``c`` that makes at least ``wanted`` parts of pieces of ``sizes``.

    A piece of size ``s`` makes ``s // c`` parts (at least one), as dask cuts a CSV file of
    ``s`` bytes and :func:`read_parquet` a row group of ``s`` rows; 1 if no cut does.
    """

    def parts(cut: int) -> int:
        return sum(max(1, s // cut) for s in sizes)

    lo, hi = 1, max(1, sum(sizes) // max(wanted, 1))
    while lo < hi:  # parts() only falls as the cut grows
        mid = (lo + hi + 1) // 2
        lo, hi = (mid, hi) if parts(mid) >= wanted else (lo, mid - 1)
    return lo


def _check_two_d(shape: tuple[int, ...], what: str) -> None:
    if len(shape) != 2:
        hint = " Reshape it to (n_samples, 1) if it is a single feature." if len(shape) == 1 else ""
        raise InputError(f"{what} must be 2-D (n_samples, n_features); got shape {shape}.{hint}")


def _check_target(shape: tuple[int, ...], n_rows: int, what: str) -> None:
    if len(shape) == 2 and shape[1] == 1:
        return
    if len(shape) != 1:
        raise InputError(f"{what} must be 1-D (one target per row); got shape {shape}.")
    if shape[0] != n_rows:
        raise InputError(f"{what} has {shape[0]} rows but X has {n_rows}; they must match.")


def _as_target(y: da.Array) -> da.Array:
    return y[:, 0] if y.ndim == 2 else y


def _sliced_lazily(
    source: ZarrArray | NpyFile | Hdf5Dataset, rows: tuple[int, ...], stage: str, token: str
) -> da.Array:
    """A dask array of ``rows`` row blocks over ``source``, which each task slices itself.

    ``source`` (a small description of where the data is) goes into every task rather than
    into a task of its own, which the dashboard would show as ``original-<stage>``.
    """
    chunks = (rows,) + (-1,) * (len(source.shape) - 1)
    meta = np.empty((0,) * len(source.shape), dtype=source.dtype)
    name = f"{stage_name(stage)}-{token}"
    out: da.Array = da.from_array(
        source, chunks, name=name, asarray=True, meta=meta, inline_array=True
    )
    return out


def _rechunk(a: da.Array, chunks: dict[int, Any]) -> da.Array:
    out: da.Array = a.rechunk(chunks)
    return out


# --------------------------------------------------------------------------------------------
# zarr


def _zarr_sync(coroutine: Any) -> Any:
    """Run one of zarr's async store calls from sync code, on zarr's own event loop."""
    from zarr.core.sync import sync  # what zarr's sync Array itself uses

    return sync(coroutine)


def _index_range(index: Any, n: int) -> tuple[int, int]:
    """The rows ``[start, stop)`` that one index along an axis of length ``n`` covers."""
    if isinstance(index, slice):
        start, stop, step = index.indices(n)
        return (start, stop) if step == 1 else (0, n)
    return 0, n  # anything else (integer or fancy index): check the whole axis


def _touched_objects(array: Any, key: Any) -> list[str]:
    """Store keys of the chunks (or shards: the objects stored) that ``array[key]`` reads."""
    shape: tuple[int, ...] = tuple(array.shape)
    grid: tuple[int, ...] = tuple(array.shards or array.chunks)
    key = key if isinstance(key, tuple) else (key,)
    key = key + (slice(None),) * (len(shape) - len(key))
    ranges = []
    for index, n, size in zip(key, shape, grid, strict=False):
        start, stop = _index_range(index, n)
        if stop <= start:
            return []
        ranges.append(range(start // size, (stop - 1) // size + 1))
    return [_object_key(array, coords) for coords in itertools.product(*ranges)]


def _object_key(array: Any, coords: tuple[int, ...]) -> str:
    """The store key of the chunk (or shard) at ``coords``: ``c/1/0`` in zarr 3, ``1.0`` in 2."""
    key: str = array.metadata.encode_chunk_key(coords)
    return f"{array.path}/{key}" if array.path else key


def _all_object_keys(array: Any) -> list[str]:
    grid = array.shards or array.chunks
    counts = [math.ceil(n / c) for n, c in zip(array.shape, grid, strict=True)]
    return [_object_key(array, coords) for coords in itertools.product(*map(range, counts))]


def _stored_keys(array: Any) -> set[str]:
    """Every key under ``array``'s prefix: one listing of the store."""
    prefix = f"{array.path}/" if array.path else ""

    async def listing() -> list[str]:
        return [key async for key in array.store.list_prefix(prefix)]

    return set(_zarr_sync(listing()))


def _missing_keys(array: Any, keys: Sequence[str]) -> list[str]:
    root = _local_root(array)
    if root is not None:
        # A file per key: a stat each, without a round trip through zarr's event loop.
        return [key for key in keys if not os.path.exists(os.path.join(root, key))]

    async def exist() -> list[bool]:
        return list(await asyncio.gather(*(array.store.exists(key) for key in keys)))

    return [key for key, found in zip(keys, _zarr_sync(exist()), strict=True) if not found]


def _local_root(array: Any) -> str | None:
    """The folder of ``array``'s store if it is a local directory store, else None."""
    from zarr.storage import LocalStore

    store = array.store
    return str(store.root) if isinstance(store, LocalStore) else None


def _metadata_stamp(store: str, array: str) -> tuple[int, ...] | None:
    """Identity of a local array's metadata file (inode, size, mtime); None if not local.

    A store rewritten in place or by rename (as :func:`write_zarr` does) gets a new stamp,
    so an array opened under an old stamp is never used for the new contents.
    """
    if "://" in store:
        return None
    for name in ("zarr.json", ".zarray"):
        try:
            st = os.stat(os.path.join(store, array, name))
        except OSError:
            continue
        return (st.st_ino, st.st_size, st.st_mtime_ns)
    return None


_OPENED: dict[tuple[str, str, tuple[int, ...]], Any] = {}


def _open_array(store: str, array: str) -> Any:
    """``zarr.open_array(store, path=array)``, opened once per process while unchanged.

    Opening reads and parses the metadata through zarr's event loop, a few milliseconds that
    every task reading a block would pay again; a local array is kept open under the stamp
    of its metadata file. Remote stores are opened by every call.
    """
    import zarr

    stamp = _metadata_stamp(store, array)
    if stamp is None:
        return zarr.open_array(store, path=array, mode="r")
    key = (store, array, stamp)
    opened = _OPENED.get(key)
    if opened is None:
        opened = zarr.open_array(store, path=array, mode="r")
        if len(_OPENED) >= 64:  # stores come and go over a long-lived worker's life
            _OPENED.clear()
        _OPENED[key] = opened
    return opened


def _fill_value(array: Any) -> Any:
    value = array.fill_value
    return value.item() if isinstance(value, np.generic) else value


def _shown(keys: Sequence[str], prefix: str, first: int = 5) -> str:
    names = [k.removeprefix(prefix) for k in keys[:first]]
    return ", ".join(names) + (f", ... ({len(keys) - first} more)" if len(keys) > first else "")


_SPARSE_HINT = (
    "If the array is sparse and was written with zarr's write_empty_chunks=False (its default), "
    "so that chunks holding only the fill value are not stored, pass missing_chunks='fill'."
)


@dataclass(frozen=True)
class ZarrArray:
    """A zarr array that dask can slice: opened, by absolute path or URL, inside each task.

    Pickles as where the array is and what it looks like, so that the graph holds no data and
    no open store. With ``missing_chunks="raise"``, a task first checks that every chunk it
    reads is in the store, since zarr reads a missing chunk as the array's fill value: a
    chunk deleted after :func:`read_zarr` returned, or a store that a worker cannot see,
    is an error rather than zeros.
    """

    store: str
    array: str
    shape: tuple[int, ...]
    dtype: np.dtype[Any]
    missing_chunks: MissingChunks = "raise"

    @property
    def ndim(self) -> int:
        return len(self.shape)

    def __getitem__(self, key: Any) -> NDArray[Any]:
        where = f"array {self.array!r} of {self.store!r}"
        try:
            arr = _open_array(self.store, self.array)
        except Exception as exc:  # FileNotFoundError, ArrayNotFoundError, ...
            raise PartitionError(
                f"read_zarr: cannot open {where} on host {socket.gethostname()!r} ({exc}). "
                "It was moved or deleted after read_zarr was called, or this worker cannot see "
                "it: every worker must see the store at the path the client gave, so put it on "
                "a file system that the client and the workers share, or in object storage (a "
                "URL such as s3://...)."
            ) from exc
        if tuple(arr.shape) != self.shape:
            raise PartitionError(
                f"read_zarr: {where} has shape {tuple(arr.shape)}, not {self.shape} as when "
                "read_zarr was called: the store was rewritten since. Call read_zarr again."
            )
        if self.missing_chunks == "raise":
            missing = _missing_keys(arr, _touched_objects(arr, key))
            if missing:
                start, stop = _index_range(key[0] if isinstance(key, tuple) else key, arr.shape[0])
                prefix = f"{arr.path}/" if arr.path else ""
                raise PartitionError(
                    f"read_zarr: chunk(s) {_shown(missing, prefix)} of {where} (rows {start} to "
                    f"{stop - 1}) are missing from the store; zarr would read them as the fill "
                    f"value {_fill_value(arr)!r}. The store was changed or deleted after read_zarr "
                    "was called, or its write did not finish: write it again. " + _SPARSE_HINT
                )
        try:
            return np.asarray(arr[key])
        except OSError as exc:  # the storage failed: perhaps only this time
            start, stop = _index_range(key[0] if isinstance(key, tuple) else key, arr.shape[0])
            raise PartitionError(
                f"read_zarr: reading rows {start} to {stop - 1} of {where} on host "
                f"{socket.gethostname()!r} failed ({type(exc).__name__}: {exc}). If the storage "
                "fails now and then, pass retries=N to the estimator or search: dask then runs "
                "a failed task again, up to N times."
            ) from exc
        except Exception as exc:  # a codec's error on bytes that are not what was written
            start, stop = _index_range(key[0] if isinstance(key, tuple) else key, arr.shape[0])
            prefix = f"{arr.path}/" if arr.path else ""
            raise PartitionError(
                f"read_zarr: chunk(s) {_shown(_touched_objects(arr, key), prefix)} of {where} "
                f"(rows {start} to {stop - 1}) cannot be decoded ({type(exc).__name__}: {exc}): "
                "the store is corrupted. Write it again."
            ) from exc


@validate_params(
    {"path": _PATH, "x": [str], "y": [str, None], "missing_chunks": _MISSING_CHUNKS},
    prefer_skip_nested_validation=True,
)
def read_zarr(
    path: PathLike,
    *,
    x: str = "X",
    y: str | None = "y",
    missing_chunks: MissingChunks = "raise",
) -> tuple[da.Array, da.Array | None]:
    """Read ``X`` and ``y`` from a zarr store (format 2 or 3).

    ``X`` keeps the store's row chunks, one block per row of chunks; column chunks are read
    together, because daskpar partitions rows only. ``y`` is read in ``X``'s row blocks.

    A local path is made absolute here, so that workers started in another directory read the
    same store. zarr reads a chunk that is not in the store as the array's fill value (zeros),
    which for dense data means an incomplete or vanished store, never data; so by default
    every chunk must be there: a local store's chunks are listed at call time, and each task
    checks the chunks it reads (a remote store is checked by the tasks only).

    Parameters
    ----------
    path : str or path-like
        The zarr group (a directory, or any URL zarr can open).
    x : str, default="X"
        The array of features, of shape (n_samples, n_features).
    y : str or None, default="y"
        The array of targets, of shape (n_samples,). None reads ``X`` only.
    missing_chunks : {"raise", "fill"}, default="raise"
        What a chunk missing from the store means. ``"raise"``: an error, at call time or in
        the task that reads it, naming the array and the chunks. ``"fill"``: the array's fill
        value, as zarr itself reads it; only for genuinely sparse arrays written with zarr's
        ``write_empty_chunks=False``, where chunks holding only the fill value are not stored.
        :func:`daskpar.data.write_zarr` stores every chunk.

    Returns
    -------
    X : dask array of shape (n_samples, n_features)
    y : dask array of shape (n_samples,), or None if ``y`` is None

    Raises
    ------
    InputError
        At call time: no store, no such array, or (``missing_chunks="raise"``, local store)
        chunks missing from the store.
    PartitionError
        When computed: a task cannot open the store, or finds one of its chunks missing.

    Examples
    --------
    >>> import tempfile
    >>> from daskpar.data import make_classification, read_zarr, write_zarr
    >>> path = tempfile.mkdtemp() + "/data.zarr"
    >>> write_zarr(path, *make_classification(1000, 5, chunks=250, random_state=0))
    >>> X, y = read_zarr(path)
    >>> X.chunks[0] == y.chunks[0] == (250, 250, 250, 250)
    True
    """
    import zarr

    what = "read_zarr"
    # Absolute, so that a worker started in another directory opens the same store.
    store = os.fspath(path) if _is_url(path) else str(_existing(path, what).resolve())
    try:
        group = zarr.open_group(store, mode="r")
    except Exception as exc:  # not a group: FileNotFoundError, GroupNotFoundError, ...
        raise InputError(f"{what}: {os.fspath(path)!r} is not a zarr group ({exc}).") from exc
    names = sorted(group.array_keys())

    def open_array(name: str) -> Any:
        try:
            arr = group[name]
        except KeyError:
            arr = None
        if not isinstance(arr, zarr.Array):
            raise InputError(
                f"{what}: no array {name!r} in {os.fspath(path)!r}; its arrays are {names}."
            )
        if missing_chunks == "raise" and isinstance(arr.store, zarr.storage.LocalStore):
            expected = _all_object_keys(arr)
            stored = _stored_keys(arr)
            missing = [key for key in expected if key not in stored]
            if missing:
                raise InputError(
                    f"{what}: array {name!r} of {os.fspath(path)!r} is missing {len(missing)} "
                    f"of its {len(expected)} chunks ({_shown(missing, f'{arr.path}/')}); zarr "
                    f"would read them as the fill value {_fill_value(arr)!r}. The store is "
                    "incomplete, probably from a write that did not finish: write it again "
                    "(daskpar.data.write_zarr writes a store completely or not at all). "
                    + _SPARSE_HINT
                )
        return arr

    zx = open_array(x)
    _check_two_d(zx.shape, f"{what}: array {x!r}")
    rows = _row_chunks(zx.chunks[0], zx.shape[0], 0, what)
    warn_if_tiny_partitions(
        rows,
        what,
        "Write the data again with more rows per chunk (write_zarr keeps X's row chunks): "
        f"write_zarr(new_path, X.rechunk({{0: {100 * MIN_BLOCK_ROWS}}}), "
        f"y.rechunk({100 * MIN_BLOCK_ROWS})).",
        stacklevel=READER_STACKLEVEL,
    )
    zy = open_array(y) if y is not None else None
    # A store written again gets new task keys: replaced whole (as write_zarr does) or
    # rewritten in place, chunk by chunk.
    stamp = None
    if not _is_url(store):
        arrays = [
            os.path.join(store, zx.path),
            *([os.path.join(store, zy.path)] if zy is not None else []),
        ]
        stamp = (os.stat(store).st_ino, os.stat(store).st_mtime_ns, *map(_tree_stamp, arrays))
    token = tokenize(store, stamp, x, y, zx.shape, zx.dtype.str, zx.chunks, missing_chunks)
    sx = ZarrArray(store, zx.path, tuple(zx.shape), np.dtype(zx.dtype), missing_chunks)
    X = _sliced_lazily(sx, rows, "read-zarr-X", token)
    if zy is None:
        return X, None
    _check_target(zy.shape, zx.shape[0], f"{what}: array {y!r}")
    sy = ZarrArray(store, zy.path, tuple(zy.shape), np.dtype(zy.dtype), missing_chunks)
    return X, _as_target(_sliced_lazily(sy, rows, "read-zarr-y", token))


# --------------------------------------------------------------------------------------------
# npy


@dataclass(frozen=True)
class NpyFile:
    """A ``.npy`` file that dask can slice: opened (memory-mapped) inside each task.

    Pickles as its path, shape and dtype; pickling the memory map itself would copy the
    whole file into the graph.
    """

    path: str
    shape: tuple[int, ...]
    dtype: np.dtype[Any]

    @property
    def ndim(self) -> int:
        return len(self.shape)

    def __getitem__(self, key: Any) -> NDArray[Any]:
        mm = np.load(self.path, mmap_mode="r")
        return np.array(mm[key])  # a copy in memory, not a view of the map


def _open_npy(path: PathLike, what: str) -> NpyFile:
    p = _existing(path, what)
    with open(p, "rb") as f:
        try:
            np.lib.format.read_magic(f)
        except ValueError:
            if not zipfile.is_zipfile(p):
                raise InputError(
                    f"{what}: {os.fspath(path)!r} is not a .npy file: it does not start with the "
                    "NumPy header. Write it with numpy.save, or read it with the reader of its "
                    "format."
                ) from None
    try:
        mm = np.load(p, mmap_mode="r")
    except (ValueError, OSError) as exc:
        raise InputError(f"{what}: cannot memory-map {os.fspath(path)!r} as .npy: {exc}") from exc
    if not isinstance(mm, np.ndarray):
        raise InputError(f"{what}: {os.fspath(path)!r} is not a .npy file (an .npz archive?).")
    return NpyFile(str(p.resolve()), tuple(mm.shape), mm.dtype)


@validate_params(
    {
        "x_path": _PATH,
        "y_path": [*_PATH, None],
        "chunks": _ROW_CHUNKS,
        "min_partitions": _MIN_PARTITIONS,
    },
    prefer_skip_nested_validation=True,
)
def read_npy(
    x_path: PathLike,
    y_path: PathLike | None = None,
    *,
    chunks: RowChunks = None,
    min_partitions: int = DEFAULT_MIN_PARTITIONS,
) -> tuple[da.Array, da.Array | None]:
    """Read ``X`` (and ``y``) from ``.npy`` files, memory-mapped inside each task.

    Parameters
    ----------
    x_path : str or path-like
        A ``.npy`` file holding a 2-D array (n_samples, n_features).
    y_path : str or path-like, optional
        A ``.npy`` file holding a 1-D array (n_samples,). None returns ``(X, None)``.
    chunks : int or sequence of int, optional
        Rows per block, or every block's rows. Default: at least ``min_partitions`` blocks
        of at most 128 MiB of ``X`` each, but not under 1000 rows each.
    min_partitions : int, default=8
        How many blocks to make, at least, when ``chunks`` is None and there are rows
        enough, so that several workers have something to do.

    Returns
    -------
    X : dask array of shape (n_samples, n_features)
    y : dask array of shape (n_samples,), or None

    Examples
    --------
    >>> import pathlib, tempfile
    >>> import numpy as np
    >>> from daskpar.data import read_npy
    >>> tmp_path = pathlib.Path(tempfile.mkdtemp())
    >>> np.save(tmp_path / "X.npy", np.ones((10, 3)))
    >>> np.save(tmp_path / "y.npy", np.arange(10))
    >>> X, y = read_npy(tmp_path / "X.npy", tmp_path / "y.npy", chunks=4)
    >>> X.chunks, y.chunks
    (((4, 4, 2), (3,)), ((4, 4, 2),))
    """
    what = "read_npy"
    fx = _open_npy(x_path, what)
    _check_two_d(fx.shape, f"{what}: {os.fspath(x_path)!r}")
    n_rows = fx.shape[0]
    rows = _row_chunks(chunks, n_rows, fx.shape[1] * fx.dtype.itemsize, what, min_partitions)
    warn_if_tiny_partitions(
        rows,
        what,
        "Pass a larger chunks=, or chunks=None to let read_npy choose.",
        stacklevel=READER_STACKLEVEL,
    )
    token = tokenize(_file_token(Path(fx.path)), rows)
    X = _sliced_lazily(fx, rows, "read-npy-X", token)
    if y_path is None:
        return X, None
    fy = _open_npy(y_path, what)
    _check_target(fy.shape, n_rows, f"{what}: {os.fspath(y_path)!r}")
    y_token = tokenize(_file_token(Path(fy.path)), rows)
    return X, _as_target(_sliced_lazily(fy, rows, "read-npy-y", y_token))


# --------------------------------------------------------------------------------------------
# HDF5


@dataclass(frozen=True)
class Hdf5Dataset:
    """An HDF5 dataset that dask can slice: the file is opened inside each task.

    h5py objects cannot be pickled; this holds the file name and dataset path only.
    """

    path: str
    dataset: str
    shape: tuple[int, ...]
    dtype: np.dtype[Any]

    @property
    def ndim(self) -> int:
        return len(self.shape)

    def __getitem__(self, key: Any) -> NDArray[Any]:
        h5py = _import_optional("h5py", "read_hdf5")
        with h5py.File(self.path, "r") as f:
            return np.asarray(f[self.dataset][key])


@validate_params(
    {
        "path": _PATH,
        "x": [str],
        "y": [str, None],
        "chunks": _ROW_CHUNKS,
        "min_partitions": _MIN_PARTITIONS,
    },
    prefer_skip_nested_validation=True,
)
def read_hdf5(
    path: PathLike,
    *,
    x: str = "X",
    y: str | None = "y",
    chunks: RowChunks = None,
    min_partitions: int = DEFAULT_MIN_PARTITIONS,
) -> tuple[da.Array, da.Array | None]:
    """Read ``X`` and ``y`` from datasets of an HDF5 file, opened inside each task.

    Parameters
    ----------
    path : str or path-like
        The HDF5 file.
    x : str, default="X"
        The dataset of features, of shape (n_samples, n_features).
    y : str or None, default="y"
        The dataset of targets, of shape (n_samples,). None returns ``(X, None)``.
    chunks : int or sequence of int, optional
        Rows per block, or every block's rows. Default: as :func:`read_npy` chooses, rounded
        to a multiple of the dataset's own HDF5 row chunks when it has some.
    min_partitions : int, default=8
        How many blocks to make, at least, when ``chunks`` is None and there are rows
        enough, so that several workers have something to do.

    Returns
    -------
    X : dask array of shape (n_samples, n_features)
    y : dask array of shape (n_samples,), or None

    Examples
    --------
    >>> import pathlib, tempfile
    >>> import h5py, numpy as np
    >>> from daskpar.data import read_hdf5
    >>> tmp_path = pathlib.Path(tempfile.mkdtemp())
    >>> with h5py.File(tmp_path / "d.h5", "w") as f:
    ...     _ = f.create_dataset("X", data=np.ones((10, 3)))
    ...     _ = f.create_dataset("y", data=np.arange(10))
    >>> X, y = read_hdf5(tmp_path / "d.h5", chunks=5)
    >>> X.chunks, y.chunks
    (((5, 5), (3,)), ((5, 5),))
    """
    what = "read_hdf5"
    h5py = _import_optional("h5py", what)
    p = _existing(path, what)
    try:
        f = h5py.File(p, "r")
    except OSError as exc:
        raise InputError(f"{what}: cannot open {os.fspath(path)!r} as HDF5: {exc}") from exc
    with f:
        names: list[str] = []

        def collect_dataset(name: str, obj: Any) -> None:
            if isinstance(obj, h5py.Dataset):
                names.append(name)

        f.visititems(collect_dataset)

        def describe(name: str) -> tuple[Hdf5Dataset, tuple[int, ...] | None]:
            ds = f.get(name)
            if ds is None or not isinstance(ds, h5py.Dataset):
                raise InputError(
                    f"{what}: no dataset {name!r} in {os.fspath(path)!r}; its datasets are "
                    f"{sorted(names)}."
                )
            return Hdf5Dataset(str(p.resolve()), name, tuple(ds.shape), ds.dtype), ds.chunks

        dx, x_storage_chunks = describe(x)
        dy = describe(y)[0] if y is not None else None
    _check_two_d(dx.shape, f"{what}: dataset {x!r}")
    n_rows = dx.shape[0]
    row_bytes = dx.shape[1] * dx.dtype.itemsize
    if chunks is None and x_storage_chunks is not None:
        target = _default_block_rows(n_rows, row_bytes, min_partitions)
        chunks = max(1, target // x_storage_chunks[0]) * x_storage_chunks[0]
    rows = _row_chunks(chunks, n_rows, row_bytes, what, min_partitions)
    warn_if_tiny_partitions(
        rows,
        what,
        "Pass a larger chunks=, or chunks=None to let read_hdf5 choose.",
        stacklevel=READER_STACKLEVEL,
    )
    token = tokenize(_file_token(p), x, y, rows)
    # "hdf", not "hdf5": the dashboard's key_split stops at a word holding a digit.
    X = _sliced_lazily(dx, rows, "read-hdf-X", token)
    if dy is None:
        return X, None
    _check_target(dy.shape, n_rows, f"{what}: dataset {y!r}")
    return X, _as_target(_sliced_lazily(dy, rows, "read-hdf-y", token))


# --------------------------------------------------------------------------------------------
# Tables: Parquet and CSV


def _feature_columns(
    available: Sequence[str],
    numeric: set[str],
    types: dict[str, str],
    *,
    target: str,
    columns: Sequence[str] | None,
    where: str,
    what: str,
    index_columns: Collection[str] = (),
) -> list[str]:
    """Check ``target`` and the feature columns; return the feature columns, in order.

    By default every column but the target and ``index_columns`` (a DataFrame's index, which
    pandas and dask store as columns) is a feature; ``columns`` may name any column.
    """
    if target not in available:
        raise InputError(
            f"{what}: no target column {target!r} in {where}; its columns are {list(available)}."
        )
    if columns is None:
        features = [c for c in available if c != target and c not in index_columns]
    else:
        features = list(columns)
        missing = [c for c in features if c not in available]
        if missing:
            raise InputError(
                f"{what}: no column(s) {missing} in {where}; its columns are {list(available)}."
            )
        if target in features:
            raise InputError(f"{what}: the target column {target!r} is also in columns.")
    if not features:
        index = [c for c in available if c in index_columns]
        besides = f"{target!r}" + (f" and the index column(s) {index}" if index else "")
        raise InputError(f"{what}: no feature column left in {where} besides {besides}.")
    bad = [c for c in features if c not in numeric]
    if bad:
        kinds = ", ".join(f"{c!r} ({types[c]})" for c in bad)
        raise InputError(
            f"{what}: feature column(s) {kinds} of {where} are not numeric. Encode them as "
            "numbers before writing the file, or pass columns=[...] naming the numeric feature "
            "columns to use."
        )
    return features


def _float_dtype(dtypes: Sequence[np.dtype[Any]]) -> np.dtype[Any]:
    """The dtype of X: the columns' common type, promoted to floating point if it is not."""
    out = np.result_type(*dtypes)
    return out if out.kind == "f" else np.dtype(np.float64)


def _missing_target_message(what: str, target: str, count: int, where: str) -> str:
    return (
        f"{what}: the target column {target!r} has {count} missing value(s) in {where}. A row "
        "without a target can be neither trained on nor scored: drop those rows, or fill in "
        "their targets, and write the file again."
    )


def _pandas_index_columns(schema: Any) -> list[str]:
    """The columns that pandas or dask stored from a DataFrame's index rather than its data.

    pandas metadata (schema metadata key ``b"pandas"``, JSON) lists them as ``index_columns``:
    a column name for a stored index (``"__index_level_0__"``, ``"__null_dask_index__"``, or
    the index's own name), a dict for a RangeIndex, which is stored as metadata only.
    """
    raw = (schema.metadata or {}).get(b"pandas")
    if raw is None:
        return []
    try:
        meta = json.loads(raw)
    except ValueError:  # not pandas' JSON: no index columns that we know of
        return []
    entries = meta.get("index_columns", []) if isinstance(meta, dict) else []
    return [e for e in entries if isinstance(e, str) and e in schema.names]


def _parquet_target_dtype(pa: ModuleType, t: Any) -> np.dtype[Any] | None:
    """The numpy dtype of a target column of Arrow type ``t``; None if it cannot be one."""
    if pa.types.is_dictionary(t):  # pandas' categoricals: decoded to their values
        t = t.value_type
    if pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_boolean(t):
        return np.dtype(t.to_pandas_dtype())
    if pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t):
        return np.dtype(object)  # labels as Python str
    return None


def _read_rows(pf: Any, row_group: int, columns: list[str], start: int, stop: int) -> Any:
    """Rows ``[start, stop)`` of one row group, holding about one block in memory at a time.

    pyarrow reads whole row groups or batches of one; batches of ``stop - start`` rows line
    up with the blocks :func:`read_parquet` cuts, so the rows come from one batch.
    """
    pa = _import_optional("pyarrow", "read_parquet")
    pieces = []
    offset = 0
    batches = pf.iter_batches(
        batch_size=max(stop - start, 1), row_groups=[row_group], columns=columns
    )
    for batch in batches:
        end = offset + batch.num_rows
        lo, hi = max(start, offset), min(stop, end)
        if lo < hi:
            pieces.append(batch.slice(lo - offset, hi - lo))
        offset = end
        if offset >= stop:
            break
    schema = pa.schema([pf.schema_arrow.field(c) for c in columns])
    return pa.Table.from_batches(pieces, schema=schema)


def read_parquet_row_group(
    path: str,
    row_group: int,
    features: list[str],
    target: str,
    x_dtype: np.dtype[Any],
    start: int = 0,
    stop: int | None = None,
) -> tuple[NDArray[Any], NDArray[Any]]:
    """Read rows ``[start, stop)`` of one row group of one Parquet file: the task body.

    Returns ``(X_block, y_block)``: the feature columns as ``x_dtype`` (nulls become NaN), and
    the target as numbers or, for a string column, an object array of Python ``str``. A null
    target is a :class:`~daskpar.errors.PartitionError`.
    """
    pq = _import_optional("pyarrow.parquet", "read_parquet")
    pa = _import_optional("pyarrow", "read_parquet")
    columns = [*features, target]
    with pq.ParquetFile(path) as pf:
        n_rows = pf.metadata.row_group(row_group).num_rows
        stop = n_rows if stop is None else stop
        if start == 0 and stop == n_rows:
            table = pf.read_row_group(row_group, columns=columns)
        else:
            table = _read_rows(pf, row_group, columns, start, stop)
    X = np.empty((table.num_rows, len(features)), dtype=x_dtype)
    for j, name in enumerate(features):
        # Nulls become NaN: to_numpy gives floats (or objects) for columns holding nulls.
        X[:, j] = table.column(name).to_numpy()
    y = table.column(target)
    if y.null_count:
        where = f"rows {start} to {stop - 1} of row group {row_group} of {path!r}"
        raise PartitionError(_missing_target_message("read_parquet", target, y.null_count, where))
    if pa.types.is_dictionary(y.type):
        y = y.cast(y.type.value_type)
    return X, y.to_numpy()


def _parquet_files(p: Path) -> list[Path]:
    if p.is_dir():
        files = sorted(q for q in p.rglob("*.parquet") if q.is_file())
        if not files:
            raise InputError(f"read_parquet: no *.parquet file in directory {str(p)!r}.")
        return files
    return [p]


@validate_params(
    {"path": _PATH, "target": [str], "columns": _COLUMNS, "min_partitions": _MIN_PARTITIONS},
    prefer_skip_nested_validation=True,
)
def read_parquet(
    path: PathLike,
    *,
    target: str,
    columns: Sequence[str] | None = None,
    min_partitions: int = DEFAULT_MIN_PARTITIONS,
) -> tuple[da.Array, da.Array]:
    """Read a Parquet file, or a directory of them, in blocks of row groups.

    Only the files' metadata are read at call time. Each task reads one row group, or a
    range of rows of one (the feature columns and the target), and returns it as
    ``X_block, y_block``, so ``X`` and ``y`` come from one read.

    A row group becomes one block, unless it is large: then it is cut into equal ranges of
    rows, so that there are at least ``min_partitions`` blocks (none under 1000 rows) and no
    block holds over 128 MiB of ``X``.

    Columns that pandas or dask wrote from a DataFrame's index (``__index_level_0__``,
    ``__null_dask_index__``, a named index), as the file's pandas metadata lists them, are not
    features unless ``columns`` names them: pandas and dask read them back as the index.

    Parameters
    ----------
    path : str or path-like
        A ``.parquet`` file, or a directory whose ``*.parquet`` files (searched recursively,
        in sorted path order) all have the same columns.
    target : str
        The column holding the target: numbers, booleans or strings, without nulls.
    columns : sequence of str, optional
        The feature columns, in order. Default: every column but ``target`` and the index
        columns; all must be numeric (integers and booleans become floats).
    min_partitions : int, default=8
        How many blocks to make, at least, when the data has rows enough, so that several
        workers have something to do.

    Returns
    -------
    X : dask array of floats, shape (n_samples, n_features)
    y : dask array of shape (n_samples,)
        The target column, with ``X``'s row chunks. A string column gives an array of dtype
        object holding Python ``str``, the file's values.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> import pyarrow as pa, pyarrow.parquet as pq
    >>> from daskpar.data import read_parquet
    >>> tmp_path = pathlib.Path(tempfile.mkdtemp())
    >>> table = pa.table({"a": [1.0, 2.0, 3.0], "b": [4, 5, 6], "label": [0, 1, 0]})
    >>> pq.write_table(table, tmp_path / "t.parquet", row_group_size=2)
    >>> X, y = read_parquet(tmp_path / "t.parquet", target="label")
    >>> X.chunks, y.compute().tolist()
    (((2, 1), (2,)), [0, 1, 0])
    """
    what = "read_parquet"
    pa = _import_optional("pyarrow", what)
    pq = _import_optional("pyarrow.parquet", what)
    files = _parquet_files(_existing(path, what))
    schema = None
    index_columns: list[str] = []
    groups: list[tuple[str, int, int]] = []  # file, row group, rows
    for file in files:
        try:
            meta = pq.read_metadata(file)
            file_schema = pq.read_schema(file)
        except Exception as exc:  # pyarrow.ArrowInvalid and friends
            raise InputError(f"{what}: cannot read {str(file)!r} as Parquet: {exc}") from exc
        if schema is None:
            schema = file_schema
        elif not file_schema.equals(schema):
            raise InputError(
                f"{what}: {str(file)!r} has columns {file_schema.names} of types "
                f"{[str(t) for t in file_schema.types]}, unlike {str(files[0])!r} "
                f"({schema.names}, {[str(t) for t in schema.types]}). All files of a directory "
                "must have the same schema."
            )
        index_columns += [c for c in _pandas_index_columns(file_schema) if c not in index_columns]
        for i in range(meta.num_row_groups):
            groups.append((str(file.resolve()), i, meta.row_group(i).num_rows))
    if schema is None:  # _parquet_files returns at least one file
        raise InputError(f"{what}: no Parquet file at {os.fspath(path)!r}.")
    types = {name: str(t) for name, t in zip(schema.names, schema.types, strict=True)}

    def is_numeric(t: Any) -> bool:
        return bool(pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_boolean(t))

    numeric = {name for name, t in zip(schema.names, schema.types, strict=True) if is_numeric(t)}
    features = _feature_columns(
        schema.names,
        numeric,
        types,
        target=target,
        columns=columns,
        where=os.fspath(path),
        what=what,
        index_columns=index_columns,
    )
    x_dtype = _float_dtype([schema.field(c).type.to_pandas_dtype() for c in features])
    y_dtype = _parquet_target_dtype(pa, schema.field(target).type)
    if y_dtype is None:
        raise InputError(
            f"{what}: the target column {target!r} of {os.fspath(path)!r} has type "
            f"{types[target]}; a target must be numbers, booleans or strings. Convert it "
            "before writing the file."
        )
    if not groups:  # files without row groups: one empty block
        raise InputError(f"{what}: {os.fspath(path)!r} holds no rows.")
    # Row groups are cut into pieces of at least `least` rows, chosen to make min_partitions
    # blocks but never under MIN_BLOCK_ROWS rows, and of at most `most` rows (the bytes bound).
    group_rows = [n for *_, n in groups]
    wanted = min(min_partitions, sum(group_rows) // MIN_BLOCK_ROWS)
    least = max(MIN_BLOCK_ROWS, _largest_cut(group_rows, wanted)) if wanted > 1 else None
    most = max(1, DEFAULT_BLOCK_BYTES // max(len(features) * x_dtype.itemsize, 1))
    blocks: list[tuple[str, int, int, int]] = []  # file, row group, start, stop
    for file_name, rg, n in groups:
        pieces = max(1, n // least if least else 1, math.ceil(n / most))
        size = max(1, math.ceil(n / pieces))
        blocks += [(file_name, rg, lo, min(lo + size, n)) for lo in range(0, max(n, 1), size)]
    row_chunks = tuple(stop - start for _, _, start, stop in blocks)
    warn_if_tiny_partitions(
        row_chunks,
        what,
        "Write the data in larger row groups, and fewer files: "
        f"pyarrow.parquet.write_table(table, path, row_group_size={100 * MIN_BLOCK_ROWS}).",
        stacklevel=READER_STACKLEVEL,
    )
    token = tokenize([_file_token(Path(f)) for f in files], features, target, blocks)
    name = f"{stage_name('read-parquet')}-{token}"
    tasks: dict[tuple[str, int], GraphNode] = {
        (name, i): Task(
            (name, i), read_parquet_row_group, file, rg, features, target, x_dtype, start, stop
        )
        for i, (file, rg, start, stop) in enumerate(blocks)
    }
    return arrays_from_pair_tasks(
        name,
        tasks,
        row_chunks=row_chunks,
        n_columns=len(features),
        x_dtype=x_dtype,
        y_dtype=y_dtype,
    )


def _csv_compression(paths: Sequence[str], what: str) -> str | None:
    """The compression of the CSV files, by suffix: ``"gzip"``, ..., or None for plain text."""
    found = {_CSV_COMPRESSIONS.get(Path(p).suffix.lower()) for p in paths}
    if len(found) > 1:
        raise InputError(
            f"{what}: the files {list(paths)} are compressed differently ({sorted(map(str, found))}"
            "); read each kind separately, or recompress them alike."
        )
    compression = found.pop()
    if compression == "zstd":
        fsspec = importlib.import_module("fsspec")  # a dependency of dask's readers
        if "zstd" not in fsspec.available_compressions():
            raise ImportError(
                f"{what}: reading .zst files needs the optional dependency 'zstandard'. "
                "Install it with pip install zstandard."
            )
    return compression


def _csv_blocksize(paths: Sequence[str], min_partitions: int) -> int:
    """Bytes per CSV block, for ``blocksize="auto"``.

    The largest block size, up to ``MAX_CSV_BLOCK_BYTES``, that cuts the files into at least
    ``min_partitions`` blocks, but no more blocks than leave ``MIN_BLOCK_ROWS`` rows in each,
    as the first file's first lines estimate the rows. dask cuts a file of ``s`` bytes into
    ``s // blocksize`` blocks (at least one).
    """
    if any(_is_url(p) for p in paths):
        return MAX_CSV_BLOCK_BYTES  # sizing remote files is not worth a round trip here
    names = [f for p in paths for f in (sorted(glob.glob(p)) if _is_pattern(p) else [p])]
    files = [f for f in names if os.path.isfile(f)]
    if not files:
        return MAX_CSV_BLOCK_BYTES  # dask reports the empty glob
    sizes = [os.path.getsize(f) for f in files]
    with open(files[0], "rb") as f:
        sample = f.read(2**16)
    row_bytes = len(sample) / max(sample.count(b"\n"), 1)
    wanted = min(min_partitions, int(sum(sizes) / max(row_bytes, 1) // MIN_BLOCK_ROWS))
    if wanted <= 1:
        return MAX_CSV_BLOCK_BYTES
    least = math.ceil(MIN_BLOCK_ROWS * row_bytes)
    return min(max(_largest_cut(sizes, wanted), least), MAX_CSV_BLOCK_BYTES)


def _is_pattern(path: str) -> bool:
    return any(ch in path for ch in "*?[")


def count_partition_rows(frame: Any) -> Any:
    """The number of rows of one CSV block, as a one-element pandas Series."""
    import pandas as pd

    return pd.Series([len(frame)], dtype=np.int64)


def clean_target_partition(series: Any, target: str, where: str, text: bool) -> Any:
    """One CSV block's target column: checked for missing values, text as Python ``str``.

    dask reads text as pandas' string dtype (its missing value ``pd.NA``); daskpar's ``y`` is a
    numpy array, so text labels become an object array of the file's strings.
    """
    import pandas as pd

    missing = int(series.isna().sum())
    if missing:
        raise PartitionError(_missing_target_message("read_csv", target, missing, where))
    if not text:
        return series
    values = series.astype(str).to_numpy(dtype=object)
    return pd.Series(values, index=series.index, name=series.name, dtype=object)


@validate_params(
    {
        "path": [*_PATH, list, tuple],
        "target": [str],
        "columns": _COLUMNS,
        "blocksize": [str, Interval(Integral, 1, None, closed="left"), None],
        "min_partitions": _MIN_PARTITIONS,
    },
    prefer_skip_nested_validation=True,
)
def read_csv(
    path: PathLike | Sequence[PathLike],
    *,
    target: str,
    columns: Sequence[str] | None = None,
    blocksize: str | int | None = "auto",
    min_partitions: int = DEFAULT_MIN_PARTITIONS,
    **kwargs: Any,
) -> tuple[da.Array, da.Array]:
    """Read CSV files with :func:`dask.dataframe.read_csv`, one block per ``blocksize`` bytes.

    .. warning::
       This is the only reader that reads data at call time. A CSV file has no row index,
       so the number of rows in each block, which daskpar needs to know, is found by one
       counting pass over the whole data when this function is called. Convert large CSV
       data once to zarr or Parquet (``daskpar.data.write_zarr``) and read that instead.

    Column types are inferred by dask from a sample of the first block.

    Compressed files (``.csv.gz``, ``.csv.bz2``, ``.csv.xz``, ``.csv.zst``; the last needs
    the ``zstandard`` package) cannot be cut into blocks before they are decompressed: each
    is read by one task, and its rows are then split into at least ``min_partitions`` blocks
    for the work that follows.

    Parameters
    ----------
    path : str, path-like or sequence of them
        A CSV file, a glob pattern such as ``"data/*.csv"``, or a list of files.
    target : str
        The column holding the target: numbers, booleans or text, without missing values.
    columns : sequence of str, optional
        The feature columns, in order. Default: every column but ``target`` and a first
        column with no name in the header (the index ``DataFrame.to_csv`` writes); all must
        be numeric (integers and booleans become floats).
    blocksize : "auto", str, int or None, default="auto"
        Bytes of CSV per block. ``"auto"``: at least ``min_partitions`` blocks of at most
        64 MiB each, but no more blocks than leave about 1000 rows in each. None: one block
        per file.
    min_partitions : int, default=8
        How many blocks to make, at least, with ``blocksize="auto"`` (and for compressed
        files), so that several workers have something to do.
    **kwargs
        Passed to :func:`dask.dataframe.read_csv` (``sep``, ``dtype``, ...).

    Returns
    -------
    X : dask array of floats, shape (n_samples, n_features)
    y : dask array of shape (n_samples,), with the same row chunks as ``X``
        A text column gives an array of dtype object holding Python ``str``, the file's
        values.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> from daskpar.data import read_csv
    >>> tmp_path = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (tmp_path / "t.csv").write_text("a,b,label\\n1,2.5,cat\\n3,4.5,dog\\n")
    >>> X, y = read_csv(tmp_path / "t.csv", target="label")
    >>> X.compute().tolist(), y.compute().tolist(), y.dtype
    ([[1.0, 2.5], [3.0, 4.5]], ['cat', 'dog'], dtype('O'))
    """
    what = "read_csv"
    pd = _import_optional("pandas", what)
    dd = _import_optional("dask.dataframe", what)
    paths = [path] if isinstance(path, str | os.PathLike) else list(path)
    names = [os.fspath(p) for p in paths]
    for p in names:
        if not _is_pattern(p) and not _is_url(p):
            _existing(p, what)
    compression = kwargs.pop("compression", "infer")
    if compression == "infer":
        compression = _csv_compression(names, what)
    if compression is not None:
        blocksize = None  # dask cannot cut a compressed file: the rows are split below
    elif blocksize == "auto":
        blocksize = _csv_blocksize(names, min_partitions)
    try:
        df = dd.read_csv(names, blocksize=blocksize, compression=compression, **kwargs)
    except (OSError, ValueError) as exc:  # empty glob, unparsable header
        raise InputError(f"{what}: cannot read {path!r}: {exc}") from exc
    available = [str(c) for c in df.columns]
    dtypes = {str(c): np.dtype(t) if _is_numpy_numeric(t) else None for c, t in df.dtypes.items()}
    try:
        features = _feature_columns(
            available,
            {c for c, t in dtypes.items() if t is not None},
            {str(c): str(t) for c, t in df.dtypes.items()},
            target=target,
            columns=columns,
            where=repr(path),
            what=what,
            index_columns=_csv_index_columns(available),
        )
    except InputError as error:
        # A file with a header and no rows has columns of no type: say so, not "not numeric".
        if "not numeric" in str(error) and len(df.head(1, npartitions=-1)) == 0:
            raise InputError(
                f"{what}: {path!r} has a header but no rows; there is nothing to read."
            ) from None
        raise
    x_dtype = _float_dtype([t for c, t in dtypes.items() if c in features and t is not None])
    # The counting pass: rows per partition, once, shared by X and y.
    counts = df.map_partitions(count_partition_rows, meta=pd.Series([], dtype=np.int64))
    counts = renamed(counts.to_dask_array(lengths=(1,) * df.npartitions), "count-rows")
    try:
        lengths = tuple(int(block[0]) for block in compute_blocks(counts))
    except ValueError as exc:
        if "Mismatched dtypes" not in str(exc):
            raise
        raise _late_dtype_error(exc, path, what) from None
    # Named by daskpar: dask names the fused dataframe tasks after what they do.
    X = renamed(df[features].astype(x_dtype).to_dask_array(lengths=lengths), "read-csv-X")
    y_dtype = dtypes[target] if dtypes[target] is not None else np.dtype(object)
    y_meta = pd.Series([], dtype=y_dtype, name=target)
    y = renamed(
        df[target]
        .map_partitions(
            clean_target_partition, target, repr(path), dtypes[target] is None, meta=y_meta
        )
        .to_dask_array(lengths=lengths),
        "read-csv-y",
    )
    n_rows = sum(lengths)
    block_rows = _default_block_rows(n_rows, len(features) * x_dtype.itemsize, min_partitions)
    if compression is not None and max(lengths, default=0) > block_rows:
        X, y = _rechunk(X, {0: block_rows}), _rechunk(y, {0: block_rows})
    warn_if_tiny_partitions(
        X.chunks[0],
        what,
        "Pass a larger blocksize=, or blocksize='auto' to let read_csv choose.",
        stacklevel=READER_STACKLEVEL,
    )
    return X, y


#: The header pandas writes above its index (``DataFrame.to_csv`` without ``index=False``):
#: an empty name, which pandas and dask read back as this.
PANDAS_INDEX_HEADER = "Unnamed: 0"


def _csv_index_columns(available: Sequence[str]) -> tuple[str, ...]:
    """A first column with no name in the header: the index pandas wrote, not a feature (as
    a Parquet file's index columns are not)."""
    return (PANDAS_INDEX_HEADER,) if available[:1] == [PANDAS_INDEX_HEADER] else ()


def _late_dtype_error(exc: ValueError, path: Any, what: str) -> InputError:
    """dask's "Mismatched dtypes" (a column typed from the first block that holds something
    else further on) as one message naming the columns and the fix."""
    found = re.findall(r"^\|\s*(\S+)\s*\|\s*(\S+)\s*\|\s*(\S+)\s*\|$", str(exc), re.M)
    rows = [(c, f, e) for c, f, e in found if c != "Column"]
    columns = ", ".join(f"{c!r} ({e} at first, then {f})" for c, f, e in rows) or "some columns"
    types = ", ".join(f"{c!r}: 'float64'" for c, _, _ in rows) or "'column': 'float64'"
    return InputError(
        f"{what}: the type of column(s) {columns} of {path!r} changes after the first block, "
        "from which it was inferred. For numbers, pass dtype={" + types + "} to read them all "
        "as floats; text in a numeric column must be fixed or dropped in the file."
    )


def _is_numpy_numeric(t: Any) -> bool:
    try:
        kind = np.dtype(t).kind
    except TypeError:  # pandas extension dtypes: string[pyarrow], category, ...
        return False
    return kind in "biuf"


# --------------------------------------------------------------------------------------------
# Any path


#: What :func:`read_path` reads, for its error message.
SUPPORTED_FORMATS = (
    "a zarr store (a directory holding zarr.json or .zgroup), Parquet (a .parquet file or a "
    "directory of them), CSV (.csv, .csv.gz, .csv.bz2, .csv.xz, .csv.zst), NumPy (.npy, with "
    "y='targets.npy') and HDF5 (.h5, .hdf5)"
)


def _path_format(path: PathLike, what: str) -> str:
    """``"zarr"``, ``"parquet"``, ``"csv"``, ``"npy"`` or ``"hdf5"``, from what ``path`` is."""
    name = os.fspath(path).rstrip("/").lower()
    suffixes = Path(name).suffixes[-2:]
    if suffixes and suffixes[-1] in _CSV_COMPRESSIONS:
        suffixes = suffixes[:-1]  # data.csv.gz is CSV
    last = suffixes[-1] if suffixes else ""
    if _is_url(path):
        # No directory to look into: the name says it.
        known = {".zarr": "zarr", ".parquet": "parquet", ".csv": "csv"}
    else:
        p = _existing(path, what)
        if p.is_dir():
            if (p / "zarr.json").is_file() or (p / ".zgroup").is_file():
                return "zarr"
            if any(q.is_file() for q in p.rglob("*.parquet")):
                return "parquet"
            raise InputError(
                f"{what}: the directory {os.fspath(path)!r} is neither a zarr store (it has no "
                "zarr.json or .zgroup) nor a directory of *.parquet files. It can read "
                f"{SUPPORTED_FORMATS}."
            )
        known = {
            ".parquet": "parquet",
            ".pq": "parquet",
            ".csv": "csv",
            ".npy": "npy",
            ".h5": "hdf5",
            ".hdf5": "hdf5",
        }
    if last in known:
        return known[last]
    raise InputError(
        f"{what}: cannot tell the format of {os.fspath(path)!r} from its name. It can read "
        f"{SUPPORTED_FORMATS}. Rename the file with its format's extension, or call that "
        "format's reader (read_zarr, read_parquet, read_csv, read_npy, read_hdf5)."
    )


@validate_params(
    {
        "path": _PATH,
        "x": [str],
        "y": [*_PATH, None],
        "target": [str, None],
        "columns": _COLUMNS,
        "chunks": _ROW_CHUNKS,
        "min_partitions": _MIN_PARTITIONS,
        "missing_chunks": _MISSING_CHUNKS,
    },
    prefer_skip_nested_validation=True,
)
def read_path(
    path: PathLike,
    *,
    x: str = "X",
    y: PathLike | None = "y",
    target: str | None = None,
    columns: Sequence[str] | None = None,
    chunks: RowChunks = None,
    min_partitions: int = DEFAULT_MIN_PARTITIONS,
    missing_chunks: MissingChunks = "raise",
) -> tuple[da.Array, da.Array | None]:
    """Read ``(X, y)`` from any supported path, with the reader its format needs.

    - a directory holding ``zarr.json`` or ``.zgroup``: :func:`read_zarr`, arrays ``x``
      and ``y``;
    - a ``.parquet`` (or ``.pq``) file, or a directory of ``*.parquet`` files:
      :func:`read_parquet`, with ``target``;
    - ``.csv``, ``.csv.gz``, ``.csv.bz2``, ``.csv.xz``, ``.csv.zst``: :func:`read_csv`, with
      ``target``;
    - ``.npy``: :func:`read_npy`, the targets from the ``.npy`` file ``y``;
    - ``.h5``, ``.hdf5``: :func:`read_hdf5`, datasets ``x`` and ``y``.

    Anything else is an :class:`~daskpar.errors.InputError` naming the formats.

    Parameters
    ----------
    path : str or path-like
        The data. A URL (``s3://...``) is read as zarr, Parquet or CSV by its suffix.
    x : str, default="X"
        zarr and HDF5: the array (dataset) of features.
    y : str, path-like or None, default="y"
        zarr and HDF5: the array (dataset) of targets. ``.npy``: the path of a ``.npy`` file
        holding the targets (relative to the current directory, like ``path``). None reads
        ``X`` only. Not used for tables, whose targets are the column ``target``.
    target : str, optional
        Parquet and CSV: the column holding the target. Required for them.
    columns : sequence of str, optional
        Parquet and CSV: the feature columns (default: every numeric column but ``target``).
    chunks : int or sequence of int, optional
        ``.npy`` and HDF5: rows per block (see :func:`read_npy`).
    min_partitions : int, default=8
        Parquet, CSV, ``.npy`` and HDF5: the fewest blocks to make when there are rows enough.
    missing_chunks : {"raise", "fill"}, default="raise"
        zarr: what a chunk missing from the store means (see :func:`read_zarr`).

    Returns
    -------
    X : dask array of shape (n_samples, n_features)
    y : dask array of shape (n_samples,), or None if ``y`` is None (zarr, ``.npy``, HDF5)

    Raises
    ------
    InputError
        The path does not exist, is of no supported format, or lacks what its format needs
        (``target`` for tables, a ``.npy`` file ``y`` for ``.npy``).

    Examples
    --------
    >>> import pathlib, tempfile
    >>> import numpy as np
    >>> from daskpar.data import read_path
    >>> tmp_path = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (tmp_path / "t.csv").write_text("a,b,label\\n1,2.5,0\\n3,4.5,1\\n")
    >>> X, y = read_path(tmp_path / "t.csv", target="label")
    >>> X.shape, y.compute().tolist()
    ((2, 2), [0, 1])
    >>> np.save(tmp_path / "X.npy", np.ones((4, 3)))
    >>> np.save(tmp_path / "y.npy", np.arange(4))
    >>> X, y = read_path(tmp_path / "X.npy", y=tmp_path / "y.npy")
    >>> X.shape, y.compute().tolist()
    ((4, 3), [0, 1, 2, 3])
    """
    what = "read_path"
    kind = _path_format(path, what)
    if kind == "zarr":
        if y is not None and not isinstance(y, str):
            raise InputError(
                f"{what}: y must name an array of the zarr store {os.fspath(path)!r}; got {y!r}."
            )
        return read_zarr(path, x=x, y=y, missing_chunks=missing_chunks)
    if kind in ("parquet", "csv"):
        if target is None:
            raise InputError(
                f"{what}: {os.fspath(path)!r} is a {'Parquet' if kind == 'parquet' else 'CSV'} "
                "table: pass target='COLUMN', the name of the column holding the targets."
            )
        reader: Callable[..., tuple[da.Array, da.Array]]
        reader = read_parquet if kind == "parquet" else read_csv
        return reader(path, target=target, columns=columns, min_partitions=min_partitions)
    if kind == "npy":
        if y is not None and not os.fspath(y).lower().endswith(".npy"):
            raise InputError(
                f"{what}: {os.fspath(path)!r} is a .npy file, which holds X only. Pass "
                "y='targets.npy', the path of a .npy file holding the targets, or y=None to "
                f"read X only; got y={y!r}."
            )
        return read_npy(path, y, chunks=chunks, min_partitions=min_partitions)
    if y is not None and not isinstance(y, str):
        raise InputError(
            f"{what}: y must name a dataset of the HDF5 file {os.fspath(path)!r}; got {y!r}."
        )
    return read_hdf5(path, x=x, y=y, chunks=chunks, min_partitions=min_partitions)
