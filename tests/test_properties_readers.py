"""Property tests of the readers over generated CSV files, Parquet files and zarr stores.

Files as users and tools write them. CSV: with or without rows, a byte-order mark, every
quoting style, an empty last line or none, the index column pandas writes by default, a column
whose type changes in a late block, and no header at all. Parquet (written by pandas and
pyarrow): nullable types holding <NA>, categoricals (dictionary columns), the index pandas
stores, row groups of any size (empty ones too), several files whose column orders or schemas
differ. zarr: formats 2 and 3, every dtype, ragged last chunks, ``y`` chunked unlike ``X``,
shards, fill values, and chunks missing from the store (skipped by zarr, deleted before the
read or after it).

The property: the reader gives the data that was written (features as floats for tables, the
target as written), or one clear :class:`daskpar.DaskparError` naming the file, the column or
the rows, and the fix; never a raw error of pandas, pyarrow, zarr or dask.
"""

from __future__ import annotations

import csv
import math
import os
import tempfile
from pathlib import Path
from typing import Any

import daskpar_strategies as s
import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import daskpar as dp
from daskpar.data import read_parquet, read_path, read_zarr

PROPERTY = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])

QUOTING = {
    "minimal": csv.QUOTE_MINIMAL,
    "all": csv.QUOTE_ALL,
    "nonnumeric": csv.QUOTE_NONNUMERIC,
}


@st.composite
def frames(draw: st.DrawFn, *, min_rows: int = 0, max_rows: int = 30) -> pd.DataFrame:
    """A DataFrame of 1-3 numeric feature columns (floats, integers) and a target ``t``."""
    n = draw(st.integers(min_rows, max_rows))
    columns: dict[str, Any] = {}
    for j in range(draw(st.integers(1, 3))):
        values = draw(hnp.arrays(np.float64, n, elements=s.finite_floats(1e3)))
        columns[f"f{j}"] = np.round(values).astype(np.int64) if draw(st.booleans()) else values
    kind = draw(st.sampled_from(["int", "object-str", "float"]))
    columns["t"] = s.labels_of(draw(hnp.arrays(np.int64, n, elements=st.integers(0, 2))), kind)
    return pd.DataFrame(columns)


def written(frame: pd.DataFrame, folder: Path, **how: Any) -> Path:
    """``frame`` written as a CSV file, as ``how`` says."""
    path = folder / "data.csv"
    text = frame.to_csv(
        index=how.get("index", False),
        header=how.get("header", True),
        quoting=QUOTING[how.get("quoting", "minimal")],
        lineterminator="\n",
    )
    if how.get("last_line") == "empty":
        text += "\n"
    elif how.get("last_line") == "none":
        text = text.rstrip("\n")
    encoding = "utf-8-sig" if how.get("bom") else "utf-8"
    path.write_bytes(text.encode(encoding))
    return path


def assert_the_data(read: tuple[Any, Any, np.ndarray, np.ndarray], frame: pd.DataFrame) -> None:
    """``read`` (X, y and their values) holds the frame's features as floats and its target."""
    X, y, X_values, y_values = read
    np.testing.assert_array_equal(X_values, frame.drop(columns="t").to_numpy(dtype=np.float64))
    assert y_values.tolist() == frame["t"].to_numpy().tolist()
    assert X.chunks[0] == y.chunks[0]


def assert_clear(error: BaseException) -> None:
    assert isinstance(error, dp.DaskparError), (
        f"raw {type(error).__module__}.{type(error).__name__}: {error}"
    )
    assert "read_csv" in str(error), str(error)
    assert "data.csv" in str(error), str(error)


def read(path: Path, **kwargs: Any) -> tuple[Any, BaseException | None]:
    """``read_csv(path, target="t")`` computed, or the exception it raised."""
    try:
        X, y = dp.read_csv(path, target="t", **kwargs)
        return (X, y, X.compute(), y.compute()), None
    except Exception as error:  # the property inspects every exception
        return None, error


