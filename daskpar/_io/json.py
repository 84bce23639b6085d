"""Reading JSON-lines files: :func:`read_json`, one JSON object per line, cut by byte ranges.

::

    files --cut into byte ranges--> blocks (a block owns the lines that start in its range)
    the first block's lines, parsed on the client --> the columns (their keys), their types
    blocks --scan_json_block (scan-json-block)--> JsonScan: rows, what each column holds
        --concatenate_json_scans (scan-json-merge, scan-json-final)--> types, row chunks
    blocks --read_json_block (read-json)--> (X block, y block)

With ``as_frame=True`` there is no scan: each block becomes one partition of a dask
DataFrame (:func:`read_json_frame`, the ``read-json`` tasks).

Each line is parsed with :func:`json.loads`, so that a column's type is what the file says
(JSON numbers, booleans, text), never guessed from the text, and is the same in every block.
"""

from __future__ import annotations

import itertools
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import dask.array as da
import numpy as np
from dask.base import tokenize
from dask.delayed import delayed
from dask.utils import parse_bytes
from numpy.typing import NDArray

from .._dask_compat import GraphNode, Task
from .._graph import arrays_from_pair_tasks, reduce_partitions, stage_name
from .._sklearn_compat import InvalidParameterError, validate_params
from .._validation import warn_if_tiny_partitions
from ..errors import InputError, PartitionError
from ._common import (
    DEFAULT_MIN_PARTITIONS,
    READER_STACKLEVEL,
    PathLike,
    default_block_rows,
    existing,
    feature_columns,
    file_token,
    import_optional,
    missing_target_message,
)
from ._remote import (
    InputFiles,
    StorageOptions,
    StorageOptionsLike,
    display_path,
    input_files,
    is_pattern,
    open_input,
    scrub,
    task_store_errors,
)
from .csv import (
    MAX_CSV_BLOCK_BYTES,
    TEXT_TABLE_PARAMS,
    rechunk_rows,
    sized_blocksize,
    text_compression,
)

__all__ = [
    "JSON_SUFFIXES",
    "JsonBlock",
    "JsonScan",
    "concatenate_json_scans",
    "read_json",
    "read_json_block",
    "read_json_frame",
    "scan_json_block",
]

_WHAT = "read_json"

#: The names of JSON-lines files (also with a compression's suffix, as CSV files).
JSON_SUFFIXES = (".jsonl", ".ndjson", ".json")

#: The most text the client parses to learn the columns: the first block, up to this.
MAX_SAMPLE_BYTES = MAX_CSV_BLOCK_BYTES

# What a column holds, JSON's own types: the values of a column must all be of one of these
# (or null / missing).
NUMBERS, BOOLEANS, TEXT = "numbers", "booleans", "text"

_FLATTEN_HINT = (
    "daskpar reads flat tables: flatten the objects first, for example with "
    "pandas.json_normalize (its columns are named 'key.subkey'), or write the nested values "
    "as text"
)


_ARRAY_HINT = (
    " The file may hold one JSON document (an array of objects, or an object over several "
    "lines): read_json reads JSON lines, one object per line. Convert it with "
    "pandas.read_json(path).to_json(out, orient='records', lines=True)."
)


@dataclass(frozen=True)
class JsonBlock:
    """A byte range of one file: the block owns the lines that start in ``[start, stop)``.

    A compressed file (``compression`` set) is always one whole block. ``rows`` is the objects
    the scan counted (-1 before). ``stamp`` identifies the file's content (its size and
    modification time, or its object's ETag), so that a block of a file rewritten since
    gets a new token. ``storage_options`` reach the object store of a URL ``path`` (None: a
    local file); their repr and token show no credential.
    """

    path: str
    start: int
    stop: int
    compression: str | None = None
    rows: int = -1
    storage_options: StorageOptions | None = None
    stamp: str = ""

    def where(self) -> str:
        if self.compression is not None:
            return repr(display_path(self.path))
        return f"bytes {self.start} to {self.stop} of {display_path(self.path)!r}"


