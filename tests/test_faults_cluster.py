"""Faults on a cluster of separate processes (``dask scheduler`` and ``dask worker`` on
127.0.0.1): a worker killed or frozen mid-fit, a partition that kills its workers, flaky reads,
a scheduler that dies or does not answer, Ctrl-C, and a client killed mid-fit then rerun.

Each test that measures prints a ``fault-timing`` line: the disturbed run's seconds against
the undisturbed run's, on the same cluster (``pytest -m slow -s`` shows them).
"""

from __future__ import annotations

import _thread
import contextlib
import os
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import dask
import dask.array as da
import numpy as np
import pytest
from daskpar_testing import ctrl_c_as_in_a_terminal, scheduler_processes
from distributed import Client
from distributed.diagnostics.plugin import WorkerPlugin
from sklearn.linear_model import SGDClassifier

import daskpar as dp
from daskpar._checkpoint import FILE_NAME
from daskpar._cli import EMBEDDED_WORKER_TTL

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]
DASKPAR = str(Path(sys.executable).parent / "daskpar")


def timing(name: str, disturbed: float, undisturbed: float) -> None:
    print(
        f"\nfault-timing {name}: {disturbed:.1f} s against {undisturbed:.1f} s undisturbed "
        f"({disturbed / undisturbed:.2f}x)"
    )


def slow_blocks(n_blocks: int = 24, seconds: float = 0.25) -> tuple[da.Array, da.Array]:
    """A data set whose every block takes ``seconds`` to read, as from slow storage, so that
    an epoch lasts long enough to be disturbed in its middle."""
    X, y = dp.make_classification(
        n_samples=n_blocks * 500, n_features=8, chunks=500, random_state=0
    )

    def read(block: np.ndarray) -> np.ndarray:
        time.sleep(seconds)
        return block

    return X.map_blocks(read, dtype=X.dtype), y


def model(**params: Any) -> dp.ParallelIncremental:
    return dp.ParallelIncremental(SGDClassifier(random_state=0), epochs=3, random_state=0, **params)


@contextmanager
def client_of(address: str) -> Iterator[Client]:
    with Client(address, timeout=60) as client, dask.config.set(scheduler=client.get):
        yield client


def worker_pids(client: Client) -> list[int]:
    """The PIDs of the worker processes (not their nannies)."""
    return sorted(client.run(os.getpid).values())


def after(seconds: float, action: Callable[[], None]) -> threading.Timer:
    timer = threading.Timer(seconds, action)
    timer.start()
    return timer


def timed(call: Callable[[], Any]) -> tuple[Any, float]:
    start = time.perf_counter()
    out = call()
    return out, time.perf_counter() - start


def assert_same_model(a: dp.ParallelIncremental, b: dp.ParallelIncremental) -> None:
    np.testing.assert_array_equal(a.estimator_.coef_, b.estimator_.coef_)
    np.testing.assert_array_equal(a.estimator_.intercept_, b.estimator_.intercept_)


# --------------------------------------------------------------------------------------------
# Workers lost, frozen and killed


def test_a_worker_killed_mid_fit_changes_nothing(tmp_path: Path) -> None:
    X, y = slow_blocks()
    with scheduler_processes(tmp_path, n_workers=2) as address, client_of(address) as client:
        whole, undisturbed = timed(lambda: model().fit(X, y, classes=[0, 1]))
        victim = worker_pids(client)[0]
        timer = after(undisturbed / 2, lambda: os.kill(victim, signal.SIGKILL))
        disturbed, seconds = timed(lambda: model().fit(X, y, classes=[0, 1]))
        timer.join()
        assert victim not in worker_pids(client)  # it was killed, and its nanny restarted it
        assert_same_model(disturbed, whole)
        timing("worker SIGKILL mid-fit", seconds, undisturbed)

        grid = {"estimator__alpha": [1e-4, 1e-2]}
        search = dp.GridSearchCV(model(), grid, cv=2)
        best, undisturbed = timed(lambda: search.fit(X, y))
        client.wait_for_workers(2, timeout=60)
        victim = worker_pids(client)[1]
        timer = after(undisturbed / 2, lambda: os.kill(victim, signal.SIGKILL))
        again, seconds = timed(lambda: dp.GridSearchCV(model(), grid, cv=2).fit(X, y))
        timer.join()
        for key in ("mean_test_score", "split0_test_score", "split1_test_score"):
            np.testing.assert_array_equal(again.cv_results_[key], best.cv_results_[key])
        assert_same_model(again.best_estimator_, best.best_estimator_)
        timing("worker SIGKILL mid-search", seconds, undisturbed)


