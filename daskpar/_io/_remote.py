"""Object stores: fsspec URLs, the options that reach them, and credentials kept out of sight.

A path with a protocol (``s3://``, ``gs://``, ``abfs://``, ``memory://``...) is opened with
fsspec, with the ``storage_options`` the caller gives (s3fs's ``key``, ``secret``,
``client_kwargs``...) or, without them, with what the store's library finds itself (the
usual environment variables: ``AWS_ACCESS_KEY_ID``, ``GOOGLE_APPLICATION_CREDENTIALS``...).
``file://`` URLs are local paths, read exactly as the paths they name.

Credentials must never reach a task key, a model file, a checkpoint, an audit record or an
error message. So the options travel wrapped in :class:`StorageOptions`, whose ``repr``
shows no value of a credential field and whose dask token leaves credentials out (a key
names the data, not who may read it: the data is identified by its content, see
:func:`content_stamp`); and URLs are cleaned by :func:`clean_url` before they are read or
tokenized: ``s3://KEY:SECRET@bucket/path`` becomes ``s3://bucket/path``, its user and
password moved into the options.

Messages show a path as :func:`display_path` renders it: a URL without user or password,
and with the values of its query's credentials (a presigned URL's signature, which
:func:`clean_url` keeps: the URL is read with it) hidden. Every daskpar error scrubs its
message so anyway (:class:`~daskpar.errors.DaskparError`); what it cannot scrub is the
store library's exception it is raised from, which may quote the URL of its request:
:func:`store_errors` (and :func:`raise_scrubbed`) turn those into daskpar's errors that
quote them scrubbed, and keep them as the cause only if they show no credential (and
:func:`scrubbed_warnings` does so for its warnings).
"""

from __future__ import annotations

import contextlib
import os
import uuid
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import IO, Any, NoReturn
from urllib.parse import unquote

from dask.base import tokenize

from ..errors import HIDDEN, DaskparError, InputError, PartitionError, scrub, without_userinfo

__all__ = [
    "STORAGE_OPTIONS_PARAM",
    "InputFiles",
    "RemoteFile",
    "StorageOptions",
    "StorageOptionsLike",
    "clean_url",
    "content_stamp",
    "display_path",
    "filesystem",
    "input_files",
    "is_pattern",
    "is_remote",
    "local_path",
    "open_input",
    "problem",
    "raise_scrubbed",
    "remote_files",
    "remote_location",
    "scrub",
    "scrubbed_warnings",
    "store_errors",
    "task_store_errors",
]

StorageOptionsLike = Mapping[str, Any] | None
#: The parameter constraint of ``storage_options``.
STORAGE_OPTIONS_PARAM: list[Any] = [dict, None]

#: Option names whose values are credentials (matched as substrings, case-insensitively).
_SECRET_WORDS = (
    "key",
    "secret",
    "token",
    "password",
    "passwd",
    "credential",
    "signature",
    "sas",
    "auth",
    "connection_string",
    "session",
    "cookie",
)
#: The end of the message of a store's error at call time, and in a task.
_CHECK_STORE = "Check the URL, and the credentials in storage_options or the environment."
_CHECK_WORKER_STORE = (
    "Check that it still exists, and the credentials in storage_options or the workers' "
    "environment."
)


def _is_secret(name: str) -> bool:
    lowered = name.lower()
    return any(word in lowered for word in _SECRET_WORDS)


def _shown(value: Any) -> Any:
    """``value`` with every credential field (at any depth) replaced by ``***``."""
    if isinstance(value, Mapping):
        return {
            k: (HIDDEN if _is_secret(str(k)) else _shown(v))
            for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))
        }
    if isinstance(value, list | tuple):
        return type(value)(_shown(v) for v in value)
    return value


def _secret_values(value: Any) -> list[str]:
    """The text of every credential value in ``value``, longest first."""
    found: list[str] = []
    if isinstance(value, Mapping):
        for k, v in value.items():
            if _is_secret(str(k)) and isinstance(v, str | bytes) and len(v) >= 4:
                found.append(v.decode(errors="replace") if isinstance(v, bytes) else v)
            else:
                found += _secret_values(v)
    elif isinstance(value, list | tuple):
        for v in value:
            found += _secret_values(v)
    return sorted(set(found), key=len, reverse=True)


