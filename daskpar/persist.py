"""Model files: fitted estimators saved without pickle, signed, and optionally encrypted.

:func:`save` writes a daskpar estimator, a fitted search, or a scikit-learn ``Pipeline`` of
them to one file; :func:`load` reads it back. The object is serialized with ``skops``, which
rebuilds objects from a description of their attributes instead of running pickle's
instructions, and loads only the types daskpar trusts (:func:`trusted_types`: daskpar's own
estimators, scorers and metrics, with the scikit-learn, numpy and scipy types skops trusts by
default). A file holding any other type is refused, on saving and on loading.

Integrity: with a key, the file ends with an HMAC-SHA256 of all its bytes, so that a file
whose bytes were edited, or that was signed with another key, is refused. A key that is set
is always used: with one, a file without a signature is refused (its signature may have been
stripped); with none, a signed file is refused (give its key). An unsigned file loads only
with ``allow_unsigned=True`` and no key set. With ``encrypt=True`` the serialized model is
encrypted with AES-256-GCM. The key comes from the ``key`` argument (text, or bytes in a
``bytes``, ``bytearray`` or ``memoryview``), else the environment variable
``DASKPAR_MODEL_KEY``, else the file named by ``DASKPAR_MODEL_KEY_FILE``; the encryption may
use a key of its own (``encryption_key``, ``DASKPAR_MODEL_ENCRYPTION_KEY``,
``DASKPAR_MODEL_ENCRYPTION_KEY_FILE``). :func:`generate_key` makes a random key. A key's
value appears in no message: errors name its source, its length or its id.

The container (format version 1), all integers big-endian::

    offset       size  field
    0            8     magic: b"\\x89DPM\\r\\n\\x1a\\n"
    8            2     format version (1)
    10           4     length H of the header
    14           H     header: UTF-8 JSON (object, versions, payload, signature, encryption)
    14 + H       P     payload: the skops bytes, or their AES-256-GCM ciphertext
    14 + H + P   32    HMAC-SHA256 of bytes [0, 14 + H + P), present only in a signed file

The magic's first byte is not ASCII and it holds ``\\r\\n`` and ``\\n``, so that a transfer
that alters text (7-bit, line endings) is detected at once, as in PNG. The header records
the payload's length and SHA-256, so that a damaged unsigned file is detected too. Its
fields are checked against the schema the writer follows before any is used, so that
reading a file, whatever its bytes, raises :class:`ModelFileError` (or a subclass) and
nothing else. :func:`describe` reads a file's header without loading the model.
"""

from __future__ import annotations

import hashlib
import hmac
import importlib
import os
import pathlib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

from . import audit as audit_log
from ._io._remote import clean_url, is_remote
from ._model_file import (
    FORMAT_VERSION,
    MAGIC,
    ModelFileError,
    ModelKeyError,
    ModelSignatureError,
    assemble,
    canonical,
    parse,
    read_file,
)
from ._model_file import write_atomically as write_atomically  # for daskpar._checkpoint
from ._model_keys import (
    ENCRYPTION_KEY_ENV,
    ENCRYPTION_KEY_FILE_ENV,
    KEY_CONSTRAINT,
    KEY_ENV,
    KEY_FILE_ENV,
    KeyLike,
    check_signature,
    decrypt_payload,
    encrypt_payload,
    generate_key,
    resolve_key,
    signing_key_id,
    tag,
)
from ._sklearn_compat import validate_params
from .audit import file_sha256

__all__ = [
    "ENCRYPTION_KEY_ENV",
    "ENCRYPTION_KEY_FILE_ENV",
    "FORMAT_VERSION",
    "KEY_ENV",
    "KEY_FILE_ENV",
    "KeyLike",
    "MAGIC",
    "ModelFileError",
    "ModelKeyError",
    "ModelSignatureError",
    "describe",
    "dumps",
    "file_sha256",
    "generate_key",
    "load",
    "loads",
    "save",
    "signing_key_id",
    "trusted_types",
]

