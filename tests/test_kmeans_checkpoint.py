"""KMeans checkpoints: written after the initialization and every Lloyd iteration, resumed
after an interruption to the same bits, refused when made by another run or other data."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from unittest import mock

import dask.array as da
import numpy as np
import pytest
from daskpar_testing import no_task_runs
from sklearn.linear_model import SGDClassifier

import daskpar as dp
import daskpar._kmeans as kmeans
from daskpar import CheckpointError, persist
from daskpar._checkpoint import FILE_NAME
from daskpar._kmeans import KMeans


@pytest.fixture(scope="module")
def data() -> tuple[da.Array, da.Array]:
    rng = np.random.default_rng(0)
    centres = rng.normal(scale=1.0, size=(6, 5))
    X = centres[rng.integers(0, 6, size=1200)] + rng.normal(size=(1200, 5))
    w = rng.uniform(0.5, 2.0, size=1200)
    return da.from_array(X, chunks=150), da.from_array(w, chunks=150)


@contextmanager
def passes(interrupt_at: int | None = None) -> Iterator[list[int]]:
    """Count KMeans's passes (reductions); raise KeyboardInterrupt at pass ``interrupt_at``
    (from 1), as a Ctrl-C during that pass would."""
    module: Any = kmeans
    real, count = module.reduce_partitions, [0]

    def counted(*args: Any, **kwargs: Any) -> Any:
        count[0] += 1
        if count[0] == interrupt_at:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    with mock.patch.object(kmeans, "reduce_partitions", counted):
        yield count


def assert_same_bits(a: KMeans, b: KMeans) -> None:
    np.testing.assert_array_equal(a.cluster_centers_, b.cluster_centers_)
    assert a.inertia_ == b.inertia_
    assert a.n_iter_ == b.n_iter_
    np.testing.assert_array_equal(a.labels_.compute(), b.labels_.compute())


def saved_meta(folder: Path) -> dict[str, Any]:
    saved = persist.loads((folder / FILE_NAME).read_bytes(), name="test", allow_unsigned=True)
    meta: dict[str, Any] = json.loads(saved["meta"])
    return meta


INITS: dict[str, tuple[dict[str, Any], int]] = {
    # parameters, and the passes before the first Lloyd pass
    "k-means||": ({"n_init": 2, "init_max_iter": 2}, 4),
    "random": ({"init": "random", "n_init": 3}, 1),
    "array": ({}, 0),
}


@pytest.mark.parametrize("case", list(INITS))
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
def test_interrupted_fit_resumes_to_the_same_bits(
    data: tuple[da.Array, da.Array], tmp_path: Path, case: str, weighted: bool
) -> None:
    X, w = data
    params, init_passes = INITS[case]
    if case == "array":
        params = {"init": X[:6].compute() + 0.25}
    weights = w if weighted else None

    def make(folder: Path | None) -> KMeans:
        return KMeans(6, max_iter=6, tol=0, random_state=0, checkpoint=folder, **params)

    with passes() as count:
        whole = make(None).fit(X, sample_weight=weights)
    total = count[0]
    assert whole.n_iter_ == 6
    # Interrupted in the third Lloyd pass: the initialization and two iterations are written.
    folder = tmp_path / "ck"
    with passes(interrupt_at=init_passes + 3), pytest.raises(KeyboardInterrupt):
        make(folder).fit(X, sample_weight=weights)
    assert set(saved_meta(folder)["state"]["n_iter"]) == {2}
    with passes() as count:
        resumed = make(folder).fit(X, sample_weight=weights)
    assert count[0] == total - init_passes - 2
    assert_same_bits(resumed, whole)
    # A finished fit leaves its checkpoint: fitting again reads the blocks once, to check
    # them, and returns the same centres.
    with passes() as count:
        again = make(folder).fit(X, sample_weight=weights)
    assert count[0] == 1
    assert_same_bits(again, whole)


def test_interrupted_in_the_initialization_starts_over(
    data: tuple[da.Array, da.Array], tmp_path: Path
) -> None:
    """Before the initialization's last pass nothing is written: the rerun starts over."""
    X, _ = data

    def make(folder: Path | None) -> KMeans:
        return KMeans(6, n_init=2, init_max_iter=2, max_iter=4, random_state=1, checkpoint=folder)

    whole = make(None).fit(X)
    with passes(interrupt_at=3), pytest.raises(KeyboardInterrupt):
        make(tmp_path).fit(X)
    assert not (tmp_path / FILE_NAME).exists()
    assert_same_bits(make(tmp_path).fit(X), whole)


