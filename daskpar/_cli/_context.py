"""What runs around a command's work: its checks before, its messages, Ctrl-C, the
performance report, --keep-open, one-line errors, and the files it reads and writes."""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
import tempfile
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click


def _store(url: str, what: str) -> tuple[Any, str]:
    """The fsspec file system of an object store's ``url`` and the path in it; credentials
    from the environment, as the store's library reads them."""
    from daskpar._io._remote import filesystem, remote_location

    return filesystem(*remote_location(url, None, what))


def shown(text: Path | str) -> str:
    """A path, or text holding URLs (an object store's URL, a message), as messages show
    it: no URL's user or password, nor any credential in its query (a presigned URL's
    signature)."""
    if isinstance(text, Path):
        return str(text)
    from daskpar.errors import scrub

    return scrub(text)


def _head(report: Path | str) -> bytes | None:
    """The first 64 KiB of the file at ``report``, or None if there is none."""
    if isinstance(report, str):  # an object store's URL
        fs, inner = _store(report, "--report")
        if not fs.isfile(inner):
            return None
        with fs.open(inner, "rb") as f:
            head: bytes = f.read(1 << 16)
        return head
    if not report.is_file():
        return None
    with open(report, "rb") as f:
        return f.read(1 << 16)


def check_report_path(report: Path | str | None, overwrite: bool | None = None) -> None:
    """Refuse, before any work, a report that could not be written after it, or that would
    replace a file daskpar did not write (without ``--overwrite``; ``None``: the command has
    no such option)."""
    if report is None:
        return
    if isinstance(report, Path) and not report.resolve().parent.is_dir():
        raise click.ClickException(f"--report: the folder of {report} does not exist.")
    head = None if overwrite else _head(report)
    if head is not None and b"Dask Performance Report" not in head:
        hint = "" if overwrite is None else ", or pass --overwrite to replace it"
        raise click.ClickException(
            f"--report: {shown(report)} exists and is not a Dask performance report; pick "
            f"another name{hint}."
        )


#: Schemes of stores whose URLs start with a bucket (or container) that must exist.
_BUCKET_STORES = frozenset({"s3", "s3a", "gs", "gcs", "abfs", "abfss", "az"})


def check_save_url(save: Path | str | None) -> None:
    """Refuse, before any work, an object store's ``--save`` URL that the model could not
    be saved at after it: one naming a bucket or a folder rather than a file, or in a bucket
    that does not exist (or that the environment's credentials cannot reach). A local path
    was checked by its option (:func:`daskpar._cli._options.output_file`)."""
    if not isinstance(save, str):
        return
    from daskpar._io._remote import filesystem, remote_location

    url, options = remote_location(save, None, "--save")
    where = shown(url)
    example = f"such as {where}/model.dp"
    scheme, _, rest = url.partition("://")
    bucket, _, key = rest.partition("/")
    in_bucket = scheme.lower() in _BUCKET_STORES
    if in_bucket and not key:
        raise click.ClickException(
            f"--save: {where} names a bucket; name the model file in it, {example}."
        )
    if save.endswith("/"):
        raise click.ClickException(
            f"--save: {where}/ names a folder; name the model file in it, {example}."
        )
    try:
        fs, inner = filesystem(url, options)
        bucket_missing = in_bucket and not fs.exists(bucket)
        folder = not bucket_missing and fs.isdir(inner)
    except Exception as exc:  # no such store library, credentials refused, network
        raise click.ClickException(
            f"--save: cannot reach {where}: {options.scrub(f'{type(exc).__name__}: {exc}')}. "
            "Check the URL, and the store's credentials in the environment."
        ) from None
    if bucket_missing:
        raise click.ClickException(
            f"--save: the bucket {bucket!r} of {where} does not exist, or the credentials of "
            "the environment cannot reach it. Create it, or check the URL and the store's "
            "credentials (for S3: the AWS_* variables)."
        )
    if folder:
        raise click.ClickException(
            f"--save: {where} is a folder (objects are stored under it); name the model file "
            f"in it, {example}."
        )


