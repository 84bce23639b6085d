"""The cluster made ready before daskpar computes on it (``daskpar._cluster_check``).

- Versions: on a real ``LocalCluster`` of worker processes, the client, the scheduler and
  the workers report what ``importlib.metadata`` reports here, and a second check asks
  nothing; a ``dask worker`` process whose environment holds another daskpar (a
  ``daskpar-0.0.1+other.dist-info`` first on its ``PYTHONPATH``, as another install would)
  is named in the error with both versions, unless the check is turned off; and the same
  worker, joining after a passing check, is refused by the worker plugin: it closes itself
  and says why.
- No workers: against a ``dask scheduler`` process with none, the library and the command
  line say that they wait, fail within the configured time with an error that says how to
  start a worker, and a worker started during the wait lets the command finish.
"""

from __future__ import annotations

import json
import operator
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from importlib.metadata import version
from pathlib import Path
from typing import Any
from unittest import mock

import dask
import pytest
from daskpar_testing import EXE, invoke, local_cluster, one_line_error
from distributed import Client

import daskpar as dp
from daskpar._cluster_check import (
    CHECK_KEY,
    PACKAGES,
    PLUGIN_NAME,
    TOPIC,
    WAIT_KEY,
    NoWorkersError,
    VersionMismatchError,
    check_cluster,
    ensure_cluster_ready,
    info,
    wait_for_workers,
    worker_wait,
)

DASK = str(Path(sys.executable).with_name("dask"))
OTHER = "0.0.1+other"


def other_daskpar(folder: Path) -> dict[str, str]:
    """An environment with another daskpar first on ``PYTHONPATH``: version :data:`OTHER`,
    as ``importlib.metadata`` reports it, and an older package without the version check."""
    site = folder / "other-site"
    (site / f"daskpar-{OTHER}.dist-info").mkdir(parents=True, exist_ok=True)
    (site / f"daskpar-{OTHER}.dist-info" / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: daskpar\nVersion: {OTHER}\n"
    )
    (site / "daskpar").mkdir(exist_ok=True)
    (site / "daskpar" / "__init__.py").write_text(f"__version__ = {OTHER!r}\n")
    return {"PYTHONPATH": str(site)}


def environment(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DASK_", "PYTHONPATH"))}
    return {**env, **(extra or {})}


@contextmanager
def stopped_by_pid(proc: subprocess.Popen[Any]) -> Iterator[subprocess.Popen[Any]]:
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=30)


@contextmanager
def scheduler_alone(cwd: Path) -> Iterator[str]:
    """A ``dask scheduler`` process on 127.0.0.1 with no worker; yields its address."""
    file = cwd / "scheduler.json"
    args = [DASK, "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard"]
    proc = subprocess.Popen(
        [*args, "--scheduler-file", str(file)],
        cwd=cwd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=environment(),
    )
    with stopped_by_pid(proc):
        deadline = time.monotonic() + 60
        while not file.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(0.2)  # written in one go, but be sure it is complete
        yield json.loads(file.read_text())["address"]


@contextmanager
def worker(address: str, cwd: Path, env: dict[str, str] | None = None) -> Iterator[Any]:
    """A ``dask worker`` process (under its nanny) named "other", its log in ``cwd``;
    yields (process, log path)."""
    log = cwd / "worker.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [DASK, "worker", address, "--nthreads", "1", "--no-dashboard", "--name", "other"],
            cwd=cwd,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=environment(env),
        )
    with stopped_by_pid(proc):
        yield proc, log


def plugin_names(client: Client, **where: Any) -> dict[str, list[str]]:
    """The worker plugins on each worker (a lambda, sent by value: a worker with another
    daskpar cannot import this module)."""
    return client.run(lambda dask_worker: sorted(dask_worker.plugins), **where)


def named(client: Client, name: str) -> str:
    (address,) = [a for a, w in client.scheduler_info()["workers"].items() if w["name"] == name]
    return address


# --------------------------------------------------------------------------------------------
# Versions


def test_a_matching_cluster_passes_and_is_asked_once(cluster: Any) -> None:
    with Client(cluster) as client:
        with mock.patch.object(client, "get_versions", wraps=client.get_versions) as asked:
            versions = check_cluster(client)
            assert check_cluster(client) == {}
            ensure_cluster_ready(client)
        assert asked.call_count == 1
        here = {name: version(name) for name in PACKAGES}
        hosts = [versions["client"], versions["scheduler"], *versions["workers"].values()]
        assert len(hosts) == 4
        for host in hosts:
            assert {name: host["packages"][name] for name in PACKAGES} == here
        # The plugin that checks the workers joining later is on every worker.
        assert all(PLUGIN_NAME in names for names in plugin_names(client).values())