# This module is the API (save, load, dumps, loads, describe) and decides what a file may
# hold (the trusted types, checked on writing and on reading). The container's bytes and
# header are daskpar._model_file's; keys, signatures and encryption, daskpar._model_keys'.


# --------------------------------------------------------------------------------------------
# Trusted types


#: daskpar's types that a model file may hold, as skops names them (``<module>.<class>``): the
#: estimators and searches, the scorer, and every metric class a scorer can hold. Saved files
#: record these names, so they are part of the file format: a class that moves must stay
#: importable under its old name, which goes to :data:`_MOVED_TYPES`. Strings, so that
#: persistence imports no estimator (it is a layer below them); tests/test_persist.py checks
#: that they name exactly those classes.
_DASKPAR_TYPES: Final[tuple[str, ...]] = (
    "daskpar._adaptive.AdaptiveSGDClassifier",
    "daskpar._adaptive.AdaptiveSGDRegressor",
    "daskpar._compose.ColumnTransformer",
    "daskpar._decomposition.PCA",
    "daskpar._encoders.OneHotEncoder",
    "daskpar._encoders.OrdinalEncoder",
    "daskpar._hashing.FeatureHasher",
    "daskpar._incremental.ParallelIncremental",
    "daskpar._kmeans.KMeans",
    "daskpar._linear.LinearRegression",
    "daskpar._linear.Ridge",
    "daskpar._preprocessing.MaxAbsScaler",
    "daskpar._preprocessing.MinMaxScaler",
    "daskpar._preprocessing.StandardScaler",
    "daskpar._search.GridSearchCV",
    "daskpar._search.HalvingSearchCV",
    "daskpar._search.RandomizedSearchCV",
    "daskpar._text.CountVectorizer",
    "daskpar._text.HashingVectorizer",
    "daskpar._text.TfidfTransformer",
    "daskpar._text.TfidfVectorizer",
    "daskpar._truncated_svd.TruncatedSVD",
    "daskpar.metrics._classification.Accuracy",
    "daskpar.metrics._classification.BalancedAccuracy",
    "daskpar.metrics._classification.ConfusionMatrix",
    "daskpar.metrics._classification.LogLoss",
    "daskpar.metrics._classification.PrecisionRecallF1",
    "daskpar.metrics._ranking.PrecisionRecallCurve",
    "daskpar.metrics._ranking.RocAuc",
    "daskpar.metrics._ranking.RocCurve",
    "daskpar.metrics._regression.MeanAbsoluteError",
    "daskpar.metrics._regression.MeanSquaredError",
    "daskpar.metrics._regression.R2",
    "daskpar.metrics._scorer.Scorer",
)

#: The names that files saved earlier give to classes that have moved since (the ranking
#: metrics, from ``daskpar.metrics._classification`` to ``daskpar.metrics._ranking``). Such a
#: file is still read: the old module re-exports the class, and the old name is trusted as
#: the class it names. Files written now record the new names.
_MOVED_TYPES: Final[tuple[str, ...]] = (
    "daskpar.metrics._classification.PrecisionRecallCurve",
    "daskpar.metrics._classification.RocAuc",
    "daskpar.metrics._classification.RocCurve",
)


def _type_name(cls: type) -> str:
    """The name skops gives a type: ``<module>.<class name>``."""
    return f"{cls.__module__}.{cls.__name__}"


def trusted_types() -> list[str]:
    """The daskpar types a model file may hold, beyond those skops trusts by default.

    daskpar's estimators and searches, its scorer, and the metric classes of
    :mod:`daskpar.metrics` that a scorer holds. skops itself trusts scikit-learn's estimators
    (so a ``Pipeline`` or an ``SGDClassifier`` inside a ``ParallelIncremental``), numpy's
    arrays and scalars, scipy's sparse matrices and Python's built-in containers. Paths are
    trusted too (a ``checkpoint=`` parameter). Subclasses defined outside daskpar are not
    trusted: loading one would run its code.

    Returns
    -------
    list of str
        Sorted ``<module>.<class>`` names, as ``skops.io.get_untrusted_types`` reports them.

    Examples
    --------
    >>> from daskpar.persist import trusted_types
    >>> "daskpar._incremental.ParallelIncremental" in trusted_types()
    True
    """
    # A path parameter (checkpoint=Path(...)) is a string with a type: building one runs no
    # code of the file's choosing. Named from the classes: their module differs across Pythons.
    paths = [pathlib.PurePosixPath, pathlib.PureWindowsPath, pathlib.PosixPath]
    return sorted({*_DASKPAR_TYPES, *map(_type_name, paths)})


