"""What the Dask dashboard shows of daskpar: stage names whole, on any scheduler.

The dashboard labels tasks by ``key_split`` of their keys and its progress bars cut labels over
15 characters. Every stage daskpar runs is collected here from a scheduler's task prefixes,
after a walk through the library (data, fits, searches, metrics), and checked; then the same
for a scheduler in another process, which optimizes the graphs it is sent with its own
settings unless they come optimized.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from dask.utils import key_split
from daskpar_testing import local_cluster, scheduler_processes
from distributed import Client, LocalCluster
from sklearn.linear_model import SGDClassifier
from sklearn.pipeline import make_pipeline

import daskpar as dp
from daskpar import metrics
from daskpar._graph import MAX_STAGE_LENGTH, stage_name
from daskpar._truncated_svd import TruncatedSVD


def task_prefixes(client: Client) -> set[str]:
    """The stage names the scheduler has seen (what the dashboard groups tasks by)."""

    def prefixes(dask_scheduler: Any) -> list[str]:
        return list(dask_scheduler.task_prefixes)

    return set(client.run_on_scheduler(prefixes))


def assert_shows_whole(name: str) -> None:
    """``name`` fits the progress bars, shows as itself, and carries no token."""
    assert len(name) <= MAX_STAGE_LENGTH, name
    assert key_split(f"{name}-{'a1' * 16}") == name, name
    assert not re.search(r"\d", name), name
    assert not name.startswith(("daskpar-", "finalize-")), name


# --------------------------------------------------------------------------------------------
# Every stage, on one cluster


@pytest.fixture(scope="module")
def cluster() -> Iterator[LocalCluster]:
    with local_cluster(processes=False) as local:
        yield local


def write_readers_data(folder: Path) -> dict[str, tuple[Any, Any]]:
    """A small data set in every format daskpar reads, read lazily."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(1200, 4))
    y = (X[:, 0] > 0).astype(np.int64)
    np.save(folder / "X.npy", X)
    np.save(folder / "y.npy", y)
    import h5py

    with h5py.File(folder / "d.h5", "w") as f:
        f["X"], f["y"] = X, y
    frame = pd.DataFrame(X, columns=list("abcd")).assign(t=np.where(y, "yes", "no"))
    frame.to_parquet(folder / "d.parquet")
    frame.to_csv(folder / "d.csv", index=False)
    return {
        "npy": dp.read_npy(folder / "X.npy", folder / "y.npy"),
        "hdf5": dp.read_hdf5(folder / "d.h5", x="X", y="y"),
        "parquet": dp.read_parquet(folder / "d.parquet", target="t"),
        "csv": dp.read_csv(folder / "d.csv", target="t", blocksize=20_000),
    }


EXPECTED_STAGES = {
    # data: generated, written, read, checked
    "make-problem", "make-data", "make-data-X", "make-data-y", "store-map",
    "read-parquet", "read-parquet-X", "read-parquet-y", "count-rows", "read-csv-X",
    "read-csv-y", "check-block", "check-merge", "check-final",
    # the broadcast values of a training pass
    "model", "models", "pass-plan", "scalers",
    # reductions: scaler, labels, training, search, exact least squares
    "scaler-block", "scaler-merge", "scaler-final",
    "classes-block", "classes-merge", "classes-final",
    "fit-block", "fit-merge", "fit-final",
    "prepare-block", "prepare-merge", "prepare-final",
    "search-block", "search-merge", "search-final",
    "lstsq-block", "lstsq-merge", "lstsq-final",
    "pca-block", "pca-merge", "pca-final",
    "kmeans-block", "kmeans-merge", "kmeans-final", "kmpick-block", "kmpick-merge",
    "kmpick-final", "kmsample-block", "kmsample-merge", "kmsample-final", "kmweight-block",
    "kmweight-merge", "kmweight-final",
    "pcarand-block", "pcarand-merge", "pcarand-final",
    "tsvd-block", "tsvd-merge", "tsvd-final", "tsvdvar-block", "tsvdvar-merge", "tsvdvar-final",
    # metrics
    "confusion-block", "confusion-merge", "confusion-final",
    "log-loss-block", "log-loss-merge", "log-loss-final",
    "roc-auc-block", "roc-auc-merge", "roc-auc-final",
    "residuals-block", "residuals-merge", "residuals-final",
    "score-block", "score-merge", "score-final",
}  # fmt: skip


