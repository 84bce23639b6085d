"""Model files: fitted estimators saved without pickle, signed, and optionally encrypted.

:func:`save` writes a daskpar estimator, a fitted search, or a scikit-learn ``Pipeline`` of
them to one file; :func:`load` reads it back. The object is serialized with ``skops``, which
rebuilds objects from a description of their attributes instead of running pickle's
instructions, and loads only the types daskpar trusts (:func:`trusted_types`: daskpar's own
estimators, scorers and metrics, with the scikit-learn, numpy and scipy types skops trusts by
default). A file holding any other type is refused, on saving and on loading.

Integrity: with a key, the file ends with an HMAC-SHA256 of all its bytes, so that a file
whose bytes were edited, or that was signed with another key, is refused. A file without a
signature loads only with ``allow_unsigned=True``. With ``encrypt=True`` the serialized model
is encrypted with AES-256-GCM. The key comes from the ``key`` argument, else the environment
variable ``DASKPAR_MODEL_KEY``, else the file named by ``DASKPAR_MODEL_KEY_FILE``; the
encryption may use a key of its own (``encryption_key``, ``DASKPAR_MODEL_ENCRYPTION_KEY``,
``DASKPAR_MODEL_ENCRYPTION_KEY_FILE``). :func:`generate_key` makes a random key.

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
the payload's length and SHA-256, so that a damaged unsigned file is detected too.
:func:`describe` reads a file's header without loading the model.
"""

from __future__ import annotations

import hashlib
import hmac
import importlib
import json
import os
import pathlib
import secrets
import struct
import sys
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any, Final

from . import audit as audit_log
from ._adaptive import AdaptiveSGDClassifier, AdaptiveSGDRegressor
from ._incremental import ParallelIncremental
from ._linear import LinearRegression, Ridge
from ._preprocessing import MaxAbsScaler, MinMaxScaler, StandardScaler
from ._search import GridSearchCV, HalvingSearchCV, RandomizedSearchCV
from ._sklearn_compat import validate_params
from .errors import DaskparError
from .metrics import Scorer
from .metrics._base import MetricBase