def test_a_worker_with_another_daskpar_is_named_unless_the_check_is_off(
    cluster: Any, tmp_path: Path
) -> None:
    with Client(cluster) as client:
        if PLUGIN_NAME in plugin_names(client).popitem()[1]:
            client.unregister_worker_plugin(PLUGIN_NAME)  # left by another test
        good = sorted(client.nthreads())
        with worker(cluster.scheduler_address, tmp_path, other_daskpar(tmp_path)):
            client.wait_for_workers(len(good) + 1, timeout=60)
            odd = named(client, "other")
            with pytest.raises(VersionMismatchError) as raised:
                check_cluster(client)
            message = str(raised.value)
            assert (
                f"daskpar {version('daskpar')} on this client, but {OTHER} on worker {odd}"
                in message
            )
            assert "one image or one environment" in message
            assert CHECK_KEY in message
            assert not any(w in message for w in good), message
            # A refused check registers nothing: the odd worker still runs.
            assert PLUGIN_NAME not in plugin_names(client, workers=[odd])[odd]
            # daskpar.info shows the difference instead of raising, and looks for paths on
            # that worker too (its daskpar has no daskpar._cluster_check).
            found = info(client, [str(tmp_path)])
            assert found.mismatches == {"daskpar": {OTHER: [odd]}}
            assert found.paths == {str(tmp_path): dict.fromkeys([*good, odd], True)}
            # The opt-out, as dask's setting and as the environment variable spells it.
            for off in (False, "false"):
                with dask.config.set({CHECK_KEY: off}):
                    assert check_cluster(client) == {}
                    ensure_cluster_ready(client)
            assert client.submit(operator.add, 1, 2, workers=[odd]).result() == 3


def test_a_worker_joining_with_another_daskpar_is_refused(cluster: Any, tmp_path: Path) -> None:
    with Client(cluster) as client:
        check_cluster(client)
        before = set(client.nthreads())
        with worker(cluster.scheduler_address, tmp_path, other_daskpar(tmp_path)) as (proc, log):
            assert proc.wait(timeout=60) == 0  # it closed itself and its nanny
        text = log.read_text()
        assert "Refusing worker tcp://127.0.0.1:" in text, text
        assert f"daskpar {version('daskpar')} on the client, but {OTHER} on worker" in text
        (event,) = [e for _, e in client.get_events(TOPIC) if OTHER in e["message"]]
        assert event["worker"] in event["message"]
        assert set(client.nthreads()) == before
        assert client.submit(operator.add, 1, 2).result() == 3
        # The opt-out removes the plugin: workers joining later are not refused either.
        with dask.config.set({CHECK_KEY: False}):
            assert check_cluster(client) == {}
        assert not any(PLUGIN_NAME in names for names in plugin_names(client).values())


@pytest.mark.parametrize("value", ["maybe", 1, None])
def test_the_check_setting_must_be_true_or_false(value: object) -> None:
    expected = f"The dask setting 'daskpar.check-versions' must be True or False. Got {value!r}"
    with dask.config.set({CHECK_KEY: value}), pytest.raises(ValueError, match=re.escape(expected)):
        check_cluster(object())


@pytest.mark.parametrize(("value", "seconds"), [("2s", 2.0), (5, 5.0), ("1 minute", 60.0)])
def test_the_wait_setting_is_a_duration(value: object, seconds: float) -> None:
    with dask.config.set({WAIT_KEY: value}):
        assert worker_wait() == seconds
    # As the environment variable sets it (dask reads DASK_DASKPAR__WORKER_WAIT so).
    from_env = dask.config.collect_env({"DASK_DASKPAR__WORKER_WAIT": str(value)})
    with dask.config.set(from_env):
        assert worker_wait() == seconds


@pytest.mark.parametrize("value", ["soon", -1, True])
def test_a_wait_that_is_not_a_duration_is_refused(value: object) -> None:
    expected = rf"'daskpar.worker-wait' must be a duration such as '60s'.*Got {value!r} instead\."
    with dask.config.set({WAIT_KEY: value}), pytest.raises(ValueError, match=expected):
        worker_wait()


