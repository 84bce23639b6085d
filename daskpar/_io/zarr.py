"""Reading zarr stores (format 2 or 3): :func:`read_zarr`, and the task side, :class:`ZarrArray`.

zarr reads a chunk missing from the store as the array's fill value, so a store that is
incomplete, has vanished, or that a worker cannot see would read as zeros. With
``missing_chunks="raise"`` (the default), the chunks are checked twice: all of a local
store's at call time, and each task's own before it reads them.
"""

from __future__ import annotations

import asyncio
import itertools
import math
import os
import socket
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import dask.array as da
import numpy as np
from dask.base import tokenize
from numpy.typing import NDArray

from .._coalesce import coalesced_rows
from .._sklearn_compat import StrOptions, validate_params
from .._validation import MIN_BLOCK_ROWS, warn_if_tiny_partitions
from ..errors import InputError, PartitionError
from ._common import (
    PATH_PARAM,
    READER_STACKLEVEL,
    PathLike,
    as_target,
    check_target,
    check_two_d,
    existing,
    is_url,
    row_chunks,
    sliced_lazily,
)
from ._remote import (
    STORAGE_OPTIONS_PARAM,
    StorageOptions,
    StorageOptionsLike,
    content_stamp,
    display_path,
    is_remote,
    local_path,
    problem,
    raise_scrubbed,
    remote_location,
    scrubbed_warnings,
)

__all__ = ["MISSING_CHUNKS_PARAM", "MissingChunks", "ZarrArray", "read_zarr"]

MissingChunks = Literal["raise", "fill"]
MISSING_CHUNKS_PARAM: list[Any] = [StrOptions({"raise", "fill"})]


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


def _open_array(store: str, array: str, options: StorageOptions | None = None) -> Any:
    """``zarr.open_array(store, path=array)``, opened once per process while unchanged.

    Opening reads and parses the metadata through zarr's event loop, a few milliseconds that
    every task reading a block would pay again; a local array is kept open under the stamp
    of its metadata file. Remote stores are opened by every call.
    """
    import zarr

    if options is not None:  # an object store, reached with these options
        return zarr.open_array(store, path=array, mode="r", storage_options=options.options)
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
    #: How to reach an object store (its repr and token show no credential); None: local.
    storage_options: StorageOptions | None = None

    @property
    def ndim(self) -> int:
        return len(self.shape)

    def __getitem__(self, key: Any) -> NDArray[Any]:
        where = f"array {self.array!r} of {display_path(self.store)!r}"
        try:
            arr = _open_array(self.store, self.array, self.storage_options)
        except Exception as exc:  # FileNotFoundError, ArrayNotFoundError, ...
            error = PartitionError(
                f"read_zarr: cannot open {where} on host {socket.gethostname()!r} "
                f"({problem(exc, self.storage_options)}). "
                "It was moved or deleted after read_zarr was called, or this worker cannot see "
                "it: every worker must see the store at the path the client gave, so put it on "
                "a file system that the client and the workers share, or in object storage (a "
                "URL such as s3://...)."
            )
            raise_scrubbed(error, exc, self.storage_options)
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
            error = PartitionError(
                f"read_zarr: reading rows {start} to {stop - 1} of {where} on host "
                f"{socket.gethostname()!r} failed ({problem(exc, self.storage_options)}). "
                "If the storage fails now and then, pass retries=N to the estimator or search: "
                "dask then runs a failed task again, up to N times."
            )
            raise_scrubbed(error, exc, self.storage_options)
        except Exception as exc:  # a codec's error on bytes that are not what was written
            start, stop = _index_range(key[0] if isinstance(key, tuple) else key, arr.shape[0])
            prefix = f"{arr.path}/" if arr.path else ""
            error = PartitionError(
                f"read_zarr: chunk(s) {_shown(_touched_objects(arr, key), prefix)} of {where} "
                f"(rows {start} to {stop - 1}) cannot be decoded "
                f"({problem(exc, self.storage_options)}): the store is corrupted. Write it again."
            )
            raise_scrubbed(error, exc, self.storage_options)