# --------------------------------------------------------------------------------------------
# The payload: skops bytes of trusted types only


def _skops_io() -> Any:
    """``skops.io``, imported when a model file is written or read (it ships no types)."""
    return importlib.import_module("skops.io")


def _untrusted(payload: bytes) -> list[str]:
    trusted = {*trusted_types(), *_MOVED_TYPES}
    return sorted(set(_skops_io().get_untrusted_types(data=payload)) - trusted)


def trusted_dumps(obj: Any) -> bytes:
    """``obj`` as skops bytes; refused if it holds a type :func:`trusted_loads` would refuse."""
    try:
        payload: bytes = _skops_io().dumps(obj)
    except Exception as exc:
        raise ModelFileError(
            f"Cannot save {type(obj).__name__}: skops cannot serialize it ({exc})."
        ) from exc
    untrusted = _untrusted(payload)
    if untrusted:
        raise ModelFileError(
            f"Cannot save {type(obj).__name__}: it holds types that a daskpar model file does "
            f"not trust, so that load() would refuse the file: {untrusted}. Model files hold "
            "daskpar's and scikit-learn's estimators (see daskpar.persist.trusted_types())."
        )
    return payload


def _described(exc: BaseException) -> str:
    """An error from reading a payload, as one printable line: its text may be the file's."""
    return audit_log.printable(str(exc))[:1000]


def trusted_loads(payload: bytes, name: str) -> Any:
    """The object in skops bytes, built from :func:`trusted_types` and skops' trusted types
    only; nothing is unpickled. ``name`` says what the bytes are, in errors."""
    untrusted_error = importlib.import_module("skops.io.exceptions").UntrustedTypesFoundException
    try:
        untrusted = _untrusted(payload)
    except Exception as exc:
        raise ModelFileError(
            f"{name} is damaged: its model cannot be read ({_described(exc)})."
        ) from exc
    if untrusted:
        raise ModelFileError(
            f"{name} holds types that daskpar does not trust, and is refused: {untrusted}. "
            "A daskpar model file holds daskpar's and scikit-learn's estimators only."
        )
    try:
        return _skops_io().loads(payload, trusted=[*trusted_types(), *_MOVED_TYPES])
    except untrusted_error as exc:
        raise ModelFileError(
            f"{name} holds types that daskpar does not trust: {_described(exc)}"
        ) from exc
    except Exception as exc:
        raise ModelFileError(
            f"{name} is damaged: its model cannot be read ({_described(exc)})."
        ) from exc


# --------------------------------------------------------------------------------------------
# Writing


#: The packages whose versions a model file's header records.
_RECORDED_PACKAGES: Final[tuple[str, ...]] = ("daskpar", "scikit-learn", "skops", "numpy")


def _public_type_name(obj: Any) -> str:
    """``daskpar.ParallelIncremental`` rather than ``daskpar._incremental.ParallelIncremental``."""
    return audit_log.public_name(type(obj))


