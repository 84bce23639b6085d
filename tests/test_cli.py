"""The command line, end to end: make-data, train and demo on an embedded LocalCluster."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from daskpar._cli import main


def run(*args: str, scheduler: str | None = None) -> subprocess.CompletedProcess[str]:
    """The installed console script, as a user runs it; ``scheduler`` goes in the environment."""
    exe = Path(sys.executable).with_name("daskpar")
    env = {k: v for k, v in os.environ.items() if k != "DASK_SCHEDULER_ADDRESS"}
    if scheduler is not None:
        env["DASK_SCHEDULER_ADDRESS"] = scheduler
    return subprocess.run(
        [str(exe), *args], capture_output=True, text=True, timeout=300, env=env, check=False
    )


@pytest.mark.parametrize("command", [[], ["demo"], ["train"], ["make-data"], ["search"]])
def test_help(command: list[str]) -> None:
    result = CliRunner().invoke(main, [*command, "--help"])
    assert result.exit_code == 0
    assert "Usage:" in result.output


def test_make_data_then_train(tmp_path: Path) -> None:
    store = tmp_path / "data.zarr"
    made = run(
        "make-data", str(store), "--rows", "20000", "--features", "8", "--chunk-rows", "2500"
    )
    assert made.returncode == 0, made.stderr
    assert "wrote 20,000 x 8" in made.stdout
    trained = run("train", str(store), "--epochs", "2", "--workers", "2", "--dashboard-port", "0")
    assert trained.returncode == 0, trained.stderr
    assert "cluster: 2 workers at tcp://127.0.0.1:" in trained.stdout
    assert "dashboard: http://127.0.0.1:" in trained.stdout
    lines = trained.stdout.splitlines()
    table = lines[lines.index(next(ln for ln in lines if ln.strip().startswith("epoch"))) + 1 :]
    accuracies = [float(row.split()[-1]) for row in table]
    assert len(accuracies) == 2
    # Better than the 50% of guessing on balanced binary data.
    assert all(0.55 < a <= 1.0 for a in accuracies), accuracies


def test_search_prints_the_ranked_candidates(tmp_path: Path) -> None:
    store = tmp_path / "data.zarr"
    made = run(
        "make-data", str(store), "--rows", "12000", "--features", "6", "--chunk-rows", "1500"
    )
    assert made.returncode == 0, made.stderr
    grid = '{"alpha": [1e-4, 0.3], "penalty": ["l1"]}'
    result = run(
        "search", str(store), "--grid", grid, "--epochs", "2", "--workers", "2",
        "--dashboard-port", "0",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "searching 2 candidates x 3 folds on 12,000 rows x 6 features in 8 blocks" in out
    lines = out.splitlines()
    header = next(i for i, ln in enumerate(lines) if ln.split()[:2] == ["rank", "mean"])
    ranks = [int(ln.split()[0]) for ln in lines[header + 1 : header + 3]]
    assert ranks == [1, 2]
    # Heavy L1 regularisation zeroes the model: the small alpha wins.
    assert "alpha=0.0001, penalty='l1'" in lines[header + 1]
    assert "best: alpha=0.0001, penalty='l1'" in out


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
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "cluster: 2 workers at tcp://127.0.0.1:" in out
    assert "dashboard: http://127.0.0.1:" in out
    assert "one plain read of the training data" in out
    assert "validation accuracy" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["train", "/nonexistent/data.zarr"], "does not exist"),
        (["train", "{tmp}/data.csv"], "CSV data needs --target COLUMN"),
        (["make-data", "{tmp}", "--rows", "10"], "exists; pass --overwrite"),
        (["train", "{tmp}/data.zarr", "--epochs", "0"], "Invalid value for '--epochs'"),
        (["search", "{tmp}/data.zarr", "--grid", "{{oops"], "not valid JSON"),
        (["search", "{tmp}/data.zarr", "--grid", '{{"alpha": 1}}'], "non-empty list of values"),
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


def test_train_on_a_running_scheduler_from_the_environment(tmp_path: Path) -> None:
    """`dask scheduler` and `dask worker` as plain processes on 127.0.0.1, as in compose."""
    import json
    import time

    bin_dir = Path(sys.executable).parent
    scheduler_file = tmp_path / "scheduler.json"
    procs = [
        subprocess.Popen(
            [
                str(bin_dir / "dask"),
                "scheduler",
                "--host",
                "127.0.0.1",
                "--port",
                "0",
                "--no-dashboard",
                "--scheduler-file",
                str(scheduler_file),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    ]
    try:
        deadline = time.monotonic() + 60
        while not scheduler_file.exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        address = json.loads(scheduler_file.read_text())["address"]
        procs.append(
            subprocess.Popen(
                [
                    str(bin_dir / "dask"),
                    "worker",
                    address,
                    "--host",
                    "127.0.0.1",
                    "--nthreads",
                    "1",
                    "--no-dashboard",
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )
        store = tmp_path / "data.zarr"
        assert (
            run(
                "make-data", str(store), "--rows", "8000", "--features", "6", "--chunk-rows", "1000"
            ).returncode
            == 0
        )
        result = run(
            "train", str(store), "--epochs", "1", "--model", "gaussian-nb", scheduler=address
        )
        assert result.returncode == 0, result.stderr
        assert f"cluster: 1 workers at {address};" in result.stdout
        assert "validation accuracy" in result.stdout
    finally:
        for proc in reversed(procs):
            proc.terminate()
            proc.wait(timeout=30)
