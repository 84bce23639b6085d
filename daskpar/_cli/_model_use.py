"""``daskpar score`` and ``predict``: using a saved model on DATA."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from ._cluster import cluster, describe_cluster
from ._context import (
    OUTPUT_FORMATS,
    check_remote_out,
    output_format,
    read_data,
    shown,
    table_kind,
    user_errors,
    write_remote_store,
    write_store,
)
from ._options import (
    URL_CREDENTIALS,
    PathOrURL,
    allow_unsigned_option,
    dashboard_option,
    model_argument,
    output_file,
    refuse_url_password,
    scheduler_option,
    security_options,
    target_option,
    workers_option,
    x_option,
)
from ._tables import check_table_for


def _fitted_names(model: Any) -> list[str] | None:
    """The feature columns ``model`` was fitted on, by name, if it was fitted on a table."""
    names = getattr(model, "feature_names_in_", None)
    return None if names is None else [str(c) for c in names]


def _late_dtype(data: Path | str) -> Any:
    """dask's "Mismatched dtypes" of a CSV column, met while reading DATA, as one line that
    names the file and the column."""
    import contextlib

    from daskpar._io.csv import late_dtype_error

    @contextlib.contextmanager
    def rephrased() -> Any:
        try:
            yield
        except ValueError as exc:
            if "Mismatched dtypes" not in str(exc):
                raise
            raise late_dtype_error(exc, str(data), "read_csv") from None

    return rephrased()


def _as_written(predictions: Any, model: Any) -> Any:
    """Predictions as zarr stores them: labels held as Python objects (text) become
    fixed-width unicode, as wide as the longest of the model's classes."""
    import numpy as np

    if predictions.dtype != object:
        return predictions
    classes = getattr(model, "classes_", None)
    if classes is None or not all(isinstance(c, str) for c in classes):
        raise click.ClickException(
            "the model predicts values that are neither numbers nor text labels; zarr cannot "
            "store them."
        )
    width = max((len(c) for c in classes), default=1)
    return predictions.astype(np.dtype(f"<U{max(width, 1)}"))


#: The library's arguments named in ``dp.load``'s errors, as the command's options.
_LOAD_WORDS = {"allow_unsigned=True": "--allow-unsigned", "(key=, $": "($"}


def _load_model(path: Path | str, allow_unsigned: bool) -> Any:
    import daskpar as dp
    from daskpar.persist import ModelKeyError, ModelSignatureError

    try:
        model = dp.load(path, allow_unsigned=allow_unsigned)
    except (ModelKeyError, ModelSignatureError) as exc:
        message = str(exc)
        for word, option in _LOAD_WORDS.items():
            message = message.replace(word, option)
        raise click.ClickException(shown(message)) from None
    click.echo(f"loaded {type(model).__name__} from {shown(path)}")
    return model


@click.command("score", epilog=URL_CREDENTIALS)
@model_argument
@click.argument("data", type=PathOrURL())
@x_option
@click.option(
    "--y",
    "y_name",
    default="y",
    show_default=True,
    callback=refuse_url_password,
    help="Target array in zarr or HDF5; for .npy data, the .npy file of targets.",
)
@target_option
@allow_unsigned_option
@scheduler_option
@workers_option
@dashboard_option
@security_options
def score_command(
    model_file: Path | str,
    data: Path | str,
    x_name: str,
    y_name: str,
    target: str | None,
    allow_unsigned: bool,
    scheduler: str | None,
    workers: int | None,
    dashboard_port: int,
) -> None:
    """Score the saved MODEL_FILE on DATA (each a local path or an object store's URL): the
    metrics are reduced on the workers.

    Classifiers get accuracy (and log-loss when they have predict_proba), regressors R^2.
    A model trained on a table (CSV, Parquet, JSON lines) takes DATA's columns by name, in
    any order.
    """
    from sklearn.base import is_classifier

    from daskpar import audit, metrics
    from daskpar.data import read_path

    with user_errors():
        model = _load_model(model_file, allow_unsigned)
        names = _fitted_names(model)
        step = check_table_for(model, data)
        if names is not None and table_kind(data) is not None:
            if target is None:
                raise click.ClickException(f"{table_kind(data)} data needs --target COLUMN.")
            # The model's columns, by name, in its order: a file's own order does not matter.
            # A model that starts with a column step takes the table (text columns too).
            X, y = read_path(str(data), target=target, columns=names, as_frame=step is not None)
        else:
            X, y, _ = read_data(data, x_name, y_name, target)
        scorers = ["r2"]
        if is_classifier(model):
            has_proba = hasattr(model, "predict_proba")
            scorers = ["accuracy"] + (["neg_log_loss"] if has_proba else [])
        with cluster(scheduler, workers, dashboard_port) as client:
            describe_cluster(client)
            with audit.operation("score", estimator=model, X=X, y=y) as record:
                scored, X_scored = model, X
                if step is not None:
                    # daskpar.metrics scores arrays: the table's columns are encoded in the
                    # scoring tasks by the model's own column step (lazily), and the rest of
                    # the pipeline scores them.
                    scored, X_scored = model[1:], step.transform(X)
                for name in scorers:
                    value = metrics.score(scored, X_scored, y, name)
                    label, value = (name[4:], -value) if name.startswith("neg_") else (name, value)
                    record.metrics[label] = value
                    click.echo(f"{label}: {value:.4f}")