@validate_params(
    {
        "path": [str, os.PathLike],
        "key": KEY_CONSTRAINT,
        "encrypt": ["boolean"],
        "encryption_key": KEY_CONSTRAINT,
        "audit": [str, os.PathLike, None],
        "storage_options": [dict, None],
    },
    prefer_skip_nested_validation=True,
    secret=("key", "encryption_key", "storage_options"),
)
def save(
    obj: Any,
    path: str | os.PathLike[str],
    *,
    key: KeyLike | None = None,
    encrypt: bool = False,
    encryption_key: KeyLike | None = None,
    audit: str | os.PathLike[str] | None = None,
    storage_options: dict[str, Any] | None = None,
) -> None:
    """Save a fitted (or unfitted) estimator to a daskpar model file, signed when a key is set.

    The file is written under a temporary name and renamed into place, so that ``path``
    never holds a partial file.

    Parameters
    ----------
    obj : estimator
        A daskpar estimator or fitted search, a scikit-learn ``Pipeline`` of them, or any
        object made only of :func:`trusted_types` and the types skops trusts by default.
    path : str or path-like
        The file to write (replaced if it exists). ``.dp`` is the customary suffix. An
        fsspec URL (``s3://bucket/model.dp``) is written in one upload, which the store
        makes visible whole or not at all.
    key : str, bytes, bytearray or memoryview, default=None
        The signing key (at least 16 bytes; text is encoded as UTF-8; see
        :func:`generate_key`). None reads ``$DASKPAR_MODEL_KEY``, else the file named by
        ``$DASKPAR_MODEL_KEY_FILE``; a variable set to an empty value is an error. Without
        any key the file is unsigned, and :func:`load` accepts it only with
        ``allow_unsigned=True`` and no key set. The key never appears in a message.
    encrypt : bool, default=False
        Encrypt the serialized model with AES-256-GCM, under a key derived from
        ``encryption_key`` or, without one, from the signing key.
    encryption_key : str, bytes, bytearray or memoryview, default=None
        A separate encryption key. None reads ``$DASKPAR_MODEL_ENCRYPTION_KEY``, else the file
        named by ``$DASKPAR_MODEL_ENCRYPTION_KEY_FILE``, else uses the signing key.
    audit : str or path-like, default=None
        The audit log to record the save in (the estimator and the file's SHA-256); None uses
        dask's ``daskpar.audit`` setting, and without one nothing is recorded.
    storage_options : dict, default=None
        For a URL: the options of its fsspec file system (credentials, endpoint); None uses
        the store library's defaults (for S3, the ``AWS_*`` environment variables). They are
        never written into the file, the audit log or a message.

    Raises
    ------
    ModelFileError
        ``obj`` holds a type that is not trusted, or skops cannot serialize it.
    ModelKeyError
        ``encrypt=True`` without any key, a key shorter than 16 bytes, or a key variable or
        key file that is set but empty.

    See Also
    --------
    load : Read the file back.
    describe : A file's header, without loading the model.

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np
    >>> import daskpar as dp
    >>> from daskpar import persist
    >>> scaler = dp.StandardScaler().fit(np.arange(8.0).reshape(4, 2))
    >>> key = persist.generate_key()
    >>> path = os.path.join(tempfile.mkdtemp(), "scaler.dp")
    >>> persist.save(scaler, path, key=key, encrypt=True)
    >>> persist.load(path, key=key).mean_
    array([3., 4.])
    >>> persist.describe(path)["signed"], persist.describe(path)["encrypted"]
    (True, True)
    """
    with audit_log.operation("save", estimator=obj, log=audit) as record:
        record.extra["signed"] = _save(obj, path, key, encrypt, encryption_key, storage_options)
        record.extra["encrypted"] = encrypt
        record.model_file = clean_url(os.fspath(path)) if is_remote(path) else path


def _save(
    obj: Any,
    path: str | os.PathLike[str],
    key: KeyLike | None,
    encrypt: bool,
    encryption_key: KeyLike | None,
    storage_options: dict[str, Any] | None = None,
) -> bool:
    """Write the model file; whether it is signed."""
    body, signed = _dumps(obj, key, encrypt, encryption_key)
    write_atomically(path if is_remote(path) else Path(path), body, storage_options)
    return signed


@validate_params({"key": KEY_CONSTRAINT}, prefer_skip_nested_validation=True, secret=("key",))
def dumps(obj: Any, *, key: KeyLike | None = None) -> tuple[bytes, bool]:
    """``obj`` in daskpar's model container, signed when a key is set: the bytes :func:`save`
    writes (checkpoints are written with it too), and whether they are signed.

    ``key`` is read as in :func:`save`: the argument, else ``$DASKPAR_MODEL_KEY``, else the
    file named by ``$DASKPAR_MODEL_KEY_FILE``.
    """
    return _dumps(obj, key, False, None)


