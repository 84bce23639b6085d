"""A daskpar cluster on SLURM, with dask-jobqueue: this client's own environment on every
worker, and the workers on the network interface that the scheduler and they share.

Run it on a login node (or in a job), in the environment daskpar is installed in, on a
filesystem that the compute nodes mount at the same path::

    python slurm_cluster.py

The workers run ``python -m distributed.cli.dask_worker`` (``dask worker``) with this very
interpreter (``sys.executable``): the same daskpar, scikit-learn, numpy, dask and distributed
as the client. ``client.get_versions(check=True)`` refuses a worker that differs.
"""

from __future__ import annotations

import sys
from typing import Any

from dask.distributed import Client
from dask_jobqueue import SLURMCluster

#: The compute nodes' fast network (InfiniBand here); `ip -brief addr` on a compute node
#: lists its interfaces. Without it, the scheduler and each worker give out the address of
#: the interface that routes to the Internet: often a management network, or none.
INTERFACE = "ib0"


def slurm_cluster(interface: str = INTERFACE, scheduler_interface: str | None = None) -> Any:
    """A SLURMCluster of 1-thread workers (4 per job) on ``interface``.

    The scheduler runs here, in this process, and listens on ``scheduler_interface``: by
    default the workers' own, which the login node must then have too; name the login
    node's interface on the same network when its name differs.
    """
    return SLURMCluster(
        queue="normal",
        account="my-account",
        cores=4,
        processes=4,  # 4 workers per job, 1 thread each
        memory="16GiB",
        walltime="02:00:00",
        # The workers' interface (dask worker --interface) ...
        interface=interface,
        # ... and the scheduler's: dask-jobqueue uses `interface` for both unless this says
        # otherwise. The dashboard stays on the login node's loopback (ssh -L 8787:...).
        scheduler_options={
            "interface": scheduler_interface or interface,
            "dashboard_address": "127.0.0.1:8787",
        },
        # The client's interpreter: one environment for all (dask-jobqueue's default,
        # written out because everything depends on it).
        python=sys.executable,
        # Node-local scratch for spilled data; SLURM sets TMPDIR on most clusters.
        local_directory="$TMPDIR",
        log_directory="dask-logs",
    )


if __name__ == "__main__":
    cluster = slurm_cluster()
    print(cluster.job_script())
    cluster.scale(jobs=2)  # 2 jobs of 4 workers
    client = Client(cluster)
    client.wait_for_workers(8, timeout=600)
    client.get_versions(check=True, packages=["daskpar", "sklearn"])
    print(client)
