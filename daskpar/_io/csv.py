"""Reading CSV files: :func:`read_csv`, with :func:`dask.dataframe.read_csv`.

The one reader that reads data at call time: a CSV file has no row index, so counting the
rows of each block takes one pass over the data.
"""

from __future__ import annotations

import glob
import importlib
import math
import os
import re
from collections.abc import Sequence
from numbers import Integral
from pathlib import Path
from typing import Any

import dask.array as da
import numpy as np

from .._graph import compute_blocks, renamed
from .._sklearn_compat import Interval, validate_params
from .._validation import MIN_BLOCK_ROWS, warn_if_tiny_partitions
from ..errors import InputError, PartitionError
from ._common import (
    COLUMNS_PARAM,
    DEFAULT_MIN_PARTITIONS,
    MIN_PARTITIONS_PARAM,
    PATH_PARAM,
    READER_STACKLEVEL,
    PathLike,
    default_block_rows,
    existing,
    feature_columns,
    float_dtype,
    import_optional,
    is_url,
    largest_cut,
    missing_target_message,
)
from ._remote import (
    STORAGE_OPTIONS_PARAM,
    StorageOptions,
    StorageOptionsLike,
    display_path,
    filesystem,
    is_pattern,
    is_remote,
    local_path,
    problem,
    raise_scrubbed,
    remote_location,
    scrub,
)

__all__ = [
    "CSV_COMPRESSIONS",
    "TEXT_TABLE_PARAMS",
    "PANDAS_INDEX_HEADER",
    "clean_target_partition",
    "check_target_partition",
    "count_partition_rows",
    "late_dtype_error",
    "read_csv",
    "rechunk_rows",
    "sized_blocksize",
    "text_blocksize",
    "text_compression",
]

#: Largest CSV block, in bytes of text, when ``read_csv`` chooses the block size.
MAX_CSV_BLOCK_BYTES = 64 * 2**20

#: CSV compressions by file suffix: dask cannot split these files into blocks.
CSV_COMPRESSIONS = {".gz": "gzip", ".bz2": "bz2", ".xz": "xz", ".zst": "zstd"}


