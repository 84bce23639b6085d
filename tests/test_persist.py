"""Model files: every estimator round-trips exactly; edited, foreign, untrusted files are refused.

The container is checked against its documented layout, and each refusal against the error
that names its cause: not a model file, damaged, edited (signature), another key, no key,
unsigned, untrusted type. A key that is set is always used (a stripped signature is refused
with allow_unsigned too), keys come in any bytes buffer, and an empty key variable or key file
is an error. Hypothesis feeds arbitrary headers and edited files to load, loads and describe:
they raise ModelFileError and nothing else.
"""

from __future__ import annotations

import copy
import functools
import importlib
import json
import os
import pickle
import struct
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from sklearn.linear_model import SGDClassifier
from sklearn.naive_bayes import GaussianNB
from sklearn.pipeline import make_pipeline

import daskpar as dp
from daskpar import persist
from daskpar._saving import SaveMixin
from daskpar._sklearn_compat import InvalidParameterError
from daskpar.metrics import SCORER_NAMES, Scorer, get_scorer
from daskpar.metrics._base import MetricBase
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
        model = make()
        out[name] = model.fit(_as_it_takes(model, X), _as_it_takes(model, y))
    return out


def _as_it_takes(model: Any, a: Any) -> Any:
    """In-memory data for the standalone adaptive learners (which refuse dask input)."""
    standalone = isinstance(model, dp.AdaptiveSGDClassifier | dp.AdaptiveSGDRegressor)
    return a.compute() if standalone and hasattr(a, "compute") else a


def _output(model: Any, method: str, X: Any) -> np.ndarray:
    out = getattr(model, method)(_as_it_takes(model, X))
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
    # In an unsigned file, the payload's hash catches it.
    persist.save(fitted["MaxAbsScaler"], original)
    unsigned = original.read_bytes()
    edited.write_bytes(unsigned)
    _flip(edited, 14 + struct.unpack_from(">I", unsigned, 10)[0] + 100)
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


