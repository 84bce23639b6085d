"""Reading ``.npy`` files: :func:`read_npy`, and the task side, :class:`NpyFile`.

Local files are memory-mapped inside the tasks, each of which copies its rows out of the
map. An object store's file is read by byte ranges: each task asks for its rows' bytes
only (one range, or one per column of a Fortran-ordered array), after the header that the
client read.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dask.array as da
import numpy as np
from dask.base import tokenize
from numpy.typing import NDArray

from .._sklearn_compat import validate_params
from .._validation import warn_if_tiny_partitions
from ..errors import InputError
from ._common import (
    DEFAULT_MIN_PARTITIONS,
    MIN_PARTITIONS_PARAM,
    PATH_PARAM,
    READER_STACKLEVEL,
    ROW_CHUNKS_PARAM,
    PathLike,
    RowChunks,
    as_target,
    check_target,
    check_two_d,
    existing,
    file_token,
    row_chunks,
    sliced_lazily,
)
from ._remote import (
    STORAGE_OPTIONS_PARAM,
    StorageOptions,
    StorageOptionsLike,
    content_stamp,
    display_path,
    filesystem,
    is_remote,
    local_path,
    remote_location,
    store_errors,
    task_store_errors,
)

__all__ = ["NpyFile", "read_npy"]


@dataclass(frozen=True)
class NpyFile:
    """A ``.npy`` file that dask can slice: opened (memory-mapped) inside each task.

    Pickles as its path, shape and dtype; pickling the memory map itself would copy the
    whole file into the graph. A URL ``path`` (with ``storage_options``, whose repr and
    token show no credential) is read by byte ranges from ``offset``, where its data starts
    after the header, in C or Fortran order as the header says.
    """

    path: str
    shape: tuple[int, ...]
    dtype: np.dtype[Any]
    storage_options: StorageOptions | None = None
    offset: int = 0
    fortran_order: bool = False

    @property
    def ndim(self) -> int:
        return len(self.shape)

    def __getitem__(self, key: Any) -> NDArray[Any]:
        if self.storage_options is None:
            mm = np.load(self.path, mmap_mode="r")
            return np.array(mm[key])  # a copy in memory, not a view of the map
        doing = f"read {display_path(self.path)!r}"
        with task_store_errors("read_npy", doing, self.storage_options):
            return self._read_remote(key, self.storage_options)

    def _read_remote(self, key: Any, options: StorageOptions) -> NDArray[Any]:
        """The rows ``key`` asks for: the bytes of the rows from the first to the last of
        them, then ``key`` applied to those rows."""
        key = key if isinstance(key, tuple) else (key,)
        n = self.shape[0]
        first = key[0] if key else slice(None)
        if isinstance(first, slice) and first.indices(n)[2] > 0:
            lo, hi, step = first.indices(n)
            hi = max(lo, hi)
            local: Any = slice(None, None, step)
        else:  # an index, a list or a reversed slice: the rows from the first to the last
            wanted = np.arange(n)[first]
            lo = int(wanted.min()) if wanted.size else 0
            hi = int(wanted.max()) + 1 if wanted.size else 0
            local = wanted - lo
        rows = self._rows(lo, hi, options)
        return np.array(rows[(local, *key[1:])])

    def _rows(self, lo: int, hi: int, options: StorageOptions) -> NDArray[Any]:
        """Rows ``lo`` to ``hi`` (excluded), from their bytes in the store."""
        fs, inner = filesystem(self.path, options)
        item = self.dtype.itemsize
        inner_shape = self.shape[1:]
        per_row = int(np.prod(inner_shape, dtype=np.int64))
        count = hi - lo
        if count <= 0 or per_row == 0:
            return np.empty((max(count, 0), *inner_shape), dtype=self.dtype)
        if not self.fortran_order or self.ndim == 1:
            start = self.offset + lo * per_row * item
            data = fs.cat_file(inner, start=start, end=start + count * per_row * item)
            return np.frombuffer(data, dtype=self.dtype).reshape((count, *inner_shape))
        # Fortran order: each column (of the trailing axes, flattened) is contiguous.
        n = self.shape[0]
        starts = [self.offset + (j * n + lo) * item for j in range(per_row)]
        pieces = fs.cat_ranges([inner] * per_row, starts, [a + count * item for a in starts])
        columns = np.stack([np.frombuffer(p, dtype=self.dtype) for p in pieces], axis=1)
        return columns.reshape((count, *inner_shape), order="F")


def _not_npy(path: PathLike, what: str) -> InputError:
    return InputError(
        f"{what}: {display_path(path)!r} is not a .npy file: it does not start with the NumPy "
        "header. Write it with numpy.save, or read it with the reader of its format."
    )


def _open_remote_npy(url: str, options: StorageOptions, what: str) -> NpyFile:
    """The header of an object store's ``.npy`` file, read through fsspec."""
    fs, inner = filesystem(url, options)
    shown = display_path(url)
    with store_errors(what, f"read {shown!r}", options, missing=url), fs.open(inner, "rb") as f:
        head = f.read(6)
        f.seek(0)
        try:
            version = np.lib.format.read_magic(f)
        except ValueError:
            if head.startswith(b"PK"):
                raise InputError(
                    f"{what}: {shown!r} is a zip archive (an .npz file?), not a .npy file."
                ) from None
            raise _not_npy(url, what) from None
        if version == (1, 0):
            shape, fortran_order, dtype = np.lib.format.read_array_header_1_0(f)
        elif version == (2, 0):
            shape, fortran_order, dtype = np.lib.format.read_array_header_2_0(f)
        else:
            raise InputError(
                f"{what}: {shown!r} is a .npy file of format version {version}, which "
                "read_npy reads from local files only; save it again with numpy.save "
                "(version 1.0 or 2.0), or copy it to a local disk."
            )
        offset = f.tell()
        stored = int(f.size)
    if dtype.hasobject:
        raise InputError(
            f"{what}: {shown!r} holds Python objects (pickled), which read_npy does not load; "
            "save numbers."
        )
    needed = offset + int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if stored < needed:
        # A truncated upload: the tasks would read short byte ranges, or wrong rows.
        raise InputError(
            f"{what}: {shown!r} is truncated: its header says shape {tuple(shape)} of "
            f"{dtype}, {needed:,} bytes with the header, but the object holds {stored:,}. "
            "Upload the file again, whole."
        )
    return NpyFile(url, tuple(shape), dtype, options, offset, bool(fortran_order))