def text_compression(paths: Sequence[str], what: str) -> str | None:
    """The compression of the CSV (or JSON-lines) files, by suffix: ``"gzip"``, ..., or None
    for plain text."""
    found = {CSV_COMPRESSIONS.get(Path(p).suffix.lower()) for p in paths}
    if len(found) > 1:
        raise InputError(
            f"{what}: the files {[display_path(p) for p in paths]} are compressed differently "
            f"({sorted(map(str, found))}); read each kind separately, or recompress them alike."
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


def text_blocksize(paths: Sequence[str], min_partitions: int) -> int:
    """Bytes per CSV block, for ``blocksize="auto"`` (also JSON lines', a row per line).

    The largest block size, up to ``MAX_CSV_BLOCK_BYTES``, that cuts the files into at least
    ``min_partitions`` blocks, but no more blocks than leave ``MIN_BLOCK_ROWS`` rows in each,
    as the first file's first lines estimate the rows. dask cuts a file of ``s`` bytes into
    ``s // blocksize`` blocks (at least one).
    """
    if any(is_url(p) for p in paths):
        return MAX_CSV_BLOCK_BYTES  # sizing remote files is not worth a round trip here
    names = [f for p in paths for f in (sorted(glob.glob(p)) if is_pattern(p) else [p])]
    files = [f for f in names if os.path.isfile(f)]
    if not files:
        return MAX_CSV_BLOCK_BYTES  # dask reports the empty glob
    with open(files[0], "rb") as f:
        sample = f.read(2**16)
    return sized_blocksize([os.path.getsize(f) for f in files], sample, min_partitions)


def sized_blocksize(sizes: Sequence[int], sample: bytes, min_partitions: int) -> int:
    """:func:`text_blocksize` of files of ``sizes`` bytes, the first of which starts with
    ``sample`` (its first 64 KiB): the rows are estimated from the sample's lines."""
    row_bytes = len(sample) / max(sample.count(b"\n"), 1)
    wanted = min(min_partitions, int(sum(sizes) / max(row_bytes, 1) // MIN_BLOCK_ROWS))
    if wanted <= 1:
        return MAX_CSV_BLOCK_BYTES
    least = math.ceil(MIN_BLOCK_ROWS * row_bytes)
    return min(max(largest_cut(sizes, wanted), least), MAX_CSV_BLOCK_BYTES)


#: ``read_csv`` options under which a file's header does not name its columns.
POSITIONAL_HEADER_OPTIONS = ("names", "header", "usecols", "index_col")


def _file_headers(
    names: Sequence[str], compression: str | None, kwargs: dict[str, Any]
) -> dict[str, tuple[str, ...]]:
    """Each file's column names, from its header line, in the order of the files.

    Several files are read as one table only if their headers name the same columns; in
    another order, each file's columns are taken by name. Files whose columns differ are
    refused with the difference. With options that name the columns by position
    (``names``, ``header``, ...), the headers are not compared: an empty mapping.
    """
    import fsspec
    import pandas as pd

    one_file = len(names) == 1 and not is_pattern(names[0])
    if one_file or any(k in kwargs for k in POSITIONAL_HEADER_OPTIONS):
        return {}
    skip = ("dtype", "converters", "parse_dates", "storage_options")
    parse = {k: v for k, v in kwargs.items() if k not in skip}
    options = kwargs.get("storage_options") or {}
    headers: dict[str, tuple[str, ...]] = {}
    for f in fsspec.open_files(list(names), mode="rb", compression=compression, **options):
        with f as stream:
            columns = pd.read_csv(stream, nrows=0, **parse).columns
        # A store's file by its URL (its path alone would be read as a local one).
        name = f.full_name if "storage_options" in kwargs else f.path
        headers[name] = tuple(str(c) for c in columns)
    if not headers:
        return {}
    first, *others = headers
    expected = set(headers[first])
    for other in others:
        got = set(headers[other])
        if got != expected:
            lacks, extra = sorted(expected - got), sorted(got - expected)
            raise InputError(
                f"read_csv: the files do not have the same columns: {display_path(other)} "
                + (f"lacks {lacks}" if lacks else "")
                + (" and " if lacks and extra else "")
                + (f"has {extra} too" if extra else "")
                + f", compared with {display_path(first)}. Read them separately, or write them "
                "with the same columns (in any order: they are matched by name)."
            )
    return headers


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
        raise PartitionError(missing_target_message("read_csv", target, missing, where))
    if not text:
        return series
    values = series.astype(str).to_numpy(dtype=object)
    return pd.Series(values, index=series.index, name=series.name, dtype=object)


def check_target_partition(series: Any, target: str, where: str) -> Any:
    """One CSV block's target column, as read: checked for missing values (``as_frame``)."""
    missing = int(series.isna().sum())
    if missing:
        raise PartitionError(missing_target_message("read_csv", target, missing, where))
    return series


#: The parameters of the text-table readers (:func:`read_csv`, ``read_json``).
TEXT_TABLE_PARAMS: dict[str, list[Any]] = {
    "path": [*PATH_PARAM, list, tuple],
    "target": [str, None],
    "columns": COLUMNS_PARAM,
    "blocksize": [str, Interval(Integral, 1, None, closed="left"), None],
    "min_partitions": MIN_PARTITIONS_PARAM,
    "as_frame": ["boolean"],
    "storage_options": STORAGE_OPTIONS_PARAM,
}


@validate_params(
    TEXT_TABLE_PARAMS,
    prefer_skip_nested_validation=True,
)
def read_csv(
    path: PathLike | Sequence[PathLike],
    *,
    target: str | None = None,
    columns: Sequence[str] | None = None,
    blocksize: str | int | None = "auto",
    min_partitions: int = DEFAULT_MIN_PARTITIONS,
    as_frame: bool = False,
    storage_options: StorageOptionsLike = None,
    **kwargs: Any,
) -> tuple[Any, Any]:
    """Read CSV files with :func:`dask.dataframe.read_csv`, one block per ``blocksize`` bytes.

    .. warning::
       This is the only reader that reads data at call time (unless ``as_frame=True``). A
       CSV file has no row index, so the number of rows in each block, which daskpar needs to
       know, is found by one counting pass over the whole data when this function is called.
       Convert large CSV data once to zarr or Parquet (``daskpar.data.write_zarr``) and read
       that instead.

    With ``as_frame=True``, the table itself is returned, lazily and without that pass: a
    dask DataFrame of the feature columns, of any type (text and categories too), and the
    target as a dask Series with the same partitions. The estimators take its columns by
    name (``feature_names_in_``) and count the rows of its partitions when they need to.

    Column types are inferred by dask from a sample of the first block.

    Compressed files (``.csv.gz``, ``.csv.bz2``, ``.csv.xz``, ``.csv.zst``; the last needs
    the ``zstandard`` package) cannot be cut into blocks before they are decompressed: each
    is read by one task, and its rows are then split into at least ``min_partitions`` blocks
    for the work that follows.

    Parameters
    ----------
    path : str, path-like or sequence of them
        A CSV file, a glob pattern such as ``"data/*.csv"``, or a list of files: local
        paths, or the URLs of an object store's files (``s3://bucket/*.csv``).
    target : str, optional
        The column holding the target: numbers, booleans or text, without missing values.
        Required unless ``as_frame=True``, where None reads the features only.
    columns : sequence of str, optional
        The feature columns, in order. Default: every column but ``target`` and a first
        column with no name in the header (the index ``DataFrame.to_csv`` writes); all must
        be numeric (integers and booleans become floats), unless ``as_frame=True``.
    blocksize : "auto", str, int or None, default="auto"
        Bytes of CSV per block. ``"auto"``: at least ``min_partitions`` blocks of at most
        64 MiB each, but no more blocks than leave about 1000 rows in each. None: one block
        per file.
    min_partitions : int, default=8
        How many blocks to make, at least, with ``blocksize="auto"`` (and for compressed
        files), so that several workers have something to do. Not used with
        ``as_frame=True``, whose partitions are dask's blocks (one per compressed file).
    as_frame : bool, default=False
        Return the table (a dask DataFrame and Series) rather than arrays. A column whose
        type changes after the first block is then reported when the data are read, by
        dask's error, which names the column.
    storage_options : dict, optional
        For URLs: the options of their fsspec file system (credentials, endpoint), which
        travel with the tasks but appear in no task key or message. None uses the store
        library's defaults (for S3, the ``AWS_*`` environment variables). dask's keys of a
        URL follow its object's ETag: a file rewritten in place gets new ones.
    **kwargs
        Passed to :func:`dask.dataframe.read_csv` (``sep``, ``dtype``, ...).

    Returns
    -------
    X : dask array of floats, shape (n_samples, n_features)
        With ``as_frame=True``: a dask DataFrame of the feature columns, as dask reads them.
    y : dask array of shape (n_samples,), with the same row chunks as ``X``
        A text column gives an array of dtype object holding Python ``str``, the file's
        values. With ``as_frame=True``: a dask Series with ``X``'s partitions (None if
        ``target`` is None); a missing value in it is an error when it is read.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> from daskpar.data import read_csv
    >>> tmp_path = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (tmp_path / "t.csv").write_text("a,b,label\\n1,2.5,cat\\n3,4.5,dog\\n")
    >>> X, y = read_csv(tmp_path / "t.csv", target="label")
    >>> X.compute().tolist(), y.compute().tolist(), y.dtype
    ([[1.0, 2.5], [3.0, 4.5]], ['cat', 'dog'], dtype('O'))

    Several files are read by column name, whatever the order of their columns:

    >>> _ = (tmp_path / "u.csv").write_text("label,b,a\\nbird,6.5,5\\n")
    >>> X, y = read_csv([tmp_path / "t.csv", tmp_path / "u.csv"], target="label", as_frame=True)
    >>> list(X.columns), X.npartitions
    (['a', 'b'], 2)
    >>> X.compute().to_numpy().tolist(), y.compute().tolist()
    ([[1.0, 2.5], [3.0, 4.5], [5.0, 6.5]], ['cat', 'dog', 'bird'])
    >>> X, y = read_csv(tmp_path / "t.csv", columns=["b", "a"], as_frame=True)
    >>> list(X.columns), y is None
    (['b', 'a'], True)
    """
    what = "read_csv"
    pd = import_optional("pandas", what)
    dd = import_optional("dask.dataframe", what)
    paths = [path] if isinstance(path, str | os.PathLike) else list(path)
    names = [os.fspath(p) for p in paths]
    remote = [is_remote(p) for p in names]
    if any(remote):
        if not all(remote):
            raise InputError(
                f"{what}: {[display_path(p) for p in names]} mixes URLs and local paths; read "
                "the files of each place separately."
            )
        # Object stores: clean URLs (no user or password in them), and the options apart,
        # as every reader takes them.
        located = [remote_location(p, storage_options, what) for p in names]
        if any(options != located[0][1] for _, options in located[1:]):
            raise InputError(
                f"{what}: the URLs {[display_path(u) for u, _ in located]} carry different "
                "users or passwords; read the files of each store separately."
            )
        names = [url for url, _ in located]
        kwargs["storage_options"] = located[0][1].options
        # dask lists the files with fsspec's file system of these options: none of its
        # listings cached since (a file added to a pattern, an object rewritten, is seen).
        filesystem(names[0], located[0][1])
        path = names[0] if len(names) == 1 else names
    else:
        names = [os.fspath(local_path(p)) for p in names]
    for p in names:
        if not is_pattern(p) and not is_url(p):
            existing(p, what)
            if os.path.isfile(p) and os.path.getsize(p) == 0:
                raise InputError(
                    f"{what}: {display_path(p)} is empty: it has no header line naming the columns."
                )
    # The data as messages name it: no URL's password, nor a presigned URL's signature.
    shown = scrub(repr(path))
    compression = kwargs.pop("compression", "infer")
    if compression == "infer":
        compression = text_compression(names, what)
    if compression is not None:
        blocksize = None  # dask cannot cut a compressed file: the rows are split below
    elif blocksize == "auto":
        blocksize = text_blocksize(names, min_partitions)
    try:
        headers = _file_headers(names, compression, kwargs)
        if len(set(headers.values())) <= 1:
            df = dd.read_csv(names, blocksize=blocksize, compression=compression, **kwargs)
        else:
            # dask would parse every block after a file's first with the first file's header:
            # read each file with its own header, and take its columns by name.
            order = list(next(iter(headers.values())))
            df = dd.concat(
                [
                    dd.read_csv(f, blocksize=blocksize, compression=compression, **kwargs)[order]
                    for f in headers
                ]
            )
    except InputError:
        raise
    except Exception as exc:  # empty glob, unparsable header; a store's errors, whatever they are
        if not any(remote) and not isinstance(exc, OSError | ValueError):
            raise
        options = StorageOptions(kwargs["storage_options"]) if any(remote) else None
        error = InputError(f"{what}: cannot read {shown}: {problem(exc, options)}")
        raise_scrubbed(error, exc, options)
    available = [str(c) for c in df.columns]
    if as_frame:
        return _frame(df, available, shown, target=target, columns=columns, what=what)
    if target is None:
        raise InputError(
            f"{what}: pass target='COLUMN', the name of the column holding the targets, or "
            "as_frame=True to read the features alone."
        )
    dtypes = {str(c): np.dtype(t) if _is_numpy_numeric(t) else None for c, t in df.dtypes.items()}
    try:
        features = feature_columns(
            available,
            {c for c, t in dtypes.items() if t is not None},
            {str(c): str(t) for c, t in df.dtypes.items()},
            target=target,
            columns=columns,
            where=shown,
            what=what,
            index_columns=_csv_index_columns(available),
        )
    except InputError as error:
        # A file with a header and no rows has columns of no type: say so, not "not numeric".
        if "not numeric" in str(error) and len(df.head(1, npartitions=-1)) == 0:
            raise InputError(
                f"{what}: {shown} has a header but no rows; there is nothing to read."
            ) from None
        raise
    x_dtype = float_dtype([t for c, t in dtypes.items() if c in features and t is not None])
    # The counting pass: rows per partition, once, shared by X and y.
    counts = df.map_partitions(count_partition_rows, meta=pd.Series([], dtype=np.int64))
    counts = renamed(counts.to_dask_array(lengths=(1,) * df.npartitions), "count-rows")
    try:
        lengths = tuple(int(block[0]) for block in compute_blocks(counts))
    except ValueError as exc:
        if "Mismatched dtypes" not in str(exc):
            raise
        raise late_dtype_error(exc, path, what) from None
    # Named by daskpar: dask names the fused dataframe tasks after what they do.
    X = renamed(df[features].astype(x_dtype).to_dask_array(lengths=lengths), "read-csv-X")
    y_dtype = dtypes[target] if dtypes[target] is not None else np.dtype(object)
    y_meta = pd.Series([], dtype=y_dtype, name=target)
    y = renamed(
        df[target]
        .map_partitions(clean_target_partition, target, shown, dtypes[target] is None, meta=y_meta)
        .to_dask_array(lengths=lengths),
        "read-csv-y",
    )
    n_rows = sum(lengths)
    block_rows = default_block_rows(n_rows, len(features) * x_dtype.itemsize, min_partitions)
    if compression is not None and max(lengths, default=0) > block_rows:
        X, y = rechunk_rows(X, {0: block_rows}), rechunk_rows(y, {0: block_rows})
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


def _frame(
    df: Any,
    available: list[str],
    where: str,
    *,
    target: str | None,
    columns: Sequence[str] | None,
    what: str,
) -> tuple[Any, Any]:
    """The features (any type) and the target of the CSV table ``df``, lazily, by name."""
    features = feature_columns(
        available,
        None,
        {},
        target=target,
        columns=columns,
        where=where,
        what=what,
        index_columns=_csv_index_columns(available),
    )
    X = df[features]
    if target is None:
        return X, None
    y = df[target].map_partitions(check_target_partition, target, where, meta=df[target]._meta)
    return X, y


def late_dtype_error(exc: ValueError, path: Any, what: str) -> InputError:
    """dask's "Mismatched dtypes" (a column typed from the first block that holds something
    else further on) as one message naming the columns and the fix."""
    found = re.findall(r"^\|\s*(\S+)\s*\|\s*(\S+)\s*\|\s*(\S+)\s*\|$", str(exc), re.M)
    rows = [(c, f, e) for c, f, e in found if c != "Column"]
    columns = ", ".join(f"{c!r} ({e} at first, then {f})" for c, f, e in rows) or "some columns"
    types = ", ".join(f"{c!r}: 'float64'" for c, _, _ in rows) or "'column': 'float64'"
    return InputError(
        f"{what}: the type of column(s) {columns} of {scrub(repr(path))} changes after the first "
        "block, from which it was inferred. For numbers, pass dtype={" + types + "} to read them "
        "all as floats; text in a numeric column must be fixed or dropped in the file."
    )


def _is_numpy_numeric(t: Any) -> bool:
    try:
        kind = np.dtype(t).kind
    except TypeError:  # pandas extension dtypes: string[pyarrow], category, ...
        return False
    return kind in "biuf"


def rechunk_rows(a: da.Array, chunks: dict[int, Any]) -> da.Array:
    out: da.Array = a.rechunk(chunks)
    return out
