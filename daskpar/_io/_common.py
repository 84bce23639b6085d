"""What the readers share: paths, parameter constraints, block sizes, shape checks, columns.

Each reader module (:mod:`.zarr`, :mod:`.npy`, :mod:`.hdf5`, :mod:`.parquet`, :mod:`.csv`)
reads one format; the rules they have in common are here, so that they choose blocks, check
shapes and name columns alike.
"""

from __future__ import annotations

import importlib
import math
import os
from collections.abc import Collection, Sequence
from numbers import Integral
from pathlib import Path
from types import ModuleType
from typing import Any, Protocol

import dask.array as da
import numpy as np
from dask.base import tokenize
from numpy.typing import NDArray

from .._graph import stage_name
from .._sklearn_compat import Interval
from .._validation import MIN_BLOCK_ROWS
from ..errors import InputError
from ._remote import display_path

__all__ = [
    "COLUMNS_PARAM",
    "DEFAULT_BLOCK_BYTES",
    "DEFAULT_MIN_PARTITIONS",
    "MIN_PARTITIONS_PARAM",
    "PATH_PARAM",
    "READER_STACKLEVEL",
    "ROW_CHUNKS_PARAM",
    "FileArray",
    "PathLike",
    "RowChunks",
    "as_target",
    "check_target",
    "check_two_d",
    "default_block_rows",
    "existing",
    "feature_columns",
    "file_token",
    "float_dtype",
    "import_optional",
    "is_url",
    "largest_cut",
    "missing_target_message",
    "row_chunks",
    "sliced_lazily",
]

PathLike = str | os.PathLike[str]
RowChunks = int | Sequence[int] | None

#: Largest block, in bytes of ``X``, when the file does not impose its own (Parquet row groups
#: larger than this are split).
DEFAULT_BLOCK_BYTES = 128 * 2**20
#: Blocks a reader makes, when it chooses, so that several workers have something to do.
DEFAULT_MIN_PARTITIONS = 8

#: The ``stacklevel`` of the readers' warnings, which reaches their caller: the readers run
#: inside ``validate_params``'s wrapper.
READER_STACKLEVEL = 4

# Parameter constraints the readers share.
PATH_PARAM: list[Any] = [str, os.PathLike]
ROW_CHUNKS_PARAM: list[Any] = [Interval(Integral, 1, None, closed="left"), tuple, list, None]
MIN_PARTITIONS_PARAM: list[Any] = [Interval(Integral, 1, None, closed="left")]
COLUMNS_PARAM: list[Any] = ["array-like", None]


class FileArray(Protocol):
    """What :func:`sliced_lazily` reads from: a small picklable description of an array in a
    file (:class:`~daskpar._io.zarr.ZarrArray`, ...), which opens the file when sliced."""

    @property
    def shape(self) -> tuple[int, ...]: ...

    @property
    def dtype(self) -> np.dtype[Any]: ...

    def __getitem__(self, key: Any) -> NDArray[Any]: ...


# --------------------------------------------------------------------------------------------
# Paths


def import_optional(module: str, what: str) -> ModuleType:
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise ImportError(
            f"{what} needs the optional dependency {module.split('.')[0]!r}. Install it with "
            "pip install 'daskpar[io]'."
        ) from exc


def is_url(path: PathLike) -> bool:
    return "://" in os.fspath(path)


def existing(path: PathLike, what: str) -> Path:
    p = Path(path)
    if not p.exists():
        raise InputError(f"{what}: no such file or directory: {display_path(path)!r}.")
    return p


def file_token(path: Path) -> str:
    """Changes when the file does, so that a rewritten file gets new task keys."""
    stat = path.stat()
    return tokenize(str(path.resolve()), stat.st_size, stat.st_mtime_ns)


# --------------------------------------------------------------------------------------------
# Blocks and shapes


