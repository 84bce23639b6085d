"""The audit log: one tamper-evident record per fit, search, score, save or load.

The log is a JSON-lines file that only grows. The client writes it (tasks may run more than
once; the client's operation runs once), one line per operation, when the operation ends,
whether it succeeded or failed::

    from daskpar import audit

    with audit.operation("fit", estimator=model, X=X, y=y, log="audit.jsonl") as record:
        model.fit(X, y)
        record.metrics["validation_score"] = model.history_[-1]["validation_score"]

A record holds the time, user, host, operation, status (and error), library versions, the
estimator and its parameters, a fingerprint of the data (:func:`fingerprint`), the metrics, a
model file's SHA-256, and two hashes: the previous record's, and its own (SHA-256 of the
record's canonical JSON without it). Each record thus vouches for every record before it;
:func:`verify` walks the chain and names the first record that breaks it. Writers lock the
file (``fcntl.flock``) while they read the last record's hash and append, so that two
processes writing one log never interleave or fork the chain.

Logging is on when ``log=`` names a file, or when dask's configuration has a ``daskpar.audit``
path (``dask.config.set({"daskpar.audit": "audit.jsonl"})``, or the environment variable
``DASK_DASKPAR__AUDIT``); otherwise :func:`operation` does nothing.

The data fingerprint (:mod:`daskpar._fingerprint`, whose :func:`fingerprint` and
:class:`ContentHash` this module exports) is computed where the data lives: one task per
block hashes its rows into a :class:`ContentHash`, and the hashes merge through the tree of
:func:`~daskpar._graph.reduce_partitions`; only 40 bytes per block travel. The hash depends
on the rows' bytes and order, not on how they are chunked.
"""

from __future__ import annotations

import contextlib
import contextvars
import getpass
import hashlib
import json
import math
import os
import socket
import stat
import sys
import time
import unicodedata
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import Any, BinaryIO, Final

import numpy as np
from dask import config

from ._fingerprint import ContentHash, fingerprint, fingerprint_partition
from ._graph import SPLIT_EVERY
from ._sklearn_compat import validate_params
from .errors import DaskparError, scrub

__all__ = [
    "CONFIG_KEY",
    "CONTENT_HASH_KEY",
    "GENESIS",
    "AuditLogError",
    "AuditRecord",
    "ContentHash",
    "VerifiedLog",
    "current_user",
    "file_sha256",
    "fingerprint",
    "fingerprint_partition",
    "format_table",
    "operation",
    "read",
    "show",
    "verify",
]

#: The dask configuration key that switches the log on: a path.
CONFIG_KEY: Final[str] = "daskpar.audit"
#: The dask configuration key that turns the data's content hash off (``False``).
CONTENT_HASH_KEY: Final[str] = "daskpar.audit-content-hash"
#: The "previous hash" of the first record.
GENESIS: Final[str] = "0" * 64
#: Whether an operation is being recorded in this thread or task: nested ones are part of it.
_RECORDING: contextvars.ContextVar[bool] = contextvars.ContextVar("daskpar_audit", default=False)


class AuditLogError(DaskparError):
    """The audit log cannot be written, or :func:`verify` found it broken.

    Attributes
    ----------
    line : int or None
        The line (1-based) of the first broken record, when one is to blame.
    """

    def __init__(self, message: str, *, line: int | None = None) -> None:
        super().__init__(message)
        self.line = line


# --------------------------------------------------------------------------------------------
# What a record says


def _canonical(record: Mapping[str, Any]) -> bytes:
    """The one serialization of a record: sorted keys, no spaces, UTF-8, no NaN."""
    return json.dumps(
        record, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode()


def _scrubbed(value: Any) -> Any:
    """``value`` (a record's JSON content) with every text scrubbed
    (:func:`daskpar.errors.scrub`): no URL's password or presigned signature reaches the log,
    whichever field holds it (a model file's URL, a data source, an error's message)."""
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, Mapping):
        return {_scrubbed(k): _scrubbed(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_scrubbed(v) for v in value]
    return value


def _record_hash(record: Mapping[str, Any]) -> str:
    return hashlib.sha256(_canonical({k: v for k, v in record.items() if k != "hash"})).hexdigest()


def public_name(cls: type) -> str:
    """``daskpar.ParallelIncremental`` rather than ``daskpar._incremental.ParallelIncremental``."""
    if cls.__module__ == "builtins":
        return cls.__qualname__
    parts = cls.__module__.split(".")
    while len(parts) > 1 and parts[-1].startswith("_"):
        parent = sys.modules.get(".".join(parts[:-1]))
        if parent is None or getattr(parent, cls.__name__, None) is not cls:
            break
        parts.pop()
    return ".".join([*parts, cls.__qualname__])


#: Unicode categories that a terminal does not print as they are: C0 and C1 controls (ESC
#: sequences, carriage returns, backspaces), format characters (the bidi overrides such as
#: U+202E, zero-width ones), lone surrogates, and line and paragraph separators.
_UNPRINTED_CATEGORIES: Final[frozenset[str]] = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})


