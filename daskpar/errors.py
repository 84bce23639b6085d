"""The exceptions daskpar raises.

All of them derive from :class:`DaskparError`, itself a :class:`ValueError`, so code that already
catches ``ValueError`` around a scikit-learn call keeps working::

    ValueError
    └── DaskparError
        ├── InputError                 bad data, found before the cluster does any work
        ├── PartitionError             bad data found inside one partition, on a worker
        │   └── WorkerKilledError      a partition whose task killed every worker it ran on
        ├── DivergenceError            the model's parameters became NaN or infinite
        ├── SchedulerLostError         the connection to the scheduler broke mid-computation
        ├── CheckpointError            a checkpoint made by another run, or damaged
        └── UnsupportedEstimatorError  an estimator daskpar cannot train in parallel

Bad *parameters* (``split_every=1``, ``epochs=0``) raise scikit-learn's
``InvalidParameterError``, exactly as scikit-learn's own estimators do.

No message of these errors shows a credential, whichever code raised it: a
:class:`DaskparError` passes its message through :func:`scrub`, which removes the user and
password of every URL in it (``s3://KEY:SECRET@bucket/x``) and hides the values of the query
parameters that are credentials (a presigned URL's ``X-Amz-Signature``, an Azure SAS's
``sig``...).
"""

from __future__ import annotations

import re

__all__ = [
    "CheckpointError",
    "DaskparError",
    "DivergenceError",
    "InputError",
    "PartitionError",
    "SchedulerLostError",
    "UnsupportedEstimatorError",
    "WorkerKilledError",
]


#: The schemes whose URLs may name a port (``http://host:9000/a@b``: no password); in the
#: others' (an object store's), ``user:123/...@`` is a user and a password holding a ``/``.
_PORT_SCHEMES = frozenset(
    ("http", "https", "ftp", "sftp", "ssh", "smb", "hdfs", "webhdfs", "tcp", "ws", "wss")
)
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://")
#: ``user:password@`` or ``user@`` after a scheme. A password may hold an unescaped ``/``
#: (AWS secret keys often do) or ``@``: ``user:`` then anything up to the last ``@`` before a
#: space or quote is taken as the user and password, so a message may lose a little of a
#: URL's path, never show a password. Else a user ends at the last ``@`` before the first
#: ``/``. Where a URL may name a port, ``user:`` followed by digits then ``/`` is no user:
#: that is ``host:port/``.
_USERINFO = {
    ports: re.compile(
        r"(?:[^/@\s:'\"]*:"
        + (r"(?!\d*(?:[/'\"\s]|$))" if ports else "")
        + r"[^\s'\"]*|[^/\s'\"]*)@"
    )
    for ports in (True, False)
}
#: A URL's query parameter whose name says it is a credential, and its value: a presigned
#: URL's ``X-Amz-Signature``, ``X-Amz-Credential`` or ``X-Amz-Security-Token``, Google's
#: ``X-Goog-Signature``, an Azure SAS's ``sig``, an ``access_token``... The ``?``, ``&`` and
#: ``=`` may be percent-encoded, once or more (``%3F``, ``%2526``...), as a store library's
#: message quotes the URL of its request; the value runs to the next ``&``, ``#``, space or
#: quote (an encoded ``&`` does not end it: more is hidden, never less).
_SECRET_QUERY = re.compile(
    r"(?P<name>(?:[?&]|%(?:25)*(?:3F|26))"
    r"(?:[\w.~-]*(?:signature|token|secret|passw(?:or)?d|pwd|credential|key|auth)[\w.~-]*"
    r"|sig))(?P<equals>=|%(?:25)*3D)(?P<value>[^&#\s'\"]*)",
    re.IGNORECASE,
)
#: What a hidden value is shown as.
HIDDEN = "***"


def without_userinfo(text: str) -> str:
    """``text`` with the user and password of every URL in it removed.

    Examples
    --------
    >>> without_userinfo("read s3://KEY:wJal/rX@Y@bucket/x.csv, s3://KEY:12/Z@bucket/y.csv")
    'read s3://bucket/x.csv, s3://bucket/y.csv'
    >>> without_userinfo("http://host:9000/a@b.csv")
    'http://host:9000/a@b.csv'
    """
    parts: list[str] = []
    done = 0
    for scheme in _SCHEME.finditer(text):
        if scheme.start() < done:  # in a user and password removed
            continue
        ports = scheme.group()[:-3].lower() in _PORT_SCHEMES
        userinfo = _USERINFO[ports].match(text, scheme.end())
        if userinfo is not None:
            parts += [text[done : scheme.end()]]
            done = userinfo.end()
    return "".join([*parts, text[done:]])


def scrub(text: str) -> str:
    """``text`` with the values of URL query parameters that are credentials hidden (a
    presigned URL's signature), and the user and password of every URL removed.

    The query goes first, so that an ``@`` in a signature cannot be taken for the end of a
    URL's password.

    Examples
    --------
    >>> scrub("cannot read 's3://KEY:SECRET@bucket/x.csv?v=2&X-Amz-Signature=abc': 403")
    "cannot read 's3://bucket/x.csv?v=2&X-Amz-Signature=***': 403"
    """
    text = _SECRET_QUERY.sub(lambda m: f"{m.group('name')}{m.group('equals')}{HIDDEN}", text)
    return without_userinfo(text)


class DaskparError(ValueError):
    """Base class of every error daskpar raises on purpose.

    Its message (every text argument) goes through :func:`scrub`: no daskpar error shows a
    URL's password or a presigned URL's signature, even where its code formats a URL as it
    was given. (Applied again when an error comes back pickled from a worker: it changes
    nothing then.)
    """

    def __init__(self, *args: object) -> None:
        super().__init__(*(scrub(a) if isinstance(a, str) else a for a in args))


class InputError(DaskparError):
    """The data cannot be used as given (shape, chunking, dtype, alignment).

    Raised on the client, before any task runs; the message says how to fix the input.
    """


class PartitionError(DaskparError):
    """One partition holds data that cannot be used (NaN, infinity, an unknown label).

    Raised inside a task on a worker and re-raised on the client; the message names the
    partition and its row range so that the offending rows can be found.
    """


class WorkerKilledError(PartitionError):
    """The task of one partition killed every worker that ran it (distributed's allowed
    failures, 3 by default): a crash in native code, or more memory than a worker has.

    The message names the partition and its rows and suggests smaller chunks or more memory
    per worker. The cluster stays usable: a nanny restarts each killed worker.
    """


class DivergenceError(DaskparError):
    """Training diverged: a partition's ``partial_fit``, or the merge of the partitions'
    models, gave parameters that are NaN or infinite.

    The message names the epoch (and the partition, when one block's fit overflowed) and
    suggests scaling the features or a smaller learning rate. ``ParallelIncremental`` keeps
    the last epoch's finite model as ``estimator_``.
    """


class SchedulerLostError(DaskparError):
    """The client lost its scheduler in the middle of a computation: the scheduler process
    died, or the network to it dropped. Its workers stop with it, and the computation's
    results are gone; a fit or search with ``checkpoint=`` resumes after its last epoch when
    it is run again on a new scheduler.
    """


class CheckpointError(DaskparError):
    """A ``checkpoint=`` folder that cannot be used: its checkpoint was made by other
    parameters or from other data, it is damaged, or the folder holds files that are not a
    daskpar checkpoint. Raised before any task runs; nothing in the folder is touched.
    """


class UnsupportedEstimatorError(DaskparError):
    """The estimator has no mergeable state that daskpar knows how to combine."""