def _open_npy(
    path: PathLike, storage_options: StorageOptionsLike, what: str
) -> tuple[NpyFile, str]:
    """The ``.npy`` file at ``path`` (local, or a URL) and a token of its content."""
    if is_remote(path):
        url, options = remote_location(path, storage_options, what)
        found = _open_remote_npy(url, options, what)
        return found, content_stamp(url, options, what)
    local = _open_local_npy(local_path(path), what)
    return local, file_token(Path(local.path))


def _shown(found: NpyFile, path: PathLike) -> str:
    """The file as messages name it: a URL without user or password, a path as given."""
    return display_path(found.path if found.storage_options is not None else path)


def _open_local_npy(path: PathLike, what: str) -> NpyFile:
    p = existing(path, what)
    with open(p, "rb") as f:
        try:
            np.lib.format.read_magic(f)
        except ValueError:
            if not zipfile.is_zipfile(p):
                raise _not_npy(path, what) from None
    try:
        mm = np.load(p, mmap_mode="r")
    except (ValueError, OSError) as exc:
        raise InputError(
            f"{what}: cannot memory-map {display_path(path)!r} as .npy: {exc}"
        ) from exc
    if not isinstance(mm, np.ndarray):
        raise InputError(f"{what}: {display_path(path)!r} is not a .npy file (an .npz archive?).")
    return NpyFile(str(p.resolve()), tuple(mm.shape), mm.dtype)


@validate_params(
    {
        "x_path": PATH_PARAM,
        "y_path": [*PATH_PARAM, None],
        "chunks": ROW_CHUNKS_PARAM,
        "min_partitions": MIN_PARTITIONS_PARAM,
        "storage_options": STORAGE_OPTIONS_PARAM,
    },
    prefer_skip_nested_validation=True,
)
def read_npy(
    x_path: PathLike,
    y_path: PathLike | None = None,
    *,
    chunks: RowChunks = None,
    min_partitions: int = DEFAULT_MIN_PARTITIONS,
    storage_options: StorageOptionsLike = None,
) -> tuple[da.Array, da.Array | None]:
    """Read ``X`` (and ``y``) from ``.npy`` files, memory-mapped inside each task.

    A file in an object store (a URL such as ``s3://bucket/X.npy``) is read through fsspec:
    its header on the client, and each block's rows by one byte range in its task.

    Parameters
    ----------
    x_path : str or path-like
        A ``.npy`` file holding a 2-D array (n_samples, n_features): a local path, or a URL.
    y_path : str or path-like, optional
        A ``.npy`` file holding a 1-D array (n_samples,): a local path, or a URL. None
        returns ``(X, None)``.
    chunks : int or sequence of int, optional
        Rows per block, or every block's rows. Default: at least ``min_partitions`` blocks
        of at most 128 MiB of ``X`` each, but not under 1000 rows each.
    min_partitions : int, default=8
        How many blocks to make, at least, when ``chunks`` is None and there are rows
        enough, so that several workers have something to do.
    storage_options : dict, optional
        For URLs: the options of their fsspec file system (credentials, endpoint), which
        travel with the tasks but appear in no task key or message. None uses the store
        library's defaults (for S3, the ``AWS_*`` environment variables). The task keys of a
        URL follow its object's ETag (or version): a file rewritten in place gets new ones.

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
    fx, x_stamp = _open_npy(x_path, storage_options, what)
    check_two_d(fx.shape, f"{what}: {_shown(fx, x_path)!r}")
    n_rows = fx.shape[0]
    rows = row_chunks(chunks, n_rows, fx.shape[1] * fx.dtype.itemsize, what, min_partitions)
    warn_if_tiny_partitions(
        rows,
        what,
        "Pass a larger chunks=, or chunks=None to let read_npy choose.",
        stacklevel=READER_STACKLEVEL,
    )
    token = tokenize(x_stamp, rows)
    X = sliced_lazily(fx, rows, "read-npy-X", token)
    if y_path is None:
        return X, None
    fy, y_stamp = _open_npy(y_path, storage_options, what)
    check_target(fy.shape, n_rows, f"{what}: {_shown(fy, y_path)!r}")
    y_token = tokenize(y_stamp, rows)
    return X, as_target(sliced_lazily(fy, rows, "read-npy-y", y_token))
