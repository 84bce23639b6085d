"""Reading svmlight / libsvm text files: :func:`read_svmlight`, CSR blocks cut by byte ranges.

::

    files --cut into byte ranges--> blocks (a block owns the lines that start in its range)
        --scan_svmlight_block (scan-svm-block)--> SvmScan: rows, smallest and largest index
        --concatenate_scans (scan-svm-merge, tree of split_every)--> one SvmScan (scan-svm-final)
        --on the client--> zero_based, n_features, row chunks
    blocks --read_svmlight_block (read-svm)--> (CSR block, y block[, qid block])

Each block is parsed by scikit-learn's own parser (:func:`sklearn.datasets.load_svmlight_file`
on the block's lines), told ``n_features`` and ``zero_based``, so that every convention
(comments, labels, ``qid``, explicit zeros) is exactly scikit-learn's.
"""

from __future__ import annotations

import glob
import io
import itertools
import math
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from numbers import Integral
from pathlib import Path
from typing import Any

import dask.array as da
import numpy as np
from dask.base import tokenize
from dask.utils import parse_bytes
from numpy.typing import NDArray
from scipy import sparse

from .._graph import SPLIT_EVERY, map_partitions, reduce_partitions, stage_name
from .._sklearn_compat import Interval, InvalidParameterError, StrOptions, validate_params
from .._validation import MIN_BLOCK_ROWS, warn_if_tiny_partitions
from ..errors import InputError, PartitionError
from ._common import (
    DEFAULT_MIN_PARTITIONS,
    MIN_PARTITIONS_PARAM,
    PATH_PARAM,
    READER_STACKLEVEL,
    PathLike,
    file_token,
    largest_cut,
)
from ._remote import (
    STORAGE_OPTIONS_PARAM,
    InputFiles,
    StorageOptions,
    StorageOptionsLike,
    display_path,
    input_files,
    is_pattern,
    open_input,
    task_store_errors,
)

__all__ = [
    "SVMLIGHT_COMPRESSIONS",
    "SvmBlock",
    "SvmScan",
    "concatenate_scans",
    "block_lines",
    "count_svmlight_rows",
    "read_svmlight",
    "read_svmlight_block",
    "scan_svmlight_block",
    "take_svmlight_part",
]

#: Largest block, in bytes of text, when ``read_svmlight`` chooses the block size.
MAX_SVMLIGHT_BLOCK_BYTES = 64 * 2**20

#: The compressions scikit-learn's loader opens by file suffix; such a file is one block.
SVMLIGHT_COMPRESSIONS = {".gz": "gzip", ".bz2": "bz2"}

_WHAT = "read_svmlight"

# A line is a sample when, cut at its first "#", it holds a non-blank character: the rule of
# scikit-learn's parser (bytes.split() blanks, lines ended by "\n"), counted without parsing.
_SAMPLE_LINE = re.compile(rb"^[ \t\r\x0b\x0c]*[^\s#]", re.MULTILINE)
# ...and carries a qid when its second word starts with "qid" (scikit-learn's test).
_QID_LINE = re.compile(rb"^[ \t\r\x0b\x0c]*[^\s#]+[ \t\r\x0b\x0c]+qid", re.MULTILINE)


@dataclass(frozen=True)
class SvmBlock:
    """A byte range of one file: the block owns the lines that start in ``[start, stop)``.

    ``file`` is the file's position among those read; a compressed file (``compression``
    set) is always one whole block. ``rows`` is the samples the scan counted (-1 before).
    ``storage_options`` reach the object store of a URL ``path`` (None: a local file); their
    repr and token show no credential.
    """

    path: str
    file: int
    start: int
    stop: int
    compression: str | None = None
    rows: int = -1
    storage_options: StorageOptions | None = None

    def where(self) -> str:
        if self.compression is not None:
            return repr(display_path(self.path))
        return f"bytes {self.start} to {self.stop} of {display_path(self.path)!r}"


@dataclass(frozen=True)
class SvmScan:
    """What the scan learns, one entry per block in block order: samples, stored feature
    indices, and the smallest and largest index as written (-1 where none is stored).

    ``combine`` concatenates, so the tree keeps the block order; a few integers per block.
    """

    rows: tuple[int, ...]
    stored: tuple[int, ...]
    lowest: tuple[int, ...]
    highest: tuple[int, ...]


