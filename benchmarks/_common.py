"""What every benchmark script shares: the data, the cluster, the memory probe, the tables.

The scripts run as ``python benchmarks/<name>.py`` (this folder is then on ``sys.path``). Each
writes its section to ``benchmarks/results/<name>.md``; ``report.py`` joins the sections, under
the machine's description, into ``benchmarks/RESULTS.md``.

Data sets are the ones ``daskpar demo`` trains on (``daskpar make-data``: features on scales
from 0.001 to 1000 around offsets up to 100), written once to ``benchmarks/.data`` and reused
by later runs and scripts. The last 10 % of the rows (whole blocks) are held out.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import platform
import re
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import dask.array as da
import numpy as np

import daskpar as dp
from daskpar import metrics

HERE = Path(__file__).resolve().parent
DATA = HERE / ".data"
RESULTS = HERE / "results"


def parser(description: str) -> argparse.ArgumentParser:
    """The options every script takes."""
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--repeats", type=int, default=3, help="Runs per row; medians are shown.")
    p.add_argument("--data-dir", type=Path, default=DATA, help="Where data sets are cached.")
    p.add_argument(
        "--out", type=Path, default=None, help="The section's file (default: results/NAME.md)."
    )
    p.add_argument("--smoke", action="store_true", help="Tiny sizes: checks the script runs.")
    return p


# --------------------------------------------------------------------------------------------
# data


def dataset(data_dir: Path, rows: int, features: int = 100, chunk_rows: int = 100_000) -> Path:
    """The demo's data set of this size in zarr, written by ``daskpar make-data`` if missing."""
    store = data_dir / f"classification-{rows}x{features}-chunks{chunk_rows}.zarr"
    if not (store / "zarr.json").exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [
                Path(sys.executable).with_name("daskpar"),
                "make-data",
                store,
                f"--rows={rows}",
                f"--features={features}",
                f"--chunk-rows={chunk_rows}",
                "--overwrite",
            ],
            check=True,
        )
    return store


@dataclass
class Split:
    """Training blocks and the held-out last 10 % of the rows (whole blocks)."""

    X_train: da.Array
    y_train: da.Array
    X_test: da.Array
    y_test: da.Array


def held_out_split(store: Path) -> Split:
    X, y = dp.read_zarr(store)
    n_test = max(1, round(X.numblocks[0] / 10))
    n_train = X.numblocks[0] - n_test
    return Split(X.blocks[:n_train], y.blocks[:n_train], X.blocks[n_train:], y.blocks[n_train:])


def quality(model: Any, split: Split) -> dict[str, float]:
    """Held-out accuracy and log-loss, reduced on the workers."""
    return {
        "accuracy": metrics.score(model, split.X_test, split.y_test, "accuracy"),
        "log_loss": -metrics.score(model, split.X_test, split.y_test, "neg_log_loss"),
    }


def floor_seconds(X: da.Array, y: da.Array, repeats: int) -> float:
    """Median time of one read of every block plus one matrix-vector product per block."""
    w = np.random.default_rng(0).standard_normal(X.shape[1]).astype(X.dtype)

    def once() -> None:
        da.compute((X @ w).sum(), y.sum())

    return median_seconds(once, repeats)


def median_seconds(run: Callable[[], Any], repeats: int) -> float:
    return statistics.median(timed(run)[0] for _ in range(repeats))


