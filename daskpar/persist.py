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
import json
import os
import pathlib
import secrets
import stat
import struct
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final, TypeAlias

from . import audit as audit_log
from ._sklearn_compat import validate_params
from .audit import file_sha256
from .errors import DaskparError

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


#: daskpar's types that a model file may hold, as skops names them (``<module>.<class>``): the
#: estimators and searches, the scorer, and every metric class a scorer can hold. Saved files
#: record these names, so they are part of the file format: a class that moves must stay
#: importable under its old name, which goes to :data:`_MOVED_TYPES`. Strings, so that
#: persistence imports no estimator (it is a layer below them); tests/test_persist.py checks
#: that they name exactly those classes.
_DASKPAR_TYPES: Final[tuple[str, ...]] = (
    "daskpar._adaptive.AdaptiveSGDClassifier",
    "daskpar._adaptive.AdaptiveSGDRegressor",
    "daskpar._incremental.ParallelIncremental",
    "daskpar._linear.LinearRegression",
    "daskpar._linear.Ridge",
    "daskpar._preprocessing.MaxAbsScaler",
    "daskpar._preprocessing.MinMaxScaler",
    "daskpar._preprocessing.StandardScaler",
    "daskpar._search.GridSearchCV",
    "daskpar._search.HalvingSearchCV",
    "daskpar._search.RandomizedSearchCV",
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
# Keys
#
# A key's value never appears in a message, an exception's arguments or its chain: errors
# about a key name where it came from, its length or its id, and are raised outside ``except``
# blocks so that no exception holding the value rides along as their context. The key
# parameters are ``secret`` to the parameter check, whose message then shows their type only.

#: What a key argument may be: text (encoded as UTF-8) or bytes, in any of Python's buffers.
KeyLike: TypeAlias = str | bytes | bytearray | memoryview
#: The parameter constraint of a key argument.
_KEY_CONSTRAINT: Final[list[Any]] = [str, bytes, bytearray, memoryview, None]
#: A key file holds a key, not a document: a larger one is refused unread.
_MAX_KEY_FILE = 1 << 16


@dataclass(frozen=True, repr=False)
class _Key:
    """Key material and where it came from (``the key= argument``, ``$DASKPAR_MODEL_KEY``...).

    Its repr names the source and the key's id, never the material.
    """

    material: bytes
    source: str

    @property
    def id(self) -> str:
        return _key_id(self.material)

    def __repr__(self) -> str:
        return f"<model key from {self.source}, id {self.id}>"


def _read_key_file(path: str, variable: str) -> bytes:
    """The key in the file ``$variable`` names, without surrounding whitespace."""
    problem = None
    if not path:
        problem = (
            f"${variable} is set but empty. Set it to the path of a key file "
            f"(daskpar.persist.generate_key(path) writes one), or unset it to use no key"
        )
    else:
        try:
            with open(path, "rb") as f:
                material = f.read(_MAX_KEY_FILE + 1).strip()
        except FileNotFoundError:
            # Not shown: a value that names no file may be the key itself, in the wrong
            # variable.
            problem = (
                f"${variable} names no file that exists (its value, {len(path)} characters, "
                "is not shown: it may be a key set in the wrong variable). Set it to the path "
                f"of a key file, or put the key itself in ${variable.removesuffix('_FILE')}"
            )
        except OSError as exc:
            # Not shown either: any error may come from a key put in the wrong variable
            # (too long a name, "not a directory"...).
            problem = (
                f"Cannot read the model key file that ${variable} names (its value, "
                f"{len(path)} characters, is not shown): {exc.strerror}"
            )
        else:
            if len(material) > _MAX_KEY_FILE:
                problem = (
                    f"The model key file {path!r} (${variable}) is larger than "
                    f"{_MAX_KEY_FILE} bytes: it is not a key file"
                )
            elif not material:
                problem = (
                    f"The model key file {path!r} (${variable}) is empty. Write a key into it "
                    f"(daskpar.persist.generate_key() makes one), or unset ${variable} to use "
                    "no key"
                )
    if problem is not None:
        raise ModelKeyError(f"{problem}.")
    return material


def _resolve_key(key: KeyLike | None, env: str, file_env: str, *, what: str = "key") -> _Key | None:
    """The key: the argument, else ``$env``, else the file ``$file_env``, else None.

    A variable that is set counts, even when empty: an empty one is an error that names it,
    not "no key".
    """
    problem = None
    if key is not None:
        source = f"the {what}= argument"
        if isinstance(key, str):
            try:
                material = key.encode()
            except UnicodeEncodeError as exc:
                problem = (
                    f"holds a character that UTF-8 cannot encode (a lone surrogate, at "
                    f"position {exc.start}). Pass the key as bytes, or make one with "
                    "daskpar.persist.generate_key()"
                )
        elif not isinstance(key, bytes | bytearray | memoryview):
            # Reached only with scikit-learn's parameter validation turned off: bytes(32)
            # would be a key of 32 zero bytes.
            problem = f"is of type {type(key).__name__}, not text or bytes"
        else:
            try:
                material = bytes(key)
            except (TypeError, ValueError, BufferError):  # a released memoryview
                problem = "cannot be read as bytes (a released memoryview?)"
    elif env in os.environ:
        source = f"${env}"
        # The variable's bytes as the environment holds them, valid UTF-8 or not.
        material = os.fsencode(os.environ[env])
        if not material:
            problem = (
                "is empty: the variable is set but holds no key. Set it to a key "
                f"(daskpar.persist.generate_key() makes one), or unset it (unset {env}) to "
                "use no key"
            )
    elif file_env in os.environ:
        source = f"the file ${file_env} names"
        material = _read_key_file(os.environ[file_env], file_env)
    else:
        return None
    if problem is None and len(material) < _MIN_KEY_BYTES:
        problem = (
            f"is {len(material)} bytes long; a key must have at least {_MIN_KEY_BYTES}. Make "
            "one with daskpar.persist.generate_key()"
        )
    if problem is not None:
        raise ModelKeyError(f"The model key from {source} {problem}.")
    return _Key(material, source)


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


#: The packages whose versions a model file's header records.
_RECORDED_PACKAGES: Final[tuple[str, ...]] = ("daskpar", "scikit-learn", "skops", "numpy")


def _public_type_name(obj: Any) -> str:
    """``daskpar.ParallelIncremental`` rather than ``daskpar._incremental.ParallelIncremental``."""
    return audit_log.public_name(type(obj))


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
    """Write ``data`` under a temporary name next to ``path``, then rename it into place.

    The file is readable and writable by its owner only (0600): a model file or a checkpoint
    holds the model's parameters, which an unencrypted file shows to whoever can read it. A
    link at ``path`` is replaced by the rename, not written through.
    """
    temporary = path.with_name(f".{path.name}.tmp-{secrets.token_hex(4)}")
    try:
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
        with os.fdopen(os.open(temporary, flags, 0o600), "wb") as f:
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
        "key": _KEY_CONSTRAINT,
        "encrypt": ["boolean"],
        "encryption_key": _KEY_CONSTRAINT,
        "audit": [str, os.PathLike, None],
    },
    prefer_skip_nested_validation=True,
    secret=("key", "encryption_key"),
)
def save(
    obj: Any,
    path: str | os.PathLike[str],
    *,
    key: KeyLike | None = None,
    encrypt: bool = False,
    encryption_key: KeyLike | None = None,
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
        record.extra["signed"] = _save(obj, Path(path), key, encrypt, encryption_key)
        record.extra["encrypted"] = encrypt
        record.model_file = path


def _save(
    obj: Any,
    path: Path,
    key: KeyLike | None,
    encrypt: bool,
    encryption_key: KeyLike | None,
) -> bool:
    """Write the model file; whether it is signed."""
    body, signed = _dumps(obj, key, encrypt, encryption_key)
    write_atomically(path, body)
    return signed


@validate_params({"key": _KEY_CONSTRAINT}, prefer_skip_nested_validation=True, secret=("key",))
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
        "versions": audit_log.package_versions(_RECORDED_PACKAGES),
        "serializer": "skops",
        "signature": None
        if signing is None
        else {"algorithm": "HMAC-SHA256", "kdf": "HKDF-SHA256", "key_id": signing.id},
        "encryption": None,
    }
    if encryption is not None:
        payload = _encrypt(encryption.material, payload, header)
    header["payload"] = {"length": len(payload), "sha256": hashlib.sha256(payload).hexdigest()}
    header_bytes = _canonical(header)
    body = _PREFIX.pack(MAGIC, FORMAT_VERSION, len(header_bytes)) + header_bytes + payload
    if signing is not None:
        body += _tag(signing.material, body)
    return body, signing is not None


