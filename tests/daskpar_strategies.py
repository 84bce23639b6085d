"""Hypothesis strategies for the inputs users really pass to daskpar.

Shapes and row chunkings (empty, 1-row and ragged blocks), numpy or dask arrays, the dtypes
data arrives in (float16/32/64, integers, booleans, object arrays of numbers, strings), NaN
and infinity anywhere, label sets of every type (with classes absent from some partitions),
sample weights with zeros, negatives or NaN, and the ``split_every`` and ``epochs`` knobs.
For the readers: Parquet tables as pandas writes them (nullable types, categoricals, an index)
cut into files and row groups (:func:`parquet_tables`), and zarr layouts (:func:`zarr_layouts`).

Each strategy draws small arrays: the properties compare daskpar with scikit-learn on the
same rows, and their cost is per task, not per row.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from itertools import pairwise
from typing import Any

import dask.array as da
import numpy as np
import pandas as pd
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

__all__ = [
    "FEATURE_DTYPES",
    "LABEL_KINDS",
    "PARQUET_FEATURE_TYPES",
    "PARQUET_TARGET_TYPES",
    "ZARR_DTYPES",
    "Data",
    "ParquetFiles",
    "ZarrLayout",
    "as_input",
    "chunkings",
    "datasets",
    "epochs",
    "feature_dtypes",
    "finite_floats",
    "label_arrays",
    "non_finite",
    "parquet_files",
    "parquet_tables",
    "sample_weights",
    "split_every",
    "with_non_finite",
    "zarr_layouts",
]

#: The dtypes features arrive in: numbers a model can use, and what a reader or pandas gives.
FEATURE_DTYPES = (
    "float64",
    "float32",
    "float16",
    "int64",
    "int8",
    "uint8",
    "bool",
    "object",  # an object array of Python numbers (pandas' object columns)
    "str",  # numeric strings ("1.5"): refused, never converted
)

#: How class labels arrive: integers, whole floats, booleans, numpy strings, Python ``str``
#: objects (pandas, Parquet and CSV give those), and byte strings.
LABEL_KINDS = ("int", "float", "bool", "str", "object-str", "negative-int")


def finite_floats(scale: float = 10.0) -> st.SearchStrategy[float]:
    """Finite floats that float16 holds without overflow, with some exact zeros and ties."""
    return st.one_of(
        st.floats(-scale, scale, allow_nan=False, allow_infinity=False, width=32),
        st.sampled_from([0.0, 1.0, -1.0, 0.5]),
    )


def non_finite() -> st.SearchStrategy[float]:
    """NaN, infinity or minus infinity."""
    return st.sampled_from([np.nan, np.inf, -np.inf])


@st.composite
def chunkings(
    draw: st.DrawFn, n_rows: int, *, max_blocks: int = 6, allow_empty: bool = True
) -> tuple[int, ...]:
    """Row chunks summing to ``n_rows``: one block, ragged blocks, 1-row and 0-row blocks."""
    if n_rows == 0:
        return (0,)
    n_cuts = draw(st.integers(0, max(0, max_blocks - 1)))
    cuts = draw(st.lists(st.integers(0 if allow_empty else 1, n_rows), max_size=n_cuts))
    bounds = sorted([0, *cuts, n_rows])
    chunks = [b - a for a, b in pairwise(bounds)]
    if not allow_empty:
        chunks = [c for c in chunks if c > 0]
    if draw(st.booleans()) and allow_empty:
        # An empty block where a filter dropped a whole one: at the start, end or between.
        at = draw(st.integers(0, len(chunks)))
        chunks.insert(at, 0)
    return tuple(chunks)


def split_every() -> st.SearchStrategy[int | None]:
    """``split_every``: the default, the smallest fan-in, and wider trees."""
    return st.one_of(st.none(), st.integers(2, 9))


def epochs() -> st.SearchStrategy[int]:
    return st.integers(1, 3)


def feature_dtypes(*, numeric_only: bool = False) -> st.SearchStrategy[str]:
    kinds = [d for d in FEATURE_DTYPES if not (numeric_only and d == "str")]
    return st.sampled_from(kinds)


def cast_features(X: np.ndarray, dtype: str) -> np.ndarray:
    """``X`` (finite floats) as a user would have it in ``dtype``."""
    if dtype == "bool":
        return X > 0
    if dtype in ("int64", "int8"):
        return np.round(X).astype(dtype)
    if dtype == "uint8":
        return np.round(np.abs(X)).astype(dtype)
    if dtype == "object":
        return np.array(X.astype(np.float64).tolist(), dtype=object)
    if dtype == "str":
        return X.astype(np.float64).astype(str)
    return X.astype(dtype)


def label_arrays(n_rows: int, kind: str, n_classes: int) -> st.SearchStrategy[np.ndarray]:
    """``n_rows`` labels of ``kind`` among ``n_classes`` values (not all need occur)."""
    codes = hnp.arrays(np.int64, n_rows, elements=st.integers(0, n_classes - 1))
    return codes.map(lambda c: labels_of(c, kind))


def labels_of(codes: np.ndarray, kind: str) -> np.ndarray:
    """Class codes ``0, 1, ...`` as labels of ``kind``."""
    if kind == "int":
        return codes
    if kind == "negative-int":
        return codes * 7 - 5
    if kind == "float":
        return codes.astype(np.float64) * 2.0
    if kind == "bool":
        return codes % 2 == 1
    names = np.array(["ant", "bee", "cat", "dog", "eel"])[codes]
    if kind == "str":
        return names
    return np.array(names.tolist(), dtype=object)


def sample_weights(
    n_rows: int, *, bad: bool = False
) -> st.SearchStrategy[np.ndarray | float | None]:
    """Weights: none, a scalar, or one per row with zeros; with ``bad``, negatives or NaN."""
    values = st.one_of(st.floats(0.0, 5.0, width=32), st.just(0.0))
    if bad:
        values = st.one_of(values, st.sampled_from([-1.0, np.nan, np.inf]))
    per_row = hnp.arrays(np.float64, n_rows, elements=values)
    return st.one_of(
        st.none(),
        st.sampled_from([1.0, 2.5]),
        per_row,
        # As a pandas object column gives them: Python numbers in an object array.
        per_row.map(lambda w: np.array(w.tolist(), dtype=object)),
    )


@st.composite
def with_non_finite(draw: st.DrawFn, a: np.ndarray) -> tuple[np.ndarray, int]:
    """A float copy of ``a`` with NaN or infinity at one drawn position; returns the row."""
    out = np.array(a, dtype=np.float64, copy=True)
    flat = draw(st.integers(0, out.size - 1))
    out.reshape(-1)[flat] = draw(non_finite())
    row = flat // (out.shape[1] if out.ndim == 2 else 1)
    return out, row


def as_input(a: np.ndarray, chunks: tuple[int, ...] | None) -> Any:
    """``a`` as given to daskpar: numpy (``chunks`` None) or a dask array in ``chunks`` rows."""
    if chunks is None:
        return a
    return da.from_array(a, chunks=(chunks,) + (-1,) * (a.ndim - 1))


@dataclass(frozen=True)
class Data:
    """One drawn data set: in-memory rows and how the user hands them to daskpar."""

    X: np.ndarray
    y: np.ndarray
    chunks: tuple[int, ...] | None  # None: numpy input
    y_chunks: tuple[int, ...] | None  # y's own chunks (X's unless drawn otherwise)

    @property
    def dask_X(self) -> Any:
        return as_input(self.X, self.chunks)

    @property
    def dask_y(self) -> Any:
        return as_input(self.y, self.y_chunks)

    def rechunked(self, chunks: tuple[int, ...]) -> Data:
        return replace(self, chunks=chunks, y_chunks=chunks)

    def __repr__(self) -> str:  # what hypothesis prints for a falsifying example
        return (
            f"Data(X={self.X.tolist()!r} dtype={self.X.dtype}, y={self.y.tolist()!r} "
            f"dtype={self.y.dtype}, chunks={self.chunks}, y_chunks={self.y_chunks})"
        )


@st.composite
def datasets(
    draw: st.DrawFn,
    *,
    min_rows: int = 1,
    max_rows: int = 30,
    max_features: int = 4,
    min_features: int = 1,
    task: str = "classification",
    label_kinds: tuple[str, ...] = LABEL_KINDS,
    n_classes: tuple[int, int] = (2, 4),
    numpy_input: bool = True,
    other_y_chunks: bool = False,
    non_negative: bool = False,
) -> Data:
    """Finite float64 features with labels or a numeric target, and a row chunking.

    Every class drawn occurs at least once, but not necessarily in every partition; with
    ``numpy_input`` the data may come as numpy arrays; with ``other_y_chunks``, ``y`` may be
    chunked unlike ``X``.
    """
    n = draw(st.integers(min_rows, max_rows))
    d = draw(st.integers(min_features, max_features))
    X = draw(hnp.arrays(np.float64, (n, d), elements=finite_floats()))
    if non_negative:
        X = np.abs(X)
    if task == "classification":
        k = draw(st.integers(*n_classes))
        k = max(1, min(k, n))
        codes = draw(hnp.arrays(np.int64, n, elements=st.integers(0, k - 1)))
        codes[:k] = np.arange(k)  # every class occurs
        codes = draw(st.permutations(codes.tolist()).map(np.array)).astype(np.int64)
        y = labels_of(codes, draw(st.sampled_from(label_kinds)))
    else:
        y = draw(hnp.arrays(np.float64, n, elements=finite_floats(100.0)))
    if numpy_input and draw(st.booleans()):
        return Data(X, y, None, None)
    chunks = draw(chunkings(n))
    y_chunks = draw(chunkings(n)) if other_y_chunks and draw(st.booleans()) else chunks
    return Data(X, y, chunks, y_chunks)


# --------------------------------------------------------------------------------------------
# Files for the readers

#: Feature columns as pandas writes them to Parquet: numpy numbers, pandas' nullable types
#: (which may hold <NA>), and categoricals (Arrow dictionary columns) of numbers or of text.
PARQUET_FEATURE_TYPES = (
    "float64",
    "float32",
    "int64",
    "int32",
    "uint8",
    "bool",
    "Int64",
    "Float64",
    "boolean",
    "category-float",
    "category-str",  # text: refused as a feature
)
#: Target columns: numbers, booleans and labels, nullable or categorical.
PARQUET_TARGET_TYPES = (
    "int64",
    "Int64",
    "float64",
    "bool",
    "boolean",
    "str",
    "string",
    "category-str",
    "category-int",
)


def _parquet_column(codes: np.ndarray, values: np.ndarray, kind: str, nulls: np.ndarray) -> Any:
    """A pandas column of ``kind`` from small integer ``codes`` and finite float ``values``;
    ``nulls`` marks <NA> (nullable and categorical kinds only)."""
    if kind in ("float64", "float32"):
        return values.astype(kind)
    if kind in ("int64", "int32"):
        return np.round(values).astype(kind)
    if kind == "uint8":
        return np.round(np.abs(values)).astype(kind)
    if kind == "bool":
        return codes % 2 == 1
    if kind in ("str", "string"):
        out = np.array(["ant", "bee", "cat"])[codes % 3].astype(object)
        return out if kind == "str" else pd.array(out, dtype="string")
    if kind in ("Int64", "Float64", "boolean"):
        base = {"Int64": np.round(values), "Float64": values, "boolean": codes % 2 == 1}[kind]
        column = pd.array(base, dtype=kind)
        column[nulls] = pd.NA
        return column
    categories = {
        "category-float": [0.5, 1.0, 2.0],
        "category-str": ["ant", "bee", "cat"],
        "category-int": [3, 5, 7],
    }[kind]
    codes = np.where(nulls, -1, codes % 3) if kind != "category-int" else codes % 3
    return pd.Categorical.from_codes(codes, categories=categories)


@st.composite
def parquet_tables(
    draw: st.DrawFn,
    *,
    min_rows: int = 0,
    max_rows: int = 20,
    feature_types: tuple[str, ...] = PARQUET_FEATURE_TYPES,
    target_types: tuple[str, ...] = PARQUET_TARGET_TYPES,
) -> pd.DataFrame:
    """A DataFrame of 1-3 features ``f0``, ``f1``, ... of the Parquet types drawn and a target
    ``t``, with <NA> anywhere in nullable and categorical columns."""
    n = draw(st.integers(min_rows, max_rows))
    columns: dict[str, Any] = {}
    for name, kinds in [*((f"f{j}", feature_types) for j in range(draw(st.integers(1, 3)))),
                        ("t", target_types)]:  # fmt: skip
        kind = draw(st.sampled_from(kinds))
        codes = draw(hnp.arrays(np.int64, n, elements=st.integers(0, 2)))
        values = draw(hnp.arrays(np.float64, n, elements=finite_floats(1e3)))
        nulls = draw(hnp.arrays(np.bool_, n, elements=st.booleans()))
        if not draw(st.booleans()):
            nulls[:] = False  # as often, a nullable column without nulls
        columns[name] = _parquet_column(codes, values, kind, nulls)
    return pd.DataFrame(columns)


@dataclass(frozen=True)
class ParquetFiles:
    """How one table is written: into ``len(parts)`` files (one file, or a folder of them),
    each of its rows cut into ``row_groups`` (empty ones included), its columns in ``orders``;
    ``index``, what pandas stores of the index; ``change``, a schema change in the last file."""

    parts: tuple[int, ...]  # rows per file
    row_groups: tuple[tuple[int, ...], ...]  # per file, rows per row group
    orders: tuple[tuple[str, ...], ...]  # per file, its columns in order
    index: str  # "none", "range" (metadata only), "column", "named"
    change: str  # "none", "type" (a column's type differs), "missing" (a column lacks)
    folder: bool


@st.composite
def parquet_files(draw: st.DrawFn, frame: pd.DataFrame, *, max_files: int = 3) -> ParquetFiles:
    """How to write ``frame`` as Parquet: files, row groups, column orders, index, schemas."""
    n_files = draw(st.integers(1, max_files))
    parts = draw(chunkings(len(frame), max_blocks=n_files, allow_empty=True))[:n_files]
    parts = (*parts[:-1], len(frame) - sum(parts[:-1]))
    names = tuple(frame.columns)
    same_order = draw(st.booleans())
    orders = tuple(names if same_order else tuple(draw(st.permutations(names))) for _ in parts)
    row_groups = tuple(draw(chunkings(n, max_blocks=4)) for n in parts)
    change = (
        draw(st.sampled_from(["none", "none", "type", "missing"])) if len(parts) > 1 else "none"
    )
    return ParquetFiles(
        parts=parts,
        row_groups=row_groups,
        orders=orders,
        index=draw(st.sampled_from(["none", "range", "column", "named"])),
        change=change,
        folder=len(parts) > 1 or draw(st.booleans()),
    )


#: The dtypes of zarr arrays: what the readers hand on unchanged.
ZARR_DTYPES = ("float64", "float32", "float16", "int64", "int8", "uint8", "bool")


@dataclass(frozen=True)
class ZarrLayout:
    """A zarr store of ``X`` (and ``y``) as drawn: format, chunks, fill values, and which
    chunks are not in the store (unwritten, since zarr skips chunks of fill values only with
    ``write_empty_chunks=False``, or deleted afterwards)."""

    zarr_format: int
    X: np.ndarray
    y: np.ndarray
    x_chunks: tuple[int, ...]
    y_chunks: tuple[int, ...]
    x_fill: Any
    y_fill: Any
    shards: tuple[int, ...] | None  # zarr 3 only: X's shards (each a multiple of its chunks)
    separator: str  # the chunk keys' separator ("/" or "."): zarr 2's "." or "/", zarr 3's "/"
    write_empty_chunks: bool
    delete: tuple[tuple[str, int], ...]  # (array, index among its stored chunk files)
    names: tuple[str, str]  # the arrays' names: X's, y's

    def __repr__(self) -> str:  # what hypothesis prints for a falsifying example
        return (
            f"ZarrLayout(zarr_format={self.zarr_format}, X={self.X.tolist()!r} "
            f"dtype={self.X.dtype}, y={self.y.tolist()!r} dtype={self.y.dtype}, "
            f"x_chunks={self.x_chunks}, "
            f"y_chunks={self.y_chunks}, x_fill={self.x_fill!r}, y_fill={self.y_fill!r}, "
            f"shards={self.shards}, separator={self.separator!r}, "
            f"write_empty_chunks={self.write_empty_chunks}, delete={self.delete}, "
            f"names={self.names})"
        )


def _fill_values(dtype: str) -> st.SearchStrategy[Any]:
    """Fill values of ``dtype``: the format's default (None), zero, NaN, or another value."""
    if dtype == "bool":
        return st.sampled_from([None, False, True])
    if dtype.startswith("float"):
        return st.sampled_from([None, 0.0, np.nan, 1.0])
    return st.sampled_from([None, 0, 1, 7])


