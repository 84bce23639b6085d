"""Model files: every estimator round-trips exactly; edited, foreign, untrusted files are refused.

The container is checked against its documented layout, and each refusal against the error
that names its cause: not a model file, damaged, edited (signature), another key, no key,
unsigned, untrusted type.
"""

from __future__ import annotations

import json
import os
import pickle
import struct
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sklearn.linear_model import SGDClassifier
from sklearn.naive_bayes import GaussianNB
from sklearn.pipeline import make_pipeline

import daskpar as dp
from daskpar import persist
from daskpar._sklearn_compat import InvalidParameterError
from daskpar.persist import ModelFileError, ModelKeyError, ModelSignatureError

KEY = "k" * 32
OTHER_KEY = "o" * 32


@pytest.fixture(autouse=True)
def _no_key_in_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        persist.KEY_ENV,
        persist.KEY_FILE_ENV,
        persist.ENCRYPTION_KEY_ENV,
        persist.ENCRYPTION_KEY_FILE_ENV,
    ):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="module")
def data() -> dict[str, Any]:
    X, y = dp.make_classification(n_samples=2000, n_features=5, chunks=500, random_state=0)
    Xr, yr = dp.make_regression(n_samples=2000, n_features=5, chunks=500, random_state=0)
    return {"X": X, "y": y, "Xr": Xr, "yr": yr}


def _incremental(estimator: Any) -> dp.ParallelIncremental:
    return dp.ParallelIncremental(estimator, epochs=2, random_state=0)


def _search(kind: type, **kwargs: Any) -> Any:
    grid = {"estimator__alpha": [1e-4, 1e-3]}
    return kind(_incremental(SGDClassifier(random_state=0)), grid, cv=2, **kwargs)


#: name -> (make the estimator, regression data?, method whose output must not change)
ESTIMATORS: dict[str, tuple[Callable[[], Any], bool, str]] = {
    "ParallelIncremental(SGDClassifier)": (
        lambda: _incremental(SGDClassifier(loss="log_loss", random_state=0)),
        False,
        "predict_proba",
    ),
    "ParallelIncremental(GaussianNB)": (lambda: _incremental(GaussianNB()), False, "predict"),
    "ParallelIncremental(AdaptiveSGDClassifier)": (
        lambda: _incremental(dp.AdaptiveSGDClassifier()),
        False,
        "decision_function",
    ),
    "ParallelIncremental(AdaptiveSGDRegressor)": (
        lambda: _incremental(dp.AdaptiveSGDRegressor()),
        True,
        "predict",
    ),
    "AdaptiveSGDClassifier": (
        lambda: dp.AdaptiveSGDClassifier(random_state=0),
        False,
        "predict_proba",
    ),
    "StandardScaler": (dp.StandardScaler, False, "transform"),
    "MinMaxScaler": (dp.MinMaxScaler, False, "transform"),
    "MaxAbsScaler": (dp.MaxAbsScaler, False, "transform"),
    "LinearRegression": (dp.LinearRegression, True, "predict"),
    "Ridge": (lambda: dp.Ridge(alpha=2.0), True, "predict"),
    "GridSearchCV": (lambda: _search(dp.GridSearchCV), False, "decision_function"),
    "GridSearchCV(multimetric)": (
        lambda: _search(dp.GridSearchCV, scoring=["accuracy", "f1"], refit="f1"),
        False,
        "predict",
    ),
    "RandomizedSearchCV": (
        lambda: _search(dp.RandomizedSearchCV, n_iter=2, random_state=0),
        False,
        "predict",
    ),
    "HalvingSearchCV(Pipeline)": (
        lambda: dp.HalvingSearchCV(
            make_pipeline(dp.StandardScaler(), _incremental(SGDClassifier(random_state=0))),
            {"parallelincremental__estimator__alpha": [1e-4, 1e-3, 1e-2]},
            cv=2,
            random_state=0,
        ),
        False,
        "predict",
    ),
    "Pipeline(StandardScaler, ParallelIncremental)": (
        lambda: make_pipeline(dp.StandardScaler(), _incremental(SGDClassifier(random_state=0))),
        False,
        "decision_function",
    ),
}


