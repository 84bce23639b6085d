"""JSON-lines tables through the table path (issue 21): ``read_json`` against pandas, its
blocks cut mid-line, keys in any order or absent, one dtype per column in every partition,
the refused inputs, ``read_path`` on ``.jsonl``, and a fit and the command line on one."""

from __future__ import annotations

import bz2
import gzip
import json
from pathlib import Path
from typing import Any

import dask
import numpy as np
import pandas as pd
import pytest
from daskpar_testing import cli, succeeded
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn.linear_model import SGDClassifier

import daskpar as dp
from daskpar._io import path_format, read_csv, read_json, read_path
from daskpar.errors import InputError, PartitionError

PROPERTY = settings(
    deadline=None, max_examples=25, suppress_health_check=[HealthCheck.function_scoped_fixture]
)

TEXT = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=6)


@st.composite
def json_tables(draw: st.DrawFn) -> tuple[list[dict[str, Any]], str]:
    """Records of a table: a label (always present), integers (some missing), floats,
    booleans and text (unicode, some missing); each line lists its keys in its own order and
    may leave out keys with no value. Returns the records and the file's text."""
    n = draw(st.integers(1, 40))
    rows = []
    for i in range(n):
        row: dict[str, Any] = {"label": draw(st.sampled_from(["yes", "no"]))}
        row["i"] = draw(st.one_of(st.none(), st.integers(-(10**6), 10**6))) if i else 7
        row["f"] = draw(st.floats(-1e6, 1e6, allow_nan=False, allow_subnormal=False))
        row["b"] = draw(st.booleans())
        row["t"] = draw(st.one_of(st.none(), TEXT)) if i else "first"
        keys = draw(st.permutations(list(row)))
        if i:
            keys = [k for k in keys if row[k] is not None or draw(st.booleans())]
        rows.append({k: row[k] for k in keys})
    end = draw(st.sampled_from(["\n", "\r\n"]))
    lines = [json.dumps(r, ensure_ascii=draw(st.booleans())) for r in rows]
    blank = draw(st.sampled_from(["", end]))  # blank lines between some records
    text = end.join(line + (blank if k % 3 == 1 else "") for k, line in enumerate(lines))
    if draw(st.booleans()):
        text += end  # or no newline after the last line
    return rows, text