def test_a_frozen_worker_is_dropped_within_the_clusters_ttl(tmp_path: Path) -> None:
    """daskpar's clusters set a worker TTL; a SIGSTOPped worker is dropped after it, and its
    tasks run elsewhere: the fit ends with the same model."""
    X, y = slow_blocks()
    env = {"DASK_DISTRIBUTED__SCHEDULER__WORKER_TTL": EMBEDDED_WORKER_TTL}
    with (
        scheduler_processes(tmp_path, n_workers=2, env=env) as address,
        client_of(address) as client,
    ):
        ttl = client.run_on_scheduler(lambda dask_scheduler: dask_scheduler.worker_ttl)
        assert ttl == dask.utils.parse_timedelta(EMBEDDED_WORKER_TTL)
        whole, undisturbed = timed(lambda: model().fit(X, y, classes=[0, 1]))
        victim = worker_pids(client)[0]
        timer = after(undisturbed / 3, lambda: os.kill(victim, signal.SIGSTOP))
        try:
            frozen, seconds = timed(lambda: model().fit(X, y, classes=[0, 1]))
            timer.join()
            assert_same_model(frozen, whole)
            # The scheduler dropped it: the fit did not wait for it to wake up.
            assert len(client.scheduler_info()["workers"]) <= 2
        finally:
            timer.join()
            with contextlib.suppress(ProcessLookupError):  # its nanny killed it already
                os.kill(victim, signal.SIGKILL)
        timing(f"worker SIGSTOP mid-fit (worker TTL {EMBEDDED_WORKER_TTL})", seconds, undisturbed)
    # The command line's embedded cluster has the same TTL.
    from daskpar._cli import cluster

    with cluster(None, 1, 0) as embedded:
        got = embedded.run_on_scheduler(lambda dask_scheduler: dask_scheduler.worker_ttl)
        assert got == dask.utils.parse_timedelta(EMBEDDED_WORKER_TTL)
    # A TTL the user set is theirs.
    with (
        dask.config.set({"distributed.scheduler.worker-ttl": "42s"}),
        cluster(None, 1, 0) as embedded,
    ):
        assert embedded.run_on_scheduler(lambda dask_scheduler: dask_scheduler.worker_ttl) == 42


def poisoned(X: da.Array, block: int, how: str) -> da.Array:
    """``X`` whose block ``block`` kills the worker reading it: a segfault, or memory use
    past the worker's limit."""

    def read(part: np.ndarray, block_info: Any = None) -> np.ndarray:
        if block_info[0]["chunk-location"][0] == block:
            if how == "segfault":
                os.kill(os.getpid(), signal.SIGSEGV)
            hog = []
            while True:  # 80 MB at a time, until the nanny stops it
                hog.append(np.ones(10_000_000))
        return part

    return X.map_blocks(read, dtype=X.dtype)


