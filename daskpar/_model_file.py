"""The model-file container: its bytes, its header, and the errors of model files.

:mod:`daskpar.persist` draws the layout (magic, format version, header length, header,
payload, signature); this module writes and reads it: :func:`assemble` packs a header and a
payload, :func:`parse` checks a file's bytes and returns its header and where its payload
lies, :func:`read_file` and :func:`write_atomically` move the bytes to and from disk, or
to and from an object store (an fsspec URL with its ``storage_options``: one PUT, which S3
makes visible whole or not at all, and one GET). What
the payload holds, and whether the signature matches, is :mod:`daskpar.persist`'s and
:mod:`daskpar._model_keys`' business.
"""

from __future__ import annotations

import json
import os
import secrets
import stat
import struct
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Final

from ._io._remote import StorageOptionsLike, filesystem, is_remote, remote_location
from .errors import DaskparError

__all__ = [
    "FORMAT_VERSION",
    "MAGIC",
    "ModelFileError",
    "ModelKeyError",
    "ModelSignatureError",
    "assemble",
    "canonical",
    "parse",
    "read_file",
    "write_atomically",
]

#: The first bytes of every daskpar model file.
MAGIC: Final[bytes] = b"\x89DPM\r\n\x1a\n"
#: The container version this daskpar writes and reads.
FORMAT_VERSION: Final[int] = 1

_PREFIX = struct.Struct(">8sHI")  # magic, version, header length
_TAG_SIZE = 32  # HMAC-SHA256
_MAX_HEADER = 1 << 16


# The errors of model files, raised here and in daskpar._model_keys. Users catch them as
# daskpar.persist's, which re-exports them, and audit logs name them so (audit.public_name):
# their ``__module__`` stays the one they had before persistence was split into modules.


class ModelFileError(DaskparError):
    """A model file cannot be written or read: not a daskpar model file, damaged, written by
    a newer format, or holding a type that daskpar does not trust."""

    __module__ = "daskpar.persist"


class ModelSignatureError(ModelFileError):
    """A model file's integrity cannot be established: it is not signed (and
    ``allow_unsigned`` is False), or its bytes do not match its signature (edited)."""

    __module__ = "daskpar.persist"


class ModelKeyError(ModelFileError):
    """The key is missing, too short, or not the one the file was signed or encrypted with."""

    __module__ = "daskpar.persist"


# --------------------------------------------------------------------------------------------
# Writing


def canonical(value: Any) -> bytes:
    """JSON as a header is written and signed: sorted keys, no spaces, ASCII only."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def assemble(header: dict[str, Any], payload: bytes) -> bytes:
    """The container's bytes up to the signature: prefix, header (canonical JSON), payload."""
    header_bytes = canonical(header)
    return _PREFIX.pack(MAGIC, FORMAT_VERSION, len(header_bytes)) + header_bytes + payload


def write_atomically(
    path: str | os.PathLike[str], data: bytes, storage_options: StorageOptionsLike = None
) -> None:
    """Write ``data`` under a temporary name next to ``path``, then rename it into place.

    The file is readable and writable by its owner only (0600): a model file or a checkpoint
    holds the model's parameters, which an unencrypted file shows to whoever can read it. A
    link at ``path`` is replaced by the rename, not written through.

    An object store's URL (``s3://...``) is written in one upload, with ``storage_options``:
    S3, GCS and Azure Blob make an object visible whole once its upload completes (a single
    PUT, or a multipart upload's completion), never in part; who may read it is the
    bucket's policy.
    """
    if is_remote(path):
        _put_object(os.fspath(path), data, storage_options)
        return
    path = Path(path)
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


#: The header as :func:`daskpar.persist.dumps` writes it: every field, and no other.
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


def parse(data: bytes, name: str) -> tuple[dict[str, Any], int, int]:
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


def _put_object(url: str, data: bytes, storage_options: StorageOptionsLike) -> None:
    clean, options = remote_location(url, storage_options, "save")
    fs, inner = filesystem(clean, options)
    try:
        fs.pipe_file(inner, data)
    except Exception as exc:  # credentials refused, no such bucket, network
        raise ModelFileError(
            f"Cannot write {clean!r}: {options.scrub(f'{type(exc).__name__}: {exc}')}. Check "
            "the URL, and the credentials in storage_options or the environment."
        ) from None


def _get_object(url: str, storage_options: StorageOptionsLike) -> tuple[bytes, str]:
    clean, options = remote_location(url, storage_options, "load")
    name = repr(clean)
    fs, inner = filesystem(clean, options)
    try:
        data: bytes = fs.cat_file(inner)
    except FileNotFoundError:
        problem = f"No model file at {name}."
    except Exception as exc:  # credentials refused, a folder, network
        problem = (
            f"Cannot read the model file {name}: "
            f"{options.scrub(f'{type(exc).__name__}: {exc}')}. Check the URL, and the "
            "credentials in storage_options or the environment."
        )
    else:
        return data, name
    raise ModelFileError(problem)


def read_file(
    path: str | os.PathLike[str], storage_options: StorageOptionsLike = None
) -> tuple[bytes, str]:
    """A model file's bytes, and its path as messages show it; only a regular file is read.

    An object store's URL is read with ``storage_options`` in one GET; messages show it
    without any user or password it holds.
    """
    if is_remote(path):
        return _get_object(os.fspath(path), storage_options)
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
