"""Shared fixtures: small in-memory data sets split into dask partitions."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import dask
import dask.array as da
import numpy as np
import pytest
from dask.callbacks import Callback
from sklearn.datasets import make_classification, make_regression

if TYPE_CHECKING:
    from distributed import LocalCluster


@pytest.fixture(autouse=True)
def _sync_scheduler_by_default() -> object:
    # Tests that want threads or a cluster ask for them; the rest run in the test's thread,
    # where failures are easiest to read.
    with dask.config.set(scheduler="sync"):
        yield


def as_dask(
    X: np.ndarray, y: np.ndarray, chunks: int | tuple[int, ...]
) -> tuple[da.Array, da.Array]:
    """``X`` and ``y`` split into the same row partitions."""
    Xd = da.from_array(X, chunks=(chunks, -1))
    return Xd, da.from_array(y, chunks=(Xd.chunks[0],))


@pytest.fixture(scope="session")
def binary() -> tuple[np.ndarray, np.ndarray]:
    return make_classification(
        n_samples=6000, n_features=12, n_informative=6, n_redundant=2, random_state=0
    )


@pytest.fixture(scope="session")
def multiclass() -> tuple[np.ndarray, np.ndarray]:
    return make_classification(
        n_samples=6000,
        n_features=12,
        n_informative=8,
        n_classes=4,
        n_clusters_per_class=1,
        random_state=1,
    )


@pytest.fixture(scope="session")
def regression() -> tuple[np.ndarray, np.ndarray]:
    X, y = make_regression(n_samples=4000, n_features=10, noise=1.0, random_state=2)
    return X, y


@contextmanager
def no_task_runs() -> Iterator[None]:
    """Fail if any dask task runs inside the block: the error came from the client's checks."""
    ran: list[object] = []

    class Count(Callback):  # type: ignore[misc]
        def _pretask(self, key: object, dsk: object, state: object) -> None:
            ran.append(key)

    with Count():
        yield
    assert ran == [], f"{len(ran)} tasks ran before the error"


@contextmanager
def ctrl_c_as_in_a_terminal() -> Iterator[None]:
    """SIGINT raising KeyboardInterrupt here, and the default SIGINT in processes started here.

    A shell starts background jobs (``make test &``, nohup, some CI runners) with SIGINT
    ignored, and Python then keeps ignoring it: a test of Ctrl-C would wait for an interrupt
    that never comes. A handled signal is reset to its default in a started program, which
    Python then turns into KeyboardInterrupt, as in a terminal.
    """
    import signal

    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


@contextmanager
def scheduler_processes(
    cwd: Path,
    n_workers: int = 1,
    env: dict[str, str] | None = None,
    worker_args: tuple[str, ...] = (),
) -> Iterator[str]:
    """``dask scheduler`` and ``n_workers`` ``dask worker`` processes (each under its nanny,
    with ``worker_args``) on 127.0.0.1, started in ``cwd`` with ``env`` added to the
    environment; yields the scheduler's address once the workers are in, and stops them all
    by PID."""
    import os

    from distributed import Client

    scheduler_file = cwd / "scheduler.json"
    dask_cli = str(Path(sys.executable).parent / "dask")
    procs: list[subprocess.Popen[bytes]] = []

    def start(*args: str) -> None:
        procs.append(
            subprocess.Popen(
                [dask_cli, *args, "--host", "127.0.0.1", "--no-dashboard"],
                cwd=cwd,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                env={**os.environ, **(env or {})},
            )
        )

    try:
        start("scheduler", "--port", "0", "--scheduler-file", str(scheduler_file))
        deadline = time.monotonic() + 60
        while not scheduler_file.exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(0.2)  # the file is written in one go, but be sure it is complete
        address: str = json.loads(scheduler_file.read_text())["address"]
        for _ in range(n_workers):
            start("worker", address, "--nthreads", "1", *worker_args)
        with Client(address, timeout=60) as client:
            client.wait_for_workers(n_workers, timeout=60)
        yield address
    finally:
        for proc in reversed(procs):
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=30)


