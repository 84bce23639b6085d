"""Property tests of the ``daskpar`` command line over generated arguments.

Every command (make-data, train, search, demo, score, predict, certs, audit verify and show)
is run in this process with click's ``CliRunner`` on tiny files, with option values drawn in
and out of their ranges, and paths that exist or not, are files, folders, symbolic links
(dangling or not), empty files, or files of another format. The commands that need a
cluster get ``--scheduler`` of one in-process cluster, shared by the module (as in
``test_bad_input_table.py``), so that no example starts one of its own.

The property: the command's right output (exit status 0, and what it writes is there), or
one clear line (exit status 1 or 2, an ``Error:`` line after click's usage hint at most, no
traceback); and after a failure, nothing new in the folder it was to write into.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dask
import pandas as pd
import pytest
from click.testing import CliRunner, Result
from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis import strategies as st
from sklearn.linear_model import SGDClassifier

import daskpar as dp
from daskpar import persist
from daskpar._cli import main

PROPERTY = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
CI = settings.get_current_profile_name() == "ci"
#: Commands that fail before any work: cheap. Commands that train or score: a few examples.
CHEAP = settings(PROPERTY, max_examples=25) if CI else PROPERTY
COSTLY = settings(PROPERTY, max_examples=8) if CI else settings(PROPERTY, max_examples=60)
#: Properties that fail for a known bug (strict xfails): stop at the first failure, unshrunk.
KNOWN_BUG = settings(PROPERTY, max_examples=5, phases=[Phase.explicit, Phase.generate])

#: No model key from the environment of whoever runs the tests: the model file is unsigned.
NO_KEYS = {
    name: None
    for name in (
        persist.KEY_ENV,
        persist.KEY_FILE_ENV,
        persist.ENCRYPTION_KEY_ENV,
        persist.ENCRYPTION_KEY_FILE_ENV,
        "DASK_SCHEDULER_ADDRESS",
    )
}


@pytest.fixture(scope="module")
def scheduler() -> Iterator[str]:
    """A cluster in this process, for the commands that get as far as connecting to one."""
    from distributed import LocalCluster

    with LocalCluster(
        n_workers=1, threads_per_worker=1, processes=False, dashboard_address="127.0.0.1:0"
    ) as cluster:
        yield cluster.scheduler_address


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Inputs, read only: tiny data in each format, files that are not what they say, links."""
    tmp = tmp_path_factory.mktemp("inputs")
    X, y = dp.make_classification(120, 4, chunks=40, random_state=0)
    dp.write_zarr(tmp / "d.zarr", X, y)
    frame = pd.DataFrame(X.compute(), columns=["a", "b", "c", "d"])
    frame["label"] = y.compute()
    frame.to_csv(tmp / "d.csv", index=False)
    frame.to_parquet(tmp / "d.parquet")
    (tmp / "empty.csv").write_text("")
    (tmp / "empty.parquet").write_bytes(b"")
    (tmp / "header.csv").write_text("a,b,c,d,label\n")
    (tmp / "junk.parquet").write_text("not parquet\n")
    (tmp / "d.json").write_text("{}")
    (tmp / "folder").mkdir()
    (tmp / "link.zarr").symlink_to(tmp / "d.zarr")
    (tmp / "dangling.zarr").symlink_to(tmp / "gone.zarr")
    model = dp.ParallelIncremental(SGDClassifier(random_state=0), random_state=0)
    with dask.config.set(scheduler="sync"):
        model.fit(*dp.read_zarr(tmp / "d.zarr"))
    dp.save(model, tmp / "model.dp", key=None)
    (tmp / "empty.dp").write_bytes(b"")
    (tmp / "junk.dp").write_text("not a model\n")
    (tmp / "empty.log").write_text("")
    (tmp / "junk.log").write_text("not json\n{\n")
    return {p.name: str(p) for p in tmp.iterdir()} | {"missing": str(tmp / "missing.zarr")}


