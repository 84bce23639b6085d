"""A tiny run of every benchmark script, so that ``make bench`` cannot rot between its runs.

Each script runs as ``make bench`` runs it (``python benchmarks/NAME.py``), with ``--smoke``
(tiny data, one repeat), writing its section and data to a temporary folder; the report then
joins the sections. The numbers are not checked (at these sizes they mean nothing), only that
every row and every target line is there: dask-ml's rows included, as the ``compare`` extra
is in the test extras.

The scripts run at the same time, each with a data folder of its own (two would otherwise
write the same data set at once): most of their time is starting clusters and importing,
which overlaps well even on two cores.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"

#: script -> (section file, texts its section must hold)
SCRIPTS = {
    "codecs": (
        "codecs",
        [
            "none |",
            "zstd level 0 (zarr's default) |",
            "blosc lz4, byte shuffle |",
            "floor (read + matvec), none |",
            "the default codec reads within 10 % of the fastest per core",
        ],
    ),
    "learners": (
        "learners",
        [
            "floor: read + one matvec per block",
            "daskpar AdaptiveSGDClassifier | 2 |",
            "daskpar ParallelIncremental(SGDClassifier) | 2 |",
            "dask-ml Incremental(SGDClassifier) | 2 |",
            "in-memory SGDClassifier.partial_fit | 2 |",
            "in-memory LogisticRegression (lbfgs; the optimum)",
            "AdaptiveSGDClassifier epoch <= 1.15 x floor",
            "within 0.5 % of the optimum in <= 2.5 s",
        ],
    ),
    "scaling": (
        "scaling",
        ["| 1 worker |", "| 4x rows |", "| 50 partitions |", "speed-up >= 1.7"],
    ),
    "partitions": (
        "partitions",
        [
            "| 400 | as stored |",
            "| 400 | coalesced |",
            "50 partitions <= 1.5 x the epoch time of 10 (coalesced, the default)",
            "scheduler's CPU per task",
        ],
    ),
    "decomposition": (
        "decomposition",
        [
            "daskpar PCA (exact, one read) |",
            "scikit-learn PCA in memory |",
            "dask-ml PCA |",
            "daskpar KMeans (k-means||",
            "scikit-learn KMeans, n_init=10, lloyd",
            "dask-ml KMeans (k-means||",
            "KMeans k=64: inertia <= 1.01 x scikit-learn's best of 10",
            "worker RSS flat from 1x to",
        ],
    ),
    "larger_than_memory": (
        "larger_than_memory",
        ["memory_limit=1GB", "no spilling, pausing or worker restart"],
    ),
    "search_vs_dask_ml": (
        "search",
        [
            "daskpar GridSearchCV(AdaptiveSGDClassifier)",
            "loop of dask-ml Incremental(SGDClassifier)",
            ">= 10 x faster than the dask-ml Incremental",
        ],
    ),
    "tables": (
        "tables",
        [
            "one read of the 12 columns",
            "fit: ColumnTransformer(OneHotEncoder",
            "fit in memory: scikit-learn's ColumnTransformer",
            "epoch: numeric-only",
            "dense one-hot in the training tasks",
            "sparse (CSR) one-hot",
            "encoders + scaler fitted in one pass",
            "trains the numeric-only model",
        ],
    ),
    "clicklogs": (
        "clicklogs",
        [
            "daskpar, 1 epoch |",
            "daskpar, 3 epochs, -q ab |",
            "VW: Parquet to its text format",
            "VW, 3 passes, -q ab |",
            "scikit-learn in memory, FeatureHasher + SGD",
            "dask-ml FeatureHasher + Incremental(SGD)",
            "daskpar rows/s per core >= VW's",
            "held-out log-loss <= 1.01 x VW's, 3 passes",
            ">= 20 x the dask-ml path",
            "daskpar, 1 epoch, -q ab, first quarter of the files (",
            "peak worker memory <= hashed state x (split_every + 2) + 6 chunks + 100 MB",
            "peak worker memory flat from 1x to 4x rows",
        ],
    ),
    "text": (
        "text",
        [
            "daskpar TF-IDF + AdaptiveSGDClassifier, 1 epoch |",
            "daskpar TF-IDF + AdaptiveSGDClassifier, 3 epochs |",
            "scikit-learn TfidfVectorizer in memory",
            "scikit-learn SGDClassifier(log_loss)",
            "scikit-learn LogisticRegression",
            "vocabulary and idf equal scikit-learn's",
            "held-out log-loss <= 1.01 x scikit-learn's SGDClassifier",
        ],
    ),
}


def start(script: str, *args: str | Path, out: Path) -> subprocess.Popen[bytes]:
    """``python benchmarks/SCRIPT.py ARGS``, its stdout and stderr written to ``out``."""
    with out.open("wb") as log:
        return subprocess.Popen(
            [sys.executable, BENCHMARKS / f"{script}.py", *map(str, args)],
            stdout=log,
            stderr=subprocess.STDOUT,
        )


def finished(proc: subprocess.Popen[bytes], out: Path) -> None:
    """Wait for ``proc`` (killed after 10 minutes); it exits with 0, else its output's end."""
    try:
        proc.wait(timeout=600)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    assert proc.returncode == 0, out.read_text()[-5000:]


def run(script: str, *args: str | Path) -> None:
    result = subprocess.run(
        [sys.executable, BENCHMARKS / f"{script}.py", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("bench")
    running = {}
    try:
        for script, (section, _) in SCRIPTS.items():
            args = ("--smoke", "--data-dir", tmp / "data" / script, "--out", tmp / f"{section}.md")
            log = tmp / f"{script}.log"
            running[script] = (start(script, *args, out=log), log)
        for proc, log in running.values():
            finished(proc, log)
    finally:
        for proc, _ in running.values():
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    return tmp


@pytest.mark.slow  # every script's smoke run takes minutes: the slow suite, which CI runs
@pytest.mark.parametrize("script", SCRIPTS)
def test_smoke_run_writes_every_row_and_target(results: Path, script: str) -> None:
    section, texts = SCRIPTS[script]
    text = (results / f"{section}.md").read_text()
    assert text.startswith("## ")
    assert f"`python benchmarks/{script}.py --smoke" in text  # the command that reproduces it
    for expected in texts:
        assert expected in text, f"{expected!r} missing from\n{text}"
    assert "| target | measured | |" in text


@pytest.mark.slow
def test_report_joins_the_sections_under_the_machine(results: Path) -> None:
    out = results / "RESULTS.md"
    run("report", "--results", results, "--out", out, "--analysis", results / "none.md")
    text = out.read_text()
    assert "cores (" in text
    assert "GiB memory" in text
    assert "scikit-learn " in text
    assert "dask-ml " in text
    positions = [text.index((results / f"{s}.md").read_text()) for s, _ in SCRIPTS.values()]
    assert positions == sorted(positions)
