"""Tables by name: the readers' ``as_frame=True``, and the command line on tables (issue 20,
parts 5 and 6): score and predict taking a file's columns by name, and train / search on a
real table with text columns (palmerpenguins), each column's encoding picked and printed.

The commands run in this process (``invoke``) with ``--scheduler`` of the module's cluster
(``scheduler_address``); one test runs the installed console script.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import Result
from daskpar_testing import NO_KEYS, cli, invoke, one_line_error, run, succeeded

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
# The command line: a table of numbers (the arrays' path) taken by name


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory, scheduler_address: str) -> Path:
    """A model trained from a CSV file, and that file's rows written in other ways."""
    folder = tmp_path_factory.mktemp("tables")
    frame = labelled_frame()
    frame.to_csv(folder / "train.csv", index=False)
    shuffled = frame[["d", "label", "c", "a", "b"]]
    shuffled.to_csv(folder / "shuffled.csv", index=False)
    shuffled.to_parquet(folder / "shuffled.parquet", row_group_size=3000)
    frame[["c", "d", "b", "a"]].to_csv(folder / "unlabeled.csv", index=False)
    frame[["d", "a", "b", "label"]].to_csv(folder / "missing.csv", index=False)
    result = succeeded(
        cli(
            "train", str(folder / "train.csv"), "--target", "label", "--epochs", "2",
            "--model", "sgd-log", "--save", str(folder / "model.dp"), scheduler=scheduler_address,
        )
    )  # fmt: skip
    # A table of numbers takes the arrays' path, as before: no column step.
    assert "encodings" not in result.stdout
    return folder


def use(command: str, folder: Path, data: str, *extra: str, scheduler: str) -> Result:
    return cli(
        command, str(folder / "model.dp"), str(folder / data), "--allow-unsigned", *extra,
        scheduler=scheduler,
    )  # fmt: skip


def test_score_takes_the_columns_by_name(trained: Path, scheduler_address: str) -> None:
    import daskpar as dp

    model = dp.load(trained / "model.dp", allow_unsigned=True)
    assert list(model.feature_names_in_) == FEATURES
    scores = {}
    for data in ("train.csv", "shuffled.csv", "shuffled.parquet"):
        result = succeeded(
            use("score", trained, data, "--target", "label", scheduler=scheduler_address)
        )
        scores[data] = next(ln for ln in result.stdout.splitlines() if ln.startswith("accuracy:"))
    # Before columns were taken by name, the shuffled file scored 0.5 to 0.75.
    assert float(scores["train.csv"].split()[-1]) > 0.95
    assert scores["shuffled.csv"] == scores["train.csv"] == scores["shuffled.parquet"]


def predictions(store: Path) -> np.ndarray:
    import zarr

    array: Any = zarr.open_group(store, mode="r")["predictions"]
    return np.asarray(array[:])


def test_predict_by_name_without_a_target_writes_text_labels(
    trained: Path, scheduler_address: str
) -> None:
    written = {}
    for data in ("train.csv", "shuffled.csv", "unlabeled.csv"):
        out = trained / f"{data}.zarr"
        result = succeeded(
            use("predict", trained, data, "--out", str(out), scheduler=scheduler_address)
        )
        assert "Warning" not in result.stderr
        assert "wrote 12,000 predictions" in result.stdout
        written[data] = predictions(out)
    labels = labelled_frame()["label"].to_numpy()
    assert written["train.csv"].dtype == np.dtype("<U3")  # the longest class, "yes"
    assert set(np.unique(written["train.csv"])) == {"no", "yes"}
    assert np.mean(written["train.csv"] == labels) > 0.95
    np.testing.assert_array_equal(written["shuffled.csv"], written["train.csv"])
    np.testing.assert_array_equal(written["unlabeled.csv"], written["train.csv"])


def test_failed_predict_leaves_nothing_behind(trained: Path, scheduler_address: str) -> None:
    out = trained / "missing.zarr"
    line = one_line_error(
        use("predict", trained, "missing.csv", "--out", str(out), scheduler=scheduler_address)
    )
    assert "no column(s) ['c']" in line
    # A model the file does not fit: the zarr data has no column names to match.
    store = trained / "other.zarr"
    made = invoke(
        "make-data", str(store), "--rows", "2000", "--features", "3", "--chunk-rows", "500"
    )
    assert made.exit_code == 0, made.output
    one_line_error(
        use("predict", trained, "other.zarr", "--out", str(out), scheduler=scheduler_address)
    )
    assert not out.exists()
    assert not [p for p in trained.iterdir() if p.name.startswith(".missing.zarr")]


