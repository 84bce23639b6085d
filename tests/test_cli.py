"""The command line, end to end: make-data, train and demo.

The installed console script, with the embedded LocalCluster it starts, where the test is
about that (the cluster it reports, its workers' output, Ctrl-C, the environment); elsewhere
the command runs in this process (``invoke``) with ``--scheduler`` of the module's cluster
(``scheduler_address``), which saves each command the seconds a process and a cluster of
its own take to start.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner
from daskpar_testing import invoke, kept_open, run, succeeded

from daskpar._cli import main


@pytest.mark.parametrize("command", [[], ["demo"], ["train"], ["make-data"], ["search"]])
def test_help(command: list[str]) -> None:
    result = CliRunner().invoke(main, [*command, "--help"])
    assert result.exit_code == 0
    assert "Usage:" in result.output


@pytest.mark.slow
def test_make_data_then_train(tmp_path: Path) -> None:
    store = tmp_path / "data.zarr"
    made = run(
        "make-data", str(store), "--rows", "20000", "--features", "8", "--chunk-rows", "2500"
    )
    assert made.returncode == 0, made.stderr
    assert "wrote 20,000 x 8" in made.stdout
    report = tmp_path / "report.html"
    report.write_text("<title>Dask Performance Report</title>")  # an earlier one: replaced
    trained = run(
        "train", str(store), "--epochs", "2", "--workers", "2", "--dashboard-port", "0",
        "--report", str(report),
    )  # fmt: skip
    assert trained.returncode == 0, trained.stderr
    assert "cluster: 2 workers at tls://127.0.0.1:" in trained.stdout
    assert "dashboard: http://127.0.0.1:" in trained.stdout
    assert f"performance report: {report}" in trained.stdout
    assert "| 2/2 " in trained.stderr.replace("\r", "\n")  # the epochs' progress bar
    assert_report_shows(report, "fit-block", "fit-merge", "fit-final", "check-block")
    lines = trained.stdout.splitlines()
    table = lines[lines.index(next(ln for ln in lines if ln.strip().startswith("epoch"))) + 1 :]
    accuracies = [float(row.split()[-1]) for row in table if row.split()[0].isdigit()]
    assert len(accuracies) == 2
    # Better than the 50% of guessing on balanced binary data.
    assert all(0.55 < a <= 1.0 for a in accuracies), accuracies


@pytest.mark.slow
def test_search_prints_the_ranked_candidates(tmp_path: Path, scheduler_address: str) -> None:
    store = tmp_path / "data.zarr"
    succeeded(
        invoke(
            "make-data", str(store), "--rows", "12000", "--features", "6", "--chunk-rows", "1500"
        )
    )
    grid = '{"alpha": [1e-4, 0.3], "penalty": ["l1"]}'
    report = tmp_path / "search.html"
    result = succeeded(
        invoke(
            "search", str(store), "--model", "sgd-log", "--grid", grid, "--epochs", "2",
            "--scheduler", scheduler_address, "--report", str(report),
        )
    )  # fmt: skip
    out = result.stdout
    # 2 candidates x 2 epochs on the progress bar, then the refit's 2 epochs.
    bars = result.stderr.replace("\r", "\n").splitlines()
    assert "| 4/4 " in [line for line in bars if line.startswith("search:")][-1]
    assert "| 2/2 " in [line for line in bars if line.startswith("epochs:")][-1]
    assert_report_shows(report, "scaler-block", "prepare-block", "search-block", "fit-block")
    assert "searching 2 candidates x 3 folds on 12,000 rows x 6 features in 8 blocks" in out
    lines = out.splitlines()
    header = next(i for i, ln in enumerate(lines) if ln.split()[:2] == ["rank", "mean"])
    ranks = [int(ln.split()[0]) for ln in lines[header + 1 : header + 3]]
    assert ranks == [1, 2]
    # Heavy L1 regularisation zeroes the model: the small alpha wins.
    assert "alpha=0.0001, penalty='l1'" in lines[header + 1]
    assert "best: alpha=0.0001, penalty='l1'" in out


@pytest.mark.slow  # a cluster or the installed command: the slow suite
def test_demo_small(tmp_path: Path) -> None:
    result = run(
        "demo",
        "--rows",
        "30000",
        "--features",
        "10",
        "--chunk-rows",
        "5000",
        "--epochs",
        "2",
        "--workers",
        "2",
        "--dashboard-port",
        "0",
        "--data-dir",
        str(tmp_path),
        "--report",
        str(tmp_path / "demo.html"),
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert_report_shows(
        tmp_path / "demo.html", "make-data", "store-map", "scaler-block", "fit-block", "score-block"
    )
    assert "cluster: 2 workers at tls://127.0.0.1:" in out
    assert "dashboard: http://127.0.0.1:" in out
    assert "one plain read of the training data" in out
    assert "validation accuracy" in out
    # Both models on the same data, then side by side; daskpar's learner needs no scaler.
    assert "training AdaptiveSGDClassifier on 27,000 rows x 10 features" in out
    # 6 chunks of 5,000 rows: fewer than MIN_BLOCKS, so not coalesced.
    assert "6 partitions (split_every=8), unscaled" in out
    assert "fitted StandardScaler in one pass" in out
    table = comparison(out)
    assert list(table) == ["AdaptiveSGDClassifier", "StandardScaler + SGDClassifier"]
    for seconds, x_read, accuracy, log_loss in table.values():
        assert seconds > 0
        assert x_read > 0
        assert 0.7 < accuracy <= 1.0, out  # both learn
        assert 0.0 < log_loss < 0.7, out  # better than the 0.693 of a coin


def comparison(out: str) -> dict[str, tuple[float, ...]]:
    """The demo's closing table: model -> (seconds, epoch x read, accuracy, log-loss)."""
    lines = out.splitlines()
    start = next(i for i, ln in enumerate(lines) if ln.startswith("model ")) + 1
    table = {}
    for line in lines[start:]:
        name, *numbers = line.rsplit(maxsplit=4)
        table[name.strip()] = tuple(float(n) for n in numbers)
    return table