def concatenate_scans(scans: list[SvmScan | None]) -> SvmScan | None:
    """The ``scan-svm-merge`` task: neighbouring blocks' scans, one after the other (a record
    per block, in block order, as the tree keeps it; not a merged state, so it has no
    ``combine``)."""
    present = [s for s in scans if s is not None]
    if not present:
        return None
    return SvmScan(
        tuple(n for s in present for n in s.rows),
        tuple(n for s in present for n in s.stored),
        tuple(n for s in present for n in s.lowest),
        tuple(n for s in present for n in s.highest),
    )


# --------------------------------------------------------------------------------------------
# Task bodies


def block_lines(block: SvmBlock) -> tuple[int, bytes]:
    """The lines ``block`` owns, and the offset in the file of the first of them.

    A line cut by the block's end is read to its end; a line cut by its start belongs to
    the block before (dask's ``read_bytes(delimiter=b"\\n")`` rule), so every line of the
    file is in exactly one block. An object in a store is read by byte ranges (fsspec's).
    """
    with task_store_errors(_WHAT, f"read {block.where()}", block.storage_options):
        return _block_lines(block)


def _block_lines(block: SvmBlock) -> tuple[int, bytes]:
    if block.compression is not None:
        with open_input(block.path, block.storage_options, block.compression) as stream:
            return 0, stream.read()
    with open_input(block.path, block.storage_options) as f:
        if block.start > 0:
            f.seek(block.start - 1)
            f.readline()  # the rest of the line that started before the block
        begin = f.tell()
        if begin >= block.stop:
            return begin, b""
        data = f.read(block.stop - begin)
        if data and not data.endswith(b"\n"):
            data += f.readline()
    return begin, data


def count_svmlight_rows(data: bytes) -> int:
    """The samples in ``data`` as scikit-learn's parser counts them, without parsing them."""
    return sum(1 for _ in _SAMPLE_LINE.finditer(data))


def _parse(
    data: bytes, *, n_features: int | None, dtype: Any, zero_based: bool, query_id: bool
) -> tuple[Any, ...]:
    from sklearn.datasets import load_svmlight_file

    out: tuple[Any, ...] = load_svmlight_file(
        io.BytesIO(data),
        n_features=n_features,
        dtype=dtype,
        zero_based=zero_based,
        query_id=query_id,
    )
    return out


def _line_number(block: SvmBlock, begin: int) -> int:
    """How many lines of ``block``'s file come before offset ``begin`` (for messages)."""
    if begin == 0:
        return 0
    count, left = 0, begin
    with open_input(block.path, block.storage_options) as f:
        while left:
            piece = f.read(min(left, 2**20))
            if not piece:
                break
            count += piece.count(b"\n")
            left -= len(piece)
    return count


def _first_refused_line(
    data: bytes, *, n_features: int | None, zero_based: bool
) -> tuple[int, bytes, Exception] | None:
    """The first line of ``data`` that scikit-learn's parser refuses: its index, the line and
    the parser's error (None if each line parses alone)."""
    for number, line in enumerate(data.split(b"\n")):
        try:
            _parse(
                line, n_features=n_features, dtype=np.float64, zero_based=zero_based, query_id=False
            )
        except (ValueError, OverflowError) as exc:
            return number, line, exc
    return None


def _bad_line(
    block: SvmBlock,
    begin: int,
    data: bytes,
    error: Exception,
    *,
    n_features: int | None,
    zero_based: bool,
) -> PartitionError:
    """``error`` of a block, as the error of its first refused line (found by parsing the
    lines one by one, only once the block has failed)."""
    refused = _first_refused_line(data, n_features=n_features, zero_based=zero_based)
    if refused is None:
        return PartitionError(f"{_WHAT}: cannot parse {block.where()}: {error}")
    number, line, error = refused
    where = f"line {_line_number(block, begin) + number + 1} of {display_path(block.path)!r}"
    hint = ""
    if "Invalid index 0" in str(error):
        hint = " The file's indices start at 0: pass zero_based=True, or zero_based='auto'."
    elif "n_features was set" in str(error):
        hint = " Pass a larger n_features, or n_features=None to infer it from the files."
    shown = line.rstrip(b"\r")
    shown = shown[:120] + (b"..." if len(shown) > 120 else b"")
    return PartitionError(
        f"{_WHAT}: {where} is not svmlight / libsvm data: {error}. The line: {shown!r}. Each "
        "line must be '<label> [qid:<int>] <index>:<value> ...' with increasing indices (text "
        f"after '#' is a comment).{hint}"
    )