@PROPERTY
@given(
    frame=frames(),
    index=st.booleans(),
    quoting=st.sampled_from(list(QUOTING)),
    last_line=st.sampled_from(["newline", "empty", "none"]),
    bom=st.booleans(),
    blocksize=st.sampled_from(["auto", 64, None]),
)
# Found: pandas' index column (an unnamed first column) was read as a feature.
@example(
    frame=pd.DataFrame({"f0": [1.0, 2.0], "t": [0, 1]}),
    index=True,
    quoting="minimal",
    last_line="newline",
    bom=False,
    blocksize="auto",
)
# Found: a header without rows was refused as "feature column(s) ... (string) ... not numeric".
@example(
    frame=pd.DataFrame({"f0": [], "t": []}),
    index=False,
    quoting="minimal",
    last_line="newline",
    bom=False,
    blocksize="auto",
)
def test_read_csv_gives_the_data_or_a_clear_error(
    frame: pd.DataFrame, index: bool, quoting: str, last_line: str, bom: bool, blocksize: Any
) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = written(
            frame, Path(folder), index=index, quoting=quoting, last_line=last_line, bom=bom
        )
        got, error = read(path, blocksize=blocksize)
    if error is None:
        assert_the_data(got, frame)
        return
    assert_clear(error)
    # Only a file with no rows has nothing to read.
    assert len(frame) == 0, str(error)
    assert "no rows" in str(error)


@PROPERTY
@given(frame=frames(min_rows=1))
def test_read_csv_without_a_header_names_the_columns_it_found(frame: pd.DataFrame) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = written(frame, Path(folder), header=False)
        _, error = read(path)
    assert error is not None, "a file without a header has no column named 't'"
    assert_clear(error)
    assert "no target column 't'" in str(error)


@PROPERTY
@given(
    n=st.integers(400, 1500),
    late=st.sampled_from(["1.5", "oops", ""]),
    column=st.sampled_from(["f0", "t"]),
)
# Found: dask's raw ValueError "Mismatched dtypes found in `pd.read_csv`" from the counting pass.
@example(n=1500, late="1.5", column="f0")
@example(n=1500, late="oops", column="f0")
@example(n=1500, late="oops", column="t")
def test_a_type_that_changes_in_a_late_block(n: int, late: str, column: str) -> None:
    """An integer column that holds a float, text or a missing value near its end, past the
    first block from which dask infers its type."""
    frame = pd.DataFrame({"f0": np.arange(n), "t": np.arange(n) % 2}).astype(object)
    frame.loc[n - 1, column] = late
    with tempfile.TemporaryDirectory() as folder:
        path = written(frame, Path(folder))
        got, error = read(path, blocksize=1000)
        if error is None:
            # Only a missing feature reads: as NaN, as in pandas.
            assert (column, late) == ("f0", ""), "the file's values were not read as written"
            assert np.isnan(got[2][-1, 0])
            return
        assert_clear(error)
        if (column, late) == ("f0", "1.5"):
            # The fix the message gives works.
            assert "dtype={'f0': 'float64'}" in str(error)
            fixed, _ = read(path, blocksize=1000, dtype={"f0": "float64"})
            assert fixed[2][-1, 0] == 1.5


# --------------------------------------------------------------------------------------------
# Parquet

#: Fewer examples under the "ci" profile for the properties that write several files each.
CI = settings.get_current_profile_name() == "ci"
FEW = settings(PROPERTY, max_examples=30) if CI else PROPERTY
#: The costliest: files of thousands of rows.
FEWEST = settings(PROPERTY, max_examples=4) if CI else PROPERTY
#: Properties that fail for a known bug (strict xfails): stop at the first failure, unshrunk.
KNOWN_BUG = settings(FEW, phases=[Phase.explicit, Phase.generate])

PRESERVE_INDEX = {"none": False, "range": None, "column": True, "named": None}