@dataclass(frozen=True)
class Column:
    """What a block's (or the whole data's) column holds: ``kind`` (:data:`NUMBERS`,
    :data:`BOOLEANS`, :data:`TEXT`, or None when every value is missing), whether numbers
    are all integers (``integers``), and where the first value was: the block, the offset of
    its first line and the value's line among the block's (``line`` says it, for messages,
    counting the lines before the block only then)."""

    kind: str | None
    integers: bool = True
    block: JsonBlock | None = None
    begin: int = 0
    index: int = 0

    @property
    def line(self) -> str:
        if self.block is None:
            return "nowhere"
        number = _lines_before(self.block, self.begin) + self.index + 1
        return f"line {number:,} of {display_path(self.block.path)!r}"


@dataclass(frozen=True)
class JsonScan:
    """What the scan learns, one entry per block in block order: objects, and what each
    column holds. ``combine`` concatenates, so the tree keeps the block order."""

    rows: tuple[int, ...]
    columns: tuple[dict[str, Column], ...]


def concatenate_json_scans(scans: list[JsonScan | None]) -> JsonScan | None:
    """The ``scan-json-merge`` task: neighbouring blocks' scans, one after the other."""
    present = [s for s in scans if s is not None]
    if not present:
        return None
    return JsonScan(
        tuple(n for s in present for n in s.rows),
        tuple(c for s in present for c in s.columns),
    )


def finish_json_scan(scan: JsonScan) -> JsonScan:
    """The merged scan, as it is (the ``scan-json-final`` stage: the client decides)."""
    return scan


# --------------------------------------------------------------------------------------------
# One block: its lines, parsed


def _block_bytes(block: JsonBlock, limit: int | None = None) -> tuple[int, bytes]:
    """The lines ``block`` owns (at most about ``limit`` bytes of them, whole lines), and the
    offset in the file of the first of them.

    A line cut by the block's end is read to its end; a line cut by its start belongs to
    the block before (dask's ``read_bytes(delimiter=b"\\n")`` rule), so every line of the
    file is in exactly one block. An object in a store is read by byte ranges (fsspec's).
    """
    with task_store_errors(_WHAT, f"read {block.where()}", block.storage_options):
        return _read_block_bytes(block, limit)


def _read_block_bytes(block: JsonBlock, limit: int | None) -> tuple[int, bytes]:
    if block.compression is not None:
        with open_input(block.path, block.storage_options, block.compression) as stream:
            if limit is None:
                return 0, stream.read()
            data = stream.read(limit)
            if data and not data.endswith(b"\n"):
                data += stream.readline()
            return 0, data
    with open_input(block.path, block.storage_options) as f:
        if block.start > 0:
            f.seek(block.start - 1)
            f.readline()  # the rest of the line that started before the block
        begin = f.tell()
        if begin >= block.stop:
            return begin, b""
        size = block.stop - begin if limit is None else min(block.stop - begin, limit)
        data = f.read(size)
        if data and not data.endswith(b"\n"):
            data += f.readline()
    return begin, data


def _lines_before(block: JsonBlock, begin: int) -> int:
    """How many lines of ``block``'s file come before offset ``begin`` (for messages)."""
    count, left = 0, begin
    if begin == 0:
        return 0
    with open_input(block.path, block.storage_options) as f:
        while left:
            piece = f.read(min(left, 2**20))
            if not piece:
                break
            count += piece.count(b"\n")
            left -= len(piece)
    return count


@dataclass
class _Parsed:
    """A block's objects, and for each the index of its line among the block's lines."""

    block: JsonBlock
    begin: int
    records: list[dict[str, Any]]
    lines: list[int]
    n_lines: int
    _first: int | None = field(default=None, repr=False)

    def line(self, index: int) -> int:
        """The line number (from 1, in its file) of the block's line ``index``."""
        if self._first is None:
            self._first = _lines_before(self.block, self.begin)
        return self._first + index + 1

    def record_line(self, row: int) -> str:
        return f"line {self.line(self.lines[row]):,} of {display_path(self.block.path)!r}"

    def line_range(self) -> str:
        if not self.lines:
            return self.block.where()
        first, last = self.line(self.lines[0]), self.line(self.lines[-1])
        return f"lines {first:,} to {last:,} of {display_path(self.block.path)!r}"


def _shown(line: bytes) -> bytes:
    line = line.strip()
    return line[:120] + (b"..." if len(line) > 120 else b"")