def _missing_qid(block: SvmBlock, begin: int, data: bytes) -> PartitionError:
    lines = data.split(b"\n")
    number = next(
        (
            i
            for i, line in enumerate(lines)
            if _SAMPLE_LINE.match(line) is not None and _QID_LINE.match(line) is None
        ),
        None,
    )
    if number is None:  # scikit-learn's parser and the count disagree: name the block
        return PartitionError(
            f"{_WHAT}: some samples of {block.where()} have no qid, and query_id=True needs "
            "one on every line. Add the qids, or pass query_id=False."
        )
    where = f"line {_line_number(block, begin) + number + 1} of {display_path(block.path)!r}"
    return PartitionError(
        f"{_WHAT}: {where} has no qid, and query_id=True needs one on every line "
        "('<label> qid:<int> <index>:<value> ...'). Add the qids, or pass query_id=False to "
        "read the samples without them."
    )


def scan_svmlight_block(
    blocks: NDArray[Any],
    rows: slice,
    block_id: tuple[int, ...],
    *,
    zero_based: bool | str,
    query_id: bool,
    parse: bool,
) -> SvmScan:
    """One block's samples and the range of its feature indices (the ``scan-svm-block``
    stage of :func:`read_svmlight`); ``blocks`` holds the block's :class:`SvmBlock`.

    With ``parse`` False (``n_features`` and ``zero_based`` given) the samples are only
    counted, and the indices are left to the ``read-svm`` tasks to check.
    """
    return _scan_block(blocks[0], zero_based=zero_based, query_id=query_id, parse=parse)


def _scan_block(block: SvmBlock, *, zero_based: bool | str, query_id: bool, parse: bool) -> SvmScan:
    begin, data = block_lines(block)
    rows = count_svmlight_rows(data)
    if query_id and sum(1 for _ in _QID_LINE.finditer(data)) != rows:
        raise _missing_qid(block, begin, data)
    if not parse:
        return SvmScan((rows,), (0,), (-1,), (-1,))
    # Indices as written: parsed zero-based (no shift) unless one-based was asked for, which
    # scikit-learn checks (no index 0) as it shifts.
    as_written = zero_based is not False
    try:
        X, _ = _parse(
            data, n_features=None, dtype=np.float64, zero_based=as_written, query_id=False
        )
    except (ValueError, OverflowError) as exc:
        raise _bad_line(block, begin, data, exc, n_features=None, zero_based=as_written) from None
    indices = np.asarray(X.indices, dtype=np.int64) + (0 if as_written else 1)
    if X.shape[0] != rows:
        raise PartitionError(
            f"{_WHAT}: counted {rows} samples in {block.where()}, but scikit-learn's parser "
            f"found {X.shape[0]}; please report this file."
        )
    if not len(indices):
        return SvmScan((rows,), (0,), (-1,), (-1,))
    return SvmScan((rows,), (len(indices),), (int(indices.min()),), (int(indices.max()),))


def finish_svmlight_scan(scan: SvmScan) -> SvmScan:
    """The merged scan, as it is (the ``scan-svm-final`` stage: the client decides)."""
    return scan


def _with_small_indices(X: sparse.csr_matrix) -> sparse.csr_matrix:
    """``X`` with int32 index arrays where they fit. scikit-learn's parser gives int64 ones,
    which estimators checking ``accept_large_sparse=False`` (the SGD family) refuse."""
    if X.indices.dtype == np.int32 or max(X.nnz, X.shape[1]) >= 2**31:
        return X
    X.indices = X.indices.astype(np.int32)
    X.indptr = X.indptr.astype(np.int32)
    return X


