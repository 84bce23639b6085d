"""The ``daskpar`` command line: a thin shell over the public API.

Heavy imports (dask, distributed, scikit-learn) happen inside the commands, so ``--help`` is fast.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click

__all__ = ["main"]

#: ``--model`` choices: a name the user types -> (estimator class path, parameters).
MODELS: dict[str, tuple[str, dict[str, Any]]] = {
    "adaptive-log": ("daskpar.AdaptiveSGDClassifier", {"loss": "log_loss"}),
    "adaptive-hinge": ("daskpar.AdaptiveSGDClassifier", {"loss": "hinge"}),
    "adaptive-modified-huber": ("daskpar.AdaptiveSGDClassifier", {"loss": "modified_huber"}),
    "adaptive-regressor": ("daskpar.AdaptiveSGDRegressor", {}),
    "sgd-log": ("sklearn.linear_model.SGDClassifier", {"loss": "log_loss"}),
    "sgd-hinge": ("sklearn.linear_model.SGDClassifier", {"loss": "hinge"}),
    "sgd-modified-huber": ("sklearn.linear_model.SGDClassifier", {"loss": "modified_huber"}),
    "perceptron": ("sklearn.linear_model.Perceptron", {}),
    "sgd-regressor": ("sklearn.linear_model.SGDRegressor", {}),
    "multinomial-nb": ("sklearn.naive_bayes.MultinomialNB", {}),
    "bernoulli-nb": ("sklearn.naive_bayes.BernoulliNB", {}),
    "gaussian-nb": ("sklearn.naive_bayes.GaussianNB", {}),
}

#: The default ``--model``: daskpar's own learner, which needs no scaler (see
#: benchmarks/RESULTS.md for how it compares with SGDClassifier).
DEFAULT_MODEL = "adaptive-log"

#: The scaler ``--scale`` puts before a model: MultinomialNB needs non-negative features.
SCALERS: dict[str, str] = {"multinomial-nb": "MinMaxScaler"}


def _needs_scaler(model_name: str) -> bool:
    """The adaptive learners normalize every feature themselves; the others want a scaler."""
    return not model_name.startswith("adaptive-")


def _make_model(name: str) -> Any:
    import importlib

    path, params = MODELS[name]
    module, _, cls = path.rpartition(".")
    return getattr(importlib.import_module(module), cls)(**params)


def _make_scaler(model_name: str) -> Any:
    import daskpar as dp

    return getattr(dp, SCALERS.get(model_name, "StandardScaler"))()


scheduler_option = click.option(
    "--scheduler",
    envvar="DASK_SCHEDULER_ADDRESS",
    default=None,
    metavar="ADDRESS",
    help="Address of a running Dask scheduler (default: $DASK_SCHEDULER_ADDRESS, else an "
    "embedded LocalCluster on 127.0.0.1).",
)
workers_option = click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=None,
    help="Workers of the embedded LocalCluster (default: one per core).",
)
dashboard_option = click.option(
    "--dashboard-port",
    type=click.IntRange(min=0, max=65535),
    default=8787,
    show_default=True,
    help="Port of the embedded cluster's dashboard on 127.0.0.1 (0 picks a free one).",
)


def _output_file(ctx: Any, param: Any, value: Path | None) -> Path | None:
    """An output file's folder must exist: refused before any work, not after it. A symbolic
    link (dangling or not) is refused too: writing through it would write wherever it leads,
    outside the folder named (in a shared folder, a place another user chose)."""
    if value is None:
        return None
    if value.is_symlink():
        raise click.BadParameter(
            f"{value} is a symbolic link (to {os.readlink(value)}); daskpar does not write "
            "through links. Name the file itself, or remove the link."
        )
    if not value.resolve().parent.is_dir():
        raise click.BadParameter(f"the folder of {value} does not exist.")
    return value


def _host_names(ctx: Any, param: Any, value: tuple[str, ...]) -> tuple[str, ...]:
    """IP addresses or DNS names, as a certificate's subject alternative names hold them."""
    import ipaddress
    import re

    label = r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
    for host in value:
        try:
            ipaddress.ip_address(host)
        except ValueError:
            if len(host) > 253 or not re.fullmatch(rf"{label}(\.{label})*", host):
                raise click.BadParameter(
                    f"{host!r} is neither an IP address nor a host name."
                ) from None
    return value


def _absolute(ctx: Any, param: Any, value: str | None) -> str | None:
    if value is not None and not value.startswith("/"):
        raise click.BadParameter(f"{value!r} is not an absolute path (such as /certs).")
    return value


report_option = click.option(
    "--report",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    callback=_output_file,
    default=None,
    metavar="FILE.html",
    help="Write Dask's performance report of the work (task stream with the stage names, "
    "worker profiles, bandwidth) to FILE.html. An earlier report there is replaced, any "
    "other file only with --overwrite.",
)
checkpoint_option = click.option(
    "--checkpoint",
    type=click.Path(file_okay=False, path_type=Path),
    callback=_output_file,
    default=None,
    metavar="DIR",
    help="Write the training's state to DIR after every epoch; rerunning the same command "
    "resumes after the last epoch written (after a Ctrl-C, a kill or a lost client).",
)
overwrite_option = click.option(
    "--overwrite",
    is_flag=True,
    help="Start over: discard the checkpoint in --checkpoint DIR, and replace a --report "
    "file that is not a Dask performance report.",
)
keep_open_option = click.option(
    "--keep-open",
    is_flag=True,
    help="After the work, keep the embedded cluster and its dashboard running until Ctrl-C "
    "(which then ends the command with status 0).",
)