def default_block_rows(n_rows: int, row_bytes: int, min_partitions: int) -> int:
    """Rows per block when the caller does not say.

    At most ``DEFAULT_BLOCK_BYTES`` of ``X``; few enough rows to make ``min_partitions`` blocks,
    unless that would put fewer than ``MIN_BLOCK_ROWS`` rows in a block.
    """
    by_bytes = max(1, DEFAULT_BLOCK_BYTES // max(row_bytes, 1))
    by_count = max(MIN_BLOCK_ROWS, math.ceil(n_rows / min_partitions))
    return min(by_bytes, by_count)


def row_chunks(
    chunks: RowChunks,
    n_rows: int,
    row_bytes: int,
    what: str,
    min_partitions: int = DEFAULT_MIN_PARTITIONS,
) -> tuple[int, ...]:
    """Rows per block: as asked, or as :func:`default_block_rows` chooses."""
    if chunks is None:
        chunks = default_block_rows(n_rows, row_bytes, min_partitions)
    if isinstance(chunks, int | np.integer):
        size = min(int(chunks), max(n_rows, 1))  # positive: the readers' constraints say so
        full, rest = divmod(n_rows, size)
        return (size,) * full + ((rest,) if rest else ()) or (0,)
    sizes = tuple(int(c) for c in chunks)
    if any(c < 0 for c in sizes) or sum(sizes) != n_rows:
        raise InputError(
            f"{what}: chunks {sizes} must be non-negative row counts adding up to the "
            f"{n_rows} rows of the file."
        )
    return sizes


def largest_cut(sizes: Sequence[int], wanted: int) -> int:
    """The largest cut ``c`` that makes at least ``wanted`` parts of pieces of ``sizes``.

    A piece of size ``s`` makes ``s // c`` parts (at least one), as dask cuts a CSV file of
    ``s`` bytes and :func:`read_parquet` a row group of ``s`` rows; 1 if no cut does.
    """

    def parts(cut: int) -> int:
        return sum(max(1, s // cut) for s in sizes)

    lo, hi = 1, max(1, sum(sizes) // max(wanted, 1))
    while lo < hi:  # parts() only falls as the cut grows
        mid = (lo + hi + 1) // 2
        lo, hi = (mid, hi) if parts(mid) >= wanted else (lo, mid - 1)
    return lo


def check_two_d(shape: tuple[int, ...], what: str) -> None:
    if len(shape) != 2:
        hint = " Reshape it to (n_samples, 1) if it is a single feature." if len(shape) == 1 else ""
        raise InputError(f"{what} must be 2-D (n_samples, n_features); got shape {shape}.{hint}")


def check_target(shape: tuple[int, ...], n_rows: int, what: str) -> None:
    if len(shape) == 2 and shape[1] == 1:
        shape = shape[:1]  # a column of targets: checked as the 1-D y it becomes
    if len(shape) != 1:
        raise InputError(f"{what} must be 1-D (one target per row); got shape {shape}.")
    if shape[0] != n_rows:
        raise InputError(f"{what} has {shape[0]} rows but X has {n_rows}; they must match.")


def as_target(y: da.Array) -> da.Array:
    return y[:, 0] if y.ndim == 2 else y


def sliced_lazily(source: FileArray, rows: tuple[int, ...], stage: str, token: str) -> da.Array:
    """A dask array of ``rows`` row blocks over ``source``, which each task slices itself.

    ``source`` (a small description of where the data is) goes into every task rather than
    into a task of its own, which the dashboard would show as ``original-<stage>``.
    """
    chunks = (rows,) + (-1,) * (len(source.shape) - 1)
    meta = np.empty((0,) * len(source.shape), dtype=source.dtype)
    name = f"{stage_name(stage)}-{token}"
    out: da.Array = da.from_array(
        source, chunks, name=name, asarray=True, meta=meta, inline_array=True
    )
    return out


# --------------------------------------------------------------------------------------------
# Tables: the columns of Parquet and CSV files


def feature_columns(
    available: Sequence[str],
    numeric: set[str] | None,
    types: dict[str, str],
    *,
    target: str | None,
    columns: Sequence[str] | None,
    where: str,
    what: str,
    index_columns: Collection[str] = (),
) -> list[str]:
    """Check ``target`` and the feature columns; return the feature columns, in order.

    By default every column but the target and ``index_columns`` (a DataFrame's index, which
    pandas and dask store as columns) is a feature; ``columns`` may name any column. Features
    must be in ``numeric``, unless it is None (a table returned as it is, text included).
    """
    if target is not None and target not in available:
        raise InputError(
            f"{what}: no target column {target!r} in {where}; its columns are {list(available)}."
        )
    if columns is None:
        features = [c for c in available if c != target and c not in index_columns]
    else:
        features = list(columns)
        missing = [c for c in features if c not in available]
        if missing:
            raise InputError(
                f"{what}: no column(s) {missing} in {where}; its columns are {list(available)}."
            )
        if target is not None and target in features:
            raise InputError(f"{what}: the target column {target!r} is also in columns.")
    if not features:
        index = [c for c in available if c in index_columns]
        besides = " and ".join(
            ([f"{target!r}"] if target is not None else [])
            + ([f"the index column(s) {index}"] if index else [])
        )
        raise InputError(
            f"{what}: no feature column left in {where}"
            + (f" besides {besides}." if besides else ".")
        )
    bad = [c for c in features if numeric is not None and c not in numeric]
    if bad:
        kinds = ", ".join(f"{c!r} ({types[c]})" for c in bad)
        raise InputError(
            f"{what}: feature column(s) {kinds} of {where} are not numeric. Encode them as "
            "numbers before writing the file, or pass columns=[...] naming the numeric feature "
            "columns to use."
        )
    return features


def float_dtype(dtypes: Sequence[np.dtype[Any]]) -> np.dtype[Any]:
    """The dtype of X: the columns' common type, promoted to floating point if it is not."""
    out = np.result_type(*dtypes)
    return out if out.kind == "f" else np.dtype(np.float64)


def missing_target_message(what: str, target: str, count: int, where: str) -> str:
    return (
        f"{what}: the target column {target!r} has {count} missing value(s) in {where}. A row "
        "without a target can be neither trained on nor scored: drop those rows, or fill in "
        "their targets, and write the file again."
    )
