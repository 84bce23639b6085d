"""``daskpar train``, ``search`` and ``demo``: fitting models on DATA."""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import click

from ._cluster import cluster, describe_cluster, worker_threads
from ._context import (
    check_report_path,
    check_save_url,
    interruptible,
    read_data,
    record_feature_names,
    reporting,
    shown,
    start_checkpoint,
    stay_open,
    user_errors,
)
from ._make_data import write_dataset
from ._options import (
    DEFAULT_MODEL,
    MODELS,
    URL_CREDENTIALS,
    PathOrURL,
    checkpoint_option,
    dashboard_option,
    data_options,
    epochs_option,
    keep_open_option,
    model_option,
    overwrite_option,
    report_option,
    save_options,
    scale_option,
    scheduler_option,
    security_options,
    workers_option,
)
from ._tables import ColumnChoice, column_options, encode_table, read_table, with_column_step


class Components(click.ParamType):  # type: ignore[type-arg]  # generic only in stubs
    """``--pca``: a number of components (an integer of 1 or more), or the fraction of the
    variance to keep (a number strictly between 0 and 1), as ``PCA(n_components=...)``."""

    name = "N|FRACTION"

    def convert(self, value: Any, param: Any, ctx: Any) -> int | float:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return value
        text = str(value).strip()
        try:
            number = float(text)
        except ValueError:
            number = float("nan")
        if number.is_integer() and number >= 1 and "." not in text and "e" not in text.lower():
            return int(number)
        if 0 < number < 1:
            return number
        self.fail(
            f"{value!r} is neither a number of components (an integer of 1 or more, such as 10) "
            "nor a fraction of the variance to keep (between 0 and 1, such as 0.95).",
            param,
            ctx,
        )


pca_option = click.option(
    "--pca",
    "pca",
    type=Components(),
    default=None,
    help="Project the features on their first principal components before the model: N "
    "components, or as many as keep FRACTION of the variance (such as 0.95). daskpar.PCA is "
    "fitted exactly in one pass over the training data (after --scale), and each training "
    "task projects its own block; the saved model includes it.",
)

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


def _make_scaler(model_name: str, *, sparse: bool = False) -> Any:
    """The scaler ``--scale`` fits; on sparse (hashed) features MaxAbsScaler, which keeps
    them sparse (centring would fill in every zero)."""
    import daskpar as dp

    if sparse:
        if model_name in SCALERS:
            raise click.ClickException(
                f"--model {model_name} needs features scaled to [0, 1] "
                f"({SCALERS[model_name]}), which sparse hashed features cannot be without "
                "filling in their zeros: pick another --model, or leave out --hash-bits."
            )
        return dp.MaxAbsScaler()
    return getattr(dp, SCALERS.get(model_name, "StandardScaler"))()