model_option = click.option(
    "--model",
    "model_name",
    type=click.Choice(sorted(MODELS)),
    default=DEFAULT_MODEL,
    show_default=True,
    help="The estimator: adaptive-* are daskpar.AdaptiveSGDClassifier / Regressor, the others "
    "scikit-learn's.",
)
epochs_option = click.option("--epochs", type=click.IntRange(min=1), default=3, show_default=True)
scale_option = click.option(
    "--scale/--no-scale",
    default=None,
    help="Scale the features in one pass first: daskpar.StandardScaler, or MinMaxScaler for "
    "multinomial-nb (which needs non-negative features). Default: on, except for the "
    "adaptive-* models, which need no scaler.",
)


def data_options(command: Any) -> Any:
    """``--x``, ``--y`` (zarr arrays) and ``--target`` (parquet / CSV column) of DATA."""
    for option in reversed(
        [
            click.option(
                "--x",
                "x_name",
                default="X",
                show_default=True,
                help="Feature array in zarr or HDF5.",
            ),
            click.option(
                "--y",
                "y_name",
                default="y",
                show_default=True,
                help="Target array in zarr or HDF5; for .npy data, the .npy file of targets.",
            ),
            click.option("--target", default=None, help="Target column of parquet or CSV data."),
            click.option("--seed", type=int, default=0, show_default=True),
        ]
    ):
        command = option(command)
    return command


def security_options(command: Any) -> Any:
    """``--audit LOG`` and ``--tls-ca-file/--tls-cert/--tls-key``, applied as dask settings.

    The command runs with dask's ``daskpar.audit`` setting (each fit, search, score, save and
    load appends one record to LOG) and the ``distributed.comm.tls`` client settings that
    ``distributed.Client`` reads, with encryption required.
    """
    import functools

    @functools.wraps(command)
    def wrapper(
        *args: Any,
        audit_log: Path | None,
        tls_ca_file: Path | None,
        tls_cert: Path | None,
        tls_key: Path | None,
        **kwargs: Any,
    ) -> Any:
        import dask

        settings: dict[str, Any] = {}
        if audit_log is not None:
            settings["daskpar.audit"] = str(audit_log.resolve())
        tls = (tls_ca_file, tls_cert, tls_key)
        if any(tls):
            if not all(tls):
                raise click.UsageError("--tls-ca-file, --tls-cert and --tls-key go together.")
            if not kwargs.get("scheduler"):
                raise click.UsageError(
                    "--tls-* options are for a --scheduler tls://HOST:PORT; the embedded "
                    "cluster makes certificates of its own, in memory, that no other process "
                    "holds."
                )
            settings.update(
                {
                    "distributed.comm.tls.ca-file": str(tls_ca_file),
                    "distributed.comm.tls.client.cert": str(tls_cert),
                    "distributed.comm.tls.client.key": str(tls_key),
                    "distributed.comm.require-encryption": True,
                }
            )
        _check_keys(encrypt=bool(kwargs.get("encrypt")))
        with dask.config.set(settings):
            return command(*args, **kwargs)

    file_type = click.Path(exists=True, dir_okay=False, path_type=Path)
    for option in reversed(
        [
            click.option(
                "--audit",
                "audit_log",
                type=click.Path(dir_okay=False, path_type=Path),
                callback=_output_file,
                default=None,
                help="Append one record per fit, search, score, save and load to this "
                "JSON-lines audit log (check it with `daskpar audit verify`).",
            ),
            click.option("--tls-ca-file", type=file_type, default=None, help="TLS: the CA."),
            click.option(
                "--tls-cert", type=file_type, default=None, help="TLS: the client certificate."
            ),
            click.option("--tls-key", type=file_type, default=None, help="TLS: its key."),
        ]
    ):
        wrapper = option(wrapper)
    return wrapper


def _check_keys(*, encrypt: bool) -> None:
    """Refuse a model key that is set but unusable (empty, too short, an unreadable file)
    before any work, not when the model is saved after training (or at the first checkpoint);
    and ``--encrypt`` without any key."""
    from daskpar import persist

    try:
        signing = persist.signing_key_id()
    except persist.ModelKeyError as error:
        raise click.ClickException(str(error)) from None
    encryption_env = (persist.ENCRYPTION_KEY_ENV, persist.ENCRYPTION_KEY_FILE_ENV)
    if encrypt and signing is None and not any(os.environ.get(e) for e in encryption_env):
        raise click.UsageError(
            f"--encrypt needs a key: set ${persist.KEY_ENV} or ${persist.KEY_FILE_ENV} (or "
            f"${persist.ENCRYPTION_KEY_ENV}). Make one with daskpar.persist.generate_key()."
        )


save_options = [
    click.option(
        "--save",
        "save_path",
        type=click.Path(dir_okay=False, path_type=Path),
        callback=_output_file,
        default=None,
        help="Save the fitted model to this file: daskpar's model format (no pickle), signed "
        "when $DASKPAR_MODEL_KEY or $DASKPAR_MODEL_KEY_FILE gives a key.",
    ),
    click.option(
        "--encrypt", is_flag=True, help="Encrypt the --save file (AES-256-GCM, the model key)."
    ),
]