# --------------------------------------------------------------------------------------------
# Reading
#
# Whatever a file holds, reading it raises ModelFileError or one of its subclasses: the header
# is parsed with limits (no NaN, no duplicate fields, nesting and numbers caught as damage)
# and then checked against the schema the writer follows, field by field, before any of it
# is used. Messages describe a bad field by its JSON type, never by its text: the text is the
# file's, and a terminal would interpret control characters in it.


class _HeaderError(Exception):
    """A header that does not follow the schema; the message says which field and how."""


def _json_type(value: Any) -> str:
    """What a JSON value is, without its text (a small integer is shown)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return str(value) if abs(value) < 10**12 else f"an integer of {len(str(abs(value)))} digits"
    if isinstance(value, float):
        return "a number with a fraction or exponent"
    if isinstance(value, str):
        return f"a string of {len(value)} characters"
    return "an array" if isinstance(value, list) else "an object"


def _text(value: Any) -> bool:
    return isinstance(value, str) and 0 < len(value) <= 200 and value.isprintable()


def _exactly(expected: str) -> tuple[str, Callable[[Any], bool]]:
    return f"{expected!r}", lambda value: value == expected


def _hex(digits: int) -> tuple[str, Callable[[Any], bool]]:
    def check(value: Any) -> bool:
        return (
            isinstance(value, str)
            and len(value) == digits
            and all(c in "0123456789abcdef" for c in value)
        )

    return f"{digits} lowercase hexadecimal digits", check


def _timestamp(value: Any) -> bool:
    if not _text(value):
        return False
    try:
        datetime.fromisoformat(value)
    except ValueError:
        return False
    return True


def _versions_map(value: Any) -> bool:
    return (
        isinstance(value, dict)
        and len(value) <= 64
        and all(_text(k) and _text(v) for k, v in value.items())
    )


def _count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


@dataclass(frozen=True)
class _Fields:
    """A JSON object of exactly these fields (or null, if ``nullable``)."""

    fields: Mapping[str, Any]  # name -> _Fields, or (description, check)
    nullable: bool = False


#: The header as :func:`_dumps` writes it: every field, and no other.
_HEADER_SCHEMA: Final[_Fields] = _Fields(
    {
        "object": ("a class name", _text),
        "created": ("an ISO 8601 time", _timestamp),
        "versions": ("an object of version strings", _versions_map),
        "serializer": _exactly("skops"),
        "signature": _Fields(
            {
                "algorithm": _exactly("HMAC-SHA256"),
                "kdf": _exactly("HKDF-SHA256"),
                "key_id": _hex(16),
            },
            nullable=True,
        ),
        "encryption": _Fields(
            {
                "algorithm": _exactly("AES-256-GCM"),
                "kdf": _exactly("HKDF-SHA256"),
                "salt": _hex(32),
                "nonce": _hex(24),
                "key_id": _hex(16),
            },
            nullable=True,
        ),
        "payload": _Fields({"length": ("a non-negative integer", _count), "sha256": _hex(64)}),
    }
)


def _check_fields(value: Any, schema: _Fields, where: str) -> None:
    """Raise :class:`_HeaderError` naming the first field of ``value`` that breaks ``schema``."""
    what = f"'{where}'" if where else "the header"
    if not isinstance(value, dict):
        null = " or null" if schema.nullable else ""
        raise _HeaderError(f"{what} must be an object{null}, not {_json_type(value)}")
    missing = [name for name in schema.fields if name not in value]
    if missing:
        raise _HeaderError(f"{what} lacks the field(s) {missing}")
    if len(value) != len(schema.fields):
        unknown = len(value) - len(schema.fields)
        raise _HeaderError(f"{what} has {unknown} field(s) that daskpar does not write")
    for name, rule in schema.fields.items():
        path = f"{where}.{name}" if where else name
        if isinstance(rule, _Fields):
            if not (value[name] is None and rule.nullable):
                _check_fields(value[name], rule, path)
            continue
        description, check = rule
        if not check(value[name]):
            raise _HeaderError(f"'{path}' must be {description}, not {_json_type(value[name])}")


def _unique_fields(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out = dict(pairs)
    if len(out) != len(pairs):
        raise _HeaderError("a field appears twice in one object")
    return out


def _no_constant(constant: str) -> Any:
    raise _HeaderError(f"it holds {constant}, which JSON does not allow")


def _read_header(raw: bytes) -> dict[str, Any]:
    """The header's JSON, checked against :data:`_HEADER_SCHEMA`; else :class:`_HeaderError`."""
    problem = None
    try:
        header = json.loads(
            raw.decode("utf-8"), object_pairs_hook=_unique_fields, parse_constant=_no_constant
        )
    except _HeaderError as exc:
        problem = str(exc)
    except UnicodeDecodeError as exc:
        problem = f"it is not UTF-8 (byte {exc.start})"
    except json.JSONDecodeError as exc:
        problem = f"it is not JSON ({exc.msg} at character {exc.pos})"
    except RecursionError:
        problem = "it nests too deeply"
    except (ValueError, OverflowError, MemoryError) as exc:  # an integer of 5000 digits
        problem = f"it holds a value Python cannot read ({type(exc).__name__})"
    if problem is not None:
        raise _HeaderError(problem)
    _check_fields(header, _HEADER_SCHEMA, "")
    checked: dict[str, Any] = header
    return checked