def _has_checkpoint(checkpoint: Path | str) -> bool:
    """Whether the folder ``checkpoint`` (local, or an object store's URL) holds one."""
    from daskpar._checkpoint import FILE_NAME

    if isinstance(checkpoint, Path):
        return (checkpoint / FILE_NAME).exists()
    fs, inner = _store(checkpoint, "--checkpoint")
    return bool(fs.exists(f"{inner.rstrip('/')}/{FILE_NAME}"))


def start_checkpoint(checkpoint: Path | str | None, overwrite: bool) -> None:
    """With ``--overwrite``, discard the checkpoint in ``checkpoint`` (and its refit's);
    else say that the run resumes from it."""
    from daskpar._checkpoint import checkpoint_folder, discard

    if checkpoint is None:
        return
    if overwrite:
        discard(checkpoint_folder(checkpoint) if isinstance(checkpoint, str) else checkpoint)
    elif _has_checkpoint(checkpoint):
        from daskpar import persist

        key_id = persist.signing_key_id()
        trust = (
            f"its signature is checked with the model key (key id {key_id})"
            if key_id is not None
            else "it is not authenticated, since no model key is set: anyone who can write "
            f"{shown(checkpoint)} can change the model it resumes"
        )
        click.echo(
            f"resuming from the checkpoint in {shown(checkpoint)}; {trust} (--overwrite starts "
            "over instead)"
        )


@contextlib.contextmanager
def interruptible(checkpoint: Path | str | None) -> Iterator[None]:
    """Ctrl-C: one line saying where the run can resume from, and exit status 130.

    The interrupt has already gone through the cluster's context managers by then: the fit's
    futures are released (distributed cancels what no client wants) and an embedded
    cluster is closed, its worker processes with it.
    """
    try:
        yield
    except KeyboardInterrupt:
        if checkpoint is not None and _has_checkpoint(checkpoint):
            where = f"the checkpoint in {shown(checkpoint)} resumes it: run the same command again"
        elif checkpoint is not None:
            where = f"no epoch had ended, so {shown(checkpoint)} holds no checkpoint yet"
        else:
            where = "no checkpoint (pass --checkpoint DIR to make the run resumable)"
        click.echo(f"\ninterrupted; {where}", err=True)
        sys.exit(130)


@contextlib.contextmanager
def reporting(report: Path | str | None) -> Iterator[None]:
    """Dask's ``performance_report`` of the work inside, written to ``report`` (if given)."""
    if report is None:
        yield
        return
    import secrets

    from distributed import performance_report

    if isinstance(report, str):  # an object store's URL: written here, then one upload
        with tempfile.TemporaryDirectory() as folder:
            local = Path(folder) / "report.html"
            with performance_report(filename=str(local)):
                yield
            fs, inner = _store(report, "--report")
            fs.put_file(str(local), inner)
        click.echo(f"performance report: {shown(report)}")
        return

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


def stay_open(client: Any, scheduler: str | None, keep_open: bool) -> None:
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
def user_errors() -> Iterator[None]:
    """Turn the errors a user can cause into a one-line message and exit status 1.

    The message shows no URL's user or password, nor a credential in its query: the
    library's messages leave them out already, and this holds for any other error too.
    """
    from daskpar.errors import CheckpointError

    try:
        yield
    except CheckpointError as exc:
        made = "was made" in str(exc)
        hint = " With the daskpar command, --overwrite starts over." if made else ""
        raise click.ClickException(shown(f"{exc}{hint}")) from None
    except (ValueError, FileNotFoundError, KeyError, OSError) as exc:
        raise click.ClickException(shown(str(exc))) from None


#: The formats whose columns have names, as ``daskpar.data.read_path`` tells them.
TABLES = {"csv": "CSV", "parquet": "Parquet", "json": "JSON lines"}


