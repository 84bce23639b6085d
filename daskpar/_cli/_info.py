"""``daskpar info``: what the cluster is, and whether daskpar can run on it.

A thin shell over :func:`daskpar._cluster_check.info`: it prints the workers, their threads
and memory, the versions per host, TLS, the dashboard and which PATHS every worker sees, and
exits with status 1 (after printing all of it) when something would stop a command: no
worker, versions that differ, or a path that a worker cannot see. It waits for nothing and
refuses nothing before printing: it is what to run when another command fails.
"""

from __future__ import annotations

from typing import Any

import click

from ._cluster import cluster
from ._context import user_errors
from ._options import dashboard_option, scheduler_option, tls_options, workers_option


def _problems(found: Any) -> list[str]:
    """What would stop a command on the cluster ``found`` describes."""
    out = []
    if not found.workers:
        out.append(f"the scheduler has no workers (start one: dask worker {found.scheduler})")
    if found.mismatches:
        out.append(f"versions differ between hosts ({', '.join(found.mismatches)}; see above)")
    for path, seen in found.paths.items():
        blind = sorted(w for w, ok in seen.items() if not ok)
        if blind:
            out.append(f"{path} is not seen by worker {', '.join(blind)}")
    return out


@click.command("info")
@click.argument("paths", nargs=-1)
@scheduler_option
@workers_option
@dashboard_option
@tls_options
def info_command(
    paths: tuple[str, ...], scheduler: str | None, workers: int | None, dashboard_port: int
) -> None:
    """Describe the cluster: its workers, threads and memory, the versions of daskpar,
    scikit-learn, numpy, dask and distributed on every host, TLS, the dashboard, and whether
    every worker sees each of PATHS (data paths or fsspec URLs, such as s3://bucket/data).

    Exits with status 1, after printing all of it, when the cluster has no worker, when
    versions differ, or when a worker does not see one of PATHS.
    """
    from daskpar._cluster_check import info

    with user_errors(), cluster(scheduler, workers, dashboard_port, ready=False) as client:
        found = info(client, paths)
    click.echo(repr(found))
    problems = _problems(found)
    if problems:
        raise click.ClickException("; ".join(problems) + ".")