# --------------------------------------------------------------------------------------------
# No workers


def make_data(out: Path, address: str) -> list[str]:
    return ["make-data", str(out), "--rows", "100", "--features", "4", "--chunk-rows", "50",
            "--scheduler", address]  # fmt: skip


def test_no_workers_is_a_bounded_clear_failure_until_one_starts(tmp_path: Path) -> None:
    with scheduler_alone(tmp_path) as address:
        # The library: said, bounded, and how to start a worker.
        said: list[str] = []
        with Client(address, timeout=30) as client:
            start = time.monotonic()
            with pytest.raises(NoWorkersError) as raised:
                wait_for_workers(client, timeout=0.5, say=said.append)
            waited = time.monotonic() - start
        assert 0.5 <= waited < 5, waited
        assert said == [
            f"waiting for workers… the scheduler at {address} has none yet (waiting up to "
            "0.5 s; the dask setting 'daskpar.worker-wait' sets how long)"
        ]
        assert f"`dask worker {address}`" in str(raised.value)
        assert "docker compose up" in str(raised.value)
        # 0: no wait, for a cluster that starts workers when work arrives.
        with Client(address, timeout=30) as client, dask.config.set({WAIT_KEY: 0}):
            assert wait_for_workers(client, say=said.append) == 0
        assert len(said) == 1

        # The command line, with the wait set short.
        out = tmp_path / "d.zarr"
        start = time.monotonic()
        with dask.config.set({WAIT_KEY: "1s"}):
            failed = invoke(*make_data(out, address))
        elapsed = time.monotonic() - start
        last = one_line_error(failed)
        assert failed.stderr.startswith("waiting for workers… the scheduler at")
        assert last.startswith(f"Error: No worker joined the scheduler at {address} within 1 s")
        assert f"`dask worker {address}`" in last
        assert elapsed < 15, elapsed

        # ``daskpar info`` waits for nothing: it shows the empty cluster and fails at once.
        shown = invoke("info", "--scheduler", address)
        assert "workers: 0 (0 threads)" in shown.stdout
        assert f"start one: dask worker {address}" in one_line_error(shown)


def test_an_adaptive_cluster_is_not_waited_for() -> None:
    """It starts its workers when work arrives: waiting for one first would wait for ever."""
    said: list[str] = []
    with (
        local_cluster(processes=False, n_workers=0) as cluster,
        Client(cluster) as client,
    ):
        cluster.adapt(minimum=0, maximum=1)
        assert wait_for_workers(client, timeout=60, say=said.append) == 0
        assert client.submit(operator.add, 1, 2).result() == 3
    assert said == []


@pytest.mark.slow
def test_a_worker_started_during_the_wait_lets_the_command_go_on(tmp_path: Path) -> None:
    out = tmp_path / "d.zarr"
    # The worker takes seconds to start; connecting to the scheduler, a fraction of one.
    with (
        scheduler_alone(tmp_path) as address,
        worker(address, tmp_path),
        dask.config.set({WAIT_KEY: "120s"}),
    ):
        finished = invoke(*make_data(out, address))
    assert finished.exit_code == 0, (finished.output, finished.exception)
    assert finished.stderr.startswith("waiting for workers… the scheduler at")
    assert finished.stdout.startswith("wrote 100 x 4 to ")
    X, y = dp.read_zarr(out)
    assert X.shape == (100, 4)
    assert y is not None
    assert y.shape == (100,)


@pytest.mark.slow
def test_the_installed_command_takes_the_wait_from_the_environment(tmp_path: Path) -> None:
    with scheduler_alone(tmp_path) as address:
        start = time.monotonic()
        failed = subprocess.run(
            [EXE, *make_data(tmp_path / "d.zarr", address)],
            capture_output=True,
            text=True,
            timeout=300,
            env=environment({"DASK_DASKPAR__WORKER_WAIT": "2s"}),
            check=False,
        )
        elapsed = time.monotonic() - start
    assert failed.returncode == 1, failed.stderr
    assert "Traceback" not in failed.stderr
    assert "waiting for workers" in failed.stderr
    last = failed.stderr.strip().splitlines()[-1]
    assert last.startswith(f"Error: No worker joined the scheduler at {address} within 2 s")
    assert elapsed < 60, elapsed