def _save_model(model: Any, path: Path | str | None, encrypt: bool) -> None:
    """``daskpar.save`` to a file (renamed into place) or an object store's URL (one
    upload), then one line: where, whether it is signed, and the SHA-256 of what was
    written there, read back."""
    if path is None:
        return
    import daskpar as dp
    from daskpar import persist

    dp.save(model, path, encrypt=encrypt)
    info = persist.describe(path)
    signed = "signed" if info["signed"] else "unsigned (set DASKPAR_MODEL_KEY to sign it)"
    click.echo(f"saved the model to {shown(path)}: {signed}, sha256 {info['sha256']}")


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
    pca: float | None = None,
    checkpoint: Path | str | None = None,
    read_what: str = "one plain read of the training data",
) -> tuple[Any, dict[str, Any]]:
    """Fit ``model_name`` (after a scaler if ``scale``), print its epochs; (pipeline, summary).

    The summary has the whole fit's seconds (the scaler's pass included), the median epoch
    over ``read_seconds``, and the last validation score.
    """
    import statistics

    from sklearn.base import is_classifier
    from sklearn.pipeline import make_pipeline

    import daskpar as dp
    from daskpar._coalesce import coalesce_blocks, describe, target_block_bytes
    from daskpar._families import family_for

    if scale is None:
        scale = _needs_scaler(model_name)
    start = time.perf_counter()
    steps = []
    if scale:
        from scipy import sparse

        hashed = sparse.issparse(getattr(X_train, "_meta", None))
        scaler = _make_scaler(model_name, sparse=hashed).fit(X_train)
        click.echo(
            f"fitted {type(scaler).__name__} in one pass over the training data: "
            f"{time.perf_counter() - start:.2f} s (scale_ from {scaler.scale_.min():.3g} "
            f"to {scaler.scale_.max():.3g})"
        )
        # Lazy: each training task reads its block and scales it; nothing is stored scaled.
        X_train, X_test = scaler.transform(X_train), scaler.transform(X_test)
        steps.append(scaler)
    if pca is not None:
        began = time.perf_counter()
        projection = dp.PCA(n_components=pca).fit(X_train)
        click.echo(
            f"fitted PCA in one pass over the training data: {time.perf_counter() - began:.2f} s; "
            f"{projection.n_components_} of {X_train.shape[1]} components keep "
            f"{projection.explained_variance_ratio_.sum():.1%} of the variance"
        )
        X_train, X_test = projection.transform(X_train), projection.transform(X_test)
        steps.append(projection)
    # Small blocks merged as the fit would merge them (daskpar.target-block-bytes), so that
    # the line below gives the partitions the training runs on.
    stored = X_train.numblocks[0]
    X_train, y_train, X_test, y_test = coalesce_blocks(X_train, y_train, X_test, y_test)
    n = X_train.numblocks[0]
    coalesced = (
        ""
        if n == stored
        else f"; {describe(stored, n, target_block_bytes())} (daskpar.target-block-bytes)"
    )
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
        f"{X_train.shape[1]} features in {n} partition{'' if n == 1 else 's'} "
        f"(split_every={split_every}){'' if scale else ', unscaled'}; held out: "
        f"{X_test.shape[0]:,} rows{coalesced}"
    )
    model.fit(X_train, y_train, validation_data=(X_test, y_test))
    seconds = time.perf_counter() - start
    steps.append(model)
    metric = "accuracy" if is_classifier(estimator) else "R^2"
    click.echo(f"\n{read_what} (median of 3): {read_seconds:.2f} s")
    click.echo(f"{'epoch':>5}  {'seconds':>8}  {'x read':>6}  validation {metric}")
    for rec in model.history_:
        click.echo(
            f"{rec['epoch']:>5}  {rec['seconds']:>8.2f}  {rec['seconds'] / read_seconds:>6.2f}  "
            f"{rec['validation_score']:.4f}"
        )
    summary = {
        "model": ("StandardScaler + " if scale else "")
        + ("PCA + " if pca is not None else "")
        + type(estimator).__name__,
        "seconds": seconds,
        "x_read": statistics.median(r["seconds"] for r in model.history_) / read_seconds,
        "score": model.history_[-1]["validation_score"],
    }
    return make_pipeline(*steps), summary


def read_block(block: Any) -> Any:
    """The sum of one block (dense or sparse), as a 1 x 1 array: a read of every value."""
    import numpy as np

    return np.full((1, 1), block.sum(), dtype=np.float64)


def median_read_seconds(X: Any, repeats: int = 3) -> float:
    """Median time of reading every block once (the sum of each): the baseline epochs
    compare to."""
    import statistics

    import dask.array as da
    import numpy as np

    from daskpar._graph import compute_blocks

    sums = da.map_blocks(
        read_block, X, chunks=((1,) * X.numblocks[0], (1,)), dtype=np.float64,
        meta=np.empty((0, 0)),
    )  # fmt: skip
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        compute_blocks(sums.sum())  # as daskpar computes: dask's stage names, on any scheduler
        times.append(time.perf_counter() - start)
    return statistics.median(times)