@PROPERTY
@given(table=json_tables(), parts=st.integers(1, 12), jitter=st.integers(0, 40))
def test_read_json_equals_pandas_whatever_the_blocks(
    tmp_path_factory: pytest.TempPathFactory,
    table: tuple[list[dict[str, Any]], str],
    parts: int,
    jitter: int,
) -> None:
    """Every record once, in order, whatever the byte ranges cut: a block boundary inside a
    line neither drops nor repeats it; the columns by name, in order of first appearance.

    pandas as the reference, parsing floats exactly (``precise_float``, as ``json.loads``
    does) and keeping text as text (``dtype=False``: pandas' default turns "12" into 12)."""
    _, text = table
    path = tmp_path_factory.mktemp("json") / "t.jsonl"
    path.write_bytes(text.encode())
    # Up to a dozen blocks or so, cut anywhere.
    blocksize = max(1, len(text.encode()) // parts - jitter)
    expected = pd.read_json(path, lines=True, dtype=False, precise_float=True)
    expected_columns = list(expected.columns)
    with dask.config.set(scheduler="sync"):
        X, y = read_json(path, target="label", as_frame=True, blocksize=blocksize)
        assert X.npartitions >= 1
        frame = X.compute()
        assert list(frame.columns) == [c for c in expected_columns if c != "label"]
        assert list(X.columns) == list(frame.columns)
        # dask's meta is every partition's dtypes.
        for part in X.to_delayed():
            assert part.compute().dtypes.to_dict() == X.dtypes.to_dict()
        assert y.compute().tolist() == expected["label"].tolist()
        np.testing.assert_array_equal(frame["i"].to_numpy(), expected["i"].to_numpy(float))
        np.testing.assert_array_equal(frame["f"].to_numpy(), expected["f"].to_numpy(float))
        np.testing.assert_array_equal(frame["b"].to_numpy(), expected["b"].to_numpy(float))
        assert frame["t"].dtype == pd.StringDtype("pyarrow")
        texts = [None if pd.isna(v) else v for v in frame["t"]]
        assert texts == [None if pd.isna(v) else v for v in expected["t"]]
        # The arrays: the numeric features as float64, rows known.
        Xa, ya = read_json(
            path, target="label", columns=["i", "f", "b"], blocksize=blocksize, min_partitions=3
        )
        assert sum(Xa.chunks[0]) == len(expected)
        np.testing.assert_array_equal(Xa.compute(), expected[["i", "f", "b"]].to_numpy(dtype=float))
        assert ya.compute().tolist() == expected["label"].tolist()


def test_int_column_with_missing_values_in_a_later_block_has_one_dtype(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    lines = [{"n": k, "label": k % 2, "c": "x"} for k in range(50)]
    lines += [{"label": 1, "c": None}, {"n": None, "label": 0, "c": "y"}]
    path.write_text("".join(json.dumps(r) + "\n" for r in lines))
    X, y = read_json(path, target="label", as_frame=True, blocksize=200)
    assert X.npartitions > 3
    assert X.dtypes.to_dict() == {"n": np.dtype(np.float64), "c": pd.StringDtype("pyarrow")}
    for part in X.to_delayed():
        assert part.compute().dtypes.to_dict() == X.dtypes.to_dict()
    assert y.dtype == np.int64
    assert y.compute().tolist() == [r["label"] for r in lines]
    np.testing.assert_array_equal(X.compute()["n"].to_numpy()[-3:], [49.0, np.nan, np.nan])
    # The arrays: the same, the target int64.
    Xa, ya = read_json(path, target="label", columns=["n"], blocksize=200)
    assert ya.dtype == np.int64
    assert Xa.dtype == np.float64
    assert np.isnan(Xa.compute()[-2:, 0]).all()


def test_text_columns_have_read_csv_dtype(tmp_path: Path) -> None:
    frame = pd.DataFrame({"a": [1.5, 2.5], "colour": ["red", "blue"], "label": ["x", "y"]})
    frame.to_csv(tmp_path / "t.csv", index=False)
    frame.to_json(tmp_path / "t.jsonl", orient="records", lines=True)
    from_csv, y_csv = read_csv(tmp_path / "t.csv", target="label", as_frame=True)
    from_json, y_json = read_json(tmp_path / "t.jsonl", target="label", as_frame=True)
    assert from_json.dtypes.to_dict() == from_csv.dtypes.to_dict()
    assert y_json.dtype == y_csv.dtype
    pd.testing.assert_frame_equal(from_json.compute(), from_csv.compute())
    _, y = read_json(tmp_path / "t.jsonl", target="label", columns=["a"])
    assert y.dtype == object
    assert y.compute().tolist() == ["x", "y"]


@pytest.mark.parametrize(
    ("suffix", "opener"), [(".jsonl.gz", gzip.open), (".ndjson.bz2", bz2.open), (".json", open)]
)
def test_compressed_and_other_suffixes(tmp_path: Path, suffix: str, opener: Any) -> None:
    path = tmp_path / f"t{suffix}"
    records = [{"x": float(k), "label": k % 3} for k in range(3000)]
    with opener(path, "wt") as f:
        f.write("".join(json.dumps(r) + "\n" for r in records))
    assert path_format(path) == "json"
    X, y = read_path(path, target="label")
    assert len(X.chunks[0]) >= 2  # a compressed file's rows are split for the work after
    np.testing.assert_array_equal(X.compute()[:, 0], np.arange(3000.0))
    assert y.compute().tolist() == [k % 3 for k in range(3000)]
    frame, _ = read_path(path, target="label", as_frame=True)
    assert frame.compute()["x"].tolist() == list(np.arange(3000.0))


def test_read_path_on_jsonl(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    path.write_text('{"a": 1, "label": true}\n{"label": false, "a": 2.5}\n')
    assert path_format(path) == "json"
    X, y = read_path(path, target="label")
    assert X.compute().tolist() == [[1.0], [2.5]]
    assert y.dtype == bool
    assert y.compute().tolist() == [True, False]
    X, y = read_path(path, as_frame=True)
    assert list(X.columns) == ["a", "label"]
    assert y is None
    assert X.dtypes.to_dict() == {"a": np.float64, "label": np.float64}
    assert X.compute()["label"].tolist() == [1.0, 0.0]
    X, y = read_path(path, target="label", as_frame=True)
    assert y.dtype == bool
    assert y.compute().tolist() == [True, False]
    with pytest.raises(InputError, match="is a JSON lines table: pass target='COLUMN'"):
        read_path(path)
    (tmp_path / "t.xyz").write_text("")
    with pytest.raises(InputError, match=r"JSON lines \(\.jsonl"):
        read_path(tmp_path / "t.xyz")


# --------------------------------------------------------------------------------------------
# What is refused


def write(tmp_path: Path, text: str, name: str = "t.jsonl") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode())
    return path


def test_a_key_met_only_in_a_later_block_is_an_error(tmp_path: Path) -> None:
    lines = [json.dumps({"a": k, "label": 0}) for k in range(30)]
    lines.append(json.dumps({"a": 1, "label": 1, "late": 3}))
    path = write(tmp_path, "\n".join(lines) + "\n")
    message = r"the key\(s\) \['late'\] at line 31 of .*t\.jsonl.* are not columns"
    with pytest.raises(InputError, match=message):
        read_json(path, target="label", blocksize=100)
    X, _ = read_json(path, target="label", blocksize=100, as_frame=True)
    with pytest.raises(InputError, match=message):
        X.compute()
    # One block: the whole file gives the columns, and the key is read.
    X, _ = read_json(path, target="label", blocksize=None)
    assert X.shape == (31, 2)
    assert np.isnan(X.compute()[:30, 1]).all()


def test_a_missing_target_is_read_csvs_error(tmp_path: Path) -> None:
    path = write(tmp_path, '{"a": 1, "label": 0}\n{"a": 2}\n{"a": 3, "label": null}\n')
    csv = tmp_path / "t.csv"
    csv.write_text("a,label\n1,0\n2,\n3,\n")
    with pytest.raises(PartitionError) as from_csv:
        read_csv(csv, target="label")[1].compute()
    with pytest.raises(PartitionError, match=r"line 2 of .*t\.jsonl") as from_json:
        read_json(path, target="label")
    expected = str(from_csv.value).replace("read_csv", "read_json").split(" in ")[0]
    assert str(from_json.value).startswith(expected)
    X, y = read_json(path, target="label", as_frame=True)
    assert X.compute()["a"].tolist() == [1.0, 2.0, 3.0]  # the features are readable
    with pytest.raises(PartitionError, match="'label' has 2 missing value"):
        y.compute()


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ('{"a": 1, "y": 0}\n{"a": 2, "y": 1\n', r"line 2 of .*is not valid JSON"),
        ('{"a": 1, "y": 0}\n\n[1, 2]\n', r"line 3 of .*holds a JSON list, not an object"),
        ('[{"a": 1, "y": 0}]\n', "may hold one JSON document"),
        ('{\n  "a": 1,\n  "y": 0\n}\n', r"line 1 of .*may hold one JSON document"),
        ('{"a": {"b": 1}, "y": 0}\n', r"column 'a' holds a nested JSON dict.*json_normalize"),
        ('{"a": 1, "y": 0}\n{"a": [1], "y": 0}\n', r"'a' holds a nested JSON list at line 2"),
        ('{"a": 1, "y": 0}\n{"a": "1", "y": 0}\n', r"'a' holds numbers \(line 1.*and text"),
        ('{"a": true, "y": 0}\n{"a": 2, "y": 0}\n', r"'a' holds booleans .* and numbers"),
        ("", "empty: no line holds a JSON object"),
        ("\n\r\n  \n", "empty: no line holds a JSON object"),
    ],
)
def test_bad_lines_name_the_file_and_line(tmp_path: Path, text: str, match: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(InputError, match=match):
        read_json(path, target="y")


def test_a_bad_line_in_a_later_block_is_a_partition_error(tmp_path: Path) -> None:
    lines = [json.dumps({"a": k, "y": 0}) for k in range(40)]
    lines[33] = '{"a": 33, "y": 0,}'
    path = write(tmp_path, "\r\n".join(lines))
    with pytest.raises(PartitionError, match=r"line 34 of .*not valid JSON.*The line: b'\{\"a\""):
        read_json(path, target="y", blocksize=100)
    X, _ = read_json(path, target="y", blocksize=100, as_frame=True)
    with pytest.raises(PartitionError, match="line 34 of"):
        X.compute()


def test_types_that_change_after_the_first_block(tmp_path: Path) -> None:
    lines = [{"a": k, "c": None, "y": k % 2} for k in range(30)]
    lines.append({"a": 1.5, "c": "text", "y": 0.5})
    path = write(tmp_path, "".join(json.dumps(r) + "\n" for r in lines))
    # The arrays: the whole data types the columns; text is not a feature.
    with pytest.raises(InputError, match=r"'c' \(text\) of .* are not numeric"):
        read_json(path, target="y", blocksize=100)
    X, y = read_json(path, target="y", columns=["a"], blocksize=100)
    assert y.dtype == np.float64
    assert y.compute()[-1] == 0.5
    # The table: the first lines type the columns, and say so when a block differs.
    X, y = read_json(path, target="y", blocksize=100, as_frame=True)
    with pytest.raises(InputError, match=r"'c' holds no value in the first lines read.*text"):
        X.compute()
    _, y = read_json(path, target="y", columns=["a"], blocksize=100, as_frame=True)
    with pytest.raises(InputError, match="'y' holds integers in the first lines"):
        y.compute()


def test_other_errors(tmp_path: Path) -> None:
    path = write(tmp_path, '{"a": "x", "b": 1, "y": 0}\n')
    with pytest.raises(InputError, match=r"no target column 'z'.*\['a', 'b', 'y'\]"):
        read_json(path, target="z")
    with pytest.raises(InputError, match=r"'a' \(text\) .* are not numeric"):
        read_json(path, target="y")
    with pytest.raises(InputError, match="pass target='COLUMN'"):
        read_json(path)
    with pytest.raises(InputError, match="no such file"):
        read_json(tmp_path / "none.jsonl", target="y")
    with pytest.raises(InputError, match=r"no such file: 'memory://none/t\.jsonl'"):
        read_json("memory://none/t.jsonl", target="y")
    assert read_json(path, target="y", columns=["b"])[0].compute().tolist() == [[1.0]]


def test_several_files_by_name(tmp_path: Path) -> None:
    write(tmp_path, '{"a": 1, "b": 2, "y": 0}\n', "0.jsonl")
    write(tmp_path, '{"y": 1, "b": 4, "a": 3}\n', "1.jsonl")
    X, y = read_json(str(tmp_path / "*.jsonl"), target="y")
    assert X.compute().tolist() == [[1.0, 2.0], [3.0, 4.0]]
    assert y.compute().tolist() == [0, 1]


# --------------------------------------------------------------------------------------------
# Estimators on JSON lines


def test_fit_from_json_equals_fit_from_csv(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.normal(size=(4000, 3)), columns=["a", "b", "c"])
    frame["label"] = np.where(frame["a"] - frame["c"] > 0, "yes", "no")
    frame.to_csv(tmp_path / "t.csv", index=False)
    # The same rows, each line's keys in another order.
    with open(tmp_path / "t.jsonl", "w") as f:
        for k, row in enumerate(frame.to_dict(orient="records")):
            keys = list(row)[k % 4 :] + list(row)[: k % 4]
            f.write(json.dumps({key: row[key] for key in keys}) + "\n")
    X_csv, y_csv = read_csv(tmp_path / "t.csv", target="label", min_partitions=4)
    X_json, y_json = read_json(tmp_path / "t.jsonl", target="label", min_partitions=4)
    X_json = X_json.rechunk({0: X_csv.chunks[0]})
    y_json = y_json.rechunk({0: X_csv.chunks[0]})
    np.testing.assert_array_equal(X_json.compute(), X_csv.compute())
    with dask.config.set(scheduler="sync"):
        models = [
            dp.ParallelIncremental(SGDClassifier(random_state=0), epochs=2, random_state=0).fit(
                X, y
            )
            for X, y in ((X_csv, y_csv), (X_json, y_json))
        ]
    np.testing.assert_array_equal(models[0].estimator_.coef_, models[1].estimator_.coef_)
    np.testing.assert_array_equal(models[0].classes_, models[1].classes_)


def test_a_text_column_through_the_column_step(tmp_path: Path) -> None:
    from sklearn.compose import ColumnTransformer as SkColumnTransformer
    from sklearn.preprocessing import OneHotEncoder as SkOneHotEncoder

    records = [
        {"colour": ["red", "blue", "green"][k % 3], "n": float(k), "label": k % 2}
        for k in range(300)
    ]
    records[5].pop("colour")  # a missing key: a missing value, one of the categories
    path = write(tmp_path, "".join(json.dumps(r) + "\n" for r in records))
    X, _ = read_json(path, target="label", as_frame=True, blocksize=1000)
    assert X.npartitions > 1
    steps = [("one_hot", "colour"), ("numbers", "n")]

    def make(module: Any, encoder: Any) -> Any:
        return module(
            [
                (steps[0][0], encoder(sparse_output=False, handle_unknown="ignore"), [steps[0][1]]),
                (steps[1][0], "passthrough", [steps[1][1]]),
            ]
        )

    ours = make(dp.ColumnTransformer, dp.OneHotEncoder).fit(X)
    got = np.asarray(ours.transform(X).compute())
    frame = X.compute()
    frame["colour"] = frame["colour"].astype(object).where(frame["colour"].notna(), None)
    expected = make(SkColumnTransformer, SkOneHotEncoder).fit_transform(frame)
    np.testing.assert_array_equal(got, expected)


@pytest.mark.slow
def test_train_on_a_jsonl_file_with_a_text_column(tmp_path: Path, scheduler_address: str) -> None:
    rng = np.random.default_rng(3)
    with open(tmp_path / "data.jsonl", "w") as f:
        for k in range(2000):
            x = float(rng.normal())
            colour = ["red", "blue"][k % 2]
            label = "yes" if x + (colour == "red") > 0.5 else "no"
            row = {"colour": colour, "x": x, "label": label}
            f.write(json.dumps(dict(reversed(row.items())) if k % 2 else row) + "\n")
    result = succeeded(
        cli(
            "train", str(tmp_path / "data.jsonl"), "--target", "label", "--epochs", "2",
            "--model", "sgd-log", "--save", str(tmp_path / "model.dp"), scheduler=scheduler_address,
        )
    )  # fmt: skip
    assert "colour" in result.stdout
    assert "one-hot" in result.stdout
    model = dp.load(tmp_path / "model.dp", allow_unsigned=True)
    assert list(model.feature_names_in_) == ["colour", "x"]
