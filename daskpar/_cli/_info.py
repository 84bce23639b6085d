"""``daskpar info``: what the cluster is, and whether daskpar can run on it.

A thin shell over :func:`daskpar._cluster_check.info`: it prints the workers, their threads
and memory, the versions per host, TLS, the dashboard and which PATHS every worker sees, and
exits with status 1 (after printing all of it) when something would stop a command: no
worker, versions that differ, or a path that a worker cannot see. It waits for nothing and
refuses nothing before printing: it is what to run when another command fails.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from ._cluster import cluster
from ._context import user_errors
from ._options import dashboard_option, scheduler_option, workers_option


def _tls_options(command: Any) -> Any:
    """``--tls-ca-file/--tls-cert/--tls-key``, applied as the dask settings that
    ``distributed.Client`` reads (as the other commands' security options do)."""
    import functools

    @functools.wraps(command)
    def wrapper(
        *args: Any,
        tls_ca_file: Path | None,
        tls_cert: Path | None,
        tls_key: Path | None,
        **kwargs: Any,
    ) -> Any:
        import dask

        tls = (tls_ca_file, tls_cert, tls_key)
        settings: dict[str, Any] = {}
        if any(tls):
            if not all(tls):
                raise click.UsageError("--tls-ca-file, --tls-cert and --tls-key go together.")
            if not kwargs.get("scheduler"):
                raise click.UsageError(
                    "--tls-* options are for a --scheduler tls://HOST:PORT; the embedded "
                    "cluster makes certificates of its own, in memory, that no other process "
                    "holds."
                )
            settings = {
                "distributed.comm.tls.ca-file": str(tls_ca_file),
                "distributed.comm.tls.client.cert": str(tls_cert),
                "distributed.comm.tls.client.key": str(tls_key),
                "distributed.comm.require-encryption": True,
            }
        with dask.config.set(settings):
            return command(*args, **kwargs)

    file_type = click.Path(exists=True, dir_okay=False, path_type=Path)
    for option in reversed(
        [
            click.option("--tls-ca-file", type=file_type, default=None, help="TLS: the CA."),
            click.option(
                "--tls-cert", type=file_type, default=None, help="TLS: the client certificate."
            ),
            click.option("--tls-key", type=file_type, default=None, help="TLS: its key."),
        ]
    ):
        wrapper = option(wrapper)
    return wrapper


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
@_tls_options
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
