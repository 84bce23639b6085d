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


@contextlib.contextmanager
def cluster(scheduler: str | None, workers: int | None, dashboard_port: int = 0) -> Iterator[Any]:
    """A ``distributed.Client``: to ``scheduler`` if given, else to an embedded LocalCluster.

    The embedded cluster binds the scheduler, the workers and the dashboard to 127.0.0.1: a
    default LocalCluster serves its dashboard on every interface, and anything that reaches a
    scheduler can run code on its workers.
    """
    import logging

    from distributed import Client, LocalCluster

    if scheduler:
        with Client(scheduler) as client:
            yield client
        return
    # The embedded cluster's own INFO logging would drown the command's output.
    logging.getLogger("distributed").setLevel(logging.ERROR)
    with (
        LocalCluster(
            n_workers=workers or os.cpu_count() or 1,
            threads_per_worker=1,
            host="127.0.0.1",
            dashboard_address=f"127.0.0.1:{dashboard_port}",
        ) as local,
        Client(local) as client,
    ):
        client.register_plugin(_quiet_task_errors())
        yield client


def _worker_threads(client: Any) -> int:
    """How many tasks the cluster runs at once."""
    return max(1, sum(client.nthreads().values()))


def _quiet_task_errors() -> Any:
    """A worker plugin: a failed task is reported once, by the CLI, not also in the workers' log.

    The embedded cluster's workers write to this terminal; their "Compute Failed" record
    with its traceback would precede the one-line error the CLI prints. (Defined here so that
    distributed is imported only when a cluster starts: ``--help`` stays fast.)
    """
    import logging

    from distributed.diagnostics.plugin import WorkerPlugin

    class QuietTaskErrors(WorkerPlugin):
        name = "daskpar-quiet-task-errors"

        def setup(self, worker: Any) -> None:
            logging.getLogger("distributed.worker").setLevel(logging.CRITICAL)

    return QuietTaskErrors()


def _describe_cluster(client: Any) -> None:
    info = client.scheduler_info()
    click.echo(
        f"cluster: {len(info['workers'])} workers at {info['address']}; "
        f"dashboard: {client.dashboard_link}"
    )


@contextlib.contextmanager
def _user_errors() -> Iterator[None]:
    """Turn the errors a user can cause into a one-line message and exit status 1."""
    try:
        yield
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
        estimator, epochs=epochs, split_every=split_every, random_state=seed, verbose=1
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

    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        X.sum().compute()
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
) -> None:
    """Train a model on DATA (a zarr store, a parquet file or folder, or a CSV file).

    A fraction of every partition is held out, and the held-out score is shown after every
    epoch, next to the time of one plain read of the data. The default model,
    daskpar.AdaptiveSGDClassifier, trains on the features as they are; the scikit-learn
    models get them standardised first (see --scale).
    """
    from sklearn.base import is_classifier

    import daskpar as dp

    with _user_errors():
        X, y = _read(data, x_name, y_name, target)
        classifier = is_classifier(_make_model(model_name))
        with cluster(scheduler, workers, dashboard_port) as client:
            _describe_cluster(client)
            X, y = _enough_partitions(X, y, _worker_threads(client))
            _check_data(X, y, classifier=classifier)
            split = dp.train_test_split(X, y, test_size=test_size, random_state=seed)
            _train_and_report(
                *split,
                model_name=model_name,
                epochs=epochs,
                split_every=split_every,
                seed=seed,
                read_seconds=median_read_seconds(split[0]),
                scale=scale,
            )


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
) -> None:
    """Tune a model on DATA: every candidate and fold trained from one read per block.

    Prints the candidates ranked by their mean validation score over the folds, then refits
    the best on all of DATA.
    """
    from sklearn.base import is_classifier
    from sklearn.model_selection import ParameterGrid
    from sklearn.pipeline import make_pipeline

    import daskpar as dp

    model: Any = dp.ParallelIncremental(_make_model(model_name), epochs=epochs, random_state=seed)
    prefix = "estimator__"
    if _needs_scaler(model_name) if scale is None else scale:
        model = make_pipeline(_make_scaler(model_name), model)
        prefix = "parallelincremental__estimator__"
    grid = _parse_grid(grid_text, prefix)
    with _user_errors():
        X, y = _read(data, x_name, y_name, target)
        search_class: Any = dp.HalvingSearchCV if halving else dp.GridSearchCV
        search = search_class(model, grid, cv=cv, scoring=scoring, random_state=seed, verbose=1)
        with cluster(scheduler, workers, dashboard_port) as client:
            _describe_cluster(client)
            # Folds are whole blocks: every fold needs blocks of its own.
            X, y = _enough_partitions(X, y, max(cv, _worker_threads(client)))
            _check_data(X, y, classifier=is_classifier(model))
            n_candidates = len(ParameterGrid(grid))
            click.echo(
                f"searching {n_candidates} candidates x {cv} folds on {X.shape[0]:,} rows x "
                f"{X.shape[1]} features in {X.numblocks[0]} blocks, {epochs} epochs"
            )
            start = time.perf_counter()
            search.fit(X, y)
            seconds = time.perf_counter() - start
        _print_ranking(search)
        click.echo(
            f"\nbest: {_short_params(search.best_params_)} (mean score "
            f"{search.best_score_:.4f}); search and refit took {seconds:.1f} s"
        )


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
def demo_command(
    rows: int,
    features: int,
    chunk_rows: int,
    epochs: int,
    data_dir: Path | None,
    scheduler: str | None,
    workers: int | None,
    dashboard_port: int,
) -> None:
    """The main job: write an out-of-core data set, train on it in parallel, report.

    Writes ROWS x FEATURES float32 with features on very different scales to a zarr store
    chunk by chunk, holds out 10 % of the rows of every block, and trains two models for
    EPOCHS epochs each on an embedded LocalCluster (or --scheduler):
    ParallelIncremental(daskpar.AdaptiveSGDClassifier()) on the features as they are, and
    ParallelIncremental(SGDClassifier(loss="log_loss")) after a one-pass StandardScaler.
    Prints each epoch's time next to the time of one plain read of the data, then the two
    side by side: time, x read, held-out accuracy and log-loss. With --scheduler, the
    workers must see --data-dir at the same path.
    """
    import daskpar as dp
    from daskpar import metrics

    with _user_errors():
        tmp = None
        if data_dir is None:
            tmp = tempfile.mkdtemp(prefix="daskpar-demo-")
            data_dir = Path(tmp)
        try:
            store = data_dir / "demo.zarr"
            with cluster(scheduler, workers, dashboard_port) as client:
                _describe_cluster(client)
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
                    summary["log_loss"] = -metrics.score(pipe, X_test, y_test, "neg_log_loss")
                    summaries.append(summary)
            _print_comparison(summaries, epochs)
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


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