def test_score_names_a_missing_column(trained: Path, scheduler_address: str) -> None:
    line = one_line_error(
        use("score", trained, "missing.csv", "--target", "label", scheduler=scheduler_address)
    )
    assert "no column(s) ['c']" in line


# --------------------------------------------------------------------------------------------
# The command line on a real table with text columns: palmerpenguins

#: The penguins' measurements: numbers, missing in two rows of the table as shipped.
MEASURES = ["bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g"]


def penguins() -> pd.DataFrame:
    """palmerpenguins' table: species (the target, text), island and sex (text, sex missing
    in some rows), four measurements and the year; the two rows without measurements
    dropped (daskpar's models need numbers: see the test of the table as shipped)."""
    from palmerpenguins import load_penguins

    return load_penguins().dropna(subset=MEASURES).reset_index(drop=True)


@pytest.fixture(scope="module")
def penguin_files(tmp_path_factory: pytest.TempPathFactory, scheduler_address: str) -> Path:
    """The penguins as partitioned Parquet (two files of several row groups) and CSV, in
    other column orders and without the target; a model trained on the Parquet folder."""
    folder = tmp_path_factory.mktemp("penguins")
    frame = penguins()
    (folder / "penguins").mkdir()
    half = len(frame) // 2
    frame.iloc[:half].to_parquet(folder / "penguins" / "0.parquet", row_group_size=50)
    frame.iloc[half:].to_parquet(folder / "penguins" / "1.parquet", row_group_size=50)
    frame.to_csv(folder / "penguins.csv", index=False)
    reordered = frame[[*reversed(frame.columns)]]
    reordered.to_csv(folder / "reordered.csv", index=False)
    reordered.to_parquet(folder / "reordered.parquet", row_group_size=100)
    frame.drop(columns="species").sample(frac=1.0, axis=1, random_state=1).to_csv(
        folder / "unlabeled.csv", index=False
    )
    result = succeeded(
        cli(
            "train", str(folder / "penguins"), "--target", "species", "--model", "sgd-log",
            "--epochs", "5", "--save", str(folder / "model.dp"), scheduler=scheduler_address,
        )
    )  # fmt: skip
    (folder / "train.out").write_text(result.stdout)
    return folder


def encodings(stdout: str) -> dict[str, tuple[str, int]]:
    """The printed encodings: column -> (encoding, categories)."""
    lines = stdout.splitlines()
    start = lines.index(next(ln for ln in lines if ln.strip().startswith("column  encoding")))
    out = {}
    for line in lines[start + 1 :]:
        if not line.startswith("  "):
            break
        column, encoding, n, *_ = line.split()
        out[column] = (encoding, int(n.replace(",", "")))
    return out


def test_train_picks_and_prints_each_columns_encoding(penguin_files: Path) -> None:
    out = (penguin_files / "train.out").read_text()
    # sex: female, male and missing.
    assert encodings(out) == {"island": ("one-hot", 3), "sex": ("one-hot", 3)}
    sex = next(ln for ln in out.splitlines() if ln.strip().startswith("sex"))
    assert sex.endswith("(missing values are one)")
    assert f"numeric columns, as they are (5): {', '.join(MEASURES)}, year" in out
    assert "342 rows x 11 encoded features" in out
    lines = out.splitlines()
    table = lines[lines.index(next(ln for ln in lines if ln.strip().startswith("epoch"))) + 1 :]
    accuracies = [
        float(row.split()[-1]) for row in table if row.split()[:1] and row.split()[0].isdigit()
    ]
    assert len(accuracies) == 5
    assert accuracies[-1] > 0.9  # three species that the measurements separate well


def test_the_saved_model_is_the_whole_pipeline(penguin_files: Path) -> None:
    import daskpar as dp

    model = dp.load(penguin_files / "model.dp", allow_unsigned=True)
    step = model.steps[0][1]
    assert isinstance(step, dp.ColumnTransformer)
    assert list(model.feature_names_in_) == [c for c in penguins().columns if c != "species"]
    assert isinstance(step.named_transformers_["one_hot"], dp.OneHotEncoder)
    assert list(model.classes_) == ["Adelie", "Chinstrap", "Gentoo"]
    # In memory, on a pandas table in another column order: scikit-learn's own path.
    frame = penguins()
    assert model.score(frame[frame.columns[::-1]].drop(columns="species"), frame["species"]) > 0.9


def score_lines(result: Result) -> list[str]:
    return [ln for ln in result.stdout.splitlines() if ln.startswith(("accuracy:", "log_loss:"))]