def _save_model(model: Any, path: Path | None, encrypt: bool) -> None:
    if path is None:
        return
    import daskpar as dp
    from daskpar import persist

    dp.save(model, path, encrypt=encrypt)
    info = persist.describe(path)
    signed = "signed" if info["signed"] else "unsigned (set DASKPAR_MODEL_KEY to sign it)"
    click.echo(f"saved the model to {path}: {signed}, sha256 {persist.file_sha256(path)}")


def _connect(scheduler: str) -> Any:
    """A ``Client`` of ``scheduler``, or a one-line error within dask's connect timeout.

    distributed bounds the TCP connection by that timeout, but not the handshake after it: an
    address that accepts connections and never answers (a wrong port, a firewall, another
    service) would hang the client for ever. The client is therefore made in a daemon thread,
    waited for as long as the timeout (and a little more), and abandoned after it.
    """
    import threading

    import dask
    from dask.utils import parse_timedelta
    from distributed import Client

    timeout = dask.config.get("distributed.comm.timeouts.connect")
    outcome: list[Any] = []

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
        if not isinstance(result, OSError | TimeoutError):
            raise result
        raise click.ClickException(
            f"cannot reach the scheduler at {scheduler} within {timeout} ({result}). Is it "
            "running, and is the address right? To wait longer, set "
            "DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT (such as 60s)."
        )
    return result


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
def cluster(scheduler: str | None, workers: int | None, dashboard_port: int = 0) -> Iterator[Any]:
    """A ``distributed.Client``: to ``scheduler`` if given, else to an embedded LocalCluster.

    The embedded cluster is :func:`daskpar.local_cluster`: the scheduler, the workers and the
    dashboard on 127.0.0.1, and TLS with certificates made in memory for it alone, since
    anything that reaches a scheduler can run code on its workers, and other users of this
    machine reach 127.0.0.1 too. Its scheduler drops a worker silent for
    :data:`EMBEDDED_WORKER_TTL` (or ``distributed.scheduler.worker-ttl`` if the user set
    it). A scheduler that does not answer within dask's connect timeout
    (``distributed.comm.timeouts.connect``, 30 s by default) is a one-line error.
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


def _worker_threads(client: Any) -> int:
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


def _describe_cluster(client: Any) -> None:
    info = client.scheduler_info()
    click.echo(
        f"cluster: {len(info['workers'])} workers at {info['address']}; "
        f"dashboard: {client.dashboard_link}"
    )


def _check_report_path(report: Path | None, overwrite: bool | None = None) -> None:
    """Refuse, before any work, a report that could not be written after it, or that would
    replace a file daskpar did not write (without ``--overwrite``; ``None``: the command has
    no such option)."""
    if report is None:
        return
    if not report.resolve().parent.is_dir():
        raise click.ClickException(f"--report: the folder of {report} does not exist.")
    if report.is_file() and not overwrite:
        with open(report, "rb") as f:
            head = f.read(1 << 16)
        if b"Dask Performance Report" not in head:
            hint = "" if overwrite is None else ", or pass --overwrite to replace it"
            raise click.ClickException(
                f"--report: {report} exists and is not a Dask performance report; pick "
                f"another name{hint}."
            )


def _start_checkpoint(checkpoint: Path | None, overwrite: bool) -> None:
    """With ``--overwrite``, discard the checkpoint in ``checkpoint`` (and its refit's);
    else say that the run resumes from it."""
    from daskpar._checkpoint import FILE_NAME, discard

    if checkpoint is None:
        return
    if overwrite:
        discard(checkpoint)
    elif (checkpoint / FILE_NAME).exists():
        from daskpar import persist

        key_id = persist.signing_key_id()
        trust = (
            f"its signature is checked with the model key (key id {key_id})"
            if key_id is not None
            else "it is not authenticated, since no model key is set: anyone who can write "
            f"{checkpoint} can change the model it resumes"
        )
        click.echo(
            f"resuming from the checkpoint in {checkpoint}; {trust} (--overwrite starts over "
            "instead)"
        )


@contextlib.contextmanager
def _interruptible(checkpoint: Path | None) -> Iterator[None]:
    """Ctrl-C: one line saying where the run can resume from, and exit status 130.

    The interrupt has already gone through the cluster's context managers by then: the fit's
    futures are released (distributed cancels what no client wants) and an embedded
    cluster is closed, its worker processes with it.
    """
    from daskpar._checkpoint import FILE_NAME

    try:
        yield
    except KeyboardInterrupt:
        if checkpoint is not None and (checkpoint / FILE_NAME).exists():
            where = f"the checkpoint in {checkpoint} resumes it: run the same command again"
        elif checkpoint is not None:
            where = f"no epoch had ended, so {checkpoint} holds no checkpoint yet"
        else:
            where = "no checkpoint (pass --checkpoint DIR to make the run resumable)"
        click.echo(f"\ninterrupted; {where}", err=True)
        sys.exit(130)


@contextlib.contextmanager
def _reporting(report: Path | None) -> Iterator[None]:
    """Dask's ``performance_report`` of the work inside, written to ``report`` (if given)."""
    if report is None:
        yield
        return
    import secrets

    from distributed import performance_report

    # Written under a new name, then renamed over ``report``: a link put in its place since
    # the options were checked is replaced, not written through.
    temporary = report.with_name(f".{report.name}.tmp-{secrets.token_hex(4)}")
    try:
        with performance_report(filename=str(temporary)):
            yield
        os.replace(temporary, report)
    finally:
        temporary.unlink(missing_ok=True)
    click.echo(f"performance report: {report}")


def _stay_open(client: Any, scheduler: str | None, keep_open: bool) -> None:
    """With ``--keep-open``, wait for Ctrl-C with the embedded cluster and dashboard up.

    Ctrl-C ends the wait, not the command: the cluster then closes as after any command,
    its worker processes with it, and the exit status is 0.
    """
    if not keep_open:
        return
    if scheduler:
        click.echo(f"note: --keep-open keeps an embedded cluster; the one at {scheduler} runs on")
        return
    try:  # from before the prompt: a Ctrl-C right after it is caught too
        click.echo(f"\ndashboard: {client.dashboard_link} (the cluster is kept open)")
        click.echo("press Ctrl-C to stop")
        sys.stdout.flush()
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        click.echo("\nstopping the cluster")


@contextlib.contextmanager
def _user_errors() -> Iterator[None]:
    """Turn the errors a user can cause into a one-line message and exit status 1."""
    from daskpar.errors import CheckpointError

    try:
        yield
    except CheckpointError as exc:
        made = "was made" in str(exc)
        hint = " With the daskpar command, --overwrite starts over." if made else ""
        raise click.ClickException(f"{exc}{hint}") from None
    except (ValueError, FileNotFoundError, KeyError, OSError) as exc:
        raise click.ClickException(str(exc)) from None


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="daskpar")
def main() -> None:
    """Train scikit-learn models on out-of-core data, in parallel, on a Dask cluster."""


