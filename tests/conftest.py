"""Shared fixtures: small in-memory data sets split into dask partitions."""

from __future__ import annotations

import dask
import dask.array as da
import numpy as np
import pytest
from sklearn.datasets import make_classification, make_regression


@pytest.fixture(autouse=True)
def _sync_scheduler_by_default() -> object:
    # Tests that want threads or a cluster ask for them; the rest run in the test's thread,
    # where failures are easiest to read.
    with dask.config.set(scheduler="sync"):
        yield


def as_dask(
    X: np.ndarray, y: np.ndarray, chunks: int | tuple[int, ...]
) -> tuple[da.Array, da.Array]:
    """``X`` and ``y`` split into the same row partitions."""
    Xd = da.from_array(X, chunks=(chunks, -1))
    return Xd, da.from_array(y, chunks=(Xd.chunks[0],))


@pytest.fixture(scope="session")
def binary() -> tuple[np.ndarray, np.ndarray]:
    return make_classification(
        n_samples=6000, n_features=12, n_informative=6, n_redundant=2, random_state=0
    )


@pytest.fixture(scope="session")
def multiclass() -> tuple[np.ndarray, np.ndarray]:
    return make_classification(
        n_samples=6000,
        n_features=12,
        n_informative=8,
        n_classes=4,
        n_clusters_per_class=1,
        random_state=1,
    )


@pytest.fixture(scope="session")
def regression() -> tuple[np.ndarray, np.ndarray]:
    X, y = make_regression(n_samples=4000, n_features=10, noise=1.0, random_state=2)
    return X, y