def test_unsigned_files_load_only_when_asked(
    fitted: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "model.dp"
    persist.save(fitted["Ridge"], path)
    assert not persist.describe(path)["signed"]
    with pytest.raises(ModelSignatureError, match=r"not signed.*allow_unsigned=True"):
        persist.load(path)
    assert persist.load(path, allow_unsigned=True).alpha == 2.0
    # A key that is set is always used: an unsigned file is refused with it, allow_unsigned
    # or not, and the message says how to load a file that was never signed.
    for allow_unsigned in (False, True):
        with pytest.raises(
            ModelSignatureError, match=r"carries no signature, though a key is set.*unset the key"
        ):
            persist.load(path, key=KEY, allow_unsigned=allow_unsigned)
    monkeypatch.setenv(persist.KEY_ENV, KEY)
    with pytest.raises(ModelSignatureError, match=r"though a key is set \(\$DASKPAR_MODEL_KEY"):
        persist.load(path, allow_unsigned=True)
    monkeypatch.delenv(persist.KEY_ENV)
    # A signed file without any key set: refused, allow_unsigned or not; never unchecked.
    persist.save(fitted["Ridge"], path, key=KEY)
    for allow_unsigned in (False, True):
        with pytest.raises(ModelKeyError, match=r"is signed .*give its key"):
            persist.load(path, allow_unsigned=allow_unsigned)


def _strip_signature(data: bytes) -> bytes:
    """A signed file made to look unsigned: the header's signature null, the HMAC removed."""
    length = struct.unpack_from(">I", data, 10)[0]
    header = json.loads(data[14 : 14 + length])
    header["signature"] = None
    raw = json.dumps(header, sort_keys=True, separators=(",", ":")).encode()
    return data[:8] + struct.pack(">HI", 1, len(raw)) + raw + data[14 + length : -32]


def test_a_stripped_signature_is_refused_while_a_key_is_set(
    fitted: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "model.dp"
    persist.save(fitted["Ridge"], path, key=KEY)
    stripped = _strip_signature(path.read_bytes())
    path.write_bytes(stripped)
    assert not persist.describe(path)["signed"]
    with pytest.raises(ModelSignatureError, match="may have been stripped"):
        persist.load(path, key=KEY, allow_unsigned=True)
    with pytest.raises(ModelSignatureError, match="may have been stripped"):
        persist.loads(stripped, name="stripped", key=KEY, allow_unsigned=True)
    monkeypatch.setenv(persist.KEY_FILE_ENV, str(tmp_path / "model.key"))
    (tmp_path / "model.key").write_text(KEY + "\n")
    with pytest.raises(ModelSignatureError, match="may have been stripped"):
        persist.load(path, allow_unsigned=True)
    with pytest.raises(ModelSignatureError, match="may have been stripped"):
        persist.loads(stripped, name="stripped", allow_unsigned=True)


def test_bytes_level_dumps_and_loads_share_the_rule(fitted: dict[str, Any]) -> None:
    signed, is_signed = persist.dumps(fitted["Ridge"], key=KEY)
    unsigned, is_unsigned = persist.dumps(fitted["Ridge"])
    assert (is_signed, is_unsigned) == (True, False)
    assert persist.loads(signed, name="signed", key=KEY).alpha == 2.0
    assert persist.loads(unsigned, name="unsigned", allow_unsigned=True).alpha == 2.0
    with pytest.raises(ModelKeyError, match="is signed"):
        persist.loads(signed, name="signed", allow_unsigned=True)
    with pytest.raises(ModelSignatureError, match="though a key is set"):
        persist.loads(unsigned, name="unsigned", key=KEY, allow_unsigned=True)
    with pytest.raises(ModelKeyError, match="another key"):
        persist.loads(signed, name="signed", key=OTHER_KEY)


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
    with pytest.raises(ModelKeyError, match=r"\$DASKPAR_MODEL_KEY_FILE names no file") as caught:
        persist.load(path)
    assert "missing.key" not in str(caught.value)  # it may be a key in the wrong variable
    monkeypatch.setenv(persist.KEY_FILE_ENV, str(tmp_path))
    with pytest.raises(ModelKeyError, match="Cannot read the model key file"):
        persist.load(path)


@pytest.mark.parametrize(
    "make",
    [bytes, bytearray, lambda b: memoryview(bytearray(b))],
    ids=["bytes", "bytearray", "memoryview"],
)
def test_keys_held_in_any_bytes_buffer(
    make: Callable[[bytes], Any], fitted: dict[str, Any], tmp_path: Path
) -> None:
    path = tmp_path / "model.dp"
    persist.save(fitted["Ridge"], path, key=make(KEY.encode()), encrypt=True)
    assert persist.load(path, key=KEY).alpha == 2.0  # the same key as text
    assert persist.load(path, key=make(KEY.encode())).alpha == 2.0
    assert persist.signing_key_id(make(KEY.encode())) == persist.signing_key_id(KEY)
    assert persist.describe(path)["signature"]["key_id"] == persist.signing_key_id(KEY)


@pytest.mark.parametrize(
    ("variable", "encrypt"),
    [
        (persist.KEY_ENV, False),
        (persist.KEY_FILE_ENV, False),
        (persist.ENCRYPTION_KEY_ENV, True),
        (persist.ENCRYPTION_KEY_FILE_ENV, True),
    ],
)
def test_a_key_variable_set_empty_is_an_error_naming_it(
    variable: str,
    encrypt: bool,
    fitted: dict[str, Any],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Not "no key": an empty variable is a mistake (a script's unset secret), and saving
    unsigned because of it would go unnoticed until a load is refused."""
    monkeypatch.setenv(variable, "")
    key = KEY if encrypt else None
    with pytest.raises(ModelKeyError, match=rf"\${variable}.* empty.*unset"):
        persist.save(fitted["Ridge"], tmp_path / "model.dp", key=key, encrypt=encrypt)
    assert not (tmp_path / "model.dp").exists()
    if not encrypt:
        with pytest.raises(ModelKeyError, match=rf"\${variable}"):
            persist.signing_key_id()


@pytest.mark.parametrize("content", [b"", b"  \n\t\n"], ids=["empty", "whitespace"])
def test_an_empty_key_file_is_an_error_naming_it(
    content: bytes, fitted: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    unsigned = tmp_path / "unsigned.dp"
    persist.save(fitted["Ridge"], unsigned)
    key_file = tmp_path / "model.key"
    key_file.write_bytes(content)
    monkeypatch.setenv(persist.KEY_FILE_ENV, str(key_file))
    with pytest.raises(ModelKeyError, match=r"model.key.*\$DASKPAR_MODEL_KEY_FILE\) is empty"):
        persist.save(fitted["Ridge"], tmp_path / "model.dp")
    with pytest.raises(ModelKeyError, match="is empty"):
        persist.load(unsigned, allow_unsigned=True)


def test_a_key_variable_is_read_as_the_bytes_it_holds(
    fitted: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Bytes that are not UTF-8 in $DASKPAR_MODEL_KEY are the key's bytes, not an error."""
    raw = bytes(range(128, 160))
    monkeypatch.setenv(persist.KEY_ENV, os.fsdecode(raw))
    persist.save(fitted["Ridge"], tmp_path / "model.dp")
    monkeypatch.delenv(persist.KEY_ENV)
    assert persist.load(tmp_path / "model.dp", key=raw).alpha == 2.0


def test_a_key_that_is_not_utf8_text_is_refused_without_showing_it(tmp_path: Path) -> None:
    with pytest.raises(ModelKeyError, match="position 3") as caught:
        persist.signing_key_id("abc\udc80" + "k" * 20)
    assert "\\udc80" not in repr(caught.value)
    assert caught.value.__context__ is None
    assert caught.value.__cause__ is None


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
    with pytest.raises(ModelKeyError, match="is signed"):
        persist.load(secret, allow_unsigned=True)  # never unchecked
    # Encrypted with a key of its own and not signed: the encryption key alone opens it.
    persist.save(model, secret, encrypt=True, encryption_key=OTHER_KEY)
    assert not persist.describe(secret)["signed"]
    persist.load(secret, encryption_key=OTHER_KEY, allow_unsigned=True)
    with pytest.raises(ModelKeyError, match="is encrypted"):
        persist.load(secret, allow_unsigned=True)


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


def _subclasses(cls: type) -> set[type]:
    return {sub for direct in cls.__subclasses__() for sub in (direct, *_subclasses(direct))}


def test_the_trusted_names_are_the_classes_a_model_file_holds() -> None:
    """The trusted names are strings, so that persistence imports no estimator: each must name
    a class that imports, and together exactly the classes a model file can hold: the public
    estimators with ``save``, the scorer, and the metric classes a scorer holds (any public
    one: a user's ``Scorer`` may hold any; the built-in scorers hold some)."""
    names = {name for name in persist.trusted_types() if name.startswith("daskpar.")}
    for name in names:
        module, _, qualname = name.rpartition(".")
        cls = getattr(importlib.import_module(module), qualname)
        assert isinstance(cls, type), name
        assert f"{cls.__module__}.{cls.__qualname__}" == name
    estimators = {cls for cls in _subclasses(SaveMixin) if getattr(dp, cls.__name__, None) is cls}
    metrics = {
        cls
        for cls in _subclasses(MetricBase)
        if cls.__module__.startswith("daskpar.") and not cls.__name__.startswith("_")
    }
    assert {type(get_scorer(name).metric) for name in SCORER_NAMES} <= metrics
    assert len(estimators) == 22
    expected = {f"{c.__module__}.{c.__qualname__}" for c in {*estimators, Scorer, *metrics}}
    assert names == expected


# --------------------------------------------------------------------------------------------
# Whatever a file holds, reading it raises ModelFileError (or a subclass) and nothing else


@functools.cache
def _original() -> tuple[bytes, dict[str, Any], bytes, bytes]:
    """A signed and encrypted model file; its header, its payload and its signature."""
    scaler = dp.StandardScaler().fit(np.arange(8.0).reshape(4, 2))
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "model.dp"
        persist.save(scaler, path, key=KEY, encrypt=True)
        data = path.read_bytes()
    length = struct.unpack_from(">I", data, 10)[0]
    return data, json.loads(data[14 : 14 + length]), data[14 + length : -32], data[-32:]


#: Where a field of the header is, for the edits below.
HEADER_FIELDS = [
    ("object",),
    ("created",),
    ("versions",),
    ("versions", "python"),
    ("serializer",),
    ("signature",),
    ("signature", "algorithm"),
    ("signature", "kdf"),
    ("signature", "key_id"),
    ("encryption",),
    ("encryption", "algorithm"),
    ("encryption", "salt"),
    ("encryption", "nonce"),
    ("encryption", "key_id"),
    ("payload",),
    ("payload", "length"),
    ("payload", "sha256"),
]
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=12,
)
#: JSON text that Python's json reads into what no writer wrote: overflowing, huge, negative
#: or fractional numbers, the constants JSON does not have, deep nesting, duplicate fields.
RAW_VALUES = st.one_of(
    st.sampled_from(
        [
            "1e400",
            "-1e400",
            "-1",
            "1.5",
            "1e2",
            "3825.0",
            '"12"',
            "NaN",
            "Infinity",
            "-Infinity",
            "9" * 5000,
            "[]",
            "{}",
            "null",
            "true",
            '"\\u001b[2J"',
            '"\\ud800"',
            '{"a":1,"a":2}',
            "[" * 5000 + "]" * 5000,
            '{"a":' * 3000 + "1" + "}" * 3000,
        ]
    ),
    st.integers(min_value=-(10**40), max_value=10**40).map(str),
    JSON_VALUES.map(json.dumps),
)
_HOLE = "\x00hole\x00"


@st.composite
def edited_headers(draw: st.DrawFn) -> str:
    """The original header's JSON with one field replaced by raw JSON text, removed, or
    joined by one the writer does not write."""
    header = copy.deepcopy(_original()[1])
    path = draw(st.sampled_from(HEADER_FIELDS))
    parent = header
    for name in path[:-1]:
        parent = parent[name]
    how = draw(st.sampled_from(["replace", "remove", "add"]))
    if how == "remove":
        del parent[path[-1]]
    elif how == "add":
        parent[draw(st.text(max_size=8)) + "+"] = _HOLE
    else:
        parent[path[-1]] = _HOLE
    text = json.dumps(header, sort_keys=True, separators=(",", ":"))
    return text.replace(json.dumps(_HOLE), draw(RAW_VALUES))


HEADERS = st.one_of(
    edited_headers(),
    JSON_VALUES.map(json.dumps),
    st.integers(min_value=1, max_value=40000).map(lambda n: "[" * n + "]" * n),
    st.integers(min_value=1, max_value=20000).map(lambda n: '{"a":' * n + "0" + "}" * n),
)


def _refused_or_intact(data: bytes, *, intact: Callable[[], bool]) -> None:
    """load, loads and describe of ``data``: ModelFileError, or a result for an intact file."""
    with tempfile.TemporaryDirectory() as folder:
        _read_or_refuse(data, Path(folder) / "model.dp", intact)


def _read_or_refuse(data: bytes, path: Path, intact: Callable[[], bool]) -> None:
    path.write_bytes(data)
    for read in (
        lambda: persist.load(path, key=KEY),
        lambda: persist.load(path, allow_unsigned=True),
        lambda: persist.loads(data, name="model", key=KEY),
        lambda: persist.loads(data, name="model", allow_unsigned=True),
    ):
        try:
            read()
        except ModelFileError:
            continue
        assert intact(), "a damaged file was loaded"
    try:
        info = persist.describe(path)
    except ModelFileError:
        pass
    else:  # the header, read as the schema says
        assert isinstance(info["payload"]["length"], int)
        assert info["payload"]["length"] >= 0
        assert info["signature"] is None or len(info["signature"]["key_id"]) == 16


def _assemble(header: bytes, payload: bytes, tag: bytes) -> bytes:
    return (
        persist.MAGIC
        + struct.pack(">HI", persist.FORMAT_VERSION, len(header))
        + header
        + payload
        + tag
    )


@given(header=HEADERS, signed=st.booleans())
@example(header='{"payload":{"length":1e400}}', signed=True)  # OverflowError
@example(header="[" * 30000 + "]" * 30000, signed=True)  # RecursionError
@example(header='{"payload":{"length":-1}}', signed=False)
@settings(max_examples=300, deadline=None)
def test_any_header_is_read_or_refused_as_damage(header: str, signed: bool) -> None:
    data, _, payload, tag = _original()
    assembled = _assemble(header.encode("utf-8", "surrogatepass"), payload, tag if signed else b"")
    _refused_or_intact(assembled, intact=lambda: assembled == data)


@st.composite
def edited_files(draw: st.DrawFn) -> bytes:
    """The original file with a few bytes flipped, inserted or deleted, or cut short."""
    data = bytearray(_original()[0])
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        position = draw(st.integers(min_value=0, max_value=max(len(data) - 1, 0)))
        how = draw(st.sampled_from(["flip", "insert", "delete", "truncate"]))
        if how == "flip" and data:
            data[position] ^= draw(st.integers(min_value=1, max_value=255))
        elif how == "insert":
            data[position:position] = draw(st.binary(min_size=1, max_size=8))
        elif how == "delete":
            del data[position : position + draw(st.integers(min_value=1, max_value=8))]
        else:
            del data[position:]
    return bytes(data)


@given(data=edited_files())
@settings(max_examples=300, deadline=None)
def test_any_edit_of_a_file_is_refused(data: bytes) -> None:
    _refused_or_intact(data, intact=lambda: data == _original()[0])


def test_a_crafted_header_is_one_line_from_the_command_line(tmp_path: Path) -> None:
    """``daskpar score`` on a file whose header would overflow: one line, no traceback."""
    from daskpar_testing import run_daskpar

    _, _, payload, tag = _original()
    path = tmp_path / "model.dp"
    path.write_bytes(_assemble(b'{"payload":{"length":1e400},"signature":{}}', payload, tag))
    result = run_daskpar("score", str(path), str(tmp_path / "data.zarr"))
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith("Error: ")
    assert result.stderr.count("\n") == 1, result.stderr
    assert "is damaged: its header cannot be read" in result.stderr


def test_a_model_file_that_cannot_be_read_is_a_model_file_error(tmp_path: Path) -> None:
    with pytest.raises(ModelFileError, match="Cannot read the model file"):
        persist.load(tmp_path, key=KEY)  # a folder
    with pytest.raises(ModelFileError, match="Cannot read the model file"):
        persist.describe(tmp_path)


def test_a_model_file_of_an_earlier_layout_still_loads(monkeypatch: pytest.MonkeyPatch) -> None:
    """``tests/model_files/model-0.1.0-roc-auc.dp`` was saved (unsigned) by daskpar before
    its ranking metrics moved to ``metrics/_ranking.py``: it names
    ``daskpar.metrics._classification.RocAuc``. Files record class paths, so a class that
    moves keeps its old path trusted."""
    import numpy as np

    for name in list(os.environ):
        if name.startswith("DASKPAR_MODEL_"):
            monkeypatch.delenv(name)
    path = Path(__file__).parent / "model_files" / "model-0.1.0-roc-auc.dp"
    assert b"daskpar.metrics._classification" in path.read_bytes()
    model = persist.load(path, allow_unsigned=True)
    assert type(model.scoring.metric).__module__ == "daskpar.metrics._ranking"
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 3))
    y = (X[:, 0] > 0).astype(int)
    assert float(np.mean(np.asarray(model.predict(X)) == y)) > 0.9