def test_train_scales_only_the_models_that_need_it(tmp_path: Path, scheduler_address: str) -> None:
    store = tmp_path / "data.zarr"
    succeeded(invoke("make-data", str(store), "--rows", "6000", "--features", "5",
                     "--chunk-rows", "1000"))  # fmt: skip
    common = ["--epochs", "1", "--scheduler", scheduler_address]
    default = succeeded(invoke("train", str(store), *common))
    assert "training AdaptiveSGDClassifier" in default.stdout
    assert "unscaled" in default.stdout
    assert "fitted StandardScaler" not in default.stdout
    forced = succeeded(invoke("train", str(store), "--scale", *common))
    assert "fitted StandardScaler" in forced.stdout
    assert "unscaled" not in forced.stdout
    sgd = succeeded(invoke("train", str(store), "--model", "sgd-log", *common))
    assert "fitted StandardScaler" in sgd.stdout
    assert "training SGDClassifier" in sgd.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["train", "/nonexistent/data.zarr"], "does not exist"),
        (["train", "{tmp}/data.csv"], "CSV data needs --target COLUMN"),
        (["make-data", "{tmp}", "--rows", "10"], "exists; pass --overwrite"),
        (["train", "{tmp}/data.zarr", "--epochs", "0"], "Invalid value for '--epochs'"),
        (["search", "{tmp}/data.zarr", "--grid", "{{oops"], "not valid JSON"),
        (["search", "{tmp}/data.zarr", "--grid", '{{"alpha": 1}}'], "non-empty list of values"),
        (["train", "{tmp}/data.zarr", "--report", "{tmp}"], "is a directory"),
        (["demo", "--report", "{tmp}/nowhere/report.html"], "report.html does not exist"),
    ],
)
def test_user_errors_are_one_line_without_traceback(
    tmp_path: Path, args: list[str], message: str
) -> None:
    (tmp_path / "data.csv").write_text("a,b\n1,2\n")
    (tmp_path / "data.zarr").mkdir()
    result = CliRunner().invoke(main, [a.format(tmp=tmp_path) for a in args])
    assert result.exit_code != 0
    assert message in result.output
    assert "Traceback" not in result.output


