"""Tests of daskpar._split.train_test_split: lazy, block-wise, reproducible."""

from __future__ import annotations

import math
from typing import Any

import dask
import dask.array as da
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.typing import NDArray
from sklearn.model_selection import train_test_split as sk_train_test_split
from sklearn.utils._param_validation import InvalidParameterError

from daskpar._split import apportion
from daskpar.data import make_classification, train_test_split
from daskpar.errors import InputError


def with_row_ids(n: int, chunks: Any) -> tuple[da.Array, da.Array]:
    """X whose column 0 is the row id, and y = row id, with the given row chunks."""
    ids = np.arange(n)
    X_np = np.column_stack([ids, np.random.default_rng(0).standard_normal((n, 2))])
    return da.from_array(X_np, chunks=(chunks, -1)), da.from_array(ids, chunks=(chunks,))


def computed(parts: list[da.Array], scheduler: str = "sync") -> list[NDArray[Any]]:
    return list(dask.compute(*parts, scheduler=scheduler))


@pytest.mark.parametrize(
    ("n", "chunks", "test_size", "train_size"),
    [
        (1000, 250, 0.2, None),
        (1000, (333, 333, 334), 0.1, None),
        (997, 100, 0.25, None),
        (500, 60, None, 0.7),
        (500, 60, 37, None),
        (500, 60, 0.2, 0.5),
        (500, 60, None, None),
    ],
)
def test_sizes_match_sklearn_and_split_is_disjoint_and_aligned(
    n: int, chunks: Any, test_size: Any, train_size: Any
) -> None:
    X, y = with_row_ids(n, chunks)
    parts = train_test_split(X, y, test_size=test_size, train_size=train_size, random_state=0)
    X_train, X_test, y_train, y_test = computed(parts)
    sk = sk_train_test_split(np.arange(n), test_size=test_size, train_size=train_size)
    assert (len(y_train), len(y_test)) == (len(sk[0]), len(sk[1]))
    # Chunks were known before computing, and right.
    assert sum(parts[0].chunks[0]) == len(X_train)
    assert sum(parts[1].chunks[0]) == len(X_test)
    assert parts[0].chunks[0] == parts[2].chunks[0]
    assert parts[1].chunks[0] == parts[3].chunks[0]
    # Rows stay aligned across X and y; train and test are disjoint.
    np.testing.assert_array_equal(X_train[:, 0], y_train)
    np.testing.assert_array_equal(X_test[:, 0], y_test)
    assert not set(y_train) & set(y_test)
    if train_size is None:  # complete: every row is somewhere
        np.testing.assert_array_equal(np.sort(np.concatenate([y_train, y_test])), np.arange(n))


def test_each_block_gives_its_share_of_test_rows() -> None:
    X, y = with_row_ids(1000, 250)
    _, X_test, _, y_test = train_test_split(X, y, test_size=0.1, random_state=0)
    assert X_test.chunks == ((25, 25, 25, 25), (3,))
    ids = y_test.compute()
    for i in range(4):  # block i's test rows come from block i
        block = ids[25 * i : 25 * (i + 1)]
        assert np.all((block >= 250 * i) & (block < 250 * (i + 1)))


def test_reproducible_on_every_scheduler() -> None:
    X, y = with_row_ids(900, 200)
    first = computed(train_test_split(X, y, test_size=0.3, random_state=5), "sync")
    again = computed(train_test_split(X, y, test_size=0.3, random_state=5), "threads")
    for a, b in zip(first, again, strict=True):
        np.testing.assert_array_equal(a, b)
    other = computed(train_test_split(X, y, test_size=0.3, random_state=6))
    assert not np.array_equal(first[3], other[3])
    # The split of a block depends on the seed and the block only: X alone splits the same.
    X_train, X_test = computed(train_test_split(X, test_size=0.3, random_state=5))
    np.testing.assert_array_equal(X_train, first[0])
    np.testing.assert_array_equal(X_test, first[1])


def test_random_state_none_draws_one_seed_per_call() -> None:
    X, y = with_row_ids(400, 100)
    X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=None)
    a, b, c, d = computed([X_train, X_test, y_train, y_test])
    np.testing.assert_array_equal(a[:, 0], c)  # X and y agree
    np.testing.assert_array_equal(b[:, 0], d)
    np.testing.assert_array_equal(d, y_test.compute())  # stable within one call