def test_checkpoint_of_another_run_or_other_data_is_refused(
    data: tuple[da.Array, da.Array], tmp_path: Path
) -> None:
    X, w = data

    def model(**params: Any) -> KMeans:
        return KMeans(
            params.pop("n_clusters", 6),
            max_iter=params.pop("max_iter", 3),
            random_state=0,
            checkpoint=tmp_path,
            **params,
        )

    model().fit(X, sample_weight=w)
    cases: dict[str, tuple[Callable[[], Any], str]] = {
        "other parameters": (
            lambda: model(max_iter=10).fit(X, sample_weight=w),
            r"differ in \['max_iter'\]",
        ),
        "other clusters": (
            lambda: model(n_clusters=5).fit(X, sample_weight=w),
            r"differ in \['n_clusters'\]",
        ),
        "other chunks": (
            lambda: model().fit(X.rechunk(300), sample_weight=w.rechunk(300)),
            "row chunks",
        ),
        "other shape": (lambda: model().fit(X[:600], sample_weight=w[:600]), "its shape differ"),
        "no weights": (lambda: model().fit(X), "sample weights"),
        "another estimator": (
            lambda: dp.ParallelIncremental(SGDClassifier(), checkpoint=tmp_path).fit(
                X, (X[:, 0] > 0).astype(int), classes=[0, 1]
            ),
            "made by KMeans, not ParallelIncremental",
        ),
    }
    for what, (call, message) in cases.items():
        with no_task_runs(), pytest.raises(CheckpointError, match=message) as info:
            call()
        assert "Delete" in str(info.value), what
    # Other content of the same shape, chunks and dtypes: found by the blocks' digests in the
    # first pass, which names the block and the array.
    with pytest.raises(CheckpointError, match=r"partition \d \(rows \d+ to \d+\) has other X "):
        model().fit(X + 1, sample_weight=w)
    with pytest.raises(CheckpointError, match=r"has other sample weights"):
        model().fit(X, sample_weight=w * 2)
    # The same run again: the blocks checked, the same centres.
    model().fit(X, sample_weight=w)


def test_checkpoint_holds_no_path_and_exact_centres(
    data: tuple[da.Array, da.Array], tmp_path: Path
) -> None:
    X, _ = data
    folder = tmp_path / "a-user-folder"
    model = KMeans(6, max_iter=3, tol=0, n_init=2, random_state=0, checkpoint=folder).fit(X)
    raw = (folder / FILE_NAME).read_bytes()
    assert str(tmp_path).encode() not in raw
    assert b"a-user-folder" not in raw
    meta = saved_meta(folder)
    assert "checkpoint" not in meta["params"]
    assert meta["data"]["dtypes"] == ["float64", None]
    assert len(meta["blocks"]) == X.numblocks[0]
    assert set(meta["blocks"][0]) == {"X"}
    state = meta["state"]
    assert state["n_iter"] == [3, 3]
    assert all(isinstance(i, float) for i in state["inertia"])
    saved = persist.loads(raw, name="test", allow_unsigned=True)
    kept = min(range(2), key=lambda r: state["inertia"][r])
    np.testing.assert_array_equal(saved["objects"]["centres"][kept], model.cluster_centers_)
