"""The options the commands share: click decorators and their checks (callbacks)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import click

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


def is_url(value: Any) -> bool:
    """Whether a path argument is an object store's URL (``s3://...``; not ``file://``)."""
    return isinstance(value, str) and "://" in value and not value.lower().startswith("file://")


#: Where the command line's URLs take their credentials from, for its help and errors.
URL_CREDENTIALS = (
    "An object store's URL (s3://bucket/path, gs://..., any fsspec URL) takes its "
    "credentials from the environment only, as the store's library reads them (for S3: "
    "AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, AWS_ENDPOINT_URL, "
    "~/.aws, or the machine's role)."
)


class PathOrURL(click.ParamType):  # type: ignore[type-arg]  # generic only in stubs
    """A local path, checked as :class:`click.Path` checks it, or an object store's URL
    (``s3://bucket/x``), kept as text: ``pathlib.Path`` would fold its ``//``. A ``file://``
    URL is the local path it names, checked and written as one. The store's credentials come
    from the environment (``AWS_*`` variables), as its library reads them: a URL holding a
    user or password is refused, since a command line is visible to the other users of the
    machine (``ps``); so is a URL whose scheme no installed fsspec file system serves."""

    name = "path"

    def __init__(self, **path_options: Any) -> None:
        self._path = click.Path(path_type=Path, **path_options)

    def convert(self, value: Any, param: Any, ctx: Any) -> Any:
        if isinstance(value, str) and value.lower().startswith("file://"):
            from daskpar._io._remote import local_path

            value = os.fspath(local_path(value))
        if is_url(value):
            refuse_url_password(ctx, param, value)
            _check_protocol(ctx, param, value)
            return value
        return self._path.convert(value, param, ctx)


def _check_protocol(ctx: Any, param: Any, url: str) -> None:
    """Refuse, before any work, a URL whose scheme (each of a chain's: ``simplecache::s3``)
    no fsspec file system serves, or serves with a library that is not installed."""
    from fsspec.registry import get_filesystem_class

    from daskpar.errors import scrub

    scheme = url.partition("://")[0]
    for protocol in scheme.split("::"):
        try:
            get_filesystem_class(protocol)
        except ValueError:
            raise click.BadParameter(
                f"{scrub(url)}: no file system is known for {protocol}:// URLs. Check the "
                "scheme (s3://, gs://, abfs://, memory://... in lower case, as fsspec names "
                "them), or give a local path.",
                ctx=ctx,
                param=param,
            ) from None
        except ImportError as exc:
            raise click.BadParameter(
                f"{scrub(url)}: {protocol}:// URLs need a library that is not installed ({exc}).",
                ctx=ctx,
                param=param,
            ) from None


def refuse_url_password(ctx: Any, param: Any, value: Any) -> Any:
    """A URL holding a user or password is refused (shown without them): a command line is
    visible to every user of the machine. For every option that may take a URL (``--y`` of
    ``.npy`` data too, a plain name for zarr and HDF5)."""
    if is_url(value):
        from daskpar._io._remote import clean_url
        from daskpar.errors import scrub

        if clean_url(value) != value.rstrip("/"):
            raise click.BadParameter(
                f"{scrub(clean_url(value))} was given with a user or password in its URL, which "
                "every user of this machine can read on the command line (ps). Remove it "
                "from the URL and set the store's credentials in the environment instead "
                "(for S3: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY).",
                ctx=ctx,
                param=param,
            )
    return value


def refuse_link(value: Path) -> None:
    """Refuse an output path that is a symbolic link, dangling or not."""
    if value.is_symlink():
        raise click.BadParameter(
            f"{value} is a symbolic link (to {os.readlink(value)}); daskpar does not write "
            "through links. Name the file itself, or remove the link."
        )


def output_folder(ctx: Any, param: Any, value: Path | str) -> Path | str:
    """An output folder (made with its parents if missing) must not be a symbolic link (an
    object store has no links: a URL is taken as it is)."""
    if isinstance(value, str):  # a URL: PathOrURL gives a Path otherwise
        return value
    refuse_link(value)
    return value


def output_file(ctx: Any, param: Any, value: Path | str | None) -> Path | str | None:
    """An output file's folder must exist: refused before any work, not after it. A symbolic
    link (dangling or not) is refused too: writing through it would write wherever it leads,
    outside the folder named (in a shared folder, a place another user chose)."""
    if value is None or isinstance(value, str):  # a URL: an object store has no folders
        return value
    refuse_link(value)
    if not value.resolve().parent.is_dir():
        raise click.BadParameter(f"the folder of {value} does not exist.")
    return value