class StorageOptions:
    """fsspec's ``storage_options``, which show no credential: in ``repr``, ``str`` or a token.

    Pickles with the options (a worker needs them to open the store), so a graph's tasks
    hold them; their keys and names never do: :func:`dask.base.tokenize` sees only the
    options that are not credentials.
    """

    __slots__ = ("_options",)

    def __init__(self, options: Mapping[str, Any]) -> None:
        self._options = dict(options)

    @property
    def options(self) -> dict[str, Any]:
        """The options themselves, to hand to fsspec."""
        return dict(self._options)

    def __bool__(self) -> bool:
        return bool(self._options)

    def __repr__(self) -> str:
        return f"StorageOptions({_shown(self._options)!r})"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, StorageOptions) and other._options == self._options

    def __hash__(self) -> int:
        return hash(tokenize(self))

    def __reduce__(self) -> tuple[type[StorageOptions], tuple[dict[str, Any]]]:
        return StorageOptions, (self._options,)

    def __dask_tokenize__(self) -> Any:
        return ("daskpar-storage-options", repr(_shown(self._options)))

    def scrub(self, text: str) -> str:
        """``text`` without any credential of these options, any URL's user and password, or
        the values of a URL's query parameters that are credentials (:func:`scrub`)."""
        for value in _secret_values(self._options):
            text = text.replace(value, HIDDEN)
        return scrub(text)


def display_path(path: str | os.PathLike[str]) -> str:
    """``path`` as messages show it: a local path as given; a URL without its user and
    password, and with the values of its query parameters that are credentials hidden.

    Every message that names an input path shows it so (daskpar's errors scrub their
    messages anyway: this is for the others, and for the reader of the code).

    Examples
    --------
    >>> display_path("https://u:pw@host/x.csv?X-Amz-Credential=AKID&X-Amz-Signature=abc")
    'https://host/x.csv?X-Amz-Credential=***&X-Amz-Signature=***'
    """
    return scrub(os.fspath(path))


def _cleaner(options: StorageOptions | None) -> Callable[[str], str]:
    return scrub if options is None else options.scrub


def _shows_nothing(exc: BaseException, clean: Callable[[str], str]) -> bool:
    """Whether nothing that ``exc`` and its chain show (text, repr, arguments, notes)
    changes when ``clean`` scrubs it."""
    seen: set[int] = set()
    stack: list[BaseException | None] = [exc]
    while stack:
        e = stack.pop()
        if e is None or id(e) in seen:
            continue
        seen.add(id(e))
        try:
            texts = [str(e), repr(e), repr(e.args), *map(str, getattr(e, "__notes__", ()))]
        except Exception:  # a __str__ that fails: not shown as it is
            return False
        if any(clean(t) != t for t in texts):
            return False
        stack += [e.__cause__, e.__context__]
    return True


def problem(exc: BaseException, options: StorageOptions | None = None) -> str:
    """``exc`` as a daskpar message quotes it: its type and text, without the credentials of
    ``options`` or of any URL (the message says all: :func:`raise_scrubbed` may leave ``exc``
    out of the chain)."""
    clean = _cleaner(options)
    try:
        text = f"{type(exc).__name__}: {exc}"
    except Exception:  # a __str__ that fails
        text = type(exc).__name__
    return clean(text)


def raise_scrubbed(
    error: DaskparError,
    exc: BaseException,
    options: StorageOptions | None = None,
    *,
    chained: bool = True,
) -> NoReturn:
    """Raise ``error`` in place of a library's ``exc``, in the ``except`` block handling it.

    ``exc`` is its cause (``raise error from exc``, with ``chained``) only if nothing it and
    its own chain show holds a credential of ``options`` or of a URL: a traceback prints
    them. Else, or without ``chained``, ``error`` is raised from nothing, and ``exc`` is not
    its context either: the message of ``error`` says what failed (:func:`problem`).
    """
    if chained and _shows_nothing(exc, _cleaner(options)):
        raise error from exc
    try:
        raise error from None
    finally:
        # (Python made ``exc``, being handled, the context of ``error``: hidden by ``from
        # None`` in a traceback, but still there for whoever walks the chain.)
        error.__context__ = None


@contextlib.contextmanager
def scrubbed_warnings(options: StorageOptions | None) -> Iterator[None]:
    """The warnings issued in the block (a store library's, which may quote the URL of its
    request), issued again on the way out without the credentials of ``options`` or of any
    URL; the filters in force apply to them then (an "error" filter raises there).

    For the client's thread only: Python's warning filters are the process's, and a task
    running in another thread meanwhile would have its warnings recorded here.
    """
    clean = _cleaner(options)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            yield
    finally:
        _warn_again(caught, clean)