@click.command("train", epilog=URL_CREDENTIALS)
@click.argument("data", type=PathOrURL())
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
@column_options
@scale_option
@pca_option
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
    data: Path | str,
    model_name: str,
    epochs: int,
    split_every: int,
    test_size: float,
    x_name: str,
    y_name: str,
    target: str | None,
    seed: int,
    columns: ColumnChoice,
    scale: bool | None,
    pca: float | None,
    scheduler: str | None,
    workers: int | None,
    dashboard_port: int,
    report: Path | str | None,
    checkpoint: Path | str | None,
    overwrite: bool,
    keep_open: bool,
    save_path: Path | str | None,
    encrypt: bool,
) -> None:
    """Train a model on DATA (zarr, Parquet, CSV, JSON lines, svmlight, .npy or HDF5): a
    local path or an object store's URL (s3://bucket/data.zarr).

    A fraction of every partition is held out, and the held-out score is shown after every
    epoch, next to the time of one plain read of the data. The default model,
    daskpar.AdaptiveSGDClassifier, trains on the features as they are; the scikit-learn
    models get them standardised first (see --scale).

    A table with text or categorical feature columns gets each of them encoded, one-hot or
    ordinal by its number of categories (counted in a pass on the workers, and printed;
    see --max-one-hot-categories, --one-hot and --ordinal). The model saved then starts
    with that column step, and takes a table's columns by name.
    """
    from sklearn.base import is_classifier

    import daskpar as dp

    with interruptible(checkpoint), user_errors():
        check_report_path(report, overwrite)
        check_save_url(save_path)
        start_checkpoint(checkpoint, overwrite)
        table = read_table(data, target, columns)
        names = None
        if table is None:
            X, y, names = read_data(data, x_name, y_name, target)
        classifier = is_classifier(_make_model(model_name))
        with cluster(scheduler, workers, dashboard_port) as client:
            describe_cluster(client)
            with reporting(report):
                step = None
                if table is not None:
                    step, X, y = encode_table(*table, columns, data)
                X, y = _enough_partitions(X, y, worker_threads(client))
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
                    pca=pca,
                    checkpoint=checkpoint,
                    read_what="one plain read of the training data"
                    + ("" if step is None else ", its columns encoded"),
                )
            if step is not None:
                pipe = with_column_step(step, pipe)
            _save_model(record_feature_names(pipe, names), save_path, encrypt)
            stay_open(client, scheduler, keep_open)


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


@click.command("search", epilog=URL_CREDENTIALS)
@click.argument("data", type=PathOrURL())
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
@column_options
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
    data: Path | str,
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
    columns: ColumnChoice,
    scheduler: str | None,
    workers: int | None,
    dashboard_port: int,
    report: Path | str | None,
    checkpoint: Path | str | None,
    overwrite: bool,
    keep_open: bool,
    save_path: Path | str | None,
    encrypt: bool,
) -> None:
    """Tune a model on DATA (a local path or an object store's URL): every candidate and
    fold trained from one read per block.

    Prints the candidates ranked by their mean validation score over the folds, then refits
    the best on all of DATA. A table with text or categorical columns gets them encoded
    first, as `daskpar train` does; the candidates differ in the model only.
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
        # Hashed features are sparse: MaxAbsScaler keeps them so.
        hashed = columns.hash_bits is not None
        model = make_pipeline(_make_scaler(model_name, sparse=hashed), model)
        prefix = "parallelincremental__estimator__"
    grid = _parse_grid(grid_text, prefix)
    with interruptible(checkpoint), user_errors():
        check_report_path(report, overwrite)
        check_save_url(save_path)
        start_checkpoint(checkpoint, overwrite)
        table = read_table(data, target, columns)
        names = None
        if table is None:
            X, y, names = read_data(data, x_name, y_name, target)
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
            describe_cluster(client)
            with reporting(report):
                step = None
                if table is not None:
                    step, X, y = encode_table(*table, columns, data)
                # Folds are whole blocks: every fold needs blocks of its own.
                X, y = _enough_partitions(X, y, max(cv, worker_threads(client)))
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
            best = search.best_estimator_
            if step is not None:
                best = with_column_step(step, best)
            _save_model(record_feature_names(best, names), save_path, encrypt)
            stay_open(client, scheduler, keep_open)


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


@click.command("demo")
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
    report: Path | str | None,
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

    with user_errors():
        check_report_path(report)
        tmp = None
        if data_dir is None:
            tmp = tempfile.mkdtemp(prefix="daskpar-demo-")
            data_dir = Path(tmp)
        try:
            store = data_dir / "demo.zarr"
            with cluster(scheduler, workers, dashboard_port) as client:
                describe_cluster(client)
                with reporting(report):
                    seconds = write_dataset(store, rows, features, chunk_rows, 2, seed=0)
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
                stay_open(client, scheduler, keep_open)
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