def test_every_stage_name_shows_whole_on_the_dashboard(
    cluster: LocalCluster, tmp_path: Path
) -> None:
    lazy: dict[str, Any] = {}
    with Client(cluster) as client:
        X, y = dp.make_classification(n_samples=3000, n_features=6, chunks=500, random_state=0)
        dp.write_zarr(tmp_path / "d.zarr", X, y)
        X, y = dp.read_zarr(tmp_path / "d.zarr")
        X_train, X_test, y_train, y_test = dp.train_test_split(X, y, test_size=0.2, random_state=0)
        for Xr, yr in write_readers_data(tmp_path).values():
            dp.data.check_blocks(Xr, yr)
            lazy[Xr.name] = Xr
        learner = dp.ParallelIncremental(SGDClassifier(loss="log_loss"), epochs=2, random_state=0)
        pipe = make_pipeline(dp.StandardScaler(), learner).fit(X_train, y_train)
        dp.ParallelIncremental(SGDClassifier(), epochs=1, validation_fraction=0.3).fit(
            X_train, y_train
        )
        proba = pipe.predict_proba(X_test)
        metrics.accuracy_score(y_test, pipe.predict(X_test))
        metrics.log_loss(y_test, proba)
        metrics.roc_auc_score(y_test, proba[:, 1])
        pipe.score(X_test, y_test)
        grid = {"parallelincremental__estimator__alpha": [1e-4, 1e-3]}
        dp.GridSearchCV(pipe, grid, cv=2, refit=False).fit(X_train, y_train)
        Xr, yr = dp.make_regression(n_samples=1000, n_features=4, chunks=250, random_state=0)
        linear = dp.LinearRegression().fit(Xr, yr)
        metrics.r2_score(yr, linear.predict(Xr))
        pca = dp.PCA(2).fit(X_train)
        dp.PCA(2, svd_solver="randomized", iterated_power=1, random_state=0).fit(X_train)
        svd = TruncatedSVD(2, n_iter=1, random_state=0).fit(X_train)
        kmeans = dp.KMeans(3, n_init=2, init_max_iter=1, max_iter=2, random_state=0).fit(X_train)
        seen = task_prefixes(client)
    # Lazy results: the names they run under when computed.
    fitted = pipe[-1]
    scaler = pipe[0]
    for array in (
        X_train,
        X_test,
        fitted.predict(X_test),
        fitted.predict_proba(X_test),
        fitted.predict_log_proba(X_test),
        fitted.decision_function(X_test),
        scaler.transform(X_test),
        scaler.inverse_transform(X_test),
        pca.transform(X_test),
        pca.inverse_transform(pca.transform(X_test)),
        kmeans.predict(X_test),
        kmeans.transform(X_test),
        svd.transform(X_test),
        svd.inverse_transform(svd.transform(X_test)),
        *lazy.values(),
    ):
        lazy[array.name] = array
    shown = {key_split(name) for name in lazy}
    assert shown >= {"split-train", "split-test", "predict", "predict-proba", "log-proba",
                     "decision", "scale", "unscale", "read-npy-X", "read-hdf-X",
                     "pca-transform", "pca-inverse", "kmeans-predict", "kmeans-dist",
                     "tsvd-transform", "tsvd-inverse"}  # fmt: skip
    for name in seen | shown:
        assert_shows_whole(name)
    assert seen >= EXPECTED_STAGES, sorted(EXPECTED_STAGES - seen)


@pytest.mark.parametrize(
    ("stage", "steps"),
    [("read-hdf5", ("X",)), ("confusion", ("result",)), ("fit", ("finalize",)), ("", ("x",))],
)
def test_names_that_would_not_show_whole_are_refused(stage: str, steps: tuple[str, ...]) -> None:
    with pytest.raises(ValueError, match="stage name"):
        stage_name(stage, *steps)


# --------------------------------------------------------------------------------------------
# A scheduler in another process


@pytest.fixture
def remote_scheduler(tmp_path: Path) -> Iterator[str]:
    """``dask scheduler`` and one ``dask worker`` as processes on 127.0.0.1, stopped by PID."""
    with scheduler_processes(tmp_path) as address:
        yield address


@pytest.mark.slow
def test_stage_names_survive_on_a_scheduler_in_another_process(
    remote_scheduler: str, tmp_path: Path
) -> None:
    """Its default optimization would fuse ``fit-final`` with ``fit-merge`` and more."""
    with Client(remote_scheduler, timeout=60) as client:
        client.wait_for_workers(1, timeout=60)
        X, y = dp.make_classification(n_samples=4000, n_features=5, chunks=500, random_state=0)
        dp.write_zarr(tmp_path / "d.zarr", X, y)  # by the worker
        written = task_prefixes(client)
        X, y = dp.read_zarr(tmp_path / "d.zarr")
        X_train, X_test, y_train, y_test = dp.train_test_split(X, y, test_size=0.2, random_state=0)
        learner = dp.ParallelIncremental(SGDClassifier(), epochs=2, random_state=0)
        pipe = make_pipeline(dp.StandardScaler(), learner).fit(X_train, y_train)
        assert pipe.score(X_test, y_test) > 0.7
        seen = task_prefixes(client)
    assert written == {"make-problem", "make-data", "make-data-X", "make-data-y", "store-map"}
    # Reading, splitting, scaling and predicting a block run inside the task that uses it.
    assert seen - written == {
        "scaler-block", "scaler-merge", "scaler-final",
        "classes-block", "classes-merge", "classes-final",
        "fit-block", "fit-merge", "fit-final",
        "models", "pass-plan", "scalers",
        "score-block", "score-merge", "score-final", "model",
    }  # fmt: skip


# --------------------------------------------------------------------------------------------
# A known problem of the dashboard


class _Group:
    """What the Groups page reads of a scheduler's task group."""

    def __init__(self, name: str, *dependencies: _Group) -> None:
        self.name, self.dependencies = name, set(dependencies)


@pytest.mark.xfail(
    raises=KeyError,
    strict=True,
    reason="distributed's Groups page (TaskGroupGraph.update_layout) places task groups in "
    "the order dask.order.order gives {name: 1} with the groups' dependencies passed "
    "aside, but dask.order now takes the dependencies from the graph's tasks and ignores "
    "that argument: a group placed before one it depends on is a KeyError, and /groups "
    "answers HTTP 500 while any such groups exist (any computation, daskpar's or not).",
)
def test_groups_page_lays_out_a_reduction() -> None:
    from types import SimpleNamespace

    from distributed.dashboard.components.scheduler import TaskGroupGraph

    block = _Group("fit-block")
    merge = _Group("fit-merge", block)
    final = _Group("fit-final", merge)
    groups = {g.name: g for g in (block, merge, final)}
    nodes, _ = TaskGroupGraph(SimpleNamespace(task_groups=groups)).update_layout()
    assert nodes["fit-block"]["x"] < nodes["fit-merge"]["x"] < nodes["fit-final"]["x"]