def table_kind(data: Path | str) -> str | None:
    """ "CSV", "Parquet" or "JSON lines" if DATA is a table, whose columns have names; else
    None. A URL whose name does not tell is looked into (credentials from the environment)."""
    from daskpar._io import path_format

    return TABLES.get(path_format(data))


def read_data(
    data: Path | str, x: str, y: str, target: str | None
) -> tuple[Any, Any, list[str] | None]:
    """DATA in any format daskpar reads (see ``daskpar.data.read_path``), as arrays, with the
    names of the feature columns of a table (None for zarr, ``.npy`` and HDF5).

    A table's columns are read by name: the table (``as_frame=True``, metadata only) says
    which the features are, then the arrays are read with those columns, in that order.
    """
    from daskpar.data import read_path

    if isinstance(data, Path) and not data.exists():  # a URL: its reader says so
        raise click.ClickException(f"{data} does not exist.")
    names = None
    kind = table_kind(data)
    if kind is not None:
        if target is None:
            raise click.ClickException(f"{kind} data needs --target COLUMN.")
        frame, _ = read_path(str(data), target=target, as_frame=True)
        names = [str(c) for c in frame.columns]
        X, Y = read_path(str(data), target=target, columns=names)
    else:
        X, Y = read_path(data, x=x, y=y, target=target)
    if Y is None:
        raise click.ClickException(f"{data} has features but no targets; name them with --y.")
    return X, Y, names


def record_feature_names(model: Any, names: list[str] | None) -> Any:
    """``model`` (fitted on the arrays read from a table) with the table's column names as
    ``feature_names_in_``, as a fit on the table records them: on its first step, which a
    Pipeline's ``feature_names_in_`` reads. ``predict`` and ``score`` then take a table's
    columns by name, in this order, which is that of the arrays it was fitted on."""
    if names is None:
        return model
    import pandas as pd

    from daskpar._columns import match_feature_names

    first = model.steps[0][1] if hasattr(model, "steps") else model
    match_feature_names(first, pd.DataFrame(columns=names), reset=True)
    return model


#: ``predict --out``'s formats, by the suffix of its path (anything else is zarr).
OUTPUT_FORMATS = {"parquet": "Parquet", "csv": "CSV", "zarr": "zarr"}


def output_format(out: Path | str) -> str:
    """``"parquet"``, ``"csv"`` or ``"zarr"``: what ``predict`` writes at ``out``."""
    from pathlib import PurePosixPath

    suffix = PurePosixPath(os.fspath(out)).suffix.lower().lstrip(".")
    return suffix if suffix in ("parquet", "csv") else "zarr"


def _write_zarr(predictions: Any, path: Path) -> None:
    with warnings.catch_warnings():
        # Text labels: zarr stores fixed-width unicode with a data type that the zarr v3
        # specification does not define yet, and says so at every write.
        warnings.filterwarnings("ignore", message="The data type .* does not have a Zarr V3")
        predictions.to_zarr(str(path), component="predictions")


def _as_table(predictions: Any) -> Any:
    """The predictions as a dask DataFrame of one column, ``predictions``, a partition per
    block (fixed-width unicode becomes text)."""
    return predictions.to_dask_dataframe(columns="predictions").to_frame()


def _write_parquet(predictions: Any, path: Path) -> None:
    """A folder of Parquet files, one per block, written by the workers."""
    _as_table(predictions).to_parquet(str(path), write_index=False)


def _write_csv(predictions: Any, path: Path) -> None:
    """One CSV file, the blocks appended in order by the workers (nothing is gathered)."""
    _as_table(predictions).to_csv(str(path), single_file=True, index=False)


