"""The graph: readable stage names, one task per block that reads and fits, bounded fan-in."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import dask
import dask.array as da
import numpy as np
import pytest
import zarr
from dask.utils import key_split
from sklearn.linear_model import SGDClassifier

import daskpar as dp
from daskpar._graph import map_partitions, tree_combine
from daskpar._states import combine_states


def _parts(n_blocks: int) -> da.Array:
    y = da.arange(n_blocks * 3, chunks=3)
    return map_partitions(np.sum, y, stage="test")


@pytest.mark.parametrize("n_blocks", [1, 2, 7, 8, 9, 64, 65])
@pytest.mark.parametrize("split_every", [2, 3, 8])
def test_fan_in_is_bounded_and_result_independent_of_tree(n_blocks: int, split_every: int) -> None:
    root = tree_combine(_parts(n_blocks), sum, float, split_every=split_every)
    graph = dict(root.__dask_graph__())
    combine = {k: v for k, v in graph.items() if key_split(k) == "merge"}
    for task in combine.values():
        assert 1 <= len(task.dependencies) <= split_every
    # Levels: ceil(log_split_every(n_blocks)), at least one.
    depth = max(k[1] for k in combine) + 1
    expected = max(1, int(np.ceil(np.log(n_blocks) / np.log(split_every) - 1e-12)))
    assert depth == expected
    n = n_blocks * 3
    assert root.compute()[0] == n * (n - 1) / 2


def test_training_tasks_carry_stage_names_and_read_blocks_themselves(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(4000, 5)).astype(np.float32)
    y = (X[:, 0] > 0).astype(np.int64)
    zarr.create_array(tmp_path / "X.zarr", data=X, chunks=(500, 5))
    zarr.create_array(tmp_path / "y.zarr", data=y, chunks=(500,))
    Xd, yd = da.from_zarr(tmp_path / "X.zarr"), da.from_zarr(tmp_path / "y.zarr")

    seen: Counter[str] = Counter()

    class Record(dask.callbacks.Callback):  # type: ignore[misc]
        def _pretask(self, key: object, dsk: object, state: object) -> None:
            seen[key_split(key)] += 1

    with Record():
        dp.ParallelIncremental(SGDClassifier(), epochs=2, split_every=4, random_state=0).fit(Xd, yd)
    # 8 blocks, fan-in 4: 2 + 1 combines per tree. The classes are found once (one tree),
    # then each epoch has 8 fits, one tree and one model update.
    assert seen["classes-block"] == 8
    assert seen["classes-final"] == 1
    assert seen["fit-block"] == 16
    assert seen["classes-merge"] + seen["fit-merge"] == 3 * 3
    assert seen["fit-final"] == 2
    # Reading a block is fused into the task that fits it: no separate read tasks.
    assert not any(name.startswith("from-zarr") for name in seen)


def test_combine_skips_empty_partitions() -> None:
    assert combine_states([None, None]) is None