def _dumps(
    obj: Any,
    key: KeyLike | None,
    encrypt: bool,
    encryption_key: KeyLike | None,
) -> tuple[bytes, bool]:
    signing = resolve_key(key, KEY_ENV, KEY_FILE_ENV)
    encryption = None
    if encrypt:
        encryption = resolve_key(
            encryption_key, ENCRYPTION_KEY_ENV, ENCRYPTION_KEY_FILE_ENV, what="encryption_key"
        )
        encryption = encryption if encryption is not None else signing
        if encryption is None:
            raise ModelKeyError(
                "encrypt=True needs a key: pass key= (or encryption_key=), or set "
                f"${KEY_ENV} or ${KEY_FILE_ENV}. Make one with daskpar.persist.generate_key()."
            )
    payload = trusted_dumps(obj)
    header: dict[str, Any] = {
        "object": _public_type_name(obj),
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "versions": audit_log.package_versions(_RECORDED_PACKAGES),
        "serializer": "skops",
        "signature": None
        if signing is None
        else {"algorithm": "HMAC-SHA256", "kdf": "HKDF-SHA256", "key_id": signing.id},
        "encryption": None,
    }
    if encryption is not None:
        payload = encrypt_payload(encryption.material, payload, header)
    header["payload"] = {"length": len(payload), "sha256": hashlib.sha256(payload).hexdigest()}
    body = assemble(header, payload)
    if signing is not None:
        body += tag(signing.material, body)
    return body, signing is not None


# --------------------------------------------------------------------------------------------
# Reading


@validate_params(
    {
        "path": [str, os.PathLike],
        "key": KEY_CONSTRAINT,
        "encryption_key": KEY_CONSTRAINT,
        "allow_unsigned": ["boolean"],
        "audit": [str, os.PathLike, None],
        "storage_options": [dict, None],
    },
    prefer_skip_nested_validation=True,
    secret=("key", "encryption_key", "storage_options"),
)
def load(
    path: str | os.PathLike[str],
    *,
    key: KeyLike | None = None,
    encryption_key: KeyLike | None = None,
    allow_unsigned: bool = False,
    audit: str | os.PathLike[str] | None = None,
    storage_options: dict[str, Any] | None = None,
) -> Any:
    """Load an estimator from a daskpar model file, after checking its signature.

    The checks come before anything is deserialized: the magic bytes and format version,
    the signature (HMAC-SHA256 of the whole file under ``key``), the payload's length and
    SHA-256, its decryption, and finally the types it holds, which must all be trusted
    (:func:`trusted_types`).

    Parameters
    ----------
    path : str or path-like
        A file written by :func:`save`, or its fsspec URL (``s3://bucket/model.dp``).
    key : str, bytes, bytearray or memoryview, default=None
        The key the file was signed with. None reads ``$DASKPAR_MODEL_KEY``, else the file
        named by ``$DASKPAR_MODEL_KEY_FILE``; a variable set to an empty value is an error.
        A key that is set is always used: a signed file must match it, and a file without a
        signature is refused (its signature may have been stripped).
    encryption_key : str, bytes, bytearray or memoryview, default=None
        The key the file was encrypted with, when not ``key``. None reads
        ``$DASKPAR_MODEL_ENCRYPTION_KEY`` and ``$DASKPAR_MODEL_ENCRYPTION_KEY_FILE``.
    allow_unsigned : bool, default=False
        Load a file that carries no signature, when no key is set (no ``key``, and neither
        ``$DASKPAR_MODEL_KEY`` nor ``$DASKPAR_MODEL_KEY_FILE``). It admits nothing else: with
        a key set an unsigned file is refused all the same, and with none set a signed file
        is refused (give its key), never loaded unchecked.
    audit : str or path-like, default=None
        The audit log to record the load in, refused or not (the file's SHA-256, and the
        estimator); None uses dask's ``daskpar.audit`` setting, and without one nothing is
        recorded.
    storage_options : dict, default=None
        For a URL: the options of its fsspec file system (credentials, endpoint); None uses
        the store library's defaults (for S3, the ``AWS_*`` environment variables).

    Returns
    -------
    estimator : object
        The saved object; it predicts exactly as the saved one did.

    Raises
    ------
    ModelFileError
        Not a daskpar model file, damaged, or holding an untrusted type. Reading a file
        raises nothing else, whatever its bytes.
    ModelSignatureError
        Not signed (without ``allow_unsigned``, or with a key set), or edited since it was
        signed.
    ModelKeyError
        Signed or encrypted with another key, or no key where one is needed (a signed
        file, an encrypted one).
    """
    with audit_log.operation("load", log=audit) as record:
        record.model_file = clean_url(os.fspath(path)) if is_remote(path) else path
        record.extra["allow_unsigned"] = allow_unsigned
        record.estimator = _load(path, key, encryption_key, allow_unsigned, storage_options)
    return record.estimator