@pytest.mark.parametrize("how", ["segfault", "memory"])
def test_a_partition_that_kills_its_workers_is_named(tmp_path: Path, how: str) -> None:
    X, y = dp.make_classification(n_samples=6000, n_features=8, chunks=500, random_state=0)
    limit = ("--memory-limit", "600MB")
    with (
        scheduler_processes(tmp_path, n_workers=2, worker_args=limit) as address,
        client_of(address) as client,
    ):
        whole, undisturbed = timed(lambda: model().fit(X, y, classes=[0, 1]))
        start = time.perf_counter()
        with pytest.raises(dp.WorkerKilledError) as info:
            model().fit(poisoned(X, 5, how), y, classes=[0, 1])
        seconds = time.perf_counter() - start
        message = str(info.value)
        assert "partition 5 (rows 2500 to 2999) killed the worker running it" in message
        assert "smaller chunks" in message
        assert "more memory" in message
        # The cluster is still usable, and as good as before.
        client.wait_for_workers(2, timeout=60)
        assert_same_model(model().fit(X, y, classes=[0, 1]), whole)
    timing(f"poison partition ({how})", seconds, undisturbed)


# --------------------------------------------------------------------------------------------
# Flaky storage


def flaky_reads() -> WorkerPlugin:
    """A worker plugin: the first read of a zarr array by each worker fails with an OSError,
    as from storage that drops a request now and then. (Made here, so that it travels to the
    workers by value.)"""

    class FlakyReads(WorkerPlugin):
        name = "flaky-reads"

        def setup(self, worker: Any) -> None:
            import daskpar._io.zarr as load

            real = load._open_array
            failed: list[bool] = []

            class Flaky:
                def __init__(self, array: Any) -> None:
                    self._array = array

                def __getattr__(self, name: str) -> Any:
                    return getattr(self._array, name)

                def __getitem__(self, key: Any) -> Any:
                    if not failed:
                        failed.append(True)
                        raise OSError("Connection reset by peer")
                    return self._array[key]

            load._open_array = lambda *args, **kwargs: Flaky(real(*args, **kwargs))  # type: ignore[assignment]

    return FlakyReads()


def test_retries_ride_out_flaky_reads(tmp_path: Path) -> None:
    X, y = dp.make_classification(n_samples=6000, n_features=8, chunks=500, random_state=0)
    dp.write_zarr(tmp_path / "d.zarr", X, y)
    X, y = dp.read_zarr(tmp_path / "d.zarr")
    with scheduler_processes(tmp_path, n_workers=2) as address, client_of(address) as client:
        whole = model().fit(X, y, classes=[0, 1])
        client.register_plugin(flaky_reads())
        with pytest.raises(dp.PartitionError) as info:
            model().fit(X, y, classes=[0, 1])
        message = str(info.value)
        assert "read_zarr: reading rows" in message
        assert "Connection reset by peer" in message
        assert "retries=" in message
        client.restart()  # fresh workers, each with its one failure to come
        client.register_plugin(flaky_reads())
        assert_same_model(model(retries=2).fit(X, y, classes=[0, 1]), whole)


# --------------------------------------------------------------------------------------------
# The scheduler


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_a_scheduler_that_does_not_answer_is_a_bounded_error(tmp_path: Path) -> None:
    X, y = dp.make_classification(n_samples=400, n_features=4, chunks=100, random_state=0)
    dp.write_zarr(tmp_path / "d.zarr", X, y)
    env = {**os.environ, "DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT": "3s"}
    silent = socket.socket()  # accepts connections (the kernel does), never answers
    silent.bind(("127.0.0.1", 0))
    silent.listen()
    addresses = {
        "nothing listening": f"tcp://127.0.0.1:{free_port()}",
        "never answers": f"tcp://127.0.0.1:{silent.getsockname()[1]}",
    }
    try:
        for what, address in addresses.items():
            start = time.perf_counter()
            result = subprocess.run(
                [DASKPAR, "train", str(tmp_path / "d.zarr"), "--scheduler", address],
                capture_output=True,
                text=True,
                env=env,
                timeout=120,  # a hang would fail here
            )
            seconds = time.perf_counter() - start
            assert result.returncode == 1, (what, result.stderr)
            lines = result.stderr.strip().splitlines()
            assert len(lines) == 1, result.stderr
            assert f"cannot reach the scheduler at {address} within 3s" in lines[0]
            print(f"\nfault-timing scheduler that {what}: error after {seconds:.1f} s")
    finally:
        silent.close()