@st.composite
def zarr_layouts(draw: st.DrawFn, *, max_rows: int = 12, max_features: int = 3) -> ZarrLayout:
    """Stores as users write them: either format, any dtype, ragged last chunks, ``y``
    chunked unlike ``X``, 2-D ``y`` of one column, fill values, and chunks not in the store."""
    zarr_format = draw(st.sampled_from([2, 3]))
    n = draw(st.integers(0, max_rows))
    d = draw(st.integers(1, max_features))
    x_dtype = draw(st.sampled_from(ZARR_DTYPES))
    # Few distinct values, zeros above all: chunks of fill values only are common.
    X = cast_features(
        draw(hnp.arrays(np.float64, (n, d), elements=st.sampled_from([0.0, 0.0, 1.0, -2.5]))),
        x_dtype,
    )
    y_dtype = draw(st.sampled_from(["int64", "float64", "bool", "int8"]))
    y = cast_features(
        draw(hnp.arrays(np.float64, n, elements=st.sampled_from([0.0, 1.0]))), y_dtype
    )
    if draw(st.booleans()):
        y = y.reshape(-1, 1)  # a column vector, as some tools write targets
    x_chunks = (draw(st.integers(1, max(n, 1) + 2)), draw(st.integers(1, d)))
    y_rows = draw(st.integers(1, max(n, 1) + 2))
    y_chunks = (y_rows,) if y.ndim == 1 else (y_rows, 1)
    shards = None
    if zarr_format == 3 and draw(st.booleans()):
        shards = (x_chunks[0] * draw(st.integers(1, 3)), x_chunks[1])
    separator = "/" if zarr_format == 3 else draw(st.sampled_from([".", "/"]))
    delete = tuple(
        draw(st.lists(st.tuples(st.sampled_from(["X", "y"]), st.integers(0, 20)), max_size=2))
    )
    names = draw(st.sampled_from([("X", "y"), ("features", "labels")]))
    return ZarrLayout(
        zarr_format=zarr_format,
        X=X,
        y=y,
        x_chunks=x_chunks,
        y_chunks=y_chunks,
        x_fill=draw(_fill_values(x_dtype)),
        y_fill=draw(_fill_values(str(y.dtype))),
        shards=shards,
        separator=separator,
        write_empty_chunks=draw(st.booleans()),
        delete=delete,
        names=names,
    )
