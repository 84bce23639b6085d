"""Property tests of ``daskpar.read_csv`` over generated CSV files.

Files as users and tools write them: with or without rows, a byte-order mark, every quoting
style, an empty last line or none, the index column pandas writes by default, a column whose
type changes in a late block, and no header at all. The property: ``read_csv`` gives the data
the DataFrame held (features as floats, the target as written), or one clear
:class:`daskpar.DaskparError` naming the file and the fix, never a raw error of pandas or dask.
"""

from __future__ import annotations

import csv
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import daskpar as dp
from tests import strategies as s

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


@pytest.mark.slow
@pytest.mark.parametrize(
    "prop",
    [
        test_read_csv_gives_the_data_or_a_clear_error,
        test_read_csv_without_a_header_names_the_columns_it_found,
        test_a_type_that_changes_in_a_late_block,
    ],
    ids=lambda f: f.__name__.removeprefix("test_"),
)
def test_deep(prop: Any) -> None:
    prop()
