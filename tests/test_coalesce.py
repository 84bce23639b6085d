"""Small blocks coalesced up to ``daskpar.target-block-bytes`` before a fit builds its graph.

A store of 1,000 small chunks trains to the same bits as the same data coalesced by hand, in
as many training tasks as coalesced blocks; the grouping depends only on the data and the
setting; validation blocks read beside X are grouped with it; memory follows the target, not
the data; and the setting is checked.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import dask
import dask.array as da
import numpy as np
import pytest
from dask.array.core import PerformanceWarning
from dask.callbacks import Callback
from dask.utils import key_split
from hypothesis import given
from hypothesis import strategies as st
from sklearn.linear_model import SGDClassifier

import daskpar as dp
from daskpar._coalesce import (
    DEFAULT_TARGET,
    MIN_BLOCKS,
    TARGET_KEY,
    coalesce_blocks,
    coalesced_groups,
    target_block_bytes,
)
from daskpar.data import read_zarr, write_zarr

N, D, CHUNK = 20_000, 8, 20  # 1,000 blocks
ROW_BYTES = D * 8 + 8  # float64 features and an int64 label
GROUP = 50  # blocks per coalesced block at TARGET
TARGET = GROUP * CHUNK * ROW_BYTES


class TaskCount(Callback):
    def __init__(self) -> None:
        self.count: Counter[str] = Counter()

    def _pretask(self, key: object, dsk: object, state: object) -> None:
        self.count[key_split(key)] += 1


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("coalesce") / "small-chunks.zarr"
    X, y = dp.make_classification(N, D, chunks=CHUNK, random_state=0)
    write_zarr(path, X, y.astype(np.int64))
    return path


def read_small(store: Path) -> tuple[da.Array, da.Array]:
    """The store's 1,000 chunks as 1,000 blocks (the reader keeps them with the setting off,
    and says they are small)."""
    with dask.config.set({TARGET_KEY: 0}), pytest.warns(PerformanceWarning, match="1000 blocks"):
        X, y = read_zarr(store)
    assert y is not None
    return X, y


def fit(X: da.Array, y: da.Array, target: int, **fit_params: object) -> dp.ParallelIncremental:
    model = dp.ParallelIncremental(SGDClassifier(random_state=0), epochs=1, random_state=0)
    with dask.config.set({TARGET_KEY: target}):
        return model.fit(X, y, **fit_params)


@pytest.mark.slow
def test_a_store_of_1000_chunks_trains_as_the_same_data_coalesced_by_hand(store: Path) -> None:
    X, y = read_small(store)
    assert X.numblocks[0] == 1000
    with TaskCount() as tasks:
        coalesced = fit(X, y, TARGET)
    by_hand = fit(X.rechunk({0: GROUP * CHUNK}), y.rechunk(GROUP * CHUNK), 0)
    np.testing.assert_array_equal(coalesced.estimator_.coef_, by_hand.estimator_.coef_)
    np.testing.assert_array_equal(coalesced.estimator_.intercept_, by_hand.estimator_.intercept_)
    # One training task per coalesced block and epoch, and never one per stored chunk.
    assert tasks.count["fit-block"] == 1000 // GROUP
    # ... and not the same model as the 1,000 blocks trained apart: coalescing did something.
    with pytest.warns(PerformanceWarning, match="'daskpar.target-block-bytes'"):
        apart = fit(X, y, 0)  # and says what would merge them
    assert not np.array_equal(apart.estimator_.coef_, coalesced.estimator_.coef_)


@pytest.mark.slow  # a cluster or the installed command: the slow suite
def test_the_grouping_depends_only_on_the_data_and_the_setting(store: Path) -> None:
    X, y = read_small(store)
    once = fit(X, y, TARGET)
    with dask.config.set(scheduler="threads", num_workers=2):
        again = fit(X, y, TARGET)
    np.testing.assert_array_equal(once.estimator_.coef_, again.estimator_.coef_)


def test_aligned_validation_blocks_are_grouped_with_x() -> None:
    X, y = dp.make_classification(N // 5, D, chunks=CHUNK, random_state=2)  # 200 blocks
    y = y.astype(np.int64)
    X_val, y_val = dp.make_classification(N // 5, D, chunks=CHUNK, random_state=3)  # as many
    y_val = y_val.astype(np.int64)
    coalesced = coalesce_blocks(X, y, None, X_val, y_val, target=TARGET)
    # X, y and the validation rows of each block count together: 25 blocks of 2 x 20 rows.
    assert coalesced[0].chunks[0] == coalesced[3].chunks[0] == (GROUP // 2 * CHUNK,) * 8
    assert coalesced[2] is None
    model = fit(X, y, TARGET, validation_data=(X_val, y_val))
    by_hand = fit(
        *coalesced[:2], 0, validation_data=(coalesced[3], coalesced[4])
    )  # the same groups, made by hand
    np.testing.assert_array_equal(model.estimator_.coef_, by_hand.estimator_.coef_)
    assert [h["validation_score"] for h in model.history_] == [
        h["validation_score"] for h in by_hand.history_
    ]


class LargestArray(Callback):
    """The most bytes of any numpy array a task returned (a block, or a piece of one)."""

    def __init__(self) -> None:
        self.nbytes = 0

    def _posttask(self, key: object, result: object, *args: object) -> None:
        if isinstance(result, np.ndarray):
            self.nbytes = max(self.nbytes, result.nbytes)


def test_memory_follows_the_target_not_the_data() -> None:
    # 1,000 generated blocks of 20 rows (1.4 MB in all) trained in blocks of at most 64 KiB:
    # no task holds an array larger than the target, and a target 8 times larger lets the
    # blocks grow with it (and no further).
    X, y = dp.make_classification(N, D, chunks=CHUNK, random_state=1)
    largest = {}
    for target in (1 << 16, 1 << 19):
        with LargestArray() as seen:
            fit(X, y, target)
        largest[target] = seen.nbytes
        assert largest[target] <= target
    assert largest[1 << 19] > 2 * largest[1 << 16]
    assert N * ROW_BYTES > 20 * (1 << 16)


@given(
    st.lists(st.integers(0, 1000), min_size=1, max_size=60),
    st.integers(0, 3000),
)
def test_groups_are_greedy_in_order_and_within_the_target(
    block_bytes: list[int], target: int
) -> None:
    groups = coalesced_groups(block_bytes, target)
    assert sum(groups) == len(block_bytes)
    assert all(n >= 1 for n in groups)
    start = 0
    for i, n in enumerate(groups):
        size = sum(block_bytes[start : start + n])
        if target > 0:
            assert n == 1 or size <= target  # a group exceeds the target only alone
            if i + 1 < len(groups):  # greedy: the next block would not have fitted
                assert size + block_bytes[start + n] > target
        else:
            assert n == 1
        start += n


def test_arrays_that_cannot_be_grouped_are_left_as_they_are() -> None:
    X = da.ones((100, 3), chunks=10)
    unknown = da.ones(100, chunks=10)
    unknown._chunks = ((np.nan,) * 10,)
    assert coalesce_blocks(X, unknown, target=1 << 20, min_blocks=1)[1] is unknown
    other = da.ones(100, chunks=25)  # another number of blocks: not read beside X
    merged, kept = coalesce_blocks(X, other, target=1 << 20, min_blocks=1)
    assert merged.chunks[0] == (100,)
    assert kept is other
    assert coalesce_blocks(X, target=0, min_blocks=1)[0] is X
    assert coalesce_blocks(X, target=1 << 20)[0] is X  # 10 blocks: few enough already


@pytest.mark.parametrize(
    ("value", "expected"),
    [(1 << 20, 1 << 20), ("32 MiB", 32 << 20), ("4MB", 4_000_000), (0, 0), (None, 0),
     ("off", 0)],
)  # fmt: skip
def test_the_setting_takes_bytes_or_zero(value: object, expected: int) -> None:
    with dask.config.set({TARGET_KEY: value}):
        assert target_block_bytes() == expected


@pytest.mark.parametrize("value", [-1, "lots", "3 parsecs", 1.5j, True])
def test_a_bad_setting_is_refused_naming_the_key(value: object) -> None:
    with (
        dask.config.set({TARGET_KEY: value}),
        pytest.raises(ValueError, match=r"'daskpar.target-block-bytes' must be a number"),
    ):
        target_block_bytes()


def test_by_default_small_blocks_are_coalesced(store: Path) -> None:
    X, y = read_small(store)
    with dask.config.set({TARGET_KEY: DEFAULT_TARGET}), TaskCount() as tasks:
        dp.ParallelIncremental(SGDClassifier(random_state=0), epochs=1).fit(X, y)
    # 1.4 MB in all, under the target: merged, but into no fewer than MIN_BLOCKS blocks, so
    # that several workers have something to do.
    assert tasks.count["fit-block"] == MIN_BLOCKS


@pytest.mark.slow  # a cluster or the installed command: the slow suite
def test_the_reader_reads_runs_of_small_chunks_in_one_task(store: Path) -> None:
    with dask.config.set({TARGET_KEY: TARGET}):
        X, y = read_zarr(store)
    assert y is not None
    assert X.chunks[0] == y.chunks[0] == (GROUP * CHUNK,) * (1000 // GROUP)
    stored_X, stored_y = read_small(store)
    with TaskCount() as tasks:
        got = dask.compute(X, y)
    np.testing.assert_array_equal(got[0], stored_X.compute())
    np.testing.assert_array_equal(got[1], stored_y.compute())
    assert tasks.count["read-zarr-X"] == tasks.count["read-zarr-y"] == 1000 // GROUP
    # ... and a fit on it is the fit on the stored chunks coalesced in the fit.
    np.testing.assert_array_equal(
        fit(X, y, TARGET).estimator_.coef_, fit(stored_X, stored_y, TARGET).estimator_.coef_
    )


def test_fits_that_need_blocks_keep_enough_of_them() -> None:
    # 2,000 rows in 20 blocks, all of it under the target: merged, but never into fewer than
    # asked for (4 blocks), nor, by default, than MIN_BLOCKS.
    X, y = dp.make_classification(2000, D, chunks=100, random_state=4)
    assert coalesce_blocks(X, y, target=1 << 20, min_blocks=1)[0].numblocks[0] == 1
    assert coalesce_blocks(X, y, target=1 << 20, min_blocks=4)[0].chunks[0] == (500,) * 4
    assert coalesce_blocks(X, y, target=1 << 20)[0].chunks[0] == (200,) * 10  # MIN_BLOCKS
    # Fewer blocks than asked for to begin with: left as they are.
    few = X.rechunk({0: 1000})
    assert coalesce_blocks(few, target=1 << 20, min_blocks=4)[0] is few
    with dask.config.set({TARGET_KEY: 1 << 20}), TaskCount() as tasks:
        search = dp.GridSearchCV(
            dp.ParallelIncremental(SGDClassifier(random_state=0), epochs=1, random_state=0),
            {"estimator__alpha": [1e-4, 1e-2]},
            cv=4,
        )
        search.fit(X, y)
        held_out = dp.ParallelIncremental(
            SGDClassifier(random_state=0), validation_fraction=0.25, random_state=0
        ).fit(X, y)
    assert search.cv_results_["mean_test_score"].shape == (2,)
    assert len(held_out.validation_blocks_) == round(0.25 * 10)
    # 10 blocks (at least MIN_BLOCKS) in each pass: the epoch's, and the last that scores it.
    assert tasks.count["search-block"] % 10 == 0
    assert tasks.count["search-block"] <= 10 * 3