def _parse(data: bytes, name: str) -> tuple[dict[str, Any], int, int]:
    """The header, checked against the writer's schema, and the offsets where the payload
    starts and ends."""
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
    problem = None
    try:
        header = _read_header(data[_PREFIX.size : start])
    except _HeaderError as exc:
        problem = str(exc)
    except (RecursionError, MemoryError) as exc:  # however deep a check went, it is damage
        problem = f"it cannot be checked ({type(exc).__name__})"
    if problem is not None:
        raise ModelFileError(f"{name} is damaged: its header cannot be read: {problem}.")
    length: int = header["payload"]["length"]
    expected = start + length + (0 if header["signature"] is None else _TAG_SIZE)
    if expected != len(data):
        raise ModelFileError(
            f"{name} is damaged: it has {len(data)} bytes where its header says {expected} "
            "(truncated, or bytes were added)."
        )
    return header, start, start + length


def _unset_key_advice() -> str:
    return f"key=None, and neither ${KEY_ENV} nor ${KEY_FILE_ENV} set"


def _check_signature(
    data: bytes, header: dict[str, Any], end: int, name: str, key: _Key | None, allow: bool
) -> None:
    """A key that is set is always used; ``allow`` admits an unsigned file when none is."""
    signature = header["signature"]
    if key is None:
        if signature is not None:
            raise ModelKeyError(
                f"{name} is signed (key id {signature['key_id']}), and no key is set to check "
                f"it: give its key (key=, ${KEY_ENV} or ${KEY_FILE_ENV}). A signed file is "
                "never loaded unchecked."
            )
        if not allow:
            raise ModelSignatureError(
                f"{name} is not signed, so daskpar cannot tell whether it was changed. Load it "
                "with allow_unsigned=True (and no key set) only if you trust where it came "
                f"from; save models with a key (key=, ${KEY_ENV} or ${KEY_FILE_ENV}) to sign "
                "them."
            )
        return
    if signature is None:
        raise ModelSignatureError(
            f"{name} carries no signature, though a key is set ({key.source}, id {key.id}): "
            "its signature may have been stripped, so it is refused, with allow_unsigned=True "
            "too. To load a file you trust that was never signed, unset the key "
            f"({_unset_key_advice()}) and pass allow_unsigned=True."
        )
    if hmac.compare_digest(_tag(key.material, data[:end]), data[end:]):
        return
    if signature["key_id"] != key.id:
        raise ModelKeyError(
            f"{name} was signed with another key (key id {signature['key_id']}; the key "
            f"given has id {key.id}), or its header was edited. Refusing to load it."
        )
    raise ModelSignatureError(
        f"{name} does not match its signature: its bytes were changed after it was saved. "
        "Refusing to load it."
    )