@validate_params(
    {
        "path": PATH_PARAM,
        "x": [str],
        "y": [str, None],
        "missing_chunks": MISSING_CHUNKS_PARAM,
        "storage_options": STORAGE_OPTIONS_PARAM,
    },
    prefer_skip_nested_validation=True,
)
def read_zarr(
    path: PathLike,
    *,
    x: str = "X",
    y: str | None = "y",
    missing_chunks: MissingChunks = "raise",
    storage_options: StorageOptionsLike = None,
) -> tuple[da.Array, da.Array | None]:
    """Read ``X`` and ``y`` from a zarr store (format 2 or 3).

    ``X``'s blocks are runs of the store's row chunks: small chunks are coalesced, adjacent
    ones read together by one task up to the dask setting ``daskpar.target-block-bytes`` (X's
    and y's bytes together; 32 MiB by default, 0 keeps one block per row of chunks), and a
    chunk larger than that is one block. Column chunks are read together, because daskpar
    partitions rows only. ``y`` is read in ``X``'s row blocks.

    A local path is made absolute here, so that workers started in another directory read the
    same store. zarr reads a chunk that is not in the store as the array's fill value (zeros),
    which for dense data means an incomplete or vanished store, never data; so by default
    every chunk must be there: a local store's chunks are listed at call time, and each task
    checks the chunks it reads (a remote store is checked by the tasks only). A remote
    store's task keys come from a listing of its objects' ETags (:mod:`daskpar._io._remote`),
    so a store rewritten in place gets new keys, as a local one does.

    Parameters
    ----------
    path : str or path-like
        The zarr group (a directory, or any fsspec URL: ``s3://bucket/data.zarr``...).
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
    storage_options : dict, optional
        For a URL: the options of its fsspec file system (s3fs's ``key``, ``secret``,
        ``client_kwargs={"endpoint_url": ...}``). None uses the store library's own
        defaults (for S3, the ``AWS_*`` environment variables). They reach the workers with
        the tasks, but never a task key or a message.

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
    >>> write_zarr(path, *make_classification(1000, 5, chunks=50, random_state=0))
    >>> import dask
    >>> with dask.config.set({"daskpar.target-block-bytes": "32 MiB"}):  # the default
    ...     X, y = read_zarr(path)  # 20 chunks of 2.4 kB, read two at a time: 8 blocks or more
    >>> X.chunks[0] == y.chunks[0] == (100,) * 10
    True
    >>> with dask.config.set({"daskpar.target-block-bytes": 0}):  # the stored chunks
    ...     X, y = read_zarr(path)
    >>> X.chunks[0] == (50,) * 20
    True
    """
    import zarr

    what = "read_zarr"
    # Object stores: a clean URL (no user or password in it) and the options apart.
    options: StorageOptions | None = None
    if is_remote(path):
        path, options = remote_location(path, storage_options, what)
    else:
        path = local_path(path)
    # Absolute, so that a worker started in another directory opens the same store.
    store = os.fspath(path) if is_url(path) else str(existing(path, what).resolve())
    try:
        with scrubbed_warnings(options):  # zarr's quote the store's URL
            if options is not None:
                group = zarr.open_group(store, mode="r", storage_options=options.options)
            else:
                group = zarr.open_group(store, mode="r")
    except Exception as exc:  # not a group: FileNotFoundError, GroupNotFoundError, ...
        error = InputError(
            f"{what}: {display_path(path)!r} is not a zarr group ({problem(exc, options)})."
        )
        raise_scrubbed(error, exc, options)
    names = sorted(group.array_keys())

    def open_array(name: str) -> Any:
        try:
            arr = group[name]
        except KeyError:
            arr = None
        if not isinstance(arr, zarr.Array):
            raise InputError(
                f"{what}: no array {name!r} in {display_path(path)!r}; its arrays are {names}."
            )
        if missing_chunks == "raise" and isinstance(arr.store, zarr.storage.LocalStore):
            expected = _all_object_keys(arr)
            stored = _stored_keys(arr)
            missing = [key for key in expected if key not in stored]
            if missing:
                raise InputError(
                    f"{what}: array {name!r} of {display_path(path)!r} is missing {len(missing)} "
                    f"of its {len(expected)} chunks ({_shown(missing, f'{arr.path}/')}); zarr "
                    f"would read them as the fill value {_fill_value(arr)!r}. The store is "
                    "incomplete, probably from a write that did not finish: write it again "
                    "(daskpar.data.write_zarr writes a store completely or not at all). "
                    + _SPARSE_HINT
                )
        return arr

    zx = open_array(x)
    check_two_d(zx.shape, f"{what}: array {x!r}")
    zy = open_array(y) if y is not None else None
    row_bytes = zx.dtype.itemsize * zx.shape[1] + (zy.dtype.itemsize if zy is not None else 0)
    rows = coalesced_rows(row_chunks(zx.chunks[0], zx.shape[0], 0, what), row_bytes)
    warn_if_tiny_partitions(
        rows,
        what,
        "Leave the dask setting 'daskpar.target-block-bytes' on (it is 0), which reads runs "
        "of small chunks together, or write the data again with more rows per chunk "
        "(write_zarr keeps X's row chunks): "
        f"write_zarr(new_path, X.rechunk({{0: {100 * MIN_BLOCK_ROWS}}}), "
        f"y.rechunk({100 * MIN_BLOCK_ROWS})).",
        stacklevel=READER_STACKLEVEL,
    )
    # A store written again gets new task keys: replaced whole (as write_zarr does) or
    # rewritten in place, chunk by chunk.
    stamp: Any = None
    if not is_url(store):
        arrays = [
            os.path.join(store, zx.path),
            *([os.path.join(store, zy.path)] if zy is not None else []),
        ]
        stamp = (os.stat(store).st_ino, os.stat(store).st_mtime_ns, *map(_tree_stamp, arrays))
    elif options is not None:  # an object store: its objects' ETags
        stamp = content_stamp(store, options, what)
    token = tokenize(store, stamp, x, y, zx.shape, zx.dtype.str, zx.chunks, rows, missing_chunks)
    sx = ZarrArray(store, zx.path, tuple(zx.shape), np.dtype(zx.dtype), missing_chunks, options)
    X = sliced_lazily(sx, rows, "read-zarr-X", token)
    if zy is None:
        return X, None
    check_target(zy.shape, zx.shape[0], f"{what}: array {y!r}")
    sy = ZarrArray(store, zy.path, tuple(zy.shape), np.dtype(zy.dtype), missing_chunks, options)
    return X, as_target(sliced_lazily(sy, rows, "read-zarr-y", token))
