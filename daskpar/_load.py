"""Readers: files on disk to row-chunked ``(X, y)`` dask arrays.

Every reader reads metadata only at call time (shapes, dtypes, row groups) and returns arrays
chunked along rows only, with known chunk sizes and ``y``'s blocks aligned with ``X``'s. The
one exception is :func:`read_csv`: a CSV file has no row index, so counting its rows takes one
pass over the data.

The graphs never hold data: numpy memory maps and h5py datasets are wrapped in small picklable
objects (:class:`NpyFile`, :class:`Hdf5Dataset`) that open the file inside the task, and
Parquet row groups are read by the task that needs them (:func:`read_parquet_row_group`).
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import dask.array as da
import numpy as np
from dask.base import tokenize
from dask.task_spec import GraphNode, Task
from numpy.typing import NDArray

from ._generate import arrays_from_pair_tasks
from .errors import InputError

__all__ = [
    "Hdf5Dataset",
    "NpyFile",
    "read_csv",
    "read_hdf5",
    "read_npy",
    "read_parquet",
    "read_parquet_row_group",
    "read_zarr",
]

PathLike = str | os.PathLike[str]
RowChunks = int | Sequence[int] | None

#: Target size of one block when the file does not impose its own (Parquet row groups do).
DEFAULT_BLOCK_BYTES = 128 * 2**20


def _import_optional(module: str, what: str) -> ModuleType:
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise ImportError(
            f"{what} needs the optional dependency {module.split('.')[0]!r}. Install it with "
            "pip install 'daskpar[io]'."
        ) from exc


def _existing(path: PathLike, what: str) -> Path:
    p = Path(path)
    if not p.exists():
        raise InputError(f"{what}: no such file or directory: {os.fspath(path)!r}.")
    return p


def _file_token(path: Path) -> str:
    """Changes when the file does, so that a rewritten file gets new task keys."""
    stat = path.stat()
    return tokenize(str(path.resolve()), stat.st_size, stat.st_mtime_ns)


def _row_chunks(chunks: RowChunks, n_rows: int, row_bytes: int, what: str) -> tuple[int, ...]:
    """Rows per block: as asked, or about ``DEFAULT_BLOCK_BYTES`` per block."""
    if chunks is None:
        chunks = max(1, DEFAULT_BLOCK_BYTES // max(row_bytes, 1))
    if isinstance(chunks, int | np.integer):
        if chunks < 1:
            raise InputError(f"{what}: chunks must be a positive number of rows; got {chunks}.")
        size = min(int(chunks), max(n_rows, 1))
        full, rest = divmod(n_rows, size)
        return (size,) * full + ((rest,) if rest else ()) or (0,)
    sizes = tuple(int(c) for c in chunks)
    if any(c < 0 for c in sizes) or sum(sizes) != n_rows:
        raise InputError(
            f"{what}: chunks {sizes} must be non-negative row counts adding up to the "
            f"{n_rows} rows of the file."
        )
    return sizes


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


def _sliced_lazily(source: NpyFile | Hdf5Dataset, rows: tuple[int, ...], name: str) -> da.Array:
    """A dask array of ``rows`` row blocks over ``source``, which each task slices itself."""
    chunks = (rows,) + (-1,) * (len(source.shape) - 1)
    meta = np.empty((0,) * len(source.shape), dtype=source.dtype)
    out: da.Array = da.from_array(source, chunks, name=name, asarray=True, meta=meta)
    return out


def _rechunk(a: da.Array, chunks: dict[int, Any]) -> da.Array:
    out: da.Array = a.rechunk(chunks)
    return out


# --------------------------------------------------------------------------------------------
# zarr


def read_zarr(
    path: PathLike, *, x: str = "X", y: str | None = "y"
) -> tuple[da.Array, da.Array | None]:
    """Read ``X`` and ``y`` from a zarr store (format 2 or 3).

    ``X`` keeps the store's row chunks; column chunks are merged into one, because daskpar
    partitions rows only. ``y`` is rechunked to ``X``'s row chunks if the store chunks it
    differently.

    Parameters
    ----------
    path : str or path-like
        The zarr group (a directory, or any URL zarr can open).
    x : str, default="X"
        The array of features, of shape (n_samples, n_features).
    y : str or None, default="y"
        The array of targets, of shape (n_samples,). None reads ``X`` only.

    Returns
    -------
    X : dask array of shape (n_samples, n_features)
    y : dask array of shape (n_samples,), or None if ``y`` is None

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
    if "://" not in os.fspath(path):
        _existing(path, what)
    try:
        group = zarr.open_group(os.fspath(path), mode="r")
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
        return arr

    zx = open_array(x)
    _check_two_d(zx.shape, f"{what}: array {x!r}")
    token = tokenize(os.fspath(path), x, y, zx.shape, zx.dtype.str, zx.chunks)
    X: da.Array = da.from_zarr(zx, name=f"daskpar-read-zarr-X-{token}")
    if len(X.chunks[1]) > 1:
        X = _rechunk(X, {1: -1})
    if y is None:
        return X, None
    zy = open_array(y)
    _check_target(zy.shape, zx.shape[0], f"{what}: array {y!r}")
    Y = _as_target(da.from_zarr(zy, name=f"daskpar-read-zarr-y-{token}"))
    if Y.chunks[0] != X.chunks[0]:
        Y = _rechunk(Y, {0: X.chunks[0]})
    return X, Y


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
    try:
        mm = np.load(p, mmap_mode="r")
    except (ValueError, OSError) as exc:
        raise InputError(f"{what}: cannot memory-map {os.fspath(path)!r} as .npy: {exc}") from exc
    if not isinstance(mm, np.ndarray):
        raise InputError(f"{what}: {os.fspath(path)!r} is not a .npy file (an .npz archive?).")
    return NpyFile(str(p.resolve()), tuple(mm.shape), mm.dtype)


