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
inside the tasks, except :func:`read_csv`, which counts the rows of a CSV in one pass.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import dask.array as da
from dask.base import compute

from ._generate import make_classification, make_regression
from ._load import read_csv, read_hdf5, read_npy, read_parquet, read_zarr
from ._split import train_test_split
from ._validation import check_X, check_X_y
from .errors import InputError

__all__ = [
    "make_classification",
    "make_regression",
    "read_csv",
    "read_hdf5",
    "read_npy",
    "read_parquet",
    "read_zarr",
    "train_test_split",
    "write_zarr",
]


def _regular_rows(a: da.Array, rows: int) -> da.Array:
    """``a`` with ``rows`` rows per chunk (the last may be shorter), as zarr requires."""
    n = a.shape[0]
    target = (rows,) * (n // rows) + ((n % rows,) if n % rows else ())
    if a.chunks[0] == target and all(len(c) == 1 for c in a.chunks[1:]):
        return a
    out: da.Array = a.rechunk({0: target, **{axis: -1 for axis in range(1, a.ndim)}})
    return out


def write_zarr(
    path: str | os.PathLike[str],
    X: da.Array,
    y: da.Array | None = None,
    *,
    x: str = "X",
    y_name: str = "y",
    overwrite: bool = False,
) -> None:
    """Write ``X`` (and ``y``) to a zarr store, chunk by chunk, in one pass.

    ``X`` and ``y`` are computed together, so a generated chunk is drawn once for both.
    The store keeps ``X``'s row chunks (made uniform if they are not, as zarr requires) and
    one column chunk; read it back with :func:`read_zarr`.

    Parameters
    ----------
    path : str or path-like
        The zarr group to create (a directory).
    X : dask array of shape (n_samples, n_features)
    y : dask array of shape (n_samples,), optional
        Must have ``X``'s row chunks (a numpy ``y`` is given them).
    x : str, default="X"
        The name of ``X``'s array in the store.
    y_name : str, default="y"
        The name of ``y``'s array in the store.
    overwrite : bool, default=False
        Replace an existing store at ``path``; otherwise an existing path is an error.

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
    if y is None:
        X = check_X(X)
    else:
        X, y = check_X_y(X, y)
    target = Path(path)
    if target.exists():
        if not overwrite:
            raise InputError(
                f"write_zarr: {os.fspath(path)!r} already exists. Pass overwrite=True to "
                "replace it, or choose another path."
            )
        if target.is_dir():
            shutil.rmtree(target)
        else:
            target.unlink()
    rows = max(X.chunks[0])
    store = os.fspath(path)
    writes = [da.to_zarr(_regular_rows(X, rows), store, component=x, compute=False)]
    if y is not None:
        writes.append(da.to_zarr(_regular_rows(y, rows), store, component=y_name, compute=False))
    compute(*writes)
