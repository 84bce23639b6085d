"""The cluster a command runs on: a running scheduler, or an embedded LocalCluster."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import click


def _connect(scheduler: str) -> Any:
    """A ``Client`` of ``scheduler``, or a one-line error within dask's connect timeout.

    distributed bounds the TCP connection by that timeout, but not the handshake after it: an
    address that accepts connections and never answers (a wrong port, a firewall, another
    service) would hang the client for ever. The client is therefore made in a daemon thread,
    waited for as long as the timeout (and a little more), and abandoned after it.

    A client still waiting for its handshake has already made itself dask's default
    scheduler, which dask's ``get_scheduler`` would fall back to after the error: it is
    closed before the error is raised, so that nothing outlives it.
    """
    import threading

    import dask
    from dask.utils import parse_timedelta
    from distributed import Client

    timeout = dask.config.get("distributed.comm.timeouts.connect")
    outcome: list[Any] = []
    before = _default_client()

    def connect() -> None:
        try:
            outcome.append(Client(scheduler, timeout=timeout))
        except BaseException as error:  # reported by the caller
            outcome.append(error)

    thread = threading.Thread(target=connect, name="daskpar-connect", daemon=True)
    thread.start()
    thread.join(parse_timedelta(timeout) + 2)
    result = outcome[0] if outcome else TimeoutError("no answer to the handshake")
    if isinstance(result, BaseException):
        stuck = _default_client()
        if stuck is not None and stuck is not before:
            # Closing it ends its handshake too: the thread then ends with an error of its own.
            with contextlib.suppress(Exception):
                stuck.close(timeout=timeout)
        if not isinstance(result, OSError | TimeoutError):
            raise result
        raise click.ClickException(
            f"cannot reach the scheduler at {scheduler} within {timeout} ({result}). Is it "
            "running, and is the address right? To wait longer, set "
            "DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT (such as 60s)."
        )
    return result


def _default_client() -> Any:
    """distributed's default client, or None."""
    from distributed import default_client

    try:
        return default_client()
    except ValueError:  # "No clients found"
        return None


#: The embedded cluster drops a worker that has not been heard from for this long (a frozen
#: process or host), and runs its tasks elsewhere; distributed's default is 5 minutes.
EMBEDDED_WORKER_TTL = "15s"


def _embedded_worker_ttl() -> str:
    """:data:`EMBEDDED_WORKER_TTL`, unless the user set ``distributed.scheduler.worker-ttl``."""
    import dask
    import distributed  # noqa: F401  (loads distributed's defaults into dask's config)

    setting = dask.config.get("distributed.scheduler.worker-ttl")
    return EMBEDDED_WORKER_TTL if setting == "5 minutes" else setting


@contextlib.contextmanager
def cluster(
    scheduler: str | None, workers: int | None, dashboard_port: int = 0, *, ready: bool = True
) -> Iterator[Any]:
    """A ``distributed.Client``: to ``scheduler`` if given, else to an embedded LocalCluster.

    The embedded cluster is :func:`daskpar.local_cluster`: the scheduler, the workers and the
    dashboard on 127.0.0.1, and TLS with certificates made in memory for it alone, since
    anything that reaches a scheduler can run code on its workers, and other users of this
    machine reach 127.0.0.1 too. Its scheduler drops a worker silent for
    :data:`EMBEDDED_WORKER_TTL` (or ``distributed.scheduler.worker-ttl`` if the user set
    it). A scheduler that does not answer within dask's connect timeout
    (``distributed.comm.timeouts.connect``, 30 s by default) is a one-line error.

    With ``ready`` (what a command that computes needs), a scheduler's cluster is made ready
    first: with no worker, the command says that it waits for one, for as long as the dask
    setting ``daskpar.worker-wait`` allows (``DASK_DASKPAR__WORKER_WAIT``, 60 s by default),
    then fails with a one-line error that says how to start one; and the versions of daskpar,
    scikit-learn, numpy, dask and distributed must be the same on this client, the scheduler
    and every worker (unless the dask setting ``daskpar.check-versions`` is False). The
    embedded cluster runs in this environment and starts its workers before it is used.
    """
    import logging

    import dask
    from distributed import Client

    from daskpar import local_cluster

    # distributed's client leaves a task failed on purpose when a Ctrl-C stops its gather,
    # which asyncio reports with a traceback ("Task exception was never retrieved").
    logging.getLogger("asyncio").setLevel(logging.CRITICAL)
    if scheduler:
        if scheduler.startswith("tls://") and not dask.config.get(
            "distributed.comm.tls.ca-file", None
        ):
            raise click.UsageError(
                f"{scheduler} needs the cluster's certificates: pass --tls-ca-file, --tls-cert "
                "and --tls-key, or set DASK_CONFIG to the dask-tls-client.yaml that `daskpar "
                "certs` wrote."
            )
        with _connect(scheduler) as client:
            if ready:
                _make_ready(client)
            yield client
        return
    # The embedded cluster's own INFO logging would drown the command's output.
    logging.getLogger("distributed").setLevel(logging.ERROR)
    with (
        dask.config.set({"distributed.scheduler.worker-ttl": _embedded_worker_ttl()}),
        local_cluster(workers, dashboard_address=f"127.0.0.1:{dashboard_port}") as local,
        Client(local) as client,
    ):
        client.register_plugin(_quiet_workers())
        yield client


def _make_ready(client: Any) -> None:
    """Wait for a first worker, saying so on stderr, and check the versions: a one-line
    error if either fails (:func:`daskpar._cluster_check.ensure_cluster_ready`)."""
    from daskpar._cluster_check import check_cluster, wait_for_workers

    try:
        wait_for_workers(client, say=lambda line: click.echo(line, err=True))
        check_cluster(client)
    except ValueError as error:  # DaskparError, and a bad daskpar.* setting
        raise click.ClickException(str(error)) from None


def worker_threads(client: Any) -> int:
    """How many tasks the cluster runs at once."""
    return max(1, sum(client.nthreads().values()))


def _quiet_workers() -> Any:
    """A worker plugin for the embedded cluster, whose workers write to this terminal.

    A failed task is reported once, by the CLI: the workers' "Compute Failed" record with its
    traceback would precede the one-line error the CLI prints. Nor do they warn that a
    message's size estimate failed: the nested profile that ``--report`` asks them for
    defeats ``sizeof``, which changes nothing but the bytes counted. And Ctrl-C, which the
    terminal sends to every process of the command, is left to the command: it stops the
    cluster, worker processes included, instead of each worker printing its own traceback.
    (Defined here so that distributed is imported only when a cluster starts: ``--help``
    stays fast.)
    """
    import logging
    import signal
    import threading

    from distributed.diagnostics.plugin import WorkerPlugin

    class QuietWorkers(WorkerPlugin):
        name = "daskpar-quiet-workers"

        def setup(self, worker: Any) -> None:
            logging.getLogger("distributed.worker").setLevel(logging.CRITICAL)
            logging.getLogger("distributed.sizeof").setLevel(logging.ERROR)
            # A worker process runs its event loop, and so this, in its main thread.
            if threading.current_thread() is threading.main_thread():
                signal.signal(signal.SIGINT, signal.SIG_IGN)

    return QuietWorkers()


def describe_cluster(client: Any) -> None:
    info = client.scheduler_info()
    click.echo(
        f"cluster: {len(info['workers'])} workers at {info['address']}; "
        f"dashboard: {client.dashboard_link}"
    )