def write_remote_store(predictions: Any, out: str) -> str:
    """Write ``predictions`` to an object store's URL, as :func:`write_store` does locally;
    returns the URL as messages show it (:func:`shown`).

    There is no rename there: zarr and Parquet are written at ``out`` directly, by the
    workers, and removed again if the write fails (a reader may see a partial output while
    it runs). A single CSV file would be appended to, which object stores cannot do:
    refused before any work by :func:`check_remote_out`.
    """
    from daskpar._io._remote import filesystem, remote_location

    url, options = remote_location(out, None, "predict --out")
    kind = output_format(url)
    rows = max(predictions.chunks[0], default=1)
    if kind == "zarr" and any(n != rows for n in predictions.chunks[0][:-1]):
        predictions = predictions.rechunk({0: max(rows, 1)})
    fs, inner = filesystem(url, options)
    if fs.exists(inner):  # --overwrite: checked before
        fs.rm(inner, recursive=True)
    try:
        if kind == "zarr":
            with warnings.catch_warnings():
                warnings.filterwarnings(
                    "ignore", message="The data type .* does not have a Zarr V3"
                )
                predictions.to_zarr(url, component="predictions", storage_options=options.options)
        else:
            _as_table(predictions).to_parquet(
                url, write_index=False, storage_options=options.options
            )
    except BaseException:
        with contextlib.suppress(Exception):  # the first error is the one to report
            fs.invalidate_cache()
            if fs.exists(inner):
                fs.rm(inner, recursive=True)
        raise
    return shown(url)


def check_remote_out(out: str, overwrite: bool) -> None:
    """Refuse, before any work, an object store's ``--out`` that exists (without
    ``--overwrite``) or that asks for CSV."""
    from daskpar._io._remote import filesystem, remote_location

    url, options = remote_location(out, None, "predict --out")
    if output_format(url) == "csv":
        raise click.ClickException(
            f"{shown(url)}: a CSV output is one file that the workers append to, which an "
            "object store cannot do. Write .parquet (a folder of files, one per block) or zarr "
            "there instead."
        )
    fs, inner = filesystem(url, options)
    if fs.exists(inner) and not overwrite:
        raise click.ClickException(f"{shown(url)} exists; pass --overwrite to replace it.")


def write_store(predictions: Any, out: Path) -> Path:
    """Write ``predictions`` as ``out``'s suffix says (:func:`output_format`) to a new path
    beside ``out`` (a folder of mode 0700, or a file of mode 0600), then rename it to
    ``out``: a failed write leaves nothing at ``out``, and a link put at ``out`` since the
    options were checked makes the rename fail instead of being written through. The
    folder's path is resolved, its last part (``out``'s name) is not."""
    import secrets

    kind = output_format(out)
    rows = max(predictions.chunks[0], default=1)
    if kind == "zarr" and any(n != rows for n in predictions.chunks[0][:-1]):
        # zarr's chunks are regular: rechunked here, rather than by to_zarr with a warning.
        predictions = predictions.rechunk({0: max(rows, 1)})
    final = out.parent.resolve() / out.name
    temporary = final.with_name(f".{out.name}.tmp-{secrets.token_hex(4)}")
    if kind == "csv":
        os.close(os.open(temporary, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
    else:
        temporary.mkdir(mode=0o700)
    try:
        {"zarr": _write_zarr, "parquet": _write_parquet, "csv": _write_csv}[kind](
            predictions, temporary
        )
        mask = os.umask(0)
        os.umask(mask)
        temporary.chmod((0o777 if kind != "csv" else 0o666) & ~mask)
        if final.is_dir() and not final.is_symlink():  # --overwrite: checked before
            shutil.rmtree(final)
        try:
            # A file (CSV) replaces a file there (--overwrite, checked before) or a link;
            # a folder fails where anything is.
            os.rename(temporary, final)
        except OSError as error:
            raise click.ClickException(
                f"{out} appeared while predicting ({error.strerror}), as a file or a link; "
                "the predictions were not written there. Remove it and run again."
            ) from None
    finally:
        if temporary.is_dir():
            shutil.rmtree(temporary, ignore_errors=True)
        else:
            temporary.unlink(missing_ok=True)
    return final