def read_npy(
    x_path: PathLike, y_path: PathLike | None = None, *, chunks: RowChunks = None
) -> tuple[da.Array, da.Array | None]:
    """Read ``X`` (and ``y``) from ``.npy`` files, memory-mapped inside each task.

    Parameters
    ----------
    x_path : str or path-like
        A ``.npy`` file holding a 2-D array (n_samples, n_features).
    y_path : str or path-like, optional
        A ``.npy`` file holding a 1-D array (n_samples,). None returns ``(X, None)``.
    chunks : int or sequence of int, optional
        Rows per block, or every block's rows. Default: about 128 MiB of ``X`` per block.

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
    rows = _row_chunks(chunks, n_rows, fx.shape[1] * fx.dtype.itemsize, what)
    token = tokenize(_file_token(Path(fx.path)), rows)
    X = _sliced_lazily(fx, rows, f"daskpar-read-npy-X-{token}")
    if y_path is None:
        return X, None
    fy = _open_npy(y_path, what)
    _check_target(fy.shape, n_rows, f"{what}: {os.fspath(y_path)!r}")
    y_token = tokenize(_file_token(Path(fy.path)), rows)
    return X, _as_target(_sliced_lazily(fy, rows, f"daskpar-read-npy-y-{y_token}"))


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


def read_hdf5(
    path: PathLike, *, x: str = "X", y: str | None = "y", chunks: RowChunks = None
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
        Rows per block, or every block's rows. Default: about 128 MiB of ``X`` per block,
        rounded to a multiple of the dataset's own HDF5 row chunks when it has some.

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
    if chunks is None and x_storage_chunks is not None:
        target = max(1, DEFAULT_BLOCK_BYTES // max(dx.shape[1] * dx.dtype.itemsize, 1))
        chunks = max(1, target // x_storage_chunks[0]) * x_storage_chunks[0]
    rows = _row_chunks(chunks, n_rows, dx.shape[1] * dx.dtype.itemsize, what)
    token = tokenize(_file_token(p), x, y, rows)
    X = _sliced_lazily(dx, rows, f"daskpar-read-hdf5-X-{token}")
    if dy is None:
        return X, None
    _check_target(dy.shape, n_rows, f"{what}: dataset {y!r}")
    return X, _as_target(_sliced_lazily(dy, rows, f"daskpar-read-hdf5-y-{token}"))


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
) -> list[str]:
    """Check ``target`` and the feature columns; return the feature columns, in order."""
    if target not in available:
        raise InputError(
            f"{what}: no target column {target!r} in {where}; its columns are {list(available)}."
        )
    if columns is None:
        features = [c for c in available if c != target]
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
        raise InputError(f"{what}: no feature column left in {where} besides {target!r}.")
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


def read_parquet_row_group(
    path: str, row_group: int, features: list[str], target: str, x_dtype: np.dtype[Any]
) -> tuple[NDArray[Any], NDArray[Any]]:
    """Read one row group of one Parquet file as ``(X_block, y_block)``: the task body."""
    pq = _import_optional("pyarrow.parquet", "read_parquet")
    table = pq.ParquetFile(path).read_row_group(row_group, columns=[*features, target])
    X = np.empty((table.num_rows, len(features)), dtype=x_dtype)
    for j, name in enumerate(features):
        # Nulls become NaN: to_numpy gives floats (or objects) for columns holding nulls.
        X[:, j] = table.column(name).to_numpy()
    return X, table.column(target).to_numpy()


def _parquet_files(p: Path) -> list[Path]:
    if p.is_dir():
        files = sorted(q for q in p.rglob("*.parquet") if q.is_file())
        if not files:
            raise InputError(f"read_parquet: no *.parquet file in directory {str(p)!r}.")
        return files
    return [p]


def read_parquet(
    path: PathLike, *, target: str, columns: Sequence[str] | None = None
) -> tuple[da.Array, da.Array]:
    """Read a Parquet file, or a directory of them, one block per row group.

    Only the files' metadata are read at call time. Each task reads one row group (the feature
    columns and the target) and returns it as ``X_block, y_block``, so ``X`` and ``y`` come
    from one read.

    Parameters
    ----------
    path : str or path-like
        A ``.parquet`` file, or a directory whose ``*.parquet`` files (searched recursively,
        in sorted path order) all have the same columns.
    target : str
        The column holding the target.
    columns : sequence of str, optional
        The feature columns, in order. Default: every column but ``target``; all must be
        numeric (integers and booleans become floats).

    Returns
    -------
    X : dask array of floats, shape (n_samples, n_features)
        One row chunk per row group.
    y : dask array of shape (n_samples,)
        The target column, with the same row chunks.

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
    blocks: list[tuple[str, int]] = []
    row_chunks: list[int] = []
    for file in files:
        try:
            meta = pq.ParquetFile(file).metadata
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
        for i in range(meta.num_row_groups):
            blocks.append((str(file.resolve()), i))
            row_chunks.append(meta.row_group(i).num_rows)
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
    )
    x_dtype = _float_dtype([schema.field(c).type.to_pandas_dtype() for c in features])
    y_type = schema.field(target).type
    y_dtype = np.dtype(y_type.to_pandas_dtype()) if is_numeric(y_type) else np.dtype(object)
    if not blocks:  # files without row groups: one empty block
        raise InputError(f"{what}: {os.fspath(path)!r} holds no rows.")
    token = tokenize([_file_token(Path(f)) for f in files], features, target)
    name = f"daskpar-read-parquet-{token}"
    tasks: dict[tuple[str, int], GraphNode] = {
        (name, i): Task((name, i), read_parquet_row_group, file, rg, features, target, x_dtype)
        for i, (file, rg) in enumerate(blocks)
    }
    return arrays_from_pair_tasks(
        name,
        tasks,
        row_chunks=tuple(row_chunks),
        n_columns=len(features),
        x_dtype=x_dtype,
        y_dtype=y_dtype,
    )