__all__ = [
    "ENCRYPTION_KEY_ENV",
    "ENCRYPTION_KEY_FILE_ENV",
    "FORMAT_VERSION",
    "KEY_ENV",
    "KEY_FILE_ENV",
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

#: The first bytes of every daskpar model file.
MAGIC: Final[bytes] = b"\x89DPM\r\n\x1a\n"
#: The container version this daskpar writes and reads.
FORMAT_VERSION: Final[int] = 1
#: The environment variables holding the model key, or naming a file that holds it.
KEY_ENV: Final[str] = "DASKPAR_MODEL_KEY"
KEY_FILE_ENV: Final[str] = "DASKPAR_MODEL_KEY_FILE"
#: The same for a separate encryption key (by default the model key encrypts too).
ENCRYPTION_KEY_ENV: Final[str] = "DASKPAR_MODEL_ENCRYPTION_KEY"
ENCRYPTION_KEY_FILE_ENV: Final[str] = "DASKPAR_MODEL_ENCRYPTION_KEY_FILE"

_PREFIX = struct.Struct(">8sHI")  # magic, version, header length
_TAG_SIZE = 32  # HMAC-SHA256
_MAX_HEADER = 1 << 16
#: A key shorter than this is refused: HKDF adds no strength to a weak key.
_MIN_KEY_BYTES = 16
_SIGNATURE_INFO = b"daskpar model signature v1"
_ENCRYPTION_INFO = b"daskpar model encryption v1"
_KEY_ID_INFO = b"daskpar key id v1"


class ModelFileError(DaskparError):
    """A model file cannot be written or read: not a daskpar model file, damaged, written by
    a newer format, or holding a type that daskpar does not trust."""


class ModelSignatureError(ModelFileError):
    """A model file's integrity cannot be established: it is not signed (and
    ``allow_unsigned`` is False), or its bytes do not match its signature (edited)."""


class ModelKeyError(ModelFileError):
    """The key is missing, too short, or not the one the file was signed or encrypted with."""


# --------------------------------------------------------------------------------------------
# Trusted types


def _type_name(cls: type) -> str:
    """The name skops gives a type: ``<module>.<class name>``."""
    return f"{cls.__module__}.{cls.__name__}"


def _subclasses(cls: type) -> list[type]:
    out: list[type] = []
    subclasses: list[type] = cls.__subclasses__()
    for sub in subclasses:
        out += [sub, *_subclasses(sub)]
    return out


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
    estimators: list[type] = [
        ParallelIncremental,
        AdaptiveSGDClassifier,
        AdaptiveSGDRegressor,
        StandardScaler,
        MinMaxScaler,
        MaxAbsScaler,
        LinearRegression,
        Ridge,
        GridSearchCV,
        RandomizedSearchCV,
        HalvingSearchCV,
        Scorer,
    ]
    metrics = [
        cls
        for cls in _subclasses(MetricBase)
        if cls.__module__.startswith("daskpar.") and not cls.__name__.startswith("_")
    ]
    # A path parameter (checkpoint=Path(...)) is a string with a type: building one runs no
    # code of the file's choosing.
    paths = [pathlib.PurePosixPath, pathlib.PureWindowsPath, pathlib.PosixPath]
    return sorted({_type_name(cls) for cls in [*estimators, *metrics, *paths]})


# --------------------------------------------------------------------------------------------
# Keys


def _read_key_file(path: str | os.PathLike[str], source: str) -> bytes:
    try:
        return Path(path).read_bytes().strip()
    except OSError as exc:
        raise ModelKeyError(f"Cannot read the model key file {source}: {exc}.") from exc


def _resolve_key(
    key: str | bytes | None, env: str, file_env: str, *, what: str = "key"
) -> bytes | None:
    """The key material: the argument, else ``$env``, else the file ``$file_env``, else None."""
    source = f"the {what}= argument"
    if key is None and os.environ.get(env):
        key, source = os.environ[env], f"${env}"
    elif key is None and os.environ.get(file_env):
        key = _read_key_file(os.environ[file_env], f"{os.environ[file_env]!r} (${file_env})")
        source = f"the file ${file_env}"
    if key is None:
        return None
    material = key.encode() if isinstance(key, str) else bytes(key)
    if len(material) < _MIN_KEY_BYTES:
        raise ModelKeyError(
            f"The model key from {source} is {len(material)} bytes long; a key must have at "
            f"least {_MIN_KEY_BYTES}. Make one with daskpar.persist.generate_key()."
        )
    return material


def _derive(material: bytes, info: bytes, *, salt: bytes | None = None, length: int = 32) -> bytes:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    return HKDF(algorithm=hashes.SHA256(), length=length, salt=salt, info=info).derive(material)


def _key_id(material: bytes) -> str:
    """A public name of a key (16 hex digits), derived one-way: it tells keys apart."""
    return _derive(material, _KEY_ID_INFO, length=8).hex()


def _tag(material: bytes, data: bytes) -> bytes:
    return hmac.new(_derive(material, _SIGNATURE_INFO), data, hashlib.sha256).digest()


@validate_params({"path": [str, os.PathLike, None]}, prefer_skip_nested_validation=True)
def generate_key(path: str | os.PathLike[str] | None = None) -> str:
    """A new random model key: 64 hexadecimal digits (256 bits).

    Parameters
    ----------
    path : str or path-like, default=None
        Also write the key to this file, readable by its owner only (mode 0600), for
        ``DASKPAR_MODEL_KEY_FILE``. An existing file is never overwritten.

    Returns
    -------
    key : str
        The key, to pass as ``key=`` or to put in ``DASKPAR_MODEL_KEY``.

    Examples
    --------
    >>> from daskpar.persist import generate_key
    >>> len(generate_key())
    64
    """
    key = secrets.token_hex(32)
    if path is not None:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(key + "\n")
    return key


# --------------------------------------------------------------------------------------------
# Writing


def _versions() -> dict[str, str]:
    out = {"python": ".".join(map(str, sys.version_info[:3]))}
    for name in ("daskpar", "scikit-learn", "skops", "numpy"):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "unknown"
    return out


def _public_type_name(obj: Any) -> str:
    """``daskpar.ParallelIncremental`` rather than ``daskpar._incremental.ParallelIncremental``."""
    return audit_log.public_name(type(obj))


def _skops_io() -> Any:
    """``skops.io``, imported when a model file is written or read (it ships no types)."""
    return importlib.import_module("skops.io")


def _untrusted(payload: bytes) -> list[str]:
    trusted = set(trusted_types())
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


def _encrypt(material: bytes, payload: bytes, header: dict[str, Any]) -> bytes:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    salt, nonce = secrets.token_bytes(16), secrets.token_bytes(12)
    header["encryption"] = {
        "algorithm": "AES-256-GCM",
        "kdf": "HKDF-SHA256",
        "salt": salt.hex(),
        "nonce": nonce.hex(),
        "key_id": _key_id(material),
    }
    aad = _canonical(header)  # the header without the payload's length and hash
    return AESGCM(_derive(material, _ENCRYPTION_INFO, salt=salt)).encrypt(nonce, payload, aad)


def _canonical(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def write_atomically(path: Path, data: bytes) -> None:
    """Write ``data`` under a temporary name next to ``path``, then rename it into place."""
    temporary = path.with_name(f".{path.name}.tmp-{secrets.token_hex(4)}")
    try:
        with open(temporary, "xb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


@validate_params(
    {
        "path": [str, os.PathLike],
        "key": [str, bytes, None],
        "encrypt": ["boolean"],
        "encryption_key": [str, bytes, None],
        "audit": [str, os.PathLike, None],
    },
    prefer_skip_nested_validation=True,
)
def save(
    obj: Any,
    path: str | os.PathLike[str],
    *,
    key: str | bytes | None = None,
    encrypt: bool = False,
    encryption_key: str | bytes | None = None,
    audit: str | os.PathLike[str] | None = None,
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
        The file to write (replaced if it exists). ``.dp`` is the customary suffix.
    key : str or bytes, default=None
        The signing key (at least 16 bytes; see :func:`generate_key`). None reads
        ``$DASKPAR_MODEL_KEY``, else the file named by ``$DASKPAR_MODEL_KEY_FILE``; without
        any key the file is unsigned, and :func:`load` accepts it only with
        ``allow_unsigned=True``.
    encrypt : bool, default=False
        Encrypt the serialized model with AES-256-GCM, under a key derived from
        ``encryption_key`` or, without one, from the signing key.
    encryption_key : str or bytes, default=None
        A separate encryption key. None reads ``$DASKPAR_MODEL_ENCRYPTION_KEY``, else the file
        named by ``$DASKPAR_MODEL_ENCRYPTION_KEY_FILE``, else uses the signing key.
    audit : str or path-like, default=None
        The audit log to record the save in (the estimator and the file's SHA-256); None uses
        dask's ``daskpar.audit`` setting, and without one nothing is recorded.

    Raises
    ------
    ModelFileError
        ``obj`` holds a type that is not trusted, or skops cannot serialize it.
    ModelKeyError
        ``encrypt=True`` without any key, or a key shorter than 16 bytes.

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
        record.extra["signed"] = _save(obj, Path(path), key, encrypt, encryption_key)
        record.extra["encrypted"] = encrypt
        record.model_file = path


def _save(
    obj: Any,
    path: Path,
    key: str | bytes | None,
    encrypt: bool,
    encryption_key: str | bytes | None,
) -> bool:
    """Write the model file; whether it is signed."""
    body, signed = _dumps(obj, key, encrypt, encryption_key)
    write_atomically(path, body)
    return signed


def dumps(obj: Any, *, key: str | bytes | None = None) -> tuple[bytes, bool]:
    """``obj`` in daskpar's model container, signed when a key is set: the bytes :func:`save`
    writes (checkpoints are written with it too), and whether they are signed.

    ``key`` is read as in :func:`save`: the argument, else ``$DASKPAR_MODEL_KEY``, else the
    file named by ``$DASKPAR_MODEL_KEY_FILE``.
    """
    return _dumps(obj, key, False, None)


def _dumps(
    obj: Any,
    key: str | bytes | None,
    encrypt: bool,
    encryption_key: str | bytes | None,
) -> tuple[bytes, bool]:
    signing = _resolve_key(key, KEY_ENV, KEY_FILE_ENV)
    encryption = None
    if encrypt:
        encryption = _resolve_key(
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
        "versions": _versions(),
        "serializer": "skops",
        "signature": None
        if signing is None
        else {"algorithm": "HMAC-SHA256", "kdf": "HKDF-SHA256", "key_id": _key_id(signing)},
        "encryption": None,
    }
    if encryption is not None:
        payload = _encrypt(encryption, payload, header)
    header["payload"] = {"length": len(payload), "sha256": hashlib.sha256(payload).hexdigest()}
    header_bytes = _canonical(header)
    body = _PREFIX.pack(MAGIC, FORMAT_VERSION, len(header_bytes)) + header_bytes + payload
    if signing is not None:
        body += _tag(signing, body)
    return body, signing is not None


# --------------------------------------------------------------------------------------------
# Reading


def _parse(data: bytes, name: str) -> tuple[dict[str, Any], int, int]:
    """The header, and the offsets where the payload starts and ends."""
    if not data.startswith(MAGIC):
        hint = ""
        if data[:1] == b"\x80" or data[:2] == b"PK":
            hint = " It looks like a pickle or skops file: load those with their own tools."
        raise ModelFileError(
            f"{name} is not a daskpar model file: it does not start with daskpar's magic bytes "
            f"{MAGIC!r}.{hint}"
        )
    if len(data) < _PREFIX.size:
        raise ModelFileError(f"{name} is damaged: it is truncated within its first bytes.")
    _, version, header_length = _PREFIX.unpack_from(data)
    if version != FORMAT_VERSION:
        raise ModelFileError(
            f"{name} has format version {version}; this daskpar reads version {FORMAT_VERSION}. "
            "Load it with the daskpar release that wrote it."
        )
    start = _PREFIX.size + header_length
    if header_length > _MAX_HEADER or start > len(data):
        raise ModelFileError(f"{name} is damaged: its header length ({header_length}) is wrong.")
    try:
        header = json.loads(data[_PREFIX.size : start].decode())
        length = int(header["payload"]["length"])
        if not all(isinstance(header[k], dict | None) for k in ("signature", "encryption")):
            raise TypeError("'signature' and 'encryption' must be objects or null")
    except (ValueError, UnicodeDecodeError, KeyError, TypeError) as exc:
        raise ModelFileError(f"{name} is damaged: its header cannot be read ({exc}).") from exc
    expected = start + length + (0 if header["signature"] is None else _TAG_SIZE)
    if length < 0 or expected != len(data):
        raise ModelFileError(
            f"{name} is damaged: it has {len(data)} bytes where its header says {expected} "
            "(truncated, or bytes were added)."
        )
    return header, start, start + length


def _check_signature(
    data: bytes, header: dict[str, Any], end: int, name: str, key: bytes | None, allow: bool
) -> None:
    signature = header["signature"]
    if signature is None:
        if not allow:
            raise ModelSignatureError(
                f"{name} is not signed, so daskpar cannot tell whether it was changed. Load it "
                "with allow_unsigned=True only if you trust where it came from; save models "
                f"with a key (key=, ${KEY_ENV} or ${KEY_FILE_ENV}) to sign them."
            )
        return
    if key is None:
        if not allow:
            raise ModelKeyError(
                f"{name} is signed (key id {signature.get('key_id')}): give its key (key=, "
                f"${KEY_ENV} or ${KEY_FILE_ENV}) to check it, or pass allow_unsigned=True to "
                "load it without checking."
            )
        return
    if hmac.compare_digest(_tag(key, data[:end]), data[end:]):
        return
    if signature.get("key_id") != _key_id(key):
        raise ModelKeyError(
            f"{name} was signed with another key (key id {signature.get('key_id')}; the key "
            f"given has id {_key_id(key)}), or its header was edited. Refusing to load it."
        )
    raise ModelSignatureError(
        f"{name} does not match its signature: its bytes were changed after it was saved. "
        "Refusing to load it."
    )


def _decrypt(
    payload: bytes, header: dict[str, Any], name: str, material: bytes | None, header_aad: bytes
) -> bytes:
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    encryption = header["encryption"]
    if material is None:
        raise ModelKeyError(
            f"{name} is encrypted (key id {encryption.get('key_id')}): give its key (key= or "
            f"encryption_key=, ${KEY_ENV} or ${ENCRYPTION_KEY_ENV}, or their _FILE variants)."
        )
    if encryption.get("algorithm") != "AES-256-GCM":
        raise ModelFileError(f"{name} uses an unknown encryption: {encryption.get('algorithm')}.")
    try:
        salt, nonce = bytes.fromhex(encryption["salt"]), bytes.fromhex(encryption["nonce"])
        cipher = AESGCM(_derive(material, _ENCRYPTION_INFO, salt=salt))
        return cipher.decrypt(nonce, payload, header_aad)
    except InvalidTag:
        if encryption.get("key_id") != _key_id(material):
            raise ModelKeyError(
                f"Cannot decrypt {name}: it was encrypted with another key (key id "
                f"{encryption.get('key_id')}; the key given has id {_key_id(material)})."
            ) from None
        raise ModelSignatureError(
            f"Cannot decrypt {name}: its encrypted bytes or header were changed."
        ) from None
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelFileError(f"{name} is damaged: its encryption header is wrong ({exc}).") from exc


def trusted_loads(payload: bytes, name: str) -> Any:
    """The object in skops bytes, built from :func:`trusted_types` and skops' trusted types
    only; nothing is unpickled. ``name`` says what the bytes are, in errors."""
    untrusted_error = importlib.import_module("skops.io.exceptions").UntrustedTypesFoundException
    try:
        untrusted = _untrusted(payload)
    except Exception as exc:
        raise ModelFileError(f"{name} is damaged: its model cannot be read ({exc}).") from exc
    if untrusted:
        raise ModelFileError(
            f"{name} holds types that daskpar does not trust, and is refused: {untrusted}. "
            "A daskpar model file holds daskpar's and scikit-learn's estimators only."
        )
    try:
        return _skops_io().loads(payload, trusted=trusted_types())
    except untrusted_error as exc:
        raise ModelFileError(f"{name} holds types that daskpar does not trust: {exc}") from exc
    except Exception as exc:
        raise ModelFileError(f"{name} is damaged: its model cannot be read ({exc}).") from exc


def _read(path: str | os.PathLike[str]) -> tuple[bytes, str]:
    name = repr(os.fspath(path))
    try:
        return Path(path).read_bytes(), name
    except FileNotFoundError:
        raise ModelFileError(f"No model file at {name}.") from None


@validate_params(
    {
        "path": [str, os.PathLike],
        "key": [str, bytes, None],
        "encryption_key": [str, bytes, None],
        "allow_unsigned": ["boolean"],
        "audit": [str, os.PathLike, None],
    },
    prefer_skip_nested_validation=True,
)
def load(
    path: str | os.PathLike[str],
    *,
    key: str | bytes | None = None,
    encryption_key: str | bytes | None = None,
    allow_unsigned: bool = False,
    audit: str | os.PathLike[str] | None = None,
) -> Any:
    """Load an estimator from a daskpar model file, after checking its signature.

    The checks come before anything is deserialized: the magic bytes and format version,
    the signature (HMAC-SHA256 of the whole file under ``key``), the payload's length and
    SHA-256, its decryption, and finally the types it holds, which must all be trusted
    (:func:`trusted_types`).

    Parameters
    ----------
    path : str or path-like
        A file written by :func:`save`.
    key : str or bytes, default=None
        The key the file was signed with. None reads ``$DASKPAR_MODEL_KEY``, else the file
        named by ``$DASKPAR_MODEL_KEY_FILE``.
    encryption_key : str or bytes, default=None
        The key the file was encrypted with, when not ``key``. None reads
        ``$DASKPAR_MODEL_ENCRYPTION_KEY`` and ``$DASKPAR_MODEL_ENCRYPTION_KEY_FILE``.
    allow_unsigned : bool, default=False
        Load a file that has no signature, or a signed one when no key is set (without
        checking it). A key that is set and does not match is refused all the same.
    audit : str or path-like, default=None
        The audit log to record the load in, refused or not (the file's SHA-256, and the
        estimator); None uses dask's ``daskpar.audit`` setting, and without one nothing is
        recorded.

    Returns
    -------
    estimator : object
        The saved object; it predicts exactly as the saved one did.

    Raises
    ------
    ModelFileError
        Not a daskpar model file, damaged, or holding an untrusted type.
    ModelSignatureError
        Not signed (without ``allow_unsigned``), or edited since it was signed.
    ModelKeyError
        Signed or encrypted with another key, or no key where one is needed.
    """
    with audit_log.operation("load", log=audit) as record:
        record.model_file = path
        record.extra["allow_unsigned"] = allow_unsigned
        record.estimator = _load(path, key, encryption_key, allow_unsigned)
    return record.estimator


def _load(
    path: str | os.PathLike[str],
    key: str | bytes | None,
    encryption_key: str | bytes | None,
    allow_unsigned: bool,
) -> Any:
    data, name = _read(path)
    return _loads(data, name, key, encryption_key, allow_unsigned)


def loads(
    data: bytes, *, name: str, key: str | bytes | None = None, allow_unsigned: bool = False
) -> Any:
    """The object in bytes made by :func:`dumps`, checked as :func:`load` checks a file.

    ``name`` says what the bytes are (a file's path), in errors. A key that is set (``key``,
    else the environment, as in :func:`load`) is always checked.
    """
    return _loads(data, name, key, None, allow_unsigned)


def _loads(
    data: bytes,
    name: str,
    key: str | bytes | None,
    encryption_key: str | bytes | None,
    allow_unsigned: bool,
) -> Any:
    header, start, end = _parse(data, name)
    signing = _resolve_key(key, KEY_ENV, KEY_FILE_ENV)
    _check_signature(data, header, end, name, signing, allow_unsigned)
    payload = data[start:end]
    if not hmac.compare_digest(
        hashlib.sha256(payload).hexdigest(), str(header["payload"].get("sha256"))
    ):
        raise ModelSignatureError(f"{name} is damaged: its payload does not match its hash.")
    if header.get("encryption") is not None:
        material = _resolve_key(
            encryption_key, ENCRYPTION_KEY_ENV, ENCRYPTION_KEY_FILE_ENV, what="encryption_key"
        )
        aad = {k: v for k, v in header.items() if k != "payload"}
        payload = _decrypt(payload, header, name, material or signing, _canonical(aad))
    return trusted_loads(payload, name)


def signing_key_id(key: str | bytes | None = None) -> str | None:
    """The id of the signing key that is set (``key``, else the environment), or None.

    The id (16 hex digits) names a key without revealing it, as model files' headers do.
    """
    material = _resolve_key(key, KEY_ENV, KEY_FILE_ENV)
    return None if material is None else _key_id(material)


@validate_params({"path": [str, os.PathLike]}, prefer_skip_nested_validation=True)
def file_sha256(path: str | os.PathLike[str]) -> str:
    """The SHA-256 of a file's bytes, in hexadecimal (what the audit log records).

    Parameters
    ----------
    path : str or path-like

    Returns
    -------
    str
        64 hexadecimal digits.
    """
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


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
    data, name = _read(path)
    header, _, _ = _parse(data, name)
    out: dict[str, Any] = dict(header)
    out.update(
        format_version=FORMAT_VERSION,
        signed=header["signature"] is not None,
        encrypted=header.get("encryption") is not None,
        size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
    )
    return out