def _decrypt(
    payload: bytes, header: dict[str, Any], name: str, key: _Key | None, header_aad: bytes
) -> bytes:
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    encryption = header["encryption"]
    if key is None:
        raise ModelKeyError(
            f"{name} is encrypted (key id {encryption['key_id']}): give its key (key= or "
            f"encryption_key=, ${KEY_ENV} or ${ENCRYPTION_KEY_ENV}, or their _FILE variants)."
        )
    salt, nonce = bytes.fromhex(encryption["salt"]), bytes.fromhex(encryption["nonce"])
    cipher = AESGCM(_derive(key.material, _ENCRYPTION_INFO, salt=salt))
    try:
        return cipher.decrypt(nonce, payload, header_aad)
    except InvalidTag:
        pass
    if encryption["key_id"] != key.id:
        raise ModelKeyError(
            f"Cannot decrypt {name}: it was encrypted with another key (key id "
            f"{encryption['key_id']}; the key given has id {key.id})."
        )
    raise ModelSignatureError(f"Cannot decrypt {name}: its encrypted bytes or header were changed.")


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


def _read(path: str | os.PathLike[str]) -> tuple[bytes, str]:
    name = repr(os.fspath(path))
    try:
        # Non-blocking: a FIFO put in a model file's place opens at once, and is refused.
        with os.fdopen(os.open(path, os.O_RDONLY | os.O_NONBLOCK), "rb") as f:
            if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
                raise ModelFileError(f"{name} is not a regular file, so not a model file.")
            return f.read(), name
    except FileNotFoundError:
        problem = f"No model file at {name}."
    except OSError as exc:  # a folder, no permission
        problem = f"Cannot read the model file {name}: {exc.strerror or type(exc).__name__}."
    raise ModelFileError(problem)