@main.command("make-data")
@click.argument("out", type=click.Path(file_okay=False, path_type=Path))
@click.option("--rows", type=click.IntRange(min=1), default=1_000_000, show_default=True)
@click.option("--features", type=click.IntRange(min=2), default=100, show_default=True)
@click.option("--chunk-rows", type=click.IntRange(min=1), default=100_000, show_default=True)
@click.option("--classes", type=click.IntRange(min=2), default=2, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--overwrite", is_flag=True, help="Replace OUT if it exists.")
@scheduler_option
def make_data_command(
    out: Path,
    rows: int,
    features: int,
    chunk_rows: int,
    classes: int,
    seed: int,
    overwrite: bool,
    scheduler: str | None,
) -> None:
    """Write a synthetic classification data set to the zarr store OUT (arrays X and y).

    The data is generated and written chunk by chunk, so OUT may be larger than memory.
    """
    with _user_errors():
        if out.exists() and not overwrite:
            raise click.ClickException(f"{out} exists; pass --overwrite to replace it.")
        with cluster(scheduler, None) if scheduler else contextlib.nullcontext():
            seconds = _write_dataset(out, rows, features, chunk_rows, classes, seed)
        size = sum(f.stat().st_size for f in out.rglob("*") if f.is_file())
        click.echo(
            f"wrote {rows:,} x {features} to {out} ({size / 1e6:,.0f} MB) in {seconds:.1f} s"
        )


def _write_dataset(
    out: Path, rows: int, features: int, chunk_rows: int, classes: int, seed: int
) -> float:
    import numpy as np

    import daskpar as dp

    start = time.perf_counter()
    n_informative = max(2, features // 5)
    X, y = dp.make_classification(
        n_samples=rows,
        n_features=features,
        n_informative=n_informative,
        n_redundant=features // 10,
        n_classes=classes,
        # Few informative features with several clusters per class put the classes in an
        # XOR pattern that no linear model separates; keep small data sets learnable.
        n_clusters_per_class=2 if n_informative >= 8 else 1,
        weights=None,
        flip_y=0.05,
        class_sep=0.8,
        # Features on scales from 0.001 to 1000, around offsets up to 100, as raw measurements
        # come: SGD needs them standardised first.
        shift=np.linspace(-100.0, 100.0, features),
        scale=np.logspace(-3, 3, features),
        chunks=chunk_rows,
        random_state=seed,
        dtype=np.float32,
    )
    dp.write_zarr(out, X, y, overwrite=True)
    return time.perf_counter() - start


def _read(data: Path, x: str, y: str, target: str | None) -> tuple[Any, Any]:
    """DATA in any format daskpar reads (see ``daskpar.data.read_path``)."""
    from daskpar.data import read_path

    if not data.exists():
        raise click.ClickException(f"{data} does not exist.")
    table = {".csv": "CSV", ".parquet": "Parquet", ".pq": "Parquet"}
    kind = next((table[s] for s in data.suffixes if s in table), None)
    if kind is None and data.is_dir() and not (data / "zarr.json").exists():
        kind = "Parquet" if any(data.rglob("*.parquet")) else None
    if kind is not None and target is None:
        raise click.ClickException(f"{kind} data needs --target COLUMN.")
    X, Y = read_path(data, x=x, y=y, target=target)
    if Y is None:
        raise click.ClickException(f"{data} has features but no targets; name them with --y.")
    return X, Y


def _check_data(X: Any, y: Any, *, classifier: bool) -> None:
    """One pass over all of DATA, before it is split: values a model cannot use are refused.

    Done here, on the data as read, so that an error names rows of the user's file (after
    the split, rows are counted within the training set).
    """
    from daskpar.data import check_blocks

    check_blocks(X, y, labels=classifier)


def _enough_partitions(X: Any, y: Any, at_least: int) -> tuple[Any, Any]:
    """X and y in at least ``at_least`` row blocks, so that every worker (or fold) has some."""
    non_empty = sum(1 for n in X.chunks[0] if n)
    if non_empty >= at_least or X.shape[0] < 2 * at_least:
        return X, y
    rows = -(-X.shape[0] // at_least)
    click.echo(
        f"note: DATA has {non_empty} partition(s); splitting it into blocks of {rows:,} rows "
        f"so that {at_least} tasks can run at once"
    )
    return X.rechunk({0: rows, 1: -1}), y.rechunk({0: rows})


def _train_and_report(
    X_train: Any,
    X_test: Any,
    y_train: Any,
    y_test: Any,
    *,
    model_name: str,
    epochs: int,
    split_every: int,
    seed: int,
    read_seconds: float,
    scale: bool | None = None,
    checkpoint: Path | None = None,
) -> tuple[Any, dict[str, Any]]:
    """Fit ``model_name`` (after a scaler if ``scale``), print its epochs; (pipeline, summary).

    The summary has the whole fit's seconds (the scaler's pass included), the median epoch
    over ``read_seconds``, and the last validation score.
    """
    import statistics

    from sklearn.base import is_classifier
    from sklearn.pipeline import make_pipeline

    import daskpar as dp
    from daskpar._families import family_for

    if scale is None:
        scale = _needs_scaler(model_name)
    start = time.perf_counter()
    steps = []
    if scale:
        scaler = _make_scaler(model_name).fit(X_train)
        click.echo(
            f"fitted {type(scaler).__name__} in one pass over the training data: "
            f"{time.perf_counter() - start:.2f} s (scale_ from {scaler.scale_.min():.3g} "
            f"to {scaler.scale_.max():.3g})"
        )
        # Lazy: each training task reads its block and scales it; nothing is stored scaled.
        X_train, X_test = scaler.transform(X_train), scaler.transform(X_test)
        steps.append(scaler)
    estimator = _make_model(model_name)
    if epochs > 1 and family_for(estimator).exact:
        click.echo(
            f"note: {type(estimator).__name__} is fitted exactly in one pass over the data; "
            f"--epochs {epochs} does not apply, so it trains for 1 epoch"
        )
    model = dp.ParallelIncremental(
        estimator,
        epochs=epochs,
        split_every=split_every,
        random_state=seed,
        verbose=1,
        checkpoint=checkpoint,
    )
    click.echo(
        f"training {type(estimator).__name__} on {X_train.shape[0]:,} rows x "
        f"{X_train.shape[1]} features in {X_train.numblocks[0]} partitions "
        f"(split_every={split_every}){'' if scale else ', unscaled'}; held out: "
        f"{X_test.shape[0]:,} rows"
    )
    model.fit(X_train, y_train, validation_data=(X_test, y_test))
    seconds = time.perf_counter() - start
    steps.append(model)
    metric = "accuracy" if is_classifier(estimator) else "R^2"
    click.echo(f"\none plain read of the training data (median of 3): {read_seconds:.2f} s")
    click.echo(f"{'epoch':>5}  {'seconds':>8}  {'x read':>6}  validation {metric}")
    for rec in model.history_:
        click.echo(
            f"{rec['epoch']:>5}  {rec['seconds']:>8.2f}  {rec['seconds'] / read_seconds:>6.2f}  "
            f"{rec['validation_score']:.4f}"
        )
    summary = {
        "model": ("StandardScaler + " if scale else "") + type(estimator).__name__,
        "seconds": seconds,
        "x_read": statistics.median(r["seconds"] for r in model.history_) / read_seconds,
        "score": model.history_[-1]["validation_score"],
    }
    return make_pipeline(*steps), summary


def median_read_seconds(X: Any, repeats: int = 3) -> float:
    """Median time of reading every block once (``X.sum()``): the baseline epochs compare to."""
    import statistics

    from daskpar._graph import compute_blocks

    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        compute_blocks(X.sum())  # as daskpar computes: dask's stage names, on any scheduler
        times.append(time.perf_counter() - start)
    return statistics.median(times)


@main.command("train")
@click.argument("data", type=click.Path(path_type=Path))
@model_option
@epochs_option
@click.option("--split-every", type=click.IntRange(min=2), default=8, show_default=True)
@click.option(
    "--test-size",
    type=click.FloatRange(0, 1, min_open=True, max_open=True),
    default=0.1,
    show_default=True,
    help="Fraction of every partition held out.",
)
@data_options
@scale_option
@scheduler_option
@workers_option
@dashboard_option
@report_option
@checkpoint_option
@overwrite_option
@keep_open_option
@save_options[0]
@save_options[1]
@security_options
def train_command(
    data: Path,
    model_name: str,
    epochs: int,
    split_every: int,
    test_size: float,
    x_name: str,
    y_name: str,
    target: str | None,
    seed: int,
    scale: bool | None,
    scheduler: str | None,
    workers: int | None,
    dashboard_port: int,
    report: Path | None,
    checkpoint: Path | None,
    overwrite: bool,
    keep_open: bool,
    save_path: Path | None,
    encrypt: bool,
) -> None:
    """Train a model on DATA (a zarr store, a parquet file or folder, or a CSV file).

    A fraction of every partition is held out, and the held-out score is shown after every
    epoch, next to the time of one plain read of the data. The default model,
    daskpar.AdaptiveSGDClassifier, trains on the features as they are; the scikit-learn
    models get them standardised first (see --scale).
    """
    from sklearn.base import is_classifier

    import daskpar as dp

    with _interruptible(checkpoint), _user_errors():
        _check_report_path(report, overwrite)
        _start_checkpoint(checkpoint, overwrite)
        X, y = _read(data, x_name, y_name, target)
        classifier = is_classifier(_make_model(model_name))
        with cluster(scheduler, workers, dashboard_port) as client:
            _describe_cluster(client)
            with _reporting(report):
                X, y = _enough_partitions(X, y, _worker_threads(client))
                _check_data(X, y, classifier=classifier)
                split = dp.train_test_split(X, y, test_size=test_size, random_state=seed)
                pipe, _ = _train_and_report(
                    *split,
                    model_name=model_name,
                    epochs=epochs,
                    split_every=split_every,
                    seed=seed,
                    read_seconds=median_read_seconds(split[0]),
                    scale=scale,
                    checkpoint=checkpoint,
                )
            _save_model(pipe, save_path, encrypt)
            _stay_open(client, scheduler, keep_open)


def _parse_grid(text: str, prefix: str) -> dict[str, list[Any]]:
    """``--grid`` JSON: the model's parameter names (``alpha``), or full nested names."""
    import json

    try:
        grid = json.loads(text)
    except json.JSONDecodeError as error:
        raise click.BadParameter(f"not valid JSON ({error.msg}).", param_hint="--grid") from error
    if not isinstance(grid, dict) or not grid:
        raise click.BadParameter(
            "expected a JSON object of lists, such as '{\"alpha\": [1e-5, 1e-4]}'.",
            param_hint="--grid",
        )
    out = {}
    for name, values in grid.items():
        if not isinstance(values, list) or not values:
            raise click.BadParameter(
                f"{name!r} must map to a non-empty list of values.", param_hint="--grid"
            )
        out[name if "__" in name else prefix + name] = values
    return out


@main.command("search")
@click.argument("data", type=click.Path(path_type=Path))
@click.option(
    "--grid",
    "grid_text",
    required=True,
    help='Candidates as JSON, e.g. \'{"alpha": [1e-5, 1e-4], "penalty": ["l2", "l1"]}\'. '
    "Names are the model's parameters (or full nested names).",
)
@model_option
@epochs_option
@click.option(
    "--cv", type=click.IntRange(min=2), default=3, show_default=True, help="Folds of whole blocks."
)
@click.option(
    "--scoring", default=None, help="A scikit-learn scorer name (default: accuracy or R^2)."
)
@click.option(
    "--halving", is_flag=True, help="Successive halving: keep the best third after each epoch."
)
@scale_option
@data_options
@scheduler_option
@workers_option
@dashboard_option
@report_option
@checkpoint_option
@overwrite_option
@keep_open_option
@save_options[0]
@save_options[1]
@security_options
def search_command(
    data: Path,
    grid_text: str,
    model_name: str,
    epochs: int,
    cv: int,
    scoring: str | None,
    halving: bool,
    scale: bool | None,
    x_name: str,
    y_name: str,
    target: str | None,
    seed: int,
    scheduler: str | None,
    workers: int | None,
    dashboard_port: int,
    report: Path | None,
    checkpoint: Path | None,
    overwrite: bool,
    keep_open: bool,
    save_path: Path | None,
    encrypt: bool,
) -> None:
    """Tune a model on DATA: every candidate and fold trained from one read per block.

    Prints the candidates ranked by their mean validation score over the folds, then refits
    the best on all of DATA.
    """
    from sklearn.base import is_classifier
    from sklearn.model_selection import ParameterGrid
    from sklearn.pipeline import make_pipeline

    import daskpar as dp

    # verbose: the refit of the best candidate shows its epochs too.
    model: Any = dp.ParallelIncremental(
        _make_model(model_name), epochs=epochs, random_state=seed, verbose=1
    )
    prefix = "estimator__"
    if _needs_scaler(model_name) if scale is None else scale:
        model = make_pipeline(_make_scaler(model_name), model)
        prefix = "parallelincremental__estimator__"
    grid = _parse_grid(grid_text, prefix)
    with _interruptible(checkpoint), _user_errors():
        _check_report_path(report, overwrite)
        _start_checkpoint(checkpoint, overwrite)
        X, y = _read(data, x_name, y_name, target)
        search_class: Any = dp.HalvingSearchCV if halving else dp.GridSearchCV
        search = search_class(
            model,
            grid,
            cv=cv,
            scoring=scoring,
            random_state=seed,
            verbose=1,
            checkpoint=checkpoint,
        )
        with cluster(scheduler, workers, dashboard_port) as client:
            _describe_cluster(client)
            with _reporting(report):
                # Folds are whole blocks: every fold needs blocks of its own.
                X, y = _enough_partitions(X, y, max(cv, _worker_threads(client)))
                _check_data(X, y, classifier=is_classifier(model))
                n_candidates = len(ParameterGrid(grid))
                click.echo(
                    f"searching {n_candidates} candidates x {cv} folds on {X.shape[0]:,} rows "
                    f"x {X.shape[1]} features in {X.numblocks[0]} blocks, {epochs} epochs"
                )
                start = time.perf_counter()
                search.fit(X, y)
                seconds = time.perf_counter() - start
            _print_ranking(search)
            click.echo(
                f"\nbest: {_short_params(search.best_params_)} (mean score "
                f"{search.best_score_:.4f}); search and refit took {seconds:.1f} s"
            )
            _save_model(search.best_estimator_, save_path, encrypt)
            _stay_open(client, scheduler, keep_open)


def _short_params(params: dict[str, Any]) -> str:
    return ", ".join(f"{k.rsplit('__', 1)[-1]}={v!r}" for k, v in params.items())


def _print_ranking(search: Any) -> None:
    """The candidates by rank; for halving, the epochs each had trained when scored."""
    results = search.cv_results_
    order = sorted(range(len(results["params"])), key=lambda i: results["rank_test_score"][i])
    epochs = results.get("n_resources")
    click.echo(
        f"\n{'rank':>4}  {'mean score':>10}  {'std':>6}  {'fit s':>6}  "
        f"{'epochs  ' if epochs is not None else ''}params"
    )
    for i in order:
        click.echo(
            f"{results['rank_test_score'][i]:>4}  {results['mean_test_score'][i]:>10.4f}  "
            f"{results['std_test_score'][i]:>6.4f}  {results['mean_fit_time'][i]:>6.2f}  "
            f"{f'{epochs[i]:>6}  ' if epochs is not None else ''}"
            f"{_short_params(results['params'][i])}"
        )


#: What the demo trains, side by side on the same data: daskpar's learner and scikit-learn's.
DEMO_MODELS = (DEFAULT_MODEL, "sgd-log")


@main.command("demo")
@click.option("--rows", type=click.IntRange(min=1000), default=2_000_000, show_default=True)
@click.option("--features", type=click.IntRange(min=2), default=100, show_default=True)
@click.option("--chunk-rows", type=click.IntRange(min=100), default=100_000, show_default=True)
@epochs_option
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Where to write the zarr store (default: a temporary folder, removed after).",
)
@scheduler_option
@workers_option
@dashboard_option
@report_option
@keep_open_option
def demo_command(
    rows: int,
    features: int,
    chunk_rows: int,
    epochs: int,
    data_dir: Path | None,
    scheduler: str | None,
    workers: int | None,
    dashboard_port: int,
    report: Path | None,
    keep_open: bool,
) -> None:
    """The main job: write an out-of-core data set, train on it in parallel, report.

    Writes ROWS x FEATURES float32 with features on very different scales to a zarr store
    chunk by chunk, holds out 10 % of the rows of every block, and trains two models for
    EPOCHS epochs each on an embedded LocalCluster (or --scheduler):
    ParallelIncremental(daskpar.AdaptiveSGDClassifier()) on the features as they are, and
    ParallelIncremental(SGDClassifier(loss="log_loss")) after a one-pass StandardScaler.
    Prints each epoch's time next to the time of one plain read of the data, then the two
    side by side: time, x read, held-out accuracy and log-loss. With --scheduler, the
    workers must see --data-dir at the same path. The demo takes less than a minute: to look
    at the dashboard afterwards, pass --keep-open; --report saves what it showed.
    """
    import daskpar as dp
    from daskpar import metrics

    with _user_errors():
        _check_report_path(report)
        tmp = None
        if data_dir is None:
            tmp = tempfile.mkdtemp(prefix="daskpar-demo-")
            data_dir = Path(tmp)
        try:
            store = data_dir / "demo.zarr"
            with cluster(scheduler, workers, dashboard_port) as client:
                _describe_cluster(client)
                with _reporting(report):
                    seconds = _write_dataset(store, rows, features, chunk_rows, 2, seed=0)
                    click.echo(f"wrote {rows:,} x {features} float32 to {store} in {seconds:.1f} s")
                    X, y = dp.read_zarr(store)
                    split = dp.train_test_split(X, y, test_size=0.1, random_state=0)
                    X_test, y_test = split[1], split[3]
                    read_seconds = median_read_seconds(split[0])
                    summaries = []
                    for model_name in DEMO_MODELS:
                        click.echo("")
                        pipe, summary = _train_and_report(
                            *split,
                            model_name=model_name,
                            epochs=epochs,
                            split_every=8,
                            seed=0,
                            read_seconds=read_seconds,
                        )
                        log_loss = -metrics.score(pipe, X_test, y_test, "neg_log_loss")
                        summary["log_loss"] = log_loss
                        summaries.append(summary)
                _print_comparison(summaries, epochs)
                _stay_open(client, scheduler, keep_open)
        finally:
            if tmp is not None:
                shutil.rmtree(tmp, ignore_errors=True)


def _print_comparison(summaries: list[dict[str, Any]], epochs: int) -> None:
    width = max(len(s["model"]) for s in summaries)
    click.echo(f"\nthe same data, {epochs} epoch(s) each; scores on the held-out rows")
    click.echo(
        f"{'model':<{width}}  {'seconds':>7}  {'epoch x read':>12}  {'accuracy':>8}  log-loss"
    )
    for s in summaries:
        click.echo(
            f"{s['model']:<{width}}  {s['seconds']:>7.2f}  {s['x_read']:>12.2f}  "
            f"{s['score']:>8.4f}  {s['log_loss']:.4f}"
        )


model_argument = click.argument(
    "model_file", type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
allow_unsigned_option = click.option(
    "--allow-unsigned",
    is_flag=True,
    help="Load a model file that carries no signature, when no model key is set (neither "
    "$DASKPAR_MODEL_KEY nor $DASKPAR_MODEL_KEY_FILE). With a key set, an unsigned file is "
    "refused all the same (its signature may have been stripped), and a signed file is never "
    "loaded without its key.",
)


def _load_model(path: Path, allow_unsigned: bool) -> Any:
    import daskpar as dp

    model = dp.load(path, allow_unsigned=allow_unsigned)
    click.echo(f"loaded {type(model).__name__} from {path}")
    return model


x_option = click.option(
    "--x", "x_name", default="X", show_default=True, help="Feature array in zarr or HDF5."
)
target_option = click.option(
    "--target", default=None, help="Target column of parquet or CSV data (not a feature)."
)


@main.command("score")
@model_argument
@click.argument("data", type=click.Path(path_type=Path))
@x_option
@click.option(
    "--y",
    "y_name",
    default="y",
    show_default=True,
    help="Target array in zarr or HDF5; for .npy data, the .npy file of targets.",
)
@target_option
@allow_unsigned_option
@scheduler_option
@workers_option
@dashboard_option
@security_options
def score_command(
    model_file: Path,
    data: Path,
    x_name: str,
    y_name: str,
    target: str | None,
    allow_unsigned: bool,
    scheduler: str | None,
    workers: int | None,
    dashboard_port: int,
) -> None:
    """Score the saved MODEL_FILE on DATA: the metrics are reduced on the workers.

    Classifiers get accuracy (and log-loss when they have predict_proba), regressors R^2.
    """
    from sklearn.base import is_classifier

    from daskpar import audit, metrics

    with _user_errors():
        model = _load_model(model_file, allow_unsigned)
        X, y = _read(data, x_name, y_name, target)
        names = ["r2"]
        if is_classifier(model):
            names = ["accuracy"] + (["neg_log_loss"] if hasattr(model, "predict_proba") else [])
        with cluster(scheduler, workers, dashboard_port) as client:
            _describe_cluster(client)
            with audit.operation("score", estimator=model, X=X, y=y) as record:
                for name in names:
                    value = metrics.score(model, X, y, name)
                    shown, value = (name[4:], -value) if name.startswith("neg_") else (name, value)
                    record.metrics[shown] = value
                    click.echo(f"{shown}: {value:.4f}")


@main.command("predict")
@model_argument
@click.argument("data", type=click.Path(path_type=Path))
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    callback=_output_file,
    required=True,
    help="The zarr store to write (array 'predictions', one row block per block of DATA).",
)
@click.option("--overwrite", is_flag=True, help="Replace OUT if it exists.")
@x_option
@target_option
@allow_unsigned_option
@scheduler_option
@workers_option
@dashboard_option
@security_options
def predict_command(
    model_file: Path,
    data: Path,
    out: Path,
    overwrite: bool,
    x_name: str,
    target: str | None,
    allow_unsigned: bool,
    scheduler: str | None,
    workers: int | None,
    dashboard_port: int,
) -> None:
    """Predict with the saved MODEL_FILE on DATA's features, into the zarr store OUT."""
    import dask.array as da

    from daskpar import audit
    from daskpar.data import read_path

    with _user_errors():
        if out.exists() and not overwrite:
            raise click.ClickException(f"{out} exists; pass --overwrite to replace it.")
        model = _load_model(model_file, allow_unsigned)
        X, _ = read_path(data, x=x_name, y=None, target=target)
        with cluster(scheduler, workers, dashboard_port) as client:
            _describe_cluster(client)
            with audit.operation("predict", estimator=model, X=X) as record:
                predictions = da.asarray(model.predict(X))
                final = _write_store(predictions, out)
                record.extra["out"] = str(final)
            click.echo(f"wrote {predictions.shape[0]:,} predictions to {out}/predictions")


def _write_store(predictions: Any, out: Path) -> Path:
    """Write ``predictions`` to a new zarr store in a fresh folder (mode 0700) beside ``out``,
    then rename it to ``out``: a failed write leaves nothing at ``out``, and a link put at
    ``out`` since the options were checked makes the rename fail instead of being written
    through. The folder's path is resolved, its last part (``out``'s name) is not."""
    import secrets

    final = out.parent.resolve() / out.name
    temporary = final.with_name(f".{out.name}.tmp-{secrets.token_hex(4)}")
    temporary.mkdir(mode=0o700)
    try:
        predictions.to_zarr(str(temporary), component="predictions")
        mask = os.umask(0)
        os.umask(mask)
        temporary.chmod(0o777 & ~mask)
        if final.is_dir() and not final.is_symlink():  # --overwrite: checked before
            shutil.rmtree(final)
        try:
            os.rename(temporary, final)
        except OSError as error:
            raise click.ClickException(
                f"{out} appeared while predicting ({error.strerror}), as a file or a link; "
                "the predictions were not written there. Remove it and run again."
            ) from None
    finally:
        shutil.rmtree(temporary, ignore_errors=True)
    return final


@main.command("certs")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--host",
    "hosts",
    multiple=True,
    callback=_host_names,
    default=("127.0.0.1", "localhost"),
    show_default=True,
    help="A name or address the scheduler and workers are reached at (repeatable); the "
    "printed commands bind the first.",
)
@click.option("--days", type=click.IntRange(min=1), default=365, show_default=True)
@click.option(
    "--config-dir",
    default=None,
    callback=_absolute,
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

    with _user_errors():
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


@main.group("audit")
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

    with _user_errors():
        verified = audit.verify(log, head=head)
        click.echo(f"{log}: {verified.n_records} records, chain intact; head {verified.head}")


@audit_group.command("show")
@click.argument("log", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def audit_show_command(log: Path) -> None:
    """Print LOG as a table, and the head hash to keep elsewhere."""
    from daskpar import audit

    with _user_errors():
        click.echo(audit.format_table(audit.show(log)))
        verified = audit.verify(log)
        click.echo(f"\nhead {verified.head} (keep it elsewhere to detect a log cut short)")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