#: DATA as given to train, search, score and predict: what it is -> needs --target?
DATA = {
    "d.zarr": False,
    "link.zarr": False,
    "d.csv": True,
    "d.parquet": True,
    # None: never right.
    "empty.csv": None,
    "header.csv": None,
    "empty.parquet": None,
    "junk.parquet": None,
    "d.json": None,
    "folder": None,
    "dangling.zarr": None,
    "missing": None,
}

#: Where a command is told to write: ``new`` and ``none`` are right, the others wrong.
OUTPUTS = ["none", "new", "missing-folder", "a-folder", "a-file", "dangling-link", "link"]


def output_path(kind: str, folder: Path, name: str) -> str | None:
    """A path of ``kind`` for an output called ``name``, set up in ``folder``."""
    path = folder / name
    if kind == "none":
        return None
    if kind == "missing-folder":
        return str(folder / "nowhere" / name)
    if kind == "a-folder":
        path.mkdir()
    elif kind == "a-file":
        path.write_text("a file of the user\n")
    elif kind == "dangling-link":
        path.symlink_to(folder / f"elsewhere-{name}")
    elif kind == "link":
        (folder / f"target-{name}").write_text("the link's target\n")
        path.symlink_to(folder / f"target-{name}")
    return str(path)


def listing(folder: Path) -> dict[str, bytes | None]:
    """Every path under ``folder`` (links not followed), with a file's bytes."""
    out: dict[str, bytes | None] = {}
    for dirpath, dirs, files in os.walk(folder):
        for name in dirs + files:
            p = Path(dirpath, name)
            out[str(p.relative_to(folder))] = (
                p.read_bytes() if p.is_file() and not p.is_symlink() else None
            )
    return out


def invoke(args: list[str]) -> Result:
    return CliRunner().invoke(main, args, env=NO_KEYS)


def assert_one_line_error(result: Result) -> str:
    """Exit status 1 or 2, no traceback, and one ``Error:`` line on stderr; click adds its
    two-line usage hint before it for status 2."""
    assert result.exit_code in (1, 2), (result.exit_code, result.output, result.exception)
    assert isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert lines, result.output
    *before, error = lines
    assert error.startswith("Error: "), lines
    assert all(line.startswith(("Usage: ", "Try ")) for line in before), lines
    return error


def check(
    result: Result, right: bool, folder: Path, before: dict[str, bytes | None]
) -> dict[str, bytes | None]:
    """The property: success exactly when every value is ``right``; a failure is one clear
    line and leaves ``folder`` as it was. Returns what the command added to ``folder``."""
    after = listing(folder)
    if right:
        assert result.exit_code == 0, (result.output, result.exception)
        assert all(after.get(k, b"") == v for k, v in before.items() if v is not None)
        return {k: v for k, v in after.items() if k not in before}
    assert_one_line_error(result)
    assert after == before, (
        f"left behind: {sorted(set(after) - set(before))}; "
        f"changed: {sorted(k for k in before if after.get(k) != before[k])}"
    )
    return {}


def option(name: str, value: Any) -> list[str]:
    return [] if value is None else [name, str(value)]


# --------------------------------------------------------------------------------------------
# make-data, certs, audit, demo: no cluster, or refused before one starts