def printable(text: str) -> str:
    """``text`` with every character a terminal would act on escaped as Python writes it.

    ``"a\\x1b[2Jb"`` comes out as ``a\\x1b[2Jb`` (a backslash and three characters); the
    same for ``\\r``, ``\\n``, ``\\b``, other C0 and C1 controls, and Unicode format
    characters such as the right-to-left override U+202E (``\\u202e``). Text from an audit
    record or a model file goes through it before it is printed, so that a value cannot draw
    fake rows or hide characters on a terminal.

    Examples
    --------
    >>> from daskpar.audit import printable
    >>> printable("ok\\rFAKE\\u202e")
    'ok\\\\rFAKE\\\\u202e'
    """
    if text.isprintable():
        return text
    return "".join(
        repr(c)[1:-1] if unicodedata.category(c) in _UNPRINTED_CATEGORIES else c for c in text
    )


def _json_safe(value: Any, depth: int = 0) -> Any:
    """``value`` as JSON: estimators as their class and parameters, the rest as ``repr``."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else repr(value)
    if isinstance(value, np.generic):
        return _json_safe(value.item(), depth)
    if depth > 8:
        return repr(value)[:200]
    if isinstance(value, np.ndarray):
        if value.size <= 32:
            return _json_safe(value.tolist(), depth + 1)
        return f"array(shape={value.shape}, dtype={value.dtype})"
    if isinstance(value, Mapping):
        return {str(k): _json_safe(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_json_safe(v, depth + 1) for v in value]
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if callable(getattr(value, "get_params", None)) and not isinstance(value, type):
        return describe_estimator(value, depth=depth + 1)
    return repr(value)[:200]


def describe_estimator(estimator: Any, *, depth: int = 0) -> dict[str, Any]:
    """An estimator's class and parameters (``get_params(deep=False)``), as JSON."""
    params = estimator.get_params(deep=False) if hasattr(estimator, "get_params") else {}
    return {
        "class": public_name(type(estimator)),
        "params": {str(k): _json_safe(v, depth + 1) for k, v in sorted(params.items())},
    }


#: The packages whose versions a record holds.
_RECORDED_PACKAGES: Final[tuple[str, ...]] = (
    "daskpar",
    "dask",
    "distributed",
    "scikit-learn",
    "numpy",
    "scipy",
)


def package_versions(names: tuple[str, ...]) -> dict[str, str]:
    """Python's version and those of the installed packages ``names`` (``"unknown"`` if one
    is not installed): what an audit record, and a model file's header, record."""
    return dict(_package_versions(names))


