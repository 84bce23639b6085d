"""``daskpar score`` and ``predict``: using a saved model on DATA."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from ._cluster import cluster, describe_cluster
from ._context import read_data, user_errors, write_store
from ._options import (
    allow_unsigned_option,
    dashboard_option,
    model_argument,
    output_file,
    scheduler_option,
    security_options,
    target_option,
    workers_option,
    x_option,
)


def _load_model(path: Path, allow_unsigned: bool) -> Any:
    import daskpar as dp

    model = dp.load(path, allow_unsigned=allow_unsigned)
    click.echo(f"loaded {type(model).__name__} from {path}")
    return model


@click.command("score")
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

    with user_errors():
        model = _load_model(model_file, allow_unsigned)
        X, y = read_data(data, x_name, y_name, target)
        names = ["r2"]
        if is_classifier(model):
            names = ["accuracy"] + (["neg_log_loss"] if hasattr(model, "predict_proba") else [])
        with cluster(scheduler, workers, dashboard_port) as client:
            describe_cluster(client)
            with audit.operation("score", estimator=model, X=X, y=y) as record:
                for name in names:
                    value = metrics.score(model, X, y, name)
                    shown, value = (name[4:], -value) if name.startswith("neg_") else (name, value)
                    record.metrics[shown] = value
                    click.echo(f"{shown}: {value:.4f}")


@click.command("predict")
@model_argument
@click.argument("data", type=click.Path(path_type=Path))
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    callback=output_file,
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

    with user_errors():
        if out.exists() and not overwrite:
            raise click.ClickException(f"{out} exists; pass --overwrite to replace it.")
        model = _load_model(model_file, allow_unsigned)
        X, _ = read_path(data, x=x_name, y=None, target=target)
        with cluster(scheduler, workers, dashboard_port) as client:
            describe_cluster(client)
            with audit.operation("predict", estimator=model, X=X) as record:
                predictions = da.asarray(model.predict(X))
                final = write_store(predictions, out)
                record.extra["out"] = str(final)
            click.echo(f"wrote {predictions.shape[0]:,} predictions to {out}/predictions")