@CHEAP
@given(
    rows=st.integers(-1, 40),
    features=st.integers(0, 5),
    chunk_rows=st.sampled_from([-1, 0, 1, 7, 100]),
    classes=st.integers(0, 4),
    out=st.sampled_from([k for k in OUTPUTS if k != "none"]),
    overwrite=st.booleans(),
)
# Found: OUT in a folder that does not exist; make-data makes it (as write_zarr does).
@example(rows=1, features=2, chunk_rows=1, classes=2, out="missing-folder", overwrite=False)
def test_make_data(
    rows: int, features: int, chunk_rows: int, classes: int, out: str, overwrite: bool
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        path = output_path(out, folder, "out.zarr")
        assert path is not None
        before = listing(folder)
        args = ["make-data", path, "--rows", str(rows), "--features", str(features)]
        args += ["--chunk-rows", str(chunk_rows), "--classes", str(classes)]
        result = invoke(args + (["--overwrite"] if overwrite else []))
        in_range = rows >= 1 and features >= 2 and chunk_rows >= 1 and classes >= 2
        # OUT must not exist, but its folders may not either: make-data makes them.
        exists = out in ("a-file", "link", "dangling-link") or (out == "a-folder" and not overwrite)
        if not in_range or exists:
            check(result, False, folder, before)
        elif result.exit_code == 0:
            # What was asked for, or a clear refusal (more classes than the rows can hold).
            X, y = dp.read_zarr(path)
            assert X.shape == (rows, features), result.output
            assert y.shape == (rows,)
            assert f"wrote {rows:,} x {features} to {path}" in result.output
        else:
            check(result, False, folder, before)


@CHEAP
@given(
    directory=st.sampled_from(["new", "a-folder", "a-file", "missing-folder", "link"]),
    days=st.sampled_from([-1, 0, 1, 400]),
    host=st.sampled_from([None, "127.0.0.1", "node-1.example.org", "::1", "not a host!", ""]),
    config_dir=st.sampled_from([None, "/certs", "certs", ""]),
)
@example(directory="missing-folder", days=1, host="::1", config_dir="/certs")
def test_certs(directory: str, days: int, host: str | None, config_dir: str | None) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        path = output_path(directory, folder, "certs")
        assert path is not None
        before = listing(folder)
        args = ["certs", path, "--days", str(days), *option("--host", host)]
        result = invoke(args + option("--config-dir", config_dir))
        right = (
            days >= 1
            and host in (None, "127.0.0.1", "node-1.example.org", "::1")
            and (config_dir is None or config_dir.startswith("/"))
            and directory in ("new", "a-folder", "missing-folder")
        )
        added = check(result, right, folder, before)
        if right:
            assert any(name.endswith("ca.pem") for name in added), sorted(added)


@CHEAP
@given(
    command=st.sampled_from(["verify", "show"]),
    log=st.sampled_from(["empty.log", "junk.log", "folder", "missing", "d.csv"]),
    head=st.sampled_from([None, "", "0" * 64, "nothex"]),
)
def test_audit(command: str, log: str, head: str | None, data: dict[str, str]) -> None:
    args = ["audit", command, data[log]]
    if command == "verify":
        args += option("--head", head)
    result = invoke(args)
    if result.exit_code != 0:
        assert_one_line_error(result)
    else:  # an empty log is a chain of no records
        assert log == "empty.log", result.output
        assert head in (None,) or command == "show", result.output


@CHEAP
@given(
    rows=st.sampled_from([0, 999, 1000]),
    features=st.sampled_from([1, 2]),
    chunk_rows=st.sampled_from([99, 100]),
    epochs=st.sampled_from([0, 1]),
    data_dir=st.sampled_from(["new", "a-file", "missing-folder"]),
    report=st.sampled_from(["none", "a-folder", "missing-folder", "a-file"]),
)
def test_demo_refuses_bad_values_before_any_work(
    rows: int, features: int, chunk_rows: int, epochs: int, data_dir: str, report: str
) -> None:
    """The demo's arguments out of range: refused before it writes or trains anything (a
    demo whose values are all right is test_cli.py's, on a cluster of its own)."""
    bad = rows < 1000 or features < 2 or chunk_rows < 100 or epochs < 1 or data_dir == "a-file"
    bad = bad or report != "none"
    if not bad:
        report = "a-file"  # a file that is not a report: refused before any work too
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        args = ["demo", "--rows", str(rows), "--features", str(features)]
        args += ["--chunk-rows", str(chunk_rows), "--epochs", str(epochs)]
        args += option("--data-dir", output_path(data_dir, folder, "data"))
        args += option("--report", output_path(report, folder, "demo.html"))
        before = listing(folder)
        check(invoke([*args, "--scheduler", "tcp://127.0.0.1:1"]), False, folder, before)


# --------------------------------------------------------------------------------------------
# train, search, score, predict: on the module's cluster


@st.composite
def data_and_target(draw: st.DrawFn) -> tuple[str, str | None, bool]:
    """DATA, a --target for it (right, wrong or none), and whether the two are right."""
    name = draw(st.sampled_from(sorted(DATA)))
    target = draw(st.sampled_from([None, "label", "nope"]))
    needs = DATA[name]
    # --target is for tables only: zarr data ignores it, as documented.
    right = needs is not None and (target == "label" if needs else True)
    return name, target, right


@COSTLY
@given(
    data_target=data_and_target(),
    epochs=st.sampled_from([0, 1]),
    split_every=st.sampled_from([1, 2]),
    test_size=st.sampled_from([0.0, 0.25, 1.0]),
    model=st.sampled_from(["gaussian-nb", "sgd-log", "nope"]),
    save=st.sampled_from(OUTPUTS),
    report=st.sampled_from(["none", "missing-folder", "a-folder", "a-file"]),
    checkpoint=st.sampled_from(["none", "new", "a-file", "missing-folder"]),
)
# The right values, once in every run: the model is saved, nothing else left.
@example(
    data_target=("d.parquet", "label", True), epochs=1, split_every=2, test_size=0.25,
    model="gaussian-nb", save="new", report="none", checkpoint="new",
)  # fmt: skip
def test_train(
    data_target: tuple[str, str | None, bool],
    epochs: int,
    split_every: int,
    test_size: float,
    model: str,
    save: str,
    report: str,
    checkpoint: str,
    data: dict[str, str],
    scheduler: str,
) -> None:
    name, target, right = data_target
    right = right and epochs >= 1 and split_every >= 2 and 0 < test_size < 1 and model != "nope"
    right = right and save in ("none", "new") and report == "none"
    right = right and checkpoint in ("none", "new")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        args = ["train", data[name], "--epochs", str(epochs), "--model", model]
        args += ["--split-every", str(split_every), "--test-size", str(test_size)]
        args += option("--target", target)
        args += option("--save", output_path(save, folder, "model.dp"))
        args += option("--report", output_path(report, folder, "report.html"))
        args += option("--checkpoint", output_path(checkpoint, folder, "ckpt"))
        before = listing(folder)
        added = check(invoke([*args, "--scheduler", scheduler]), right, folder, before)
    if right and save == "new":
        assert "model.dp" in added


@COSTLY
@given(
    data_target=data_and_target(),
    grid=st.sampled_from(
        ['{"alpha": [0.001, 0.01]}', "{oops", "{}", '{"alpha": 1}', '{"nope": [1]}', "[1]"]
    ),
    cv=st.sampled_from([1, 2, 3]),
    scoring=st.sampled_from([None, "accuracy", "nope"]),
)
@example(data_target=("d.zarr", None, True), grid='{"alpha": [0.001, 0.01]}', cv=2, scoring=None)
def test_search(
    data_target: tuple[str, str | None, bool],
    grid: str,
    cv: int,
    scoring: str | None,
    data: dict[str, str],
    scheduler: str,
) -> None:
    name, target, right = data_target
    right = right and grid == '{"alpha": [0.001, 0.01]}' and cv >= 2 and scoring != "nope"
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        args = ["search", data[name], "--grid", grid, "--cv", str(cv), "--epochs", "1"]
        args += ["--model", "sgd-log", *option("--target", target), *option("--scoring", scoring)]
        before = listing(folder)
        result = invoke([*args, "--scheduler", scheduler])
        check(result, right, folder, before)
    if right:
        assert "best: alpha=" in result.output


@COSTLY
@given(
    command=st.sampled_from(["score", "predict"]),
    model=st.sampled_from(["model.dp", "empty.dp", "junk.dp", "folder", "missing"]),
    data_target=data_and_target(),
    out=st.sampled_from(OUTPUTS),
    overwrite=st.booleans(),
    allow_unsigned=st.booleans(),
)
@example(
    command="predict", model="model.dp", data_target=("d.csv", "label", True), out="new",
    overwrite=False, allow_unsigned=True,
)  # fmt: skip
@example(
    command="score", model="model.dp", data_target=("link.zarr", None, True), out="none",
    overwrite=False, allow_unsigned=True,
)  # fmt: skip
# Found (deep profile): --target with zarr DATA; ignored, as --help says (tables only).
@example(
    command="score", model="model.dp", data_target=("link.zarr", "nope", True), out="none",
    overwrite=False, allow_unsigned=True,
)  # fmt: skip
def test_score_and_predict(
    command: str,
    model: str,
    data_target: tuple[str, str | None, bool],
    out: str,
    overwrite: bool,
    allow_unsigned: bool,
    data: dict[str, str],
    scheduler: str,
) -> None:
    name, target, right = data_target
    right = right and model == "model.dp" and allow_unsigned
    if command == "predict":
        # predict reads the features only: a table's target column is then not a feature.
        right = right and (out == "new" or (out == "a-folder" and overwrite))
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        args = [command, data[model], data[name], *option("--target", target)]
        if allow_unsigned:
            args.append("--allow-unsigned")
        if command == "predict":
            args += option("--out", output_path(out, folder, "predictions.zarr"))
            args += ["--overwrite"] if overwrite else []
        before = listing(folder)
        result = invoke([*args, "--scheduler", scheduler])
        check(result, right, folder, before)
        if right and command == "predict":
            import zarr

            predictions = zarr.open_array(folder / "predictions.zarr", path="predictions")
            assert predictions.shape == (120,)
        if right and command == "score":
            assert "accuracy: " in result.output
            assert 0.0 <= float(result.output.split("accuracy: ")[1].split()[0]) <= 1.0


@CHEAP
@given(names=st.lists(st.sampled_from(sorted(DATA)), max_size=3))
@example(names=["d.zarr", "missing"])
def test_info_on_paths(names: list[str], data: dict[str, str], scheduler: str) -> None:
    """`daskpar info PATHS`: status 0 exactly when the (in-process) worker sees every path."""
    paths = [data[n] for n in names]
    folder = Path(data["d.zarr"]).parent
    before = listing(folder)
    result = invoke(["info", *paths, "--scheduler", scheduler])
    check(result, all(os.path.exists(p) for p in paths), folder, before)


@given(overwrite=st.booleans())
@example(overwrite=False)
def test_make_data_through_a_dangling_link(overwrite: bool) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        path = output_path("dangling-link", folder, "out.zarr")
        assert path is not None
        before = listing(folder)
        args = ["make-data", path, "--rows", "4", "--features", "2", "--chunk-rows", "2"]
        result = invoke(args + (["--overwrite"] if overwrite else []))
        check(result, False, folder, before)


@given(command=st.sampled_from(["train", "score", "predict"]))
@example(command="train")
@example(command="score")
def test_an_empty_csv_file(command: str, data: dict[str, str], scheduler: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        args = [command] + ([data["model.dp"], "--allow-unsigned"] if command != "train" else [])
        args += [data["empty.csv"], "--target", "label", "--scheduler", scheduler]
        if command == "predict":
            args += ["--out", str(folder / "p.zarr")]
        before = listing(folder)
        check(invoke(args), False, folder, before)


def test_every_command_is_covered() -> None:
    """A new command gets a property here."""
    assert sorted(main.commands) == [
        "audit", "certs", "demo", "info", "make-data", "predict", "score", "search", "train",
    ]  # fmt: skip
    assert sorted(main.commands["audit"].commands) == ["show", "verify"]  # type: ignore[attr-defined]