def read_svmlight_block(
    blocks: NDArray[Any],
    *,
    n_features: int,
    x_dtype: np.dtype[Any],
    zero_based: bool,
    query_id: bool,
) -> tuple[sparse.csr_matrix, NDArray[np.float64], NDArray[np.int64] | None]:
    """One block as ``(X_block, y_block, qid_block)``: CSR features, float64 labels and int64
    query ids (None without ``query_id``); the ``read-svm`` stage of :func:`read_svmlight`.
    ``blocks`` holds the block's :class:`SvmBlock`, with the samples the scan counted."""
    block: SvmBlock = blocks[0]
    rows = block.rows
    begin, data = block_lines(block)
    try:
        parsed = _parse(
            data, n_features=n_features, dtype=x_dtype, zero_based=zero_based, query_id=query_id
        )
    except (ValueError, OverflowError) as exc:
        raise _bad_line(
            block,
            begin,
            data,
            exc,
            n_features=n_features,
            zero_based=zero_based,
        ) from None
    X = _with_small_indices(sparse.csr_matrix(parsed[0]))
    y = np.asarray(parsed[1], dtype=np.float64)
    if X.shape[0] != rows:
        raise PartitionError(
            f"{_WHAT}: {block.where()} holds {X.shape[0]} samples, but it held {rows} when "
            f"{_WHAT} scanned it: the file changed since. Call {_WHAT} again."
        )
    if not query_id:
        return X, y, None
    qid = np.asarray(parsed[2], dtype=np.int64)
    if len(qid) != rows:
        raise _missing_qid(block, begin, data)
    return X, y, qid


def take_svmlight_part(parts: NDArray[Any], position: int) -> Any:
    """``X``'s, ``y``'s or ``qid``'s block (``position`` 0, 1, 2) out of the one-element
    array holding a block's :func:`read_svmlight_block` result (the ``read-svm-X``,
    ``read-svm-y`` and ``read-svm-qid`` stages)."""
    return parts.flat[0][position]


# --------------------------------------------------------------------------------------------
# Files and blocks


def _files(path: PathLike | Sequence[PathLike], storage_options: StorageOptionsLike) -> InputFiles:
    """The files ``path`` names: local ones, or objects of a store (all URLs, or none)."""
    return input_files(path, storage_options, _WHAT, example="*.svm", local=_local_files)


def _local_files(paths: Sequence[PathLike]) -> InputFiles:
    local = _svmlight_files(paths)
    return InputFiles(
        [str(f.resolve()) for f in local],
        [f.stat().st_size for f in local],
        [file_token(f) for f in local],
        None,
    )


def _svmlight_files(paths: Sequence[PathLike]) -> list[Path]:
    """The local files to read, in order: files and glob patterns (sorted)."""
    files: list[Path] = []
    for p in [os.fspath(p) for p in paths]:
        if os.path.isfile(p):
            files.append(Path(p))
        elif os.path.isdir(p):
            raise InputError(
                f"{_WHAT}: {display_path(p)!r} is a directory; pass a glob pattern of its files, "
                f"such as {display_path(os.path.join(p, '*.svm'))!r}."
            )
        elif is_pattern(p):
            found = sorted(f for f in glob.glob(p) if os.path.isfile(f))
            if not found:
                raise InputError(f"{_WHAT}: no file matches the pattern {display_path(p)!r}.")
            files += map(Path, found)
        else:
            raise InputError(f"{_WHAT}: no such file: {display_path(p)!r}.")
    return files


def _compression(path: str) -> str | None:
    # As scikit-learn's loader decides: by the suffix, as written.
    return SVMLIGHT_COMPRESSIONS.get(os.path.splitext(path)[1])