def test_score_with_reordered_columns_equals_the_original_order(
    penguin_files: Path, scheduler_address: str
) -> None:
    scores = {
        data: score_lines(
            succeeded(
                use(
                    "score", penguin_files, data, "--target", "species", scheduler=scheduler_address
                )
            )
        )
        for data in ("penguins", "penguins.csv", "reordered.csv", "reordered.parquet")
    }
    assert len(scores["penguins"]) == 2  # accuracy and log-loss
    assert float(scores["penguins"][0].split()[-1]) > 0.9
    assert scores["reordered.csv"] == scores["penguins.csv"] == scores["penguins"]
    assert scores["reordered.parquet"] == scores["penguins"]


def test_predict_writes_text_labels_to_parquet_and_csv(
    penguin_files: Path, scheduler_address: str
) -> None:
    import daskpar as dp

    frame = penguins()
    expected = dp.load(penguin_files / "model.dp", allow_unsigned=True).predict(
        frame.drop(columns="species")
    )
    written = {}
    for data, out in [
        ("penguins", "p.parquet"),
        ("penguins.csv", "p.csv"),
        ("unlabeled.csv", "u.csv"),  # no target column; the features in another order
        ("reordered.parquet", "r.zarr"),
    ]:
        result = succeeded(
            use(
                "predict",
                penguin_files,
                data,
                "--out",
                str(penguin_files / out),
                scheduler=scheduler_address,
            )
        )
        assert f"wrote {len(frame):,} predictions to {penguin_files / out}" in result.stdout
    parquet = pd.read_parquet(penguin_files / "p.parquet")
    assert list(parquet.columns) == ["predictions"]
    assert pd.api.types.is_string_dtype(parquet["predictions"])
    written["parquet"] = parquet["predictions"].tolist()
    for name in ("p.csv", "u.csv"):
        csv = pd.read_csv(penguin_files / name)
        assert list(csv.columns) == ["predictions"]
        written[name] = csv["predictions"].tolist()
    written["zarr"] = predictions(penguin_files / "r.zarr").tolist()
    for got in written.values():
        assert got == list(expected)
    assert set(expected) == {"Adelie", "Chinstrap", "Gentoo"}


def test_predict_overwrites_only_when_asked_and_fails_without_leftovers(
    penguin_files: Path, scheduler_address: str
) -> None:
    out = penguin_files / "again.csv"
    out.write_text("not mine\n")
    line = one_line_error(
        use(
            "predict", penguin_files, "penguins.csv", "--out", str(out), scheduler=scheduler_address
        )
    )
    assert "pass --overwrite" in line
    # A value that is not a number in a numeric column: the column step's tasks fail.
    frame = penguins()
    frame["year"] = frame["year"].astype(str)
    frame.loc[300, "year"] = "unknown"
    frame.to_csv(penguin_files / "bad.csv", index=False)
    for name in ("bad.csv", "bad.parquet", "bad.zarr"):
        target = penguin_files / name if name != "bad.csv" else out
        one_line_error(
            use(
                "predict", penguin_files, "bad.csv", "--out", str(target), "--overwrite",
                scheduler=scheduler_address,
            )
        )  # fmt: skip
    assert out.read_text() == "not mine\n"
    assert not (penguin_files / "bad.parquet").exists()
    assert not (penguin_files / "bad.zarr").exists()
    assert not [p for p in penguin_files.iterdir() if ".tmp-" in p.name]


def test_encodings_forced_and_threshold_on_csv(tmp_path: Path, scheduler_address: str) -> None:
    penguins().to_csv(tmp_path / "penguins.csv", index=False)
    result = succeeded(
        cli(
            "train", str(tmp_path / "penguins.csv"), "--target", "species", "--epochs", "1",
            "--max-one-hot-categories", "2", "--one-hot", "year", "--ordinal", "island",
            "--save", str(tmp_path / "model.dp"), scheduler=scheduler_address,
        )
    )  # fmt: skip
    assert encodings(result.stdout) == {
        "island": ("ordinal", 3),
        "sex": ("ordinal", 3),  # 3 categories > --max-one-hot-categories 2
        "year": ("one-hot", 3),
    }
    assert "(forced)" in next(
        ln for ln in result.stdout.splitlines() if ln.strip().startswith("year")
    )
    # 1 + 1 + 3 encoded columns and 4 measurements; the CSV's one block made two.
    assert "x 9 encoded features" in result.stdout
    assert "splitting it into blocks" in result.stdout


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        (
            ["--one-hot", "colour"],
            "has no feature column 'colour'. Its feature columns are: island,",
        ),
        (["--ordinal", "species"], "'species' is the target column"),
        (["--one-hot", "sex", "--ordinal", "sex"], "named in both --one-hot and --ordinal"),
    ],
)
def test_bad_column_names_are_click_errors(
    tmp_path: Path, options: list[str], expected: str
) -> None:
    penguins().to_csv(tmp_path / "penguins.csv", index=False)
    result = invoke("train", str(tmp_path / "penguins.csv"), "--target", "species", *options)
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert expected in result.stderr
    if "colour" in options:
        assert (
            "bill_length_mm, bill_depth_mm, flipper_length_mm, body_mass_g, sex, year"
            in result.stderr
        )