def _load(
    path: str | os.PathLike[str],
    key: KeyLike | None,
    encryption_key: KeyLike | None,
    allow_unsigned: bool,
    storage_options: dict[str, Any] | None = None,
) -> Any:
    data, name = read_file(path, storage_options)
    return _loads(data, name, key, encryption_key, allow_unsigned)


@validate_params(
    {
        "data": [bytes, bytearray, memoryview],
        "name": [str],
        "key": KEY_CONSTRAINT,
        "allow_unsigned": ["boolean"],
    },
    prefer_skip_nested_validation=True,
    secret=("key",),
)
def loads(
    data: bytes | bytearray | memoryview,
    *,
    name: str,
    key: KeyLike | None = None,
    allow_unsigned: bool = False,
) -> Any:
    """The object in bytes made by :func:`dumps`, checked as :func:`load` checks a file.

    ``name`` says what the bytes are (a file's path), in errors. A key that is set (``key``,
    else the environment, as in :func:`load`) is always used, and ``allow_unsigned`` admits
    unsigned bytes only when no key is set. Whatever the bytes, the errors are
    :class:`ModelFileError` and its subclasses.
    """
    return _loads(bytes(data), name, key, None, allow_unsigned)


def _loads(
    data: bytes,
    name: str,
    key: KeyLike | None,
    encryption_key: KeyLike | None,
    allow_unsigned: bool,
) -> Any:
    header, start, end = parse(data, name)
    signing = resolve_key(key, KEY_ENV, KEY_FILE_ENV)
    check_signature(data, header, end, name, signing, allow_unsigned)
    payload = data[start:end]
    if not hmac.compare_digest(hashlib.sha256(payload).hexdigest(), header["payload"]["sha256"]):
        raise ModelSignatureError(f"{name} is damaged: its payload does not match its hash.")
    if header["encryption"] is not None:
        encryption = resolve_key(
            encryption_key, ENCRYPTION_KEY_ENV, ENCRYPTION_KEY_FILE_ENV, what="encryption_key"
        )
        aad = {k: v for k, v in header.items() if k != "payload"}
        payload = decrypt_payload(payload, header, name, encryption or signing, canonical(aad))
    return trusted_loads(payload, name)


@validate_params({"path": [str, os.PathLike]}, prefer_skip_nested_validation=True)
def describe(path: str | os.PathLike[str]) -> dict[str, Any]:
    """A model file's header, read without loading the model or checking the signature.

    Parameters
    ----------
    path : str or path-like
        A file written by :func:`save`.

    Returns
    -------
    dict
        The header's fields (``object``, ``created``, ``versions``, ``serializer``,
        ``signature``, ``encryption``, ``payload``), and ``format_version``, ``signed``,
        ``encrypted``, ``size`` (bytes) and ``sha256`` (of the whole file). Nothing here is
        verified: :func:`load` checks it.

    Raises
    ------
    ModelFileError
        Not a daskpar model file, or a damaged one.
    """
    data, name = read_file(path)
    header, _, _ = parse(data, name)
    out: dict[str, Any] = dict(header)
    out.update(
        format_version=FORMAT_VERSION,
        signed=header["signature"] is not None,
        encrypted=header.get("encryption") is not None,
        size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
    )
    return out