def test_shuffle_false_keeps_order() -> None:
    X, y = with_row_ids(1000, 250)
    _, _, y_train, y_test = computed(train_test_split(X, y, test_size=0.2, shuffle=False))
    expected_test = np.concatenate([np.arange(200, 250) + 250 * i for i in range(4)])
    np.testing.assert_array_equal(y_test, expected_test)
    np.testing.assert_array_equal(y_train, np.setdiff1d(np.arange(1000), expected_test))


def test_shuffle_true_permutes_within_blocks() -> None:
    X, y = with_row_ids(1000, 250)
    _, _, y_train, y_test = computed(train_test_split(X, y, test_size=0.2, random_state=0))
    assert not np.all(np.diff(y_train[:200]) > 0)
    assert not np.all(np.diff(y_test[:50]) > 0)


def test_generated_data_and_key_names() -> None:
    X, y = make_classification(2000, 5, chunks=500, random_state=0)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, random_state=0)
    for part in (X_train, X_test, y_train, y_test):
        assert part.name.startswith(("split-train-", "split-test-"))
        assert not any(math.isnan(c) for c in part.chunks[0])
    assert X_train.chunks == ((375,) * 4, (5,))
    assert y_test.chunks == ((125,) * 4,)
    X_np, y_np = dask.compute(X, y)
    a, b, c, d = computed([X_train, X_test, y_train, y_test], "threads")
    # Each split row of X still carries its own label.
    row_of = {tuple(row): label for row, label in zip(X_np, y_np, strict=True)}
    assert all(row_of[tuple(row)] == label for row, label in zip(a, c, strict=True))
    assert all(row_of[tuple(row)] == label for row, label in zip(b, d, strict=True))


def test_numpy_arrays_next_to_dask() -> None:
    X, _ = with_row_ids(300, 100)
    ids = np.arange(300)
    X_train, _, ids_train, _ = train_test_split(X, ids, test_size=0.5, random_state=0)
    a, c = computed([X_train, ids_train])
    np.testing.assert_array_equal(a[:, 0], c)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"test_size": 0},
            "The 'test_size' parameter of train_test_split must be a float in the range "
            "(0.0, 1.0), an int in the range [1, inf) or None. Got 0 instead.",
        ),
        ({"test_size": 1.5}, "Got 1.5 instead."),
        ({"test_size": -0.1}, "Got -0.1 instead."),
        ({"test_size": 1.0}, "Got 1.0 instead."),
        ({"train_size": 0.0}, "The 'train_size' parameter of train_test_split"),
        ({"test_size": 100}, "test_size=100 should be either positive and smaller than"),
        ({"test_size": 0.6, "train_size": 0.6}, "The sum of test_size and train_size = 1.2"),
        ({"test_size": 60, "train_size": 50}, "should be smaller than the number of samples 100"),
        ({"random_state": "seed"}, "The 'random_state' parameter of train_test_split"),
        ({"shuffle": "yes"}, "The 'shuffle' parameter of train_test_split"),
    ],
)
def test_bad_parameters(kwargs: dict[str, Any], message: str) -> None:
    X, y = with_row_ids(100, 25)
    with pytest.raises(InvalidParameterError) as info:
        train_test_split(X, y, **kwargs)
    assert message in str(info.value)


def test_bad_arrays() -> None:
    X, y = with_row_ids(100, 25)
    with pytest.raises(InputError, match="at least one array"):
        train_test_split()
    with pytest.raises(InputError, match=r"row chunks do not match.*rechunk"):
        train_test_split(X, y.rechunk(50))
    with pytest.raises(InputError, match="different numbers of rows"):
        train_test_split(X, y[:50])
    with pytest.raises(InputError, match="1-D or 2-D"):
        train_test_split(X, da.zeros((100, 2, 2), chunks=(25, 2, 2)))


@settings(max_examples=200, deadline=None)
@given(
    sizes=st.lists(st.integers(0, 50), min_size=1, max_size=12),
    fraction=st.floats(0, 1),
)
def test_apportion_shares_exactly_and_fairly(sizes: list[int], fraction: float) -> None:
    n = sum(sizes)
    total = math.floor(fraction * n)
    shares = apportion(total, tuple(sizes), tuple(sizes))
    assert sum(shares) == total
    for share, size in zip(shares, sizes, strict=True):
        assert 0 <= share <= size
        assert abs(share - total * size / max(n, 1)) < 1