def timed(run: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    result = run()
    return time.perf_counter() - start, result


def optimum(store: Path, split: Split) -> dict[str, float]:
    """In-memory LogisticRegression (lbfgs) on the training rows: held-out accuracy, log-loss.

    Standardised first, so that lbfgs converges (scaling does not change the model class);
    ``C`` is large enough that the penalty is negligible at these sizes. Minutes on millions
    of rows, so the result is cached next to the data.
    """
    cache = store.with_suffix(".optimum.json")
    if cache.exists():
        return dict(json.loads(cache.read_text()))
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import accuracy_score, log_loss
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    model = make_pipeline(StandardScaler(), LogisticRegression(C=100.0, max_iter=1000))
    train = da.compute(split.X_train, split.y_train)
    seconds, _ = timed(lambda: model.fit(*train))
    X_test, y_test = da.compute(split.X_test, split.y_test)
    result = {
        "accuracy": float(accuracy_score(y_test, model.predict(X_test))),
        "log_loss": float(log_loss(y_test, model.predict_proba(X_test))),
        "seconds": seconds,
    }
    cache.write_text(json.dumps(result))
    return result


# --------------------------------------------------------------------------------------------
# cluster and memory


@contextlib.contextmanager
def local_cluster(workers: int = 2, memory_limit: str | None = None) -> Iterator[Any]:
    """A LocalCluster of ``workers`` x 1 thread on 127.0.0.1, and its client: the one daskpar's
    CLI starts (TLS with certificates of its own), so that the peers run where users would."""
    from distributed import Client

    import daskpar as dp

    logging.getLogger("distributed").setLevel(logging.ERROR)
    kwargs: dict[str, Any] = {} if memory_limit is None else {"memory_limit": memory_limit}
    with (
        dp.local_cluster(workers, **kwargs) as cluster,
        Client(cluster) as client,
    ):
        client.run(_warm_up)
        yield client


def _warm_up() -> None:
    import sklearn.linear_model  # noqa: F401

    import daskpar  # noqa: F401


def _proc_kib(name: str) -> int:
    match = re.search(rf"^{name}:\s+(\d+) kB", Path("/proc/self/status").read_text(), re.M)
    assert match is not None
    return int(match.group(1))


def _reset_peak() -> int:
    """Reset this process's peak resident set size to its current one (Linux, clear_refs)."""
    Path("/proc/self/clear_refs").write_text("5")
    return _proc_kib("VmRSS")


def _peak() -> int:
    return _proc_kib("VmHWM")


class WorkerMemory:
    """Peak resident memory of the workers above that of an idle worker, in MB.

    The idle level is measured once, on the fresh workers with daskpar and scikit-learn
    imported. Before each measured run the kernel's high-water mark is reset (Linux's
    ``/proc/self/clear_refs``), so each row reports its own peak: memory a previous run
    left allocated counts against the row, which errs on the side of a larger number.
    """

    def __init__(self, client: Any) -> None:
        self.client = client
        self.idle_kib = max(client.run(_reset_peak).values())

    @contextlib.contextmanager
    def measure(self) -> Iterator[list[float]]:
        self.client.run(_reset_peak)
        out: list[float] = []
        yield out
        peak = max(self.client.run(_peak).values())
        out.append((peak - self.idle_kib) / 1024)


# --------------------------------------------------------------------------------------------
# tables


@dataclass
class Section:
    """One section of RESULTS.md: a title, the command, a table, targets and notes."""

    title: str
    command: str
    columns: Sequence[str]
    rows: list[Sequence[Any]] = field(default_factory=list)
    targets: list[tuple[str, str, bool | None]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def row(self, *cells: Any) -> None:
        self.rows.append(cells)
        print("  " + " | ".join(_cell(c) for c in cells), flush=True)

    def target(self, text: str, measured: str, met: bool | None) -> None:
        self.targets.append((text, measured, met))
        print(f"  target: {text}: {measured} ({_verdict(met)})", flush=True)

    def markdown(self) -> str:
        lines = [f"## {self.title}", "", f"`{self.command}`", ""]
        lines.append("| " + " | ".join(self.columns) + " |")
        lines.append("|" + "---|" * len(self.columns))
        lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in self.rows]
        if self.targets:
            lines += ["", "| target | measured | |", "|---|---|---|"]
            lines += [f"| {t} | {m} | {_verdict(ok)} |" for t, m, ok in self.targets]
        if self.notes:
            lines += [""] + [f"- {note}" for note in self.notes]
        return "\n".join(lines) + "\n"

    def write(self, out: Path | None, name: str) -> None:
        path = out or RESULTS / f"{name}.md"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(self.markdown())
        print(f"wrote {path}")


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4f}" if abs(value) < 10 else f"{value:.1f}"
    return "-" if value is None else str(value)


def _verdict(met: bool | None) -> str:
    return {True: "met", False: "**missed**", None: "not measured"}[met]


def machine() -> str:
    """Cores, memory and library versions, for the head of RESULTS.md."""
    mem_kib = int(re.search(r"MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text()).group(1))  # type: ignore[union-attr]
    cpu = "unknown CPU"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    names = ["daskpar", "dask", "distributed", "scikit-learn", "numpy", "scipy", "zarr"]
    names.append("dask-ml")
    versions = []
    for name in names:
        with contextlib.suppress(metadata.PackageNotFoundError):
            versions.append(f"{name} {metadata.version(name)}")
    return (
        f"{os.cpu_count()} cores ({cpu}), {mem_kib / 2**20:.0f} GiB memory, "
        f"Python {platform.python_version()} on {platform.system()} {platform.release()}; "
        + ", ".join(versions)
    )


def command_line() -> str:
    return "python benchmarks/" + " ".join([Path(sys.argv[0]).name, *sys.argv[1:]])


def _watch_status(dask_worker: Any) -> None:
    """Record, on the worker, whether it pauses (memory above its pause fraction)."""
    import threading

    from distributed.core import Status

    dask_worker._bench_paused = False  # type: ignore[attr-defined]

    def poll() -> None:
        while dask_worker.status not in (Status.closing, Status.closed, Status.failed):
            if dask_worker.status == Status.paused:
                dask_worker._bench_paused = True  # type: ignore[attr-defined]
            time.sleep(0.02)

    threading.Thread(target=poll, daemon=True, name="bench-status").start()


def _was_paused(dask_worker: Any) -> bool:
    return bool(getattr(dask_worker, "_bench_paused", False))


def _spilled_bytes(dask_scheduler: Any) -> int:
    return sum(
        int(v)
        for k, v in dask_scheduler.cumulative_worker_metrics.items()
        if "disk-write" in (k if isinstance(k, tuple) else (k,)) and "bytes" in k
    )


class WorkerHealth:
    """Did the workers spill to disk, pause, or restart while this object watched?"""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.addresses = set(client.scheduler_info()["workers"])
        client.run(_watch_status)
        self.spilled_before = client.run_on_scheduler(_spilled_bytes)

    def report(self) -> dict[str, Any]:
        time.sleep(1.5)  # let the last heartbeat carry the workers' metrics to the scheduler
        now = set(self.client.scheduler_info()["workers"])
        paused = self.client.run(_was_paused)
        return {
            "spilled_bytes": self.client.run_on_scheduler(_spilled_bytes) - self.spilled_before,
            "paused": sum(paused.values()),
            "restarted": len(self.addresses - now),
        }
