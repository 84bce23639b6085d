"""Reading Parquet files: :func:`read_parquet`, and its task body, :func:`read_parquet_row_group`.

Only the files' metadata are read at call time; each task reads one row group, or a range of
rows of one, and returns ``(X_block, y_block)``.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
from dask.base import tokenize
from numpy.typing import NDArray

from .._dask_compat import GraphNode, Task
from .._graph import arrays_from_pair_tasks, stage_name
from .._sklearn_compat import validate_params
from .._validation import MIN_BLOCK_ROWS, warn_if_tiny_partitions
from ..errors import InputError, PartitionError
from ._common import (
    COLUMNS_PARAM,
    DEFAULT_BLOCK_BYTES,
    DEFAULT_MIN_PARTITIONS,
    MIN_PARTITIONS_PARAM,
    PATH_PARAM,
    READER_STACKLEVEL,
    PathLike,
    existing,
    feature_columns,
    file_token,
    float_dtype,
    import_optional,
    largest_cut,
    missing_target_message,
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
    problem,
    raise_scrubbed,
    remote_location,
    store_errors,
    task_store_errors,
)

__all__ = ["read_parquet", "read_parquet_frame", "read_parquet_row_group"]


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
    pa = import_optional("pyarrow", "read_parquet")
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


@contextmanager
def _parquet_file(path: str, storage_options: StorageOptions | None) -> Iterator[Any]:
    """``pyarrow.parquet.ParquetFile`` of a local path, or of a URL opened through fsspec."""
    pq = import_optional("pyarrow.parquet", "read_parquet")
    if storage_options is None:
        with pq.ParquetFile(path) as pf:
            yield pf
        return
    fs, inner = filesystem(path, storage_options)
    with fs.open(inner, "rb") as f, pq.ParquetFile(f) as pf:
        yield pf


@contextmanager
def _task_parquet_file(path: str, storage_options: StorageOptions | None) -> Iterator[Any]:
    """:func:`_parquet_file` in a task: a store's errors as a PartitionError naming the file,
    which shows no credential (a local file's errors as they are)."""
    with (
        task_store_errors("read_parquet", f"read {display_path(path)!r}", storage_options),
        _parquet_file(path, storage_options) as pf,
    ):
        yield pf


def read_parquet_row_group(
    path: str,
    row_group: int,
    features: list[str],
    target: str,
    x_dtype: np.dtype[Any],
    start: int = 0,
    stop: int | None = None,
    *,
    storage_options: StorageOptions | None = None,
) -> tuple[NDArray[Any], NDArray[Any]]:
    """Read rows ``[start, stop)`` of one row group of one Parquet file: the task body.

    Returns ``(X_block, y_block)``: the feature columns as ``x_dtype`` (nulls become NaN), and
    the target as numbers or, for a string column, an object array of Python ``str``. A null
    target is a :class:`~daskpar.errors.PartitionError`. ``storage_options``: how to reach a
    file in an object store (``path`` is then its URL).
    """
    pa = import_optional("pyarrow", "read_parquet")
    columns = [*features, target]
    with _task_parquet_file(path, storage_options) as pf:
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
        where = f"rows {start} to {stop - 1} of row group {row_group} of {display_path(path)!r}"
        raise PartitionError(missing_target_message("read_parquet", target, y.null_count, where))
    if pa.types.is_dictionary(y.type):
        y = y.cast(y.type.value_type)
    return X, y.to_numpy()


def _check_same_columns(schema: Any, first: Any, path: str, first_path: str, what: str) -> None:
    """Files read as one table by name: the same columns, of the same types, in any order."""
    got = dict(zip(schema.names, map(str, schema.types), strict=True))
    expected = dict(zip(first.names, map(str, first.types), strict=True))
    if got == expected:
        return
    lacks = sorted(set(expected) - set(got))
    extra = sorted(set(got) - set(expected))
    retyped = sorted(c for c in set(got) & set(expected) if got[c] != expected[c])
    differences = (
        ([f"lacks {lacks}"] if lacks else [])
        + ([f"has {extra} too"] if extra else [])
        + [f"has {c!r} of type {got[c]}, not {expected[c]}" for c in retyped]
    )
    raise InputError(
        f"{what}: {display_path(path)!r} {' and '.join(differences)}, compared with "
        f"{display_path(first_path)!r}. All files "
        "of a directory must have the same columns, of the same types (in any order: they are "
        "matched by name)."
    )


def read_parquet_frame(
    path: str,
    row_group: int,
    columns: list[str],
    target: str | None = None,
    storage_options: StorageOptions | None = None,
) -> Any:
    """Read one row group of one Parquet file as a pandas DataFrame (or, with ``target``, the
    target column as a Series, refused if it holds nulls): the task body of ``as_frame``.

    The file's pandas metadata are not applied: the rows get a new RangeIndex, as the
    arrays' rows have no index either.
    """
    with _task_parquet_file(path, storage_options) as pf:
        table = pf.read_row_group(row_group, columns=columns if target is None else [target])
    frame = table.to_pandas(ignore_metadata=True)
    if target is None:
        return frame
    y = frame[target]
    missing = int(y.isna().sum())
    if missing:
        where = f"row group {row_group} of {display_path(path)!r}"
        raise PartitionError(missing_target_message("read_parquet", target, missing, where))
    return y


def _frame(
    groups: Sequence[tuple[str, int, int]],
    schema: Any,
    features: list[str],
    target: str | None,
    what: str,
    storage_options: StorageOptions | None = None,
) -> tuple[Any, Any]:
    """The features (any type) and the target of Parquet files, one partition per row group.

    Built from daskpar's own task, :func:`read_parquet_frame`, rather than
    :func:`dask.dataframe.read_parquet`, whose pandas-metadata handling warns under pandas 3.
    """
    dd = import_optional("dask.dataframe", what)
    empty = schema.empty_table().to_pandas(ignore_metadata=True)
    files = [file for file, _, _ in groups]
    row_groups = [rg for _, rg, _ in groups]
    remote = {} if storage_options is None else {"storage_options": storage_options}
    X = dd.from_map(
        read_parquet_frame,
        files,
        row_groups,
        columns=features,
        meta=empty[features],
        label="read-parquet-X",
        enforce_metadata=False,
        **remote,
    )
    if target is None:
        return X, None
    y = dd.from_map(
        read_parquet_frame,
        files,
        row_groups,
        columns=features,
        target=target,
        meta=empty[target],
        label="read-parquet-y",
        enforce_metadata=False,
        **remote,
    )
    return X, y


def _parquet_files(p: Path) -> list[Path]:
    if p.is_dir():
        files = sorted(q for q in p.rglob("*.parquet") if q.is_file())
        if not files:
            raise InputError(f"read_parquet: no *.parquet file in directory {display_path(p)!r}.")
        return files
    return [p]


def _remote_parquet_files(url: str, options: StorageOptions) -> list[str]:
    """The URLs of the Parquet file at ``url``, or of the ``*.parquet`` files under it."""
    fs, inner = filesystem(url, options)
    shown = display_path(url)
    with store_errors("read_parquet", f"list {shown!r}", options):
        if fs.isfile(inner):
            return [url]
        found = sorted(f for f in fs.find(inner) if f.endswith(".parquet"))
    if not found:
        raise InputError(f"read_parquet: no file or *.parquet files at {shown!r}.")
    return [fs.unstrip_protocol(f) for f in found]


@validate_params(
    {
        "path": PATH_PARAM,
        "target": [str, None],
        "columns": COLUMNS_PARAM,
        "min_partitions": MIN_PARTITIONS_PARAM,
        "as_frame": ["boolean"],
        "storage_options": STORAGE_OPTIONS_PARAM,
    },
    prefer_skip_nested_validation=True,
)
def read_parquet(
    path: PathLike,
    *,
    target: str | None = None,
    columns: Sequence[str] | None = None,
    min_partitions: int = DEFAULT_MIN_PARTITIONS,
    as_frame: bool = False,
    storage_options: StorageOptionsLike = None,
) -> tuple[Any, Any]:
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

    With ``as_frame=True``, the table itself is returned, lazily: a dask DataFrame of the
    feature columns, of any type (text and categories too), one partition per row group, and
    the target as a dask Series with the same partitions. The files may list their columns
    in different orders: they are read by name.

    Parameters
    ----------
    path : str or path-like
        A ``.parquet`` file, or a directory whose ``*.parquet`` files (searched recursively,
        in sorted path order) all have the same columns (in the same order, unless
        ``as_frame=True``); or an fsspec URL of either (``s3://bucket/table``).
    target : str, optional
        The column holding the target: numbers, booleans or strings, without nulls.
        Required unless ``as_frame=True``, where None reads the features only.
    columns : sequence of str, optional
        The feature columns, in order. Default: every column but ``target`` and the index
        columns; all must be numeric (integers and booleans become floats), unless
        ``as_frame=True``.
    min_partitions : int, default=8
        How many blocks to make, at least, when the data has rows enough, so that several
        workers have something to do. Not used with ``as_frame=True``.
    as_frame : bool, default=False
        Return the table (a dask DataFrame and Series) rather than arrays.
    storage_options : dict, optional
        For a URL: the options of its fsspec file system (credentials, endpoint). None uses
        the store library's defaults (for S3, the ``AWS_*`` environment variables). A remote
        table's task keys come from its objects' ETags, so a table rewritten in place gets
        new keys.

    Returns
    -------
    X : dask array of floats, shape (n_samples, n_features)
        With ``as_frame=True``: a dask DataFrame of the feature columns.
    y : dask array of shape (n_samples,)
        The target column, with ``X``'s row chunks. A string column gives an array of dtype
        object holding Python ``str``, the file's values. With ``as_frame=True``: a dask
        Series with ``X``'s partitions (None if ``target`` is None).

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
    >>> X, y = read_parquet(tmp_path / "t.parquet", columns=["b", "a"], as_frame=True)
    >>> list(X.columns), X.npartitions, y is None
    (['b', 'a'], 2, True)
    >>> X.compute().to_numpy().tolist()
    [[4.0, 1.0], [5.0, 2.0], [6.0, 3.0]]
    """
    what = "read_parquet"
    pa = import_optional("pyarrow", what)
    options: StorageOptions | None = None
    files: Sequence[Path | str]
    if is_remote(path):
        path, options = remote_location(path, storage_options, what)
        files = _remote_parquet_files(os.fspath(path), options)
    else:
        path = local_path(path)
        files = _parquet_files(existing(path, what))
    schema = None
    index_columns: list[str] = []
    groups: list[tuple[str, int, int]] = []  # file, row group, rows
    for file in files:
        try:
            with _parquet_file(str(file), options) as pf:
                meta, file_schema = pf.metadata, pf.schema_arrow
        except Exception as exc:  # pyarrow.ArrowInvalid and friends
            error = InputError(
                f"{what}: cannot read {display_path(file)!r} as Parquet: {problem(exc, options)}"
            )
            raise_scrubbed(error, exc, options)
        if schema is None:
            schema = file_schema
        elif as_frame:
            _check_same_columns(file_schema, schema, str(file), str(files[0]), what)
        elif not file_schema.equals(schema):
            raise InputError(
                f"{what}: {display_path(file)!r} has columns {file_schema.names} of types "
                f"{[str(t) for t in file_schema.types]}, unlike {display_path(files[0])!r} "
                f"({schema.names}, {[str(t) for t in schema.types]}). All files of a directory "
                "must have the same schema."
            )
        index_columns += [c for c in _pandas_index_columns(file_schema) if c not in index_columns]
        name = str(file) if options is not None else str(Path(file).resolve())
        for i in range(meta.num_row_groups):
            groups.append((name, i, meta.row_group(i).num_rows))
    if schema is None:  # _parquet_files returns at least one file
        raise InputError(f"{what}: no Parquet file at {display_path(path)!r}.")
    types = {name: str(t) for name, t in zip(schema.names, schema.types, strict=True)}
    if as_frame:
        features = feature_columns(
            schema.names,
            None,
            types,
            target=target,
            columns=columns,
            where=display_path(path),
            what=what,
            index_columns=index_columns,
        )
        if not groups:
            raise InputError(f"{what}: {display_path(path)!r} holds no rows.")
        return _frame(groups, schema, features, target, what, options)
    if target is None:
        raise InputError(
            f"{what}: pass target='COLUMN', the name of the column holding the targets, or "
            "as_frame=True to read the features alone."
        )

    def is_numeric(t: Any) -> bool:
        return bool(pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_boolean(t))

    numeric = {name for name, t in zip(schema.names, schema.types, strict=True) if is_numeric(t)}
    features = feature_columns(
        schema.names,
        numeric,
        types,
        target=target,
        columns=columns,
        where=display_path(path),
        what=what,
        index_columns=index_columns,
    )
    x_dtype = float_dtype([schema.field(c).type.to_pandas_dtype() for c in features])
    y_dtype = _parquet_target_dtype(pa, schema.field(target).type)
    if y_dtype is None:
        raise InputError(
            f"{what}: the target column {target!r} of {display_path(path)!r} has type "
            f"{types[target]}; a target must be numbers, booleans or strings. Convert it "
            "before writing the file."
        )
    if not groups:  # files without row groups: one empty block
        raise InputError(f"{what}: {display_path(path)!r} holds no rows.")
    # Row groups are cut into pieces of at least `least` rows, chosen to make min_partitions
    # blocks but never under MIN_BLOCK_ROWS rows, and of at most `most` rows (the bytes bound).
    group_rows = [n for *_, n in groups]
    wanted = min(min_partitions, sum(group_rows) // MIN_BLOCK_ROWS)
    least = max(MIN_BLOCK_ROWS, largest_cut(group_rows, wanted)) if wanted > 1 else None
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
    if options is None:
        identity: Any = [file_token(Path(f)) for f in files]
    else:  # an object store: its objects' ETags, from one listing
        identity = content_stamp(os.fspath(path), options, what)
    token = tokenize(identity, features, target, blocks)
    name = f"{stage_name('read-parquet')}-{token}"
    remote: dict[str, Any] = {} if options is None else {"storage_options": options}
    tasks: dict[tuple[str, int], GraphNode] = {
        (name, i): Task(
            (name, i),
            read_parquet_row_group,
            file,
            rg,
            features,
            target,
            x_dtype,
            start,
            stop,
            **remote,
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