def test_the_table_as_shipped_names_its_missing_numbers(
    tmp_path: Path, scheduler_address: str
) -> None:
    from palmerpenguins import load_penguins

    load_penguins().to_parquet(tmp_path / "penguins.parquet", row_group_size=100)
    line = one_line_error(
        cli(
            "train",
            str(tmp_path / "penguins.parquet"),
            "--target",
            "species",
            scheduler=scheduler_address,
        )
    )
    assert "numeric column(s) 'bill_length_mm' (2 of 344 rows)" in line
    assert "'year'" not in line


def test_search_on_a_table_saves_the_column_step(tmp_path: Path, scheduler_address: str) -> None:
    import daskpar as dp

    penguins().to_csv(tmp_path / "penguins.csv", index=False)
    result = succeeded(
        cli(
            "search", str(tmp_path / "penguins.csv"), "--target", "species", "--model", "sgd-log",
            "--grid", '{"alpha": [1e-4, 1e-2]}', "--cv", "2", "--epochs", "2",
            "--save", str(tmp_path / "best.dp"), scheduler=scheduler_address,
        )
    )  # fmt: skip
    assert encodings(result.stdout) == {"island": ("one-hot", 3), "sex": ("one-hot", 3)}
    assert "searching 2 candidates x 2 folds on 342 rows x 11 features" in result.stdout
    model = dp.load(tmp_path / "best.dp", allow_unsigned=True)
    assert [type(s).__name__ for _, s in model.steps] == [
        "ColumnTransformer",
        "StandardScaler",
        "ParallelIncremental",
    ]


@pytest.mark.slow
def test_predict_through_the_installed_command(penguin_files: Path) -> None:
    """The console script, as users run it, on a file without the target column."""
    out = penguin_files / "script.csv"
    result = run(
        "predict", str(penguin_files / "model.dp"), str(penguin_files / "unlabeled.csv"),
        "--out", str(out), "--allow-unsigned", "--workers", "1", "--dashboard-port", "0",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert set(pd.read_csv(out)["predictions"]) <= {"Adelie", "Chinstrap", "Gentoo"}


@pytest.mark.slow
def test_the_held_out_split_is_reproducible_with_the_seed(
    tmp_path: Path, scheduler_address: str
) -> None:
    """The split is daskpar.train_test_split of the encoded blocks (a block per partition of
    the table): the same seed, the same held-out rows and scores."""
    penguins().to_parquet(tmp_path / "penguins.parquet", row_group_size=40)

    def validation(seed: str) -> list[str]:
        result = succeeded(
            cli(
                "train", str(tmp_path / "penguins.parquet"), "--target", "species",
                "--model", "sgd-log", "--epochs", "2", "--seed", seed, scheduler=scheduler_address,
            )
        )  # fmt: skip
        lines = result.stdout.splitlines()
        held_out = next(ln for ln in lines if "held out:" in ln)
        table = lines[lines.index(next(ln for ln in lines if ln.startswith("epoch"))) + 1 :]
        return [held_out.split("held out:")[1]] + [row.split()[-1] for row in table if row.strip()]

    first = validation("3")
    assert first[0].strip() == "35 rows"  # ceil(0.1 * 342), as for arrays
    assert validation("3") == first


def test_a_model_of_a_table_refuses_arrays(penguin_files: Path, tmp_path: Path) -> None:
    store = tmp_path / "arrays.zarr"
    made = invoke("make-data", str(store), "--rows", "1000", "--features", "3")
    assert made.exit_code == 0, made.output
    model = str(penguin_files / "model.dp")
    for command in (
        ["score", model, str(store), "--allow-unsigned"],
        ["predict", model, str(store), "--allow-unsigned", "--out", str(tmp_path / "p.csv")],
    ):
        line = one_line_error(invoke(*command, env=NO_KEYS))
        assert "the model was trained on a table, and takes its columns by name" in line
        assert "island" in line
    assert not (tmp_path / "p.csv").exists()
