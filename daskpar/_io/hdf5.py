"""Reading HDF5 files: :func:`read_hdf5`, and the task side, :class:`Hdf5Dataset`.

h5py objects cannot be pickled: each task opens the file by its absolute path, or, in an
object store, by its URL through fsspec (h5py reads a file-like object: the HDF5 library
asks for the byte ranges it needs, which fsspec fetches and caches in blocks).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
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
    default_block_rows,
    existing,
    file_token,
    import_optional,
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

__all__ = ["Hdf5Dataset", "read_hdf5"]


#: fsspec's cache of an object store's HDF5 file: blocks of this many bytes, the most
#: recently used kept, so that the HDF5 library's small reads of its metadata (all over the
#: file) and its large reads of the data cost few requests.
REMOTE_BLOCK_BYTES = 4 * 2**20


@contextlib.contextmanager
def _hdf5_file(path: str, options: StorageOptions | None) -> Iterator[Any]:
    """``h5py.File`` of a local path, or of a URL opened through fsspec."""
    h5py = import_optional("h5py", "read_hdf5")
    if options is None:
        with h5py.File(path, "r") as f:
            yield f
        return
    fs, inner = filesystem(path, options)
    with (
        fs.open(inner, "rb", cache_type="blockcache", block_size=REMOTE_BLOCK_BYTES) as raw,
        h5py.File(raw, "r") as f,
    ):
        yield f


@dataclass(frozen=True)
class Hdf5Dataset:
    """An HDF5 dataset that dask can slice: the file is opened inside each task.

    h5py objects cannot be pickled; this holds the file name and dataset path only, and,
    for a URL, the ``storage_options`` that reach its store (their repr and token show no
    credential).
    """

    path: str
    dataset: str
    shape: tuple[int, ...]
    dtype: np.dtype[Any]
    storage_options: StorageOptions | None = None

    @property
    def ndim(self) -> int:
        return len(self.shape)

    def __getitem__(self, key: Any) -> NDArray[Any]:
        doing = f"read dataset {self.dataset!r} of {display_path(self.path)!r}"
        with (
            task_store_errors("read_hdf5", doing, self.storage_options),
            _hdf5_file(self.path, self.storage_options) as f,
        ):
            return np.asarray(f[self.dataset][key])


@validate_params(
    {
        "path": PATH_PARAM,
        "x": [str],
        "y": [str, None],
        "chunks": ROW_CHUNKS_PARAM,
        "min_partitions": MIN_PARTITIONS_PARAM,
        "storage_options": STORAGE_OPTIONS_PARAM,
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
    storage_options: StorageOptionsLike = None,
) -> tuple[da.Array, da.Array | None]:
    """Read ``X`` and ``y`` from datasets of an HDF5 file, opened inside each task.

    A file in an object store (a URL such as ``s3://bucket/data.h5``) is opened through
    fsspec, which h5py reads as a file: the HDF5 library asks for the byte ranges it needs,
    fetched in blocks of 4 MiB (the most recently used kept). Write such files with
    contiguous datasets or large chunks: every chunk read is a request.

    Parameters
    ----------
    path : str or path-like
        The HDF5 file: a local path, or a URL.
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
    storage_options : dict, optional
        For a URL: the options of its fsspec file system (credentials, endpoint), which
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
    h5py = import_optional("h5py", what)
    options: StorageOptions | None = None
    if is_remote(path):
        file, options = remote_location(path, storage_options, what)
        shown, stamp = display_path(file), content_stamp(file, options, what)
    else:
        p = existing(local_path(path), what)
        file, shown, stamp = str(p.resolve()), display_path(path), file_token(p)
    with contextlib.ExitStack() as stack:
        # OSError: not HDF5; from a store: its library's errors.
        with store_errors(what, f"open {shown!r} as HDF5", options, hint=None):
            f = stack.enter_context(_hdf5_file(file, options))
        names: list[str] = []

        def collect_dataset(name: str, obj: Any) -> None:
            if isinstance(obj, h5py.Dataset):
                names.append(name)

        f.visititems(collect_dataset)

        def describe(name: str) -> tuple[Hdf5Dataset, tuple[int, ...] | None]:
            ds = f.get(name)
            if ds is None or not isinstance(ds, h5py.Dataset):
                raise InputError(
                    f"{what}: no dataset {name!r} in {shown!r}; its datasets are {sorted(names)}."
                )
            return Hdf5Dataset(file, name, tuple(ds.shape), ds.dtype, options), ds.chunks

        dx, x_storage_chunks = describe(x)
        dy = describe(y)[0] if y is not None else None
    check_two_d(dx.shape, f"{what}: dataset {x!r}")
    n_rows = dx.shape[0]
    row_bytes = dx.shape[1] * dx.dtype.itemsize
    if chunks is None and x_storage_chunks is not None:
        target = default_block_rows(n_rows, row_bytes, min_partitions)
        chunks = max(1, target // x_storage_chunks[0]) * x_storage_chunks[0]
    rows = row_chunks(chunks, n_rows, row_bytes, what, min_partitions)
    warn_if_tiny_partitions(
        rows,
        what,
        "Pass a larger chunks=, or chunks=None to let read_hdf5 choose.",
        stacklevel=READER_STACKLEVEL,
    )
    token = tokenize(stamp, x, y, rows)
    # "hdf", not "hdf5": the dashboard's key_split stops at a word holding a digit.
    X = sliced_lazily(dx, rows, "read-hdf-X", token)
    if dy is None:
        return X, None
    check_target(dy.shape, n_rows, f"{what}: dataset {y!r}")
    return X, as_target(sliced_lazily(dy, rows, "read-hdf-y", token))