def _parse(block: JsonBlock, begin: int, data: bytes, error: type[Exception]) -> _Parsed:
    """The JSON objects of a block's lines; blank lines are skipped. A line that is not a
    JSON object is ``error`` (InputError on the client, PartitionError in a task), naming
    the file and the line."""
    records: list[dict[str, Any]] = []
    lines: list[int] = []
    pieces = data.split(b"\n")
    parsed = _Parsed(block, begin, records, lines, len(pieces))
    for i, raw in enumerate(pieces):
        text = raw.strip()
        if i == 0 and begin == 0 and text.startswith(b"\xef\xbb\xbf"):
            text = text[3:].strip()  # a UTF-8 byte order mark
        if not text:
            continue
        try:
            obj = json.loads(text)
        except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError
            detail = exc.msg if isinstance(exc, json.JSONDecodeError) else str(exc)
            hint = _ARRAY_HINT if not lines and text[:1] in (b"[", b"{") else ""
            raise error(
                f"{_WHAT}: line {parsed.line(i):,} of {display_path(block.path)!r} is not valid "
                f"JSON ({detail}). The line: {_shown(raw)!r}. Each line must hold one JSON object, "
                'such as {"a": 1.5, "label": "x"}; blank lines are skipped.' + hint
            ) from None
        if not isinstance(obj, dict):
            raise error(
                f"{_WHAT}: line {parsed.line(i):,} of {display_path(block.path)!r} holds a JSON "
                f"{type(obj).__name__}, not an object: {_shown(raw)!r}. Each line must hold "
                'one JSON object, such as {"a": 1.5, "label": "x"}.'
                + (_ARRAY_HINT if not lines and isinstance(obj, list) else "")
            )
        records.append(obj)
        lines.append(i)
    return parsed


def _check_keys(parsed: _Parsed, columns: Sequence[str], origin: str) -> None:
    """Every key of the block is a column (one of the keys of the lines read first)."""
    known = set(columns)
    for row, record in enumerate(parsed.records):
        late = [k for k in record if k not in known]
        if late:
            raise InputError(
                f"{_WHAT}: the key(s) {late} at {parsed.record_line(row)} are not columns: the "
                f"columns are the keys of the first lines read ({origin}), {list(columns)}. "
                "A key met only further on would be dropped silently, so it is refused. Write "
                "every key in the first line (null where there is no value), or pass a larger "
                "blocksize, or None (the columns come from the first block, at most its first "
                "64 MiB)."
            )


def _int64(value: int) -> bool:
    return -(2**63) <= value < 2**63


def _describe(parsed: _Parsed, name: str) -> Column:
    """What column ``name`` of a block holds; a column of mixed JSON types, or of objects or
    arrays, is an InputError naming the lines."""
    kind: str | None = None
    integers = True
    first = -1
    for row, record in enumerate(parsed.records):
        value = record.get(name)
        if value is None:
            continue
        kind_of = type(value)
        if kind_of is bool:
            this = BOOLEANS
        elif kind_of is int:
            this = NUMBERS
            integers = integers and _int64(value)
        elif kind_of is float:
            this, integers = NUMBERS, False
        elif kind_of is str:
            this = TEXT
        else:  # dict or list
            raise InputError(
                f"{_WHAT}: column {name!r} holds a nested JSON {kind_of.__name__} at "
                f"{parsed.record_line(row)}: {json.dumps(value)[:80]}. {_FLATTEN_HINT}."
            )
        if kind is None:
            kind, first = this, row
        elif this != kind:
            raise InputError(
                f"{_WHAT}: column {name!r} holds {kind} ({parsed.record_line(first)}) and "
                f"{this} ({parsed.record_line(row)}: {json.dumps(value)[:80]}). A column must "
                "hold one JSON type (or null): fix the file, writing numbers as numbers, and "
                "text in quotes."
            )
    if kind is None:
        return Column(None)
    integers = integers if kind == NUMBERS else True
    return Column(kind, integers, parsed.block, parsed.begin, parsed.lines[first])


def _conflict(name: str, expected: Column, got: Column) -> InputError:
    if expected.kind is None:
        before = "no value in the first lines read, which typed it as numbers"
    else:
        before = f"{expected.kind} ({expected.line})"
    return InputError(
        f"{_WHAT}: column {name!r} holds {before}, but {got.kind} further on ({got.line}). A "
        "column must hold one JSON type (or null): fix the file"
        + (
            ", or give the column a value in the first line."
            if expected.kind is None
            else ", writing numbers as numbers, and text in quotes."
        )
    )


