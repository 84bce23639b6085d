"""Shared fixtures: small in-memory data sets split into dask partitions."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import dask
import numpy as np
import pytest
from daskpar_testing import local_cluster, scheduler_processes
from sklearn.datasets import make_classification, make_regression

if TYPE_CHECKING:
    from distributed import LocalCluster


#: The settings every test starts from. Tests that want threads or a cluster ask for them; the
#: rest run in the test's thread, where failures are easiest to read. Their data are small and
#: cut into many blocks on purpose (to exercise the trees, folds and per-block checks), so fits
#: keep the blocks they are given; tests/test_coalesce.py tests the coalescing default.
TEST_SETTINGS = {"scheduler": "sync", "daskpar.target-block-bytes": 0}


@pytest.fixture(autouse=True)
def _test_settings() -> object:
    with dask.config.set(TEST_SETTINGS):
        yield


@pytest.fixture(scope="session", autouse=True)
def _test_settings_for_fixtures() -> object:
    # The same for module and session fixtures, which run outside the function-scoped one:
    # without it, their `compute()` would go to whatever default distributed client exists.
    with dask.config.set(TEST_SETTINGS):
        yield


_LEAKED_CLIENTS: list[str] = []


@pytest.fixture(scope="module", autouse=True)
def _no_client_outlives_its_module(request: pytest.FixtureRequest) -> object:
    """Close any distributed client a module left behind, and name the module at the end.

    A default client whose cluster is gone (a ``with Client(...)`` whose close timed out)
    is still "the" client for dask: the next module's ``compute()`` would wait on it forever.
    """
    yield
    from distributed.client import _get_global_client

    while (client := _get_global_client()) is not None:
        _LEAKED_CLIENTS.append(f"{request.node.nodeid}: {client!r} ({client.status})")
        client.close(timeout=5)
        if _get_global_client() is client:  # closing failed to unregister it
            break


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if _LEAKED_CLIENTS:
        terminalreporter.section("distributed clients left open by a module (closed)")
        for line in _LEAKED_CLIENTS:
            terminalreporter.write_line(line)


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


# Hypothesis profiles of the property tests (tests/test_properties*.py): "ci", the default,
# derandomized with few examples so that `make test` is fast and the same every run; "deep",
# which `make test-slow` selects (HYPOTHESIS_PROFILE=deep), many more and random ones.
def _register_hypothesis_profiles() -> None:
    import os

    from hypothesis import HealthCheck, settings

    slow_data = [HealthCheck.too_slow, HealthCheck.data_too_large]
    settings.register_profile(
        "ci",
        max_examples=100,
        derandomize=True,
        deadline=None,
        print_blob=True,
        suppress_health_check=slow_data,
    )
    settings.register_profile(
        "deep", max_examples=300, deadline=None, print_blob=True, suppress_health_check=slow_data
    )
    settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


_register_hypothesis_profiles()


# --------------------------------------------------------------------------------------------
# Clusters


@pytest.fixture(scope="module")
def cluster() -> Iterator[LocalCluster]:
    """Two worker processes (:func:`local_cluster`), shared by the tests of a module."""
    with local_cluster(processes=True) as local:
        yield local


@pytest.fixture(scope="module")
def scheduler_address(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The address of ``dask scheduler`` and two ``dask worker`` processes (one thread each,
    plain TCP on 127.0.0.1, :func:`scheduler_processes`), shared by the tests of a module.

    For the command-line tests that need *a* cluster, not one of their own: they pass
    ``--scheduler`` of this one, and save each command the seconds an embedded cluster takes
    to start and stop. Tests of the embedded cluster itself do not use it. Module-scoped, so
    that no other module's test finds these processes among the children of pytest.
    """
    with scheduler_processes(tmp_path_factory.mktemp("scheduler"), n_workers=2) as address:
        yield address
