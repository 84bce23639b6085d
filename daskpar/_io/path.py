"""Reading any path: :func:`path_format` tells the format, :func:`read_path` calls its reader."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from .._sklearn_compat import validate_params
from ..errors import InputError
from ._common import (
    COLUMNS_PARAM,
    DEFAULT_MIN_PARTITIONS,
    MIN_PARTITIONS_PARAM,
    PATH_PARAM,
    ROW_CHUNKS_PARAM,
    PathLike,
    RowChunks,
    existing,
    is_url,
)
from ._remote import (
    STORAGE_OPTIONS_PARAM,
    StorageOptionsLike,
    display_path,
    filesystem,
    is_remote,
    local_path,
    remote_location,
    scrub,
    store_errors,
)
from .csv import CSV_COMPRESSIONS, read_csv
from .hdf5 import read_hdf5
from .json import JSON_SUFFIXES, read_json
from .npy import read_npy
from .parquet import read_parquet
from .svmlight import SVMLIGHT_COMPRESSIONS, read_svmlight
from .zarr import MISSING_CHUNKS_PARAM, MissingChunks, read_zarr

__all__ = ["SUPPORTED_FORMATS", "path_format", "read_path"]


#: The names of svmlight / libsvm text files.
_SVMLIGHT_SUFFIXES = (".svm", ".svmlight", ".libsvm")

#: The formats of files, by their suffix (after any compression's).
_FILE_SUFFIXES = {
    ".parquet": "parquet",
    ".pq": "parquet",
    ".csv": "csv",
    ".npy": "npy",
    ".h5": "hdf5",
    ".hdf5": "hdf5",
    **dict.fromkeys(JSON_SUFFIXES, "json"),
    **dict.fromkeys(_SVMLIGHT_SUFFIXES, "svmlight"),
}

#: The formats whose columns have names, which ``target``, ``columns`` and ``as_frame`` are for.
_TABLES = {"parquet": "Parquet", "csv": "CSV", "json": "JSON lines"}

#: What :func:`read_path` reads, for its error message.
SUPPORTED_FORMATS = (
    "a zarr store (a directory holding zarr.json or .zgroup), Parquet (a .parquet file or a "
    "directory of them), CSV (.csv, .csv.gz, .csv.bz2, .csv.xz, .csv.zst), NumPy (.npy, with "
    "y='targets.npy'), HDF5 (.h5, .hdf5), JSON lines (.jsonl, .ndjson, .json, also .gz, .bz2, "
    ".xz or .zst compressed) and svmlight / libsvm text (.svm, .svmlight, .libsvm, also .gz or "
    ".bz2 compressed)"
)


def _remote_folder_format(path: PathLike, storage_options: StorageOptionsLike, what: str) -> str:
    """The format of a URL whose name does not say: a zarr group or a folder of Parquet."""
    url, options = remote_location(path, storage_options, what)
    fs, inner = filesystem(url, options)
    shown = display_path(url)
    with store_errors(what, f"look into {shown!r}", options):
        if any(fs.exists(f"{inner.rstrip('/')}/{m}") for m in ("zarr.json", ".zgroup")):
            return "zarr"
        if fs.isdir(inner) and any(f.endswith(".parquet") for f in fs.find(inner)):
            return "parquet"
    raise InputError(
        f"{what}: {shown!r} is neither a zarr store (it has no zarr.json or .zgroup) nor a "
        f"folder of *.parquet files, and its name does not tell its format. It can read "
        f"{SUPPORTED_FORMATS}."
    )


def path_format(
    path: PathLike, *, what: str = "read_path", storage_options: StorageOptionsLike = None
) -> str:
    """The format of the data at ``path``, as :func:`read_path` reads it.

    A directory is a zarr store if it holds ``zarr.json`` or ``.zgroup``, else Parquet if it
    holds ``*.parquet`` files; a file's format is its extension, after any compression's
    (``data.csv.gz`` is CSV). ``.jsonl``, ``.ndjson`` and ``.json`` files are JSON lines. A
    URL is known by its name (``.zarr``, ``.parquet``, ``.csv``...); one whose name does not
    say is looked into, with ``storage_options``, as a directory is.

    Parameters
    ----------
    path : str or path-like
        The data, as given to :func:`read_path`.
    what : str, default="read_path"
        The function named at the start of the error messages.
    storage_options : dict, optional
        For a URL whose name does not tell its format: the options to look into it with.

    Returns
    -------
    format : {"zarr", "parquet", "csv", "json", "npy", "hdf5", "svmlight"}

    Raises
    ------
    InputError
        The path does not exist, or is of no supported format; the message names the formats.

    Examples
    --------
    >>> from daskpar._io import path_format
    >>> path_format("s3://bucket/data.csv.gz")
    'csv'
    """
    path = local_path(path)
    name = os.fspath(path).lower()
    if name.startswith(("http://", "https://")):  # a presigned URL's query names no format
        name = name.partition("#")[0].partition("?")[0]
    name = name.rstrip("/")
    suffixes = Path(name).suffixes[-2:]
    compression = ""
    if suffixes and suffixes[-1] in CSV_COMPRESSIONS:
        compression, suffixes = suffixes[-1], suffixes[:-1]  # data.csv.gz is CSV
    last = suffixes[-1] if suffixes else ""
    if last in _SVMLIGHT_SUFFIXES and compression and compression not in SVMLIGHT_COMPRESSIONS:
        raise InputError(
            f"{what}: {display_path(path)!r} is svmlight text compressed as {compression}, which "
            f"scikit-learn's svmlight parser does not open. Decompress it, or compress it with "
            "gzip (.gz) or bzip2 (.bz2)."
        )
    if is_url(path):
        # No directory to look into: the name says it (a file's suffix, or a zarr store's).
        known = {".zarr": "zarr", **_FILE_SUFFIXES}
    else:
        p = existing(path, what)
        if p.is_dir():
            if (p / "zarr.json").is_file() or (p / ".zgroup").is_file():
                return "zarr"
            if any(q.is_file() for q in p.rglob("*.parquet")):
                return "parquet"
            raise InputError(
                f"{what}: the directory {display_path(path)!r} is neither a zarr store (it has no "
                "zarr.json or .zgroup) nor a directory of *.parquet files. It can read "
                f"{SUPPORTED_FORMATS}."
            )
        known = _FILE_SUFFIXES
    if last in known:
        return known[last]
    if is_remote(path):
        return _remote_folder_format(path, storage_options, what)
    raise InputError(
        f"{what}: cannot tell the format of {display_path(path)!r} from its name. It can read "
        f"{SUPPORTED_FORMATS}. Rename the file with its format's extension, or call that "
        "format's reader (read_zarr, read_parquet, read_csv, read_json, read_npy, read_hdf5, "
        "read_svmlight)."
    )


@validate_params(
    {
        "path": PATH_PARAM,
        "x": [str],
        "y": [*PATH_PARAM, None],
        "target": [str, None],
        "columns": COLUMNS_PARAM,
        "chunks": ROW_CHUNKS_PARAM,
        "min_partitions": MIN_PARTITIONS_PARAM,
        "missing_chunks": MISSING_CHUNKS_PARAM,
        "as_frame": ["boolean"],
        "storage_options": STORAGE_OPTIONS_PARAM,
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
    as_frame: bool = False,
    storage_options: StorageOptionsLike = None,
) -> tuple[Any, Any]:
    """Read ``(X, y)`` from any supported path, with the reader its format needs.

    - a directory holding ``zarr.json`` or ``.zgroup``: :func:`read_zarr`, arrays ``x``
      and ``y``;
    - a ``.parquet`` (or ``.pq``) file, or a directory of ``*.parquet`` files:
      :func:`read_parquet`, with ``target``;
    - ``.csv``, ``.csv.gz``, ``.csv.bz2``, ``.csv.xz``, ``.csv.zst``: :func:`read_csv`, with
      ``target``;
    - ``.jsonl``, ``.ndjson``, ``.json`` (JSON lines, one object per line; also compressed
      like CSV): :func:`read_json`, with ``target``;
    - ``.npy``: :func:`read_npy`, the targets from the ``.npy`` file ``y``;
    - ``.h5``, ``.hdf5``: :func:`read_hdf5`, datasets ``x`` and ``y``;
    - ``.svm``, ``.svmlight``, ``.libsvm`` (also ``.gz`` or ``.bz2`` compressed):
      :func:`read_svmlight`, ``X`` with CSR blocks and the targets of each line.

    Anything else is an :class:`~daskpar.errors.InputError` naming the formats.

    Parameters
    ----------
    path : str or path-like
        The data. A URL (``s3://...``) is read as its suffix says (as a local file's), or,
        if its name does not say, as the zarr group or Parquet folder it holds.
    x : str, default="X"
        zarr and HDF5: the array (dataset) of features.
    y : str, path-like or None, default="y"
        zarr and HDF5: the array (dataset) of targets. ``.npy``: the path (or URL) of a
        ``.npy`` file holding the targets (relative to the current directory, like
        ``path``). None reads ``X`` only. Not used for tables, whose targets are the column
        ``target``, nor for svmlight files, whose targets are on each line (only None, to
        read ``X`` alone).
    target : str, optional
        Parquet, CSV and JSON lines: the column holding the target. Required for them, unless
        ``as_frame=True`` (None then reads the features alone).
    columns : sequence of str, optional
        Parquet, CSV and JSON lines: the feature columns (default: every column but
        ``target``).
    chunks : int or sequence of int, optional
        ``.npy`` and HDF5: rows per block (see :func:`read_npy`).
    min_partitions : int, default=8
        Parquet, CSV, JSON lines, ``.npy``, HDF5 and svmlight: the fewest blocks to make when
        there are rows enough.
    missing_chunks : {"raise", "fill"}, default="raise"
        zarr: what a chunk missing from the store means (see :func:`read_zarr`).
    as_frame : bool, default=False
        Parquet, CSV and JSON lines: return the table, a dask DataFrame of the features and a
        dask Series of the target (see :func:`read_csv`). Other formats hold arrays without
        column names: refused.
    storage_options : dict, optional
        For a URL: the options of its fsspec file system (credentials, endpoint), given to
        the reader. None uses the store library's defaults (for S3, the ``AWS_*``
        environment variables).

    Returns
    -------
    X : dask array of shape (n_samples, n_features)
        Its blocks are ``scipy.sparse.csr_matrix`` for svmlight files, else numpy arrays.
    y : dask array of shape (n_samples,), or None if ``y`` is None (zarr, ``.npy``, HDF5,
        svmlight)
        With ``as_frame=True``: a dask DataFrame and a dask Series (or None).

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
    >>> X, y = read_path(tmp_path / "t.csv", as_frame=True)
    >>> list(X.columns), y
    (['a', 'b', 'label'], None)
    """
    what = "read_path"
    kind = path_format(path, what=what, storage_options=storage_options)
    if as_frame and kind not in _TABLES:
        raise InputError(
            f"{what}: as_frame=True reads tables (Parquet, CSV, JSON lines), whose columns have "
            f"names; {display_path(path)!r} is {kind} data, arrays without column names. Pass "
            "as_frame=False."
        )
    if kind == "zarr":
        if y is not None and not isinstance(y, str):
            raise InputError(
                f"{what}: y must name an array of the zarr store {display_path(path)!r}; got "
                f"y={scrub(repr(y))}."
            )
        return read_zarr(
            path, x=x, y=y, missing_chunks=missing_chunks, storage_options=storage_options
        )
    if kind in _TABLES:
        if target is None and not as_frame:
            raise InputError(
                f"{what}: {display_path(path)!r} is a {_TABLES[kind]} table: pass "
                "target='COLUMN', the name of the column holding the targets."
            )
        readers: dict[str, Callable[..., tuple[Any, Any]]] = {
            "parquet": read_parquet,
            "csv": read_csv,
            "json": read_json,
        }
        return readers[kind](
            path,
            target=target,
            columns=columns,
            min_partitions=min_partitions,
            as_frame=as_frame,
            storage_options=storage_options,
        )
    if kind == "svmlight":
        if y not in (None, "y"):
            raise InputError(
                f"{what}: {display_path(path)!r} is an svmlight file, which holds its targets on "
                f"each line: y only takes None (read X alone); got y={scrub(repr(y))}."
            )
        X, targets = read_svmlight(
            path, min_partitions=min_partitions, storage_options=storage_options
        )
        return X, None if y is None else targets
    if kind == "npy":
        if y is not None and not os.fspath(y).lower().endswith(".npy"):
            raise InputError(
                f"{what}: {display_path(path)!r} is a .npy file, which holds X only. Pass "
                "y='targets.npy', the path of a .npy file holding the targets, or y=None to "
                f"read X only; got y={scrub(repr(y))}."
            )
        return read_npy(
            path, y, chunks=chunks, min_partitions=min_partitions, storage_options=storage_options
        )
    if y is not None and not isinstance(y, str):
        raise InputError(
            f"{what}: y must name a dataset of the HDF5 file {display_path(path)!r}; got "
            f"y={scrub(repr(y))}."
        )
    return read_hdf5(
        path,
        x=x,
        y=y,
        chunks=chunks,
        min_partitions=min_partitions,
        storage_options=storage_options,
    )