@pytest.fixture(scope="module")
def fitted(data: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for name, (make, regression, _) in ESTIMATORS.items():
        X, y = (data["Xr"], data["yr"]) if regression else (data["X"], data["y"])
        out[name] = make().fit(X, y)
    return out


def _output(model: Any, method: str, X: Any) -> np.ndarray:
    out = getattr(model, method)(X)
    return np.asarray(out.compute() if hasattr(out, "compute") else out)


@pytest.mark.parametrize("name", sorted(ESTIMATORS))
def test_a_loaded_model_predicts_exactly_like_the_saved_one(
    name: str, fitted: dict[str, Any], data: dict[str, Any], tmp_path: Path
) -> None:
    model = fitted[name]
    _, regression, method = ESTIMATORS[name]
    X = data["Xr"] if regression else data["X"]
    path = tmp_path / "model.dp"
    persist.save(model, path, key=KEY)
    loaded = persist.load(path, key=KEY)
    assert type(loaded) is type(model)
    np.testing.assert_array_equal(_output(loaded, method, X), _output(model, method, X))
    if method != "transform":
        np.testing.assert_array_equal(_output(loaded, "predict", X), _output(model, "predict", X))
    assert repr(loaded) == repr(model)
    assert persist.describe(path)["object"].rpartition(".")[2] == type(model).__name__


def test_a_search_keeps_its_results(fitted: dict[str, Any], tmp_path: Path) -> None:
    search = fitted["GridSearchCV(multimetric)"]
    persist.save(search, tmp_path / "search.dp", key=KEY)
    loaded = persist.load(tmp_path / "search.dp", key=KEY)
    assert loaded.best_params_ == search.best_params_
    assert loaded.best_index_ == search.best_index_
    np.testing.assert_array_equal(
        loaded.cv_results_["mean_test_f1"], search.cv_results_["mean_test_f1"]
    )
    assert loaded.scorer_.keys() == search.scorer_.keys()


def test_the_container_has_its_documented_layout(fitted: dict[str, Any], tmp_path: Path) -> None:
    path = tmp_path / "model.dp"
    persist.save(fitted["StandardScaler"], path, key=KEY)
    data = path.read_bytes()
    magic, version, header_length = struct.unpack_from(">8sHI", data)
    assert (magic, version) == (persist.MAGIC, persist.FORMAT_VERSION) == (b"\x89DPM\r\n\x1a\n", 1)
    header = json.loads(data[14 : 14 + header_length])
    payload = data[14 + header_length : 14 + header_length + header["payload"]["length"]]
    assert len(data) == 14 + header_length + len(payload) + 32  # the HMAC-SHA256 at the end
    assert header["object"] == "daskpar.StandardScaler"
    assert header["serializer"] == "skops"
    assert header["signature"]["algorithm"] == "HMAC-SHA256"
    assert header["encryption"] is None
    assert {"daskpar", "scikit-learn", "skops"} <= header["versions"].keys()
    assert payload[:2] == b"PK"  # skops writes a zip file
    info = persist.describe(path)
    assert info["signed"]
    assert not info["encrypted"]
    assert info["sha256"] == persist.file_sha256(path)
    assert info["size"] == len(data)
    # Written atomically: nothing but the file is left in the directory.
    assert sorted(os.listdir(tmp_path)) == ["model.dp"]


def _flip(path: Path, position: int) -> None:
    data = bytearray(path.read_bytes())
    data[position] ^= 0x01
    path.write_bytes(bytes(data))


def test_every_edited_byte_is_refused(fitted: dict[str, Any], tmp_path: Path) -> None:
    original = tmp_path / "model.dp"
    persist.save(fitted["MaxAbsScaler"], original, key=KEY)
    data = original.read_bytes()
    header_end = 14 + struct.unpack_from(">I", data, 10)[0]
    positions = sorted({*range(0, len(data), 37), *range(header_end, header_end + 40), -1})
    edited = tmp_path / "edited.dp"
    for position in positions:
        edited.write_bytes(data)
        _flip(edited, position)
        with pytest.raises(ModelFileError):
            persist.load(edited, key=KEY)
    # An edit of the model's bytes is called what it is.
    edited.write_bytes(data)
    _flip(edited, header_end + 100)
    with pytest.raises(ModelSignatureError, match="does not match its signature"):
        persist.load(edited, key=KEY)
    # Even without checking the signature, the payload's hash catches it.
    with pytest.raises(ModelSignatureError, match="does not match its hash"):
        persist.load(edited, allow_unsigned=True)


def test_truncated_or_extended_files_are_refused(fitted: dict[str, Any], tmp_path: Path) -> None:
    path = tmp_path / "model.dp"
    persist.save(fitted["MaxAbsScaler"], path, key=KEY)
    data = path.read_bytes()
    for broken in (data[:-1], data + b"\0", data[:20], data[:5]):
        path.write_bytes(broken)
        with pytest.raises(ModelFileError):
            persist.load(path, key=KEY)


def test_a_file_signed_with_another_key_is_refused(fitted: dict[str, Any], tmp_path: Path) -> None:
    path = tmp_path / "model.dp"
    persist.save(fitted["Ridge"], path, key=KEY)
    with pytest.raises(ModelKeyError, match="signed with another key"):
        persist.load(path, key=OTHER_KEY)
    # A key that is set is always checked, even with allow_unsigned.
    with pytest.raises(ModelKeyError, match="signed with another key"):
        persist.load(path, key=OTHER_KEY, allow_unsigned=True)


def test_unsigned_files_load_only_when_asked(fitted: dict[str, Any], tmp_path: Path) -> None:
    path = tmp_path / "model.dp"
    persist.save(fitted["Ridge"], path)
    assert not persist.describe(path)["signed"]
    with pytest.raises(ModelSignatureError, match=r"not signed.*allow_unsigned=True"):
        persist.load(path)
    with pytest.raises(ModelSignatureError, match="not signed"):
        persist.load(path, key=KEY)  # a key does not make an unsigned file trusted
    assert persist.load(path, allow_unsigned=True).alpha == 2.0
    # A signed file without any key set: refused, unless unchecked loading is asked for.
    persist.save(fitted["Ridge"], path, key=KEY)
    with pytest.raises(ModelKeyError, match="is signed"):
        persist.load(path)
    assert persist.load(path, allow_unsigned=True).alpha == 2.0


def test_the_key_comes_from_the_environment_or_a_key_file(
    fitted: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "model.dp"
    monkeypatch.setenv(persist.KEY_ENV, KEY)
    persist.save(fitted["Ridge"], path)
    assert persist.describe(path)["signed"]
    assert persist.load(path).alpha == 2.0
    assert persist.load(path, key=KEY).alpha == 2.0
    monkeypatch.delenv(persist.KEY_ENV)
    key_file = tmp_path / "model.key"
    persist.generate_key(key_file)
    assert key_file.stat().st_mode & 0o777 == 0o600
    with pytest.raises(FileExistsError):
        persist.generate_key(key_file)  # never overwritten
    monkeypatch.setenv(persist.KEY_FILE_ENV, str(key_file))
    persist.save(fitted["Ridge"], path)
    assert persist.load(path, key=key_file.read_text().strip()).alpha == 2.0
    assert persist.load(path).alpha == 2.0
    monkeypatch.setenv(persist.KEY_FILE_ENV, str(tmp_path / "missing.key"))
    with pytest.raises(ModelKeyError, match="Cannot read the model key file"):
        persist.load(path)


def test_short_keys_are_refused(fitted: dict[str, Any], tmp_path: Path) -> None:
    with pytest.raises(ModelKeyError, match="at least 16"):
        persist.save(fitted["Ridge"], tmp_path / "model.dp", key="secret")
    assert not (tmp_path / "model.dp").exists()


def test_encrypted_files(fitted: dict[str, Any], data: dict[str, Any], tmp_path: Path) -> None:
    model = fitted["Pipeline(StandardScaler, ParallelIncremental)"]
    plain, secret = tmp_path / "plain.dp", tmp_path / "secret.dp"
    persist.save(model, plain, key=KEY)
    persist.save(model, secret, key=KEY, encrypt=True)
    assert persist.describe(secret)["encryption"]["algorithm"] == "AES-256-GCM"
    # The model's bytes are not readable: skops' zip entries are in the plain file only.
    assert b"schema.json" in plain.read_bytes()
    assert b"schema.json" not in secret.read_bytes()
    loaded = persist.load(secret, key=KEY)
    np.testing.assert_array_equal(
        _output(loaded, "decision_function", data["X"]),
        _output(model, "decision_function", data["X"]),
    )
    with pytest.raises(ModelKeyError):
        persist.load(secret, key=OTHER_KEY)
    with pytest.raises(ModelKeyError, match="encrypted"):
        persist.load(secret, allow_unsigned=True)  # unchecked, but still needs the key


def test_a_separate_encryption_key(fitted: dict[str, Any], tmp_path: Path) -> None:
    path = tmp_path / "model.dp"
    persist.save(fitted["Ridge"], path, key=KEY, encrypt=True, encryption_key=OTHER_KEY)
    assert persist.load(path, key=KEY, encryption_key=OTHER_KEY).alpha == 2.0
    # The signature checks out; the wrong encryption key is a clean daskpar error.
    with pytest.raises(ModelKeyError, match=r"Cannot decrypt.*another key"):
        persist.load(path, key=KEY, encryption_key="w" * 32)
    with pytest.raises(ModelKeyError, match="Cannot decrypt"):
        persist.load(path, key=KEY)  # the signing key does not decrypt it


def test_encryption_needs_a_key(fitted: dict[str, Any], tmp_path: Path) -> None:
    with pytest.raises(ModelKeyError, match="encrypt=True needs a key"):
        persist.save(fitted["Ridge"], tmp_path / "model.dp", encrypt=True)


class HomeMadeSGD(SGDClassifier):
    """A subclass defined outside daskpar: loading it would run code daskpar does not know."""


def test_untrusted_types_are_refused_on_saving(data: dict[str, Any], tmp_path: Path) -> None:
    model = dp.ParallelIncremental(HomeMadeSGD(), epochs=1).fit(data["X"], data["y"])
    with pytest.raises(ModelFileError, match=r"does not trust.*HomeMadeSGD"):
        persist.save(model, tmp_path / "model.dp", key=KEY)
    assert not (tmp_path / "model.dp").exists()


def test_untrusted_types_are_refused_on_loading(
    data: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A signed file can still hold a type that is not trusted: its signer's key is not
    a reason to run foreign code."""
    model = dp.ParallelIncremental(HomeMadeSGD(), epochs=1).fit(data["X"], data["y"])
    trusted = persist.trusted_types()
    name = f"{HomeMadeSGD.__module__}.{HomeMadeSGD.__name__}"
    monkeypatch.setattr(persist, "trusted_types", lambda: [*trusted, name])
    persist.save(model, tmp_path / "model.dp", key=KEY)
    monkeypatch.undo()
    with pytest.raises(ModelFileError, match=r"does not trust.*HomeMadeSGD"):
        persist.load(tmp_path / "model.dp", key=KEY)


def test_other_files_are_not_model_files(tmp_path: Path) -> None:
    path = tmp_path / "model.pkl"
    path.write_bytes(pickle.dumps({"a": 1}))
    with pytest.raises(ModelFileError, match=r"not a daskpar model file.*pickle"):
        persist.load(path, key=KEY)
    with pytest.raises(ModelFileError, match="No model file"):
        persist.load(tmp_path / "missing.dp", key=KEY)


def test_a_newer_format_version_is_named(fitted: dict[str, Any], tmp_path: Path) -> None:
    path = tmp_path / "model.dp"
    persist.save(fitted["Ridge"], path)
    data = bytearray(path.read_bytes())
    struct.pack_into(">H", data, 8, 2)
    path.write_bytes(bytes(data))
    with pytest.raises(ModelFileError, match="format version 2; this daskpar reads version 1"):
        persist.load(path, allow_unsigned=True)


def test_parameters_are_validated(fitted: dict[str, Any], tmp_path: Path) -> None:
    with pytest.raises(InvalidParameterError, match="'encrypt' parameter of save"):
        persist.save(fitted["Ridge"], tmp_path / "m.dp", encrypt="yes")  # type: ignore[arg-type]
    with pytest.raises(InvalidParameterError, match="'allow_unsigned' parameter of load"):
        persist.load(tmp_path / "m.dp", allow_unsigned=1)  # type: ignore[arg-type]


def test_the_trusted_types_are_daskpar_types() -> None:
    trusted = persist.trusted_types()
    paths = {"pathlib.PurePosixPath", "pathlib.PureWindowsPath", "pathlib.PosixPath"}
    assert all(name.startswith("daskpar.") for name in set(trusted) - paths)
    assert paths <= set(trusted)  # a checkpoint= parameter
    assert "daskpar._search.HalvingSearchCV" in trusted
    assert "daskpar.metrics._scorer.Scorer" in trusted
    assert trusted == sorted(trusted)