def read_csv(
    path: PathLike | Sequence[PathLike],
    *,
    target: str,
    columns: Sequence[str] | None = None,
    blocksize: str | int = "64MiB",
    **kwargs: Any,
) -> tuple[da.Array, da.Array]:
    """Read CSV files with :func:`dask.dataframe.read_csv`, one block per ``blocksize`` bytes.

    .. warning::
       This is the only reader that reads data at call time. A CSV file has no row index,
       so the number of rows in each block, which daskpar needs to know, is found by one
       counting pass over the whole data when this function is called. Convert large CSV
       data once to zarr or Parquet (``daskpar.data.write_zarr``) and read that instead.

    Column types are inferred by dask from a sample of the first block.

    Parameters
    ----------
    path : str, path-like or sequence of them
        A CSV file, a glob pattern such as ``"data/*.csv"``, or a list of files.
    target : str
        The column holding the target.
    columns : sequence of str, optional
        The feature columns, in order. Default: every column but ``target``; all must be
        numeric (integers and booleans become floats).
    blocksize : str or int, default="64MiB"
        Bytes of CSV per block.
    **kwargs
        Passed to :func:`dask.dataframe.read_csv` (``sep``, ``dtype``, ...).

    Returns
    -------
    X : dask array of floats, shape (n_samples, n_features)
    y : dask array of shape (n_samples,), with the same row chunks as ``X``.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> from daskpar.data import read_csv
    >>> tmp_path = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (tmp_path / "t.csv").write_text("a,b,label\\n1,2.5,0\\n3,4.5,1\\n")
    >>> X, y = read_csv(tmp_path / "t.csv", target="label")
    >>> X.compute().tolist(), y.compute().tolist()
    ([[1.0, 2.5], [3.0, 4.5]], [0, 1])
    """
    what = "read_csv"
    _import_optional("pandas", what)
    dd = _import_optional("dask.dataframe", what)
    paths = [path] if isinstance(path, str | os.PathLike) else list(path)
    for p in paths:
        if not any(ch in os.fspath(p) for ch in "*?[") and "://" not in os.fspath(p):
            _existing(p, what)
    try:
        df = dd.read_csv([os.fspath(p) for p in paths], blocksize=blocksize, **kwargs)
    except (OSError, ValueError) as exc:  # empty glob, unparsable header
        raise InputError(f"{what}: cannot read {path!r}: {exc}") from exc
    available = [str(c) for c in df.columns]
    dtypes = {str(c): np.dtype(t) if _is_numpy_numeric(t) else None for c, t in df.dtypes.items()}
    features = _feature_columns(
        available,
        {c for c, t in dtypes.items() if t is not None},
        {str(c): str(t) for c, t in df.dtypes.items()},
        target=target,
        columns=columns,
        where=repr(path),
        what=what,
    )
    x_dtype = _float_dtype([t for c, t in dtypes.items() if c in features and t is not None])
    # The counting pass: rows per partition, once, shared by X and y.
    lengths = tuple(int(n) for n in df.map_partitions(len).compute())
    X = df[features].astype(x_dtype).to_dask_array(lengths=lengths)
    y = df[target].to_dask_array(lengths=lengths)
    return X, y


def _is_numpy_numeric(t: Any) -> bool:
    try:
        kind = np.dtype(t).kind
    except TypeError:  # pandas extension dtypes: string[pyarrow], category, ...
        return False
    return kind in "biuf"
