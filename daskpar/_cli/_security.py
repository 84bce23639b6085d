"""``daskpar certs`` and ``daskpar audit``: TLS certificates and the audit log."""

from __future__ import annotations

from pathlib import Path

import click

from ._context import user_errors
from ._options import absolute_path, host_names


@click.command("certs")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--host",
    "hosts",
    multiple=True,
    callback=host_names,
    default=("127.0.0.1", "localhost"),
    show_default=True,
    help="A name or address the scheduler and workers are reached at (repeatable); the "
    "printed commands bind the first.",
)
@click.option("--days", type=click.IntRange(min=1), default=365, show_default=True)
@click.option(
    "--config-dir",
    default=None,
    callback=absolute_path,
    help="Where the files will be inside containers (the Dask configurations' paths).",
)
@click.option("--overwrite", is_flag=True, help="Replace existing certificate files.")
def certs_command(
    directory: Path, hosts: tuple[str, ...], days: int, config_dir: str | None, overwrite: bool
) -> None:
    """Create a CA and TLS certificates for a scheduler, workers and a client in DIRECTORY.

    Key files are written with mode 0600. Each role also gets a Dask configuration,
    dask-tls-ROLE.yaml, that names ca.pem and the role's own certificate and key only: point
    DASK_CONFIG at it, or pass the --tls-* options. Give each machine or container those
    files only; ca-key.pem, which signs certificates, stays here. The printed commands bind
    the first --host, and the scheduler's dashboard to 127.0.0.1.
    """
    import shlex

    from daskpar.tls import ROLES, make_certificates

    with user_errors():
        files = make_certificates(
            directory, hosts=hosts, days=days, config_directory=config_dir, overwrite=overwrite
        )
    host = hosts[0]
    address = f"tls://{f'[{host}]' if ':' in host else host}:8786"
    # Bound to the given address, not every interface; the dashboard is HTTP, on loopback.
    commands = {
        "scheduler": ["dask", "scheduler", "--protocol", "tls", "--host", host,
                      "--port", "8786", "--dashboard-address", "127.0.0.1:8787"],
        "worker": ["dask", "worker", address, "--host", host,
                   "--dashboard-address", "127.0.0.1:0"],
        "client": ["daskpar", "train", "DATA", "--scheduler", address],
    }  # fmt: skip
    click.echo(f"wrote a CA and scheduler, worker and client certificates to {directory}")
    click.echo(
        "give each process ca.pem and its own role's files only; ca-key.pem stays here "
        "(it signs certificates)"
    )
    for role in ROLES:
        click.echo(f"  {role}: {' '.join(path.name for path in files.needed_by(role))}")
        click.echo(f"    {shlex.join([*commands[role], *files.cli_args(role)])}")
    configs = Path(config_dir) if config_dir is not None else files.directory
    click.echo(
        f"or DASK_CONFIG={configs / 'dask-tls-ROLE.yaml'} in place of the --tls-* options"
        + (f" (with the role's files mounted at {config_dir})" if config_dir else "")
    )
    click.echo("a worker on another machine: --host with that machine's address")
    click.echo(
        "the dashboard's pages answer without a certificate: keep it on 127.0.0.1 and reach "
        "it through an SSH tunnel"
    )


@click.group("audit")
def audit_group() -> None:
    """Read and check an audit log (written by --audit or dask's daskpar.audit setting)."""


@audit_group.command("verify")
@click.argument("log", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--head",
    default=None,
    help="The last record's hash, kept elsewhere: a log cut short is then detected too.",
)
def audit_verify_command(log: Path, head: str | None) -> None:
    """Check LOG's hash chain; name the first broken record (exit status 1)."""
    from daskpar import audit

    with user_errors():
        verified = audit.verify(log, head=head)
        click.echo(f"{log}: {verified.n_records} records, chain intact; head {verified.head}")


@audit_group.command("show")
@click.argument("log", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def audit_show_command(log: Path) -> None:
    """Print LOG as a table, and the head hash to keep elsewhere."""
    from daskpar import audit

    with user_errors():
        click.echo(audit.format_table(audit.show(log)))
        verified = audit.verify(log)
        click.echo(f"\nhead {verified.head} (keep it elsewhere to detect a log cut short)")