def test_train_on_a_running_scheduler_from_the_environment(
    tmp_path: Path, scheduler_address: str
) -> None:
    """`dask scheduler` and `dask worker` as plain processes on 127.0.0.1, as in compose: the
    command finds the scheduler in DASK_SCHEDULER_ADDRESS."""
    store = tmp_path / "data.zarr"
    succeeded(invoke("make-data", str(store), "--rows", "8000", "--features", "6",
                     "--chunk-rows", "1000"))  # fmt: skip
    result = run(
        "train", str(store), "--epochs", "1", "--model", "gaussian-nb", scheduler=scheduler_address
    )
    assert result.returncode == 0, result.stderr
    assert f"cluster: 2 workers at {scheduler_address};" in result.stdout
    assert "validation accuracy" in result.stdout


def assert_report_shows(report: Path, *stages: str) -> None:
    """The performance report exists, and its task stream has ``stages`` and no dask finalize."""
    html = report.read_text()
    assert "<html" in html.lower()
    for stage in stages:
        assert stage in html, stage
    assert "finalize-hlg" not in html
    assert "daskpar-" not in html


@pytest.mark.slow  # a cluster or the installed command: the slow suite
def test_keep_open_waits_for_ctrl_c_then_stops_the_cluster(tmp_path: Path) -> None:
    """Ctrl-C (SIGINT to the command's process group, as a terminal sends it) ends with 0."""
    import signal
    import time

    import psutil

    import daskpar as dp

    store = tmp_path / "data.zarr"
    X, y = dp.make_classification(4000, 5, chunks=1000, random_state=0)
    dp.write_zarr(store, X, y)
    args = ["train", str(store), "--epochs", "1", "--workers", "2", "--dashboard-port", "0"]
    with kept_open(*args) as (proc, lines):
        assert any("(the cluster is kept open)" in line for line in lines), lines
        workers = psutil.Process(proc.pid).children(recursive=True)
        assert len(workers) >= 2  # the worker processes (and multiprocessing's tracker)
        time.sleep(1.0)  # still up
        assert proc.poll() is None
        os.killpg(proc.pid, signal.SIGINT)
        try:
            out, err = proc.communicate(timeout=120)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGABRT)
            _, stacks = proc.communicate(timeout=30)
            pytest.fail(f"the command did not stop within 120 s of Ctrl-C:\n{stacks[-8000:]}")
    assert proc.returncode == 0, err
    assert "stopping the cluster" in out
    assert "Traceback" not in err
    _, alive = psutil.wait_procs(workers, timeout=10)
    assert alive == []