@cache  # looked up once per process: installed versions do not change under it
def _package_versions(names: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    out = [("python", ".".join(map(str, sys.version_info[:3])))]
    for name in names:
        try:
            out.append((name, metadata.version(name)))
        except metadata.PackageNotFoundError:
            out.append((name, "unknown"))
    return tuple(out)


def _os_user() -> str:
    try:
        return getpass.getuser()
    except (OSError, KeyError):  # no $USER and no passwd entry (a container's bare uid)
        return f"uid {os.getuid()}"


def _default_client() -> Any:
    try:
        from distributed import default_client

        return default_client()
    except (ImportError, ValueError):
        return None


def _certificate_subject(cert: str | os.PathLike[str]) -> str | None:
    """The subject of a PEM certificate, given as a path or (as Dask allows) as its text."""
    from cryptography import x509

    try:
        is_text = isinstance(cert, str) and "-----BEGIN" in cert
        pem = cert.encode() if is_text and isinstance(cert, str) else Path(cert).read_bytes()
        certificates = x509.load_pem_x509_certificates(pem)
    except (OSError, ValueError):
        return None
    return certificates[0].subject.rfc4514_string() if certificates else None


def current_user(security: Any = None) -> str:
    """Who runs the operation: the TLS client certificate's subject, else the OS user.

    The certificate is ``security.tls_client_cert`` (a ``distributed.Security``), else the
    default client's, else dask's ``distributed.comm.tls.client.cert`` setting.

    Parameters
    ----------
    security : distributed.Security, default=None

    Returns
    -------
    str
        ``"CN=alice,O=daskpar"`` under TLS (RFC 4514), else the login name.
    """
    cert = getattr(security, "tls_client_cert", None)
    if cert is None:
        client = _default_client()
        cert = getattr(getattr(client, "security", None), "tls_client_cert", None)
    if cert is None:
        cert = config.get("distributed.comm.tls.client.cert", None)
    subject = None if cert is None else _certificate_subject(cert)
    return subject if subject is not None else _os_user()


@dataclass(eq=False)
class AuditRecord:
    """What an :func:`operation` will record; set its fields inside the ``with`` block.

    Attributes
    ----------
    operation : str
        ``"fit"``, ``"search"``, ``"score"``, ``"predict"``, ``"save"``, ``"load"``...
    estimator : object or None
        Recorded as its class and ``get_params(deep=False)`` when the block ends.
    X, y : array or None
        The data, fingerprinted when the block ends.
    data : dict or None
        A fingerprint already computed (what :func:`fingerprint` returns, say from the
        operation's own pass over the data): recorded as is, and ``X`` and ``y`` are not
        read again.
    metrics : dict
        Scores and other numbers to record (JSON-safe values; others become ``repr``).
    model_file : str, path-like or None
        A model file written or read; its SHA-256 is recorded when the block ends.
    extra : dict
        Anything else to record, under ``"extra"``.
    enabled : bool
        Whether a record will be written (False: no log is configured).
    """

    operation: str
    estimator: Any = None
    X: Any = None
    y: Any = None
    data: dict[str, Any] | None = None
    metrics: dict[str, Any] = field(default_factory=dict)
    model_file: str | os.PathLike[str] | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    enabled: bool = False


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


def _recorded_sha256(path: str | os.PathLike[str]) -> str | None:
    """The file's SHA-256, or None if it cannot be read (a failed save leaves no file)."""
    try:
        return file_sha256(path)
    except OSError:
        return None


def _data_of(record: AuditRecord, *, content: bool, split_every: int | None) -> Any:
    if record.data is not None:
        return _json_safe(record.data)
    if record.X is None:
        return None
    try:
        return fingerprint(record.X, record.y, content=content, split_every=split_every)
    except Exception as exc:  # the record is still written, saying why the hash is missing
        out = fingerprint(record.X, record.y, content=False)
        out["error"] = f"{type(exc).__name__}: {exc}"[:1000]
        return out


def _record_of(
    record: AuditRecord,
    *,
    started: float,
    seconds: float,
    error: BaseException | None,
    content: bool,
    split_every: int | None,
    security: Any,
) -> dict[str, Any]:
    client = _default_client()
    # No pass over the data after an interrupt: only shape and chunks are recorded then.
    interrupted = error is not None and not isinstance(error, Exception)
    model_file = None
    if record.model_file is not None:
        model_file = {
            "path": os.fspath(record.model_file),
            "sha256": _recorded_sha256(record.model_file),
        }
    return {
        "time": datetime.fromtimestamp(started, UTC).isoformat(timespec="microseconds"),
        "seconds": round(seconds, 6),
        "operation": record.operation,
        "status": "ok" if error is None else "failed",
        "error": None
        if error is None
        else {"type": public_name(type(error)), "message": str(error)[:2000]},
        "user": current_user(security),
        "os_user": _os_user(),
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "scheduler": getattr(getattr(client, "scheduler", None), "address", None),
        "versions": package_versions(_RECORDED_PACKAGES),
        "estimator": None if record.estimator is None else describe_estimator(record.estimator),
        "data": _data_of(record, content=content and not interrupted, split_every=split_every),
        "metrics": _json_safe(record.metrics),
        "model_file": model_file,
        "extra": _json_safe(record.extra),
    }


# --------------------------------------------------------------------------------------------
# Appending, under a lock


def _last_line(f: BinaryIO) -> bytes | None:
    """The last line of the file (without its newline), reading backwards; None if empty."""
    end = f.seek(0, os.SEEK_END)
    if end == 0:
        return None
    f.seek(end - 1)
    if f.read(1) != b"\n":
        raise AuditLogError(
            "The audit log's last line is incomplete (a write was cut short): run "
            "daskpar.audit.verify on it; records cannot be appended after a torn line.",
            line=None,
        )
    # The bytes before the final newline, read backwards until the newline before them.
    pos, tail = end - 1, b""
    while pos > 0:
        step = min(pos, 1 << 16)
        pos -= step
        f.seek(pos)
        chunk = f.read(step)
        tail = chunk + tail
        if b"\n" in chunk:
            break
    return tail.rsplit(b"\n", 1)[-1]


def _not_a_link(path: Path) -> AuditLogError:
    try:
        target = f" (to {os.readlink(path)!r})"
    except OSError:
        target = ""
    return AuditLogError(
        f"The audit log {os.fspath(path)!r} is a symbolic link{target}; daskpar does not "
        "write its log through a link, which would put the records in another file than the "
        "one named. Name the log file itself (its real path), or replace the link with the "
        "file."
    )


def _open_log(path: Path) -> int:
    """The log, opened for appending (created with mode 0600): never through a symbolic
    link, and only a regular file.

    The link is refused by ``O_NOFOLLOW`` in the same call that opens the file, so that a
    link made after a check cannot redirect the records; the check before it is for the
    message, which names the link's target.
    """
    if path.is_symlink():  # a dangling link too
        raise _not_a_link(path)
    flags = os.O_RDWR | os.O_CREAT | os.O_APPEND | getattr(os, "O_NOFOLLOW", 0)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        # Non-blocking: a pipe put in the log's place does not hang the open.
        fd = os.open(path, flags | getattr(os, "O_NONBLOCK", 0), 0o600)
    except OSError as exc:
        if path.is_symlink():  # ELOOP: a link made since the check
            raise _not_a_link(path) from None
        raise AuditLogError(f"Cannot open the audit log {os.fspath(path)!r}: {exc}") from exc
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        os.close(fd)
        raise AuditLogError(
            f"The audit log {os.fspath(path)!r} is not a regular file (a device, a pipe or a "
            "socket). Name a file."
        )
    if info.st_uid != os.geteuid() or info.st_mode & stat.S_IWOTH:
        # Made by someone else first (in a shared folder): they could rewrite the records,
        # or hold its lock to stop every operation that records.
        os.close(fd)
        raise AuditLogError(
            f"The audit log {os.fspath(path)!r} belongs to another user (uid {info.st_uid}) "
            f"or all users may write it (mode {info.st_mode & 0o777:o}). Keep the log in a "
            "file of your own, in a folder that only you can write."
        )
    os.set_blocking(fd, True)
    return fd


def _append(path: Path, content: dict[str, Any]) -> dict[str, Any]:
    """Append ``content`` as the next record of the chain, holding an exclusive lock."""
    import fcntl

    fd = _open_log(path)
    with os.fdopen(fd, "r+b") as f:
        fcntl.flock(f.fileno(), fcntl.LOCK_EX)
        try:
            last = _last_line(f)
            if last is None:
                seq, prev = 1, GENESIS
            else:
                try:
                    previous = json.loads(last)
                    seq, prev = int(previous["seq"]) + 1, str(previous["hash"])
                except (ValueError, KeyError, TypeError) as exc:
                    raise AuditLogError(
                        f"The audit log {os.fspath(path)!r} ends with a line that is not a "
                        f"record ({printable(str(exc))[:200]}): run daskpar.audit.verify on it."
                    ) from exc
            record = {**content, "seq": seq, "prev": prev}
            record["hash"] = _record_hash(record)
            f.write(_canonical(record) + b"\n")
            f.flush()
            os.fsync(f.fileno())
        finally:
            fcntl.flock(f.fileno(), fcntl.LOCK_UN)
    return record


def _log_path(log: str | os.PathLike[str] | None) -> Path | None:
    target = log if log is not None else config.get(CONFIG_KEY, None)
    return Path(target) if target else None


@contextlib.contextmanager
@validate_params(
    {
        "name": [str],
        "log": [str, os.PathLike, None],
        "content_hash": ["boolean", None],
        "split_every": SPLIT_EVERY,
    },
    prefer_skip_nested_validation=True,
)
def operation(
    name: str,
    *,
    estimator: Any = None,
    X: Any = None,
    y: Any = None,
    log: str | os.PathLike[str] | None = None,
    content_hash: bool | None = None,
    split_every: int | None = None,
    security: Any = None,
) -> Iterator[AuditRecord]:
    """Record one operation in the audit log when the ``with`` block ends, even on failure.

    Exactly one record is appended when the block ends: ``"status": "ok"``, or
    ``"failed"`` with the error, which is then re-raised. Without a log (``log=None`` and no
    ``daskpar.audit`` setting) nothing is written and nothing is computed. An operation
    inside another one (a search's refit, a model file saved by a fit) is part of it and
    writes no record of its own.

    Parameters
    ----------
    name : str
        The operation: ``"fit"``, ``"search"``, ``"score"``, ``"predict"``, ``"save"``,
        ``"load"``...
    estimator : object, default=None
        The estimator; its class and parameters are recorded.
    X, y : array, default=None
        The data; fingerprinted with :func:`fingerprint` (a pass over the data on the
        workers, after the block) unless ``content_hash=False``.
    log : str or path-like, default=None
        The log file (created if missing); None uses dask's ``daskpar.audit`` setting.
    content_hash : bool, default=None
        Hash the data's content; False records its shape, chunks and dtype only. None uses
        dask's ``daskpar.audit-content-hash`` setting, True if unset.
    split_every : int or None, default=None
        Fan-in of the fingerprint's tree.
    security : distributed.Security, default=None
        Whose client certificate names the user (see :func:`current_user`).

    Yields
    ------
    record : AuditRecord
        Set ``record.metrics``, ``record.model_file``, ``record.estimator`` inside the block.

    Raises
    ------
    AuditLogError
        The record cannot be appended. If the block itself failed, its error is re-raised
        instead, with a note saying that the record is missing.

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np
    >>> import daskpar as dp
    >>> from daskpar import audit
    >>> log = os.path.join(tempfile.mkdtemp(), "audit.jsonl")
    >>> X = np.arange(8.0).reshape(4, 2)
    >>> scaler = dp.StandardScaler()
    >>> with audit.operation("fit", estimator=scaler, X=X, log=log) as record:
    ...     _ = scaler.fit(X)
    ...     record.metrics["mean"] = scaler.mean_
    >>> [(r["operation"], r["status"], r["metrics"]) for r in audit.read(log)]
    [('fit', 'ok', {'mean': [3.0, 4.0]})]
    >>> audit.verify(log).n_records
    1
    """
    path = None if _RECORDING.get() else _log_path(log)
    record = AuditRecord(name, estimator=estimator, X=X, y=y, enabled=path is not None)
    if path is None:
        yield record
        return
    if content_hash is None:
        content_hash = bool(config.get(CONTENT_HASH_KEY, True))
    started, clock = time.time(), time.perf_counter()

    def write(error: BaseException | None) -> None:
        content = _record_of(
            record,
            started=started,
            seconds=time.perf_counter() - clock,
            error=error,
            content=content_hash,
            split_every=split_every,
            security=security,
        )
        _append(path, _scrubbed(content))

    recording = _RECORDING.set(True)
    try:
        yield record
    except BaseException as exc:
        _RECORDING.reset(recording)
        try:
            write(exc)
        except Exception as audit_error:
            exc.add_note(f"daskpar could not write its audit record: {audit_error}")
        raise
    _RECORDING.reset(recording)
    write(None)


# --------------------------------------------------------------------------------------------
# Reading and verifying


@dataclass(frozen=True)
class VerifiedLog:
    """What :func:`verify` found: an unbroken chain.

    Attributes
    ----------
    n_records : int
    head : str or None
        The last record's hash (None for an empty log). Keep it elsewhere: a later
        ``verify(path, head=...)`` then detects a log whose tail was cut off or replaced.
    """

    n_records: int
    head: str | None


def _read_log(path: str | os.PathLike[str]) -> bytes:
    try:
        return Path(path).read_bytes()
    except FileNotFoundError:
        raise AuditLogError(f"No audit log at {os.fspath(path)!r}.") from None


def _lines(data: bytes) -> list[bytes]:
    """The lines of the log, split at newlines only (a vertical tab is not a line break)."""
    if not data:
        return []
    lines = data.split(b"\n")
    if lines[-1] == b"":
        lines.pop()
    return lines


def _check(
    lines: Sequence[bytes], name: str
) -> tuple[list[dict[str, Any] | None], AuditLogError | None]:
    """Parse and check each line; the records, and the first break (an AuditLogError)."""
    records: list[dict[str, Any] | None] = []
    prev: str = GENESIS
    first_error: AuditLogError | None = None
    for number, raw in enumerate(lines, start=1):
        problem = None
        try:
            record = json.loads(raw.decode("utf-8"))
            if not isinstance(record, dict) or not {"seq", "prev", "hash"} <= record.keys():
                raise ValueError("not a record: 'seq', 'prev' or 'hash' is missing")
            expected = _record_hash(record)  # raises for values JSON cannot hold (NaN)
        except (UnicodeDecodeError, ValueError) as exc:
            record, problem = None, f"is not a readable record ({exc}): edited or damaged"
        if record is not None:
            if record["hash"] != expected:
                problem = "does not match its own hash: the record was edited"
            elif _canonical(record) != raw:
                problem = "is not written as daskpar writes records: the line was edited"
            elif record["prev"] != prev:
                problem = (
                    "does not follow the line before it (its 'prev' is not that record's "
                    "hash): a record was deleted, inserted or moved"
                    if number > 1
                    else "does not start the log (its 'prev' is not the genesis hash): records "
                    "before it were deleted"
                )
            elif record["seq"] != number:
                seq = printable(str(record["seq"]))[:40]
                problem = f"is record {seq}, not {number}: records were removed"
            if problem is None:
                prev = record["hash"]
        if problem is not None and first_error is None:
            seq = "" if record is None else f" (record {printable(str(record.get('seq')))[:40]})"
            first_error = AuditLogError(f"{name}: line {number}{seq} {problem}.", line=number)
        records.append(record)
    return records, first_error


@validate_params({"path": [str, os.PathLike]}, prefer_skip_nested_validation=True)
def read(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """The records of an audit log, as written (not verified: see :func:`verify`).

    Parameters
    ----------
    path : str or path-like

    Returns
    -------
    list of dict
        One per line; a line that is not JSON raises.

    Raises
    ------
    AuditLogError
        A line is not a record, naming it.
    """
    out = []
    for number, raw in enumerate(_lines(_read_log(path)), start=1):
        try:
            out.append(json.loads(raw.decode("utf-8")))
        except (UnicodeDecodeError, ValueError) as exc:
            raise AuditLogError(
                f"{os.fspath(path)!r}: line {number} is not a record ({exc}).", line=number
            ) from exc
    return out


@validate_params(
    {"path": [str, os.PathLike], "head": [str, None]}, prefer_skip_nested_validation=True
)
def verify(path: str | os.PathLike[str], *, head: str | None = None) -> VerifiedLog:
    """Check the audit log's hash chain, and name the first record that breaks it.

    Every line must be the canonical JSON of a record whose ``hash`` is the SHA-256 of the
    rest of it, whose ``prev`` is the line before's ``hash`` (:data:`GENESIS` for the
    first), and whose ``seq`` is its line number. That detects an edited byte, a deleted,
    inserted or reordered record, and a torn last line. A log cut short at its end, or
    rewritten whole by someone who can write the file, is still a valid chain: pass the
    ``head`` kept from an earlier :func:`verify` to detect that too.

    Parameters
    ----------
    path : str or path-like
        The audit log.
    head : str, default=None
        A record hash noted earlier (64 hexadecimal digits): the log must still contain it.

    Returns
    -------
    VerifiedLog
        The number of records and the last one's hash.

    Raises
    ------
    AuditLogError
        Naming the first broken line (its ``line`` attribute), or the missing ``head``.
    """
    name = repr(os.fspath(path))
    data = _read_log(path)
    lines = _lines(data)
    records, error = _check(lines, name)
    if error is not None:
        raise error
    if data and not data.endswith(b"\n"):
        raise AuditLogError(
            f"{name}: line {len(lines)} is incomplete (no newline): a write was cut short.",
            line=len(lines),
        )
    hashes = [r["hash"] for r in records if r is not None]
    if head is not None and head not in hashes:
        raise AuditLogError(
            f"{name} does not contain the record with hash {printable(head)}: records were cut "
            "from its "
            "end, or the log was replaced."
        )
    return VerifiedLog(len(records), hashes[-1] if hashes else None)


def _object(value: Any) -> Mapping[str, Any]:
    """A record's field as an object: what an edited record holds there instead, as empty."""
    return value if isinstance(value, Mapping) else {}


def _summary(record: Mapping[str, Any]) -> dict[str, str]:
    """A record as the cells of :func:`show`'s row; an edited record's odd values too."""
    estimator = _object(record.get("estimator"))
    X = _object(_object(record.get("data")).get("X"))
    metrics = _object(record.get("metrics"))
    model_file = _object(record.get("model_file"))
    error = _object(record.get("error"))
    shape = X.get("shape", [])

    def number(v: Any) -> str:
        return f"{v:.4g}" if isinstance(v, float) else str(v)

    row = {
        "seq": str(record.get("seq", "")),
        "time": str(record.get("time", ""))[:19].replace("T", " "),
        "user": str(record.get("user", "")),
        "host": str(record.get("host", "")),
        "operation": str(record.get("operation", "")),
        "status": str(record.get("status", "")) + (f" ({error.get('type', '')})" if error else ""),
        "estimator": str(estimator.get("class", "")).rpartition(".")[2],
        "data": ("x".join(map(str, shape)) if isinstance(shape, list) else str(shape))
        + (f" {str(X['content'])[:8]}" if X.get("content") else ""),
        "metrics": ", ".join(f"{k}={number(v)}" for k, v in metrics.items()),
        "model file": str(model_file.get("sha256") or "")[:12],
        "hash": str(record.get("hash", ""))[:12],
    }
    # Every string of a record is the writer's (an estimator's parameters, a metric's name):
    # escaped, it cannot move the cursor, erase a line or draw a row of its own.
    return {column: printable(text) for column, text in row.items()}


@validate_params({"path": [str, os.PathLike]}, prefer_skip_nested_validation=True)
def show(path: str | os.PathLike[str]) -> list[dict[str, str]]:
    """The audit log as rows of a table, each marked with the state of the chain there.

    Parameters
    ----------
    path : str or path-like

    Returns
    -------
    list of dict
        One per line, with the columns ``seq``, ``time`` (UTC), ``user``, ``host``,
        ``operation``, ``status``, ``estimator``, ``data`` (shape and the start of the content
        hash), ``metrics``, ``model file`` and ``hash`` (their first 12 digits), and ``chain``:
        ``"ok"`` up to the first broken line, ``"BROKEN"`` there, ``"unverified"`` after.
        Control characters and bidi overrides in the record's strings are escaped
        (:func:`printable`). :func:`format_table` renders them; :func:`verify` gives the full
        head hash to keep.
    """
    name = repr(os.fspath(path))
    records, error = _check(_lines(_read_log(path)), name)
    broken = None if error is None else error.line
    rows = []
    for number, record in enumerate(records, start=1):
        row = _summary(record) if record is not None else {"seq": "?", "status": "unreadable"}
        chain = "ok" if broken is None or number < broken else "unverified"
        row["chain"] = "BROKEN" if number == broken else chain
        rows.append(row)
    return rows


def format_table(rows: Sequence[Mapping[str, str]]) -> str:
    """Rows of :func:`show` as a plain-text table with aligned columns.

    Parameters
    ----------
    rows : list of dict

    Returns
    -------
    str
        A header line, a rule, and one line per row (no trailing newline). Characters a
        terminal would act on (controls, bidi overrides) are escaped (:func:`printable`):
        every row is one line.
    """
    rows = [{printable(c): printable(text) for c, text in row.items()} for row in rows]
    columns: list[str] = []
    for row in rows:
        columns += [c for c in row if c not in columns]
    if not columns:
        return "(no records)"
    widths = {c: max([len(c), *(len(row.get(c, "")) for row in rows)]) for c in columns}
    lines = [
        "  ".join(c.ljust(widths[c]) for c in columns).rstrip(),
        "  ".join("-" * widths[c] for c in columns),
    ]
    lines += ["  ".join(row.get(c, "").ljust(widths[c]) for c in columns).rstrip() for row in rows]
    return "\n".join(lines)