def test_a_scheduler_that_dies_mid_fit_is_a_clear_error(tmp_path: Path) -> None:
    X, y = slow_blocks()
    with scheduler_processes(tmp_path, n_workers=2) as address, client_of(address) as client:
        _, undisturbed = timed(lambda: model().fit(X, y, classes=[0, 1]))
        pid = client.run_on_scheduler(os.getpid)
        timer = after(undisturbed / 3, lambda: os.kill(pid, signal.SIGKILL))
        start = time.perf_counter()
        with pytest.raises(dp.SchedulerLostError) as info:
            model().fit(X, y, classes=[0, 1])
        seconds = time.perf_counter() - start - undisturbed / 3
        timer.join()
        assert f"Lost the scheduler at {address}" in str(info.value)
        assert "checkpoint=" in str(info.value)
        print(f"\nfault-timing scheduler SIGKILL mid-fit: error {seconds:.1f} s after the kill")


# --------------------------------------------------------------------------------------------
# Interrupts and a client killed mid-fit


def test_ctrl_c_in_a_notebook_cancels_the_fits_tasks(tmp_path: Path) -> None:
    X, y = slow_blocks(n_blocks=40, seconds=0.5)
    with scheduler_processes(tmp_path, n_workers=2) as address, client_of(address) as client:
        with ctrl_c_as_in_a_terminal():
            timer = after(3, _thread.interrupt_main)
            with pytest.raises(KeyboardInterrupt):
                model().fit(X, y, classes=[0, 1])
        timer.join()
        start = time.perf_counter()
        left = -1
        while time.perf_counter() - start < 30:
            left = client.run_on_scheduler(lambda dask_scheduler: len(dask_scheduler.tasks))
            if left == 0:
                break
            time.sleep(0.1)
        assert left == 0, f"{left} tasks still on the scheduler"
        seconds = time.perf_counter() - start
        print(f"\nfault-timing Ctrl-C: no task left on the scheduler {seconds:.1f} s after")


def alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie, dead but not reaped yet, does not)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False
    return state != "Z"


def process_tree(root: int) -> set[int]:
    """``root`` and its descendants still alive."""
    out = subprocess.run(["ps", "-e", "-o", "pid=,ppid="], capture_output=True, text=True).stdout
    children: dict[int, list[int]] = {}
    for line in out.splitlines():
        pid, ppid = map(int, line.split())
        children.setdefault(ppid, []).append(pid)
    found, todo = set(), [root]
    while todo:
        pid = todo.pop()
        if pid not in found and alive(pid):
            found.add(pid)
            todo += children.get(pid, [])
    return found