@click.command("predict", epilog=URL_CREDENTIALS)
@model_argument
@click.argument("data", type=PathOrURL())
@click.option(
    "--out",
    type=PathOrURL(),
    callback=output_file,
    required=True,
    help="Where to write the predictions, in DATA's row order; the format by the suffix: "
    ".parquet, a folder of Parquet files (one per block of DATA) with a column "
    "'predictions'; .csv, one CSV file with a column 'predictions'; anything else, a zarr "
    "store with an array 'predictions' (text labels as fixed-width unicode). Text labels "
    "stay text in all three. An object store's URL (s3://bucket/out.parquet) takes Parquet "
    "or zarr, with the credentials of the environment (AWS_* variables).",
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
    model_file: Path | str,
    data: Path | str,
    out: Path | str,
    overwrite: bool,
    x_name: str,
    target: str | None,
    allow_unsigned: bool,
    scheduler: str | None,
    workers: int | None,
    dashboard_port: int,
) -> None:
    """Predict with the saved MODEL_FILE on DATA's features, into OUT (Parquet, CSV or zarr);
    each a local path or an object store's URL.

    A model trained on a table (CSV, Parquet, JSON lines) reads the columns it was trained on
    from DATA, by name, in any order; DATA needs no target column, and --target is not used.
    Nothing is left at OUT if predicting fails.
    """
    import dask.array as da

    from daskpar import audit
    from daskpar.data import read_path

    with user_errors():
        if isinstance(out, str):  # an object store's URL
            check_remote_out(out, overwrite)
        elif out.exists() and not overwrite:
            raise click.ClickException(f"{out} exists; pass --overwrite to replace it.")
        elif out.exists() and out.is_dir() != (output_format(out) != "csv"):
            raise click.ClickException(
                f"{out} is a {'folder' if out.is_dir() else 'file'}, and a "
                f"{OUTPUT_FORMATS[output_format(out)]} output is not; remove it, or pick "
                "another --out."
            )
        model = _load_model(model_file, allow_unsigned)
        names = _fitted_names(model)
        check_table_for(model, data)  # a URL is fine there too
        if names is not None and table_kind(data) is not None:
            # The table's columns by name: the model matches them to its own order.
            X, _ = read_path(str(data), columns=names, as_frame=True)
        else:
            X, _ = read_path(data, x=x_name, y=None, target=target)
        with cluster(scheduler, workers, dashboard_port) as client:
            describe_cluster(client)
            with audit.operation("predict", estimator=model, X=X) as record, _late_dtype(data):
                predictions = model.predict(X)
                if not isinstance(predictions, da.Array) and hasattr(predictions, "to_dask_array"):
                    predictions = predictions.to_dask_array(lengths=True)
                predictions = _as_written(da.asarray(predictions), model)
                if isinstance(out, str):
                    final: Path | str = write_remote_store(predictions, out)
                else:
                    final = write_store(predictions, out)
                record.extra["out"] = str(final)
            written = final if isinstance(out, str) else out  # a URL as messages show it
            where = f"{written}/predictions" if output_format(out) == "zarr" else str(written)
            click.echo(f"wrote {predictions.shape[0]:,} predictions to {where}")