def _auto_blocksize(files: InputFiles, min_partitions: int) -> int:
    """Bytes per block for ``blocksize="auto"``: the largest size up to 64 MiB that makes at
    least ``min_partitions`` blocks, but no more blocks than leave ``MIN_BLOCK_ROWS`` samples
    in each, as the first plain file's first lines estimate the samples."""
    plain = [
        (f, s) for f, s in zip(files.names, files.sizes, strict=True) if not _compression(f) and s
    ]
    if not plain:
        return MAX_SVMLIGHT_BLOCK_BYTES
    with open_input(plain[0][0], files.options) as f:
        sample = f.read(2**16)
    row_bytes = len(sample) / max(sample.count(b"\n"), 1)
    plain_sizes = [s for _, s in plain]
    wanted = min(min_partitions, int(sum(plain_sizes) / max(row_bytes, 1) // MIN_BLOCK_ROWS))
    if wanted <= 1:
        return MAX_SVMLIGHT_BLOCK_BYTES
    least = math.ceil(MIN_BLOCK_ROWS * row_bytes)
    return min(max(largest_cut(plain_sizes, wanted), least), MAX_SVMLIGHT_BLOCK_BYTES)


def _blocksize(blocksize: str | int | None, files: InputFiles, min_partitions: int) -> int | None:
    if blocksize == "auto":
        return _auto_blocksize(files, min_partitions)
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


def _cut(files: InputFiles, blocksize: int | None) -> list[SvmBlock]:
    """Byte ranges: ``size // blocksize`` equal ones per file (at least one), as dask cuts
    text files; a compressed file, or any file with ``blocksize`` None, is one block."""
    blocks: list[SvmBlock] = []
    for i, (path, size) in enumerate(zip(files.names, files.sizes, strict=True)):
        compression = _compression(path)
        parts = 1 if blocksize is None or compression else max(1, size // blocksize)
        cuts = [size * k // parts for k in range(parts + 1)]
        blocks += [
            SvmBlock(path, i, a, b, compression, storage_options=files.options)
            for a, b in itertools.pairwise(cuts)
        ]
    return blocks


# --------------------------------------------------------------------------------------------
# Graphs


def _descriptors(blocks: Sequence[SvmBlock], token: str) -> da.Array:
    """A dask array of one :class:`SvmBlock` per chunk: a few numbers and a path each, put
    in the graph as data (dask slices a numpy array when the graph is built)."""
    held = np.empty(len(blocks), dtype=object)
    for i, block in enumerate(blocks):
        held[i] = block
    name = f"{stage_name('svm-blocks')}-{tokenize(token, list(blocks))}"
    out: da.Array = da.from_array(held, chunks=1, name=name, meta=np.empty((0,), dtype=object))
    return out


def _columns(
    files: Sequence[str],
    blocks: Sequence[SvmBlock],
    scan: SvmScan,
    *,
    zero_based: bool | str,
    n_features: int | None,
) -> tuple[bool, int]:
    """``zero_based`` and ``n_features`` as scikit-learn's ``load_svmlight_files`` decides
    them from all the files: one-based unless a file stores an index 0 or no index at all;
    as many features as the largest index of any file needs. Both given: as they are (the
    scan only counted the samples)."""
    if n_features is not None and isinstance(zero_based, bool):
        return zero_based, n_features
    stored = [0] * len(files)
    lowest: list[int | None] = [None] * len(files)
    highest = [-1] * len(files)
    for block, n, lo, hi in zip(blocks, scan.stored, scan.lowest, scan.highest, strict=True):
        if n:
            stored[block.file] += n
            current = lowest[block.file]
            lowest[block.file] = lo if current is None else min(current, lo)
            highest[block.file] = max(highest[block.file], hi)
    if zero_based == "auto":
        zero_based = not all(
            n and lo is not None and lo > 0 for n, lo in zip(stored, lowest, strict=True)
        )
    shift = 0 if zero_based else 1
    needed = [hi - shift + 1 if n else 1 for n, hi in zip(stored, highest, strict=True)]
    if n_features is None:
        return bool(zero_based), max(needed)
    for file, need, hi in zip(files, needed, highest, strict=True):
        if need > n_features:
            raise InputError(
                f"{_WHAT}: n_features was set to {n_features}, but input file "
                f"{display_path(file)!r} contains {need} features (its largest index is {hi}, "
                f"{'zero' if zero_based else 'one'}-based). Pass n_features={max(needed)} or "
                "more, or n_features=None to infer it."
            )
    return bool(zero_based), n_features


def _arrays(
    blocks: Sequence[SvmBlock],
    token: str,
    *,
    n_features: int,
    dtype: np.dtype[Any],
    zero_based: bool,
    query_id: bool,
) -> tuple[da.Array, ...]:
    """``X`` (CSR blocks), ``y`` and, with ``query_id``, ``qid``: one ``read-svm`` task per
    block, whose result the three arrays' blocks take apart (fused with it when only one of
    them is computed)."""
    parts = map_partitions(
        read_svmlight_block,
        _descriptors(blocks, token),
        stage="read-svm",
        n_features=n_features,
        x_dtype=dtype,
        zero_based=zero_based,
        query_id=query_id,
    )
    rows = tuple(block.rows for block in blocks)
    X = da.map_blocks(
        take_svmlight_part,
        parts,
        0,
        new_axis=1,
        chunks=(rows, (n_features,)),
        meta=sparse.csr_matrix((0, n_features), dtype=dtype),
        name=f"{stage_name('read-svm', 'X')}-{token}",
    )
    y = da.map_blocks(
        take_svmlight_part,
        parts,
        1,
        chunks=(rows,),
        meta=np.empty((0,), dtype=np.float64),
        name=f"{stage_name('read-svm', 'y')}-{token}",
    )
    if not query_id:
        return X, y
    qid = da.map_blocks(
        take_svmlight_part,
        parts,
        2,
        chunks=(rows,),
        meta=np.empty((0,), dtype=np.int64),
        name=f"{stage_name('read-svm', 'qid')}-{token}",
    )
    return X, y, qid


# --------------------------------------------------------------------------------------------
# The reader


@validate_params(
    {
        "path": [*PATH_PARAM, list, tuple],
        "n_features": [Interval(Integral, 1, None, closed="left"), None],
        "multilabel": ["boolean"],
        "zero_based": ["boolean", StrOptions({"auto"})],
        "query_id": ["boolean"],
        "blocksize": [str, Interval(Integral, 1, None, closed="left"), None],
        "min_partitions": MIN_PARTITIONS_PARAM,
        "split_every": SPLIT_EVERY,
        "storage_options": STORAGE_OPTIONS_PARAM,
    },
    prefer_skip_nested_validation=True,
)
def read_svmlight(
    path: PathLike | Sequence[PathLike],
    *,
    n_features: int | None = None,
    dtype: Any = np.float64,
    multilabel: bool = False,
    zero_based: bool | str = "auto",
    query_id: bool = False,
    blocksize: str | int | None = "auto",
    min_partitions: int = DEFAULT_MIN_PARTITIONS,
    split_every: int | None = None,
    storage_options: StorageOptionsLike = None,
) -> tuple[da.Array, ...]:
    """Read svmlight / libsvm files as ``X`` with CSR blocks, ``y`` (and ``qid``).

    What :func:`sklearn.datasets.load_svmlight_files` gives, stacked in file order, without
    holding the data in memory: the files are cut into byte ranges, and each block (the
    lines that *start* in its range) is parsed inside its own task by scikit-learn's parser,
    told ``n_features`` and ``zero_based``, so every convention (comments after ``#``, blank
    lines, CRLF line ends, a last line without newline, explicit zeros, ``qid``) is exactly
    scikit-learn's.

    .. warning::
       Like :func:`read_csv`, this reader reads data at call time: text has no row index, so
       one pass over all blocks (the dashboard's ``scan-svm-block``) counts each block's
       samples and, unless both ``n_features`` and ``zero_based`` are given, parses them to
       learn the smallest and largest feature index. With both given, the pass only counts
       lines, and bad lines are reported when the blocks are read.

    ``zero_based="auto"`` follows scikit-learn's rule across all the files: indices are
    one-based unless a file holds an index 0 (or no index at all). ``n_features=None``
    takes the largest index of any file, as ``load_svmlight_files`` does.

    Compressed files (``.gz``, ``.bz2``, which scikit-learn opens by their suffix) cannot be
    cut into byte ranges before they are decompressed: each is read as one block.

    Parameters
    ----------
    path : str, path-like or sequence of them
        A file, a glob pattern such as ``"data/*.svm"`` (its files in sorted order), or a
        list of either: local files (at the same path on every worker), or the URLs of an
        object store's files (``s3://bucket/*.svm``), read by byte ranges through fsspec.
    n_features : int, optional
        The number of features (columns of ``X``). Default: inferred from all the files.
        Smaller than a file needs is an :class:`~daskpar.errors.InputError` naming the file.
    dtype : numpy dtype, default=np.float64
        The dtype of ``X``'s values. ``y`` is float64, as scikit-learn returns it.
    multilabel : bool, default=False
        Must be False: a multilabel file's targets are tuples of labels, which a dask array
        of numbers cannot hold. Load such a file with scikit-learn.
    zero_based : bool or "auto", default="auto"
        Whether the files' indices start at 0 (True) or 1 (False); "auto" decides as
        scikit-learn does, from all the files.
    query_id : bool, default=False
        Also return the ``qid`` of every sample; every sample must have one.
    blocksize : "auto", str, int or None, default="auto"
        Bytes of text per block (such as ``"64MiB"`` or ``2**26``). ``"auto"``: at least
        ``min_partitions`` blocks of at most 64 MiB each, but no more blocks than leave about
        1000 samples in each. None: one block per file.
    min_partitions : int, default=8
        How many blocks to make, at least, with ``blocksize="auto"``.
    split_every : int, optional
        The fan-in of the tree merging the scan of the blocks (default: dask's
        ``split_every`` setting, else 8).
    storage_options : dict, optional
        For URLs: the options of their fsspec file system (credentials, endpoint), which
        travel with the tasks but appear in no task key or message. None uses the store
        library's defaults (for S3, the ``AWS_*`` environment variables). The task keys of a
        URL follow its object's ETag (or version): a file rewritten in place gets new ones.

    Returns
    -------
    X : dask array of shape (n_samples, n_features)
        Its blocks are ``scipy.sparse.csr_matrix`` of ``dtype``, never densified, with int32
        index arrays where they fit (scikit-learn's loader gives int64 ones, which its SGD
        estimators refuse).
    y : dask array of float64, shape (n_samples,)
    qid : dask array of int64, shape (n_samples,)
        Only with ``query_id=True``. All arrays have the same, known, row chunks (blocks
        without samples are left out).

    Raises
    ------
    InputError
        No such file, or ``n_features`` smaller than a file needs.
    PartitionError
        A line that is not svmlight data (the message names the file and the line), or a
        sample without ``qid`` when ``query_id=True``.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> from daskpar._io.svmlight import read_svmlight
    >>> tmp_path = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (tmp_path / "t.svm").write_text("1 1:0.5 3:2\\n# a comment\\n0 2:1.5\\n1 qid:7 3:1\\n")
    >>> X, y = read_svmlight(tmp_path / "t.svm", blocksize=12)
    >>> X.shape, X.chunks[0], y.compute().tolist()
    ((3, 3), (1, 1, 1), [1.0, 0.0, 1.0])
    >>> X.compute().toarray().tolist()
    [[0.5, 0.0, 2.0], [0.0, 1.5, 0.0], [0.0, 0.0, 1.0]]
    """
    if multilabel:
        raise InvalidParameterError(
            f"{_WHAT} does not read multilabel files (multilabel=True): their targets are "
            "tuples of labels, which a dask array of numbers cannot hold. Load them with "
            "sklearn.datasets.load_svmlight_file(..., multilabel=True) and encode the labels "
            "with MultiLabelBinarizer, or pass multilabel=False."
        )
    try:
        x_dtype = np.dtype(dtype)
    except TypeError:
        x_dtype = np.dtype(object)
    if x_dtype.kind not in "biuf":
        raise InvalidParameterError(
            f"The 'dtype' parameter of {_WHAT} must be a numeric numpy dtype, such as "
            f"np.float64 or np.float32. Got {dtype!r} instead."
        )
    files = _files(path, storage_options)
    blocks = _cut(files, _blocksize(blocksize, files, min_partitions))
    token = tokenize(files.stamps, blocks, zero_based, query_id, n_features)
    parse = n_features is None or zero_based == "auto"
    scan: SvmScan = reduce_partitions(
        scan_svmlight_block,
        _descriptors(blocks, token),
        finalize=finish_svmlight_scan,
        stage="scan-svm",
        split_every=split_every,
        combine=concatenate_scans,
        task_kwargs={"zero_based": zero_based, "query_id": query_id, "parse": parse},
    )
    decided_zero_based, width = _columns(
        files.names, blocks, scan, zero_based=zero_based, n_features=n_features
    )
    counted = [replace(b, rows=n) for b, n in zip(blocks, scan.rows, strict=True)]
    kept = [b for b in counted if b.rows] or counted[:1]
    rows = tuple(b.rows for b in kept)
    warn_if_tiny_partitions(
        rows,
        _WHAT,
        "Pass a larger blocksize=, or blocksize='auto' to let read_svmlight choose.",
        stacklevel=READER_STACKLEVEL,
    )
    read_token = tokenize(token, x_dtype, decided_zero_based, width, rows)
    return _arrays(
        kept,
        read_token,
        n_features=width,
        dtype=x_dtype,
        zero_based=decided_zero_based,
        query_id=query_id,
    )