@pytest.mark.parametrize("command", ["train", "search"])
def test_ctrl_c_exits_130_and_the_rerun_resumes(tmp_path: Path, command: str) -> None:
    X, y = dp.make_classification(n_samples=60_000, n_features=20, chunks=5000, random_state=0)
    dp.write_zarr(tmp_path / "d.zarr", X, y)
    train = [DASKPAR, command, str(tmp_path / "d.zarr"), "--epochs", "6", "--workers", "2"]
    train += ["--dashboard-port", "0", "--model", "sgd-log"]
    if command == "search":
        train += ["--grid", '{"alpha": [1e-4, 1e-2]}', "--cv", "2"]
    _, full = timed(
        lambda: subprocess.run(
            [*train, "--save", str(tmp_path / "whole.dp")], check=True, capture_output=True
        )
    )
    ck = tmp_path / "ck"
    with ctrl_c_as_in_a_terminal():
        proc = subprocess.Popen(
            [*train, "--checkpoint", str(ck), "--save", str(tmp_path / "resumed.dp")],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,  # its own process group, as a terminal's foreground job
        )
    deadline = time.monotonic() + 120
    while not (ck / FILE_NAME).exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    tree = process_tree(proc.pid)
    assert len(tree) >= 3  # the command and its two worker processes
    os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C: the terminal signals the whole group
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    last = err.strip().splitlines()[-1]
    assert last == f"interrupted; the checkpoint in {ck} resumes it: run the same command again"
    assert "Traceback" not in err
    deadline = time.monotonic() + 30
    while (left := {p for p in tree if alive(p)}) and (time.monotonic() < deadline):
        time.sleep(0.1)
    assert not left, f"processes {left} of the command were left running"
    resumed, seconds = timed(
        lambda: subprocess.run(
            [*train, "--checkpoint", str(ck), "--save", str(tmp_path / "resumed.dp")],
            check=True,
            capture_output=True,
            text=True,
        )
    )
    assert f"resuming from the checkpoint in {ck}" in resumed.stdout
    a = dp.load(tmp_path / "whole.dp", allow_unsigned=True)
    b = dp.load(tmp_path / "resumed.dp", allow_unsigned=True)
    # sgd-log trains after a scaler: a pipeline whose last step is the ParallelIncremental.
    np.testing.assert_array_equal(a[-1].estimator_.coef_, b[-1].estimator_.coef_)
    np.testing.assert_array_equal(a[0].scale_, b[0].scale_)
    timing(f"{command} rerun after Ctrl-C", seconds, full)


FIT_SCRIPT = textwrap.dedent(
    """
    import sys, dask, numpy as np
    from distributed import Client
    from sklearn.linear_model import SGDClassifier
    import daskpar as dp

    address, store, checkpoint, out = sys.argv[1:]
    X, y = dp.read_zarr(store)
    with Client(address) as client, dask.config.set(scheduler=client.get):
        model = dp.ParallelIncremental(
            SGDClassifier(random_state=0), epochs=12, random_state=0,
            checkpoint=None if checkpoint == "-" else checkpoint,
        )
        model.fit(X, y, classes=[0, 1])
    np.save(out, model.estimator_.coef_)
    """
)


def test_a_client_killed_mid_fit_resumes_to_the_same_model(tmp_path: Path) -> None:
    X, y = dp.make_classification(n_samples=200_000, n_features=20, chunks=10_000, random_state=0)
    dp.write_zarr(tmp_path / "d.zarr", X, y)
    script = tmp_path / "fit.py"
    script.write_text(FIT_SCRIPT)
    ck = tmp_path / "ck"
    with scheduler_processes(tmp_path, n_workers=2) as address:

        def fit(checkpoint: str, out: str) -> subprocess.Popen[bytes]:
            args = [sys.executable, str(script), address, str(tmp_path / "d.zarr")]
            return subprocess.Popen([*args, checkpoint, str(tmp_path / out)], cwd=REPO)

        start = time.perf_counter()
        assert fit("-", "whole.npy").wait(timeout=600) == 0
        full = time.perf_counter() - start
        victim = fit(str(ck), "killed.npy")
        deadline = time.monotonic() + 300
        while not (ck / FILE_NAME).exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        first = (ck / FILE_NAME).stat().st_mtime_ns
        while (ck / FILE_NAME).stat().st_mtime_ns == first and time.monotonic() < deadline:
            time.sleep(0.02)
        victim.kill()  # kill -9 in epoch 3: no clean-up at all
        victim.wait(timeout=60)
        assert not (tmp_path / "killed.npy").exists()
        start = time.perf_counter()
        assert fit(str(ck), "resumed.npy").wait(timeout=600) == 0
        seconds = time.perf_counter() - start
    np.testing.assert_array_equal(
        np.load(tmp_path / "resumed.npy"), np.load(tmp_path / "whole.npy")
    )
    timing("rerun after kill -9 of the client", seconds, full)