def _warn_again(caught: list[warnings.WarningMessage], clean: Callable[[str], str]) -> None:
    for w in caught:
        text = clean(str(w.message))
        try:
            warnings.warn_explicit(text, w.category, w.filename, w.lineno)
        except TypeError:  # a category that takes more than a message
            warnings.warn_explicit(text, UserWarning, w.filename, w.lineno)


@contextlib.contextmanager
def store_errors(
    what: str,
    doing: str,
    options: StorageOptions | None,
    *,
    missing: str | None = None,
    hint: str | None = _CHECK_STORE,
    error: type[DaskparError] = InputError,
    in_task: bool = False,
) -> Iterator[None]:
    """A store library's exception inside the block as one daskpar ``error``, which shows
    no credential, nor holds one in its chain (daskpar's own errors pass as they are); and
    its warnings, scrubbed too (:func:`scrubbed_warnings`; not ``in_task``, whose thread may
    not be the only one).

    The message is ``"{what}: cannot {doing}: {problem}. {hint}"``: ``doing`` names the
    object (as :func:`display_path` shows it), ``problem`` is the exception's type and
    text, scrubbed of the credentials of ``options`` and of any URL's (:func:`problem`).
    With ``missing`` (the object's URL), a missing object is ``"{what}: no such file:
    {missing}."``, raised from nothing. The library's exception is the cause only if it
    shows no credential (:func:`raise_scrubbed`).

    Examples
    --------
    >>> options = StorageOptions({"secret": "hunter22"})
    >>> try:
    ...     with store_errors("read_npy", "read 's3://b/x.npy'", options, hint=None):
    ...         raise PermissionError("denied to hunter22")
    ... except InputError as error:
    ...     print(error, error.__cause__)
    read_npy: cannot read 's3://b/x.npy': PermissionError: denied to *** None
    """
    try:
        with contextlib.nullcontext() if in_task else scrubbed_warnings(options):
            yield
    except DaskparError:
        raise
    except Exception as exc:  # credentials refused, no such bucket, network, bad bytes
        if missing is not None and isinstance(exc, FileNotFoundError):
            message = f"{what}: no such file: {display_path(missing)!r}."
            raise_scrubbed(error(message), exc, options, chained=False)
        message = f"{what}: cannot {doing}: {problem(exc, options)}"
        raise_scrubbed(error(message + (f". {hint}" if hint else "")), exc, options)


def task_store_errors(
    what: str, doing: str, options: StorageOptions | None
) -> contextlib.AbstractContextManager[None]:
    """:func:`store_errors` in a task reading an object of a store (``options`` not None): a
    :class:`~daskpar.errors.PartitionError` that says the object may be gone since, or the
    workers may lack the credentials. A local file's errors (``options`` None) pass as they
    are: they name no URL."""
    if options is None:
        return contextlib.nullcontext()
    return store_errors(
        what, doing, options, hint=_CHECK_WORKER_STORE, error=PartitionError, in_task=True
    )