def write_parquet(frame: pd.DataFrame, how: s.ParquetFiles, folder: Path) -> Path:
    """``frame`` written with pyarrow as ``how`` says; returns the file or the folder."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    if how.index == "named":  # a named index of its own values: stored as a column
        frame = frame.set_axis(pd.Index(np.arange(len(frame)) * 3 + 100, name="id"))
    target = folder / "data" if how.folder else folder / "data.parquet"
    if how.folder:
        target.mkdir()
    start = 0
    for i, (rows, groups, order) in enumerate(
        zip(how.parts, how.row_groups, how.orders, strict=True)
    ):
        part = frame.iloc[start : start + rows][list(order)]
        start += rows
        if i == len(how.parts) - 1 and how.change == "type":
            part = part.astype({"f0": str})
        elif i == len(how.parts) - 1 and how.change == "missing":
            part = part.drop(columns="f0")
        table = pa.Table.from_pandas(part, preserve_index=PRESERVE_INDEX[how.index])
        path = target / f"part-{i}.parquet" if how.folder else target
        with pq.ParquetWriter(path, table.schema) as writer:
            offset = 0
            for size in groups:  # one row group each, empty ones too
                writer.write_table(table.slice(offset, size), row_group_size=max(size, 1))
                offset += size
    return target


def as_floats(column: pd.Series) -> np.ndarray:
    """A feature column as the readers give it: floats, <NA> as NaN."""
    if isinstance(column.dtype, pd.CategoricalDtype):
        column = column.astype(object)
    return pd.array(column.astype(object).where(column.notna(), np.nan), dtype="Float64").to_numpy(
        dtype=np.float64, na_value=np.nan
    )


def is_text(column: pd.Series) -> bool:
    """Text, or a categorical of text: not a feature."""
    if isinstance(column.dtype, pd.CategoricalDtype):
        return not pd.api.types.is_numeric_dtype(column.cat.categories)
    return not (pd.api.types.is_numeric_dtype(column) or pd.api.types.is_bool_dtype(column))


def assert_clear_about(error: BaseException, *named: str) -> None:
    """A DaskparError (never a raw one of a dependency) naming every one of ``named``."""
    assert isinstance(error, dp.DaskparError), (
        f"raw {type(error).__module__}.{type(error).__name__}: {error}"
    )
    for word in named:
        assert word in str(error), (word, str(error))


def read_table(path: Path, via: str, **kwargs: Any) -> tuple[Any, BaseException | None]:
    """``read_parquet`` (or ``read_path``) of ``path`` with target ``t``, computed."""
    try:
        reader = read_parquet if via == "read_parquet" else read_path
        X, y = reader(path, target="t", **kwargs)
        return (X, y, X.compute(), y.compute()), None
    except Exception as error:  # the property inspects every exception
        return None, error


@st.composite
def tables_and_files(draw: st.DrawFn) -> tuple[pd.DataFrame, s.ParquetFiles]:
    frame = draw(s.parquet_tables())
    return frame, draw(s.parquet_files(frame))


@FEW
@given(
    written_as=tables_and_files(),
    columns=st.one_of(st.none(), st.permutations(["f0", "f1", "f2"]).map(lambda c: c[:2])),
    via=st.sampled_from(["read_parquet", "read_path"]),
)
# Found (deep profile): no rows and a text target, which pandas writes as Arrow's null type.
@example(
    written_as=(
        pd.DataFrame({"f0": pd.Series([], dtype=float), "t": pd.Series([], dtype=object)}),
        s.ParquetFiles(
            parts=(0,), row_groups=((0,),), orders=(("f0", "t"),), index="none",
            change="none", folder=False,
        ),
    ),
    columns=None,
    via="read_parquet",
)  # fmt: skip
def test_read_parquet_gives_the_data_or_a_clear_error(
    written_as: tuple[pd.DataFrame, s.ParquetFiles], columns: list[str] | None, via: str
) -> None:
    frame, how = written_as
    if columns is not None:
        columns = [c for c in columns if c in frame.columns] or None
    with tempfile.TemporaryDirectory() as folder:
        path = write_parquet(frame, how, Path(folder))
        got, error = read_table(path, via, columns=columns)
    names = [c for c in how.orders[0] if c != "t"]
    features = list(columns) if columns is not None else names
    text = [c for c in features if is_text(frame[c])]
    differ = how.change != "none" or len(set(how.orders)) > 1
    null_target = bool(frame["t"].isna().any())
    if error is None:
        X, y, X_values, y_values = got
        assert not text, f"text column(s) {text} read as features"
        assert how.change == "none", f"a file with another schema ({how.change}) was read"
        assert not null_target, "a missing target was read"
        np.testing.assert_array_equal(
            X_values,
            np.column_stack([as_floats(frame[c]) for c in features]).reshape(-1, len(features)),
        )
        assert y_values.tolist() == list(frame["t"].astype(object)), (y_values, frame["t"])
        assert X.chunks[0] == y.chunks[0]
        return
    if differ and isinstance(error, dp.InputError) and "same schema" in str(error):
        assert_clear_about(error, "part-")  # names the file that differs
    elif text:
        assert_clear_about(error, repr(text[0]), "not numeric")
    elif null_target:
        assert_clear_about(error, "'t'", "missing", "row")
    else:
        # Only a table of no rows has nothing to read; pandas writes its text columns as
        # Arrow's null type, refused as such.
        assert len(frame) == 0, str(error)
        assert_clear_about(error, "data")


@FEWEST
@given(
    n=st.integers(2000, 4000),
    groups=st.integers(1, 2),
    min_partitions=st.integers(1, 8),
    at=st.integers(0, 3999),
    kind=st.sampled_from(["Int64", "Float64", "boolean", "category-float"]),
)
def test_read_parquet_cuts_large_row_groups_at_the_right_rows(
    n: int, groups: int, min_partitions: int, at: int, kind: str
) -> None:
    """Row groups of thousands of rows are cut into ranges read in batches: nulls and
    categoricals near a cut come back in their rows."""
    rng = np.random.default_rng(n)
    nulls = np.zeros(n, dtype=bool)
    nulls[at % n] = True
    codes = rng.integers(0, 3, n)
    frame = pd.DataFrame(
        {
            "f0": s._parquet_column(codes, rng.normal(size=n), kind, nulls),
            "f1": np.arange(n, dtype=np.float64),
            "t": pd.Categorical.from_codes(codes, categories=["ant", "bee", "cat"]),
        }
    )
    how = s.ParquetFiles(
        parts=(n,),
        row_groups=((n // 2, n - n // 2) if groups == 2 else (n,),),
        orders=(("f0", "f1", "t"),),
        index="range",
        change="none",
        folder=False,
    )
    with tempfile.TemporaryDirectory() as folder:
        path = write_parquet(frame, how, Path(folder))
        got, error = read_table(path, "read_parquet", min_partitions=min_partitions)
    assert error is None, repr(error)
    X, _, X_values, y_values = got
    np.testing.assert_array_equal(X_values[:, 0], as_floats(frame["f0"]))
    np.testing.assert_array_equal(X_values[:, 1], np.arange(n))
    assert y_values.tolist() == list(frame["t"].astype(object))
    # At least min_partitions blocks, none cut under 1000 rows.
    assert X.numblocks[0] >= min(min_partitions, sum(g // 1000 for g in how.row_groups[0]))


# --------------------------------------------------------------------------------------------
# zarr


def stored_chunks(store: Path, name: str) -> list[str]:
    """The chunk (or shard) files of array ``name``, as paths relative to its folder."""
    root = store / name
    metadata = {"zarr.json", ".zarray", ".zattrs"}
    return sorted(
        str(Path(dirpath, f).relative_to(root))
        for dirpath, _, files in os.walk(root)
        for f in files
        if f not in metadata
    )


def chunk_coords(key: str) -> tuple[int, ...]:
    """``c/1/0`` (zarr 3), ``1.0`` or ``1/0`` (zarr 2) -> (1, 0)."""
    key = key.removeprefix("c/").removeprefix("c")
    return tuple(int(k) for k in key.replace(".", "/").split("/") if k)


def write_layout(layout: s.ZarrLayout, store: Path, extra_y_rows: int) -> dict[str, Any]:
    """``layout`` written with zarr; returns each array's grid (chunks or shards)."""
    import zarr

    group = zarr.open_group(store, mode="w", zarr_format=layout.zarr_format)
    y = np.concatenate([layout.y, layout.y[:extra_y_rows]])
    grids = {}
    for name, data, chunks, fill, shards in (
        (layout.names[0], layout.X, layout.x_chunks, layout.x_fill, layout.shards),
        (layout.names[1], y, layout.y_chunks, layout.y_fill, None),
    ):
        options: dict[str, Any] = {}
        if layout.zarr_format == 2:
            options["chunk_key_encoding"] = {"name": "v2", "separator": layout.separator}
        if shards is not None:
            options["shards"] = shards
        array = group.create_array(
            name,
            shape=data.shape,
            chunks=chunks,
            dtype=data.dtype,
            fill_value=fill,
            config={"write_empty_chunks": layout.write_empty_chunks},
            **options,
        )
        if data.size:
            array[...] = data
        grids[name] = (shards or chunks, data.shape, array.fill_value)
    return grids


