"""Tables by name: the readers' ``as_frame=True``, and the CLI's score and predict taking a
file's columns by name (issue 20, parts 5 and 6)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from daskpar_testing import run

from daskpar.data import read_csv, read_parquet, read_path
from daskpar.errors import InputError, PartitionError

FEATURES = ["a", "b", "c", "d"]


def labelled_frame(rows: int = 12_000) -> pd.DataFrame:
    """Features of different weights, so that a model reading them in another order is
    wrong often: the labels are text."""
    rng = np.random.default_rng(7)
    X = rng.normal(size=(rows, 4)) * [1.0, 3.0, 0.5, 2.0]
    frame = pd.DataFrame(X, columns=FEATURES)
    frame["label"] = np.where(X[:, 0] + 0.8 * X[:, 1] - 2.0 * X[:, 3] > 0, "yes", "no")
    return frame


# --------------------------------------------------------------------------------------------
# Readers


def test_read_csv_as_frame_aligns_files_by_name(tmp_path: Path) -> None:
    frame = labelled_frame(3000)
    frame.iloc[:1000].to_csv(tmp_path / "day1.csv", index=False)
    frame.iloc[1000:2000][["label", "d", "b", "c", "a"]].to_csv(tmp_path / "day2.csv", index=False)
    frame.iloc[2000:][["c", "a", "label", "b", "d"]].to_csv(tmp_path / "day3.csv", index=False)
    X, y = read_csv(str(tmp_path / "day*.csv"), target="label", as_frame=True)
    assert list(X.columns) == FEATURES
    assert X.npartitions == y.npartitions
    np.testing.assert_allclose(X.compute().to_numpy(), frame[FEATURES].to_numpy())
    assert y.compute().tolist() == frame["label"].tolist()
    # The numeric arrays agree with the table.
    X_arr, _ = read_csv(str(tmp_path / "day*.csv"), target="label")
    np.testing.assert_allclose(X_arr.compute(), frame[FEATURES].to_numpy())


def test_read_csv_as_frame_keeps_text_columns_and_needs_no_target(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text("Unnamed: 0,a,colour,label\n0,1.5,red,x\n1,2.5,blue,y\n")
    X, y = read_csv(path, as_frame=True)
    assert y is None
    assert list(X.columns) == ["a", "colour", "label"]  # the pandas index is not a feature
    X, y = read_csv(path, target="label", columns=["colour", "a"], as_frame=True)
    assert X.compute()["colour"].tolist() == ["red", "blue"]
    with pytest.raises(InputError, match=r"no column\(s\) \['e'\]"):
        read_csv(path, columns=["a", "e"], as_frame=True)
    with pytest.raises(InputError, match="pass target='COLUMN'"):
        read_csv(path)


def test_read_csv_as_frame_missing_target_is_an_error_when_read(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text("a,label\n1,0\n2,\n3,1\n")
    _, y = read_csv(path, target="label", as_frame=True)
    with pytest.raises(PartitionError, match="'label' has 1 missing value"):
        y.compute()


def test_read_parquet_as_frame_aligns_files_by_name(tmp_path: Path) -> None:
    frame = labelled_frame(3000)
    folder = tmp_path / "data"
    folder.mkdir()
    pq.write_table(pa.Table.from_pandas(frame.iloc[:1500]), folder / "0.parquet", 500)
    other = frame.iloc[1500:][["d", "label", "b", "a", "c"]]
    pq.write_table(pa.Table.from_pandas(other), folder / "1.parquet", 700)
    X, y = read_parquet(folder, target="label", as_frame=True)
    assert list(X.columns) == FEATURES
    assert X.npartitions == y.npartitions == 6  # one per row group
    np.testing.assert_allclose(X.compute().to_numpy(), frame[FEATURES].to_numpy())
    assert y.compute().tolist() == frame["label"].tolist()
    # The arrays' reader asks for the same order, as before.
    with pytest.raises(InputError, match="same schema"):
        read_parquet(folder, target="label")


def test_read_parquet_as_frame_refuses_other_columns_with_the_difference(tmp_path: Path) -> None:
    folder = tmp_path / "data"
    folder.mkdir()
    pq.write_table(pa.table({"a": [1.0], "b": [2.0], "y": [0]}), folder / "0.parquet")
    pq.write_table(pa.table({"a": [1.0], "y": [0]}), folder / "1.parquet")
    with pytest.raises(InputError, match=r"lacks \['b'\]"):
        read_parquet(folder, target="y", as_frame=True)


def test_read_parquet_as_frame_null_target(tmp_path: Path) -> None:
    path = tmp_path / "t.parquet"
    pq.write_table(pa.table({"a": [1.0, 2.0], "y": [0, None]}), path)
    X, y = read_parquet(path, target="y", as_frame=True)
    assert X.compute()["a"].tolist() == [1.0, 2.0]
    with pytest.raises(PartitionError, match=r"'y' has 1 missing value.*row group 0"):
        y.compute()


def test_read_path_as_frame_is_for_tables(tmp_path: Path) -> None:
    np.save(tmp_path / "X.npy", np.ones((4, 2)))
    with pytest.raises(InputError, match="as_frame=True reads tables"):
        read_path(tmp_path / "X.npy", y=None, as_frame=True)


# --------------------------------------------------------------------------------------------
# The command line


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A model trained from a CSV file, and that file's rows written in other ways."""
    folder = tmp_path_factory.mktemp("tables")
    frame = labelled_frame()
    frame.to_csv(folder / "train.csv", index=False)
    shuffled = frame[["d", "label", "c", "a", "b"]]
    shuffled.to_csv(folder / "shuffled.csv", index=False)
    shuffled.to_parquet(folder / "shuffled.parquet", row_group_size=3000)
    frame[["c", "d", "b", "a"]].to_csv(folder / "unlabeled.csv", index=False)
    frame[["d", "a", "b", "label"]].to_csv(folder / "missing.csv", index=False)
    result = run(
        "train", str(folder / "train.csv"), "--target", "label", "--epochs", "2",
        "--model", "sgd-log", "--workers", "2", "--dashboard-port", "0",
        "--save", str(folder / "model.dp"),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return folder


def use(command: str, folder: Path, data: str, *extra: str) -> tuple[int, str, str]:
    result = run(
        command, str(folder / "model.dp"), str(folder / data), "--allow-unsigned",
        "--workers", "2", "--dashboard-port", "0", *extra,
    )  # fmt: skip
    return result.returncode, result.stdout, result.stderr


def test_score_takes_the_columns_by_name(trained: Path) -> None:
    import daskpar as dp

    model = dp.load(trained / "model.dp", allow_unsigned=True)
    assert list(model.feature_names_in_) == FEATURES
    scores = {}
    for data in ("train.csv", "shuffled.csv", "shuffled.parquet"):
        code, out, err = use("score", trained, data, "--target", "label")
        assert code == 0, err
        scores[data] = next(ln for ln in out.splitlines() if ln.startswith("accuracy:"))
    # Before columns were taken by name, the shuffled file scored 0.5 to 0.75.
    assert float(scores["train.csv"].split()[-1]) > 0.95
    assert scores["shuffled.csv"] == scores["train.csv"] == scores["shuffled.parquet"]


def predictions(store: Path) -> np.ndarray:
    import zarr

    return np.asarray(zarr.open_group(store, mode="r")["predictions"][:])


def test_predict_by_name_without_a_target_writes_text_labels(trained: Path) -> None:
    written = {}
    for data in ("train.csv", "shuffled.csv", "unlabeled.csv"):
        out = trained / f"{data}.zarr"
        code, stdout, err = use("predict", trained, data, "--out", str(out))
        assert code == 0, err
        assert "Warning" not in err
        assert "wrote 12,000 predictions" in stdout
        written[data] = predictions(out)
    labels = labelled_frame()["label"].to_numpy()
    assert written["train.csv"].dtype == np.dtype("<U3")  # the longest class, "yes"
    assert set(np.unique(written["train.csv"])) == {"no", "yes"}
    assert np.mean(written["train.csv"] == labels) > 0.95
    np.testing.assert_array_equal(written["shuffled.csv"], written["train.csv"])
    np.testing.assert_array_equal(written["unlabeled.csv"], written["train.csv"])


def test_failed_predict_leaves_nothing_behind(trained: Path) -> None:
    out = trained / "missing.zarr"
    code, _, err = use("predict", trained, "missing.csv", "--out", str(out))
    assert code == 1
    assert "Traceback" not in err
    (line,) = err.strip().splitlines()
    assert "no column(s) ['c']" in line
    # A model the file does not fit: the zarr data has no column names to match.
    store = trained / "other.zarr"
    made = run("make-data", str(store), "--rows", "2000", "--features", "3", "--chunk-rows", "500")
    assert made.returncode == 0, made.stderr
    code, _, err = use("predict", trained, "other.zarr", "--out", str(out))
    assert code == 1, err
    assert "Traceback" not in err
    assert not out.exists()
    assert not [p for p in trained.iterdir() if p.name.startswith(".missing.zarr")]


def test_score_names_a_missing_column(trained: Path) -> None:
    code, _, err = use("score", trained, "missing.csv", "--target", "label")
    assert code == 1
    assert "Traceback" not in err
    assert "no column(s) ['c']" in err.strip().splitlines()[-1]
