"""Model keys: where a key comes from, its id, and the signature and encryption it keys.

A key is the ``key=`` argument (text or bytes), else ``$DASKPAR_MODEL_KEY``, else the file
``$DASKPAR_MODEL_KEY_FILE`` names (and the same for a separate encryption key):
:func:`resolve_key` reads it into a :class:`Key`. HKDF-SHA256 derives from it the HMAC-SHA256
key that signs a model file (:func:`tag`, checked by :func:`check_signature`), the
AES-256-GCM key that encrypts its payload (:func:`encrypt_payload`,
:func:`decrypt_payload`), and its public id. :mod:`daskpar.persist` re-exports the names
users need (the variables, :data:`KeyLike`, :func:`generate_key`, :func:`signing_key_id`).

A key's value never appears in a message, an exception's arguments or its chain: errors
about a key name where it came from, its length or its id, and are raised outside ``except``
blocks so that no exception holding the value rides along as their context. The key
parameters are ``secret`` to the parameter check, whose message then shows their type only.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass
from typing import Any, Final, TypeAlias

from ._model_file import ModelKeyError, ModelSignatureError, canonical
from ._sklearn_compat import validate_params

__all__ = [
    "ENCRYPTION_KEY_ENV",
    "ENCRYPTION_KEY_FILE_ENV",
    "KEY_CONSTRAINT",
    "KEY_ENV",
    "KEY_FILE_ENV",
    "Key",
    "KeyLike",
    "check_signature",
    "decrypt_payload",
    "encrypt_payload",
    "generate_key",
    "resolve_key",
    "signing_key_id",
    "tag",
]

#: The environment variables holding the model key, or naming a file that holds it.
KEY_ENV: Final[str] = "DASKPAR_MODEL_KEY"
KEY_FILE_ENV: Final[str] = "DASKPAR_MODEL_KEY_FILE"
#: The same for a separate encryption key (by default the model key encrypts too).
ENCRYPTION_KEY_ENV: Final[str] = "DASKPAR_MODEL_ENCRYPTION_KEY"
ENCRYPTION_KEY_FILE_ENV: Final[str] = "DASKPAR_MODEL_ENCRYPTION_KEY_FILE"

#: A key shorter than this is refused: HKDF adds no strength to a weak key.
_MIN_KEY_BYTES = 16
_SIGNATURE_INFO = b"daskpar model signature v1"
_ENCRYPTION_INFO = b"daskpar model encryption v1"
_KEY_ID_INFO = b"daskpar key id v1"

#: What a key argument may be: text (encoded as UTF-8) or bytes, in any of Python's buffers.
KeyLike: TypeAlias = str | bytes | bytearray | memoryview
#: The parameter constraint of a key argument.
KEY_CONSTRAINT: Final[list[Any]] = [str, bytes, bytearray, memoryview, None]
#: A key file holds a key, not a document: a larger one is refused unread.
_MAX_KEY_FILE = 1 << 16


@dataclass(frozen=True, repr=False)
class Key:
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


def resolve_key(key: KeyLike | None, env: str, file_env: str, *, what: str = "key") -> Key | None:
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
    return Key(material, source)


def _derive(material: bytes, info: bytes, *, salt: bytes | None = None, length: int = 32) -> bytes:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    return HKDF(algorithm=hashes.SHA256(), length=length, salt=salt, info=info).derive(material)


def _key_id(material: bytes) -> str:
    """A public name of a key (16 hex digits), derived one-way: it tells keys apart."""
    return _derive(material, _KEY_ID_INFO, length=8).hex()


def tag(material: bytes, data: bytes) -> bytes:
    """The HMAC-SHA256 of ``data`` under the signing key derived from ``material``: the 32
    bytes that end a signed model file."""
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


@validate_params({"key": KEY_CONSTRAINT}, prefer_skip_nested_validation=True, secret=("key",))
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
    signing = resolve_key(key, KEY_ENV, KEY_FILE_ENV)
    return None if signing is None else signing.id


# --------------------------------------------------------------------------------------------
# Encryption and signatures


def encrypt_payload(material: bytes, payload: bytes, header: dict[str, Any]) -> bytes:
    """``payload`` encrypted with AES-256-GCM under a key derived from ``material`` and a new
    salt, recorded in ``header["encryption"]``; the header, as it is then, is bound to it."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    salt, nonce = secrets.token_bytes(16), secrets.token_bytes(12)
    header["encryption"] = {
        "algorithm": "AES-256-GCM",
        "kdf": "HKDF-SHA256",
        "salt": salt.hex(),
        "nonce": nonce.hex(),
        "key_id": _key_id(material),
    }
    aad = canonical(header)  # the header without the payload's length and hash
    return AESGCM(_derive(material, _ENCRYPTION_INFO, salt=salt)).encrypt(nonce, payload, aad)


def _unset_key_advice() -> str:
    return f"key=None, and neither ${KEY_ENV} nor ${KEY_FILE_ENV} set"


def check_signature(
    data: bytes, header: dict[str, Any], end: int, name: str, key: Key | None, allow: bool
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
    if hmac.compare_digest(tag(key.material, data[:end]), data[end:]):
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


def decrypt_payload(
    payload: bytes, header: dict[str, Any], name: str, key: Key | None, header_aad: bytes
) -> bytes:
    """The payload that :func:`encrypt_payload` encrypted; ``header_aad`` is the header it
    bound (the file's, without the ``payload`` field)."""
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
