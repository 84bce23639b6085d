"""A Dask cluster on this machine that only its own process can use.

A ``LocalCluster`` listens on a TCP port, and anything that can connect to a Dask scheduler
can run code on its workers, as the user who started them. On 127.0.0.1 that still includes
every other user of a shared machine (a login node, a shared workstation), who can find the
port in ``/proc/net/tcp``. :func:`local_cluster` closes that door: the scheduler, the workers
and the client speak TLS with certificates made afresh, in memory, for that cluster alone
(distributed's ``Security.temporary()``). Only the process that made the cluster, and the
worker processes it starts, hold them; nothing is written to disk or passed on a command line.
The dashboard, which is plain HTTP and cannot run code, is bound to 127.0.0.1.

Its scratch folder is private too. By default every Dask server uses
``$TMPDIR/dask-scratch-space``, reuses it when it exists whoever made it, and puts it first on
``sys.path``: in a shared ``/tmp``, another user who made that folder first could place a
module there that the client, the scheduler and the workers would import. The cluster's
scheduler, nannies and workers work in a folder made for it (mode 0700), removed with it.
"""

from __future__ import annotations

import functools
import shutil
from typing import Any

__all__ = ["local_cluster"]


def local_cluster(
    n_workers: int | None = None,
    *,
    threads_per_worker: int = 1,
    dashboard_address: str = "127.0.0.1:0",
    **kwargs: Any,
) -> Any:
    """A ``distributed.LocalCluster`` on 127.0.0.1 that other users of this machine cannot use.

    Every connection is TLS with certificates made in memory for this cluster alone
    (``distributed.Security.temporary()``): a client needs them to connect, and only this
    process has them, so ``Client(cluster)`` connects and a ``Client`` of another process,
    another local user's included, is refused. Everything else is ``LocalCluster``'s.

    Parameters
    ----------
    n_workers : int, default=None
        Worker processes; None starts one per core.
    threads_per_worker : int, default=1
        Threads of each worker: one, as daskpar's CLI does, so that a task has a core.
    dashboard_address : str, default="127.0.0.1:0"
        Where the dashboard listens (port 0: any free port; ``client.dashboard_link`` says
        which). It is plain HTTP and shows the cluster's tasks and logs: keep it on loopback.
    **kwargs
        Passed to ``LocalCluster``; ``host``, ``protocol`` and ``security`` are daskpar's.
        Without ``local_directory``, the cluster works in a private folder of its own.

    Returns
    -------
    distributed.LocalCluster
        Use it as ``Client(cluster)``, or in a ``with`` block to close it.

    Examples
    --------
    >>> import daskpar as dp
    >>> from distributed import Client
    >>> with dp.local_cluster(1, processes=False) as cluster, Client(cluster) as client:
    ...     print(cluster.scheduler_address.startswith("tls://127.0.0.1:"))
    True
    """
    import os
    import tempfile

    import dask
    from distributed import Security

    fixed = sorted({"host", "protocol", "security"} & set(kwargs))
    if fixed:
        raise TypeError(
            f"local_cluster() sets {fixed} itself: it binds 127.0.0.1 and speaks TLS with "
            "certificates of its own. For another address or your own certificates, make a "
            "LocalCluster (see daskpar.tls)."
        )
    private = None
    if "local_directory" not in kwargs:
        private = tempfile.mkdtemp(prefix="daskpar-cluster-")  # mode 0700, this user's
        kwargs["local_directory"] = private
    # The scheduler (in this process) takes its scratch folder from dask's setting; the
    # nannies pass the setting on to the worker processes they start, restarts included.
    try:
        with dask.config.set({"temporary-directory": kwargs["local_directory"]}):
            cluster = _cluster_class()(
                n_workers=n_workers if n_workers is not None else os.cpu_count() or 1,
                threads_per_worker=threads_per_worker,
                host="127.0.0.1",
                protocol="tls://",
                security=Security.temporary(),
                dashboard_address=dashboard_address,
                **kwargs,
            )
    except BaseException:
        if private is not None:
            shutil.rmtree(private, ignore_errors=True)
        raise
    cluster.private_directory = private
    return cluster


@functools.cache
def _cluster_class() -> type:
    """``LocalCluster`` that removes its private scratch folder when it closes (made here so
    that distributed is imported only when a cluster starts)."""
    from distributed import LocalCluster

    class PrivateLocalCluster(LocalCluster):
        private_directory: str | None = None

        async def _close(self) -> None:
            try:
                await super()._close()  # type: ignore[no-untyped-call]
            finally:
                if self.private_directory is not None:
                    shutil.rmtree(self.private_directory, ignore_errors=True)

    PrivateLocalCluster.__name__ = PrivateLocalCluster.__qualname__ = "LocalCluster"
    return PrivateLocalCluster