@contextmanager
def kept_open(*args: str) -> Iterator[tuple[subprocess.Popen[str], list[str]]]:
    """``daskpar ARGS --keep-open`` started as a terminal starts a command (its own process
    group, Ctrl-C as in a terminal), and the lines it printed up to its Ctrl-C prompt. Killed
    on the way out if the test has not stopped it; a hang dumps its threads' stacks (SIGABRT
    with ``PYTHONFAULTHANDLER``) to its stderr."""
    import os

    exe = Path(sys.executable).with_name("daskpar")
    env = {k: v for k, v in os.environ.items() if k != "DASK_SCHEDULER_ADDRESS"}
    env["PYTHONFAULTHANDLER"] = "1"
    with ctrl_c_as_in_a_terminal():
        proc = subprocess.Popen(
            [str(exe), *args, "--keep-open"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            start_new_session=True,  # its own process group, as a command in a terminal
        )
    try:
        assert proc.stdout is not None
        lines = []
        for line in proc.stdout:
            lines.append(line)
            if "press Ctrl-C to stop" in line:
                break
        yield proc, lines
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=30)


def tls_paths(config: dict[str, Any]) -> set[str]:
    """Every path a Dask configuration's ``distributed.comm.tls`` section names, at any depth:
    its certificates and keys."""
    found: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for value in node.values():
                walk(value)
        elif isinstance(node, str) and node.startswith("/"):
            found.add(node)

    walk(config["distributed"]["comm"]["tls"])
    return found


def everything_shown(error: BaseException) -> str:
    """All an error can show: the type, message, repr, args and notes of it and its whole
    chain (causes and contexts), and its traceback as printed, without locals."""
    parts: list[str] = []
    seen: set[int] = set()
    stack: list[BaseException | None] = [error]
    while stack:
        e = stack.pop()
        if e is None or id(e) in seen:
            continue
        seen.add(id(e))
        parts += [type(e).__name__, str(e), repr(e), repr(e.args), *getattr(e, "__notes__", [])]
        stack += [e.__cause__, e.__context__]
    parts += traceback.format_exception(error)
    return "\n".join(parts)


# Hypothesis profiles of the property tests (tests/test_properties*.py): "ci", the default,
# derandomized with few examples so that `make test` is fast and the same every run; "deep",
# which `make test-slow` selects (HYPOTHESIS_PROFILE=deep), many more and random ones.
def _register_hypothesis_profiles() -> None:
    import os

    from hypothesis import HealthCheck, settings

    slow_data = [HealthCheck.too_slow, HealthCheck.data_too_large]
    settings.register_profile(
        "ci",
        max_examples=100,
        derandomize=True,
        deadline=None,
        print_blob=True,
        suppress_health_check=slow_data,
    )
    settings.register_profile(
        "deep", max_examples=300, deadline=None, print_blob=True, suppress_health_check=slow_data
    )
    settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


_register_hypothesis_profiles()


# --------------------------------------------------------------------------------------------
# Clusters


@contextmanager
def local_cluster(*, processes: bool, n_workers: int = 2, **options: Any) -> Iterator[LocalCluster]:
    """A ``LocalCluster`` for a test: ``n_workers`` workers of one thread each, no dashboard,
    critical log messages only; ``options`` override those or add others.

    ``processes=True`` runs the workers in processes of their own on 127.0.0.1, so that
    models, states and task bodies travel between processes as on a real cluster; False keeps
    them in this process (``inproc://``), which starts in a fraction of the time.
    """
    import logging

    from distributed import LocalCluster

    settings: dict[str, Any] = {
        "n_workers": n_workers,
        "threads_per_worker": 1,
        "processes": processes,
        "dashboard_address": None,
        "silence_logs": logging.CRITICAL,
    }
    if processes:
        settings["host"] = "127.0.0.1"
    with LocalCluster(**{**settings, **options}) as cluster:
        yield cluster


@pytest.fixture(scope="module")
def cluster() -> Iterator[LocalCluster]:
    """Two worker processes (:func:`local_cluster`), shared by the tests of a module."""
    with local_cluster(processes=True) as local:
        yield local
