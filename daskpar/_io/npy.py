"""Reading ``.npy`` files: :func:`read_npy`, and the task side, :class:`NpyFile`.

The files are memory-mapped inside the tasks, each of which copies its rows out of the map.
"""

from __future__ import annotations

import os
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

__all__ = ["NpyFile", "read_npy"]


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
    p = existing(path, what)
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
        "x_path": PATH_PARAM,
        "y_path": [*PATH_PARAM, None],
        "chunks": ROW_CHUNKS_PARAM,
        "min_partitions": MIN_PARTITIONS_PARAM,
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
    check_two_d(fx.shape, f"{what}: {os.fspath(x_path)!r}")
    n_rows = fx.shape[0]
    rows = row_chunks(chunks, n_rows, fx.shape[1] * fx.dtype.itemsize, what, min_partitions)
    warn_if_tiny_partitions(
        rows,
        what,
        "Pass a larger chunks=, or chunks=None to let read_npy choose.",
        stacklevel=READER_STACKLEVEL,
    )
    token = tokenize(file_token(Path(fx.path)), rows)
    X = sliced_lazily(fx, rows, "read-npy-X", token)
    if y_path is None:
        return X, None
    fy = _open_npy(y_path, what)
    check_target(fy.shape, n_rows, f"{what}: {os.fspath(y_path)!r}")
    y_token = tokenize(file_token(Path(fy.path)), rows)
    return X, as_target(sliced_lazily(fy, rows, "read-npy-y", y_token))
