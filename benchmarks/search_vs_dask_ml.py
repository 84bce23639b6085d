"""A 16-candidate x 3-fold grid on out-of-core zarr data, three ways, on one cluster in one run.

1. ``daskpar.GridSearchCV``: all 48 models trained together, one read of each block per epoch.
2. A loop of ``dask_ml.wrappers.Incremental`` fits, one per candidate and fold (dask-ml's
   ``Incremental`` trains block after block; ``partial_fit`` once per epoch).
3. A loop of ``daskpar.ParallelIncremental`` fits, one per candidate and fold.

All three use the same folds (whole row blocks), the same SGD parameters and the same number of
epochs, and score each model on its validation fold. Every row reports the wall time, that time
as a multiple of one plain read of the data, the best parameters found, their mean validation
accuracy and the workers' peak resident memory so far. Run with ``make bench`` (installs
dask-ml from the ``compare`` extra); the table is printed and appended to
``benchmarks/RESULTS.md``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import os
import resource
import tempfile
import time
import warnings
from itertools import product
from pathlib import Path
from typing import Any

import dask.array as da
import numpy as np
from distributed import Client, LocalCluster
from sklearn.linear_model import SGDClassifier

import daskpar as dp
from daskpar import metrics
from daskpar._cli import median_read_seconds

GRID = {"alpha": [1e-5, 1e-4, 1e-3, 1e-2], "penalty": ["l2", "l1"], "loss": ["hinge", "log_loss"]}


def candidates() -> list[dict[str, Any]]:
    return [dict(zip(GRID, values, strict=True)) for values in product(*GRID.values())]


def peak_worker_mb(client: Client) -> float:
    def peak() -> float:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    return max(client.run(peak).values())


def best_of(scores: dict[int, list[float]]) -> tuple[dict[str, Any], float]:
    means = {c: float(np.mean(s)) for c, s in scores.items()}
    best = max(means, key=means.__getitem__)
    return candidates()[best], means[best]


FIT_SECONDS: list[float] = []


def run_daskpar_search(X: da.Array, y: da.Array, folds: list[Any], epochs: int) -> Any:
    model = dp.ParallelIncremental(SGDClassifier(), epochs=epochs, random_state=0)
    grid = {f"estimator__{k}": v for k, v in GRID.items()}
    search = dp.GridSearchCV(model, grid, cv=folds, refit=False).fit(X, y, classes=[0, 1])
    # The seconds the tasks spent in partial_fit, summed over every model and fold.
    FIT_SECONDS.append(float(search.cv_results_["mean_fit_time"].sum() * len(folds)))
    params = {k.removeprefix("estimator__"): v for k, v in search.best_params_.items()}
    return params, search.best_score_


def run_loop(X: da.Array, y: da.Array, folds: list[Any], epochs: int, kind: str) -> Any:
    scores: dict[int, list[float]] = {}
    for c, params in enumerate(candidates()):
        for train, test in folds:
            X_train, y_train = X.blocks[train], y.blocks[train]
            X_test, y_test = X.blocks[test], y.blocks[test]
            if kind == "dask-ml":
                from dask_ml.wrappers import Incremental

                model = Incremental(SGDClassifier(random_state=0, **params), random_state=0)
                for _ in range(epochs):
                    model.partial_fit(X_train, y_train, classes=[0, 1])
                fitted = model.estimator_
            else:
                model = dp.ParallelIncremental(
                    SGDClassifier(**params), epochs=epochs, random_state=0
                )
                fitted = model.fit(X_train, y_train, classes=[0, 1]).estimator_
            score = metrics.score(fitted, X_test, y_test, "accuracy")
            scores.setdefault(c, []).append(score)
    return best_of(scores)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--features", type=int, default=50)
    parser.add_argument("--chunk-rows", type=int, default=50_000)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--skip-dask-ml", action="store_true")
    parser.add_argument("--results", type=Path, default=Path(__file__).with_name("RESULTS.md"))
    args = parser.parse_args()
    logging.getLogger("distributed").setLevel(logging.ERROR)
    warnings.simplefilter("ignore")  # dask-ml's deprecation warnings on current dask

    with (
        tempfile.TemporaryDirectory(prefix="daskpar-bench-") as tmp,
        LocalCluster(
            n_workers=args.workers, threads_per_worker=1, host="127.0.0.1", dashboard_address=":0"
        ) as cluster,
        Client(cluster) as client,
    ):
        store = Path(tmp) / "data.zarr"
        d = args.features
        X, y = dp.make_classification(
            n_samples=args.rows,
            n_features=d,
            n_informative=d // 5,
            n_redundant=d // 10,
            n_clusters_per_class=1,
            chunks=args.chunk_rows,
            random_state=0,
            dtype=np.float32,
        )
        dp.write_zarr(store, X, y)
        X, y = dp.read_zarr(store)
        # Three folds of consecutive whole blocks, as GridSearchCV(cv=3) makes them.
        tests = [part.tolist() for part in np.array_split(np.arange(X.numblocks[0]), 3)]
        folds = [(sorted(set(range(X.numblocks[0])) - set(test)), test) for test in tests]
        base = median_read_seconds(X)
        size_mb = X.nbytes / 2**20
        print(
            f"{args.rows:,} x {d} float32 in zarr ({size_mb:.0f} MB, {X.numblocks[0]} blocks), "
            f"{len(candidates())} candidates x 3 folds, {args.epochs} epochs, "
            f"{args.workers} workers; one read: {base:.2f} s"
        )
        runs = [("daskpar GridSearchCV", lambda: run_daskpar_search(X, y, folds, args.epochs))]
        runs.append(
            ("loop of ParallelIncremental", lambda: run_loop(X, y, folds, args.epochs, "daskpar"))
        )
        if not args.skip_dask_ml:
            runs.append(
                (
                    "loop of dask-ml Incremental",
                    lambda: run_loop(X, y, folds, args.epochs, "dask-ml"),
                )
            )
        rows = []
        for name, run in runs:
            start = time.perf_counter()
            params, score = run()
            seconds = time.perf_counter() - start
            rows.append((name, seconds, params, score, peak_worker_mb(client)))
            print(f"  {name}: {seconds:.1f} s, best {params} ({score:.4f})", flush=True)

    fastest = rows[0][1]
    lines = [
        f"\n## {dt.date.today()}: {args.rows:,} x {d} float32, {X.numblocks[0]} blocks, "
        f"16 candidates x 3 folds, {args.epochs} epochs, {args.workers} workers "
        f"({os.cpu_count()} cores); one read {base:.2f} s\n",
        "| run | seconds | x one read | x daskpar | best params | mean accuracy | peak worker MB |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, seconds, params, score, peak in rows:
        lines.append(
            f"| {name} | {seconds:.1f} | {seconds / base:.1f} | {seconds / fastest:.1f} | "
            f"{params} | {score:.4f} | {peak:.0f} |"
        )
    lines.append(
        f"\ndaskpar's tasks spent {FIT_SECONDS[0]:.1f} s in scikit-learn's partial_fit for the "
        f"48 models: {FIT_SECONDS[0] / args.workers:.1f} s per worker, the floor of any "
        "schedule on this cluster (every method trains the same models on the same rows)."
    )
    table = "\n".join(lines)
    print(table)
    with args.results.open("a") as f:
        f.write(table + "\n")


if __name__ == "__main__":
    main()