def is_remote(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` is a URL of a store other than the local file system."""
    text = os.fspath(path)
    return "://" in text and not text.lower().startswith("file://")


def local_path(path: str | os.PathLike[str]) -> str | os.PathLike[str]:
    """``path`` with a ``file://`` scheme removed: the local path it names."""
    text = os.fspath(path)
    if text.lower().startswith("file://"):
        return unquote(text[len("file://") :])
    return path


def clean_url(url: str) -> str:
    """``url`` without its user and password (``s3://KEY:SECRET@bucket/x`` → ``s3://bucket/x``)."""
    scheme, sep, rest = url.partition("://")
    authority, slash, path = rest.partition("/")
    if sep and "@" in authority:
        return f"{scheme}://{authority.rpartition('@')[2]}{slash}{path}".rstrip("/")
    # (A query's signature stays: the URL is read with it; messages scrub it.)
    return without_userinfo(url).rstrip("/")


def remote_location(
    path: str | os.PathLike[str], storage_options: StorageOptionsLike, what: str
) -> tuple[str, StorageOptions]:
    """The clean URL of ``path`` and its options, with a URL's user and password moved into
    the options (as s3fs's ``key`` and ``secret``; other stores take them as ``username`` and
    ``password``)."""
    url = os.fspath(path)
    if storage_options is not None and not isinstance(storage_options, Mapping):
        raise InputError(
            f"{what}: storage_options must be a dict of fsspec options (such as "
            f"{{'key': ..., 'secret': ...}}); got {type(storage_options).__name__}."
        )
    options = dict(storage_options or {})
    scheme, _, rest = url.partition("://")
    authority = rest.split("/", 1)[0]
    host = authority.rpartition("@")[2]
    if without_userinfo(url) != f"{scheme}://{host}{rest[len(authority) :]}":
        # ``s3://KEY:SE/CRET@bucket/x``, ``s3://KEY:@SE/@bucket/x``: where the password ends
        # and the path starts is ambiguous; reading ``KEY:SE`` or ``SE`` as a bucket would
        # show the password in messages (and ``s3://KEY:12/SE@bucket/x`` is no port: an
        # object store's URL has none).
        raise InputError(
            f"{what}: a URL given ({display_path(url)!r}) has a user and password holding a '/' "
            "or an '@', or a path holding an '@' after them, which cannot be told apart. Write "
            "the user and password percent-encoded ('/' as %2F, '@' as %40), or better, pass "
            "them in storage_options (for S3: {'key': ..., 'secret': ...}) or the environment."
        )
    if "@" in authority:
        userinfo = authority.rpartition("@")[0]
        user, _, password = userinfo.partition(":")
        s3 = scheme.lower() in ("s3", "s3a")
        if user:
            options.setdefault("key" if s3 else "username", unquote(user))
        if password:
            options.setdefault("secret" if s3 else "password", unquote(password))
    return clean_url(url), StorageOptions(options)


def filesystem(url: str, options: StorageOptions) -> tuple[Any, str]:
    """fsspec's file system for ``url`` and the path within it, with no listing cached.

    fsspec keeps one file system per set of options in the process, and s3fs (as gcsfs,
    adlfs) caches the listings it made in it: a glob or ``info`` would then miss an object
    added since, or give a rewritten object's old ETag and size, and the data read would be
    silently stale under the old keys. Every look-up starts from the store itself.
    """
    from fsspec.core import url_to_fs

    fs, inner = url_to_fs(url, **options.options)
    fs.invalidate_cache()
    return fs, inner


_VERSION_FIELDS = (
    "VersionId",
    "ETag",
    "etag",
    "md5Hash",
    "crc32c",
    "generation",
    "content_md5",
    "Content-MD5",
    "Digest",
)
_TIME_FIELDS = ("LastModified", "Last-Modified", "mtime", "last_modified", "updated", "created")


def _object_identity(info: Mapping[str, Any]) -> tuple[Any, ...]:
    """What identifies one stored object's content: its version or ETag, else size and time.

    A store that gives neither (an HTTP server sending no ``ETag`` nor ``Last-Modified``)
    gives nothing that changes when the object is rewritten with as many bytes: its objects
    get a fresh token at every listing, so that no key of old content is ever reused (such
    data is read anew by every call; a checkpoint identifies data by its blocks' digests,
    not by this token, so it still resumes).
    """
    version = [str(info[k]) for k in _VERSION_FIELDS if info.get(k) not in (None, "")]
    if version:
        return (info.get("size"), *version)
    times = [str(info[k]) for k in _TIME_FIELDS if info.get(k) not in (None, "")]
    if times:
        return (info.get("size"), *times)
    return (info.get("size"), "unidentified", uuid.uuid4().hex)


def content_stamp(url: str, options: StorageOptions, what: str) -> str:
    """A token of what is stored under ``url``: every object's name, size and ETag (or
    version, or modification time where the store has neither), from one listing.

    Rewriting any object in place changes its ETag (S3 computes it from the bytes of a
    single-part upload, and anew for a multipart one), so a store rewritten in place gets a
    new stamp; a listing costs one request per thousand objects on S3.
    """
    fs, inner = filesystem(url, options)
    with store_errors(what, f"list {display_path(url)!r}", options):
        if fs.isfile(inner):
            listing = {inner: fs.info(inner)}
        else:
            listing = fs.find(inner, detail=True, withdirs=False)
    prefix = inner.rstrip("/")
    entries = sorted(
        (name[len(prefix) :], *_object_identity(info)) for name, info in listing.items()
    )
    # The URL too: two objects of the same size and time (or the same ETag, which is a
    # hash of the content only) at two URLs are two data sets, as two local files are.
    return tokenize(url, entries)


def _stamp(url: str, info: Mapping[str, Any]) -> str:
    return tokenize(url, _object_identity(info))


@dataclass(frozen=True)
class RemoteFile:
    """One object of a store, as a reader lists it: its clean URL, its size, and a token of
    its content (:func:`content_stamp`'s, for this object alone)."""

    url: str
    size: int
    stamp: str


def is_pattern(path: str) -> bool:
    """Whether ``path`` is a glob pattern (``*``, ``?`` or ``[``)."""
    return any(ch in path for ch in "*?[")


def remote_files(
    paths: Sequence[str | os.PathLike[str]],
    storage_options: StorageOptionsLike,
    what: str,
    *,
    example: str,
) -> tuple[list[RemoteFile], StorageOptions]:
    """The objects that URLs of files, or glob patterns of them (``s3://bucket/*.jsonl``,
    their objects in sorted order), name; and the options that reach them.

    One request per file, or per pattern's listing: the sizes and ETags (or versions, or
    modification times) come from it. A URL's user and password go into the options, as
    :func:`remote_location` moves them; URLs that would need different options are refused.
    ``example`` is a file name shown in the hint for a folder (``"*.jsonl"``).
    """
    located = [remote_location(p, storage_options, what) for p in paths]
    options = located[0][1]
    if any(o != options for _, o in located[1:]):
        raise InputError(
            f"{what}: the URLs {[display_path(u) for u, _ in located]} carry different users "
            "or passwords; read the files of each store separately."
        )
    found: list[RemoteFile] = []
    for url, _ in located:
        fs, inner = filesystem(url, options)
        shown = display_path(url)
        with store_errors(what, f"look up {shown!r}", options, missing=url):
            if is_pattern(inner):
                listing = fs.glob(inner, detail=True)
                files = sorted(
                    (name, info) for name, info in listing.items() if info.get("type") == "file"
                )
                if not files:
                    raise InputError(f"{what}: no file matches the pattern {shown!r}.")
            else:
                info = fs.info(inner)
                if info.get("type") != "file":
                    raise InputError(
                        f"{what}: {shown!r} is a folder; pass a glob pattern of its files, such "
                        f"as {display_path(url + '/' + example)!r}."
                    )
                files = [(inner, info)]
        for name, info in files:
            file_url = clean_url(fs.unstrip_protocol(name))
            found.append(RemoteFile(file_url, int(info["size"]), _stamp(file_url, info)))
    return found, options


@dataclass(frozen=True)
class InputFiles:
    """The files a reader reads, in order (local paths or clean URLs), their sizes, what
    identifies their content, and the options that reach their store (None: local)."""

    names: list[str]
    sizes: list[int]
    stamps: list[str]
    options: StorageOptions | None


def input_files(
    path: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
    storage_options: StorageOptionsLike,
    what: str,
    *,
    example: str,
    local: Callable[[list[str | os.PathLike[str]]], InputFiles],
) -> InputFiles:
    """The files ``path`` names (a file, a glob pattern, or a list of either): objects of a
    store, listed by :func:`remote_files`, or local files, listed by the reader's ``local``
    (given the paths, ``file://`` URLs made local). All URLs or none."""
    paths = [path] if isinstance(path, str | os.PathLike) else list(path)
    if not paths:
        raise InputError(f"{what}: no file given; pass a path, a glob pattern or a list of paths.")
    remote = [is_remote(p) for p in paths]
    if any(remote) and not all(remote):
        raise InputError(
            f"{what}: {[display_path(p) for p in paths]} mixes URLs and local paths; read the "
            "files of each place separately."
        )
    if all(remote):
        found, options = remote_files(paths, storage_options, what, example=example)
        return InputFiles(
            [f.url for f in found], [f.size for f in found], [f.stamp for f in found], options
        )
    return local([local_path(p) for p in paths])


def open_input(
    path: str, options: StorageOptions | None, compression: str | None = None
) -> IO[bytes]:
    """``path`` opened for reading bytes, decompressed as ``compression`` says (fsspec's
    names: ``"gzip"``, ``"bz2"``, ``"xz"``, ``"zstd"``): a local file (``options`` None),
    or an object through fsspec, which reads the byte ranges asked for."""
    if options is None and compression is None:
        return open(path, "rb")  # the caller closes it
    import fsspec

    remote = {} if options is None else options.options
    opened: IO[bytes] = fsspec.open(path, "rb", compression=compression, **remote).open()
    return opened