def expected_after_deleting(
    data: np.ndarray, grid: tuple[int, ...], fill: Any, deleted: list[str]
) -> np.ndarray:
    """What zarr reads of ``data`` once the chunk files ``deleted`` are gone: the fill value."""
    out = data.copy()
    for key in deleted:
        region = tuple(
            slice(c * g, (c + 1) * g) for c, g in zip(chunk_coords(key), grid, strict=False)
        )
        out[region] = 0 if fill is None else fill
    return out


ZARR_READS = {
    "layout": s.zarr_layouts(),
    "missing_chunks": st.sampled_from(["raise", "fill"]),
    "when": st.sampled_from(["before", "after"]),
    "extra_y_rows": st.sampled_from([0, 0, 0, 1]),
    "via": st.sampled_from(["read_zarr", "read_path"]),
}


@FEW
@given(**ZARR_READS)
# Found: y of one column but more rows than X gave dask's raw "Chunks do not add up to
# shape" (now "... has 2 rows but X has 1"), where the same 1-D y was refused.
@example(
    layout=s.ZarrLayout(
        zarr_format=2, X=np.zeros((1, 1)), y=np.zeros(1, dtype=np.int64), x_chunks=(1, 1),
        y_chunks=(1,), x_fill=None, y_fill=None, shards=None, separator=".",
        write_empty_chunks=True, delete=(), names=("X", "y"),
    ),
    missing_chunks="raise",
    when="before",
    extra_y_rows=1,
    via="read_zarr",
)  # fmt: skip
@example(
    layout=s.ZarrLayout(
        zarr_format=2, X=np.zeros((1, 1)), y=np.zeros((1, 1), dtype=np.int64), x_chunks=(1, 1),
        y_chunks=(1, 1), x_fill=None, y_fill=None, shards=None, separator=".",
        write_empty_chunks=True, delete=(), names=("X", "y"),
    ),
    missing_chunks="raise",
    when="before",
    extra_y_rows=1,
    via="read_zarr",
)  # fmt: skip
@example(
    layout=s.ZarrLayout(
        zarr_format=2, X=np.zeros((1, 1)), y=np.zeros((1, 1), dtype=np.int64), x_chunks=(1, 1),
        y_chunks=(1, 1), x_fill=None, y_fill=None, shards=None, separator=".",
        write_empty_chunks=False, delete=(), names=("X", "y"),
    ),
    missing_chunks="fill",
    when="before",
    extra_y_rows=1,
    via="read_zarr",
)  # fmt: skip
def test_read_zarr_gives_the_data_or_a_clear_error(
    layout: s.ZarrLayout, missing_chunks: str, when: str, extra_y_rows: int, via: str
) -> None:
    check_read_zarr(layout, missing_chunks, when, extra_y_rows, via)