@validate_params(
    {
        "path": [str, os.PathLike],
        "key": _KEY_CONSTRAINT,
        "encryption_key": _KEY_CONSTRAINT,
        "allow_unsigned": ["boolean"],
        "audit": [str, os.PathLike, None],
    },
    prefer_skip_nested_validation=True,
    secret=("key", "encryption_key"),
)
def load(
    path: str | os.PathLike[str],
    *,
    key: KeyLike | None = None,
    encryption_key: KeyLike | None = None,
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
        record.model_file = path
        record.extra["allow_unsigned"] = allow_unsigned
        record.estimator = _load(path, key, encryption_key, allow_unsigned)
    return record.estimator


def _load(
    path: str | os.PathLike[str],
    key: KeyLike | None,
    encryption_key: KeyLike | None,
    allow_unsigned: bool,
) -> Any:
    data, name = _read(path)
    return _loads(data, name, key, encryption_key, allow_unsigned)


@validate_params(
    {
        "data": [bytes, bytearray, memoryview],
        "name": [str],
        "key": _KEY_CONSTRAINT,
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
    header, start, end = _parse(data, name)
    signing = _resolve_key(key, KEY_ENV, KEY_FILE_ENV)
    _check_signature(data, header, end, name, signing, allow_unsigned)
    payload = data[start:end]
    if not hmac.compare_digest(hashlib.sha256(payload).hexdigest(), header["payload"]["sha256"]):
        raise ModelSignatureError(f"{name} is damaged: its payload does not match its hash.")
    if header["encryption"] is not None:
        encryption = _resolve_key(
            encryption_key, ENCRYPTION_KEY_ENV, ENCRYPTION_KEY_FILE_ENV, what="encryption_key"
        )
        aad = {k: v for k, v in header.items() if k != "payload"}
        payload = _decrypt(payload, header, name, encryption or signing, _canonical(aad))
    return trusted_loads(payload, name)


@validate_params({"key": _KEY_CONSTRAINT}, prefer_skip_nested_validation=True, secret=("key",))
def signing_key_id(key: KeyLike | None = None) -> str | None:
    """The id of the signing key that is set (``key``, else the environment), or None.

    The id (16 hex digits) names a key without revealing it, as model files' headers do.

    Parameters
    ----------
    key : str, bytes, bytearray or memoryview, default=None
        A key; None reads ``$DASKPAR_MODEL_KEY``, else the file ``$DASKPAR_MODEL_KEY_FILE``
        names.

    Returns
    -------
    str or None
        16 hexadecimal digits, or None when no key is set.

    Examples
    --------
    >>> from daskpar.persist import signing_key_id
    >>> signing_key_id("k" * 32) == signing_key_id(b"k" * 32)
    True
    """
    signing = _resolve_key(key, KEY_ENV, KEY_FILE_ENV)
    return None if signing is None else signing.id


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
