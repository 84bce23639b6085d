"""``daskpar train --pca``: the projection fitted in one pass, inside the saved model.

The PCA the command fits equals scikit-learn's on the same (scaled) training rows, the saved
pipeline is scaler, PCA, model in that order and predicts as the command trained it, and a
value that is neither a number of components nor a fraction is refused before any work.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from daskpar_testing import cli, invoke, one_line_error, succeeded
from sklearn.decomposition import PCA

import daskpar as dp
from daskpar.data import read_zarr


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("pca") / "data.zarr"
    succeeded(invoke("make-data", str(path), "--rows", "6000", "--features", "12",
                     "--chunk-rows", "1000"))  # fmt: skip
    return path


@pytest.mark.slow
@pytest.mark.parametrize("pca", ["0.9", "4"])
def test_train_with_pca_saves_scaler_pca_and_model(
    store: Path, scheduler_address: str, tmp_path: Path, pca: str
) -> None:
    model_file = tmp_path / "m.dp"
    trained = succeeded(
        cli("train", str(store), "--model", "sgd-log", "--epochs", "1", "--pca", pca,
            "--save", str(model_file), scheduler=scheduler_address)
    )  # fmt: skip
    pipe = dp.load(model_file, allow_unsigned=True)
    scaler, projection, model = (step for _, step in pipe.steps)
    assert type(scaler).__name__ == "StandardScaler"
    assert isinstance(projection, dp.PCA)
    assert isinstance(model, dp.ParallelIncremental)
    # The same rows the command trained on: train_test_split of the store, as the CLI does.
    X, y = read_zarr(store)
    X_train = dp.train_test_split(X, y, test_size=0.1, random_state=0)[0].compute()
    reference = PCA(n_components=float(pca) if "." in pca else int(pca), svd_solver="full")
    reference.fit(scaler.transform(X_train).astype(np.float64))
    assert projection.n_components_ == reference.n_components_
    np.testing.assert_allclose(
        projection.components_, reference.components_.astype(projection.components_.dtype),
        rtol=1e-4, atol=1e-5,
    )  # fmt: skip
    kept = f"{projection.n_components_} of 12 components keep"
    assert kept in trained.stdout
    # The saved model projects as it trained: its predictions are the model's on the
    # projection of the scaled rows.
    X_np = X.compute()
    expected = model.predict(projection.transform(scaler.transform(X_np)))
    np.testing.assert_array_equal(np.asarray(pipe.predict(X_np)), np.asarray(expected))


@pytest.mark.parametrize("value", ["0", "1.0", "-3", "2.5", "all", "1e3"])
def test_a_bad_pca_value_is_refused_saying_what_it_takes(
    store: Path, scheduler_address: str, value: str
) -> None:
    line = one_line_error(
        cli("train", str(store), "--pca", value, scheduler=scheduler_address), code=2
    )
    assert "--pca" in line, line
    assert "fraction of the variance" in line, line