def _check_kinds(
    parsed: _Parsed, columns: Sequence[str], expected: dict[str, Column], strict_missing: bool
) -> dict[str, Column]:
    """What each column of the block holds, checked against ``expected`` (a column expected
    to hold nothing may hold anything if not ``strict_missing``; numbers otherwise)."""
    found = {}
    for name in columns:
        got = _describe(parsed, name)
        want = expected.get(name, Column(None))
        if got.kind is not None:
            if want.kind is None:
                if strict_missing and got.kind == TEXT:
                    raise _conflict(name, want, got)
            elif got.kind != want.kind:
                raise _conflict(name, want, got)
        found[name] = got
    return found


def _check_target(parsed: _Parsed, target: str, error: type[Exception] = PartitionError) -> None:
    missing = [
        row
        for row, record in enumerate(parsed.records)
        if record.get(target) is None or record[target] != record[target]
    ]
    if missing:
        where = f"{parsed.line_range()} (the first at {parsed.record_line(missing[0])})"
        raise error(missing_target_message(_WHAT, target, len(missing), where))


def _values(parsed: _Parsed, name: str) -> list[Any]:
    return [record.get(name) for record in parsed.records]


def _string_dtype() -> Any:
    """The dtype of text columns: pandas' string dtype, as dask's ``read_csv`` gives it."""
    import pandas as pd

    return pd.StringDtype("pyarrow")


def _frame_dtype(column: Column, *, is_target: bool) -> Any:
    """The dtype of a column of the table (``as_frame``): text as read_csv gives it; numbers
    and booleans of the features as float64 (so that a missing value is NaN in any block)."""
    if column.kind == TEXT:
        return _string_dtype()
    if is_target and column.kind == BOOLEANS:
        return np.dtype(bool)
    if is_target and column.kind == NUMBERS and column.integers:
        return np.dtype(np.int64)
    return np.dtype(np.float64)


def _as_dtype(values: list[Any], dtype: Any) -> Any:
    if isinstance(dtype, np.dtype) and dtype.kind == "f":
        return np.array(values, dtype=dtype)  # None (null, missing) becomes NaN
    if isinstance(dtype, np.dtype):
        return np.array(values, dtype=dtype)
    import pandas as pd

    return pd.array(values, dtype=dtype)


# --------------------------------------------------------------------------------------------
# Task bodies


def scan_json_block(
    blocks: NDArray[Any],
    rows: slice,
    block_id: tuple[int, ...],
    *,
    columns: list[str],
    expected: dict[str, Column],
    target: str | None,
    origin: str,
) -> JsonScan:
    """One block's objects and what its columns hold (the ``scan-json-block`` stage of
    :func:`read_json`); ``blocks`` holds the block's :class:`JsonBlock`. Late keys, mixed
    types and missing targets are refused here, at call time."""
    block: JsonBlock = blocks[0]
    begin, data = _block_bytes(block)
    parsed = _parse(block, begin, data, PartitionError)
    _check_keys(parsed, columns, origin)
    found = _check_kinds(parsed, columns, expected, strict_missing=False)
    if target is not None:
        _check_target(parsed, target)
    return JsonScan((len(parsed.records),), (found,))


def read_json_block(
    block: JsonBlock,
    columns: list[str],
    features: list[str],
    target: str,
    y_dtype: np.dtype[Any],
    origin: str,
) -> tuple[NDArray[Any], NDArray[Any]]:
    """One block as ``(X_block, y_block)``: the feature columns as float64 (null or missing
    keys become NaN, booleans 0 and 1) and the target as ``y_dtype`` (text as an object
    array of Python ``str``); the task body of :func:`read_json`'s ``read-json`` stage."""
    begin, data = _block_bytes(block)
    parsed = _parse(block, begin, data, PartitionError)
    _check_keys(parsed, columns, origin)
    if len(parsed.records) != block.rows:
        raise PartitionError(
            f"{_WHAT}: {block.where()} holds {len(parsed.records)} objects, but it held "
            f"{block.rows} when {_WHAT} scanned it: the file changed since. Call {_WHAT} again."
        )
    _check_target(parsed, target)
    X = np.empty((len(parsed.records), len(features)), dtype=np.float64)
    for j, name in enumerate(features):
        X[:, j] = np.array(_values(parsed, name), dtype=np.float64)
    y = np.array(_values(parsed, target), dtype=y_dtype)
    return X, y