def write_table(path: Path, *, rows: int = 16_000, nan_at: int | None = None) -> None:
    """A CSV or Parquet file with string labels, as pandas writes them (index included)."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(3)
    X = rng.normal(size=(rows, 4))
    frame = pd.DataFrame(X, columns=["a", "b", "c", "d"], index=np.arange(rows) + 500)
    frame["species"] = np.where(X[:, 0] - X[:, 2] > 0, "setosa", "virginica")
    if nan_at is not None:
        frame.iloc[nan_at, 1] = np.nan
    if path.suffix == ".parquet":
        frame.to_parquet(path)  # one row group, and the index stored as a column
    else:
        frame.to_csv(path, index=False)


def validation_scores(stdout: str) -> list[float]:
    lines = stdout.splitlines()
    start = next(i for i, ln in enumerate(lines) if ln.strip().startswith("epoch")) + 1
    return [float(ln.split()[-1]) for ln in lines[start:] if ln.strip()[:1].isdigit()]


@pytest.mark.parametrize("name", ["labels.parquet", "labels.csv", "labels.csv.gz"])
def test_train_string_labels_from_a_table(
    tmp_path: Path, name: str, scheduler_address: str
) -> None:
    path = tmp_path / name
    write_table(path.with_suffix("") if name.endswith(".gz") else path)
    if name.endswith(".gz"):
        import gzip

        path.write_bytes(gzip.compress(path.with_suffix("").read_bytes()))
    # The module's cluster has 2 workers of 1 thread, as --workers 2 would start.
    result = succeeded(
        invoke(
            "train", str(path), "--target", "species", "--epochs", "2",
            "--scheduler", scheduler_address,
        )
    )  # fmt: skip
    # Four features: the stored pandas index is not one; and a single row group is split.
    assert "x 4 features in 8 partitions" in result.stdout
    assert min(validation_scores(result.stdout)) > 0.95


def test_search_on_a_single_row_group(tmp_path: Path, scheduler_address: str) -> None:
    path = tmp_path / "labels.parquet"
    write_table(path)
    result = succeeded(
        invoke(
            "search", str(path), "--target", "species", "--grid", '{"alpha": [1e-4, 30.0]}',
            "--epochs", "1", "--scheduler", scheduler_address,
        )
    )  # fmt: skip
    assert "best: alpha=0.0001" in result.stdout


def test_npy_and_hdf5_data(tmp_path: Path, scheduler_address: str) -> None:
    import h5py
    import numpy as np

    rng = np.random.default_rng(4)
    X = rng.normal(size=(4000, 3)).astype(np.float32)
    y = (X[:, 0] > 0).astype(np.int64)
    np.save(tmp_path / "X.npy", X)
    np.save(tmp_path / "y.npy", y)
    with h5py.File(tmp_path / "d.h5", "w") as f:
        f["features"], f["labels"] = X, y
    for args in (
        ["X.npy", "--y", str(tmp_path / "y.npy")],
        ["d.h5", "--x", "features", "--y", "labels"],
    ):
        path = str(tmp_path / args[0])
        result = succeeded(invoke("train", path, *args[1:], "--scheduler", scheduler_address))
        assert min(validation_scores(result.stdout)) > 0.9


def test_unsupported_format_names_the_supported_ones(tmp_path: Path) -> None:
    (tmp_path / "data.xlsx").write_text("{}")
    result = CliRunner().invoke(main, ["train", str(tmp_path / "data.xlsx")])
    assert result.exit_code == 1
    for fmt in ("zarr", "Parquet", "CSV", "JSON lines", ".npy", "HDF5", "svmlight"):
        assert fmt in result.output


def test_count_model_gets_a_valid_default_scaling_and_one_epoch(
    tmp_path: Path, scheduler_address: str
) -> None:
    path = tmp_path / "labels.parquet"
    write_table(path)
    result = succeeded(
        invoke(
            "train", str(path), "--target", "species", "--model", "multinomial-nb",
            "--epochs", "5", "--scheduler", scheduler_address,
        )
    )  # fmt: skip
    assert "fitted MinMaxScaler" in result.stdout
    assert "--epochs 5 does not apply, so it trains for 1 epoch" in result.stdout
    assert len(validation_scores(result.stdout)) == 1


@pytest.mark.slow
def test_bad_value_names_the_file_row_without_a_worker_traceback(tmp_path: Path) -> None:
    """The embedded cluster's workers write to the command's terminal: a failed task is the
    command's one line, not their "Compute Failed" record too."""
    path = tmp_path / "labels.csv"
    write_table(path, nan_at=4321)
    result = run(
        "train", str(path), "--target", "species", "--workers", "2", "--dashboard-port", "0"
    )
    assert result.returncode == 1
    assert "X holds NaN in partition" in result.stderr
    assert "first at row 4321 " in result.stderr  # a row of the file, not of the training split
    assert "Compute Failed" not in result.stderr
    assert "Traceback" not in result.stderr


def test_a_scheduler_that_never_answers_leaves_no_default_client() -> None:
    """The client abandoned after the connect timeout had made itself dask's default
    scheduler while it waited for the handshake: it is closed with the error, so that
    nothing computes on it (dask's get_scheduler would fall back to it)."""
    import socket

    import click
    import dask
    from distributed.client import _get_global_client

    from daskpar._cli._cluster import _connect

    assert _get_global_client() is None
    scheduler = dask.config.get("scheduler", None)
    with socket.socket() as silent:  # accepts connections (the kernel does), never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        address = f"tcp://127.0.0.1:{silent.getsockname()[1]}"
        with (
            dask.config.set({"distributed.comm.timeouts.connect": "1s"}),
            pytest.raises(click.ClickException, match=f"cannot reach the scheduler at {address}"),
        ):
            _connect(address)
    assert _get_global_client() is None
    assert dask.config.get("scheduler", None) == scheduler  # not "dask.distributed"