def host_names(ctx: Any, param: Any, value: tuple[str, ...]) -> tuple[str, ...]:
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


def absolute_path(ctx: Any, param: Any, value: str | None) -> str | None:
    if value is not None and not value.startswith("/"):
        raise click.BadParameter(f"{value!r} is not an absolute path (such as /certs).")
    return value


report_option = click.option(
    "--report",
    type=PathOrURL(dir_okay=False, writable=True),
    callback=output_file,
    default=None,
    metavar="FILE.html",
    help="Write Dask's performance report of the work (task stream with the stage names, "
    "worker profiles, bandwidth) to FILE.html, a local file or an object store's URL "
    "(s3://bucket/report.html, credentials from the environment). An earlier report there "
    "is replaced, any other file only with --overwrite.",
)
checkpoint_option = click.option(
    "--checkpoint",
    type=PathOrURL(file_okay=False),
    callback=output_file,
    default=None,
    metavar="DIR",
    help="Write the training's state to DIR after every epoch; rerunning the same command "
    "resumes after the last epoch written (after a Ctrl-C, a kill or a lost client). DIR may "
    "be an object store's URL (s3://bucket/runs/1), every worker reaching it with the "
    "credentials of its own environment.",
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
                callback=refuse_url_password,
                help="Target array in zarr or HDF5; for .npy data, the .npy file of targets.",
            ),
            click.option("--target", default=None, help="Target column of parquet or CSV data."),
            click.option("--seed", type=int, default=0, show_default=True),
        ]
    ):
        command = option(command)
    return command


def tls_options(command: Any) -> Any:
    """``--tls-ca-file/--tls-cert/--tls-key``, applied as the ``distributed.comm.tls`` client
    settings that ``distributed.Client`` reads, with encryption required."""
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

        settings: dict[str, Any] = {}
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


def security_options(command: Any) -> Any:
    """``--audit LOG`` and :func:`tls_options`, applied as dask settings.

    The command runs with dask's ``daskpar.audit`` setting (each fit, search, score, save and
    load appends one record to LOG) and the TLS client settings; a model key that is set but
    unusable is refused first.
    """
    import functools

    @functools.wraps(command)
    def wrapper(*args: Any, audit_log: Path | None, **kwargs: Any) -> Any:
        import dask

        settings: dict[str, Any] = {}
        if audit_log is not None:
            settings["daskpar.audit"] = str(audit_log.resolve())
        _check_keys(encrypt=bool(kwargs.get("encrypt")))
        with dask.config.set(settings):
            return command(*args, **kwargs)

    wrapper = click.option(
        "--audit",
        "audit_log",
        type=click.Path(dir_okay=False, path_type=Path),
        callback=output_file,
        default=None,
        help="Append one record per fit, search, score, save and load to this "
        "JSON-lines audit log (check it with `daskpar audit verify`).",
    )(tls_options(wrapper))
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
        type=PathOrURL(dir_okay=False),
        callback=output_file,
        default=None,
        metavar="MODEL.dp",
        help="Save the fitted model to this file, or to an object store's URL "
        "(s3://bucket/model.dp, credentials from the environment), replacing what is there: "
        "daskpar's model format (no pickle), signed when $DASKPAR_MODEL_KEY or "
        "$DASKPAR_MODEL_KEY_FILE gives a key. A file is written under another name and "
        "renamed into place, an object in one upload: neither is ever seen in part.",
    ),
    click.option(
        "--encrypt", is_flag=True, help="Encrypt the --save file (AES-256-GCM, the model key)."
    ),
]


model_argument = click.argument("model_file", type=PathOrURL(exists=True, dir_okay=False))
allow_unsigned_option = click.option(
    "--allow-unsigned",
    is_flag=True,
    help="Load a model file that carries no signature, when no model key is set (neither "
    "$DASKPAR_MODEL_KEY nor $DASKPAR_MODEL_KEY_FILE). With a key set, an unsigned file is "
    "refused all the same (its signature may have been stripped), and a signed file is never "
    "loaded without its key.",
)


x_option = click.option(
    "--x", "x_name", default="X", show_default=True, help="Feature array in zarr or HDF5."
)
target_option = click.option(
    "--target", default=None, help="Target column of parquet or CSV data (not a feature)."
)