def check_read_zarr(
    layout: s.ZarrLayout, missing_chunks: str, when: str, extra_y_rows: int, via: str
) -> None:
    """``layout`` written, chunks deleted ``when`` said, then read: the data written (fill
    values where chunks are missing, with ``missing_chunks="fill"``), or a clear error."""
    x_name, y_name = layout.names
    extra_y_rows = min(extra_y_rows, len(layout.y))
    with tempfile.TemporaryDirectory() as folder:
        store = Path(folder) / "data.zarr"
        grids = write_layout(layout, store, extra_y_rows)
        # What is not stored: chunks that zarr skipped (fill values only), and those deleted.
        unstored = {
            name: math.prod(math.ceil(n / g) for n, g in zip(shape, grid, strict=True))
            - len(stored_chunks(store, name))
            for name, (grid, shape, _) in grids.items()
        }
        deleted: dict[str, list[str]] = {x_name: [], y_name: []}
        for which, i in layout.delete:
            name = x_name if which == "X" else y_name
            files = [f for f in stored_chunks(store, name) if f not in deleted[name]]
            if files:
                deleted[name].append(files[i % len(files)])

        def delete() -> None:
            for name, keys in deleted.items():
                for key in keys:
                    os.remove(store / name / key)

        if when == "before":
            delete()
        try:
            reader = read_zarr if via == "read_zarr" else read_path
            X, y = reader(store, x=x_name, y=y_name, missing_chunks=missing_chunks)
            if when == "after":
                delete()
            got, error = (X, y, X.compute(), y.compute()), None
        except Exception as caught:  # the property inspects every exception
            got, error = None, caught
    missing_at_call = any(unstored.values()) or (when == "before" and any(deleted.values()))
    missing_later = when == "after" and any(deleted.values())
    if error is None:
        assert extra_y_rows == 0, "y longer than X was read"
        assert missing_chunks == "fill" or not (missing_at_call or missing_later), (
            "chunks missing from the store were read as the fill value"
        )
        X, y, X_values, y_values = got
        (x_grid, _, x_fill), (y_grid, _, y_fill) = grids[x_name], grids[y_name]
        np.testing.assert_array_equal(
            X_values, expected_after_deleting(layout.X, x_grid, x_fill, deleted[x_name])
        )
        y_expected = expected_after_deleting(layout.y, y_grid, y_fill, deleted[y_name])
        np.testing.assert_array_equal(y_values, y_expected.reshape(-1))
        assert X.dtype == layout.X.dtype
        assert y.dtype == layout.y.dtype
        # X keeps the store's row chunks; y is read in X's.
        n, rows = layout.X.shape[0], layout.x_chunks[0]
        assert X.chunks[0] == ((rows,) * (n // rows) + ((n % rows,) if n % rows else ()) or (0,))
        assert y.chunks[0] == X.chunks[0]
        return
    if extra_y_rows and "rows but X has" in str(error):
        assert_clear_about(error, repr(y_name))
    elif missing_at_call:
        assert isinstance(error, dp.InputError), repr(error)
        assert_clear_about(error, "missing", "missing_chunks='fill'", str(store))
    else:
        assert isinstance(error, dp.PartitionError), repr(error)
        assert_clear_about(error, "missing", "rows", "missing_chunks='fill'")


@pytest.mark.slow
@pytest.mark.parametrize(
    "prop",
    [
        test_read_csv_gives_the_data_or_a_clear_error,
        test_read_csv_without_a_header_names_the_columns_it_found,
        test_a_type_that_changes_in_a_late_block,
        test_read_parquet_gives_the_data_or_a_clear_error,
        test_read_parquet_cuts_large_row_groups_at_the_right_rows,
        test_read_zarr_gives_the_data_or_a_clear_error,
    ],
    ids=lambda f: f.__name__.removeprefix("test_"),
)
def test_deep(prop: Any) -> None:
    prop()