def read_json_frame(
    block: JsonBlock,
    keys: list[str],
    expected: dict[str, Column],
    dtypes: dict[str, Any],
    origin: str,
    target: str | None = None,
) -> Any:
    """One block as a pandas DataFrame of the columns ``dtypes`` names, of those dtypes: the
    task body of ``as_frame``. A key or a type the first lines did not have is an InputError.

    The target, if any, is of its dtype unless it holds missing values (then float64 with NaN,
    or text with NA) or other numbers than integers where integers were expected (float64):
    :func:`check_json_target` refuses those when the target is read, so that the features
    stay readable.
    """
    import pandas as pd

    begin, data = _block_bytes(block)
    parsed = _parse(block, begin, data, PartitionError)
    _check_keys(parsed, keys, origin)
    _check_kinds(parsed, list(dtypes), expected, strict_missing=True)
    frame = {}
    for name, dtype in dtypes.items():
        values = _values(parsed, name)
        if name == target and isinstance(dtype, np.dtype) and dtype.kind != "f":
            odd = float if dtype.kind == "i" else type(None)
            if any(v is None or isinstance(v, odd) for v in values):
                dtype = np.dtype(np.float64)  # refused by check_json_target
        frame[name] = _as_dtype(values, dtype)
    return pd.DataFrame(frame, index=pd.RangeIndex(len(parsed.records)))


def check_json_target(
    series: Any,
    blocks: list[JsonBlock],
    target: str,
    dtype: Any,
    expected: Column,
    partition_info: dict[str, Any] | None = None,
) -> Any:
    """One partition's target (``as_frame``): refused if a value is missing (the error
    :func:`read_csv` gives, naming the lines), or if it is not of ``dtype``."""
    if not series.isna().any() and series.dtype == dtype:
        return series
    block = blocks[partition_info["number"] if partition_info else 0]
    begin, data = _block_bytes(block)
    parsed = _parse(block, begin, data, PartitionError)
    _check_target(parsed, target)
    got = _describe(parsed, target)  # floats where the first lines had integers
    raise InputError(
        f"{_WHAT}: the target column {target!r} holds integers in the first lines read "
        f"({expected.line}), but other numbers further on ({got.line} or after). Write "
        "every target as a float (1.0), or pass a larger blocksize (or None)."
    )


# --------------------------------------------------------------------------------------------
# Files and blocks


def _json_files(
    path: PathLike | Sequence[PathLike], storage_options: StorageOptionsLike
) -> InputFiles:
    """The files to read, in order: a file, a glob pattern (sorted), or a list of either;
    local files, or objects of a store (all URLs, or none)."""
    return input_files(path, storage_options, _WHAT, example="*.jsonl", local=_local_files)


def _local_files(paths: list[PathLike]) -> InputFiles:
    import glob

    files: list[str] = []
    for p in [os.fspath(p) for p in paths]:
        if is_pattern(p) and not os.path.exists(p):
            found_here = sorted(f for f in glob.glob(p) if os.path.isfile(f))
            if not found_here:
                raise InputError(f"{_WHAT}: no file matches the pattern {display_path(p)!r}.")
            files += found_here
            continue
        if existing(p, _WHAT).is_dir():
            raise InputError(
                f"{_WHAT}: {display_path(p)!r} is a directory; pass a glob pattern of its files, "
                f"such as {display_path(os.path.join(p, '*.jsonl'))!r}."
            )
        files.append(p)
    return InputFiles(
        [os.path.abspath(f) for f in files],
        [os.path.getsize(f) for f in files],
        [file_token(existing(f, _WHAT)) for f in files],
        None,
    )


def _blocksize(blocksize: str | int | None, files: InputFiles, min_partitions: int) -> int | None:
    if blocksize == "auto":
        # Lines are rows, as for CSV: sized from the first file's first lines.
        with open_input(files.names[0], files.options) as f:
            sample = f.read(2**16)
        return sized_blocksize(files.sizes, sample, min_partitions)
    if isinstance(blocksize, str):
        try:
            size = int(parse_bytes(blocksize))
        except ValueError:
            size = 0
        if size < 1:
            raise InvalidParameterError(
                f"The 'blocksize' parameter of {_WHAT} must be 'auto', a size such as '64MiB', "
                f"an int in the range [1, inf) or None. Got {blocksize!r} instead."
            )
        return size
    return blocksize


def _cut(files: InputFiles, blocksize: int | None, compression: str | None) -> list[JsonBlock]:
    """Byte ranges: ``size // blocksize`` equal ones per file (at least one), as dask cuts
    text files; a compressed file, or any file with ``blocksize`` None, is one block."""
    blocks: list[JsonBlock] = []
    for path, size, stamp in zip(files.names, files.sizes, files.stamps, strict=True):
        parts = 1 if blocksize is None or compression else max(1, size // blocksize)
        cuts = [size * k // parts for k in range(parts + 1)]
        blocks += [
            JsonBlock(path, a, b, compression, storage_options=files.options, stamp=stamp)
            for a, b in itertools.pairwise(cuts)
        ]
    return blocks


def _sample(blocks: Sequence[JsonBlock]) -> tuple[_Parsed, str]:
    """The first lines holding objects (the first block's, at most ``MAX_SAMPLE_BYTES`` of
    them), parsed on the client, and where they are, for messages."""
    for block in blocks:
        begin, data = _block_bytes(block, MAX_SAMPLE_BYTES)
        parsed = _parse(block, begin, data, InputError)
        if parsed.records:
            return parsed, parsed.line_range()
    names = sorted({display_path(b.path) for b in blocks})
    raise InputError(
        f"{_WHAT}: {names[0] if len(names) == 1 else names}"
        f" {'is' if len(names) == 1 else 'are'} empty: no line holds a JSON object, whose keys "
        "would name the columns."
    )


def _descriptors(blocks: Sequence[JsonBlock], token: str) -> da.Array:
    """A dask array of one :class:`JsonBlock` per chunk, put in the graph as data."""
    held = np.empty(len(blocks), dtype=object)
    for i, block in enumerate(blocks):
        held[i] = block
    name = f"{stage_name('json-blocks')}-{tokenize(token, list(blocks))}"
    out: da.Array = da.from_array(held, chunks=1, name=name, meta=np.empty((0,), dtype=object))
    return out


def _merge_columns(scan: JsonScan, columns: Sequence[str]) -> dict[str, Column]:
    """What each column holds in the whole data; different JSON types in two blocks (of a
    column with no value in the first lines) is an InputError naming both."""
    merged: dict[str, Column] = {}
    for name in columns:
        out = Column(None)
        for found in scan.columns:
            got = found[name]
            if got.kind is None:
                continue
            if out.kind is None:
                out = got
            elif got.kind != out.kind:
                raise InputError(
                    f"{_WHAT}: column {name!r} holds {out.kind} ({out.line}) and {got.kind} "
                    f"({got.line}). A column must hold one JSON type (or null): fix the file, "
                    "writing numbers as numbers, and text in quotes."
                )
            else:
                out = replace(out, integers=out.integers and got.integers)
        merged[name] = out
    return merged


# --------------------------------------------------------------------------------------------
# The reader


@validate_params(
    TEXT_TABLE_PARAMS,
    prefer_skip_nested_validation=True,
)
def read_json(
    path: PathLike | Sequence[PathLike],
    *,
    target: str | None = None,
    columns: Sequence[str] | None = None,
    blocksize: str | int | None = "auto",
    min_partitions: int = DEFAULT_MIN_PARTITIONS,
    as_frame: bool = False,
    storage_options: StorageOptionsLike = None,
) -> tuple[Any, Any]:
    """Read JSON-lines files (one JSON object per line), one block per ``blocksize`` bytes.

    The files are cut into byte ranges; a block owns the lines that *start* in its range, so
    each line is read once whatever the cuts. Each line is parsed by :func:`json.loads`:
    blank lines are skipped, CRLF line ends and a last line without newline are fine, and a
    line that is not a JSON object is an error naming its file and line number.

    .. warning::
       Like :func:`read_csv`, this reader reads data at call time (unless ``as_frame=True``):
       one pass over all blocks (the dashboard's ``scan-json-block``) counts each block's
       objects and checks their keys and types. The data is parsed again when it is used:
       convert large data once to zarr or Parquet and read that instead.

    **Columns** are matched by key, never by position: the lines may list their keys in any
    order, and a key absent from a line (or null) is a missing value. The columns, in order,
    are the keys of the first lines read (the first block, at most its first 64 MiB), in the
    order they first appear there. A key met only further on is an
    :class:`~daskpar.errors.InputError` naming it and its line, at call time (with
    ``as_frame=True``, when that block is read): it is never dropped silently. Write every
    key in the first line (null if it has no value), or pass a larger ``blocksize`` (or None).

    **Types** are JSON's own, the same in every block: a column holds numbers, booleans or
    text (or nulls); mixed types, and nested objects or arrays, are refused, naming the
    column and the line (flatten nested objects with :func:`pandas.json_normalize` first).
    Text is never parsed as numbers or dates. The arrays hold the feature columns as
    float64 (booleans 0 and 1, a missing value NaN).

    Compressed files (``.gz``, ``.bz2``, ``.xz``, ``.zst``; the last needs the ``zstandard``
    package) cannot be cut into blocks before they are decompressed: each is read by one
    task, and its rows are then split into at least ``min_partitions`` blocks for the work
    that follows.

    Parameters
    ----------
    path : str, path-like or sequence of them
        A ``.jsonl``, ``.ndjson`` or ``.json`` file (read as lines), a glob pattern such as
        ``"data/*.jsonl"`` (its files in sorted order), or a list of files: local files (at
        the same path on every worker), or the URLs of an object store's files
        (``s3://bucket/*.jsonl``), read by byte ranges through fsspec.
    target : str, optional
        The key holding the target: numbers, booleans or text, never missing (a line without
        it is a :class:`~daskpar.errors.PartitionError`, as for :func:`read_csv`). Required
        unless ``as_frame=True``, where None reads the features only.
    columns : sequence of str, optional
        The feature columns, in order. Default: every column but ``target``; all must hold
        numbers or booleans, unless ``as_frame=True``.
    blocksize : "auto", str, int or None, default="auto"
        Bytes of text per block. ``"auto"``: at least ``min_partitions`` blocks of at most
        64 MiB each, but no more blocks than leave about 1000 rows in each. None: one block
        per file.
    min_partitions : int, default=8
        How many blocks to make, at least, with ``blocksize="auto"`` (and for compressed
        files).
    as_frame : bool, default=False
        Return the table (a dask DataFrame and Series) rather than arrays, lazily: only the
        first lines are read at call time, and they type the columns. Text columns are
        pandas' ``"string"`` dtype (as :func:`read_csv` gives them); numbers and booleans
        of the features float64 (so that a block with missing values has the dtype of the
        others); the target keeps its type (int64 if the first lines hold integers only,
        bool, float64 or ``"string"``). A column with no value in the first lines is typed
        as numbers, and text in it further on is an error when that block is read.
    storage_options : dict, optional
        For URLs: the options of their fsspec file system (credentials, endpoint), which
        travel with the tasks but appear in no task key or message. None uses the store
        library's defaults (for S3, the ``AWS_*`` environment variables). The task keys of a
        URL follow its object's ETag (or version): a file rewritten in place gets new ones.

    Returns
    -------
    X : dask array of float64, shape (n_samples, n_features)
        With ``as_frame=True``: a dask DataFrame of the feature columns, one partition per
        block.
    y : dask array of shape (n_samples,), with the same row chunks as ``X``
        int64 if every target is an integer, float64 for other numbers, bool, or for text an
        array of dtype object holding Python ``str``. With ``as_frame=True``: a dask Series
        with ``X``'s partitions (None if ``target`` is None); a missing value in it is an
        error when it is read.

    Raises
    ------
    InputError
        No such file, no object in it, a late key, mixed or nested values, feature columns
        that do not hold numbers (arrays).
    PartitionError
        A line that is not a JSON object, or a missing target, naming the file and the line.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> from daskpar._io import read_json
    >>> tmp_path = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (tmp_path / "t.jsonl").write_text(
    ...     '{"a": 1, "b": 2.5, "label": "cat"}\\n{"label": "dog", "a": 3}\\n'
    ... )
    >>> X, y = read_json(tmp_path / "t.jsonl", target="label")
    >>> X.compute().tolist(), y.compute().tolist()
    ([[1.0, 2.5], [3.0, nan]], ['cat', 'dog'])
    >>> X, y = read_json(tmp_path / "t.jsonl", target="a", as_frame=True)
    >>> X.dtypes.to_dict()
    {'b': dtype('float64'), 'label': <StringDtype(na_value=<NA>)>}
    >>> y.compute().tolist()
    [1, 3]
    """
    import_optional("pandas", _WHAT)
    files = _json_files(path, storage_options)
    compression = text_compression(files.names, _WHAT)
    blocks = _cut(files, _blocksize(blocksize, files, min_partitions), compression)
    token = tokenize(blocks)
    sample, origin = _sample(blocks)
    available = list(dict.fromkeys(k for record in sample.records for k in record))
    first = _check_kinds(sample, available, {}, strict_missing=False)
    if files.options is not None:
        where = scrub(repr(files.names[0] if len(files.names) == 1 else files.names))
    else:
        where = repr(os.fspath(path)) if isinstance(path, str | os.PathLike) else repr(files.names)
    if as_frame:
        features = feature_columns(
            available, None, {}, target=target, columns=columns, where=where, what=_WHAT
        )
        return _frame(blocks, available, first, features, target, origin)
    if target is None:
        raise InputError(
            f"{_WHAT}: pass target='COLUMN', the key holding the targets, or as_frame=True to "
            "read the features alone."
        )
    # The target and the columns named, before the scan; their types after it.
    feature_columns(available, None, {}, target=target, columns=columns, where=where, what=_WHAT)
    scan: JsonScan = reduce_partitions(
        scan_json_block,
        _descriptors(blocks, token),
        finalize=finish_json_scan,
        stage="scan-json",
        split_every=None,
        combine=concatenate_json_scans,
        task_kwargs={
            "columns": available,
            "expected": first,
            "target": target,
            "origin": origin,
        },
    )
    kinds = _merge_columns(scan, available)
    features = feature_columns(
        available,
        {c for c, k in kinds.items() if k.kind != TEXT},
        {c: str(k.kind) for c, k in kinds.items()},
        target=target,
        columns=columns,
        where=where,
        what=_WHAT,
    )
    y_kind = kinds[target]
    if y_kind.kind == TEXT:
        y_dtype = np.dtype(object)
    elif y_kind.kind == BOOLEANS:
        y_dtype = np.dtype(bool)
    elif y_kind.integers:
        y_dtype = np.dtype(np.int64)
    else:
        y_dtype = np.dtype(np.float64)
    counted = [replace(b, rows=n) for b, n in zip(blocks, scan.rows, strict=True)]
    kept = [b for b in counted if b.rows] or counted[:1]
    row_chunks = tuple(b.rows for b in kept)
    name = f"{stage_name('read-json')}-{tokenize(token, available, features, target, y_dtype)}"
    tasks: dict[tuple[str, int], GraphNode] = {
        (name, i): Task((name, i), read_json_block, b, available, features, target, y_dtype, origin)
        for i, b in enumerate(kept)
    }
    X, y = arrays_from_pair_tasks(
        name,
        tasks,
        row_chunks=row_chunks,
        n_columns=len(features),
        x_dtype=np.dtype(np.float64),
        y_dtype=y_dtype,
    )
    block_rows = default_block_rows(sum(row_chunks), len(features) * 8, min_partitions)
    if compression is not None and max(row_chunks, default=0) > block_rows:
        X, y = rechunk_rows(X, {0: block_rows}), rechunk_rows(y, {0: block_rows})
    warn_if_tiny_partitions(
        X.chunks[0],
        _WHAT,
        "Pass a larger blocksize=, or blocksize='auto' to let read_json choose.",
        stacklevel=READER_STACKLEVEL,
    )
    return X, y


def _frame(
    blocks: list[JsonBlock],
    available: list[str],
    first: dict[str, Column],
    features: list[str],
    target: str | None,
    origin: str,
) -> tuple[Any, Any]:
    """The features (any type) and the target, lazily, one partition per block."""
    import pandas as pd

    dd = import_optional("dask.dataframe", _WHAT)
    dtypes: dict[str, Any] = {c: _frame_dtype(first[c], is_target=False) for c in features}
    if target is not None:
        dtypes[target] = _frame_dtype(first[target], is_target=True)
    meta = pd.DataFrame({c: _as_dtype([], t) for c, t in dtypes.items()})
    df = dd.from_map(
        read_json_frame,
        blocks,
        keys=available,
        expected=first,
        dtypes=dtypes,
        origin=origin,
        target=target,
        meta=meta,
        label="read-json",
        enforce_metadata=False,
    )
    X = df[features]
    if target is None:
        return X, None
    # The blocks, for the messages, as one value in the graph (not one copy per partition).
    held = delayed(blocks, name=f"{stage_name('json-blocks')}-{tokenize(blocks)}", traverse=False)
    y = df[target].map_partitions(
        check_json_target, held, target, dtypes[target], first[target], meta=meta[target]
    )
    return X, y
